"""Evaluating an expression against environments (one, a partial one, or a table
of them as a mask)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import Final

from packaging.utils import canonicalize_name

from shipyard.errors import RequirementError
from shipyard.specs.markers.algebra import marker_and, marker_or
from shipyard.specs.markers.tree import (
    _SET_VARIABLES,
    FALSE,
    TRUE,
    Environment,
    EvaluateContext,
    MarkerAnd,
    MarkerAtom,
    MarkerExpression,
    _version_specifier,
)

_STRING_OPERATORS: Final[dict[str, Callable[[str, str], bool]]] = {
    "==": lambda actual, value: actual == value,
    "!=": lambda actual, value: actual != value,
    # packaging 26: without a version on both sides these two never hold
    "<": lambda _actual, _value: False,
    ">": lambda _actual, _value: False,
    "<=": lambda actual, value: actual == value,
    ">=": lambda actual, value: actual == value,
    "in": lambda actual, value: actual in value,
    "not in": lambda actual, value: actual not in value,
}


@functools.lru_cache(maxsize=16384)
def _version_holds(variable: str, op: str, value: str, actual: str) -> bool:
    spec = _version_specifier(variable, op, value)
    assert spec is not None
    return spec.contains(actual, prereleases=True)


def _atom_holds(atom: MarkerAtom, environment: Environment) -> bool:
    try:
        actual = environment[atom.variable]
    except KeyError:
        raise RequirementError(
            f"The marker variable {atom.variable!r} is missing from the environment "
            f"the marker '{atom.render()}' is evaluated in."
        ) from None
    if atom.value_first:
        contained = atom.value in actual
        return contained if atom.op == "in" else not contained
    if not isinstance(actual, str):
        raise RequirementError(
            f"The marker variable {atom.variable!r} is a set; '{atom.render()}' compares it "
            "as a string."
        )
    if _version_specifier(atom.variable, atom.op, atom.value) is not None:
        return _version_holds(atom.variable, atom.op, atom.value, actual)
    return _STRING_OPERATORS[atom.op](actual, atom.value)


def _prepare(
    environment: Environment,
    context: EvaluateContext,
) -> dict[str, str | AbstractSet[str]]:
    """packaging's environment preparation: context defaults, PEP 685 names,
    ``python_full_version`` ending in ``+`` repaired."""
    prepared: dict[str, str | AbstractSet[str]] = {}
    if context == "lock_file":
        prepared["extras"] = frozenset()
        prepared["dependency_groups"] = frozenset()
    elif context == "metadata":
        prepared["extra"] = ""
    prepared.update(environment)
    for name in _SET_VARIABLES:
        members = prepared.get(name)
        if members is not None:
            if isinstance(members, str):
                prepared[name] = canonicalize_name(members)
            else:
                prepared[name] = frozenset(canonicalize_name(member) for member in members)
    extra = prepared.get("extra")
    if extra is not None:
        prepared["extra"] = canonicalize_name(extra) if extra and isinstance(extra, str) else ""
    full = prepared.get("python_full_version")
    if isinstance(full, str) and full.endswith("+"):
        prepared["python_full_version"] = f"{full}local"
    return prepared


def _evaluate(expression: MarkerExpression, environment: Environment) -> bool:
    if isinstance(expression, MarkerAtom):
        return _atom_holds(expression, environment)
    if isinstance(expression, MarkerAnd):
        return all(_evaluate(child, environment) for child in expression.children)
    return any(_evaluate(child, environment) for child in expression.children)


def evaluate(
    expression: MarkerExpression,
    environment: Environment,
    *,
    context: EvaluateContext = "metadata",
) -> bool:
    """Whether ``expression`` holds in ``environment``, with the semantics of
    :meth:`packaging.markers.Marker.evaluate` (PEP 508, PEP 685, PEP 751).

    :param environment: marker variable → value; ``extras`` and
        ``dependency_groups`` map to sets of names. Unlike packaging, nothing
        is filled in from the running interpreter: pass
        :func:`packaging.markers.default_environment` values for that.
    :param context: as in packaging: ``"metadata"`` makes ``extra`` default
        to ``""``, ``"lock_file"`` makes ``extras`` and ``dependency_groups``
        default to empty sets, ``"requirement"`` adds nothing.
    :raises RequirementError: when a variable the expression uses is missing
        from the environment, or a set is compared as a string.
    """
    return _evaluate(expression, _prepare(environment, context))


class _EnvironmentTable:
    """Prepared environments with memoized masks per atom and per expression."""

    __slots__ = ("all_bits", "environments", "masks")

    def __init__(self, environments: Sequence[Environment], context: EvaluateContext) -> None:
        self.environments = [_prepare(environment, context) for environment in environments]
        self.all_bits = (1 << len(self.environments)) - 1
        self.masks: dict[MarkerExpression, int] = {}

    def mask(self, expression: MarkerExpression) -> int:
        known = self.masks.get(expression)
        if known is not None:
            return known
        if isinstance(expression, MarkerAtom):
            result = 0
            for index, environment in enumerate(self.environments):
                if _atom_holds(expression, environment):
                    result |= 1 << index
        elif isinstance(expression, MarkerAnd):
            result = self.all_bits
            for child in expression.children:
                result &= self.mask(child)
                if not result:
                    break
        else:
            result = 0
            for child in expression.children:
                result |= self.mask(child)
        if len(self.masks) > 65536:
            self.masks.clear()
        self.masks[expression] = result
        return result


# id(environments), context → (environments, table). Holding the sequence keeps its id unique.
_TABLES: dict[tuple[int, str], tuple[Sequence[Environment], _EnvironmentTable]] = {}
_MAX_TABLES: Final = 32
_TABLES_LOCK: Final = threading.Lock()


def evaluate_mask(
    expression: MarkerExpression,
    environments: Sequence[Environment],
    *,
    context: EvaluateContext = "metadata",
) -> int:
    """A bitmask of the environments ``expression`` holds in: bit ``i`` is set when
    it holds in ``environments[i]`` (semantics as :func:`evaluate`).

    Results are memoized per ``environments`` object (by identity) and
    expression, so pass the same sequence each time (a tuple of the target
    environments) and do not mutate it or its mappings afterwards.

    :raises RequirementError: as :func:`evaluate`.
    """
    key = (id(environments), context)
    entry = _TABLES.get(key)
    if entry is None or entry[0] is not environments:
        entry = (environments, _EnvironmentTable(environments, context))
        with _TABLES_LOCK:
            while len(_TABLES) >= _MAX_TABLES:
                del _TABLES[next(iter(_TABLES))]
            _TABLES[key] = entry
    return entry[1].mask(expression)


def substitute_extra(expression: MarkerExpression, extra: str) -> MarkerExpression:
    """``expression`` with every ``extra`` atom replaced by its truth value when the
    selected extra is ``extra`` (``""`` for none); the other atoms are kept.

    Used to turn a dependency's metadata marker (``extra == "socks"``) into a
    lock marker once the extra being resolved is known (PEP 685 normalization).
    """
    return substitute(expression, {"extra": canonicalize_name(extra) if extra else ""})


def substitute(expression: MarkerExpression, environment: Environment) -> MarkerExpression:
    """``expression`` with every atom on a variable of ``environment`` replaced by its
    truth value there; atoms on the other variables are kept.

    :param environment: a partial marker environment, e.g. ``{"extras": {"plots"},
        "dependency_groups": {"dev"}}`` to turn a PEP 751 lock marker into one pip
        understands, or ``{"sys_platform": "linux"}`` to specialise it for Linux.
    :raises RequirementError: when a known variable's atom cannot be evaluated (a
        set-valued variable compared as a string).
    """

    def walk(node: MarkerExpression) -> MarkerExpression:
        if isinstance(node, MarkerAtom):
            if node.variable not in environment:
                return node
            return TRUE if _atom_holds(node, environment) else FALSE
        children = [walk(child) for child in node.children]
        return marker_and(*children) if isinstance(node, MarkerAnd) else marker_or(*children)

    return walk(expression)
