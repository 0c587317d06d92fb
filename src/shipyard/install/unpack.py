"""Unpack a wheel once into the cache: the reading half of installing.

:func:`unpack_wheel` extracts a wheel (PEP 427, 491) into a cache entry, checking every
file against the wheel's ``RECORD`` (PEP 376/627) as it is written, and leaves a
manifest, ``.shipyard-unpacked.json``, beside the files. The manifest keeps, for each
file, its size and sha256 and the ``stat`` values (``st_size``, ``st_mtime_ns``) taken
right after writing, plus the facts an install needs: name, version, ``WHEEL`` tags,
``Root-Is-Purelib`` and the console/GUI entry points. :func:`load_unpacked` reads it
back.

A hard-linked file is the same inode in the cache and in every environment: an edit to
one is an edit to all. :func:`verify_unpacked` notices such an edit with one ``stat``
per file, so callers can throw the entry away and unpack it again;
:func:`verify_unpacked_deep` rehashes everything. :mod:`shipyard.install.wheel` is the
writing half.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import zipfile
from pathlib import Path

from shipyard.errors import CacheError, HashMismatchError
from shipyard.install.extract import CHUNK, invalid_wheel
from shipyard.install.extract import extract as _extract  # tests replace unpack._extract
from shipyard.install.installed import install_os_error
from shipyard.install.manifest import (
    MANIFEST_NAME,
    EntryPointGroup,
    ScriptEntryPoint,
    UnpackedFile,
    UnpackedWheel,
    b64_digest,
    from_manifest,
    load_unpacked,
    record_hash,
    verify_unpacked,
)

__all__ = [
    "MANIFEST_NAME",
    "EntryPointGroup",
    "ScriptEntryPoint",
    "UnpackedFile",
    "UnpackedWheel",
    "load_unpacked",
    "record_hash",
    "unpack_wheel",
    "verify_unpacked",
    "verify_unpacked_deep",
]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _publish(tmp: Path, dest: Path) -> UnpackedWheel | None:
    """Rename ``tmp`` to ``dest``; when another process got there first, return theirs."""
    for _attempt in range(2):
        try:
            os.rename(tmp, dest)
            return None
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                raise
        theirs = load_unpacked(dest)
        if theirs is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return theirs
        # A broken entry (no manifest, an older format): move it aside and retry.
        trash = dest.with_name(f".{dest.name}.trash-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.rename(dest, trash)
        except FileNotFoundError:
            continue
        if trash.is_dir():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)
    raise CacheError(
        f"Could not store the unpacked wheel at {dest}: the entry keeps changing.",
        context=str(dest),
        hint="Another process may be writing the cache; run the command again.",
    )


def unpack_wheel(
    wheel_path: Path, dest: Path, *, expected_sha256: str | None = None
) -> UnpackedWheel:
    """Unpack a wheel into the cache entry ``dest`` (PEP 427), checking it against RECORD.

    The archive is extracted into a temporary directory beside ``dest`` that is renamed
    to ``dest`` when complete, so a reader sees a whole entry or none. When ``dest``
    already holds a valid entry — or another process renames its own there first — that
    entry is kept and returned.

    Every member is written with its executable bit (from the zip's external attributes,
    as pip and ``installer`` read it) and checked against its RECORD hash and size while
    it is written. Wheels with absolute or ``..`` paths, symbolic links, duplicate
    members, files missing from RECORD, md5/sha1 RECORD hashes, ``.data`` directories
    other than purelib/platlib/scripts/headers/data, or a ``Wheel-Version`` other than
    1.x are refused. Members inside ``__pycache__`` directories are skipped.

    :param wheel_path: the ``.whl`` file (its name is not parsed; the cache may rename it).
    :param dest: the cache entry directory to create; its parent is created if needed.
    :param expected_sha256: the archive's expected sha256 as lowercase hex (from the lock
        or the index), checked before anything reads the archive; ``None`` skips it.
    :returns: the entry's :class:`UnpackedWheel`.
    :raises HashMismatchError: when the archive's sha256 differs from ``expected_sha256``.
    :raises InstallError: when the archive is not a valid wheel or disagrees with RECORD;
        nothing is left behind.
    :raises DiskFullError: when the disk fills up while unpacking.
    :raises CacheError: when the entry cannot be stored.
    """
    if expected_sha256 is not None:
        try:
            actual = _file_sha256(wheel_path)
        except OSError as exc:
            raise install_os_error(exc, what="read the wheel", path=wheel_path) from exc
        if actual != expected_sha256.lower():
            raise HashMismatchError(
                f"{wheel_path.name} has sha256 {actual}, but {expected_sha256.lower()} "
                "was expected.",
                context=str(wheel_path),
                hint="Nothing was installed. The file was corrupted in transit or changed on "
                "the index; run the command again, and if it persists, re-lock "
                "(`shipyard lock`) after checking where the file came from.",
            )
    existing = load_unpacked(dest)
    if existing is not None:
        return existing
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(tmp)
    except OSError as exc:
        raise install_os_error(exc, what="create a cache entry", path=dest) from exc
    try:
        try:
            manifest = _extract(wheel_path, tmp)
        except zipfile.BadZipFile as exc:
            raise invalid_wheel(
                f"{wheel_path.name} is not a valid zip archive: {exc}.", wheel_path
            ) from exc
        unpacked = from_manifest(dest, manifest)
        with open(tmp / MANIFEST_NAME, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, separators=(",", ":"))
        theirs = _publish(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise install_os_error(exc, what=f"unpack {wheel_path.name}", path=dest) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return theirs if theirs is not None else unpacked


def verify_unpacked_deep(unpacked: UnpackedWheel) -> list[str]:
    """The files of a cache entry whose contents no longer match the manifest.

    Rehashes every file (sha256) and compares size and digest, so it also finds changes
    that kept the size and modification time. Slow: for tests and ``--verify``.

    :param unpacked: an entry from :func:`load_unpacked` or :func:`unpack_wheel`.
    :returns: the wheel-relative paths of missing or changed files; empty when intact.
    """
    changed: list[str] = []
    for item in unpacked.files:
        path = os.path.join(unpacked.path, item.path)
        try:
            if os.path.islink(path):
                raise OSError(errno.ELOOP, "symbolic link")
            digest = hashlib.sha256()
            size = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError:
            changed.append(item.path)
            continue
        if size != item.size or b64_digest(digest.digest()) != item.sha256:
            changed.append(item.path)
    return changed
