"""Universal resolution: one lock that serves every target environment.

The resolution starts as one *fork* holding every target (Python minor ×
platform) and runs PubGrub (:mod:`shipyard.resolver.solver`) over it. A fork is
split in two and each part resolved on its own when

* a chosen version's Requires-Python leaves out some of the targets that need it
  (``requires-python`` fork strategy: Django 6 for Python ≥ 3.12 and 5.2 below;
  a ``<3.14`` cap: that version up to 3.13, another — or an error naming 3.14 —
  above), or
* the fork fails and the derivation of the failure rests on a requirement whose
  marker holds on only some of its targets (``numpy<2; sys_platform == 'darwin'``
  beside ``numpy>=2`` elsewhere): the narrowest such marker's targets are split off.

Forks resolved later prefer the versions earlier ones chose, so a package has one
version wherever the requirements allow and several only where they force it.

Each locked package gets a PEP 751 marker: within a fork, the union over the
paths that reach it of the markers along the path (starting from the project's
dependencies, ``'<extra>' in extras`` or ``'<group>' in dependency_groups``),
and-ed with the fork's own marker; over forks that chose the same version, the
union. Markers are simplified against ``requires-python`` and rendered
canonically, so the same inputs give the same lock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.errors import NoMatchingVersionError, PackageNotFoundError, ResolutionError
from shipyard.models import DistFile, ProjectVersion, TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.resolver.explain import describe_targets, explain_failure, own_requirements
from shipyard.resolver.provider import (
    ROOT,
    DependencyInfo,
    ForkSource,
    RefineTargets,
    Repository,
    ResolveOptions,
    RestartFork,
    RootRequirement,
    SplitFork,
    Universe,
    split_identifier,
)
from shipyard.resolver.solver import NoSolution, Solver
from shipyard.specs import markers as mk
from shipyard.specs.targets import refine_targets

__all__ = ["Resolution", "ResolvedPackage", "RootRequirement", "resolve", "targets_marker"]


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
    """The outcome of :func:`resolve`: packages sorted by name, then version.

    :param forks: how many forks the lock's targets ended up in.
    :param seconds: wall time of the resolution.
    :param uncovered: ``(package, version, target names)`` for locked versions that
        have no file (wheel or sdist) for some target that needs them.
    """

    packages: tuple[ResolvedPackage, ...]
    targets: tuple[TargetEnvironment, ...]
    forks: int
    seconds: float
    uncovered: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


@dataclass(slots=True)
class _Fork:
    mask: int
    source: ForkSource
    decisions: dict[str, int]
    need: dict[str, int]


def targets_marker(mask: int, targets: Sequence[TargetEnvironment]) -> mk.MarkerExpression:
    """A marker true on exactly the targets in ``mask`` (among ``targets``).

    Pythons are written as ranges over the targets' ``python_full_version`` values:
    ``python_version`` bounds where a range starts at a minor's first target,
    ``python_full_version`` where it starts inside a minor (``>= "3.9.2"``).
    """
    if mask == (1 << len(targets)) - 1:
        return mk.TRUE
    points = sorted({Version(t.markers["python_full_version"]) for t in targets})
    first_of_minor: dict[tuple[int, int], Version] = {}
    for point in points:
        first_of_minor.setdefault((point.major, point.minor), point)
    platforms: list[tuple[str, str]] = []
    for t in targets:
        key = (t.markers["sys_platform"], t.machine)
        if key not in platforms:
            platforms.append(key)
    by_condition: dict[str, list[tuple[str, str]]] = {}
    for platform in platforms:
        chosen = {
            Version(t.markers["python_full_version"])
            for i, t in enumerate(targets)
            if mask >> i & 1 and (t.markers["sys_platform"], t.machine) == platform
        }
        if not chosen:
            continue
        available = [
            point
            for point in points
            if any(
                Version(t.markers["python_full_version"]) == point
                and (t.markers["sys_platform"], t.machine) == platform
                for t in targets
            )
        ]
        condition = _python_condition(chosen, available, first_of_minor)
        by_condition.setdefault(condition, []).append(platform)
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
        if not parts:
            return mk.TRUE
        clauses.append(" and ".join(parts))
    if not clauses:
        return mk.FALSE
    return mk.parse_marker(" or ".join(f"({c})" for c in clauses))


def _python_condition(
    chosen: set[Version],
    available: Sequence[Version],
    first_of_minor: Mapping[tuple[int, int], Version],
) -> str:
    """Python conditions true on the ``chosen`` points among ``available`` (sorted)."""

    def bound(point: Version, operator: str) -> str:
        if first_of_minor[(point.major, point.minor)] == point:
            return f'python_version {operator} "{point.major}.{point.minor}"'
        return f'python_full_version {operator} "{point}"'

    if set(available) <= chosen:
        return ""
    runs: list[str] = []
    index = 0
    while index < len(available):
        if available[index] not in chosen:
            index += 1
            continue
        start = index
        while index < len(available) and available[index] in chosen:
            index += 1
        parts = []
        if start > 0:
            parts.append(bound(available[start], ">="))
        if index < len(available):
            parts.append(bound(available[index], "<"))
        runs.append(" and ".join(parts))
    if len(runs) == 1:
        return runs[0]
    return " or ".join(f"({run})" for run in runs)


def _failure_split(failure: NoSolution, fork_mask: int) -> int | None:
    """The targets to split off when the failure rests on a requirement that holds on
    only some of the fork's targets: the narrowest such requirement's."""
    masks: set[int] = set()
    for leaf in failure.incompatibility.leaves():
        info = leaf.info
        if isinstance(info, DependencyInfo):
            mask = info.mask & fork_mask
            if mask and mask != fork_mask:
                masks.add(mask)
    if not masks:
        return None
    return min(masks, key=lambda m: (m.bit_count(), m))


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

    :param project_name: the project's name, for explanations.
    :param targets: the lock's target environments.
    :param requires_python: the project's ``requires-python``, for markers and hints.
    :raises ResolutionError: when no set of versions satisfies the requirements on some
        target; the message explains the derivation and what to relax.
    :raises PackageNotFoundError: when a direct requirement names an unknown project.
    :raises NoMatchingVersionError: when no version matches a direct requirement.
    """
    started = time.perf_counter()
    if reporter is not None:
        reporter.resolve_started()
    targets = tuple(targets)
    for _refinement in range(16):
        universe = Universe(
            targets=targets,
            roots=roots,
            repository=repository,
            options=options,
            reporter=reporter,
        )
        try:
            done = _resolve_forks(universe, project_name)
            break
        except RefineTargets as refine:
            targets = refine_targets(targets, refine.boundaries)
    else:  # pragma: no cover - sixteen patch boundaries inside the lock's Pythons
        raise ResolutionError(
            "Requires-Python values split the lock's Pythons into too many ranges.",
            hint="Narrow requires-python in pyproject.toml.",
        )
    packages, uncovered = _assemble(done, universe, requires_python)
    targets = universe.targets
    seconds = time.perf_counter() - started
    if reporter is not None:
        position = {t.name: i for i, t in enumerate(targets)}
        for name, version, missing in uncovered:
            mask = sum(1 << position[target] for target in missing)
            reporter.warning(
                f"{name} {version} has no wheel and no sdist for "
                f"{describe_targets(mask, universe)}: installing it there will fail. Narrow "
                "requires-python or [tool.shipyard] environments, or require a version "
                "that publishes files for them."
            )
        reporter.resolve_finished(len(packages), seconds)
    return Resolution(
        packages=packages,
        targets=targets,
        forks=len(done),
        seconds=seconds,
        uncovered=uncovered,
    )


def _resolve_forks(universe: Universe, project_name: str) -> list[_Fork]:
    """Resolve every fork of ``universe``'s targets; the forks that succeeded.

    :raises ResolutionError, PackageNotFoundError, NoMatchingVersionError: when some
        fork fails (explained from the simplest failure).
    :raises RefineTargets: when the targets must be split at a patch release first.
    """
    pending: list[int] = [universe.all_mask]
    done: list[_Fork] = []
    failures: list[tuple[int, NoSolution]] = []
    preferred: dict[str, list[Version]] = {}
    boosted: dict[str, int] = {}
    attempts = 0
    limit = 4 * len(universe.targets) + 16
    while pending:
        fork_mask = pending.pop(0)
        attempts += 1
        if attempts > limit:
            raise ResolutionError(
                "The resolution kept splitting its target environments and was stopped.",
                hint="Please report this with your pyproject.toml; narrowing requires-python "
                "or [tool.shipyard] environments may work around it.",
            )
        source = ForkSource(universe, fork_mask, preferred)
        solver = Solver(source, boosted=boosted)
        try:
            try:
                decisions = solver.solve()
            finally:
                # Forks share most packages: what one learned about decision order
                # helps the next from its start.
                boosted = solver.boosted
        except SplitFork as fork_split:
            pending[:0] = _halves(fork_split.admitted, fork_mask)
            continue
        except RestartFork:
            pending.insert(0, fork_mask)
            continue
        except NoSolution as failure:
            part = _failure_split(failure, fork_mask)
            if part is None:
                # Go on with the other forks: whether the failure holds everywhere or
                # on some targets only decides how it is explained.
                failures.append((fork_mask, failure))
            else:
                pending[:0] = [part, fork_mask & ~part]
            continue
        need = source.exact_need(decisions)
        order = [a.package for a in solver.trail if a.cause is None]
        short = source.uncovered(decisions, need, order)
        if short is not None:
            pending[:0] = _halves(short.admitted, fork_mask)
            continue
        done.append(_Fork(fork_mask, source, decisions, need))
        for package, position in decisions.items():
            if package == ROOT or "[" in package:
                continue
            chosen = universe.table(package).versions[position].version
            known = preferred.setdefault(package, [])
            if chosen not in known:
                known.append(chosen)
    if failures:
        raise _explain_failures(failures, universe, project_name, everywhere=not done)
    return done


def _explain_failures(
    failures: Sequence[tuple[int, NoSolution]],
    universe: Universe,
    project_name: str,
    *,
    everywhere: bool,
) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError:
    """The error for forks that failed: each distinct derivation told once, for the
    targets it holds on, in target order (a project can fail for one reason on older
    Pythons and another on newer ones; fixing one alone would not be enough).

    :param failures: ``(fork targets bitmask, failure)`` per failed fork.
    :param everywhere: no fork succeeded.
    """

    def explain(
        failure: NoSolution, mask: int, *, everywhere: bool
    ) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError:
        return explain_failure(
            failure.incompatibility,
            universe=universe,
            fork_mask=mask,
            failed_mask=mask,
            everywhere=everywhere,
            project_name=project_name,
        )

    groups: dict[str, tuple[int, NoSolution]] = {}
    for mask, failure in failures:
        bare = explain(failure, mask, everywhere=True)
        key = f"{type(bare).__name__}:{bare.message}"
        known_mask, known = groups.get(key, (0, failure))
        groups[key] = (known_mask | mask, known)
    if len(groups) == 1:
        ((mask, failure),) = groups.values()
        return explain(failure, mask, everywhere=everywhere)
    ordered = sorted(groups.values(), key=lambda item: _lowest_bit(item[0]))
    explained = [explain(failure, mask, everywhere=False) for mask, failure in ordered]
    for error in explained:
        if not isinstance(error, ResolutionError):
            return error
    texts = []
    for (mask, _failure), error in zip(ordered, explained, strict=True):
        text = error.message
        where = describe_targets(mask, universe)
        if not text.startswith("On ") and where not in text:
            text = f"On {where}: {text[:1].lower()}{text[1:]}"
        texts.append(text)
    if everywhere:
        # Each reason holds on part of the lock's targets and the parts cover it:
        # narrowing the Pythons or platforms cannot help, relaxing a requirement can.
        named = own_requirements(
            [failure.incompatibility for _mask, failure in ordered], universe, project_name
        )
        hint = (
            f"Relax one of your requirements: {', '.join(named)}."
            if named
            else "Relax one of the requirements above."
        )
    else:
        hint = " ".join(dict.fromkeys(error.hint for error in explained if error.hint))
    return ResolutionError("\n".join(texts), hint=hint or None)


def _lowest_bit(mask: int) -> int:
    return (mask & -mask).bit_length()


def _halves(admitted: int, fork_mask: int) -> list[int]:
    """The two forks of a Requires-Python split: the targets the version serves first
    (the newer Pythons), then the rest."""
    high = admitted & fork_mask
    low = fork_mask & ~high
    if not high or not low:
        raise AssertionError("a fork split must leave targets on both sides")
    return [high, low]


def _edge_marker(marker: str | None, extra: str | None) -> mk.MarkerExpression:
    if marker is None:
        return mk.TRUE
    return mk.substitute_extra(mk.parse_marker(marker), extra or "")


def _fork_markers(
    fork: _Fork, roots: Sequence[RootRequirement], requires_python: SpecifierSet | None
) -> dict[str, tuple[mk.MarkerExpression, set[str]]]:
    """Within one fork: per package name, the marker of the paths that reach it and the
    names of the packages it depends on."""
    decisions = fork.decisions
    edges = fork.source.edges
    incoming: dict[str, list[tuple[str | None, mk.MarkerExpression]]] = {}
    children: dict[str, set[str]] = {}
    for root in roots:
        req = root.requirement
        base = mk.parse_marker(str(req.marker)) if req.marker is not None else mk.TRUE
        if root.selector is not None:
            base = mk.marker_and(mk.parse_marker(root.selector), base)
        base_name: str = canonicalize_name(req.name)
        for extra in [None, *sorted({canonicalize_name(e) for e in req.extras})]:
            identifier = f"{base_name}[{extra}]" if extra else base_name
            if identifier in decisions:
                incoming.setdefault(identifier, []).append((None, base))
    for identifier, position in decisions.items():
        if identifier == ROOT:
            continue
        parent_name = split_identifier(identifier)[0]
        for edge in edges.get((identifier, position), ()):
            if edge.child not in decisions:
                continue
            incoming.setdefault(edge.child, []).append(
                (identifier, _edge_marker(edge.marker, edge.extra))
            )
            child_name = split_identifier(edge.child)[0]
            if child_name != parent_name:
                children.setdefault(parent_name, set()).add(child_name)
    markers: dict[str, mk.MarkerExpression] = {}
    for _round in range(64):
        changed = False
        for identifier in decisions:
            if identifier == ROOT:
                continue
            parts = []
            for source, edge_marker in incoming.get(identifier, []):
                parent_marker = mk.TRUE if source is None else markers.get(source, mk.FALSE)
                parts.append(mk.marker_and(parent_marker, edge_marker))
            new = mk.simplify(mk.marker_or(*parts), requires_python=requires_python)
            if markers.get(identifier) != new:
                markers[identifier] = new
                changed = True
        if not changed:
            break
    by_name: dict[str, tuple[mk.MarkerExpression, set[str]]] = {}
    for identifier in decisions:
        if identifier == ROOT:
            continue
        name = split_identifier(identifier)[0]
        marker, deps = by_name.get(name, (mk.FALSE, set()))
        by_name[name] = (
            mk.marker_or(marker, markers.get(identifier, mk.FALSE)),
            deps | children.get(name, set()),
        )
    return by_name


@dataclass(slots=True)
class _Merged:
    position: int
    by_marker: dict[mk.MarkerExpression, int]
    deps: set[str]
    mask: int


def _assemble(
    forks: Sequence[_Fork], universe: Universe, requires_python: SpecifierSet | None
) -> tuple[tuple[ResolvedPackage, ...], tuple[tuple[str, str, tuple[str, ...]], ...]]:
    targets = universe.targets
    merged: dict[tuple[str, Version], _Merged] = {}
    for fork in forks:
        for name, (marker, deps) in _fork_markers(fork, universe.roots, requires_python).items():
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
