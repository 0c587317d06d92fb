"""The lock as a graph: what ``pylock.toml`` installs for a selection and a target,
read from the lock alone (``tree``, ``why``, ``outdated``).

The project's direct requirements come from pyproject.toml (the lock has no entry
for them); everything below them comes from the ``dependencies`` lists PEP 751
packages carry. Package markers are evaluated for the selection (dependency groups
and extras, as ``'dev' in dependency_groups`` atoms) and for the variables a target
fixes (``--for-environment``, ``--python-version``, ``--python-platform``); what a
target leaves open stays as a marker beside the package. No index is asked: this
works offline and with the index down.

PEP 751 dependency lists have no markers of their own, so an edge is kept whenever
both packages are installed for the selection (a package required on Windows by one
parent and everywhere by another appears under both everywhere).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import UsageError
from shipyard.lock.pylock import LOCK_FILENAME, read_lock
from shipyard.models import LockFile
from shipyard.project.freshness import lock_is_fresh
from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = [
    "DirectRequirement",
    "GraphPackage",
    "PackageKey",
    "ProjectGraph",
    "direct_requirements",
    "key_order",
    "project_graph",
    "target_variables",
]

#: A locked package: (canonical name, version as written, ``""`` when it has none).
PackageKey = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphPackage:
    """One package of the lock that the selection installs.

    :param name: the canonical name; :param version: as locked (``None`` for a
        directory without one).
    :param marker: what is left of its lock marker once the selection and the target
        are put in (``None``: installed wherever the selection applies).
    :param source: for a package not from an index, where it comes from
        (``"path: ../core"``, ``"git: https://…@1a2b3c4d5e"``, ``"url: https://…"``).
    :param index: the index it comes from, for an index package.
    :param dependencies: the keys of the locked packages it requires (those selected).
    """

    name: str
    version: str | None
    marker: str | None
    source: str | None
    index: str | None
    dependencies: tuple[PackageKey, ...]

    @property
    def key(self) -> PackageKey:
        """Its :data:`PackageKey`."""
        return (self.name, self.version or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectRequirement:
    """A requirement of the project, as pyproject.toml writes it.

    :param requirement: the PEP 508 requirement.
    :param group: the dependency group it is in, or ``None``.
    :param extra: the extra it is in (``[project.optional-dependencies]``), or ``None``.
    :param marker: what is left of its own marker for the target (``None``: none).
    :param packages: the locked packages it resolves to (empty: not in the lock).
    """

    requirement: Requirement
    group: str | None = None
    extra: str | None = None
    marker: str | None = None
    packages: tuple[PackageKey, ...] = ()

    @property
    def where(self) -> str:
        """``"dependencies"``, ``"group dev"`` or ``"extra plots"``."""
        if self.group is not None:
            return f"group {self.group}"
        if self.extra is not None:
            return f"extra {self.extra}"
        return "dependencies"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectGraph:
    """The lock as a graph for one selection and target.

    :param project_name: ``[project].name``; :param project_version: its version.
    :param packages: every selected package by key.
    :param direct: the project's requirements in the selection, in manifest order
        (dependencies, then extras, then groups).
    :param stale: the lock was made from another pyproject.toml (shown as it is).
    :param locked_names: the canonical name of every package in the lock, selected or not.
    """

    project_name: str
    project_version: str | None
    packages: Mapping[PackageKey, GraphPackage]
    direct: tuple[DirectRequirement, ...]
    stale: bool = False
    locked_names: frozenset[str] = frozenset()

    def find(self, name: str) -> list[PackageKey]:
        """The keys of the selected packages named ``name`` (any spelling), oldest first."""
        wanted = canonicalize_name(name)
        return sorted((k for k in self.packages if k[0] == wanted), key=_version_order)

    def dependents(self) -> dict[PackageKey, list[PackageKey]]:
        """Key → the keys of the packages that require it, sorted."""
        found: dict[PackageKey, list[PackageKey]] = {key: [] for key in self.packages}
        for package in self.packages.values():
            for dependency in package.dependencies:
                found.setdefault(dependency, []).append(package.key)
        return {key: sorted(set(value), key=key_order) for key, value in found.items()}


def _version_order(key: PackageKey) -> tuple[int, Version | str]:
    try:
        return (0, Version(key[1]))
    except InvalidVersion:
        return (1, key[1])


def key_order(key: PackageKey) -> tuple[str, tuple[int, Version | str]]:
    """Sort key of a :data:`PackageKey`: by name, then by version."""
    return (key[0], _version_order(key))


# -- targets -------------------------------------------------------------------------

_PYTHON_VERSION = re.compile(r"3\.\d+(\.\d+)?")


def target_variables(
    for_environment: str | None,
    *,
    python_version: str | None = None,
    python_platform: str | None = None,
) -> dict[str, str]:
    """The marker variables a target fixes, from ``--for-environment`` (``export``'s
    syntax: ``sys_platform == 'win32' and python_version == '3.12'``),
    ``--python-version`` (``3.12`` or ``3.12.4``) and ``--python-platform`` (``pip
    compile``'s names: ``linux``, ``macos``, ``windows`` or a target triple).

    :returns: variable → value; empty for the universal view (every target).
    :raises UsageError: for a marker that does not name an environment, an unknown
        platform, a version that is not ``3.X[.Y]``, or two values for one variable.
    """
    fixed: dict[str, str] = {}
    if python_version is not None:
        text = python_version.strip()
        if not _PYTHON_VERSION.fullmatch(text):
            raise UsageError(
                f"--python-version {python_version!r} is not a Python version.",
                hint="Give it as 3.X or 3.X.Y, for example --python-version 3.12.",
            )
        fixed["python_version"] = ".".join(text.split(".")[:2])
        if text.count(".") == 2:
            fixed["python_full_version"] = text
    if python_platform is not None:
        from shipyard.project.pip_targets import PYTHON_PLATFORMS
        from shipyard.specs.targets import PLATFORMS

        if python_platform not in PYTHON_PLATFORMS:
            raise UsageError(
                f"--python-platform {python_platform!r} is not a platform shipyard knows.",
                hint=f"Use one of: {', '.join(PYTHON_PLATFORMS)}.",
            )
        family, machine = PYTHON_PLATFORMS[python_platform]
        row = next(p for p in PLATFORMS if p[0] == family and p[1] == machine)
        fixed.update(
            sys_platform=row[2], platform_system=row[3], os_name=row[4], platform_machine=machine
        )
    if for_environment:
        from shipyard.project.exporting import parse_environment_marker

        for variable, value in parse_environment_marker(for_environment).items():
            if fixed.get(variable, value) != value:
                raise UsageError(
                    f"--for-environment sets {variable} to {value!r}, but another option "
                    f"sets it to {fixed[variable]!r}.",
                    hint="Name each variable once.",
                )
            fixed[variable] = value
    return fixed


class _MarkerFilter:
    """Evaluates lock and requirement markers for a selection and a partial target."""

    def __init__(
        self,
        lock: LockFile,
        *,
        groups: Collection[str],
        extras: Collection[str],
        fixed: Mapping[str, str],
    ) -> None:
        self.environment: dict[str, str | frozenset[str]] = {
            **fixed,
            "extras": frozenset(extras),
            "dependency_groups": frozenset(groups),
        }
        requires = lock.requires_python
        python = fixed.get("python_full_version") or fixed.get("python_version")
        if python:
            spec = f"=={python}" if "python_full_version" in fixed else f"=={python}.*"
            requires = f"{requires},{spec}" if requires else spec
        self.requires_python = SpecifierSet(requires) if requires else None

    def __call__(self, marker: str | None) -> tuple[bool, str | None]:
        """(whether the marker can hold for the target, what is left of it or ``None``)."""
        if not marker:
            return True, None
        from shipyard.specs.markers import (
            FALSE,
            parse_marker,
            render,
            simplify,
            substitute,
        )

        expression = substitute(parse_marker(marker), self.environment)
        expression = simplify(expression, requires_python=self.requires_python)
        if expression == FALSE:
            return False, None
        return True, render(expression)


# -- the graph -----------------------------------------------------------------------


def direct_requirements(
    project: Project,
    *,
    groups: Collection[str] | None = None,
    extras: Collection[str] | None = None,
) -> list[DirectRequirement]:
    """The project's requirements in manifest order: ``[project].dependencies``, then
    the extras, then the dependency groups (PEP 735, includes expanded). A requirement
    on the project itself (``dev = ["myproj[test]"]``) stands for the requirements of
    the extras it names, as pip and uv read it.

    :param groups: canonical group names to include (``None``: all).
    :param extras: canonical extra names to include (``None``: all).
    :returns: entries without ``marker`` or ``packages`` (see :func:`project_graph`).
    """
    found: list[DirectRequirement] = []

    def add(
        requirement: Requirement,
        group: str | None,
        extra: str | None,
        seen: frozenset[str] = frozenset(),
    ) -> None:
        if canonicalize_name(requirement.name) != project.canonical_name:
            found.append(DirectRequirement(requirement=requirement, group=group, extra=extra))
            return
        for own in sorted(canonicalize_name(e) for e in requirement.extras):
            if own in seen:
                continue
            for child in project.optional_dependencies.get(own, ()):
                add(child, group, extra, seen | {own})

    for requirement in project.dependencies:
        add(requirement, None, None)
    for extra, requirements in sorted(project.optional_dependencies.items()):
        if extras is None or extra in extras:
            for requirement in requirements:
                add(requirement, None, extra)
    for group, requirements in sorted(project.dependency_groups.items()):
        if groups is None or group in groups:
            for requirement in requirements:
                add(requirement, group, None)
    return found


def _source(package: Mapping[str, object]) -> str | None:
    """Where a package that is not from an index comes from, for its label."""
    directory = package.get("directory")
    if isinstance(directory, Mapping):
        return f"path: {directory.get('path', '.')}"
    vcs = package.get("vcs")
    if isinstance(vcs, Mapping):
        commit = str(vcs.get("commit-id") or "")[:10]
        return f"{vcs.get('type', 'vcs')}: {vcs.get('url', '')}" + (f"@{commit}" if commit else "")
    archive = package.get("archive")
    if isinstance(archive, Mapping):
        return f"url: {archive['url']}" if "url" in archive else f"path: {archive.get('path')}"
    return None


def project_graph(
    project: Project,
    services: Services,
    *,
    groups: Collection[str] | None,
    extras: Collection[str] | None,
    fixed: Mapping[str, str] | None = None,
) -> ProjectGraph:
    """Read ``pylock.toml`` as the graph of what the selection installs.

    :param groups: canonical dependency group names selected (``None``: every group
        of the lock).
    :param extras: canonical extra names selected (``None``: every extra).
    :param fixed: marker variables the target fixes (:func:`target_variables`).
    :raises LockError: when there is no lock or it is invalid. A stale lock is read
        as it is, after a warning through the reporter.
    """
    lock = read_lock(project.root / LOCK_FILENAME, services.cache)
    stale = not lock_is_fresh(project, services, lock)
    if stale:
        services.reporter.warning(
            f"{LOCK_FILENAME} is out of date with pyproject.toml; showing the lock as it "
            "is. Run `shipyard lock` to bring it up to date."
        )
    chosen_groups = lock.dependency_groups if groups is None else tuple(groups)
    chosen_extras = lock.extras if extras is None else tuple(extras)
    keep = _MarkerFilter(lock, groups=chosen_groups, extras=chosen_extras, fixed=fixed or {})
    tables: dict[PackageKey, Mapping[str, object]] = {}
    markers: dict[PackageKey, str | None] = {}
    for table in lock.packages:
        name: str = canonicalize_name(str(table.get("name", "")))
        directory = table.get("directory")
        if (
            name == project.canonical_name
            and isinstance(directory, Mapping)
            and str(directory.get("path", ".")) in (".", "./", "")
        ):
            continue  # the project itself: the root of the tree
        marker = table.get("marker")
        selected, remaining = keep(str(marker) if marker else None)
        if not selected:
            continue
        key: PackageKey = (name, str(table.get("version", "") or ""))
        tables[key] = table
        markers[key] = remaining
    by_name: dict[str, list[PackageKey]] = {}
    for key in tables:
        by_name.setdefault(key[0], []).append(key)
    packages: dict[PackageKey, GraphPackage] = {}
    for key, table in tables.items():
        dependencies: list[PackageKey] = []
        raw = table.get("dependencies")
        for entry in raw if isinstance(raw, list) else ():
            if not isinstance(entry, Mapping):
                continue
            candidates = by_name.get(canonicalize_name(str(entry.get("name", ""))), [])
            version = entry.get("version")
            if version is not None:
                candidates = [c for c in candidates if c[1] == str(version)]
            dependencies.extend(candidates)
        index = table.get("index")
        packages[key] = GraphPackage(
            name=key[0],
            version=key[1] or None,
            marker=markers[key],
            source=_source(table),
            index=str(index) if index else None,
            dependencies=tuple(sorted(set(dependencies), key=key_order)),
        )
    direct: list[DirectRequirement] = []
    for entry in direct_requirements(project, groups=chosen_groups, extras=chosen_extras):
        requirement = entry.requirement
        selected, remaining = keep(str(requirement.marker) if requirement.marker else None)
        if not selected:
            continue
        candidates = sorted(
            by_name.get(canonicalize_name(requirement.name), []), key=_version_order
        )
        fitting = [
            c
            for c in candidates
            if requirement.url is not None
            or not c[1]
            or requirement.specifier.contains(c[1], prereleases=True)
        ]
        direct.append(
            DirectRequirement(
                requirement=requirement,
                group=entry.group,
                extra=entry.extra,
                marker=remaining,
                packages=tuple(fitting or candidates),
            )
        )
    return ProjectGraph(
        project_name=project.name,
        project_version=project.version,
        packages=packages,
        direct=tuple(direct),
        stale=stale,
        locked_names=frozenset(canonicalize_name(name) for name in lock.package_names()),
    )
