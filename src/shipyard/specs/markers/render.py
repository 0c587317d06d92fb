"""Writing an expression as PEP 508 text, in a stable order."""

from __future__ import annotations

import functools
from typing import Final, TypeAlias

from packaging.version import InvalidVersion, Version

from shipyard.specs.markers.algebra import marker_and, marker_or
from shipyard.specs.markers.tree import (
    _OPERATOR_INDEX,
    _VARIABLE_INDEX,
    _VERSION_VARIABLES,
    FALSE,
    FALSE_MARKER,
    TRUE,
    MarkerAnd,
    MarkerAtom,
    MarkerExpression,
)


def _value_key(atom: MarkerAtom) -> tuple[int, Version]:
    if atom.variable in _VERSION_VARIABLES:
        try:
            return (0, Version(atom.value.strip().removesuffix(".*")))
        except InvalidVersion:
            pass
    return (1, _ZERO)


_ZERO: Final = Version("0")
_AtomKey: TypeAlias = tuple[int, str, int, Version, str, int, bool]


@functools.lru_cache(maxsize=16384)
def _atom_key(atom: MarkerAtom) -> _AtomKey:
    kind, version = _value_key(atom)
    return (
        _VARIABLE_INDEX[atom.variable],
        atom.variable,
        kind,
        version,
        atom.value,
        _OPERATOR_INDEX[atom.op],
        atom.value_first,
    )


def _atoms_of(expression: MarkerExpression) -> list[MarkerAtom]:
    if isinstance(expression, MarkerAtom):
        return [expression]
    return [atom for child in expression.children for atom in _atoms_of(child)]


def _clause_key(atoms: frozenset[MarkerAtom]) -> tuple[_AtomKey, ...]:
    return tuple(sorted(_atom_key(atom) for atom in atoms))


def _normalized(expression: MarkerExpression) -> MarkerExpression:
    if isinstance(expression, MarkerAtom):
        return expression
    children = [_normalized(child) for child in expression.children]
    return marker_and(*children) if isinstance(expression, MarkerAnd) else marker_or(*children)


def _render(expression: MarkerExpression, inside_and: bool) -> str:
    if isinstance(expression, MarkerAtom):
        return expression.render()
    is_and = isinstance(expression, MarkerAnd)
    parts = sorted(
        (_clause_key(frozenset(_atoms_of(child))), _render(child, is_and))
        for child in expression.children
    )
    text = (" and " if is_and else " or ").join(part for _key, part in parts)
    return f"({text})" if inside_and and not is_and else text


@functools.lru_cache(maxsize=8192)
def render(expression: MarkerExpression) -> str | None:
    """Canonical PEP 508 text of ``expression``; ``None`` for :data:`TRUE`.

    Double quotes (single only for a value holding ``"``), modern variable
    names, atoms ordered by variable (Python versions first, then
    implementation, platform, extras and groups) and then by version or value,
    ``or`` groups parenthesized only inside ``and``. :data:`FALSE` renders as
    :data:`FALSE_MARKER` (``python_version < "0"``), which no interpreter
    satisfies. The text parses with :class:`packaging.markers.Marker` and
    evaluates as the expression does. Does not simplify: call
    :func:`simplify` first for the shortest form.
    """
    normalized = _normalized(expression)
    if normalized == TRUE:
        return None
    if normalized == FALSE:
        return FALSE_MARKER
    return _render(normalized, inside_and=False)


def render_for_lock(expression: MarkerExpression) -> str | None:
    """The ``marker`` value of a ``pylock.toml`` package (PEP 751): :func:`render`,
    ``None`` meaning the key is left out."""
    return render(expression)
