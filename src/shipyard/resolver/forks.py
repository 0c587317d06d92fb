"""Resolving the forks of one resolution: each fork of targets is solved on its own,
split where a chosen version's Requires-Python or a failure's marker calls for it,
and started over when metadata corrects a version's Requires-Python; the failures of
several forks are explained together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import Version

from shipyard.errors import NoMatchingVersionError, PackageNotFoundError, ResolutionError
from shipyard.resolver.explain import explain_failure, own_requirements
from shipyard.resolver.explain_words import describe_targets
from shipyard.resolver.fork_signals import RestartFork, SplitFork
from shipyard.resolver.fork_source import ForkSource
from shipyard.resolver.solver import ROOT, NoSolution, Solver
from shipyard.resolver.terms import DependencyInfo
from shipyard.resolver.universe import Universe

__all__ = ["ResolvedFork", "resolve_forks"]


@dataclass(slots=True)
class ResolvedFork:
    """A fork that resolved: its targets, its source (for the dependency edges), the
    position chosen per identifier, and the targets that need each identifier."""

    mask: int
    source: ForkSource
    decisions: dict[str, int]
    need: dict[str, int]


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


def resolve_forks(universe: Universe, project_name: str) -> list[ResolvedFork]:
    """Resolve every fork of ``universe``'s targets; the forks that succeeded.

    :raises ResolutionError, PackageNotFoundError, NoMatchingVersionError: when some
        fork fails (explained from the simplest failure).
    :raises RefineTargets: when the targets must be split at a patch release first.
    """
    pending: list[int] = [universe.all_mask]
    done: list[ResolvedFork] = []
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
        done.append(ResolvedFork(fork_mask, source, decisions, need))
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
