"""A tiny PEP 517 / PEP 660 build backend for shipyard's tests.

It reads the static ``[project]`` table (PEP 621) of ``pyproject.toml`` in the
current directory and builds deterministic wheels, editable wheels and sdists.
Standard library only; Python >= 3.11 (``tomllib``).

Packages are the folders holding ``__init__.py`` at the top of the tree, or
under ``src/`` when it exists (plus top-level modules in ``src/``). A project
without packages gives a metadata-only wheel.

Test hooks:
- every hook prints one line to stderr (``shipyard_test_backend: <hook> ...``);
- ``SHIPYARD_TEST_BACKEND_FAIL=1`` makes every hook raise; a comma-separated
  list of hook names (``build_wheel,build_editable``) makes only those raise;
- ``dynamic = ["dependencies"]`` in ``[project]`` takes the dependencies from
  ``[tool.shipyard-test-backend] dependencies``, so that only a build knows them;
- ``SHIPYARD_TEST_BACKEND_WARN=1`` makes every hook issue a ``UserWarning`` (as
  setuptools does for deprecated options), which pyproject_hooks passes on.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_GENERATOR = "shipyard_test_backend 1.0"
_SKIP_DIRS = frozenset({"__pycache__", "build", "dist"})


class BackendError(Exception):
    """Raised when the test backend is told to fail or the project is invalid."""


def _enter(hook: str) -> None:
    print(f"shipyard_test_backend: {hook} in {os.getcwd()}", file=sys.stderr, flush=True)
    if os.environ.get("SHIPYARD_TEST_BACKEND_WARN") == "1":
        import warnings

        warnings.warn(f"shipyard_test_backend: {hook} option is deprecated", stacklevel=2)
    setting = os.environ.get("SHIPYARD_TEST_BACKEND_FAIL", "")
    if setting == "1" or hook in {s.strip() for s in setting.split(",")}:
        raise BackendError(f"shipyard_test_backend: {hook} failed (SHIPYARD_TEST_BACKEND_FAIL)")


def _project() -> dict[str, Any]:
    with open("pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    project = data.get("project")
    if not isinstance(project, dict) or "name" not in project or "version" not in project:
        raise BackendError("pyproject.toml needs a static [project] table with name and version")
    if "dependencies" in project.get("dynamic", []):
        # Computed at build time, as a setup.py would: here, read from the tool table.
        table = data.get("tool", {}).get("shipyard-test-backend", {})
        project = {**project, "dependencies": table.get("dependencies", [])}
    return project


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist(project: dict[str, Any]) -> str:
    return _normalize(project["name"]).replace("-", "_")


def _with_extra(requirement: str, extra: str) -> str:
    req, sep, marker = requirement.partition(";")
    clause = f'extra == "{extra}"'
    if sep and marker.strip():
        return f"{req.strip()}; ({marker.strip()}) and {clause}"
    return f"{req.strip()}; {clause}"


def _metadata(project: dict[str, Any]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    lines += [f"Provides-Extra: {_normalize(extra)}" for extra in optional]
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, reqs in optional.items():
        lines += [f"Requires-Dist: {_with_extra(req, _normalize(extra))}" for req in reqs]
    return "\n".join(lines) + "\n"


def _entry_points(project: dict[str, Any]) -> str:
    groups: dict[str, dict[str, str]] = {}
    if project.get("scripts"):
        groups["console_scripts"] = project["scripts"]
    if project.get("gui-scripts"):
        groups["gui_scripts"] = project["gui-scripts"]
    groups.update(project.get("entry-points", {}))
    parts = []
    for group in sorted(groups):
        body = "".join(f"{k} = {v}\n" for k, v in sorted(groups[group].items()))
        parts.append(f"[{group}]\n{body}")
    return "\n".join(parts)


def _dist_info_files(project: dict[str, Any]) -> dict[str, bytes]:
    files = {
        "METADATA": _metadata(project).encode("utf-8"),
        "WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: {_GENERATOR}\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ).encode(),
    }
    entry_points = _entry_points(project)
    if entry_points:
        files["entry_points.txt"] = entry_points.encode("utf-8")
    return files


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _walk(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if any(p in _SKIP_DIRS or p.startswith(".") for p in rel[:-1]):
            continue
        if path.is_file() and path.suffix not in (".pyc", ".pyo") and path.name != ".DS_Store":
            found.append(path)
    return found


def _package_root() -> Path:
    src = Path("src")
    return src.resolve() if src.is_dir() else Path.cwd()


def _package_files() -> dict[str, bytes]:
    root = _package_root()
    files: dict[str, bytes] = {}
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or child.name in _SKIP_DIRS:
            continue
        if child.is_dir() and (child / "__init__.py").is_file():
            for path in _walk(child):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
        elif child.is_file() and child.suffix == ".py" and root.name == "src":
            files[child.name] = child.read_bytes()
    return files


def _write_wheel(
    wheel_directory: str, project: dict[str, Any], content: dict[str, bytes], meta_dir: str | None
) -> str:
    dist, version = _dist(project), project["version"]
    dist_info = f"{dist}-{version}.dist-info"
    meta = _dist_info_files(project)
    if meta_dir is not None:  # keep what prepare_metadata_* wrote, as PEP 517 asks
        for name in ("METADATA", "entry_points.txt"):
            path = Path(meta_dir) / name
            if path.is_file():
                meta[name] = path.read_bytes()
    entries = {k: content[k] for k in sorted(content)}
    entries.update({f"{dist_info}/{k}": meta[k] for k in sorted(meta)})
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for entry, data in entries.items():
        writer.writerow([entry, _record_hash(data), str(len(data))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries[f"{dist_info}/RECORD"] = record.getvalue().encode("utf-8")

    filename = f"{dist}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    Path(wheel_directory, filename).write_bytes(buffer.getvalue())
    return filename


def _prepare_metadata(metadata_directory: str) -> str:
    project = _project()
    name = f"{_dist(project)}-{project['version']}.dist-info"
    target = Path(metadata_directory, name)
    target.mkdir(parents=True, exist_ok=True)
    for filename, data in _dist_info_files(project).items():
        (target / filename).write_bytes(data)
    return name


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """PEP 517: nothing beyond the backend itself is needed."""
    _enter("get_requires_for_build_wheel")
    return []


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    """PEP 660: nothing beyond the backend itself is needed."""
    _enter("get_requires_for_build_editable")
    return []


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    """PEP 517: nothing beyond the backend itself is needed."""
    _enter("get_requires_for_build_sdist")
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, Any] | None = None
) -> str:
    """PEP 517: write ``{dist}-{version}.dist-info`` into ``metadata_directory``; return its name."""
    _enter("prepare_metadata_for_build_wheel")
    return _prepare_metadata(metadata_directory)


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: dict[str, Any] | None = None
) -> str:
    """PEP 660: the same metadata as for a regular wheel."""
    _enter("prepare_metadata_for_build_editable")
    return _prepare_metadata(metadata_directory)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517: build ``{dist}-{version}-py3-none-any.whl``; return its file name."""
    _enter("build_wheel")
    return _write_wheel(wheel_directory, _project(), _package_files(), metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 660: build a wheel whose ``_{dist}_editable.pth`` points at the source root.

    The ``.pth`` holds the absolute path of ``src/`` when it exists, else of the
    project folder.
    """
    _enter("build_editable")
    project = _project()
    pth = {f"_{_dist(project)}_editable.pth": f"{_package_root()}\n".encode()}
    return _write_wheel(wheel_directory, project, pth, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """PEP 517: pack the tree (minus dot files, ``build/``, ``dist/``) with ``PKG-INFO``."""
    _enter("build_sdist")
    project = _project()
    top = f"{_dist(project)}-{project['version']}"
    here = Path.cwd()
    entries = {f"{top}/{p.relative_to(here).as_posix()}": p.read_bytes() for p in _walk(here)}
    entries = {k: v for k, v in entries.items() if not k.split("/")[1].startswith(".")}
    entries[f"{top}/PKG-INFO"] = _metadata(project).encode("utf-8")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(entries):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.mode = 0, 0, 0, 0o644
            info.size = len(entries[name])
            archive.addfile(info, io.BytesIO(entries[name]))
    filename = f"{top}.tar.gz"
    with (
        open(Path(sdist_directory, filename), "wb") as f,
        gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz,
    ):
        gz.write(raw.getvalue())
    return filename
