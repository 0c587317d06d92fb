"""Reproducible image layers: the same files give the same layer digest, every time.

A layer is a tar of a staging directory shaped like the image's file system
(``<root>/app/.venv/...``), gzip-compressed, as the OCI image spec's "Image Layer
Filesystem Changeset" describes. Reproducible in the sense of
reproducible-builds.org:

- entries in byte order of their paths, parents before children;
- every mtime the same (``SOURCE_DATE_EPOCH`` when set, else 0);
- owner ``uid``/``gid`` given by the caller (0 by default), no user or group names;
- modes normalised: directories ``0755``, files ``0755`` when any execute bit is set,
  else ``0644``; no hard links (each file is written whole), no device files;
- PAX tar (long names get a PAX record, not a GNU one), gzip with no file name and
  mtime 0.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from shipyard.errors import ImageError
from shipyard.image.oci import OCI_LAYER_GZIP, BlobStore

__all__ = ["Layer", "build_layer", "source_date_epoch"]


def source_date_epoch() -> int:
    """The timestamp layers and configs carry: ``SOURCE_DATE_EPOCH`` (seconds since
    1970, reproducible-builds.org) when set and valid, else 0."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if text.isdigit() and len(text) <= 12:
        return int(text)
    return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """One layer blob in a :class:`~shipyard.image.oci.BlobStore`.

    :param digest: ``sha256:`` of the compressed blob (the manifest's descriptor).
    :param diff_id: ``sha256:`` of the uncompressed tar (the config's ``rootfs``).
    :param size: compressed bytes; :param uncompressed_size: tar bytes.
    :param files: regular files in it.
    :param media_type: the descriptor's media type.
    """

    digest: str
    diff_id: str
    size: int
    uncompressed_size: int
    files: int
    media_type: str = OCI_LAYER_GZIP


class _Counting:
    """A write-only file that hashes and counts what passes through to ``inner``."""

    def __init__(self, inner: BinaryIO | None) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.count += len(data)
        if self.inner is not None:
            self.inner.write(data)
        return len(data)

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        if self.inner is not None:
            self.inner.flush()


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    """``(archive name, lstat, path)`` for everything under ``root``, parents first,
    siblings in byte order of their names."""
    stack = [("", root)]
    while stack:
        prefix, directory = stack.pop()
        try:
            names = sorted(os.listdir(directory), key=os.fsencode)
        except OSError as exc:
            raise ImageError(
                f"Cannot read {directory}: {exc.strerror or exc}.", context=str(directory)
            ) from exc
        children = []
        for name in names:
            path = directory / name
            info = path.lstat()
            archive_name = prefix + name
            yield archive_name, info, path
            if stat.S_ISDIR(info.st_mode):
                children.append((archive_name + "/", path))
        stack.extend(reversed(children))


def build_layer(
    store: BlobStore,
    root: Path,
    *,
    uid: int = 0,
    gid: int = 0,
    mtime: int | None = None,
    compresslevel: int = 6,
) -> Layer:
    """Write the files under ``root`` as one reproducible gzip layer into ``store``.

    :param root: a directory shaped like the image file system; its own entry is not
        in the layer, its children are (``app/`` for ``<root>/app``).
    :param uid: :param gid: the owner recorded for every entry.
    :param mtime: the timestamp of every entry (default :func:`source_date_epoch`).
    :param compresslevel: gzip level (1–9); the digest depends on it.
    :returns: the layer's digests and sizes.
    :raises ImageError: for a socket, FIFO or device file, or an unreadable file.
    """
    stamp = source_date_epoch() if mtime is None else mtime
    store.root.joinpath("sha256").mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".layer-", dir=store.root / "sha256")
    files = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            compressed = _Counting(raw)
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=compresslevel
            ) as gz:
                uncompressed = _Counting(cast(BinaryIO, gz))
                with tarfile.TarFile(
                    fileobj=cast(BinaryIO, uncompressed), mode="w", format=tarfile.PAX_FORMAT
                ) as archive:
                    for name, info, path in _walk(root):
                        entry = tarfile.TarInfo(name)
                        entry.uid, entry.gid, entry.uname, entry.gname = uid, gid, "", ""
                        entry.mtime = stamp
                        mode = info.st_mode
                        if stat.S_ISDIR(mode):
                            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
                            archive.addfile(entry)
                        elif stat.S_ISLNK(mode):
                            entry.type, entry.mode = tarfile.SYMTYPE, 0o777
                            entry.linkname = os.readlink(path)
                            archive.addfile(entry)
                        elif stat.S_ISREG(mode):
                            entry.type = tarfile.REGTYPE
                            entry.mode = 0o755 if mode & 0o111 else 0o644
                            entry.size = info.st_size
                            with path.open("rb") as handle:
                                archive.addfile(entry, handle)
                            files += 1
                        else:
                            raise ImageError(
                                f"{path} is not a file, directory or symbolic link.",
                                context=str(path),
                                hint="Image layers hold only those; remove it.",
                            )
        digest = "sha256:" + compressed.hash.hexdigest()
        target = store.path(digest)
        os.replace(tmp_name, target)
    except OSError as exc:
        _discard(tmp_name)
        raise ImageError(
            f"Cannot write a layer of {root}: {exc.strerror or exc}.", context=str(root)
        ) from exc
    except BaseException:
        _discard(tmp_name)
        raise
    return Layer(
        digest=digest,
        diff_id="sha256:" + uncompressed.hash.hexdigest(),
        size=compressed.count,
        uncompressed_size=uncompressed.count,
        files=files,
    )


def _discard(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
