"""``pylock.toml`` (PEP 751): write one from a resolution, read and select from one.

The file is exactly what PEP 751 defines, so pip, uv and PDM can install from
it; what the standard has no key for lives under ``[tool.shipyard]``: the hash
of the inputs (so staleness is known without resolving), the target
environments and the resolution options used; per package, its wheel variants
(PEP 825 draft, :mod:`shipyard.lock.variant_selection`). Output is deterministic: packages
sorted by name and version, files in index order, keys in a fixed order.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.atomic import atomic_write_bytes, atomic_write_text
from shipyard.errors import LockError
from shipyard.lock.toml_text import array_lines, table_lines, toml_key, toml_value
from shipyard.lock.variant_selection import (
    choose_variant_file,
    host_key,
    split_variant_wheels,
    stand_in_variant_packages,
    variant_tool_table,
)
from shipyard.models import DistFile, LockedDistribution, LockFile

if TYPE_CHECKING:  # the resolver is not imported on the sync path
    from shipyard.accelerators import HostAccelerator
    from shipyard.cache import Cache
    from shipyard.resolver.universal import Resolution

__all__ = [
    "LOCK_FILENAME",
    "ProjectEntry",
    "build_lock_document",
    "lock_differs",
    "read_lock",
    "select_from_lock",
    "write_lock",
]

LOCK_FILENAME = "pylock.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectEntry:
    """The project itself, when it is installable (has a build-system): a PEP 751
    ``directory`` package, installed editable."""

    name: str
    path: str = "."
    editable: bool = True


def _file_table(dist: DistFile) -> dict[str, Any]:
    from shipyard.index.credentials import public_url

    table: dict[str, Any] = {"url": public_url(dist.url)}
    if dist.upload_time is not None:
        table["upload-time"] = dist.upload_time
    if dist.size is not None:
        table["size"] = dist.size
    table["hashes"] = dict(dist.hashes)
    return table


def _direct_source(
    dist: DistFile, base: Path | None, editable: bool, requested: str | None
) -> dict[str, Any]:
    """PEP 751 ``archive``, ``directory`` or ``vcs`` table for a direct reference.

    :param requested: for git, the revision the manifest asked for (tag or branch).
    """
    import urllib.parse
    import urllib.request

    from shipyard.index.credentials import public_url

    if dist.url.startswith("git+"):
        from shipyard.vcs.git import GitUrl

        source = GitUrl.parse(dist.url)
        vcs: dict[str, Any] = {"type": "git", "url": public_url(source.repository)}
        if requested:
            vcs["requested-revision"] = requested
        vcs["commit-id"] = source.revision
        if source.subdirectory:
            vcs["subdirectory"] = source.subdirectory
        return {"vcs": vcs}

    if dist.url.startswith("file:"):
        local = Path(urllib.request.url2pathname(urllib.parse.urlsplit(dist.url).path))
        if local.is_dir():
            path = str(local)
            if base is not None:
                import os

                path = Path(os.path.relpath(local, base.resolve())).as_posix()
            return {"directory": {"path": path, "editable": editable}}

    # Credentials in a direct URL stay in the manifest; sync finds them per host
    # (index URLs, SHIPYARD_INDEX_*, ~/.netrc).
    table: dict[str, Any] = {"url": public_url(dist.url)}
    if dist.size is not None:
        table["size"] = dist.size
    table["hashes"] = dict(dist.hashes)
    return {"archive": table}


def build_lock_document(
    resolution: Resolution,
    *,
    requires_python: str | None,
    extras: Sequence[str],
    dependency_groups: Sequence[str],
    default_groups: Sequence[str],
    project: ProjectEntry | None,
    tool: Mapping[str, Any],
    environments: Sequence[str] = (),
    base: Path | None = None,
    editable: Collection[str] = (),
    requested_revisions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The lock as a plain dict in PEP 751 key order (datetimes for upload times).

    :param tool: the ``[tool.shipyard]`` table (input hash, targets, options).
    :param environments: written as PEP 751 ``environments`` when the project
        restricted its targets (``[tool.shipyard] environments``).
    :param base: the lock's directory; local direct references are written relative to it.
    :param editable: canonical names of local directories installed editable (PEP 660).
    :param requested_revisions: canonical name → the git revision the manifest asked for.
    """
    document: dict[str, Any] = {"lock-version": "1.0"}
    if environments:
        document["environments"] = list(environments)
    if requires_python:
        document["requires-python"] = requires_python
    if extras:
        document["extras"] = sorted(extras)
    if dependency_groups:
        document["dependency-groups"] = sorted(dependency_groups)
    if default_groups:
        document["default-groups"] = sorted(default_groups)
    document["created-by"] = "shipyard"
    packages: list[dict[str, Any]] = []
    from shipyard.index.credentials import public_url

    versions_per_name: dict[str, int] = {}
    for package in resolution.packages:
        versions_per_name[package.name] = versions_per_name.get(package.name, 0) + 1
    by_name = {p.name: p for p in resolution.packages}
    for package in resolution.packages:
        entry: dict[str, Any] = {"name": package.name, "version": str(package.version)}
        if package.marker:
            entry["marker"] = package.marker
        if package.requires_python:
            entry["requires-python"] = package.requires_python
        direct = not package.project_version.index
        if not direct:
            # Credentials stay out of the lock: the client finds them again per host.
            entry["index"] = public_url(package.project_version.index)
        if package.dependencies:
            deps = []
            for dep in package.dependencies:
                item: dict[str, Any] = {"name": dep}
                if versions_per_name.get(dep, 0) == 1 and dep in by_name:
                    item["version"] = str(by_name[dep].version)
                deps.append(item)
            entry["dependencies"] = deps
        if direct:
            entry.update(
                _direct_source(
                    package.files[0],
                    base,
                    package.name in editable,
                    (requested_revisions or {}).get(package.name),
                )
            )
            packages.append(entry)
            continue
        sdists = [f for f in package.files if not f.is_wheel]
        wheels, variants = split_variant_wheels(package.files, package.variants_json)
        if sdists:
            entry["sdist"] = _file_table(sdists[0])
        if wheels:
            entry["wheels"] = [_file_table(w) for w in wheels]
        if variants and package.variants_json:
            entry["tool"] = variant_tool_table(
                [_file_table(w) for w in variants], package.variants_json
            )
        packages.append(entry)
    if project is not None:
        packages.append(
            {
                "name": project.name,
                "directory": {"path": project.path, "editable": project.editable},
            }
        )
        packages.sort(key=lambda p: (p["name"], p.get("version", "")))
    document["packages"] = packages
    document["tool"] = {"shipyard": dict(tool)}
    return document


def render_lock(document: Mapping[str, Any]) -> str:
    """Render the lock dict as TOML text: top-level keys, then one ``[[packages]]``
    table each (files as inline tables, wheels one per line, a package's ``tool`` table
    as sub-tables), then ``[tool.shipyard]``.

    The packages, nearly all of the text, are written here (a 140-package lock took
    tomlkit 0.12 s, the last step of every lock); the small ``[tool]`` table, which
    may nest tables, goes through tomlkit.
    """
    import tomlkit

    lines = [
        "# This file is @generated by shipyard. It is a PEP 751 lock file.",
        "# Edit pyproject.toml and run `shipyard lock` instead of editing it.",
    ]
    for key, value in document.items():
        if key not in ("packages", "tool"):
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    if not document["packages"]:
        lines.append("packages = []")  # PEP 751 requires the key, even empty
    for package in document["packages"]:
        lines += ["", "[[packages]]"]
        tool_lines: list[str] = []  # after the package's own keys
        for key, value in package.items():
            if key == "wheels":
                lines += array_lines(key, value)
            elif key == "tool" and isinstance(value, Mapping) and value:
                tool_lines = table_lines("packages.tool", value, 4)
            else:
                lines.append(f"{toml_key(key)} = {toml_value(value)}")
        lines += tool_lines
    doc = tomlkit.document()
    tool = tomlkit.table(is_super_table=True)
    shipyard_table = tomlkit.table()
    for key, value in document["tool"]["shipyard"].items():
        shipyard_table.add(key, value)
    tool.add("shipyard", shipyard_table)
    doc.add(tomlkit.nl())
    doc.add("tool", tool)
    return "\n".join(lines) + "\n" + tomlkit.dumps(doc)


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except OSError:
        return False


def lock_differs(path: Path, document: Mapping[str, Any]) -> bool:
    """Whether writing ``document`` would change the file at ``path`` (or create it)."""
    return not _holds(path, render_lock(document))


def write_lock(path: Path, document: Mapping[str, Any]) -> bool:
    """Write the lock atomically; returns False (and writes nothing) when unchanged."""
    text = render_lock(document)
    if _holds(path, text):
        return False
    atomic_write_text(path, text)
    return True


def read_lock(path: Path, cache: Cache | None = None) -> LockFile:
    """Read ``pylock.toml`` (PEP 751) as a :class:`~shipyard.models.LockFile`.

    With a ``cache``, the parsed document is kept under the sha256 of the file's
    bytes (``marshal`` data, datetimes tagged), so a sync of an unchanged lock does
    not run the TOML parser again (about 0.2 s for a 140-package lock).

    :raises LockError: when it is missing, not valid TOML, or its top-level keys have
        the wrong types.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise LockError(
            "There is no lock file.",
            context=str(path),
            hint="Run `shipyard lock` first (or drop --frozen).",
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    entry: Path | None = None
    if cache is not None:
        entry = cache.bucket("locks") / f"{digest}.marshal"
        try:
            revived = _revive(marshal.loads(entry.read_bytes()))
        except (OSError, EOFError, ValueError, TypeError):
            pass
        else:
            if isinstance(revived, dict):
                return LockFile.from_document(revived, path, sha256=digest)
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise LockError(
            f"The lock file is not valid TOML: {exc}.",
            context=str(path),
            hint="Restore it from version control or delete it and run `shipyard lock`.",
        ) from exc
    if entry is not None:
        try:
            atomic_write_bytes(entry, marshal.dumps(_flatten(document)), fsync=False)
        except Exception:  # a cache that cannot be written is not an error
            pass
    return LockFile.from_document(document, path, sha256=digest)


_DATETIME_TAG = "\x00datetime"


def _flatten(value: Any) -> Any:
    """``value`` with every datetime as ``(tag, isoformat)`` (marshal has no datetimes)."""
    if isinstance(value, dict):
        return {key: _flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_flatten(item) for item in value]
    if isinstance(value, datetime):
        return (_DATETIME_TAG, value.isoformat())
    return value


def _revive(value: Any) -> Any:
    """The inverse of :func:`_flatten`."""
    if isinstance(value, dict):
        return {key: _revive(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revive(item) for item in value]
    if isinstance(value, tuple) and len(value) == 2 and value[0] == _DATETIME_TAG:
        return datetime.fromisoformat(value[1])
    return value


def select_from_lock(
    lockfile: LockFile,
    *,
    environment: Mapping[str, str],
    tags: Sequence[str],
    extras: Collection[str],
    dependency_groups: Collection[str] | None,
    no_binary: Collection[str] = (),
    cache: Cache | None = None,
    variant_host: HostAccelerator | None = None,
) -> list[LockedDistribution]:
    """Select what to install for one environment, as PEP 751 defines it; among a
    package's wheel variants (PEP 825 draft), the best one ``variant_host`` supports.

    Uses ``packaging.pylock`` (validation and ``Pylock.select``). With a ``cache`` and
    a lock read from a file, the selection is kept under the lock's digest and every
    input here, so the next sync of the same lock for the same environment skips the
    validation and the marker evaluation.

    :param lockfile: the lock; its ``path`` names it in errors and anchors ``path``
        entries.
    :param environment: the target interpreter's marker environment.
    :param tags: its supported wheel tags, most preferred first.
    :param dependency_groups: groups to install; ``None`` means the lock's default groups.
    :param no_binary: canonical names (or ``":all:"``) to install from their sdist.
    :param cache: where selections are kept (``None``: nothing is kept, as for a dry
        run).
    :param variant_host: the machine's accelerators, for wheel variants (``detect_host()``
        for this machine); ``None``: none (the null variant or the plain wheel).
    :raises LockError: when the lock is invalid or has nothing for this environment.
    """
    entry: Path | None = None
    if cache is not None and lockfile.sha256 is not None:
        key = json.dumps(
            [
                lockfile.sha256,
                str(lockfile.path.parent),
                sorted(environment.items()),
                list(tags),
                sorted(extras),
                None if dependency_groups is None else sorted(dependency_groups),
                sorted(no_binary),
                host_key(variant_host),
            ]
        )
        entry = cache.bucket("locks") / (hashlib.sha256(key.encode()).hexdigest() + ".selection")
        try:
            return [LockedDistribution(**row) for row in marshal.loads(entry.read_bytes())]
        except (OSError, EOFError, ValueError, TypeError):
            pass
    selected = _select(
        lockfile,
        environment=environment,
        tags=tags,
        extras=extras,
        dependency_groups=dependency_groups,
        no_binary=no_binary,
        variant_host=variant_host,
    )
    if entry is not None:
        from dataclasses import asdict

        try:
            rows = [asdict(dist) for dist in selected]
            atomic_write_bytes(entry, marshal.dumps(rows), fsync=False)
        except Exception:  # a cache that cannot be written is not an error
            pass
    return selected


def _select(
    lockfile: LockFile,
    *,
    environment: Mapping[str, str],
    tags: Sequence[str],
    extras: Collection[str],
    dependency_groups: Collection[str] | None,
    no_binary: Collection[str],
    variant_host: HostAccelerator | None = None,
) -> list[LockedDistribution]:
    """:func:`select_from_lock` without its cache. Packages with wheel variants reach
    ``Pylock.select`` as stand-ins, which keep its marker and Python checks; their file
    is chosen by :func:`~shipyard.lock.variant_selection.choose_variant_file`."""
    from packaging.pylock import (
        PackageArchive,
        PackageDirectory,
        PackageSdist,
        PackageVcs,
        PackageWheel,
        Pylock,
        PylockSelectError,
        PylockValidationError,
    )
    from packaging.tags import parse_tag

    path = lockfile.path
    document, stand_ins = stand_in_variant_packages(lockfile.document)
    try:
        lock = Pylock.from_dict(dict(lockfile.document))
        if stand_ins:
            lock = Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise LockError(
            f"The lock file is invalid: {exc}.",
            context=str(path),
            hint="Run `shipyard lock` to write a new one.",
        ) from exc
    tag_objects = [t for text in tags for t in parse_tag(text)]
    selected: list[LockedDistribution] = []
    try:
        for package, dist in lock.select(
            environment=dict(environment),  # type: ignore[arg-type]
            tags=tag_objects,
            extras=extras,
            dependency_groups=dependency_groups,
            prefer_sdist_predicate=lambda name: ":all:" in no_binary or name in no_binary,
        ):
            version = str(package.version) if package.version is not None else None
            if isinstance(dist, PackageDirectory) and dist.path in stand_ins:
                selected.append(
                    choose_variant_file(
                        stand_ins[dist.path],
                        environment=environment,
                        tags=tags,
                        host=variant_host,
                        sdist=":all:" in no_binary or package.name in no_binary,
                        lock_path=path,
                    )
                )
            elif isinstance(dist, PackageDirectory):
                selected.append(
                    LockedDistribution(
                        name=package.name,
                        version=version,
                        url=None,
                        filename=None,
                        sha256=None,
                        size=None,
                        is_wheel=False,
                        directory=dist.path,
                        editable=bool(dist.editable),
                    )
                )
            elif isinstance(dist, PackageWheel | PackageSdist | PackageArchive):
                url = dist.url or (
                    Path(path.parent, dist.path).resolve().as_uri() if dist.path else None
                )
                filename = (
                    getattr(dist, "filename", None)
                    if not isinstance(dist, PackageArchive)
                    else None
                )
                filename = filename or (url.rsplit("/", 1)[-1] if url else None)
                archive = isinstance(dist, PackageArchive)
                selected.append(
                    LockedDistribution(
                        name=package.name,
                        version=version,
                        url=url,
                        filename=filename,
                        sha256=dist.hashes.get("sha256"),
                        size=dist.size,
                        is_wheel=isinstance(dist, PackageWheel)
                        or (archive and bool(filename) and str(filename).endswith(".whl")),
                        direct=archive,
                    )
                )
            elif isinstance(dist, PackageVcs) and dist.type == "git" and dist.url:
                from shipyard.vcs.git import GitUrl

                pinned = GitUrl(dist.url, dist.commit_id, dist.subdirectory)
                selected.append(
                    LockedDistribution(
                        name=package.name,
                        version=version,
                        url=str(pinned),
                        filename=None,
                        sha256=None,
                        size=None,
                        is_wheel=False,
                        direct=True,
                        vcs=True,
                    )
                )
            else:
                raise LockError(
                    f"Package {package.name} comes from a VCS repository shipyard cannot "
                    "install (only git repositories named by URL are supported).",
                    context=str(path),
                    hint="Depend on a released version or a git URL instead.",
                )
    except PylockSelectError as exc:
        raise LockError(
            f"The lock has nothing that fits this environment: {exc}.",
            context=str(path),
            hint="Run `shipyard lock` (the lock may predate a change of Python or platform).",
        ) from exc
    return selected
