"""A small algebra of PEP 508 markers for building lock-file markers.

A marker expression is kept in disjunctive normal form: a frozenset of clauses,
each clause a frozenset of :class:`Atom` (``variable op value``). ``TRUE`` is
the set holding one empty clause, ``FALSE`` the empty set. This makes ``and``,
``or``, substitution and simplification plain set operations, and makes
rendering deterministic (atoms and clauses are sorted).

Lock-file variables from PEP 751 (``'dev' in dependency_groups``,
``'plots' in extras``) are atoms like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import RequirementError

__all__ = [
    "FALSE",
    "TRUE",
    "Atom",
    "MarkerExpression",
    "evaluate",
    "marker_and",
    "marker_not",
    "marker_or",
    "parse_marker",
    "render",
    "simplify",
    "substitute_extra",
]


@dataclass(frozen=True, slots=True, order=True)
class Atom:
    """One comparison. ``reverse`` marks the ``"value" in variable`` form (the variable
    on the right), used by ``extras``/``dependency_groups`` and substring tests."""

    variable: str
    op: str
    value: str
    reverse: bool = False

    def render(self) -> str:
        """The atom as PEP 508 text, value double-quoted."""
        quoted = '"' + self.value + '"' if '"' not in self.value else "'" + self.value + "'"
        if self.reverse:
            return f"{quoted} {self.op} {self.variable}"
        return f"{self.variable} {self.op} {quoted}"


Clause = frozenset[Atom]
MarkerExpression = frozenset[Clause]

TRUE: MarkerExpression = frozenset({frozenset()})
FALSE: MarkerExpression = frozenset()

_VERSION_VARIABLES = frozenset({"python_version", "python_full_version", "implementation_version"})
_NEGATED = {
    "==": "!=",
    "!=": "==",
    "<": ">=",
    ">=": "<",
    ">": "<=",
    "<=": ">",
    "in": "not in",
    "not in": "in",
    "===": None,
    "~=": None,
}
_FLIPPED = {
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
    "==": "==",
    "!=": "!=",
    "===": "===",
    "~=": "~=",
}
_LEGACY = {
    "os.name": "os_name",
    "sys.platform": "sys_platform",
    "platform.version": "platform_version",
    "platform.machine": "platform_machine",
    "platform.python_implementation": "platform_python_implementation",
    "python_implementation": "platform_python_implementation",
}


def _atom(left: object, op: str, right: object) -> Atom:
    """Build a normalized atom from packaging's parsed (Variable/Value, Op, Variable/Value)."""
    left_kind, right_kind = type(left).__name__, type(right).__name__
    left_text, right_text = str(left), str(right)
    if left_kind == "Variable":
        variable = _LEGACY.get(left_text, left_text)
        value = right_text
        if variable == "extra":
            value = canonicalize_name(value)
        return Atom(variable, op, value)
    if right_kind == "Variable":
        variable = _LEGACY.get(right_text, right_text)
        if op in ("in", "not in"):
            value = left_text
            if variable in ("extras",):
                value = canonicalize_name(value)
            return Atom(variable, op, value, reverse=True)
        return Atom(variable, _FLIPPED[op], left_text)
    raise RequirementError(f"A marker compares two literals: {left_text} {op} {right_text}.")


def _from_tree(tree: object) -> MarkerExpression:
    """Convert packaging's internal parse tree (a list of items and 'and'/'or')."""
    if isinstance(tree, tuple):
        left, op, right = tree
        return frozenset({frozenset({_atom(left, str(op), right)})})
    assert isinstance(tree, list)
    groups: list[list[MarkerExpression]] = [[]]
    for item in tree:
        if item == "or":
            groups.append([])
        elif item == "and":
            continue
        else:
            groups[-1].append(_from_tree(item))
    return marker_or(*(marker_and(*group) for group in groups))


@lru_cache(maxsize=8192)
def parse_marker(text: str) -> MarkerExpression:
    """Parse PEP 508 marker text (including PEP 751 ``extras``/``dependency_groups``).

    Parsing is done by ``packaging``; its tree is converted to DNF.

    :raises RequirementError: when the text is not a valid marker.
    """
    try:
        parsed = Marker(text)
    except InvalidMarker as exc:
        raise RequirementError(f"Invalid marker {text!r}: {exc}.") from exc
    return _from_tree(parsed._markers)


def marker_and(*expressions: MarkerExpression) -> MarkerExpression:
    """The conjunction (DNF cross product; contradictory clauses are kept until
    :func:`simplify`)."""
    result = TRUE
    for expression in expressions:
        if expression == TRUE:
            continue
        if not expression or not result:
            return FALSE
        result = frozenset(a | b for a, b in product(result, expression))
    return result


def marker_or(*expressions: MarkerExpression) -> MarkerExpression:
    """The disjunction (union of clauses)."""
    clauses: set[Clause] = set()
    for expression in expressions:
        clauses |= expression
    return _absorb(frozenset(clauses))


def _negate_atom(atom: Atom) -> MarkerExpression:
    negated = _NEGATED.get(atom.op)
    if negated is not None:
        return frozenset({frozenset({Atom(atom.variable, negated, atom.value, atom.reverse)})})
    if atom.op == "~=" and not atom.reverse:
        # ~=X.Y means >=X.Y, ==X.*  → not: <X.Y or >=(X+1)
        spec = Specifier(f"~={atom.value}")
        release = Version(spec.version).release
        upper = (
            ".".join(str(p) for p in (*release[:-2], release[-2] + 1)) if len(release) > 1 else None
        )
        clauses = {frozenset({Atom(atom.variable, "<", atom.value)})}
        if upper:
            clauses.add(frozenset({Atom(atom.variable, ">=", upper)}))
        return frozenset(clauses)
    # === : string identity; its negation is !=, close enough for the version variables
    return frozenset({frozenset({Atom(atom.variable, "!=", atom.value, atom.reverse)})})


def marker_not(expression: MarkerExpression) -> MarkerExpression:
    """The negation (De Morgan over the DNF)."""
    result = TRUE
    for clause in expression:
        if not clause:
            return FALSE
        result = marker_and(result, marker_or(*(_negate_atom(a) for a in clause)))
    return result


def substitute_extra(expression: MarkerExpression, extra: str) -> MarkerExpression:
    """Replace ``extra == "x"`` atoms by their value when the selected extra is ``extra``
    (``""`` for none): true atoms vanish, clauses with a false atom vanish."""
    wanted = canonicalize_name(extra) if extra else ""
    clauses = set()
    for clause in expression:
        kept = []
        alive = True
        for atom in clause:
            if atom.variable != "extra":
                kept.append(atom)
                continue
            if not _compare_string(wanted, atom.op, atom.value):
                alive = False
                break
        if alive:
            clauses.add(frozenset(kept))
    return _absorb(frozenset(clauses))


def _compare_string(actual: str, op: str, value: str) -> bool:
    if op == "==":
        return actual == value
    if op == "!=":
        return actual != value
    if op == "in":
        return actual in value
    if op == "not in":
        return actual not in value
    return False


def _atom_holds(atom: Atom, environment: Mapping[str, str | frozenset[str]]) -> bool:
    actual = environment.get(atom.variable, "")
    if atom.reverse:
        collection = actual if isinstance(actual, frozenset) else str(actual)
        contained = atom.value in collection
        return contained if atom.op == "in" else not contained
    assert isinstance(actual, str)
    if atom.variable in _VERSION_VARIABLES and atom.op not in ("in", "not in"):
        try:
            spec = Specifier(f"{atom.op}{atom.value}")
            return spec.contains(actual, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            pass
    if atom.variable == "extra":
        actual = canonicalize_name(actual) if actual else ""
    if atom.op in ("==", "===", "!=", "in", "not in"):
        return _compare_string(actual, "==" if atom.op == "===" else atom.op, atom.value)
    try:
        return Specifier(f"{atom.op}{atom.value}").contains(actual, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def evaluate(expression: MarkerExpression, environment: Mapping[str, str | frozenset[str]]) -> bool:
    """Whether the expression holds in ``environment`` (missing variables are ``""``)."""
    return any(all(_atom_holds(a, environment) for a in clause) for clause in expression)


def _absorb(expression: MarkerExpression) -> MarkerExpression:
    """Drop clauses that contain another clause (``A or (A and B)`` is ``A``)."""
    if frozenset() in expression:
        return TRUE
    ordered = sorted(expression, key=len)
    kept: list[Clause] = []
    for clause in ordered:
        if not any(other <= clause for other in kept):
            kept.append(clause)
    return frozenset(kept)


def _python_samples(requires_python: SpecifierSet | None) -> list[tuple[str, str]]:
    """(python_version, python_full_version) pairs that stand for every Python
    requires-python allows: each minor's lowest allowed patch and a late patch."""
    samples = []
    for minor in range(0, 41):
        for patch in (0, 1, 2, 4, 8, 20, 99):
            full = f"3.{minor}.{patch}"
            if requires_python is None or requires_python.contains(full, prereleases=True):
                samples.append((f"3.{minor}", full))
    for major_two in ("2.7.18",):
        if requires_python is None or requires_python.contains(major_two, prereleases=True):
            samples.append(("2.7", major_two))
    return samples


def _clause_is_contradiction(clause: Clause, samples: list[tuple[str, str]]) -> bool:
    equal: dict[str, str] = {}
    for atom in clause:
        if atom.reverse or atom.variable in _VERSION_VARIABLES:
            continue
        if atom.op == "==":
            if atom.variable in equal and equal[atom.variable] != atom.value:
                return True
            equal[atom.variable] = atom.value
    for atom in clause:
        if atom.reverse or atom.variable in _VERSION_VARIABLES:
            continue
        if atom.op == "!=" and equal.get(atom.variable) == atom.value:
            return True
    for atom in clause:
        negation = Atom(atom.variable, _NEGATED.get(atom.op) or "", atom.value, atom.reverse)
        if negation in clause:
            return True
    python = [a for a in clause if a.variable in ("python_version", "python_full_version")]
    if python and samples:
        for short, full in samples:
            env = {"python_version": short, "python_full_version": full}
            if all(_atom_holds(a, env) for a in python):
                return False
        return True
    return False


def simplify(
    expression: MarkerExpression, *, requires_python: SpecifierSet | None = None
) -> MarkerExpression:
    """A smaller equivalent expression (equivalent wherever ``requires_python`` holds).

    Drops Python atoms that every allowed Python satisfies, clauses no allowed Python
    (or no environment at all: ``sys_platform == "linux" and sys_platform == "win32"``)
    can satisfy, duplicate and absorbed clauses, and merges clauses that differ only
    in complementary atoms (``A and x`` or ``A and not x`` → ``A``).
    """
    samples = _python_samples(requires_python)
    clauses: set[Clause] = set()
    for clause in expression:
        if _clause_is_contradiction(clause, samples):
            continue
        kept = set()
        for atom in clause:
            if (
                atom.variable in ("python_version", "python_full_version")
                and samples
                and all(
                    _atom_holds(atom, {"python_version": s, "python_full_version": f})
                    for s, f in samples
                )
            ):
                continue
            kept.add(atom)
        clauses.add(frozenset(kept))
    result = _absorb(frozenset(clauses))
    return _merge_complements(result)


def _merge_complements(expression: MarkerExpression) -> MarkerExpression:
    changed = True
    current = set(expression)
    while changed and len(current) > 1:
        changed = False
        for clause in sorted(current, key=lambda c: sorted(c)):
            for atom in clause:
                negated = _negate_atom(atom)
                if len(negated) != 1:
                    continue
                (single,) = tuple(negated)
                if len(single) != 1:
                    continue
                other = (clause - {atom}) | single
                if other in current:
                    current.discard(clause)
                    current.discard(other)
                    current.add(clause - {atom})
                    changed = True
                    break
            if changed:
                break
        if changed:
            current = set(_absorb(frozenset(current)))
    return frozenset(current)


_ORDER = {
    name: index
    for index, name in enumerate(
        (
            "python_version",
            "python_full_version",
            "implementation_name",
            "platform_python_implementation",
            "implementation_version",
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
    )
}


def _atom_key(atom: Atom) -> tuple[int, str, str, str]:
    return (_ORDER.get(atom.variable, 99), atom.variable, atom.op, atom.value)


def render(expression: MarkerExpression) -> str | None:
    """Canonical PEP 508 text; ``None`` for ``TRUE``. ``FALSE`` renders as
    ``python_version < "0"``, which no interpreter satisfies."""
    if expression == TRUE or frozenset() in expression:
        return None
    if not expression:
        return 'python_version < "0"'
    rendered = []
    for clause in expression:
        atoms = sorted(clause, key=_atom_key)
        text = " and ".join(a.render() for a in atoms)
        rendered.append((tuple(_atom_key(a) for a in atoms), text, len(atoms)))
    rendered.sort()
    if len(rendered) == 1:
        return rendered[0][1]
    return " or ".join(f"({text})" if count > 1 else text for _key, text, count in rendered)


def iter_atoms(expression: MarkerExpression) -> Iterable[Atom]:
    """Every atom of the expression (for inspection)."""
    for clause in expression:
        yield from clause
