"""The PEP 751 markers of a lock: the marker true on a set of targets
(:func:`targets_marker`), and within one fork the marker of the paths that reach
each package (:func:`fork_markers`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.models import TargetEnvironment
from shipyard.resolver.forks import ResolvedFork
from shipyard.resolver.inputs import RootRequirement
from shipyard.resolver.solver import ROOT
from shipyard.resolver.terms import split_identifier
from shipyard.specs import markers as mk

__all__ = ["fork_markers", "targets_marker"]


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


def _edge_marker(marker: str | None, extra: str | None) -> mk.MarkerExpression:
    if marker is None:
        return mk.TRUE
    return mk.substitute_extra(mk.parse_marker(marker), extra or "")


def fork_markers(
    fork: ResolvedFork, roots: Sequence[RootRequirement], requires_python: SpecifierSet | None
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
