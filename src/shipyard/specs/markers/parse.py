"""Parsing PEP 508 marker text (and packaging Markers) into the tree."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, NoReturn

from packaging.markers import Marker

from shipyard.errors import RequirementError
from shipyard.specs.markers.algebra import marker_and, marker_or
from shipyard.specs.markers.tree import (
    _LEGACY_VARIABLES,
    _VARIABLE_INDEX,
    MarkerAtom,
    MarkerExpression,
)

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
