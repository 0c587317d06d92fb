"""Reducing an expression to a short equivalent one."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final

from packaging.ranges import VersionRange
from packaging.specifiers import SpecifierSet

from shipyard.specs.markers.algebra import (
    _UNIVERSE,
    Clause,
    _atom_range,
    _dnf,
    _exact_negation,
    _is_string_op,
    _spec_range,
    _TooComplex,
    marker_and,
    marker_or,
)
from shipyard.specs.markers.render import _atom_key, _clause_key
from shipyard.specs.markers.tree import TRUE, MarkerAtom, MarkerExpression


@dataclass(frozen=True, slots=True)
class _Clause:
    """A DNF clause split into its Python version atoms (summed up as one range,
    already cut to requires-python) and the others."""

    python: frozenset[MarkerAtom]
    other: frozenset[MarkerAtom]
    range: VersionRange
    atoms: frozenset[MarkerAtom]


class _Simplifier:
    def __init__(self, allowed: VersionRange) -> None:
        self.allowed = allowed
        self.ranges: dict[frozenset[MarkerAtom], VersionRange] = {}
        self.subsets: dict[tuple[VersionRange, VersionRange], bool] = {}

    def range_of(self, atoms: frozenset[MarkerAtom]) -> VersionRange:
        """The allowed interpreters that satisfy every one of the Python ``atoms``."""
        known = self.ranges.get(atoms)
        if known is not None:
            return known
        result = self.allowed
        for atom in atoms:
            atom_range = _atom_range(atom)
            assert atom_range is not None
            result = result & atom_range
        self.ranges[atoms] = result
        return result

    def subset(self, inner: VersionRange, outer: VersionRange) -> bool:
        key = (inner, outer)
        known = self.subsets.get(key)
        if known is None:
            known = self.subsets[key] = inner.is_subset(outer)
        return known

    def clause(self, atoms: AbstractSet[MarkerAtom]) -> _Clause | None:
        """The clause with implied atoms dropped, or ``None`` when it can never hold."""
        python = frozenset(atom for atom in atoms if _atom_range(atom) is not None)
        other = set(atoms) - python
        for atom in other:
            negation = _exact_negation(atom)
            if negation is not None and negation in other:
                return None
        equal: dict[str, str] = {}
        for atom in other:
            if (
                _is_string_op(atom, "==")
                and equal.setdefault(atom.variable, atom.value) != atom.value
            ):
                return None
        other = {
            atom
            for atom in other
            if not (
                _is_string_op(atom, "!=")
                and atom.variable in equal
                and equal[atom.variable] != atom.value
            )
        }
        whole = self.range_of(python)
        if whole.is_empty:
            return None
        for atom in sorted(python, key=_atom_key, reverse=True):
            rest = python - {atom}
            atom_range = _atom_range(atom)
            assert atom_range is not None
            if self.subset(self.range_of(rest), atom_range):
                python = rest
        return _Clause(python, frozenset(other), whole, python | other)

    def implies(
        self, other: frozenset[MarkerAtom], python_range: VersionRange, clause: _Clause
    ) -> bool:
        """Whether every environment with all of ``other`` and a Python in
        ``python_range`` satisfies ``clause``."""
        for atom in clause.other:
            if atom in other:
                continue
            if _is_string_op(atom, "!=") and any(
                _is_string_op(given, "==")
                and given.variable == atom.variable
                and given.value != atom.value
                for given in other
            ):
                continue
            return False
        return self.subset(python_range, clause.range)

    def run(self, dnf: frozenset[Clause]) -> MarkerExpression:
        clauses: dict[frozenset[MarkerAtom], _Clause] = {}
        for atoms in dnf:
            clause = self.clause(atoms)
            if clause is not None:
                clauses.setdefault(clause.atoms, clause)
        while frozenset() not in clauses:
            # (c) drop every clause that implies another one.
            index = _ClauseIndex(clauses)
            for atoms in sorted(clauses, key=_clause_key):
                clause = clauses[atoms]
                if self.covered(clause.other, clause.range, index, clauses, atoms):
                    del clauses[atoms]
            if len(clauses) > _MAX_REDUCED:
                break
            # (d) drop an atom from a clause when the clause without it, with the atom
            # false, is covered by another clause: (S and a) or (S and not a) → S.
            index = _ClauseIndex(clauses)
            changed = False
            for atoms in sorted(clauses, key=_clause_key):
                clause = clauses.get(atoms)
                if clause is None:
                    continue
                reduced = self.reduce(clause, index, clauses)
                if reduced is not None:
                    del clauses[atoms]
                    clauses.setdefault(reduced.atoms, reduced)
                    changed = True
            if not changed:
                break
        if frozenset() in clauses:
            return TRUE
        return marker_or(*(marker_and(*atoms) for atoms in clauses))

    def covered(
        self,
        other: frozenset[MarkerAtom],
        python_range: VersionRange,
        index: _ClauseIndex,
        clauses: Mapping[frozenset[MarkerAtom], _Clause],
        exclude: frozenset[MarkerAtom],
    ) -> bool:
        """Whether some clause other than ``exclude`` holds wherever ``other`` and
        ``python_range`` do."""
        for candidate in index.candidates(other):
            if (
                candidate.atoms != exclude
                and clauses.get(candidate.atoms) is candidate
                and self.implies(other, python_range, candidate)
            ):
                return True
        return False

    def reduce(
        self,
        clause: _Clause,
        index: _ClauseIndex,
        clauses: Mapping[frozenset[MarkerAtom], _Clause],
    ) -> _Clause | None:
        for atom in sorted(clause.atoms, key=_atom_key):
            atom_range = _atom_range(atom)
            if atom_range is None:
                negation = _exact_negation(atom)
                if negation is None:
                    continue
                other = (clause.other - {atom}) | {negation}
                python_range = clause.range
            else:
                other = clause.other
                python_range = self.range_of(clause.python - {atom}) - atom_range
            if self.covered(other, python_range, index, clauses, clause.atoms):
                smaller = self.clause(clause.atoms - {atom})
                assert smaller is not None  # fewer atoms cannot contradict
                return smaller
        return None


_MAX_REDUCED: Final = 512


class _ClauseIndex:
    """Clauses filed under one atom every clause implying them must contain
    (any atom but a string ``!=``, which an ``==`` can imply), so that the
    clauses a given one may imply are found without scanning them all."""

    __slots__ = ("filed", "general")

    def __init__(self, clauses: Mapping[frozenset[MarkerAtom], _Clause]) -> None:
        frequency: dict[MarkerAtom, int] = {}
        for clause in clauses.values():
            for atom in clause.other:
                frequency[atom] = frequency.get(atom, 0) + 1
        self.filed: dict[MarkerAtom, list[_Clause]] = {}
        self.general: list[_Clause] = []
        for clause in clauses.values():
            required = [atom for atom in clause.other if not _is_string_op(atom, "!=")]
            if required:
                key = min(required, key=frequency.__getitem__)
                self.filed.setdefault(key, []).append(clause)
            else:
                self.general.append(clause)

    def candidates(self, other: frozenset[MarkerAtom]) -> Iterator[_Clause]:
        yield from self.general
        for atom in other:
            yield from self.filed.get(atom, ())


def simplify(
    expression: MarkerExpression, *, requires_python: SpecifierSet | None = None
) -> MarkerExpression:
    """A smaller expression, equivalent on every environment whose
    ``python_full_version`` ``requires_python`` allows (on every environment
    when it is ``None``).

    Works on :func:`to_dnf`, then

    * drops Python atoms (``python_version``, ``python_full_version``) implied
      by requires-python or by the clause's other Python atoms, and clauses
      whose Python atoms no allowed interpreter satisfies (decided with
      :class:`packaging.ranges.VersionRange`; ``python_version > "3.10"`` means
      3.11 and later);
    * drops contradictory clauses (``sys_platform == "linux" and sys_platform
      == "win32"``, an atom with its negation) and implied ``!=`` atoms;
    * drops clauses that imply another clause (``a or (a and b)`` is ``a``);
    * removes an atom whose absence another clause covers: ``(a and x) or (a
      and not x)`` is ``a``, ``python_version < "3.11" or (python_version >=
      "3.11" and b)`` is ``python_version < "3.11" or b``;
    * returns :data:`TRUE` when a clause becomes empty.

    The result is an ``or`` of ``and`` of atoms (or a single one), deterministic
    for a given input; :func:`render` orders it. A marker too complex to expand
    (over 4096 clauses) is returned as it is.
    """
    key = str(requires_python) if requires_python is not None else None
    return _simplify(expression, key)


@functools.lru_cache(maxsize=8192)
def _simplify(expression: MarkerExpression, requires_python: str | None) -> MarkerExpression:
    try:
        dnf = _dnf(expression)
    except _TooComplex:
        return expression
    allowed = _UNIVERSE if not requires_python else _spec_range(requires_python)
    return _Simplifier(allowed).run(dnf)
