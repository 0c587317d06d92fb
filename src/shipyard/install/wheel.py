"""Install wheels by linking from an unpacked copy in the cache (PEP 427, 491, 376, 610).

:func:`unpack_wheel` extracts a wheel once, checking every file against the
wheel's RECORD, and records each file's size, digest and modification time in
a manifest beside the files. :func:`install_unpacked` then places the files
into an environment the way ``installer`` and pip do — root files into
purelib or platlib per ``Root-Is-Purelib``, ``.data/<scheme>/`` files into that
scheme path, ``#!python`` scripts with the environment's interpreter,
console and GUI entry-point launchers — but links instead of copying, and
writes a fresh RECORD, INSTALLER, REQUESTED and ``direct_url.json``.
:func:`verify_unpacked` notices a cached file that changed after unpacking
(an edit through a hard link) with one ``stat`` per file.
"""

from __future__ import annotations

import base64
import configparser
import csv
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name

from shipyard.atomic import os_error
from shipyard.errors import HashMismatchError, InstallError
from shipyard.install.installed import InstalledDistribution
from shipyard.models import InstallScheme

__all__ = [
    "LinkMode",
    "UnpackedWheel",
    "install_unpacked",
    "load_unpacked",
    "record_hash",
    "unpack_wheel",
    "verify_unpacked",
]

LinkMode = Literal["hardlink", "copy", "symlink", "clone"]
MANIFEST = ".shipyard-unpacked.json"
_MANIFEST_FORMAT = 1
_SCHEME_KEYS = ("purelib", "platlib", "scripts", "headers", "data")


def record_hash(data: bytes) -> str:
    """``sha256=<urlsafe base64, no padding>`` as RECORD files write it (PEP 376/627)."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackedWheel:
    """A wheel unpacked in the cache.

    :param path: the directory holding its files (and the manifest).
    :param name: canonical project name; :param version: version string.
    :param dist_info: the ``.dist-info`` directory name.
    :param root_is_purelib: where root files go (``WHEEL`` file).
    :param entry_points: group → name → ``module:attr`` (console and GUI scripts).
    :param files: relative path → ``(size in bytes, RECORD hash, st_mtime_ns)``.
    """

    path: Path
    name: str
    version: str
    dist_info: str
    root_is_purelib: bool
    entry_points: Mapping[str, Mapping[str, str]]
    files: Mapping[str, tuple[int, str, int]]

    @property
    def data_dir(self) -> str:
        """The ``<name>-<version>.data`` directory name."""
        return self.dist_info[: -len(".dist-info")] + ".data"


def _safe_member(name: str) -> str:
    if name.startswith(("/", "\\")) or ":" in name.split("/")[0] or ".." in name.split("/"):
        raise InstallError(
            f"The wheel contains an unsafe path {name!r}; nothing was installed.",
            hint="The wheel is malicious or broken; do not use it.",
        )
    return name


def _find_dist_info(names: list[str], wheel_name: str) -> str:
    candidates = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    if len(candidates) != 1:
        raise InstallError(
            f"The wheel has {len(candidates)} .dist-info directories; expected one.",
            context=wheel_name,
            hint="The wheel is invalid (PEP 427).",
        )
    return candidates.pop()


def _entry_points(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    result: dict[str, dict[str, str]] = {}
    for group in ("console_scripts", "gui_scripts"):
        if parser.has_section(group):
            result[group] = {k.strip(): v.strip() for k, v in parser.items(group)}
    return result


def unpack_wheel(
    wheel_path: Path, dest: Path, *, expected_sha256: str | None = None
) -> UnpackedWheel:
    """Unpack ``wheel_path`` into ``dest`` once (atomically: temp dir + rename).

    :param expected_sha256: the archive's expected hex digest, checked before reading it.
    :raises HashMismatchError: when the archive's digest differs.
    :raises InstallError: when the wheel is invalid or a file disagrees with RECORD.
    """
    data = wheel_path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise HashMismatchError(
                f"{wheel_path.name} has sha256 {actual}, but {expected_sha256} was expected.",
                context=str(wheel_path),
                hint="Nothing was installed; the file changed on the index or was corrupted.",
            )
    existing = load_unpacked(dest)
    if existing is not None:
        return existing
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InstallError(
            f"{wheel_path.name} is not a valid zip file.", context=str(wheel_path)
        ) from exc
    with archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        dist_info = _find_dist_info(names, wheel_path.name)
        try:
            record_rows = list(
                csv.reader(io.StringIO(archive.read(f"{dist_info}/RECORD").decode()))
            )
            wheel_meta = archive.read(f"{dist_info}/WHEEL").decode()
            metadata = archive.read(f"{dist_info}/METADATA").decode("utf-8", errors="replace")
        except KeyError as exc:
            raise InstallError(
                f"The wheel lacks {exc.args[0]}.",
                context=wheel_path.name,
                hint="The wheel is invalid (PEP 427).",
            ) from exc
        record = {row[0]: (row[1] if len(row) > 1 else "") for row in record_rows if row}
        purelib = "root-is-purelib: true" in wheel_meta.lower()
        entry_points: dict[str, dict[str, str]] = {}
        if f"{dist_info}/entry_points.txt" in names:
            entry_points = _entry_points(archive.read(f"{dist_info}/entry_points.txt").decode())
        files: dict[str, tuple[int, str, int]] = {}
        made: set[str] = set()
        try:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = _safe_member(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise InstallError(
                        f"The wheel contains a symbolic link {name!r}; refusing it.",
                        context=wheel_path.name,
                    )
                content = archive.read(info)
                digest = record_hash(content)
                expected = record.get(name)
                if expected and expected != digest and not name.endswith("/RECORD"):
                    raise InstallError(
                        f"{name} in {wheel_path.name} does not match its RECORD hash.",
                        context=wheel_path.name,
                        hint="The wheel is corrupt or was tampered with; nothing was installed.",
                    )
                target = tmp / name
                parent = str(target.parent)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                with open(target, "wb") as handle:
                    handle.write(content)
                if mode & 0o111:
                    os.chmod(target, 0o755)
                files[name] = (len(content), digest, os.stat(target).st_mtime_ns)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise os_error(exc, what="unpack a wheel", path=dest) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    name_line = next((line for line in metadata.splitlines() if line.startswith("Name:")), "")
    version_line = next((line for line in metadata.splitlines() if line.startswith("Version:")), "")
    manifest = {
        "format": _MANIFEST_FORMAT,
        "name": canonicalize_name(name_line.partition(":")[2].strip()),
        "version": version_line.partition(":")[2].strip(),
        "dist_info": dist_info,
        "root_is_purelib": purelib,
        "entry_points": entry_points,
        "files": files,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest))
    try:
        os.rename(tmp, dest)
    except OSError:
        # Another process unpacked the same wheel meanwhile: use theirs.
        shutil.rmtree(tmp, ignore_errors=True)
        found = load_unpacked(dest)
        if found is None:
            raise
        return found
    unpacked = load_unpacked(dest)
    assert unpacked is not None
    return unpacked


def load_unpacked(dest: Path) -> UnpackedWheel | None:
    """The unpacked wheel at ``dest``, or ``None`` when absent or unreadable."""
    try:
        raw = json.loads((dest / MANIFEST).read_text())
        if raw.get("format") != _MANIFEST_FORMAT:
            return None
        return UnpackedWheel(
            path=dest,
            name=raw["name"],
            version=raw["version"],
            dist_info=raw["dist_info"],
            root_is_purelib=bool(raw["root_is_purelib"]),
            entry_points=raw["entry_points"],
            files={k: (int(v[0]), str(v[1]), int(v[2])) for k, v in raw["files"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verify_unpacked(unpacked: UnpackedWheel) -> list[str]:
    """Relative paths whose size or modification time changed since unpacking (or that
    are gone); empty when the entry is intact. One ``stat`` per file, no hashing."""
    changed = []
    root = str(unpacked.path)
    for name, (size, _digest, mtime) in unpacked.files.items():
        try:
            info = os.stat(os.path.join(root, name))
        except OSError:
            changed.append(name)
            continue
        if info.st_size != size or info.st_mtime_ns != mtime:
            changed.append(name)
    return changed


class _Linker:
    def __init__(self, mode: LinkMode) -> None:
        self.mode = mode

    def place(self, source: str, target: str) -> None:
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass
        if self.mode == "hardlink":
            try:
                os.link(source, target)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                self.mode = "copy"
        elif self.mode == "symlink":
            os.symlink(source, target)
            return
        elif self.mode == "clone":
            if self._clone(source, target):
                return
            self.mode = "copy"
        shutil.copyfile(source, target)
        shutil.copymode(source, target)

    def _clone(self, source: str, target: str) -> bool:
        try:
            import fcntl

            ficlone = 0x40049409
            with open(source, "rb") as src, open(target, "wb") as dst:
                fcntl.ioctl(dst.fileno(), ficlone, src.fileno())
            shutil.copymode(source, target)
            return True
        except (OSError, ImportError):
            try:
                os.unlink(target)
            except OSError:
                pass
            return False


def _script_text(python: Path, target: str, gui: bool) -> str:
    module, _, attribute = target.partition(":")
    attribute = attribute.split("[")[0].strip()
    first, _, rest = attribute.partition(".")
    call = f"{first}.{rest}" if rest else first
    shebang = f"#!{python}"
    if len(shebang) > 127 or " " in str(python):
        shebang = f"#!/bin/sh\n'''exec' '{python}' \"$0\" \"$@\"\n' '''"
    return (
        f"{shebang}\n"
        "# Generated by shipyard from an entry point.\n"
        "import re\n"
        "import sys\n"
        f"from {module.strip()} import {first}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({call}())\n"
    )


def install_unpacked(
    unpacked: UnpackedWheel,
    scheme: InstallScheme,
    *,
    link_mode: LinkMode = "hardlink",
    requested: bool = False,
    direct_url: Mapping[str, Any] | None = None,
    installer_name: str = "shipyard",
) -> InstalledDistribution:
    """Place an unpacked wheel's files into an environment.

    :param link_mode: ``hardlink`` (falls back to copy across filesystems), ``copy``,
        ``symlink`` or ``clone`` (reflink, falls back to copy).
    :param requested: write ``REQUESTED`` (a direct dependency of the project).
    :param direct_url: PEP 610 data for ``direct_url.json`` (URL, path or editable installs).
    :raises InstallError: when a file cannot be placed.
    """
    linker = _Linker(link_mode)
    root_dir = scheme.purelib if unpacked.root_is_purelib else scheme.platlib
    data_dir = unpacked.data_dir + "/"
    dist_info = unpacked.dist_info
    record_path = f"{dist_info}/RECORD"
    targets = {
        "purelib": scheme.purelib,
        "platlib": scheme.platlib,
        "scripts": scheme.scripts,
        "data": scheme.data,
        "headers": scheme.headers / unpacked.name,
    }
    record: list[tuple[str, str, str]] = []
    made: set[str] = set()
    root_text = str(root_dir)
    source_root = str(unpacked.path)

    def ensure_dir(path: str) -> None:
        if path not in made:
            os.makedirs(path, exist_ok=True)
            made.add(path)

    try:
        # The .dist-info files go last and RECORD after them: an install killed halfway
        # leaves no .dist-info, so the next sync sees the package as missing and repairs it.
        ordered = sorted(
            unpacked.files.items(), key=lambda item: item[0].startswith(dist_info + "/")
        )
        for name, (size, digest, _mtime) in ordered:
            if name in (
                record_path,
                f"{dist_info}/INSTALLER",
                f"{dist_info}/REQUESTED",
                f"{dist_info}/direct_url.json",
            ):
                continue
            source = os.path.join(source_root, name)
            if name.startswith(data_dir):
                key, _, rest = name[len(data_dir) :].partition("/")
                if key not in targets or not rest:
                    raise InstallError(
                        f"The wheel puts {name!r} in an unknown scheme {key!r}.",
                        context=unpacked.dist_info,
                    )
                target = os.path.join(str(targets[key]), rest)
                ensure_dir(os.path.dirname(target))
                if key == "scripts":
                    with open(source, "rb") as reader:
                        content = reader.read()
                    if content.startswith((b"#!python", b"#!pythonw")):
                        _first, _, body = content.partition(b"\n")
                        content = f"#!{scheme.python}".encode() + b"\n" + body
                        try:
                            os.unlink(target)
                        except FileNotFoundError:
                            pass
                        with open(target, "wb") as handle:
                            handle.write(content)
                        os.chmod(target, 0o755)
                        record.append(
                            (
                                os.path.relpath(target, root_text),
                                record_hash(content),
                                str(len(content)),
                            )
                        )
                        continue
                    linker.place(source, target)
                    os.chmod(target, os.stat(target).st_mode | 0o111)
                else:
                    linker.place(source, target)
            else:
                target = os.path.join(root_text, name)
                ensure_dir(os.path.dirname(target))
                linker.place(source, target)
            record.append((os.path.relpath(target, root_text), digest, str(size)))
        ensure_dir(os.path.join(root_text, dist_info))
        for group, scripts in unpacked.entry_points.items():
            gui = group == "gui_scripts"
            for script_name, target_spec in sorted(scripts.items()):
                text = _script_text(scheme.python, target_spec, gui).encode()
                target = os.path.join(str(scheme.scripts), script_name)
                ensure_dir(str(scheme.scripts))
                try:
                    os.unlink(target)
                except FileNotFoundError:
                    pass
                with open(target, "wb") as handle:
                    handle.write(text)
                os.chmod(target, 0o755)
                record.append(
                    (os.path.relpath(target, root_text), record_hash(text), str(len(text)))
                )
        extra_files: dict[str, bytes] = {"INSTALLER": f"{installer_name}\n".encode()}
        if requested:
            extra_files["REQUESTED"] = b""
        if direct_url is not None:
            extra_files["direct_url.json"] = json.dumps(dict(direct_url), sort_keys=True).encode()
        for file_name, content in extra_files.items():
            target = os.path.join(root_text, dist_info, file_name)
            try:
                os.unlink(target)
            except FileNotFoundError:
                pass
            with open(target, "wb") as handle:
                handle.write(content)
            record.append((f"{dist_info}/{file_name}", record_hash(content), str(len(content))))
        record.append((record_path, "", ""))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(sorted(record))
        with open(os.path.join(root_text, record_path), "w", encoding="utf-8") as record_file:
            record_file.write(buffer.getvalue())
    except OSError as exc:
        raise os_error(exc, what=f"install {unpacked.name}", path=root_text) from exc
    return InstalledDistribution(
        name=unpacked.name,
        version=unpacked.version,
        dist_info=Path(root_text) / dist_info,
    )
