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
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from packaging.utils import canonicalize_name

from shipyard.archives import archive_size, check_zip
from shipyard.errors import CacheError, HashMismatchError, InstallError
from shipyard.install.installed import install_os_error

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

EntryPointGroup = Literal["console_scripts", "gui_scripts"]
"""The entry point groups that become scripts (entry points specification)."""

MANIFEST_NAME: Final = ".shipyard-unpacked.json"
"""The manifest's file name inside an unpacked cache entry (no wheel may contain it)."""

_MANIFEST_FORMAT: Final = 2
_SCHEME_KEYS: Final = frozenset({"purelib", "platlib", "scripts", "headers", "data"})
_CHUNK: Final = 1 << 20
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
