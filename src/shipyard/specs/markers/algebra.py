"""Combinators (and, or, not), disjunctive normal form, and the Python version
ranges atoms stand for."""

from __future__ import annotations

import functools
import re
from collections.abc import Set as AbstractSet
from typing import Final, TypeAlias

from packaging.ranges import VersionRange
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import Version

from shipyard.errors import RequirementError
from shipyard.specs.markers.tree import (
    _MEMBERSHIP,
    _PYTHON_VARIABLES,
    FALSE,
    TRUE,
    MarkerAnd,
    MarkerAtom,
    MarkerExpression,
    MarkerOr,
    _version_specifier,
)


def marker_and(*expressions: MarkerExpression) -> MarkerExpression:
    """The conjunction of ``expressions``: nested ``and`` flattened, :data:`TRUE`
    dropped, :data:`FALSE` absorbing; one child is returned as itself, none
    gives :data:`TRUE`. Not simplified otherwise (see :func:`simplify`).
    """
    children: set[MarkerExpression] = set()
    for expression in expressions:
        if isinstance(expression, MarkerAnd):
            children.update(expression.children)
        elif isinstance(expression, MarkerOr) and not expression.children:
            return FALSE
        else:
            children.add(expression)
    if len(children) == 1:
        return next(iter(children))
    return MarkerAnd(frozenset(children))


def marker_or(*expressions: MarkerExpression) -> MarkerExpression:
    """The disjunction of ``expressions``: nested ``or`` flattened, :data:`FALSE`
    dropped, :data:`TRUE` absorbing; one child is returned as itself, none
    gives :data:`FALSE`. Not simplified otherwise (see :func:`simplify`).
    """
    children: set[MarkerExpression] = set()
    for expression in expressions:
        if isinstance(expression, MarkerOr):
            children.update(expression.children)
        elif isinstance(expression, MarkerAnd) and not expression.children:
            return TRUE
        else:
            children.add(expression)
    if len(children) == 1:
        return next(iter(children))
    return MarkerOr(frozenset(children))


@functools.lru_cache(maxsize=8192)
def marker_not(expression: MarkerExpression) -> MarkerExpression:
    """The negation of ``expression``, pushed down to the atoms (De Morgan).

    Each atom is replaced by its complement: ``==``/``!=``, ``<``/``>=``,
    ``<=``/``>``, ``in``/``not in``. ``var ~= "X.Y"`` becomes ``var < "X.Y" or
    var != "X.*"``; ``var === "V"`` becomes ``var not in "V" or "V" not in
    var`` (string inequality). For string comparisons packaging's rules are
    followed: ``<``/``>`` never hold, so their negation is :data:`TRUE`, and
    ``<=``/``>=`` mean ``==``, so theirs is ``!=``.

    Exact on final release versions; on a pre-release (or post-release) of
    the compared version both ``python_full_version < V`` and ``>= V`` are
    false under PEP 440, so the negation of one is not the other there.
    """
    if isinstance(expression, MarkerAtom):
        return _negate_atom(expression)
    negated = [marker_not(child) for child in expression.children]
    if isinstance(expression, MarkerAnd):
        return marker_or(*negated)
    return marker_and(*negated)


def _negate_atom(atom: MarkerAtom) -> MarkerExpression:
    variable, op, value = atom.variable, atom.op, atom.value
    if op in _MEMBERSHIP:
        return MarkerAtom(variable, "not in" if op == "in" else "in", value, atom.value_first)
    if _version_specifier(variable, op, value) is not None:
        if op == "~=":
            version = Version(value.strip())
            epoch = f"{version.epoch}!" if version.epoch else ""
            prefix = epoch + ".".join(str(part) for part in version.release[:-1]) + ".*"
            return marker_or(MarkerAtom(variable, "<", value), MarkerAtom(variable, "!=", prefix))
        if op == "===":
            return marker_or(
                MarkerAtom(variable, "not in", value),
                MarkerAtom(variable, "not in", value, value_first=True),
            )
        return MarkerAtom(variable, _VERSION_NEGATION[op], value)
    if op in ("<", ">"):
        return TRUE
    return MarkerAtom(variable, "==" if op == "!=" else "!=", value)


_VERSION_NEGATION: Final = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


@functools.lru_cache(maxsize=8192)
def _exact_negation(atom: MarkerAtom) -> MarkerAtom | None:
    """The atom's complement as one atom, for the string comparisons where it is exact."""
    if atom.op in _MEMBERSHIP:
        return MarkerAtom(
            atom.variable, "not in" if atom.op == "in" else "in", atom.value, atom.value_first
        )
    if atom.op in ("==", "!=") and _version_specifier(atom.variable, atom.op, atom.value) is None:
        return MarkerAtom(atom.variable, "!=" if atom.op == "==" else "==", atom.value)
    return None


def _is_string_op(atom: MarkerAtom, op: str) -> bool:
    return (
        atom.op == op
        and not atom.value_first
        and _version_specifier(atom.variable, atom.op, atom.value) is None
    )


Clause: TypeAlias = frozenset[MarkerAtom]
_MAX_CLAUSES: Final = 4096


class _TooComplex(Exception):
    pass


def to_dnf(expression: MarkerExpression) -> frozenset[frozenset[MarkerAtom]]:
    """Disjunctive normal form: a set of clauses, each a set of atoms (all must hold).

    :data:`TRUE` is ``{frozenset()}``, :data:`FALSE` is ``frozenset()``.
    Clauses containing another clause are dropped (``a or (a and b)`` is
    ``a``), as are clauses that can never hold because they contain an atom
    and its negation or two values of one string variable (``os_name == "nt"
    and os_name == "posix"``); nothing else is simplified (see
    :func:`simplify`).

    :raises RequirementError: when the form would exceed 4096 clauses.
    """
    try:
        return _dnf(expression)
    except _TooComplex:
        from shipyard.specs.markers.render import render  # render builds on this module

        raise RequirementError(
            "The marker is too complex to expand (more than "
            f"{_MAX_CLAUSES} alternatives): {render(expression)}"
        ) from None


@functools.lru_cache(maxsize=8192)
def _dnf(expression: MarkerExpression) -> frozenset[Clause]:
    if isinstance(expression, MarkerAtom):
        return frozenset({frozenset({expression})})
    if isinstance(expression, MarkerOr):
        clauses: set[Clause] = set()
        for child in expression.children:
            clauses |= _dnf(child)
        return _absorb(clauses)
    result: frozenset[Clause] = frozenset({frozenset()})
    # Smallest factors first keeps the intermediate products small.
    for factor in sorted((_dnf(child) for child in expression.children), key=len):
        if not factor:
            return frozenset()
        product = {left | right for left in result for right in factor}
        result = _absorb({clause for clause in product if not _contradictory(clause)})
        if len(result) > _MAX_CLAUSES:
            raise _TooComplex
    return result


def _contradictory(clause: Clause) -> bool:
    """Whether the clause holds an atom and its negation, or two values for one
    string variable (``sys_platform == "linux" and sys_platform == "win32"``)."""
    if len(clause) < 2:
        return False
    equal: dict[str, str] = {}
    for atom in clause:
        if _is_string_op(atom, "==") and equal.setdefault(atom.variable, atom.value) != atom.value:
            return True
        negation = _exact_negation(atom)
        if negation is not None and negation in clause:
            return True
    return False


def _absorb(clauses: AbstractSet[Clause]) -> frozenset[Clause]:
    """Drop every clause that contains another one."""
    if frozenset() in clauses:
        return frozenset({frozenset()})
    frequency: dict[MarkerAtom, int] = {}
    for clause in clauses:
        for atom in clause:
            frequency[atom] = frequency.get(atom, 0) + 1
    # Each kept clause is filed under its rarest atom: a clause can only contain
    # kept clauses filed under one of its own atoms.
    filed: dict[MarkerAtom, list[Clause]] = {}
    kept: list[Clause] = []
    for clause in sorted(clauses, key=len):
        if any(other <= clause for atom in clause for other in filed.get(atom, ())):
            continue
        kept.append(clause)
        filed.setdefault(min(clause, key=frequency.__getitem__), []).append(clause)
    return frozenset(kept)


_UNIVERSE: Final = VersionRange.full(admit_arbitrary=False)
_NOTHING: Final = VersionRange.empty()


def _spec_range(text: str) -> VersionRange:
    return SpecifierSet(text).to_range() & _UNIVERSE


def _minor_range(major: int, minor: int) -> VersionRange:
    """Every full version whose ``X.Y`` is ``major.minor`` (pre-releases included)."""
    return _spec_range(f">={major}.{minor}.dev0,<{major}.{minor + 1}.dev0")


def _python_version_range(spec: Specifier) -> VersionRange:
    """The full versions whose ``X.Y`` satisfies ``spec`` — what a ``python_version``
    comparison means as a set of interpreters (``python_version > "3.10"`` is
    ``>= 3.11.dev0``, since ``python_version`` is only ever ``X.Y``)."""
    op, version_text = spec.operator, spec.version
    if op == "~=":
        version = Version(version_text)
        epoch = f"{version.epoch}!" if version.epoch else ""
        prefix = epoch + ".".join(str(part) for part in version.release[:-1]) + ".*"
        lower = _python_version_range(Specifier(f">={version_text}"))
        return lower & _python_version_range(Specifier(f"=={prefix}"))
    if op == "===":
        match = re.fullmatch(r"(\d+)\.(\d+)", version_text)
        if match and f"{int(match[1])}.{int(match[2])}" == version_text:
            return _minor_range(int(match[1]), int(match[2]))
        return _NOTHING
    if version_text.endswith(".*"):
        prefix_version = Version(version_text[:-2])
        release = prefix_version.release
        if prefix_version.epoch:
            matched = _NOTHING
        elif len(release) == 1:
            matched = _spec_range(f">={release[0]}.dev0,<{release[0] + 1}.dev0")
        elif Specifier(f"=={version_text}").contains(f"{release[0]}.{release[1]}"):
            matched = _minor_range(release[0], release[1])
        else:
            matched = _NOTHING
        return matched if op == "==" else _UNIVERSE - matched
    version = Version(version_text)
    if version.epoch:  # every real X.Y compares the same way against it
        return _UNIVERSE if spec.contains("3.0", prereleases=True) else _NOTHING
    major = version.release[0]
    minor = version.release[1] if len(version.release) > 1 else 0
    # Against V, every X.Y below major.minor compares the same way, as does every one above.
    result = _NOTHING
    if spec.contains(f"{major}.{minor}", prereleases=True):
        result |= _minor_range(major, minor)
    below = f"{major}.{minor - 1}" if minor else (f"{major - 1}.0" if major else None)
    if below is not None and spec.contains(below, prereleases=True):
        result |= _spec_range(f"<{major}.{minor}.dev0")
    if spec.contains(f"{major}.{minor + 1}", prereleases=True):
        result |= _spec_range(f">={major}.{minor + 1}.dev0")
    return result


@functools.lru_cache(maxsize=4096)
def _atom_range(atom: MarkerAtom) -> VersionRange | None:
    """The interpreters (as full versions) an atom admits, for the Python atoms
    that are version comparisons; ``None`` for every other atom."""
    if atom.variable not in _PYTHON_VARIABLES:
        return None
    spec = _version_specifier(atom.variable, atom.op, atom.value)
    if spec is None:
        return None
    if atom.variable == "python_full_version":
        return _spec_range(str(spec))
    return _python_version_range(spec)
