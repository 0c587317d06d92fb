"""A small algebra of PEP 508 markers, for building the markers of a universal lock.

A marker expression is an immutable, hashable tree:

* :class:`MarkerAtom` — one comparison, ``variable op "value"`` (or
  ``"value" in variable`` for the membership form, see
  :attr:`MarkerAtom.value_first`);
* :class:`MarkerAnd` / :class:`MarkerOr` — a flattened frozenset of children;
* :data:`TRUE` (the empty ``and``) and :data:`FALSE` (the empty ``or``).

Build expressions with :func:`parse_marker`, :func:`marker_and`,
:func:`marker_or` and :func:`marker_not`; reduce them with :func:`simplify`
(which goes through :func:`to_dnf`); write them with :func:`render`; test them
with :func:`evaluate` and :func:`evaluate_mask`.

The variables are those of PEP 508 plus the lock-file variables of PEP 751
(``'dev' in dependency_groups``, ``'plots' in extras``). Legacy dotted names
(``os.name``, ``sys.platform``, …) are accepted and mapped to the modern ones.
Extra names are normalized per PEP 685.

Semantics follow ``packaging`` 26 (:meth:`packaging.markers.Marker.evaluate`):
a comparison on a version-valued variable (``python_version``,
``python_full_version``, ``implementation_version``, ``platform_release``)
whose value forms a valid specifier is a PEP 440 specifier test; anything else
is a string comparison in which ``<`` and ``>`` are never true and ``<=`` and
``>=`` mean ``==``.

Two approximations are documented where they apply: negating an ordered
version comparison (``<`` ↔ ``>=``) is exact for final releases, not for
pre-releases of the compared version (PEP 440 makes ``python_full_version <
"3.13"`` and ``>= "3.13"`` both false on ``3.13.0rc1``); and :func:`simplify`
assumes ``python_version`` is the ``X.Y`` prefix of ``python_full_version``,
as it is on every interpreter.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final, Literal, NoReturn, TypeAlias

from packaging.markers import Marker
from packaging.ranges import VersionRange
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import RequirementError

__all__ = [
    "FALSE",
    "FALSE_MARKER",
    "TRUE",
    "VARIABLES",
    "Environment",
    "EvaluateContext",
    "MarkerAnd",
    "MarkerAtom",
    "MarkerExpression",
    "MarkerOr",
    "evaluate",
    "evaluate_mask",
    "from_packaging",
    "marker_and",
    "marker_not",
    "marker_or",
    "parse_marker",
    "render",
    "render_for_lock",
    "simplify",
    "substitute",
    "substitute_extra",
    "to_dnf",
]

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


# --------------------------------------------------------------------------- the tree


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


# --------------------------------------------------------------------------- parsing

_TOKEN: Final = re.compile(
    r"""
      (?P<space>[ \t]+)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<op>===|==|~=|!=|<=|>=|<|>)
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)
_KEYWORDS: Final = frozenset({"and", "or", "in", "not"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


class _Parser:
    """Recursive descent over the PEP 508 marker grammar::

    marker_or   = marker_and ("or" marker_and)*
    marker_and  = marker_expr ("and" marker_expr)*
    marker_expr = marker_var marker_op marker_var | "(" marker_or ")"
    marker_op   = version_cmp | "in" | "not" "in"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize()
        self.index = 0

    def fail(self, message: str, position: int) -> NoReturn:
        where = "its end" if position >= len(self.text) else f"column {position + 1}"
        raise RequirementError(f"Invalid marker {self.text!r} at {where}: {message}.")

    def _tokenize(self) -> list[_Token]:
        tokens: list[_Token] = []
        position = 0
        while position < len(self.text):
            match = _TOKEN.match(self.text, position)
            if match is None:
                char = self.text[position]
                if char in "'\"":
                    self.fail(f"the string opened with {char} is not closed", position)
                self.fail(f"unexpected character {char!r}", position)
            kind = match.lastgroup
            assert kind is not None
            if kind != "space":
                tokens.append(_Token(kind, match.group(), position))
            position = match.end()
        return tokens

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def position(self) -> int:
        token = self.peek()
        return len(self.text) if token is None else token.position

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text == word

    def parse(self) -> MarkerExpression:
        expression = self.parse_or()
        if self.peek() is not None:
            self.fail("expected 'and', 'or' or the end of the marker", self.position())
        return expression

    def parse_or(self) -> MarkerExpression:
        children = [self.parse_and()]
        while self.at_keyword("or"):
            self.index += 1
            children.append(self.parse_and())
        return marker_or(*children)

    def parse_and(self) -> MarkerExpression:
        children = [self.parse_primary()]
        while self.at_keyword("and"):
            self.index += 1
            children.append(self.parse_primary())
        return marker_and(*children)

    def parse_primary(self) -> MarkerExpression:
        token = self.peek()
        if token is not None and token.kind == "lparen":
            self.index += 1
            inner = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                self.fail(
                    f"the '(' at column {token.position + 1} is not closed",
                    self.position(),
                )
            self.index += 1
            return inner
        return self.parse_comparison()

    def parse_operand(self) -> tuple[str, bool]:
        """One side of a comparison: (variable name or value text, is_variable)."""
        token = self.peek()
        if token is None or token.kind not in ("name", "string") or token.text in _KEYWORDS:
            self.fail("expected a marker variable or a quoted string", self.position())
        self.index += 1
        if token.kind == "string":
            value = token.text[1:-1]
            if "\\" in value:
                self.fail("backslashes are not allowed in marker strings", token.position)
            return value, False
        name = _LEGACY_VARIABLES.get(token.text, token.text)
        if name not in _VARIABLE_INDEX:
            self.fail(f"unknown marker variable {token.text!r}", token.position)
        return name, True

    def parse_operator(self) -> str:
        token = self.peek()
        if token is not None and token.kind == "op":
            self.index += 1
            return token.text
        if self.at_keyword("in"):
            self.index += 1
            return "in"
        if self.at_keyword("not"):
            self.index += 1
            if not self.at_keyword("in"):
                self.fail("expected 'in' after 'not'", self.position())
            self.index += 1
            return "not in"
        self.fail(
            "expected a marker operator (==, !=, <, <=, >, >=, ~=, ===, in, not in)",
            self.position(),
        )

    def parse_comparison(self) -> MarkerExpression:
        start = self.position()
        left, left_is_variable = self.parse_operand()
        op = self.parse_operator()
        right, right_is_variable = self.parse_operand()
        if left_is_variable == right_is_variable:
            kind = "two variables" if left_is_variable else "two strings"
            self.fail(f"a comparison needs one variable and one quoted string, not {kind}", start)
        try:
            if left_is_variable:
                return MarkerAtom(left, op, right)
            return MarkerAtom(right, op, left, value_first=True)
        except RequirementError as error:
            self.fail(error.message.rstrip("."), start)


@functools.lru_cache(maxsize=8192)
def parse_marker(text: str) -> MarkerExpression:
    """Parse PEP 508 marker text into an expression.

    Accepts the PEP 508 grammar (``and`` binds tighter than ``or``,
    parentheses, single or double quotes, every operator), the PEP 751
    variables ``extras`` and ``dependency_groups``, and the legacy dotted
    variable names. Ordered comparisons written value-first are turned
    around, extra names are normalized (PEP 685).

    :param text: the marker, e.g. ``'python_version < "3.11" and os_name == "nt"'``.
    :returns: a :data:`MarkerExpression` (not simplified).
    :raises RequirementError: when the text is not a valid marker; the
        message quotes it and names the column where parsing failed.
    """
    try:
        return _Parser(text).parse()
    except RecursionError as exc:
        raise RequirementError(
            f"The marker {text[:60]!r}… is nested too deeply to read.",
            hint="Simplify its parentheses.",
        ) from exc


def from_packaging(marker: Marker) -> MarkerExpression:
    """The expression of a :class:`packaging.markers.Marker` (via its text).

    :raises RequirementError: for the few markers packaging accepts but this
        module refuses (``~=`` on a string variable, ``extras`` outside the
        membership form, ...).
    """
    return parse_marker(str(marker))


# --------------------------------------------------------------------------- combinators


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


# --------------------------------------------------------------------------- DNF

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


# --------------------------------------------------------------------------- Python ranges

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


# --------------------------------------------------------------------------- simplify


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


# --------------------------------------------------------------------------- rendering


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


# --------------------------------------------------------------------------- evaluation

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
