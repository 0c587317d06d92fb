"""Build real, deterministic wheels and sdists for tests.

Wheels follow the binary distribution format (PEP 427, PEP 491, the PyPA
"binary distribution format" spec); sdists follow PEP 517/621/625 with a
static ``[project]`` table that the bundled test backend
(``backend_src/shipyard_test_backend.py``) can build.

Everything is byte-for-byte reproducible: fixed timestamps (1980-01-01 in
zips, epoch 0 in tars and gzip headers), uid/gid 0 and sorted entries, so
building the same inputs twice gives files with identical sha256.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

__all__ = [
    "BACKEND_NAME",
    "BACKEND_SRC_DIR",
    "BACKEND_VERSION",
    "build_sdist",
    "build_test_backend_wheel",
    "build_wheel",
    "dist_name",
    "expand_tags",
    "import_name",
    "record_hash",
]

#: Folder holding ``shipyard_test_backend.py``; put it on ``PYTHONPATH`` to use it in place.
BACKEND_SRC_DIR = Path(__file__).parent / "backend_src"
#: Project name and version of the test build backend's wheel.
BACKEND_NAME = "shipyard-test-backend"
BACKEND_VERSION = "1.0"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_DATA_SCHEMES = frozenset({"scripts", "data", "headers", "purelib", "platlib"})
_GENERATOR = "shipyard-tests-builders 1.0"


def dist_name(name: str) -> str:
    """Return the file-name form of a project name: ``Foo.Bar-baz`` -> ``foo_bar_baz``."""
    return canonicalize_name(name).replace("-", "_")


def import_name(name: str) -> str:
    """Return the default import package for ``name``: ``-`` and ``.`` become ``_``."""
    return re.sub(r"[-.]", "_", name)


def expand_tags(tag: str) -> list[str]:
    """Expand a compressed tag set (``cp311.cp312-abi3-manylinux_2_17_x86_64``) into sorted tags.

    :raises ValueError: if ``tag`` does not have three dash-separated parts.
    """
    if tag.count("-") != 2:
        raise ValueError(f"invalid wheel tag {tag!r}: expected 'python-abi-platform'")
    return sorted(str(t) for t in parse_tag(tag))


def record_hash(data: bytes) -> str:
    """Return a RECORD hash field: ``sha256=`` + urlsafe base64 without padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _metadata_text(
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str],
    requires_python: str | None,
    provides_extra: Iterable[str],
    extra: str = "",
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Provides-Extra: {e}" for e in provides_extra)
    lines.extend(f"Requires-Dist: {r}" for r in requires_dist)
    text = "\n".join(lines) + "\n"
    if extra:
        text += extra if extra.endswith("\n") else extra + "\n"
    return text


def _entry_points_text(entry_points: Mapping[str, Mapping[str, str]]) -> str:
    parts = []
    for group in sorted(entry_points):
        body = "".join(f"{k} = {v}\n" for k, v in sorted(entry_points[group].items()))
        parts.append(f"[{group}]\n{body}")
    return "\n".join(parts)


def _record_text(entries: Mapping[str, bytes], record_path: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data in entries.items():
        writer.writerow([path, record_hash(data), str(len(data))])
    writer.writerow([record_path, "", ""])
    return out.getvalue()


def _write_zip(path: Path, entries: Mapping[str, bytes], executable: Iterable[str] = ()) -> None:
    exe = set(executable)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.create_system = 3  # Unix, so external_attr means the same everywhere
            info.external_attr = (0o100755 if name in exe else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    path.write_bytes(buffer.getvalue())


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires_dist: Sequence[str] = (),
    requires_python: str | None = None,
    provides_extra: Sequence[str] = (),
    tag: str = "py3-none-any",
    files: Mapping[str, str | bytes] | None = None,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    data: Mapping[str, Mapping[str, str | bytes]] | None = None,
    metadata_extra: str = "",
) -> Path:
    """Write a wheel ``{dist}-{version}-{tag}.whl`` into ``out_dir`` and return its path.

    :param name: project name as it appears in ``METADATA`` (the file name is normalized).
    :param version: a PEP 440 version; normalized in file names and ``METADATA``.
    :param requires_dist: PEP 508 strings for ``Requires-Dist`` (extras via ``extra == "x"``).
    :param tag: a wheel tag, possibly compressed (``cp311.cp312-abi3-manylinux_2_17_x86_64``);
        ``Root-Is-Purelib`` is false when the platform part is not ``any``.
    :param files: archive path -> content for the wheel root; default one package
        ``<import_name>/__init__.py`` holding ``__version__``.
    :param entry_points: group -> {name: "module:attr"} for ``entry_points.txt``.
    :param data: ``.data`` scheme (``scripts``, ``data``, ``headers``, ``purelib``,
        ``platlib``) -> {relative path: content}.
    :param metadata_extra: raw header lines appended to ``METADATA``.
    :raises ValueError: for an invalid version, tag, or ``.data`` scheme.
    """
    norm_version = str(Version(version))
    tags = expand_tags(tag)
    dist = dist_name(name)
    filename = f"{dist}-{norm_version}-{tag}.whl"
    dist_info = f"{dist}-{norm_version}.dist-info"
    purelib = all(t.endswith("-any") for t in tags)

    if files is None:
        files = {f"{import_name(name)}/__init__.py": f"__version__ = '{version}'\n"}
    content: dict[str, bytes] = {path: _as_bytes(body) for path, body in files.items()}
    executable: list[str] = []
    for scheme, scheme_files in (data or {}).items():
        if scheme not in _DATA_SCHEMES:
            raise ValueError(f"unknown .data scheme {scheme!r}; use one of {sorted(_DATA_SCHEMES)}")
        for rel, body in scheme_files.items():
            path = f"{dist}-{norm_version}.data/{scheme}/{rel}"
            content[path] = _as_bytes(body)
            if scheme == "scripts":
                executable.append(path)

    meta: dict[str, bytes] = {
        f"{dist_info}/METADATA": _metadata_text(
            name,
            norm_version,
            requires_dist=requires_dist,
            requires_python=requires_python,
            provides_extra=provides_extra,
            extra=metadata_extra,
        ).encode("utf-8"),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\n"
            f"Generator: {_GENERATOR}\n"
            f"Root-Is-Purelib: {'true' if purelib else 'false'}\n"
            + "".join(f"Tag: {t}\n" for t in tags)
        ).encode("utf-8"),
    }
    if entry_points:
        meta[f"{dist_info}/entry_points.txt"] = _entry_points_text(entry_points).encode()

    entries = {k: content[k] for k in sorted(content)}
    entries.update({k: meta[k] for k in sorted(meta)})
    record_path = f"{dist_info}/RECORD"
    entries[record_path] = _record_text(entries, record_path).encode("utf-8")

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    _write_zip(target, entries, executable)
    return target


_EXTRA_ONLY = re.compile(r"""^\s*extra\s*==\s*(['"])(?P<extra>[^'"]+)\1\s*$""")
_EXTRA_LAST = re.compile(r"""^(?P<rest>.+?)\s+and\s+extra\s*==\s*(['"])(?P<extra>[^'"]+)\2\s*$""")
_EXTRA_FIRST = re.compile(r"""^\s*extra\s*==\s*(['"])(?P<extra>[^'"]+)\1\s+and\s+(?P<rest>.+)$""")


def _split_extra(requirement: str) -> tuple[str | None, str]:
    """Split ``"b>=1; extra == 'x'"`` into ``("x", "b>=1")``; no extra gives ``(None, req)``."""
    req, sep, marker = requirement.partition(";")
    if not sep or "extra" not in marker:
        return None, requirement
    for pattern in (_EXTRA_ONLY, _EXTRA_LAST, _EXTRA_FIRST):
        match = pattern.match(marker)
        if match:
            rest = match.groupdict().get("rest")
            return match["extra"], f"{req.strip()}; {rest.strip()}" if rest else req.strip()
    raise ValueError(
        f"cannot map {requirement!r} to [project.optional-dependencies]: "
        "put the extra clause first or last, joined with 'and'"
    )


def _toml_value(value: object) -> str:
    # JSON strings and arrays of strings are valid TOML basic strings/arrays.
    return json.dumps(value, ensure_ascii=False)


def _pyproject_text(
    name: str,
    version: str,
    *,
    requires_dist: Sequence[str],
    requires_python: str | None,
    provides_extra: Sequence[str],
    build_requires: Sequence[str],
    backend: str,
    entry_points: Mapping[str, Mapping[str, str]] | None,
    dynamic: Sequence[str] = (),
) -> str:
    dependencies: list[str] = []
    optional: dict[str, list[str]] = {canonicalize_name(e): [] for e in provides_extra}
    for requirement in requires_dist:
        extra, req = _split_extra(requirement)
        if extra is None:
            dependencies.append(req)
        else:
            optional.setdefault(canonicalize_name(extra), []).append(req)

    lines = [
        "[build-system]",
        f"requires = {_toml_value(list(build_requires))}",
        f"build-backend = {_toml_value(backend)}",
        "",
        "[project]",
        f"name = {_toml_value(name)}",
        f"version = {_toml_value(version)}",
    ]
    if "dependencies" in dynamic:
        lines.append(f"dynamic = {_toml_value(list(dynamic))}")
    else:
        lines.append(f"dependencies = {_toml_value(dependencies)}")
    if requires_python is not None:
        lines.append(f"requires-python = {_toml_value(requires_python)}")
    if optional:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in optional.items()]
    groups = dict(entry_points or {})
    for table, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        if groups.get(group):
            lines += ["", f"[project.{table}]"]
            lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in groups[group].items()]
    for group, items in groups.items():
        if group in ("console_scripts", "gui_scripts") or not items:
            continue
        lines += ["", f"[project.entry-points.{_toml_value(group)}]"]
        lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in items.items()]
    if "dependencies" in dynamic:
        lines += ["", "[tool.shipyard-test-backend]"]
        lines.append(f"dependencies = {_toml_value(dependencies)}")
    return "\n".join(lines) + "\n"


def _write_tar_gz(path: Path, entries: Mapping[str, bytes]) -> None:
    dirs: set[str] = set()
    for name in entries:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(dirs | set(entries)):
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if name in entries:
                info.mode = 0o644
                info.size = len(entries[name])
                archive.addfile(info, io.BytesIO(entries[name]))
            else:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(raw.getvalue())
    path.write_bytes(compressed.getvalue())


def build_sdist(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires_dist: Sequence[str] = (),
    requires_python: str | None = None,
    provides_extra: Sequence[str] = (),
    files: Mapping[str, str | bytes] | None = None,
    build_requires: Sequence[str] = (BACKEND_NAME,),
    backend: str = "shipyard_test_backend",
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    dynamic: Sequence[str] = (),
) -> Path:
    """Write an sdist ``{dist}-{version}.tar.gz`` (PEP 625) into ``out_dir`` and return its path.

    The archive has one top folder ``{dist}-{version}/`` holding ``pyproject.toml``
    (``[build-system]`` plus a static PEP 621 ``[project]`` table), ``PKG-INFO`` and
    ``files`` (default: one package ``<import_name>/__init__.py``). Requirements whose
    marker is ``extra == "x"`` (alone, or joined by ``and`` first or last) go to
    ``[project.optional-dependencies]``; ``entry_points["console_scripts"]`` and
    ``["gui_scripts"]`` become ``[project.scripts]`` and ``[project.gui-scripts]``.

    :param files: path relative to the top folder -> content.
    :param dynamic: ``[project] dynamic``; with ``"dependencies"`` only a build (the
        test backend) knows them, as with a ``setup.py``, so a resolver must build.
    :raises ValueError: for an invalid version or an extra marker it cannot map.
    """
    norm_version = str(Version(version))
    top = f"{dist_name(name)}-{norm_version}"
    if files is None:
        files = {f"{import_name(name)}/__init__.py": f"__version__ = '{version}'\n"}
    entries = {f"{top}/{path}": _as_bytes(body) for path, body in files.items()}
    entries[f"{top}/pyproject.toml"] = _pyproject_text(
        name,
        norm_version,
        requires_dist=requires_dist,
        requires_python=requires_python,
        provides_extra=provides_extra,
        build_requires=build_requires,
        backend=backend,
        entry_points=entry_points,
        dynamic=dynamic,
    ).encode("utf-8")
    entries[f"{top}/PKG-INFO"] = _metadata_text(
        name,
        norm_version,
        requires_dist=requires_dist,
        requires_python=requires_python,
        provides_extra=provides_extra,
    ).encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{top}.tar.gz"
    _write_tar_gz(target, entries)
    return target


def build_test_backend_wheel(out_dir: Path) -> Path:
    """Write ``shipyard_test_backend-1.0-py3-none-any.whl`` (the PEP 517/660 test backend).

    The wheel holds the single module ``shipyard_test_backend`` from
    :data:`BACKEND_SRC_DIR`; it needs Python >= 3.11 and nothing else.
    """
    source = (BACKEND_SRC_DIR / "shipyard_test_backend.py").read_text(encoding="utf-8")
    return build_wheel(
        out_dir,
        BACKEND_NAME,
        BACKEND_VERSION,
        requires_python=">=3.11",
        files={"shipyard_test_backend.py": source},
    )
