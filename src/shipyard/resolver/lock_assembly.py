"""The lock's packages from the forks that resolved (:func:`assemble`): a version
several forks chose merged into one :class:`ResolvedPackage`, with its marker, its
files, its dependencies and the targets that install it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from shipyard.models import DistFile, ProjectVersion
from shipyard.resolver.forks import ResolvedFork
from shipyard.resolver.lock_markers import fork_markers, targets_marker
from shipyard.resolver.solver import ROOT
from shipyard.resolver.terms import split_identifier
from shipyard.resolver.universe import Universe
from shipyard.specs import markers as mk

__all__ = ["ResolvedPackage", "assemble", "missing_extras"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPackage:
    """One package of the lock.

    :param marker: the PEP 751 marker (``None``: always installed).
    :param files: the wheels that serve at least one target, then the sdist if any.
    :param dependencies: canonical names of the locked packages it depends on.
    :param mask: the targets that install it.
    :param variants_json: for a version with wheel variants (PEP 825 draft) among
        ``files``, its variant metadata as a JSON-able document, filled in after
        resolving (the resolver fetches nothing); ``None`` otherwise.
    """

    name: str
    version: Version
    project_version: ProjectVersion
    files: tuple[DistFile, ...]
    marker: str | None
    requires_python: str | None
    dependencies: tuple[str, ...]
    mask: int
    variants_json: Mapping[str, Any] | None = None


@dataclass(slots=True)
class _Merged:
    position: int
    by_marker: dict[mk.MarkerExpression, int]
    deps: set[str]
    mask: int


def assemble(
    forks: Sequence[ResolvedFork], universe: Universe, requires_python: SpecifierSet | None
) -> tuple[tuple[ResolvedPackage, ...], tuple[tuple[str, str, tuple[str, ...]], ...]]:
    """The lock's packages, sorted by name then version (a version several forks chose
    is one package), and ``(package, version, target names)`` for the versions with
    no file for some target that needs them."""
    targets = universe.targets
    merged: dict[tuple[str, Version], _Merged] = {}
    for fork in forks:
        for name, (marker, deps) in fork_markers(fork, universe.roots, requires_python).items():
            table = universe.table(name)
            position = fork.decisions[name]
            key = (name, table.versions[position].version)
            entry = merged.setdefault(key, _Merged(position, {}, set(), 0))
            simplified = mk.simplify(marker, requires_python=requires_python)
            entry.by_marker[simplified] = entry.by_marker.get(simplified, 0) | fork.mask
            entry.deps.update(deps)
            for identifier, mask in fork.need.items():
                if identifier != ROOT and split_identifier(identifier)[0] == name:
                    entry.mask |= mask
    provided = {name for name in universe.options.provided}
    packages: list[ResolvedPackage] = []
    uncovered: list[tuple[str, str, tuple[str, ...]]] = []
    for (name, version), entry in sorted(merged.items()):
        if name in provided and universe.url_of(name) is None:
            continue  # provided by the environment (ResolveOptions.provided)
        table = universe.table(name)
        pv = table.versions[entry.position]
        marker = mk.simplify(
            mk.marker_or(
                *(
                    mk.marker_and(targets_marker(mask, targets), expression)
                    for expression, mask in sorted(
                        entry.by_marker.items(), key=lambda item: item[1]
                    )
                )
            ),
            requires_python=requires_python,
        )
        if (
            len(entry.by_marker) > 1
            and entry.mask == universe.all_mask
            and _holds_everywhere(marker, universe)
        ):
            # Forks that chose the same version, each through its own path: together
            # they cover every target. (A requirement's own marker, from one path, is
            # kept even when every target satisfies it: pip reads it elsewhere.)
            marker = mk.TRUE
        files = _lock_files(universe, name, pv, entry.mask)
        unserved = entry.mask & ~universe.served(name, table, entry.position)
        missing = tuple(targets[i].name for i in range(len(targets)) if unserved >> i & 1)
        if missing and pv.index:
            uncovered.append((name, str(version), missing))
        metadata = universe.repository.metadata(pv)
        packages.append(
            ResolvedPackage(
                name=name,
                version=version,
                project_version=pv,
                files=files,
                marker=mk.render(marker),
                requires_python=metadata.requires_python,
                dependencies=tuple(sorted(entry.deps - provided)),
                mask=entry.mask,
            )
        )
    return tuple(packages), tuple(uncovered)


def missing_extras(
    forks: Sequence[ResolvedFork], universe: Universe
) -> list[tuple[str, Version, str, tuple[str, ...]]]:
    """The extras asked of a chosen version that its core metadata does not declare
    (``Provides-Extra``, core metadata 2.1+), as ``(name, version, extra, the extras it
    has)``: once per name and extra, sorted. Such an extra installs nothing more, as pip
    and uv treat it; a version that declares no extra but whose requirements still use
    ``extra ==`` markers (older metadata) is not suspected."""
    found: dict[tuple[str, str], tuple[str, Version, str, tuple[str, ...]]] = {}
    for fork in forks:
        for identifier, position in fork.decisions.items():
            if identifier == ROOT:
                continue
            name, extra = split_identifier(identifier)
            if extra is None or (name, extra) in found:
                continue
            pv = universe.table(name).versions[position]
            if not pv.index and name in universe.options.provided:
                continue  # a conda package stands for it: no metadata to ask
            declared = universe.repository.metadata(pv).provides_extra
            if extra in declared:
                continue
            if not declared and any(
                r.marker is not None and "extra" in str(r.marker)
                for r in universe.requirements_of(name, pv)
            ):
                continue
            found[(name, extra)] = (name, pv.version, extra, declared)
    return [found[key] for key in sorted(found)]


#: marker variables whose values the lock's targets enumerate
_TARGET_VARIABLES = frozenset(
    {
        "sys_platform",
        "platform_system",
        "platform_machine",
        "os_name",
        "python_version",
        "python_full_version",
    }
)


def _variables(expression: mk.MarkerExpression) -> set[str]:
    if isinstance(expression, mk.MarkerAtom):
        return {expression.variable}
    found: set[str] = set()
    for child in expression.children:
        found |= _variables(child)
    return found


def _holds_everywhere(marker: mk.MarkerExpression, universe: Universe) -> bool:
    """Whether ``marker`` speaks only of what the targets vary (platform, Python) and
    holds on every target: then the lock needs no marker (``sys_platform == "darwin"
    or sys_platform == "linux" or sys_platform == "win32"`` after a platform fork
    whose parts chose the same version)."""
    if marker == mk.TRUE or not _variables(marker) <= _TARGET_VARIABLES:
        return False
    return mk.evaluate_mask(marker, universe.environments) == universe.all_mask


def _lock_files(
    universe: Universe, name: str, pv: ProjectVersion, mask: int
) -> tuple[DistFile, ...]:
    if not pv.index:
        return pv.files  # a direct reference: exactly the URL the project named
    usable = universe.usable_files(name, pv, mask)
    wheels = sorted((f for f in usable if f.is_wheel), key=lambda f: f.filename)
    sdists = [f for f in usable if not f.is_wheel]
    sdists.sort(key=lambda f: not f.filename.endswith(".tar.gz"))
    return tuple(wheels + sdists[:1])
