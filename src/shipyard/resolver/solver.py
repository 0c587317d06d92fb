"""PubGrub: conflict-driven version solving over bitsets of versions.

The algorithm is Natalie Weizenbaum's PubGrub (Dart's pub, ``doc/solver.md``), as
pubgrub-rs and uv implement it: unit propagation over *incompatibilities* (sets
of terms that must not all hold), decisions one package at a time, and on a
conflict, resolution that derives a new incompatibility — the thing learned —
and jumps back to the decision level where it first applies. A failure is the
derived incompatibility ``{root}``; its causes form the derivation tree that
:mod:`shipyard.resolver.explain` turns into sentences.

What is particular here: every package's versions are a finite, known list (an
index page), so a set of versions is an ``int`` bitset over that list (bit ``i``
for ``versions[i]``) and every set operation is one integer operation. A *term*
is ``(positive, bits)``: positive — the package is selected at a version in
``bits``; negative — it is not selected, or at a version outside ``bits``.

The solver knows nothing of Python packaging. A :class:`Source` gives each
package's universe of versions, chooses a version within a set, and turns a
chosen version's dependencies into incompatibilities. Exceptions a source
raises (a fork to split, an index that cannot be reached) pass through.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ROOT",
    "Assignment",
    "Incompatibility",
    "NoSolution",
    "Solver",
    "Source",
    "Term",
]

#: the virtual package whose one version (bit 0) depends on the project's requirements
ROOT = "<root>"

Term = tuple[bool, int]
#: the term every outcome satisfies: "not selected, or at a version outside the empty set"
ANY: Term = (False, 0)


def intersect(a: Term, b: Term) -> Term:
    """The term both ``a`` and ``b`` allow."""
    if a[0]:
        return (True, a[1] & b[1]) if b[0] else (True, a[1] & ~b[1])
    if b[0]:
        return True, b[1] & ~a[1]
    return False, a[1] | b[1]


def union(a: Term, b: Term) -> Term:
    """The term either allows (De Morgan over :func:`intersect`)."""
    positive, bits = intersect((not a[0], a[1]), (not b[0], b[1]))
    return not positive, bits


def subset(a: Term, b: Term) -> bool:
    """Whether every outcome ``a`` allows, ``b`` allows."""
    if a[0]:
        return a[1] & ~b[1] == 0 if b[0] else a[1] & b[1] == 0
    return False if b[0] else b[1] & ~a[1] == 0


def disjoint(a: Term, b: Term) -> bool:
    """Whether no outcome is allowed by both."""
    if a[0]:
        return a[1] & b[1] == 0 if b[0] else a[1] & ~b[1] == 0
    return b[1] & ~a[1] == 0 if b[0] else False


class Incompatibility:
    """Terms that must not all hold together.

    :param terms: ``(package, positive, bits)`` triples, one per package.
    :param kind: ``"root"`` (the root must be selected), ``"dependency"`` (``terms`` are
        the parent's versions and the negated dependency), ``"unavailable"`` (no
        version in the set can be used), ``"derived"`` (learned from two causes).
    :param causes: for ``derived``, the two incompatibilities it was learned from.
    :param info: for external kinds, what the source attached (for explanations).
    """

    __slots__ = ("causes", "info", "kind", "terms")

    def __init__(
        self,
        terms: tuple[tuple[str, bool, int], ...],
        kind: str,
        causes: tuple[Incompatibility, Incompatibility] | None = None,
        info: Any = None,
    ) -> None:
        self.terms = terms
        self.kind = kind
        self.causes = causes
        self.info = info

    def term(self, package: str) -> Term | None:
        """This incompatibility's term for ``package``, if it names it."""
        for name, positive, bits in self.terms:
            if name == package:
                return positive, bits
        return None

    def is_failure(self) -> bool:
        """No terms, or only "the root is selected": the whole problem is unsolvable."""
        terms = self.terms
        return not terms or (len(terms) == 1 and terms[0][0] == ROOT and terms[0][1])

    def leaves(self) -> Iterator[Incompatibility]:
        """The external incompatibilities this one was derived from (each once)."""
        seen: set[int] = set()
        stack: list[Incompatibility] = [self]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if current.causes is None:
                yield current
            else:
                stack.extend(current.causes)

    def __repr__(self) -> str:
        inner = ", ".join(f"{'' if p else 'not '}{n}:{b:b}" for n, p, b in self.terms)
        return f"<Incompatibility {self.kind} {{{inner}}}>"


class NoSolution(Exception):
    """The root cannot be selected; ``incompatibility`` is the derived failure whose
    causes explain why."""

    def __init__(self, incompatibility: Incompatibility) -> None:
        super().__init__("no solution")
        self.incompatibility = incompatibility


@dataclass(slots=True)
class Assignment:
    """One entry of the partial solution.

    :param term: what this assignment says of ``package``; ``accumulated``: the
        intersection of every assignment of ``package`` up to and including it.
    :param cause: the incompatibility it was derived from; ``None`` for a decision.
    """

    package: str
    term: Term
    accumulated: Term
    level: int
    index: int
    cause: Incompatibility | None


class Source(Protocol):
    """What the solver asks of the world (see :class:`~shipyard.resolver.provider.ForkSource`)."""

    def choose(self, package: str, allowed: int, solver: Solver) -> int | Incompatibility:
        """The position to decide for ``package`` within ``allowed`` (a non-empty bitset),
        or an ``unavailable`` incompatibility covering versions of ``allowed`` that can
        never be used (so the solver moves on)."""
        ...

    def dependencies(self, package: str, position: int) -> Sequence[Incompatibility]:
        """The ``dependency`` incompatibilities of one version (parent term first)."""
        ...

    def priority(self, package: str) -> tuple[int, ...]:
        """Decision order: the package with the smallest key is decided next."""
        ...


@dataclass(slots=True)
class SolverStats:
    """Counts for profiling and reports."""

    decisions: int = 0
    conflicts: int = 0
    backjumps: int = 0
    propagations: int = 0


class Solver:
    """One PubGrub run over a :class:`Source`.

    :param conflict_threshold: after this many conflicts a package is decided before
        the others (uv's conflict-driven prioritisation).
    """

    def __init__(
        self,
        source: Source,
        *,
        conflict_threshold: int = 5,
        boosted: Mapping[str, int] | None = None,
    ) -> None:
        """:param boosted: packages to decide before the others, smallest rank first
        (what an earlier run over the same packages learned)."""
        self.source = source
        self.conflict_threshold = conflict_threshold
        self.stats = SolverStats()
        self.by_package: dict[str, list[Incompatibility]] = {}
        self.trail: list[Assignment] = []
        self.history: dict[str, list[Assignment]] = {}
        self.decisions: dict[str, int] = {}
        self.level = 0
        #: packages with a positive term and no decision yet (the decision candidates)
        self.undecided: set[str] = set()
        self.conflicts: dict[str, int] = {}
        #: versions of a package ruled out at decision time by an earlier decision
        self.rejections: dict[str, int] = {}
        self._reordered: set[tuple[str, str]] = set()
        #: packages decided before the others, smallest rank first: moved ahead after
        #: conflicts (uv's conflict-driven prioritisation), here or in an earlier run
        self.boosted: dict[str, int] = dict(boosted or {})
        self._merge_index: dict[Hashable, Incompatibility] = {}

    # -- the partial solution -------------------------------------------------------

    def term_of(self, package: str) -> Term:
        """The intersection of every assignment of ``package`` (ANY when none)."""
        entries = self.history.get(package)
        return entries[-1].accumulated if entries else ANY

    def _assign(self, package: str, term: Term, cause: Incompatibility | None) -> None:
        entries = self.history.get(package)
        if entries is None:
            entries = self.history[package] = []
        accumulated = intersect(entries[-1].accumulated, term) if entries else term
        assignment = Assignment(package, term, accumulated, self.level, len(self.trail), cause)
        entries.append(assignment)
        self.trail.append(assignment)
        if cause is None:
            self.decisions[package] = accumulated[1].bit_length() - 1
            self.undecided.discard(package)
        elif accumulated[0] and package not in self.decisions:
            self.undecided.add(package)

    def _backtrack(self, level: int) -> None:
        trail, history = self.trail, self.history
        while trail and trail[-1].level > level:
            assignment = trail.pop()
            package = assignment.package
            entries = history[package]
            entries.pop()
            if assignment.cause is None:
                del self.decisions[package]
            if entries and entries[-1].accumulated[0]:
                self.undecided.add(package)
            else:
                self.undecided.discard(package)
                if not entries:
                    del history[package]
        self.level = level
        self.stats.backjumps += 1

    # -- incompatibilities ----------------------------------------------------------

    def add(self, incompatibility: Incompatibility) -> Incompatibility:
        """Record ``incompatibility``; a dependency with the same child term and info as
        one already recorded for the same parent is merged into it (the parent's
        versions united), which is what lets explanations speak of ranges."""
        if incompatibility.kind == "dependency":
            (parent, _p, parent_bits), *rest = incompatibility.terms
            key = (parent, tuple(rest), incompatibility.info)
            old = self._merge_index.get(key)
            if old is not None:
                merged = Incompatibility(
                    ((parent, True, old.terms[0][2] | parent_bits), *old.terms[1:]),
                    "dependency",
                    info=old.info,
                )
                for package, _positive, _bits in merged.terms:
                    entries = self.by_package[package]
                    for i in range(len(entries) - 1, -1, -1):
                        if entries[i] is old:
                            entries[i] = merged
                            break
                self._merge_index[key] = merged
                return merged
            self._merge_index[key] = incompatibility
        for package, _positive, _bits in incompatibility.terms:
            self.by_package.setdefault(package, []).append(incompatibility)
        return incompatibility

    def _relation(self, incompatibility: Incompatibility) -> tuple[str, bool, int] | bool | None:
        """``True``: satisfied (a conflict); ``None``: contradicted or inconclusive;
        a term: every other term is satisfied and this one is inconclusive."""
        unsatisfied: tuple[str, bool, int] | None = None
        history = self.history
        for item in incompatibility.terms:
            package, positive, bits = item
            entries = history.get(package)
            if entries:
                have_positive, have = entries[-1].accumulated
            else:
                have_positive, have = False, 0
            if have_positive:
                if positive:
                    if have & bits == 0:
                        return None  # contradicted
                    if have & ~bits == 0:
                        continue  # satisfied
                else:
                    if have & ~bits == 0:
                        return None
                    if have & bits == 0:
                        continue
            elif positive:
                if bits & ~have == 0:
                    return None
            elif bits & ~have == 0:
                continue
            if unsatisfied is not None:
                return None
            unsatisfied = item
        return True if unsatisfied is None else unsatisfied

    # -- the algorithm --------------------------------------------------------------

    def solve(self) -> dict[str, int]:
        """Run to the end: every selected package's decided position.

        :raises NoSolution: when the root cannot be selected.
        """
        self.add(Incompatibility(((ROOT, False, 1),), "root"))
        package: str | None = ROOT
        while package is not None:
            self._propagate(package)
            package = self._decide()
        return dict(self.decisions)

    def _propagate(self, package: str) -> None:
        changed = [package]
        while changed:
            current = changed.pop()
            conflict: Incompatibility | None = None
            entries = self.by_package.get(current, ())
            for i in range(len(entries) - 1, -1, -1):
                incompatibility = entries[i]
                relation = self._relation(incompatibility)
                if relation is None:
                    continue
                if relation is True:
                    conflict = incompatibility
                    break
                assert not isinstance(relation, bool)
                name, positive, bits = relation
                self._assign(name, (not positive, bits), incompatibility)
                self.stats.propagations += 1
                if name not in changed:
                    changed.append(name)
            if conflict is not None:
                cause = self._resolve_conflict(conflict)
                relation = self._relation(cause)
                assert isinstance(relation, tuple), "a learned incompatibility must propagate"
                name, positive, bits = relation
                self._assign(name, (not positive, bits), cause)
                changed = [name]

    def _satisfier(self, incompatibility: Incompatibility) -> tuple[Assignment, Term, int]:
        """The assignment that made ``incompatibility`` satisfied, the incompatibility's
        term for its package, and the decision level of the previous satisfier."""
        found: dict[str, Assignment] = {}
        for package, positive, bits in incompatibility.terms:
            term = (positive, bits)
            for assignment in self.history.get(package, ()):
                if subset(assignment.accumulated, term):
                    found[package] = assignment
                    break
            else:  # satisfied by the absence of assignments (a negative term)
                continue
        satisfier = max(found.values(), key=lambda a: a.index)
        package = satisfier.package
        found_term = incompatibility.term(package)
        assert found_term is not None
        term = found_term
        # The previous satisfier: the earliest assignment before the satisfier that,
        # together with the satisfier, still satisfies the incompatibility.
        del found[package]
        accumulated = satisfier.term
        for assignment in self.history[package]:
            if assignment.index >= satisfier.index:
                break
            accumulated = intersect(accumulated, assignment.term)
            if subset(accumulated, term):
                found[package] = assignment
                break
        previous = max((a.level for a in found.values()), default=1)
        return satisfier, term, max(previous, 1)

    def _resolve_conflict(self, incompatibility: Incompatibility) -> Incompatibility:
        self.stats.conflicts += 1
        for package, _positive, _bits in incompatibility.terms:
            count = self.conflicts.get(package, 0) + 1
            self.conflicts[package] = count
            if count == self.conflict_threshold and package != ROOT:
                self.boosted.setdefault(package, len(self.boosted) + 1)
        learned = False
        while not incompatibility.is_failure():
            satisfier, term, previous_level = self._satisfier(incompatibility)
            if satisfier.cause is None or previous_level != satisfier.level:
                if learned:
                    self.add(incompatibility)
                self._backtrack(previous_level)
                return incompatibility
            cause = satisfier.cause
            package = satisfier.package
            terms: dict[str, Term] = {}
            for name, positive, bits in incompatibility.terms:
                if name != package:
                    terms[name] = (positive, bits)
            for name, positive, bits in cause.terms:
                if name == package:
                    continue
                known = terms.get(name)
                terms[name] = (
                    (positive, bits) if known is None else intersect(known, (positive, bits))
                )
            other = cause.term(package)
            merged = term if other is None else union(term, other)
            if merged != ANY:
                terms[package] = merged
            incompatibility = Incompatibility(
                tuple((name, t[0], t[1]) for name, t in terms.items()),
                "derived",
                causes=(incompatibility, cause),
            )
            learned = True
        raise NoSolution(incompatibility)

    def _decide(self) -> str | None:
        """Decide the next package; ``None`` when every selected package is decided."""
        if not self.undecided:
            return None
        source = self.source
        boosted = self.boosted
        best: str | None = None
        best_key: tuple[int, ...] = ()
        for package in self.undecided:
            rank = boosted.get(package)
            key = (0, rank) if rank is not None else (1, *source.priority(package))
            if best is None or key < best_key:
                best, best_key = package, key
        assert best is not None
        allowed = self.term_of(best)[1]
        choice = source.choose(best, allowed, self)
        if isinstance(choice, Incompatibility):
            self.add(choice)
            return best
        self.stats.decisions += 1
        dependencies = [self.add(d) for d in source.dependencies(best, choice)]
        # Deciding is pointless when a dependency already contradicts the partial
        # solution: propagation will then rule this version out.
        picked = 1 << choice
        for dependency in dependencies:
            conflicting = True
            for package, positive, bits in dependency.terms:
                if package == best:
                    if not (picked & bits if positive else not picked & bits):
                        conflicting = False
                        break
                elif not subset(self.term_of(package), (positive, bits)):
                    conflicting = False
                    break
            if conflicting:
                self._rejected(best, dependency)
                return best
        self.level += 1
        self._assign(best, (True, picked), None)
        return best

    def _rejected(self, package: str, dependency: Incompatibility) -> None:
        """Count a version of ``package`` ruled out by a decision made before it; after
        ``conflict_threshold`` such rejections, decide ``package`` first and jump back
        to before that decision (uv's conflict-driven prioritisation). Without it, a
        package whose every recent version conflicts with an earlier pick (aiobotocore
        with the botocore that the newest boto3 pins) is walked down to its oldest
        release, one metadata download at a time. The decision it jumps before may be
        one moved ahead for its own conflicts (awscli rejected by the aiobotocore moved
        ahead of boto3: top-470 walked all of awscli's 1,000 releases, 300 s of a cold
        lock); only a pair already put in order once is left as it is."""
        count = self.rejections.get(package, 0) + 1
        self.rejections[package] = count
        if count < self.conflict_threshold:
            return
        level = 0
        for name, positive, bits in dependency.terms:
            if name == package:
                continue
            for assignment in self.history.get(name, ()):
                if subset(assignment.accumulated, (positive, bits)):
                    level = max(level, assignment.level)
                    break
        if level <= 1:
            return  # the project's own requirements rule it out: nothing to reorder
        culprit = next(a.package for a in self.trail if a.cause is None and a.level == level)
        if (package, culprit) in self._reordered or (culprit, package) in self._reordered:
            return  # the two were put in order once already: no ping-pong
        self._reordered.add((package, culprit))
        self.rejections[package] = 0
        # the latest package moved ahead is decided first
        self.boosted[package] = min(self.boosted.values(), default=0) - 1
        self._backtrack(level - 1)
