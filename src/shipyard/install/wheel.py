"""Install wheels by linking files from an unpacked copy in the cache.

Two steps, as the cache layout of the design asks:

1. :func:`unpack_wheel` extracts a wheel (PEP 427, 491) once into a cache entry,
   checking every file against the wheel's ``RECORD`` (PEP 376/627) as it is
   written, and leaves a manifest, ``.shipyard-unpacked.json``, beside the files.
   The manifest keeps, for each file, its size and sha256 and the ``stat``
   values (``st_size``, ``st_mtime_ns``) taken right after writing, plus the
   facts an install needs: name, version, ``WHEEL`` tags, ``Root-Is-Purelib``
   and the console/GUI entry points. :func:`load_unpacked` reads it back.
2. :func:`install_unpacked` places those files into an environment the way the
   ``installer`` library and pip do — root files into purelib or platlib,
   ``<name>-<version>.data/<scheme>/`` files into that scheme path, ``#!python``
   scripts rewritten for the environment's interpreter, a launcher for each
   console and GUI entry point — but links each file (hard link, reflink or
   symbolic link) instead of copying it, and writes a fresh ``RECORD``,
   ``INSTALLER``, ``REQUESTED`` and ``direct_url.json`` (PEP 610).

A hard-linked file is the same inode in the cache and in every environment: an
edit to one is an edit to all. :func:`verify_unpacked` notices such an edit with
one ``stat`` per file, so callers can throw the entry away and unpack it again;
:func:`verify_unpacked_deep` rehashes everything.
"""

from __future__ import annotations

import base64
import configparser
import csv
import email.message
import email.parser
import errno
import hashlib
import io
import json
import os
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from packaging.utils import canonicalize_name

from shipyard.archives import archive_size, check_zip
from shipyard.errors import CacheError, HashMismatchError, InstallError
from shipyard.install.installed import InstalledDistribution, install_os_error
from shipyard.models.scheme import InstallScheme

__all__ = [
    "MANIFEST_NAME",
    "EntryPointGroup",
    "LinkMode",
    "ScriptEntryPoint",
    "UnpackedFile",
    "UnpackedWheel",
    "install_unpacked",
    "load_unpacked",
    "record_hash",
    "unpack_wheel",
    "verify_unpacked",
    "verify_unpacked_deep",
]

LinkMode = Literal["hardlink", "copy", "symlink", "clone"]
"""How :func:`install_unpacked` places a cached file into an environment."""

EntryPointGroup = Literal["console_scripts", "gui_scripts"]
"""The entry point groups that become scripts (entry points specification)."""

MANIFEST_NAME: Final = ".shipyard-unpacked.json"
"""The manifest's file name inside an unpacked cache entry (no wheel may contain it)."""

_MANIFEST_FORMAT: Final = 2
_SCHEME_KEYS: Final = frozenset({"purelib", "platlib", "scripts", "headers", "data"})
_CHUNK: Final = 1 << 20
# Errors after which a hard link cannot work for this install: another file system,
# a file system without hard links, or the inode's link limit.
_HARDLINK_FALLBACK: Final = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
)
# Errors after which FICLONE cannot work: not supported here, or across file systems.
_CLONE_FALLBACK: Final = frozenset(
    {
        errno.EXDEV,
        errno.EOPNOTSUPP,
        errno.ENOTSUP,
        errno.EINVAL,
        errno.ENOTTY,
        errno.ENOSYS,
        errno.EPERM,
        errno.EBADF,
    }
)
_FICLONE: Final = 0x40049409  # _IOW(0x94, 9, int) on Linux
_WEAK_HASHES: Final = frozenset({"md5", "sha1"})


def record_hash(data: bytes) -> str:
    """The RECORD form of a digest: ``sha256=<urlsafe base64 without padding>`` (PEP 376/627).

    :param data: the file's complete contents.
    """
    return "sha256=" + _b64(hashlib.sha256(data).digest())


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


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
    :param files: every file of the wheel, in archive order (``__pycache__`` contents
        are skipped, as ``installer`` skips them).
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


# --------------------------------------------------------------------------- unpacking


def _invalid(message: str, wheel: Path, hint: str | None = None) -> InstallError:
    return InstallError(
        message,
        context=str(wheel),
        hint=hint or "The wheel is broken or was tampered with; nothing was installed.",
    )


def _check_member(name: str, wheel: Path) -> None:
    """Reject absolute paths, drive letters, ``..`` and empty path components."""
    if "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _invalid(f"The wheel contains a file with an absolute path: {name!r}.", wheel)
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise _invalid(f"The wheel contains a file outside its root: {name!r}.", wheel)
    if "" in parts or "." in parts:
        raise _invalid(f"The wheel contains a malformed path: {name!r}.", wheel)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_headers(text: str) -> email.message.Message:
    return email.parser.HeaderParser().parsestr(text)


def _parse_record(text: str, wheel: Path) -> dict[str, tuple[str, str, str]]:
    """RECORD rows by path: ``(algorithm, urlsafe-b64 digest, size)``; empty when absent."""
    rows: dict[str, tuple[str, str, str]] = {}
    try:
        for row in csv.reader(io.StringIO(text)):
            if not row:
                continue
            if len(row) != 3:
                raise _invalid(f"RECORD has a malformed row: {row!r}.", wheel)
            path, hash_text, size = row
            algorithm, _, digest = hash_text.partition("=")
            if path in rows:
                raise _invalid(f"RECORD lists {path!r} twice.", wheel)
            rows[path] = (algorithm, digest, size)
    except csv.Error as exc:
        raise _invalid(f"RECORD cannot be parsed: {exc}.", wheel) from exc
    return rows


def _parse_entry_points(text: str, wheel: Path) -> tuple[ScriptEntryPoint, ...]:
    """The console and GUI scripts of ``entry_points.txt`` (an INI file, entry points spec)."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the case
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise _invalid(f"entry_points.txt cannot be parsed: {exc}", wheel) from exc
    found: list[ScriptEntryPoint] = []
    for group in ("console_scripts", "gui_scripts"):
        if not parser.has_section(group):
            continue
        for script, value in parser.items(group):
            object_ref = value.split("[", 1)[0].strip()  # extras are ignored for scripts
            module, sep, attr = (part.strip() for part in object_ref.partition(":"))
            valid = (
                sep
                and all(p.isidentifier() for p in module.split("."))
                and all(p.isidentifier() for p in attr.split("."))
            )
            if not valid:
                raise _invalid(
                    f"The {group} entry point {script!r} = {value!r} is not 'module:attribute'.",
                    wheel,
                )
            if not script or "/" in script or "\\" in script or script in (".", ".."):
                raise _invalid(f"The {group} entry point has an unsafe name {script!r}.", wheel)
            found.append(ScriptEntryPoint(name=script, group=group, module=module, attr=attr))
    return tuple(found)


def _write_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: str, executable: bool
) -> tuple[int, bytes, os.stat_result]:
    """Extract one member to the new file ``target``; returns (size, sha256 digest, stat).

    The stat is taken right after the last write, for :func:`verify_unpacked`.
    """
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if executable else 0o666)
    try:
        sha = hashlib.sha256()
        size = 0
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        if executable and os.name != "nt":
            # As pip and installer do: the umask's permissions plus every execute bit.
            os.fchmod(fd, (os.fstat(fd).st_mode & 0o777) | 0o111)
        result = os.fstat(fd)
    finally:
        os.close(fd)
    return size, sha.digest(), result


def _read_member(archive: zipfile.ZipFile, name: str, wheel: Path) -> str:
    try:
        return archive.read(name).decode("utf-8")
    except KeyError as exc:
        raise _invalid(
            f"The wheel has no {name}.", wheel, hint="The wheel is not valid (PEP 427)."
        ) from exc
    except UnicodeDecodeError as exc:
        raise _invalid(f"{name} in the wheel is not UTF-8.", wheel) from exc


def _extract(wheel: Path, tmp: Path) -> dict[str, Any]:
    """Extract ``wheel`` into ``tmp`` and return the manifest data (without writing it)."""
    with zipfile.ZipFile(wheel) as archive:
        check_zip(archive, what=wheel.name, archive_size=archive_size(wheel))
        infos = [info for info in archive.infolist() if not info.filename.endswith("/")]
        names: set[str] = set()
        for info in infos:
            _check_member(info.filename, wheel)
            if info.filename in names:
                raise _invalid(f"The wheel contains {info.filename!r} twice.", wheel)
            names.add(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _invalid(f"The wheel contains a symbolic link: {info.filename!r}.", wheel)
        if MANIFEST_NAME in names:
            raise _invalid(f"The wheel contains a file named {MANIFEST_NAME}.", wheel)
        tops = {name.split("/", 1)[0] for name in names if "/" in name}
        dist_infos = sorted(top for top in tops if top.endswith(".dist-info"))
        if len(dist_infos) != 1:
            raise _invalid(
                f"The wheel has {len(dist_infos)} .dist-info directories; it must have one.",
                wheel,
                hint="The wheel is not valid (PEP 427).",
            )
        dist_info = dist_infos[0]
        stem = dist_info[: -len(".dist-info")]
        data_dir = f"{stem}.data"

        wheel_meta = _parse_headers(_read_member(archive, f"{dist_info}/WHEEL", wheel))
        wheel_version = (wheel_meta.get("Wheel-Version") or "").strip()
        if wheel_version.split(".")[0] != "1":
            raise _invalid(
                f"The wheel has Wheel-Version {wheel_version or '(none)'}; "
                "shipyard installs version 1 wheels only.",
                wheel,
                hint="Upgrade shipyard, or pick a wheel built by an older build backend.",
            )
        root_is_purelib = (wheel_meta.get("Root-Is-Purelib") or "").strip().lower() == "true"
        tags = tuple(str(tag).strip() for tag in wheel_meta.get_all("Tag") or ())
        metadata = _parse_headers(_read_member(archive, f"{dist_info}/METADATA", wheel))
        display_name = (metadata.get("Name") or "").strip()
        version = (metadata.get("Version") or "").strip()
        if not display_name or not version:
            raise _invalid("The wheel's METADATA has no Name or no Version.", wheel)
        record_path = f"{dist_info}/RECORD"
        record = _parse_record(_read_member(archive, record_path, wheel), wheel)
        entry_points: tuple[ScriptEntryPoint, ...] = ()
        if f"{dist_info}/entry_points.txt" in names:
            text = _read_member(archive, f"{dist_info}/entry_points.txt", wheel)
            entry_points = _parse_entry_points(text, wheel)
        signatures = {f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
        data_prefix = data_dir + "/"

        root = str(tmp)
        made: set[str] = set()
        files: list[list[Any]] = []
        for info in infos:
            name = info.filename
            if "__pycache__" in name.split("/")[:-1]:
                continue  # as installer: never install bytecode shipped in a wheel
            if name.startswith(data_prefix):
                key, _, rest = name[len(data_prefix) :].partition("/")
                if key not in _SCHEME_KEYS or not rest:
                    raise _invalid(
                        f"{name!r} is not inside a known .data directory "
                        "(purelib, platlib, scripts, headers, data).",
                        wheel,
                    )
            expected = record.get(name)
            checked = name != record_path and name not in signatures
            if checked:
                if expected is None:
                    raise _invalid(f"{name} is in the wheel but not in its RECORD.", wheel)
                algorithm, _digest, size_text = expected
                if not algorithm or not size_text:
                    raise _invalid(f"RECORD has no hash or no size for {name}.", wheel)
                if algorithm in _WEAK_HASHES or algorithm not in hashlib.algorithms_guaranteed:
                    raise _invalid(
                        f"RECORD uses the hash {algorithm!r} for {name}; PEP 427 requires "
                        "sha256 or stronger.",
                        wheel,
                    )
            mode = info.external_attr >> 16
            executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
            target = os.path.join(root, name)
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            try:
                size, sha, result = _write_member(archive, info, target, executable)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise _invalid(f"{name} cannot be read from the wheel: {exc}.", wheel) from exc
            digest = _b64(sha)
            if checked:
                assert expected is not None
                algorithm, expected_digest, size_text = expected
                actual = digest if algorithm == "sha256" else _b64(_rehash(target, algorithm))
                if actual != expected_digest or size_text != str(size):
                    raise _invalid(
                        f"{name} does not match its RECORD entry "
                        f"(RECORD: {algorithm}={expected_digest}, {size_text} bytes; "
                        f"found: {algorithm}={actual}, {size} bytes).",
                        wheel,
                    )
            files.append([name, size, digest, result.st_mtime_ns, result.st_size])
    return {
        "format": _MANIFEST_FORMAT,
        "name": canonicalize_name(display_name),
        "display_name": display_name,
        "version": version,
        "dist_info": dist_info,
        "data_dir": data_dir,
        "root_is_purelib": root_is_purelib,
        "wheel_version": wheel_version,
        "tags": list(tags),
        "entry_points": [[e.name, e.group, e.module, e.attr] for e in entry_points],
        "files": files,
    }


def _rehash(path: str, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def _from_manifest(path: Path, raw: Any) -> UnpackedWheel:
    """Build an :class:`UnpackedWheel` from manifest data; raises on any malformation."""
    if not isinstance(raw, dict) or raw.get("format") != _MANIFEST_FORMAT:
        raise ValueError("not a manifest of this format")
    files = tuple(
        UnpackedFile(path=p, size=int(s), sha256=str(h), mtime_ns=int(m), st_size=int(z))
        for p, s, h, m, z in raw["files"]
    )
    for item in files:
        if item.path.startswith("/") or ".." in item.path.split("/"):
            # ".." cannot appear in a name written by _extract (it rejects such members).
            raise ValueError("unsafe path in manifest")
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
    )


def load_unpacked(dest: Path) -> UnpackedWheel | None:
    """The unpacked wheel at ``dest``, read from its manifest (no file is checked).

    :param dest: a cache entry directory written by :func:`unpack_wheel`.
    :returns: ``None`` when there is no manifest, or it is unreadable, corrupt or from
        another manifest format (callers then remove the entry and unpack again).
    """
    try:
        with open(dest / MANIFEST_NAME, "rb") as handle:
            raw = json.load(handle)
        return _from_manifest(dest, raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
            raise _invalid(
                f"{wheel_path.name} is not a valid zip archive: {exc}.", wheel_path
            ) from exc
        unpacked = _from_manifest(dest, manifest)
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
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError:
            changed.append(item.path)
            continue
        if size != item.size or _b64(digest.digest()) != item.sha256:
            changed.append(item.path)
    return changed


# --------------------------------------------------------------------------- installing


def _create_new(path: str, mode: int) -> int:
    """Open a new file for writing, replacing (unlinking) whatever is at ``path``.

    Never truncates in place: an existing file may be a hard link into the cache.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, mode)
    except FileExistsError:
        os.unlink(path)
        return os.open(path, flags, mode)


def _write_new(path: str, data: bytes, mode: int = 0o666) -> None:
    fd = _create_new(path, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _Linker:
    """Places cached files into an environment with one link mode, falling back to copy.

    A fallback (no hard links or reflinks possible here) lasts for the rest of the
    install, so each later file costs one system call again.
    """

    __slots__ = ("mode",)

    def __init__(self, mode: LinkMode) -> None:
        if mode not in ("hardlink", "copy", "symlink", "clone"):
            raise InstallError(
                f"Unknown link mode {mode!r}.",
                hint="Use one of hardlink, copy, symlink or clone.",
            )
        if mode == "clone" and sys.platform != "linux":
            mode = "copy"
        self.mode: LinkMode = mode

    def place(self, source: str, target: str) -> None:
        """Make ``target`` a link to (or a copy of) ``source``, replacing what is there."""
        mode = self.mode
        if mode == "hardlink":
            try:
                try:
                    os.link(source, target)
                except FileExistsError:
                    os.unlink(target)
                    os.link(source, target)
                return
            except OSError as exc:
                if exc.errno not in _HARDLINK_FALLBACK:
                    raise
                self.mode = "copy"
        elif mode == "symlink":
            try:
                os.symlink(source, target)
            except FileExistsError:
                os.unlink(target)
                os.symlink(source, target)
            return
        elif mode == "clone":
            if self._clone(source, target):
                return
            self.mode = "copy"
        self._copy(source, target)

    @staticmethod
    def _copy(source: str, target: str) -> None:
        try:
            os.unlink(target)  # never write through an old hard link into the cache
        except FileNotFoundError:
            pass
        shutil.copyfile(source, target)
        shutil.copymode(source, target)

    @staticmethod
    def _clone(source: str, target: str) -> bool:
        import fcntl  # POSIX only; clone mode is Linux only (see __init__)

        src = os.open(source, os.O_RDONLY)
        try:
            dst = _create_new(target, 0o600)
            try:
                fcntl.ioctl(dst, _FICLONE, src)
                os.fchmod(dst, os.fstat(src).st_mode & 0o7777)
            except OSError as exc:
                os.close(dst)
                os.unlink(target)
                if exc.errno in _CLONE_FALLBACK:
                    return False
                raise
            os.close(dst)
            return True
        finally:
            os.close(src)


def _shebang(python: str) -> bytes:
    """``#!<python>``, or a ``/bin/sh`` exec line when the kernel could not run that.

    Linux reads at most 127 bytes of a ``#!`` line and splits it at spaces; a longer path
    or one with a space goes through ``sh``, which Python then reads as a string literal.
    """
    executable = os.fsencode(python)
    if b" " not in executable and len(executable) + 3 <= 127:
        return b"#!" + executable
    quoted = shlex.quote(python).encode()
    return b"#!/bin/sh\n'''exec' " + quoted + b' "$0" "$@"\n' + b"' '''"


def _launcher(shebang: bytes, entry_point: ScriptEntryPoint) -> bytes:
    """A POSIX launcher script for a console or GUI entry point."""
    head = entry_point.attr.split(".", 1)[0]
    kind = "console" if entry_point.group == "console_scripts" else "GUI"
    body = (
        f"# The {kind} script {entry_point.name!r}, written by shipyard from an entry point.\n"
        "import sys\n"
        f"from {entry_point.module} import {head}\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    for _ending in ('-script.pyw', '.exe'):\n"
        "        if sys.argv[0].endswith(_ending):\n"
        "            sys.argv[0] = sys.argv[0][: -len(_ending)]\n"
        "            break\n"
        f"    sys.exit({entry_point.attr}())\n"
    )
    return shebang + b"\n" + body.encode("utf-8")


def _record_prefix(directory: str, root: str) -> str:
    """How RECORD spells ``directory`` relative to ``root`` (``""``, ``../../../bin/``)."""
    relative = os.path.relpath(directory, root)
    if relative == ".":
        return ""
    return relative.replace(os.sep, "/") + "/"


def _same_interpreter(python: str) -> bool:
    try:
        return os.path.realpath(python) == os.path.realpath(sys.executable)
    except OSError:
        return False


def _compile(paths: list[str], python: str) -> None:
    """Write ``__pycache__`` bytecode for ``paths`` for the environment's interpreter.

    Files that do not compile (a syntax error, Python 2 code) are skipped, as pip does.
    """
    if not paths:
        return
    if _same_interpreter(python):
        import py_compile

        for path in paths:
            try:
                py_compile.compile(path, doraise=True)
            except (py_compile.PyCompileError, OSError, ValueError, SyntaxError):
                continue
        return
    try:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-i", "-"],
            input=os.fsencode("\n".join(paths)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise InstallError(
            f"Could not run {python} to compile bytecode: {exc.strerror or exc}.",
            context=python,
            hint="Install without bytecode compilation, or repair the environment.",
        ) from exc


def install_unpacked(
    unpacked: UnpackedWheel,
    scheme: InstallScheme,
    *,
    link_mode: LinkMode = "hardlink",
    requested: bool = False,
    direct_url: Mapping[str, Any] | None = None,
    installer_name: str = "shipyard",
    compile_bytecode: bool = False,
) -> InstalledDistribution:
    """Install an unpacked wheel into an environment (PEP 427, 376, 610, 627).

    Files go where ``installer`` and pip put them: the wheel's root into
    ``scheme.purelib`` when ``Root-Is-Purelib`` is true, else ``scheme.platlib``;
    ``<name>-<version>.data/<key>/`` into the scheme path of that key, with ``headers``
    into ``scheme.headers / <canonical name>``. Scripts from ``.data/scripts`` whose first
    line starts with ``#!python`` (``#!pythonw`` too) get that line replaced by a shebang
    for ``scheme.python`` and are written as new files; every other file is linked from
    the cache per ``link_mode``. Each ``console_scripts``/``gui_scripts`` entry point
    becomes a launcher in ``scheme.scripts`` (``#!<python>``, or a ``/bin/sh`` exec
    line when the path has a space or the line would pass 127 bytes; mode ``0o755``
    under the usual umask). Existing files are replaced (unlinked first, never written
    through, since they may be links into the cache).

    The ``.dist-info`` directory is assembled last under a hidden name
    (``.<name>.dist-info.partial``) and renamed into place as the very last step, so an
    interrupted install is never reported as installed: its files may be present, but no
    metadata reader sees the distribution, and the next sync places them again.
    ``RECORD`` lists every installed file relative to the ``site-packages`` directory holding the
    ``.dist-info`` (``../../../bin/tool`` for scripts) with ``sha256=…,size``, and
    itself with empty fields. ``INSTALLER`` (``installer_name``), ``REQUESTED`` (when
    ``requested``) and ``direct_url.json`` (when ``direct_url`` is given) are written
    fresh; copies of those files inside the wheel are ignored.

    Link modes: ``hardlink`` (one ``link`` call per file; falls back to copying for the
    rest of the install on ``EXDEV``, ``EPERM`` or ``EMLINK``), ``copy``, ``symlink``
    (absolute links into the cache entry), ``clone`` (Linux ``FICLONE`` reflink, falling
    back to copying where unsupported).

    :param unpacked: the cache entry (:func:`unpack_wheel`); verify it first
        (:func:`verify_unpacked`).
    :param scheme: the environment's absolute install paths.
    :param link_mode: how to place files, see above.
    :param requested: write ``REQUESTED``: the user asked for this distribution (PEP 376).
    :param direct_url: PEP 610 data for ``direct_url.json`` (installs from a URL, a path,
        editable installs); ``None`` for installs from an index. Must have a ``url`` string.
    :param installer_name: what ``INSTALLER`` says installed the distribution.
    :param compile_bytecode: also write ``__pycache__/*.pyc`` for the installed ``.py``
        files of purelib and platlib, for the environment's interpreter (in this process
        when it is the same interpreter, else by one ``python -m compileall`` run). The
        bytecode is not listed in RECORD; :func:`~shipyard.install.uninstall.uninstall`
        removes it anyway.
    :returns: the installed distribution, with its ``INSTALLER``/``REQUESTED``/
        ``direct_url`` facts already known.
    :raises InstallError: for an unknown link mode, an invalid ``direct_url``, a ``.data``
        directory of an unknown scheme, or a file that cannot be placed.
    :raises DiskFullError: when the disk fills up.
    """
    if direct_url is not None and not isinstance(direct_url.get("url"), str):
        raise InstallError(
            f"The direct URL data for {unpacked.name} has no 'url' (PEP 610).",
            context=unpacked.dist_info,
            hint="This is a bug in the caller; please report it.",
        )
    linker = _Linker(link_mode)
    root = os.fspath(scheme.purelib if unpacked.root_is_purelib else scheme.platlib)
    python = os.fspath(scheme.python)
    targets = {
        "purelib": os.fspath(scheme.purelib),
        "platlib": os.fspath(scheme.platlib),
        "scripts": os.fspath(scheme.scripts),
        "data": os.fspath(scheme.data),
        "headers": os.fspath(scheme.headers / unpacked.name),
    }
    prefixes = {key: _record_prefix(directory, root) for key, directory in targets.items()}
    dist_info = unpacked.dist_info
    dist_info_prefix = dist_info + "/"
    data_prefix = unpacked.data_dir + "/"
    record_path = f"{dist_info}/RECORD"
    generated = {
        record_path,
        f"{dist_info}/INSTALLER",
        f"{dist_info}/REQUESTED",
        f"{dist_info}/direct_url.json",
    }
    source_root = os.fspath(unpacked.path)
    join = os.path.join
    dirname = os.path.dirname
    made: set[str] = set()
    record: dict[str, tuple[str, str]] = {}
    to_compile: list[str] | None = [] if compile_bytecode else None
    metadata_files = []
    shebang: bytes | None = None

    def ensure_dir(directory: str) -> None:
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)

    try:
        for item in unpacked.files:
            name = item.path
            if name.startswith(dist_info_prefix):
                if name not in generated:
                    metadata_files.append(item)
                continue
            source = join(source_root, name)
            if name.startswith(data_prefix):
                key, _, rest = name[len(data_prefix) :].partition("/")
                base = targets.get(key)
                if base is None or not rest:
                    raise InstallError(
                        f"{name!r} is not inside a known .data directory.",
                        context=str(unpacked.path),
                        hint="The wheel is not valid (PEP 427).",
                    )
                target = join(base, rest)
                entry = prefixes[key] + rest
                if key == "scripts":
                    with open(source, "rb") as handle:
                        content = handle.read()
                    if content.startswith(b"#!python"):
                        if shebang is None:
                            shebang = _shebang(python)
                        _newline, _, body = content.partition(b"\n")
                        content = shebang + b"\n" + body
                        ensure_dir(dirname(target))
                        _write_new(target, content, os.stat(source).st_mode & 0o7777)
                        record[entry] = (record_hash(content), str(len(content)))
                        continue
                elif (
                    to_compile is not None
                    and key in ("purelib", "platlib")
                    and name.endswith(".py")
                ):
                    to_compile.append(target)
            else:
                target = join(root, name)
                entry = name
                if to_compile is not None and name.endswith(".py"):
                    to_compile.append(target)
            parent = dirname(target)
            if parent not in made:
                ensure_dir(parent)
            linker.place(source, target)
            record[entry] = ("sha256=" + item.sha256, str(item.size))

        if unpacked.entry_points:
            if shebang is None:
                shebang = _shebang(python)
            ensure_dir(targets["scripts"])
            for entry_point in unpacked.entry_points:
                content = _launcher(shebang, entry_point)
                target = join(targets["scripts"], entry_point.name)
                _write_new(target, content, 0o777)
                current = os.stat(target).st_mode & 0o777
                os.chmod(target, current | 0o111 | ((current & 0o444) >> 2))
                record[prefixes["scripts"] + entry_point.name] = (
                    record_hash(content),
                    str(len(content)),
                )

        if to_compile:
            _compile(to_compile, python)

        # The .dist-info is assembled under a name no metadata reader recognises and
        # renamed into place last: until then the distribution is not installed for
        # anyone (importlib.metadata, pip, the next sync), whatever was placed so far.
        final_info = join(root, dist_info)
        staging = join(root, f".{dist_info}.partial")
        if os.path.lexists(staging):
            shutil.rmtree(staging)  # left by an install that was killed
        ensure_dir(staging)
        for item in metadata_files:
            target = join(staging, item.path[len(dist_info_prefix) :])
            ensure_dir(dirname(target))  # e.g. .dist-info/licenses/ (PEP 639)
            linker.place(join(source_root, item.path), target)
            record[item.path] = ("sha256=" + item.sha256, str(item.size))
        extra: dict[str, bytes] = {"INSTALLER": f"{installer_name}\n".encode()}
        if requested:
            extra["REQUESTED"] = b""
        if direct_url is not None:
            extra["direct_url.json"] = json.dumps(dict(direct_url), sort_keys=True).encode()
        for file_name, content in extra.items():
            _write_new(join(staging, file_name), content)
            record[f"{dist_info}/{file_name}"] = (record_hash(content), str(len(content)))

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows((path, digest, size) for path, (digest, size) in sorted(record.items()))
        writer.writerow((record_path, "", ""))
        _write_new(join(staging, "RECORD"), buffer.getvalue().encode("utf-8"))
        if os.path.lexists(final_info):
            shutil.rmtree(final_info)  # the same version, cut short by an older installer
        os.rename(staging, final_info)
    except OSError as exc:
        raise install_os_error(
            exc, what=f"install {unpacked.display_name} {unpacked.version}", path=root
        ) from exc
    return InstalledDistribution.with_details(
        unpacked.name,
        unpacked.version,
        Path(root) / dist_info,
        installer=installer_name,
        requested=requested,
        direct_url=direct_url,
    )
