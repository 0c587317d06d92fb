"""The marker expression tree: atoms, and/or nodes, the variables and operators."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import canonicalize_name

from shipyard.errors import RequirementError

#: Every marker variable, in the order atoms are rendered.
VARIABLES: Final[tuple[str, ...]] = (
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
    "platform_python_implementation",
    "os_name",
    "sys_platform",
    "platform_system",
    "platform_machine",
    "platform_release",
    "platform_version",
    "extra",
    "extras",
    "dependency_groups",
)
_VARIABLE_INDEX: Final = {name: index for index, name in enumerate(VARIABLES)}

_LEGACY_VARIABLES: Final = {
    "os.name": "os_name",
    "sys.platform": "sys_platform",
    "platform.version": "platform_version",
    "platform.machine": "platform_machine",
    "platform.python_implementation": "platform_python_implementation",
    "python_implementation": "platform_python_implementation",
}
# Compared as PEP 440 versions when the value makes a valid specifier (packaging's rule).
_VERSION_VARIABLES: Final = frozenset(
    {"python_version", "python_full_version", "implementation_version", "platform_release"}
)
_PYTHON_VARIABLES: Final = frozenset({"python_version", "python_full_version"})
# PEP 751: set-valued, only usable as ``"name" in variable``.
_SET_VARIABLES: Final = frozenset({"extras", "dependency_groups"})

_OPERATORS: Final = (">=", ">", "==", "===", "~=", "!=", "<=", "<", "in", "not in")
_OPERATOR_INDEX: Final = {op: index for index, op in enumerate(_OPERATORS)}
# The operator seen from the other side: ``"3.8" <= python_version`` is ``python_version >= "3.8"``.
_FLIPPED: Final = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!=", "===": "==="}
_MEMBERSHIP: Final = frozenset({"in", "not in"})

#: How :data:`FALSE` is written: a marker no interpreter satisfies.
FALSE_MARKER: Final = 'python_version < "0"'

EvaluateContext: TypeAlias = Literal["metadata", "lock_file", "requirement"]
Environment: TypeAlias = Mapping[str, str | AbstractSet[str]]


@dataclass(frozen=True, slots=True)
class MarkerAtom:
    """One marker comparison, normalized on construction.

    ``variable`` is a modern name from :data:`VARIABLES` (legacy dotted names
    are mapped); ``op`` one of ``==, !=, <, <=, >, >=, ~=, ===, in, not in``;
    ``value`` the quoted string's text. ``value_first`` marks the form with the
    value on the left, kept only for ``in`` / ``not in`` (``'dev' in
    dependency_groups``, ``"linux" in sys_platform``); an ordered comparison
    written value-first is turned around (``"3.8" <= python_version`` becomes
    ``python_version >= "3.8"``). Values of ``extra``, ``extras`` and
    ``dependency_groups`` are normalized per PEP 685.

    :raises RequirementError: for an unknown variable or operator, a
        set-valued variable (``extras``, ``dependency_groups``) outside the
        ``"name" in variable`` form, ``~=`` or ``===`` where no valid version
        specifier results, ``~=`` written value-first, or a value that cannot
        be quoted (holding both quote kinds, or a backslash).
    """

    variable: str
    op: str
    value: str
    value_first: bool = False
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[MarkerAtom], tuple[str, str, str, bool]]:
        # Rebuilt through the constructor: the cached string hash is per process.
        return (MarkerAtom, (self.variable, self.op, self.value, self.value_first))

    def __post_init__(self) -> None:
        variable = _LEGACY_VARIABLES.get(self.variable, self.variable)
        op, value, value_first = self.op, self.value, self.value_first
        if variable not in _VARIABLE_INDEX:
            raise RequirementError(
                f"Unknown marker variable {self.variable!r}.",
                hint="Marker variables are " + ", ".join(VARIABLES) + ".",
            )
        if op not in _OPERATOR_INDEX:
            raise RequirementError(f"Unknown marker operator {op!r}.")
        if "\\" in value or ('"' in value and "'" in value):
            raise RequirementError(
                f"The marker value {value!r} cannot be written in a marker "
                "(backslashes, or both kinds of quote)."
            )
        if value_first and op in _FLIPPED:
            op, value_first = _FLIPPED[op], False
        if value_first and op == "~=":
            raise RequirementError(
                f"'~=' needs the variable on its left: write '{variable} ~= \"{value}\"'."
            )
        if variable in _SET_VARIABLES:
            if not (value_first and op in _MEMBERSHIP):
                raise RequirementError(
                    f"{variable!r} is a set of names: it can only be tested as "
                    f"'\"name\" in {variable}' or '\"name\" not in {variable}' (PEP 751)."
                )
            value = canonicalize_name(value)
        elif variable == "extra":
            value = canonicalize_name(value)
        if op in ("~=", "===") and _version_specifier(variable, op, value) is None:
            raise RequirementError(
                f"'{variable} {op} \"{value}\"' is not a valid comparison: {op!r} "
                "needs a version-valued variable ("
                + ", ".join(sorted(_VERSION_VARIABLES))
                + ") and a valid version."
            )
        if variable != self.variable:
            object.__setattr__(self, "variable", variable)
        if op != self.op:
            object.__setattr__(self, "op", op)
        if value != self.value:
            object.__setattr__(self, "value", value)
        if value_first != self.value_first:
            object.__setattr__(self, "value_first", value_first)
        object.__setattr__(self, "_hash", hash((variable, op, value, value_first)))

    def render(self) -> str:
        """The atom as PEP 508 text, double-quoted unless the value holds ``"``."""
        quoted = f"'{self.value}'" if '"' in self.value else f'"{self.value}"'
        if self.value_first:
            return f"{quoted} {self.op} {self.variable}"
        return f"{self.variable} {self.op} {quoted}"


@dataclass(frozen=True, slots=True)
class MarkerAnd:
    """The conjunction of ``children``; the empty one is :data:`TRUE`.

    Build it with :func:`marker_and`, which flattens and normalizes.
    """

    children: frozenset[MarkerExpression]


@dataclass(frozen=True, slots=True)
class MarkerOr:
    """The disjunction of ``children``; the empty one is :data:`FALSE`.

    Build it with :func:`marker_or`, which flattens and normalizes.
    """

    children: frozenset[MarkerExpression]


MarkerExpression: TypeAlias = MarkerAtom | MarkerAnd | MarkerOr

#: Holds in every environment (rendered as ``None``: no marker).
TRUE: Final[MarkerExpression] = MarkerAnd(frozenset())
#: Holds in no environment (rendered as :data:`FALSE_MARKER`).
FALSE: Final[MarkerExpression] = MarkerOr(frozenset())


@functools.lru_cache(maxsize=8192)
def _version_specifier(variable: str, op: str, value: str) -> Specifier | None:
    """The specifier packaging would test a version-valued variable with, or ``None``
    when the comparison is a string comparison."""
    if variable not in _VERSION_VARIABLES or op in _MEMBERSHIP:
        return None
    try:
        return Specifier(f"{op}{value}")
    except InvalidSpecifier:
        return None
