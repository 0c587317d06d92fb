"""Universal resolution: one set of pins that serves every target environment.

The resolution starts as one *fork* covering all targets. When resolvelib finds
no solution and the conflicting requirements apply to different targets (say
``numpy<2; sys_platform == 'darwin'`` next to ``numpy>=2`` elsewhere), the fork
is split along the narrowest requirement's targets and each part is resolved
on its own, preferring the versions already chosen by the other parts — so a
package has one version wherever the requirements allow and several only where
markers force them.

Each locked package gets a marker (PEP 751 ``packages.marker``): the union,
over the paths that reach it, of the markers along the path, starting from the
project's dependencies, ``'<extra>' in extras`` or ``'<group>' in
dependency_groups``; with forks, each fork's marker is and-ed in. Markers are
simplified against ``requires-python`` and rendered canonically, so the same
inputs give the same lock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from shipyard.errors import ResolutionError
from shipyard.index.repository import ProjectVersion
from shipyard.models import DistFile, TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.resolver.explain import explain_conflict
from shipyard.resolver.provider import (
    PYTHON,
    Candidate,
    Provider,
    Repository,
    Requirement_,
    ResolveOptions,
    requirements_for,
)
from shipyard.specs import markers as mk

__all__ = ["Resolution", "ResolvedPackage", "RootRequirement", "resolve"]

_MAX_FORKS = 32
#: rejections of one project's candidates before it is decided earlier (a restart)
_CONFLICT_THRESHOLD = 48
_MAX_RESTARTS = 12


class _Restart(Exception):
    """Raised inside resolvelib to start over with ``name`` decided earlier."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _ConflictWatch(BaseReporter):  # type: ignore[type-arg]
    """Counts rejected candidates per project; when one project keeps being rejected
    (its versions conflict with what was pinned before it), asks for a restart with
    that project decided first — uv's conflict-driven prioritisation, for
    resolvelib, which cannot reorder decisions it has already made."""

    def __init__(self, provider: Provider, restarts_left: int) -> None:
        self.provider = provider
        self.restarts_left = restarts_left
        self.counts: dict[str, int] = {}

    def rejecting_candidate(self, criterion: object, candidate: Candidate) -> None:
        name = candidate.name
        count = self.counts.get(name, 0) + 1
        self.counts[name] = count
        if (
            count >= _CONFLICT_THRESHOLD
            and self.restarts_left > 0
            and name not in self.provider.prioritized
        ):
            raise _Restart(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class RootRequirement:
    """A requirement the project declares.

    :param requirement: the PEP 508 requirement.
    :param selector: the lock-file marker that selects it: ``None`` for
        ``[project].dependencies``, ``"'plots' in extras"`` for an extra,
        ``"'dev' in dependency_groups"`` for a group.
    :param origin: who declares it, for messages (``"ml-service"``,
        ``"ml-service[plots]"``, ``"dependency group 'dev'"``).
    """

    requirement: Requirement
    selector: str | None
    origin: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPackage:
    """One package of the lock.

    :param marker: the PEP 751 marker (``None``: always installed).
    :param files: the wheels that serve at least one target, then the sdist if any.
    :param dependencies: canonical names of the locked packages it depends on.
    :param mask: the targets that install it.
    """

    name: str
    version: Version
    project_version: ProjectVersion
    files: tuple[DistFile, ...]
    marker: str | None
    requires_python: str | None
    dependencies: tuple[str, ...]
    mask: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """The outcome of :func:`resolve`: packages sorted by name, then version."""

    packages: tuple[ResolvedPackage, ...]
    targets: tuple[TargetEnvironment, ...]
    forks: int
    seconds: float


def _targets_marker(mask: int, targets: Sequence[TargetEnvironment]) -> mk.MarkerExpression:
    """A marker true on exactly the targets in ``mask`` (among ``targets``)."""
    minors = sorted({t.python for t in targets})
    platforms: list[tuple[str, str]] = []
    for t in targets:
        key = (t.markers["sys_platform"], t.machine)
        if key not in platforms:
            platforms.append(key)
    by_condition: dict[str, list[tuple[str, str]]] = {}
    for platform in platforms:
        chosen = [
            t.python
            for i, t in enumerate(targets)
            if mask >> i & 1 and (t.markers["sys_platform"], t.machine) == platform
        ]
        if not chosen:
            continue
        available = [
            m
            for m in minors
            if any(
                t.python == m and (t.markers["sys_platform"], t.machine) == platform
                for t in targets
            )
        ]
        by_condition.setdefault(_python_condition(chosen, available), []).append(platform)
    clauses: list[str] = []
    all_systems = sorted({p[0] for p in platforms})
    for condition, group in by_condition.items():
        systems: list[str] = []
        for system in all_systems:
            machines = [p for p in platforms if p[0] == system]
            if all(p in group for p in machines):
                systems.append(f'sys_platform == "{system}"')
            else:
                systems.extend(
                    f'(sys_platform == "{s}" and platform_machine == "{m}")'
                    for s, m in machines
                    if (s, m) in group
                )
        platform_text = "" if len(group) == len(platforms) else " or ".join(systems)
        parts = [f"({p})" for p in (condition, platform_text) if p]
        clauses.append(" and ".join(parts) if parts else 'python_version >= "0"')
    if not clauses:
        return mk.FALSE
    return mk.parse_marker(" or ".join(f"({c})" for c in clauses))


def _python_condition(chosen: list[tuple[int, int]], available: list[tuple[int, int]]) -> str:
    if chosen == available:
        return ""
    start = available.index(chosen[0])
    if available[start : start + len(chosen)] == chosen:
        parts = []
        if start > 0:
            parts.append(f'python_version >= "{chosen[0][0]}.{chosen[0][1]}"')
        end = start + len(chosen)
        if end < len(available):
            nxt = available[end]
            parts.append(f'python_version < "{nxt[0]}.{nxt[1]}"')
        return " and ".join(parts)
    return " or ".join(f'python_version == "{a}.{b}"' for a, b in chosen)


def _split_fork(causes: Sequence[object], fork_mask: int) -> int | None:
    """The targets to split off when the conflict's requirements apply to different
    targets; ``None`` when the conflict holds on a common target (a real conflict)."""
    masks: set[int] = {int(getattr(c, "requirement").mask) & fork_mask for c in causes}  # noqa: B009
    masks.discard(0)
    if len(masks) < 2:
        return None
    narrowest = min(masks, key=lambda m: (bin(m).count("1"), m))
    if narrowest == fork_mask:
        return None
    # Split off the narrowest requirement's targets; the rest form the other fork.
    return narrowest


@dataclass(slots=True)
class _ForkResult:
    mask: int
    marker: mk.MarkerExpression
    provider: Provider
    mapping: dict[str, Candidate]


def resolve(
    roots: Sequence[RootRequirement],
    *,
    project_name: str,
    targets: Sequence[TargetEnvironment],
    repository: Repository,
    options: ResolveOptions,
    requires_python: SpecifierSet | None,
    reporter: ResolveReporter | None = None,
) -> Resolution:
    """Resolve ``roots`` for every target environment at once.

    :param project_name: the project's name, for conflict explanations.
    :param targets: the lock's target environments.
    :raises ResolutionError: when no set of versions satisfies the requirements on some
        target; the message explains the chain of requirements and what to relax.
    :raises PackageNotFoundError: when a direct requirement names an unknown project.
    """
    started = time.perf_counter()
    if reporter is not None:
        reporter.resolve_started()
    targets = tuple(targets)
    all_mask = (1 << len(targets)) - 1
    root_names = frozenset(canonicalize_name(r.requirement.name) for r in roots)
    for name in root_names:
        repository.prefetch(name)
    pending: list[tuple[int, mk.MarkerExpression]] = [(all_mask, mk.TRUE)]
    done: list[_ForkResult] = []
    preferences = dict(options.preferences)
    while pending:
        fork_mask, fork_marker = pending.pop(0)
        provider = Provider(
            targets=targets,
            fork_mask=fork_mask,
            root_names=root_names,
            repository=repository,
            options=replace(options, preferences=preferences),
            reporter=reporter,
        )
        root_reqs = _root_requirements(roots, provider)
        provider.set_root_requirements(root_reqs)
        try:
            result = _resolve_with_restarts(provider, root_reqs)
        except ResolutionImpossible as exc:
            split = _split_fork(list(exc.causes), fork_mask)
            if split is None or len(done) + len(pending) >= _MAX_FORKS:
                raise explain_conflict(
                    list(exc.causes),
                    provider=provider,
                    project_name=project_name,
                    requires_python=requires_python,
                ) from None
            split_marker = _targets_marker(split, targets)
            pending[:0] = [
                (split, mk.marker_and(fork_marker, split_marker)),
                (fork_mask & ~split, mk.marker_and(fork_marker, mk.marker_not(split_marker))),
            ]
            continue
        except ResolutionTooDeep as exc:
            raise ResolutionError(
                "The resolution took too many steps and was stopped.",
                hint="Narrow the version ranges of the largest dependencies "
                "(for example boto3/botocore) so fewer combinations need trying.",
            ) from exc
        mapping = dict(result.mapping)
        done.append(_ForkResult(fork_mask, fork_marker, provider, mapping))
        for candidate in mapping.values():
            if candidate.name != PYTHON and candidate.extra is None:
                preferences.setdefault(candidate.name, candidate.version)
    packages = _assemble(done, roots, targets, requires_python)
    seconds = time.perf_counter() - started
    if reporter is not None:
        reporter.resolve_finished(len(packages), seconds)
    return Resolution(packages=packages, targets=targets, forks=len(done), seconds=seconds)


def _resolve_with_restarts(provider: Provider, root_reqs: list[Requirement_]) -> Any:
    """Run resolvelib, restarting with a conflicting project decided earlier whenever
    :class:`_ConflictWatch` asks (at most ``_MAX_RESTARTS`` times)."""
    restarts = _MAX_RESTARTS
    while True:
        watch = _ConflictWatch(provider, restarts)
        resolver: Resolver[Requirement_, Candidate, str] = Resolver(provider, watch)
        try:
            return resolver.resolve(root_reqs, max_rounds=20000)
        except _Restart as restart:
            # Decide the projects that require it first: their versions are what
            # constrains it (google-api-core[grpc] → grpcio-status on sentry-base).
            for name in provider.narrowing_requirers(restart.name):
                provider.prioritize(name)
            provider.prioritize(restart.name)
            restarts -= 1


def _root_requirements(roots: Sequence[RootRequirement], provider: Provider) -> list[Requirement_]:
    reqs: list[Requirement_] = []
    for root in roots:
        marker = str(root.requirement.marker) if root.requirement.marker is not None else None
        mask = provider.marker_mask(marker)
        if not mask:
            continue
        reqs.extend(
            requirements_for(
                root.requirement,
                mask=mask,
                parent=None,
                text=str(root.requirement),
                origin=root.origin,
            )
        )
    return reqs


def _edge_marker(marker: str | None, extra: str | None) -> mk.MarkerExpression:
    if marker is None:
        return mk.TRUE
    return mk.substitute_extra(mk.parse_marker(marker), extra or "")


def _propagate(
    fork: _ForkResult, roots: Sequence[RootRequirement], requires_python: SpecifierSet | None
) -> dict[str, tuple[mk.MarkerExpression, list[str]]]:
    """Markers and dependency names per base package name within one fork."""
    provider = fork.provider
    mapping = fork.mapping
    incoming: dict[str, list[tuple[str | None, mk.MarkerExpression]]] = {}
    children: dict[str, set[str]] = {}
    for root in roots:
        req = root.requirement
        base = mk.parse_marker(str(req.marker)) if req.marker is not None else mk.TRUE
        if root.selector is not None:
            base = mk.marker_and(mk.parse_marker(root.selector), base)
        for item in requirements_for(req, mask=0, parent=None, text=""):
            if item.identifier in mapping:
                incoming.setdefault(item.identifier, []).append((None, base))
    for identifier, candidate in mapping.items():
        if candidate.name == PYTHON:
            continue
        for dep in provider._deps_cache.get(candidate, []):
            if dep.name == PYTHON or dep.identifier not in mapping:
                continue
            edge = _edge_marker(dep.marker, candidate.extra)
            incoming.setdefault(dep.identifier, []).append((identifier, edge))
            if dep.name != candidate.name:
                children.setdefault(candidate.name, set()).add(dep.name)
    markers: dict[str, mk.MarkerExpression] = {}
    for _round in range(64):
        changed = False
        for identifier in mapping:
            if identifier == PYTHON:
                continue
            parts = []
            for source, edge in incoming.get(identifier, []):
                parent_marker = mk.TRUE if source is None else markers.get(source, mk.FALSE)
                parts.append(mk.marker_and(parent_marker, edge))
            new = mk.simplify(mk.marker_or(*parts), requires_python=requires_python)
            if markers.get(identifier) != new:
                markers[identifier] = new
                changed = True
        if not changed:
            break
    by_name: dict[str, tuple[mk.MarkerExpression, list[str]]] = {}
    for identifier, candidate in mapping.items():
        if candidate.name == PYTHON:
            continue
        marker, _deps = by_name.get(candidate.name, (mk.FALSE, []))
        by_name[candidate.name] = (
            mk.marker_or(marker, markers.get(identifier, mk.FALSE)),
            sorted(children.get(candidate.name, ())),
        )
    return by_name


@dataclass(slots=True)
class _Merged:
    candidate: Candidate
    fork: _ForkResult
    markers: list[mk.MarkerExpression]
    deps: set[str]
    mask: int


def _assemble(
    forks: Sequence[_ForkResult],
    roots: Sequence[RootRequirement],
    targets: Sequence[TargetEnvironment],
    requires_python: SpecifierSet | None,
) -> tuple[ResolvedPackage, ...]:
    merged: dict[tuple[str, Version], _Merged] = {}
    for fork in forks:
        for name, (marker, deps) in _propagate(fork, roots, requires_python).items():
            candidate = fork.mapping[name]
            key = (name, candidate.version)
            entry = merged.setdefault(key, _Merged(candidate, fork, [], set(), 0))
            entry.markers.append(mk.marker_and(fork.marker, marker))
            entry.deps.update(deps)
            entry.mask |= candidate.mask
    packages: list[ResolvedPackage] = []
    provided = {
        name
        for (name, _version), entry in merged.items()
        if entry.candidate.project_version is None
    }
    for (name, version), entry in sorted(merged.items()):
        candidate = entry.candidate
        if candidate.project_version is None:
            continue  # provided by the environment (ResolveOptions.provided)
        marker = mk.simplify(mk.marker_or(*entry.markers), requires_python=requires_python)
        provider = entry.fork.provider
        files = _lock_files(provider, name, candidate.project_version, entry.mask)
        metadata = provider.repository.metadata(candidate.project_version)
        packages.append(
            ResolvedPackage(
                name=name,
                version=version,
                project_version=candidate.project_version,
                files=files,
                marker=mk.render(marker),
                requires_python=metadata.requires_python,
                dependencies=tuple(sorted(entry.deps - provided)),
                mask=entry.mask,
            )
        )
    return tuple(packages)


def _lock_files(
    provider: Provider, name: str, pv: ProjectVersion, mask: int
) -> tuple[DistFile, ...]:
    if not pv.index:
        return pv.files  # a direct reference: exactly the URL the project named
    usable = provider.usable_files(name, pv, mask)
    wheels = sorted((f for f in usable if f.is_wheel), key=lambda f: f.filename)
    sdists = [f for f in usable if not f.is_wheel]
    sdists.sort(key=lambda f: not f.filename.endswith(".tar.gz"))
    return tuple(wheels + sdists[:1])
