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

:func:`resolve` drives it: the forks are resolved in :mod:`~shipyard.resolver.forks`,
markers computed in :mod:`~shipyard.resolver.lock_markers`, and the lock's packages
assembled in :mod:`~shipyard.resolver.lock_assembly`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet

from shipyard.errors import ResolutionError
from shipyard.models import TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.resolver.explain_words import describe_targets
from shipyard.resolver.fork_signals import RefineTargets
from shipyard.resolver.forks import resolve_forks
from shipyard.resolver.inputs import Repository, ResolveOptions, RootRequirement
from shipyard.resolver.lock_assembly import ResolvedPackage, assemble, missing_extras
from shipyard.resolver.lock_markers import targets_marker
from shipyard.resolver.universe import Universe
from shipyard.specs.targets import refine_targets

__all__ = ["Resolution", "ResolvedPackage", "RootRequirement", "resolve", "targets_marker"]


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
            done = resolve_forks(universe, project_name)
            break
        except RefineTargets as refine:
            targets = refine_targets(targets, refine.boundaries)
    else:  # pragma: no cover - sixteen patch boundaries inside the lock's Pythons
        raise ResolutionError(
            "Requires-Python values split the lock's Pythons into too many ranges.",
            hint="Narrow requires-python in pyproject.toml.",
        )
    packages, uncovered = assemble(done, universe, requires_python)
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
        for name, chosen, extra, declared in missing_extras(done, universe):
            reporter.warning(
                f"{name} {chosen} has no extra {extra!r} (it has: {', '.join(declared) or 'none'})."
            )
        reporter.resolve_finished(len(packages), seconds)
    return Resolution(
        packages=packages,
        targets=targets,
        forks=len(done),
        seconds=seconds,
        uncovered=uncovered,
    )
