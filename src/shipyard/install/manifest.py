"""The manifest of a wheel unpacked in the cache, and the data classes it describes.

:func:`~shipyard.install.unpack.unpack_wheel` leaves ``.shipyard-unpacked.json``
(:data:`MANIFEST_NAME`) beside a wheel's files: for each file its size and sha256 and
the ``stat`` values taken right after writing, plus the facts an install needs (name,
version, ``WHEEL`` tags, ``Root-Is-Purelib``, console/GUI entry points) and what linking
needs, worked out once at unpack time instead of at every install: the root files
(neither ``.dist-info`` nor ``.data``) first, the directories they need, and their
``RECORD`` lines.
:func:`load_unpacked` reads it back as an :class:`UnpackedWheel`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "EntryPointGroup",
    "ScriptEntryPoint",
    "UnpackedFile",
    "UnpackedWheel",
    "b64_digest",
    "from_manifest",
    "load_unpacked",
    "record_hash",
    "record_lines",
    "root_directories",
    "split_root_files",
    "verify_unpacked",
]

EntryPointGroup = Literal["console_scripts", "gui_scripts"]
"""The entry point groups that become scripts (entry points specification)."""

MANIFEST_NAME: Final = ".shipyard-unpacked.json"
"""The manifest's file name inside an unpacked cache entry (no wheel may contain it)."""

#: The manifest's ``format``; a manifest of another format is unpacked again.
MANIFEST_FORMAT: Final = 3


def record_hash(data: bytes) -> str:
    """The RECORD form of a digest: ``sha256=<urlsafe base64 without padding>`` (PEP 376/627).

    :param data: the file's complete contents.
    """
    return "sha256=" + b64_digest(hashlib.sha256(data).digest())


def b64_digest(digest: bytes) -> str:
    """A digest in RECORD's encoding: urlsafe base64 without padding (PEP 376/627)."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def split_root_files(
    files: Sequence[Sequence[Any]], dist_info: str, data_dir: str
) -> tuple[list[Any], list[Any]]:
    """Manifest file rows (path first) split into the root files, sorted by path, and
    the rest (``.dist-info`` and ``.data`` files) in their original order."""
    special = (dist_info + "/", data_dir + "/")
    root = sorted((row for row in files if not row[0].startswith(special)), key=lambda r: r[0])
    rest = [row for row in files if row[0].startswith(special)]
    return [list(row) for row in root], [list(row) for row in rest]


def root_directories(paths: Iterable[str]) -> list[str]:
    """Every directory the files at ``paths`` (wheel-relative) need, ancestors
    included, sorted so that a parent comes before its children."""
    found: set[str] = set()
    for path in paths:
        directory = path.rpartition("/")[0]
        while directory and directory not in found:
            found.add(directory)
            directory = directory.rpartition("/")[0]
    return sorted(found)


def record_lines(rows: Iterable[tuple[str, str, int]]) -> str:
    """``RECORD`` lines for ``(path, urlsafe-base64 sha256, size)`` rows, CSV-quoted as
    the ``csv`` module writes them (PEP 376), each ending in ``\n``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows((path, f"sha256={digest}", str(size)) for path, digest, size in rows)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackedFile:
    """One file of an unpacked wheel, as the manifest records it.

    :param path: the path inside the wheel (``/``-separated, relative), e.g.
        ``pkg/__init__.py`` or ``pkg-1.0.data/scripts/tool``.
    :param size: the size in bytes (as RECORD says; checked while unpacking).
    :param sha256: the sha256 digest, urlsafe base64 without padding (RECORD's encoding).
    :param mtime_ns: ``st_mtime_ns`` of the cached file right after it was written.
    :param st_size: ``st_size`` of the cached file right after it was written.
    """

    path: str
    size: int
    sha256: str
    mtime_ns: int
    st_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptEntryPoint:
    """A ``console_scripts`` or ``gui_scripts`` entry point (entry points specification).

    :param name: the script's file name in the environment's scripts directory.
    :param group: ``console_scripts`` or ``gui_scripts``.
    :param module: the dotted module to import.
    :param attr: the dotted attribute of that module to call (``main`` or ``Cli.run``).
    """

    name: str
    group: EntryPointGroup
    module: str
    attr: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackedWheel:
    """A wheel unpacked in the cache, ready to be linked into environments.

    :param path: the cache entry's directory (the wheel's files and the manifest).
    :param name: the canonical project name (PEP 503).
    :param display_name: the ``Name`` from ``METADATA`` as written (for messages).
    :param version: the ``Version`` from ``METADATA``.
    :param dist_info: the ``.dist-info`` directory's name (``pkg-1.0.dist-info``).
    :param data_dir: the ``.data`` directory's name (``pkg-1.0.data``), present or not.
    :param root_is_purelib: ``Root-Is-Purelib`` from ``WHEEL``: root files go to purelib
        when true, platlib otherwise.
    :param wheel_version: ``Wheel-Version`` from ``WHEEL`` (always ``1.x``).
    :param tags: the ``Tag`` values from ``WHEEL`` (``py3-none-any``).
    :param entry_points: the console and GUI scripts from ``entry_points.txt``.
    :param files: every file of the wheel (``__pycache__`` contents are skipped, as
        ``installer`` skips them): the root files first, sorted by path, then the
        ``.dist-info`` and ``.data`` files in archive order.
    :param root_count: how many of ``files`` are root files (installed under the
        wheel's root scheme path as they are).
    :param root_dirs: the directories the root files need, parents before children.
    :param root_record: the ``RECORD`` lines (CSV, ``\n``-terminated) of the root files.
    """

    path: Path
    name: str
    display_name: str
    version: str
    dist_info: str
    data_dir: str
    root_is_purelib: bool
    wheel_version: str
    tags: tuple[str, ...]
    entry_points: tuple[ScriptEntryPoint, ...]
    files: tuple[UnpackedFile, ...]
    root_count: int = 0
    root_dirs: tuple[str, ...] = ()
    root_record: str = ""


def from_manifest(path: Path, raw: Any) -> UnpackedWheel:
    """Build an :class:`UnpackedWheel` from manifest data; raises on any malformation."""
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
        raise ValueError("not a manifest of this format")
    files = tuple(
        UnpackedFile(path=p, size=int(s), sha256=str(h), mtime_ns=int(m), st_size=int(z))
        for p, s, h, m, z in raw["files"]
    )
    root_dirs = tuple(str(d) for d in raw["root_dirs"])
    for text in (*(item.path for item in files), *root_dirs):
        if text.startswith("/") or ".." in text.split("/"):
            # ".." cannot appear in a name written by extract.extract (it rejects such members).
            raise ValueError("unsafe path in manifest")
    root_count = int(raw["root_count"])
    root_record = raw["root_record"]
    if not 0 <= root_count <= len(files) or not isinstance(root_record, str):
        raise ValueError("malformed link data in manifest")
    entry_points = tuple(
        ScriptEntryPoint(name=str(n), group=g, module=str(m), attr=str(a))
        for n, g, m, a in raw["entry_points"]
        if g in ("console_scripts", "gui_scripts")
    )
    return UnpackedWheel(
        path=path,
        name=str(raw["name"]),
        display_name=str(raw["display_name"]),
        version=str(raw["version"]),
        dist_info=str(raw["dist_info"]),
        data_dir=str(raw["data_dir"]),
        root_is_purelib=bool(raw["root_is_purelib"]),
        wheel_version=str(raw["wheel_version"]),
        tags=tuple(str(t) for t in raw["tags"]),
        entry_points=entry_points,
        files=files,
        root_count=root_count,
        root_dirs=root_dirs,
        root_record=root_record,
    )


def load_unpacked(dest: Path) -> UnpackedWheel | None:
    """The unpacked wheel at ``dest``, read from its manifest (no file is checked).

    :param dest: a cache entry directory written by
        :func:`~shipyard.install.unpack.unpack_wheel`.
    :returns: ``None`` when there is no manifest, or it is unreadable, corrupt or from
        another manifest format (callers then remove the entry and unpack again).
    """
    try:
        with open(dest / MANIFEST_NAME, "rb") as handle:
            raw = json.load(handle)
        return from_manifest(dest, raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verify_unpacked(unpacked: UnpackedWheel) -> list[str]:
    """The files of a cache entry that changed since unpacking, by ``stat`` alone.

    A file counts as changed when its ``st_size`` or ``st_mtime_ns`` differs from the
    manifest, or when it is gone or no longer a regular file. One ``stat`` per file and
    no hashing, so this is cheap enough to run each time an entry is used. It catches an
    edit made through a hard link in an environment (the cache file is the same inode).

    :param unpacked: an entry from :func:`load_unpacked` or :func:`unpack_wheel`.
    :returns: the changed files' wheel-relative paths; empty when the entry is intact.
    """
    changed: list[str] = []
    root = str(unpacked.path)
    join = os.path.join
    lstat = os.lstat
    for item in unpacked.files:
        try:
            info = lstat(join(root, item.path))
        except OSError:
            changed.append(item.path)
            continue
        if (
            info.st_size != item.st_size
            or info.st_mtime_ns != item.mtime_ns
            or not stat.S_ISREG(info.st_mode)
        ):
            changed.append(item.path)
    return changed
