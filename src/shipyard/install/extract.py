"""Read a wheel archive into a directory, checking it as it is written.

:func:`extract` checks every member's path, the ``WHEEL`` file, ``METADATA`` and
``RECORD``, extracts the members (with their executable bits) and compares each with
its RECORD hash and size while it is written; it returns the manifest data
(:mod:`shipyard.install.manifest`) without writing it. Anything wrong raises an
:class:`~shipyard.errors.InstallError` from :func:`invalid_wheel`.
"""

from __future__ import annotations

import configparser
import csv
import email.message
import email.parser
import hashlib
import io
import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any, Final

from packaging.utils import canonicalize_name

from shipyard.archives import archive_size, check_zip
from shipyard.errors import InstallError
from shipyard.install.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    ScriptEntryPoint,
    b64_digest,
    record_lines,
    root_directories,
    split_root_files,
)

__all__ = ["CHUNK", "extract", "invalid_wheel"]

_SCHEME_KEYS: Final = frozenset({"purelib", "platlib", "scripts", "headers", "data"})
#: Bytes read at a time when copying or hashing a file.
CHUNK: Final = 1 << 20
_WEAK_HASHES: Final = frozenset({"md5", "sha1"})


def invalid_wheel(message: str, wheel: Path, hint: str | None = None) -> InstallError:
    """The error for a wheel that is broken or was tampered with (``hint`` overrides the
    default advice)."""
    return InstallError(
        message,
        context=str(wheel),
        hint=hint or "The wheel is broken or was tampered with; nothing was installed.",
    )


def _check_member(name: str, wheel: Path) -> None:
    """Reject absolute paths, drive letters, ``..`` and empty path components."""
    if "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise invalid_wheel(f"The wheel contains a file with an absolute path: {name!r}.", wheel)
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise invalid_wheel(f"The wheel contains a file outside its root: {name!r}.", wheel)
    if "" in parts or "." in parts:
        raise invalid_wheel(f"The wheel contains a malformed path: {name!r}.", wheel)


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
                raise invalid_wheel(f"RECORD has a malformed row: {row!r}.", wheel)
            path, hash_text, size = row
            algorithm, _, digest = hash_text.partition("=")
            if path in rows:
                raise invalid_wheel(f"RECORD lists {path!r} twice.", wheel)
            rows[path] = (algorithm, digest, size)
    except csv.Error as exc:
        raise invalid_wheel(f"RECORD cannot be parsed: {exc}.", wheel) from exc
    return rows


def _parse_entry_points(text: str, wheel: Path) -> tuple[ScriptEntryPoint, ...]:
    """The console and GUI scripts of ``entry_points.txt`` (an INI file, entry points spec)."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the case
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise invalid_wheel(f"entry_points.txt cannot be parsed: {exc}", wheel) from exc
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
                raise invalid_wheel(
                    f"The {group} entry point {script!r} = {value!r} is not 'module:attribute'.",
                    wheel,
                )
            if not script or "/" in script or "\\" in script or script in (".", ".."):
                raise invalid_wheel(
                    f"The {group} entry point has an unsafe name {script!r}.", wheel
                )
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
            while chunk := stream.read(CHUNK):
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
        raise invalid_wheel(
            f"The wheel has no {name}.", wheel, hint="The wheel is not valid (PEP 427)."
        ) from exc
    except UnicodeDecodeError as exc:
        raise invalid_wheel(f"{name} in the wheel is not UTF-8.", wheel) from exc


def extract(wheel: Path, tmp: Path) -> dict[str, Any]:
    """Extract ``wheel`` into ``tmp`` and return the manifest data (without writing it)."""
    with zipfile.ZipFile(wheel) as archive:
        check_zip(archive, what=wheel.name, archive_size=archive_size(wheel))
        infos = [info for info in archive.infolist() if not info.filename.endswith("/")]
        names: set[str] = set()
        for info in infos:
            _check_member(info.filename, wheel)
            if info.filename in names:
                raise invalid_wheel(f"The wheel contains {info.filename!r} twice.", wheel)
            names.add(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise invalid_wheel(
                    f"The wheel contains a symbolic link: {info.filename!r}.", wheel
                )
        if MANIFEST_NAME in names:
            raise invalid_wheel(f"The wheel contains a file named {MANIFEST_NAME}.", wheel)
        tops = {name.split("/", 1)[0] for name in names if "/" in name}
        dist_infos = sorted(top for top in tops if top.endswith(".dist-info"))
        if len(dist_infos) != 1:
            raise invalid_wheel(
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
            raise invalid_wheel(
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
            raise invalid_wheel("The wheel's METADATA has no Name or no Version.", wheel)
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
                    raise invalid_wheel(
                        f"{name!r} is not inside a known .data directory "
                        "(purelib, platlib, scripts, headers, data).",
                        wheel,
                    )
            expected = record.get(name)
            checked = name != record_path and name not in signatures
            if checked:
                if expected is None:
                    raise invalid_wheel(f"{name} is in the wheel but not in its RECORD.", wheel)
                algorithm, _digest, size_text = expected
                if not algorithm or not size_text:
                    raise invalid_wheel(f"RECORD has no hash or no size for {name}.", wheel)
                if algorithm in _WEAK_HASHES or algorithm not in hashlib.algorithms_guaranteed:
                    raise invalid_wheel(
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
                raise invalid_wheel(f"{name} cannot be read from the wheel: {exc}.", wheel) from exc
            digest = b64_digest(sha)
            if checked:
                assert expected is not None
                algorithm, expected_digest, size_text = expected
                actual = digest if algorithm == "sha256" else b64_digest(_rehash(target, algorithm))
                if actual != expected_digest or size_text != str(size):
                    raise invalid_wheel(
                        f"{name} does not match its RECORD entry "
                        f"(RECORD: {algorithm}={expected_digest}, {size_text} bytes; "
                        f"found: {algorithm}={actual}, {size} bytes).",
                        wheel,
                    )
            files.append([name, size, digest, result.st_mtime_ns, result.st_size])
    root_files, other_files = split_root_files(files, dist_info, data_dir)
    return {
        "format": MANIFEST_FORMAT,
        "name": canonicalize_name(display_name),
        "display_name": display_name,
        "version": version,
        "dist_info": dist_info,
        "data_dir": data_dir,
        "root_is_purelib": root_is_purelib,
        "wheel_version": wheel_version,
        "tags": list(tags),
        "entry_points": [[e.name, e.group, e.module, e.attr] for e in entry_points],
        "files": root_files + other_files,
        "root_count": len(root_files),
        "root_dirs": root_directories(row[0] for row in root_files),
        "root_record": record_lines((row[0], row[2], row[1]) for row in root_files),
    }


def _rehash(path: str, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.digest()
