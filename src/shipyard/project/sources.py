"""Where a project's packages come from: ``[tool.shipyard.sources]`` and named indexes.

The shape is uv's, so a requirement in ``[project]`` stays a plain name that every
other tool can read, and the manifest says apart where it comes from::

    [tool.shipyard.sources]
    core  = { path = "packages/core", editable = true }
    torch = { index = "pytorch-cpu" }
    mylib = { url = "https://files.example.com/mylib-1.0-py3-none-any.whl" }

    [[tool.shipyard.index]]
    name = "pytorch-cpu"
    url = "https://download.pytorch.org/whl/cpu"
    explicit = true          # only packages that name it come from it

A ``path`` or ``url`` source turns the project's requirement on that name into a
direct reference (PEP 440 ``name @ url``) for the resolver; a ``path`` source that is
a project directory is installed editable (PEP 660) unless ``editable = false``. An
``index`` source pins the name, wherever it is required, to that one index: no
other index is asked for it, which is the defence against dependency confusion (a
same-named package on a public index never wins). Names without a pin are looked up
in the indexes that are not ``explicit``, in order — named indexes first, then
``extra-index-urls``, then ``index-url`` — and the first index that has the name
answers for all its versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError

if TYPE_CHECKING:
    from shipyard.accelerators import AcceleratorSpec
    from shipyard.project.manifest import Project

__all__ = [
    "NamedIndex",
    "Source",
    "accelerator_variants",
    "apply_source",
    "command_line_indexes",
    "editable_by_default",
    "named_indexes",
    "path_source_manifests",
    "project_sources",
]

_INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedIndex:
    """One ``[[tool.shipyard.index]]`` entry.

    :param name: how sources and ``SHIPYARD_INDEX_<NAME>_USERNAME/_PASSWORD`` name it.
    :param url: the PEP 503 simple index root.
    :param explicit: only packages whose source names this index come from it.
    :param default: it replaces ``index-url`` as the index asked last.
    :param accelerator: the accelerator its builds are for (``cpu``, ``cuda>=12.4``,
        ``rocm>=6.2``): packages whose source lists several such indexes are locked
        once per accelerator, and ``sync`` installs the variant the machine has.
    :param platforms: OCI platforms (``linux/arm/v7``) the index serves: it is asked
        only when locking for them, its wheels joining those of the other indexes (a
        piwheels-style extra index). Empty: every platform.
    """

    name: str
    url: str
    explicit: bool = False
    default: bool = False
    accelerator: str | None = None
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where one package comes from (one ``[tool.shipyard.sources]`` entry).

    :param name: the canonical package name.
    :param kind: ``path``, ``url``, ``index``, ``git`` or ``workspace`` (a member of
        this workspace, which the workspace provides).
    :param target: the path (relative to the project as written), URL or index name;
        for git, the PEP 508 URL ``git+<repository>[@<revision>][#subdirectory=<path>]``.
    :param editable: for a ``path`` source: install it editable (PEP 660); ``None``
        means the default (editable when it is a project directory).
    """

    name: str
    kind: Literal["path", "url", "index", "git", "workspace"]
    target: str
    editable: bool | None = None


def _error(message: str, project_file: Path, hint: str) -> ManifestError:
    return ManifestError(message, context=str(project_file), hint=hint)


def named_indexes(tool: Mapping[str, Any], project_file: Path) -> list[NamedIndex]:
    """The ``[[tool.shipyard.index]]`` entries, in the order written.

    :raises ManifestError: for an entry without a name or URL, a bad name, a repeated
        name, or more than one ``default``.
    """
    entries = tool.get("index", [])
    if not isinstance(entries, list):
        raise _error(
            "[tool.shipyard] index must be an array of tables ([[tool.shipyard.index]]).",
            project_file,
            'Write each index as [[tool.shipyard.index]] with name = "…" and url = "…".',
        )
    found: list[NamedIndex] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise _error(
                "Each [[tool.shipyard.index]] entry must be a table.",
                project_file,
                'Give it name = "…" and url = "…".',
            )
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not _INDEX_NAME.match(name):
            raise _error(
                f"[[tool.shipyard.index]] needs a name of letters, digits, '.', '_' or '-' "
                f"(got {name!r}).",
                project_file,
                'Add name = "internal" (sources refer to the index by it).',
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "file:")):
            raise _error(
                f"The index {name!r} needs a url (http://, https:// or file://).",
                project_file,
                f'Add url = "https://…/simple" to the [[tool.shipyard.index]] named {name!r}.',
            )
        unknown = sorted(
            set(entry) - {"name", "url", "explicit", "default", "accelerator", "platforms"}
        )
        if unknown:
            raise _error(
                f"The index {name!r} has unknown keys: {', '.join(unknown)}.",
                project_file,
                "An index takes name, url, explicit, default, accelerator and platforms.",
            )
        accelerator = entry.get("accelerator")
        if accelerator is not None:
            from shipyard.accelerators import AcceleratorSpec

            if not isinstance(accelerator, str):
                raise _error(
                    f"The index {name!r}: accelerator must be a string.",
                    project_file,
                    'Write accelerator = "cpu", "cuda>=12.4" or "rocm>=6.2".',
                )
            AcceleratorSpec.parse(accelerator, where=f"the index {name!r}")
        platforms = entry.get("platforms", [])
        if not isinstance(platforms, list) or not all(
            isinstance(p, str) and p.count("/") >= 1 for p in platforms
        ):
            raise _error(
                f"The index {name!r}: platforms must be a list of OCI platforms.",
                project_file,
                'Write platforms = ["linux/arm/v7"].',
            )
        if any(i.name == name for i in found):
            raise _error(
                f"Two [[tool.shipyard.index]] entries are named {name!r}.",
                project_file,
                "Give each index its own name.",
            )
        found.append(
            NamedIndex(
                name=name,
                url=url,
                explicit=bool(entry.get("explicit", False)),
                default=bool(entry.get("default", False)),
                accelerator=accelerator,
                platforms=tuple(platforms),
            )
        )
    if sum(i.default for i in found) > 1:
        raise _error(
            "More than one [[tool.shipyard.index]] has default = true.",
            project_file,
            "Only one index can replace index-url.",
        )
    return found


def command_line_indexes(values: list[str]) -> list[tuple[str, str]]:
    """``--index`` / ``SHIPYARD_INDEX`` values as ``(name, url)`` pairs: ``NAME=URL``, or
    a bare URL (named ``""``).

    :raises UsageError: for a value whose URL is not http(s) or file.
    """
    from shipyard.errors import UsageError

    found = []
    for value in values:
        name, separator, url = value.partition("=")
        if not separator or "://" in name:
            name, url = "", value
        if not url.startswith(("http://", "https://", "file:")):
            raise UsageError(
                f"--index {value!r} names no index URL.",
                hint="Write --index NAME=https://host/simple (or just the URL).",
            )
        found.append((name, url))
    return found


def project_sources(
    tool: Mapping[str, Any], project_file: Path, indexes: list[NamedIndex]
) -> dict[str, Source]:
    """The ``[tool.shipyard.sources]`` entries by canonical name.

    :raises ManifestError: for an entry that names no kind or several, an unknown key,
        an index that is not defined, or a git source naming several revisions.
    """
    table = tool.get("sources", {})
    if not isinstance(table, dict):
        raise _error(
            "[tool.shipyard.sources] must be a table of package name = { … }.",
            project_file,
            'Write e.g. core = { path = "packages/core" }.',
        )
    sources: dict[str, Source] = {}
    for raw_name, entry in table.items():
        name = canonicalize_name(raw_name)
        where = f"[tool.shipyard.sources] {raw_name}"
        if isinstance(entry, list):
            # accelerator variants: one index per accelerator; the default variant's
            # index is the package's source wherever variants are not looked at
            variants = _variant_indexes(raw_name, entry, indexes, project_file)
            sources[name] = Source(name=name, kind="index", target=variants[0][1].name)
            continue
        if not isinstance(entry, dict):
            raise _error(
                f'{where} must be a table such as {{ path = "…" }}.',
                project_file,
                "A source is a table with one of path, url, index or git.",
            )
        kinds: list[Literal["path", "url", "index", "git", "workspace"]] = [
            k for k in ("path", "url", "index", "git", "workspace") if k in entry
        ]
        if len(kinds) != 1:
            raise _error(
                f"{where} must name exactly one of path, url, index, git or workspace "
                f"(it names {', '.join(kinds) or 'none'}).",
                project_file,
                'Write e.g. { path = "packages/core" } or { index = "internal" }.',
            )
        kind = kinds[0]
        allowed = {
            "path": {"path", "editable"},
            "url": {"url"},
            "index": {"index"},
            "git": {"git", "tag", "rev", "branch", "subdirectory"},
            "workspace": {"workspace"},
        }[kind]
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise _error(
                f"{where} has keys a {kind} source does not take: {', '.join(unknown)}.",
                project_file,
                f"A {kind} source takes {', '.join(sorted(allowed))}.",
            )
        target = entry[kind]
        if kind == "workspace":
            if target is not True:
                raise _error(
                    f"{where}: workspace must be true.",
                    project_file,
                    "Write { workspace = true } for a member of this workspace.",
                )
            sources[name] = Source(name=name, kind="workspace", target="")
            continue
        if not isinstance(target, str) or not target:
            raise _error(
                f"{where}: {kind} must be a non-empty string.",
                project_file,
                f'Write {kind} = "…".',
            )
        if kind == "git" and sum(k in entry for k in ("tag", "rev", "branch")) > 1:
            raise _error(
                f"{where} names more than one of tag, rev and branch.",
                project_file,
                "Name one revision: a tag, a branch or a commit (rev).",
            )
        if kind == "index" and not any(i.name == target for i in indexes):
            defined = ", ".join(i.name for i in indexes) or "none"
            raise _error(
                f"{where} names the index {target!r}, which no [[tool.shipyard.index]] "
                f"defines (defined: {defined}).",
                project_file,
                f'Add [[tool.shipyard.index]] with name = "{target}" and its url.',
            )
        editable = entry.get("editable")
        if editable is not None and not isinstance(editable, bool):
            raise _error(
                f"{where}: editable must be true or false.",
                project_file,
                "Write editable = true or editable = false.",
            )
        if kind == "git":
            revision = entry.get("tag") or entry.get("rev") or entry.get("branch")
            subdirectory = entry.get("subdirectory")
            target = f"git+{target}" + (f"@{revision}" if revision else "")
            if subdirectory:
                target += f"#subdirectory={str(subdirectory).strip('/')}"
        sources[name] = Source(name=name, kind=kind, target=target, editable=editable)
    return sources


def _variant_indexes(
    raw_name: str, entries: list[Any], indexes: list[NamedIndex], project_file: Path
) -> list[tuple[AcceleratorSpec, NamedIndex]]:
    """The indexes of a list source, each with its accelerator, the default variant's
    first (``cpu``, else the first written).

    :raises ManifestError: unless every entry is ``{ index = NAME }`` naming a defined
        index with an ``accelerator``, each accelerator once.
    """
    from shipyard.accelerators import AcceleratorSpec

    where = f"[tool.shipyard.sources] {raw_name}"
    by_name = {index.name: index for index in indexes}
    found: list[tuple[AcceleratorSpec, NamedIndex]] = []
    for entry in entries:
        target = entry.get("index") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or set(entry) != {"index"} or target not in by_name:
            raise _error(
                f"{where}: a list of sources must list {{ index = NAME }} tables naming "
                "[[tool.shipyard.index]] entries with an accelerator.",
                project_file,
                'Write e.g. torch = [{ index = "pytorch-cu124" }, { index = "pytorch-cpu" }] '
                'and give each index accelerator = "cuda>=12.4" or "cpu".',
            )
        index = by_name[target]
        if index.accelerator is None:
            raise _error(
                f"{where} lists the index {index.name!r}, which has no accelerator.",
                project_file,
                f'Add accelerator = "cpu" (or "cuda>=12.4" …) to the index {index.name!r}.',
            )
        spec = AcceleratorSpec.parse(index.accelerator, where=f"the index {index.name!r}")
        if any(s.key == spec.key for s, _i in found):
            raise _error(
                f"{where} lists two indexes for the accelerator {spec.key}.",
                project_file,
                "List one index per accelerator.",
            )
        found.append((spec, index))
    found.sort(key=lambda pair: pair[0].kind != "cpu")
    return found


def accelerator_variants(
    tool: Mapping[str, Any], project_file: Path, indexes: list[NamedIndex]
) -> list[tuple[AcceleratorSpec, dict[str, NamedIndex]]]:
    """The accelerator variants the project's list sources ask for: each accelerator
    with the index every such package comes from in it (a package that lists no index
    for an accelerator keeps its default one). The default variant (``cpu``, else the
    first written) comes first; empty when no source is a list.

    :raises ManifestError: for a malformed list source.
    """
    table = tool.get("sources", {})
    lists: dict[str, list[tuple[AcceleratorSpec, NamedIndex]]] = {
        canonicalize_name(raw): _variant_indexes(raw, entry, indexes, project_file)
        for raw, entry in (table.items() if isinstance(table, dict) else ())
        if isinstance(entry, list)
    }
    if not lists:
        return []
    specs: dict[str, AcceleratorSpec] = {}
    for pairs in lists.values():
        for spec, _index in pairs:
            specs.setdefault(spec.key, spec)
    ordered = sorted(specs.values(), key=lambda s: s.kind != "cpu")
    variants = []
    for spec in ordered:
        chosen: dict[str, NamedIndex] = {
            name: next((i for s, i in pairs if s.key == spec.key), pairs[0][1])
            for name, pairs in lists.items()
        }
        variants.append((spec, chosen))
    return variants


def _is_project_directory(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() or (path / "setup.py").is_file()


def apply_source(requirement: Requirement, source: Source, root: Path) -> Requirement:
    """``requirement`` with the direct reference its ``path`` or ``url`` source gives
    (extras and marker kept; a version specifier is dropped: the source decides the
    version). ``index`` and ``workspace`` sources leave the requirement as it is.

    :param root: the project directory relative paths start from.
    :raises ManifestError: when a path source's path does not exist.
    """
    if source.kind in ("index", "workspace"):
        return requirement
    if source.kind == "path":
        location = (root / source.target).resolve()
        if not location.exists():
            raise _error(
                f"The path source of {source.name} ({source.target}) does not exist "
                f"(looked for {location}).",
                root / "pyproject.toml",
                "Fix the path in [tool.shipyard.sources]; it is relative to the project.",
            )
        url = location.as_uri()
    else:
        url = source.target
    rewritten = Requirement(str(requirement))
    rewritten.specifier = type(requirement.specifier)()
    rewritten.url = url
    return rewritten


def editable_by_default(source: Source, root: Path) -> bool:
    """Whether a ``path`` source is installed editable: as written, else when it is a
    project directory (not an archive)."""
    if source.kind != "path":
        return False
    if source.editable is not None:
        return source.editable and _is_project_directory((root / source.target).resolve())
    return _is_project_directory((root / source.target).resolve())


def path_source_manifests(project: Project) -> list[Path]:
    """The ``pyproject.toml`` of each workspace member and each ``path`` source that is a
    project directory (their requirements are part of what the lock resolves)."""
    from shipyard.project.workspace import member_directories

    table = project.tool.get("sources")
    found = [d / "pyproject.toml" for d in member_directories(project.root, project.tool)]
    for entry in table.values() if isinstance(table, dict) else ():
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            manifest = (project.root / entry["path"] / "pyproject.toml").resolve()
            if manifest.is_file():
                found.append(manifest)
    return sorted(found)
