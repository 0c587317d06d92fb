"""The marker algebra: parsing, combining, simplifying, rendering and evaluating
lock markers, checked against packaging's own evaluation on a grid of target
environments."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from shipyard.errors import RequirementError
from shipyard.specs.markers import (
    FALSE,
    FALSE_MARKER,
    TRUE,
    MarkerAnd,
    MarkerAtom,
    MarkerExpression,
    MarkerOr,
    evaluate,
    evaluate_mask,
    from_packaging,
    marker_and,
    marker_not,
    marker_or,
    parse_marker,
    render,
    render_for_lock,
    simplify,
    substitute_extra,
    to_dnf,
)

Environment = Mapping[str, str | AbstractSet[str]]

# --------------------------------------------------------------------------- the grid

PYTHONS = [
    "3.8.10",
    "3.9.0",
    "3.9.2",
    "3.9.5",
    "3.10.0",
    "3.11.4",
    "3.12.1",
    "3.13.0",
    "3.14.0",
]
PLATFORMS = [
    # sys_platform, platform_system, os_name, platform_machine, implementation
    ("linux", "Linux", "posix", "x86_64", "cpython"),
    ("linux", "Linux", "posix", "aarch64", "cpython"),
    ("darwin", "Darwin", "posix", "x86_64", "cpython"),
    ("darwin", "Darwin", "posix", "arm64", "cpython"),
    ("win32", "Windows", "nt", "AMD64", "cpython"),
    ("linux", "Linux", "posix", "x86_64", "pypy"),
]
SELECTIONS = [
    # extras, dependency_groups, extra
    (extras, groups, extra)
    for extras in (frozenset(), frozenset({"plots"}))
    for groups in (frozenset(), frozenset({"dev"}))
    for extra in ("", "x")
]


def make_environment(
    full_version: str,
    platform: tuple[str, str, str, str, str],
    selection: tuple[frozenset[str], frozenset[str], str],
) -> dict[str, str | AbstractSet[str]]:
    sys_platform, system, os_name, machine, implementation = platform
    extras, groups, extra = selection
    major, minor = full_version.split(".")[:2]
    return {
        "python_version": f"{major}.{minor}",
        "python_full_version": full_version,
        "implementation_name": implementation,
        "implementation_version": full_version,
        "platform_python_implementation": "PyPy" if implementation == "pypy" else "CPython",
        "os_name": os_name,
        "sys_platform": sys_platform,
        "platform_system": system,
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
        "extra": extra,
        "extras": extras,
        "dependency_groups": groups,
    }


GRID: tuple[dict[str, str | AbstractSet[str]], ...] = tuple(
    make_environment(python, platform, selection)
    for python, platform, selection in itertools.product(PYTHONS, PLATFORMS, SELECTIONS)
)


def packaging_mask(text: str | None, environments: tuple[Environment, ...] = GRID) -> int:
    """Bit i set when packaging says the marker holds on environments[i]."""
    if text is None:
        return (1 << len(environments)) - 1
    marker = Marker(text)
    mask = 0
    for index, environment in enumerate(environments):
        if marker.evaluate(environment, context="lock_file"):
            mask |= 1 << index
    return mask


def allowed_mask(requires_python: str | None) -> int:
    if requires_python is None:
        return (1 << len(GRID)) - 1
    allowed = SpecifierSet(requires_python)
    mask = 0
    for index, environment in enumerate(GRID):
        full_version = environment["python_full_version"]
        assert isinstance(full_version, str)
        if allowed.contains(full_version):
            mask |= 1 << index
    return mask


def ours(expression: MarkerExpression) -> int:
    return evaluate_mask(expression, GRID, context="lock_file")


# --------------------------------------------------------------------------- real-world markers

REAL_WORLD = [
    'platform_system == "Windows"',
    'python_version < "3.11"',
    'sys_platform != "win32" and sys_platform != "cygwin" and platform_python_implementation != "PyPy"',
    'extra == "socks"',
    'os_name == "nt"',
    'python_full_version < "3.9.2"',
    'implementation_name == "cpython" and python_version >= "3.8"',
    "python_version >= '3.9' and python_version < '3.12' and (sys_platform == 'linux' or sys_platform == 'darwin')",
    "'dev' in dependency_groups and sys_platform == 'win32'",
    "'plots' in extras or extra == 'x'",
    'platform_machine == "x86_64" or platform_machine == "AMD64"',
    'python_version ~= "3.10"',
    'python_version == "3.*"',
    'python_full_version >= "3.9.1" and python_full_version != "3.10.0"',
]


@pytest.mark.parametrize("text", REAL_WORLD)
def test_real_world_markers_render_and_evaluate_like_packaging(text: str) -> None:
    expression = parse_marker(text)
    rendered = render(expression)
    assert rendered is not None
    assert ours(expression) == packaging_mask(text)
    assert packaging_mask(rendered) == packaging_mask(text)
    assert render(parse_marker(rendered)) == rendered


@pytest.mark.parametrize("text", REAL_WORLD)
def test_real_world_markers_negate_exactly(text: str) -> None:
    everything = (1 << len(GRID)) - 1
    negation = marker_not(parse_marker(text))
    assert ours(negation) == everything & ~packaging_mask(text)
    assert packaging_mask(render(negation)) == everything & ~packaging_mask(text)


def test_the_uvloop_marker_renders_sorted_and_negates_by_de_morgan() -> None:
    text = (
        'sys_platform != "win32" and sys_platform != "cygwin" '
        'and platform_python_implementation != "PyPy"'
    )
    expression = parse_marker(text)
    assert render(expression) == (
        'platform_python_implementation != "PyPy" '
        'and sys_platform != "cygwin" and sys_platform != "win32"'
    )
    assert render(marker_not(expression)) == (
        'platform_python_implementation == "PyPy" '
        'or sys_platform == "cygwin" or sys_platform == "win32"'
    )


# --------------------------------------------------------------------------- parsing


def test_atoms_are_normalized_on_parse() -> None:
    assert parse_marker("'3.8' <= python_version") == MarkerAtom("python_version", ">=", "3.8")
    assert parse_marker('"3.8" > python_version') == MarkerAtom("python_version", "<", "3.8")
    assert parse_marker("sys.platform == 'linux'") == MarkerAtom("sys_platform", "==", "linux")
    assert parse_marker("python_implementation == 'PyPy'") == MarkerAtom(
        "platform_python_implementation", "==", "PyPy"
    )
    assert parse_marker("os.name == 'nt'") == MarkerAtom("os_name", "==", "nt")
    assert parse_marker("extra == 'Foo_Bar'") == MarkerAtom("extra", "==", "foo-bar")
    assert parse_marker("'Dev_Tools' in dependency_groups") == MarkerAtom(
        "dependency_groups", "in", "dev-tools", value_first=True
    )


def test_membership_keeps_the_side_of_the_variable() -> None:
    value_first = parse_marker("'linux' in sys_platform")
    variable_first = parse_marker("sys_platform in 'linux darwin'")
    assert value_first == MarkerAtom("sys_platform", "in", "linux", value_first=True)
    assert variable_first == MarkerAtom("sys_platform", "in", "linux darwin")
    assert render(value_first) == '"linux" in sys_platform'
    assert render(variable_first) == 'sys_platform in "linux darwin"'


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = (MarkerAtom("os_name", "==", name) for name in ("a", "b", "c"))
    assert parse_marker("os_name == 'a' or os_name == 'b' and os_name == 'c'") == marker_or(
        a, marker_and(b, c)
    )
    assert parse_marker("(os_name == 'a' or os_name == 'b') and os_name == 'c'") == marker_and(
        marker_or(a, b), c
    )
    assert parse_marker("((os_name=='a'))") == a


def test_all_operators_parse() -> None:
    for op in ("==", "!=", "<", "<=", ">", ">=", "~=", "==="):
        assert parse_marker(f'python_version {op} "3.10"') == MarkerAtom(
            "python_version", op, "3.10"
        )
    assert parse_marker('"a" not in os_name') == MarkerAtom("os_name", "not in", "a", True)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "at its end"),
        ("python_version", "at its end"),
        ('python_version >= "3.8" and', "at its end"),
        ('python_version >= "3.8" xor os_name == "nt"', "at column 25"),
        ('(python_version >= "3.8"', "at its end"),
        ('python_version >= "3.8', "at column 19"),
        ('platform == "linux"', "at column 1"),
        ('python_version not "3.8"', "at column 20"),
        ('python_version = "3.8"', "at column 16"),
        ('"a" == "b"', "at column 1"),
        ("python_version == python_full_version", "at column 1"),
        ('sys_platform ~= "linux"', "at column 1"),
        ('extras == "plots"', "at column 1"),
        ('dependency_groups in "dev"', "at column 1"),
        ('"3.8" ~= python_version', "at column 1"),
        ('os_name == "n\\t"', "at column 12"),
        ('os_name == "nt"\nand os_name == "nt"', "at column 16"),
    ],
)
def test_invalid_markers_are_reported_with_their_position(text: str, where: str) -> None:
    with pytest.raises(RequirementError) as caught:
        parse_marker(text)
    assert f"Invalid marker {text!r} {where}" in caught.value.message


def test_from_packaging_uses_the_marker_text() -> None:
    marker = Marker("python_version<'3.11' and extra=='Socks'")
    assert from_packaging(marker) == marker_and(
        MarkerAtom("python_version", "<", "3.11"), MarkerAtom("extra", "==", "socks")
    )


def test_atoms_reject_values_that_cannot_be_rendered() -> None:
    with pytest.raises(RequirementError):
        MarkerAtom("os_name", "==", "a'b\"c")
    with pytest.raises(RequirementError):
        MarkerAtom("nonsense", "==", "a")
    assert render(MarkerAtom("os_name", "==", 'a"b')) == "os_name == 'a\"b'"


# --------------------------------------------------------------------------- combinators


def test_true_and_false_are_identities_and_absorbers() -> None:
    a = parse_marker('os_name == "nt"')
    assert marker_and() == TRUE and marker_or() == FALSE
    assert marker_and(a, TRUE) == a and marker_or(a, FALSE) == a
    assert marker_and(a, FALSE) == FALSE and marker_or(a, TRUE) == TRUE
    assert marker_not(TRUE) == FALSE and marker_not(FALSE) == TRUE
    assert render(TRUE) is None
    assert render(FALSE) == FALSE_MARKER
    assert packaging_mask(FALSE_MARKER) == 0
    assert simplify(parse_marker(FALSE_MARKER)) == FALSE


def test_combinators_flatten() -> None:
    a, b, c = (MarkerAtom("os_name", "==", name) for name in ("a", "b", "c"))
    assert marker_and(marker_and(a, b), c) == MarkerAnd(frozenset({a, b, c}))
    assert marker_or(a, marker_or(b, c)) == MarkerOr(frozenset({a, b, c}))
    assert marker_and(a, a) == a


def test_negation_of_compatible_and_arbitrary_equality() -> None:
    compatible = marker_not(parse_marker('python_version ~= "3.10"'))
    assert render(compatible) == 'python_version != "3.*" or python_version < "3.10"'
    arbitrary = marker_not(parse_marker('python_version === "3.10"'))
    assert render(arbitrary) == 'python_version not in "3.10" or "3.10" not in python_version'
    for text, negation in (
        ('python_version ~= "3.10"', compatible),
        ('python_version === "3.10"', arbitrary),
    ):
        assert ours(negation) == ((1 << len(GRID)) - 1) & ~packaging_mask(text)


def test_string_ordering_follows_packaging() -> None:
    # packaging: without versions on both sides '<' never holds and '<=' is '=='
    assert ours(parse_marker('sys_platform < "win32"')) == packaging_mask('sys_platform < "win32"')
    assert ours(parse_marker('sys_platform <= "win32"')) == packaging_mask(
        'sys_platform == "win32"'
    )
    assert marker_not(parse_marker('sys_platform < "win32"')) == TRUE
    assert render(marker_not(parse_marker('sys_platform >= "linux"'))) == 'sys_platform != "linux"'


def test_substitute_extra_fixes_the_extra_atoms() -> None:
    expression = parse_marker('extra == "socks" and os_name == "nt" or extra == "http2"')
    assert substitute_extra(expression, "Socks") == parse_marker('os_name == "nt"')
    assert substitute_extra(expression, "") == FALSE
    assert substitute_extra(expression, "http2") == TRUE


# --------------------------------------------------------------------------- DNF and simplify


def test_to_dnf_distributes_and_absorbs() -> None:
    a, b = (MarkerAtom("os_name", "==", name) for name in ("a", "b"))
    c = MarkerAtom("sys_platform", "==", "c")
    assert to_dnf(parse_marker("(os_name == 'a' or os_name == 'b') and sys_platform == 'c'")) == {
        frozenset({a, c}),
        frozenset({b, c}),
    }
    assert to_dnf(marker_or(a, marker_and(a, c))) == {frozenset({a})}
    # clauses that can never hold are left out
    assert to_dnf(parse_marker("(os_name == 'a' or os_name == 'b') and os_name == 'a'")) == {
        frozenset({a})
    }
    assert to_dnf(marker_and(a, marker_not(a))) == frozenset()
    assert to_dnf(TRUE) == {frozenset()}
    assert to_dnf(FALSE) == frozenset()


@pytest.mark.parametrize(
    ("text", "requires_python", "expected"),
    [
        # (a) requires-python makes Python atoms always true or always false
        ('python_version >= "3.8" and os_name == "nt"', ">=3.9", 'os_name == "nt"'),
        ('python_version < "3.9" and os_name == "nt"', ">=3.9", FALSE_MARKER),
        ('python_version < "3.9" or os_name == "nt"', ">=3.9", 'os_name == "nt"'),
        ('python_version > "3.10"', ">=3.11", None),
        ('python_version > "3.10"', ">=3.10.5", 'python_version > "3.10"'),
        ('python_version <= "3.10"', ">=3.11", FALSE_MARKER),
        ('python_full_version >= "3.9.1"', ">=3.9.2", None),
        ('python_full_version < "3.9.2"', ">=3.9", 'python_full_version < "3.9.2"'),
        ('python_version == "3.*"', ">=3.8,<4", None),
        ('python_version == "3.*"', ">=3.8", 'python_version == "3.*"'),
        # (b) contradictions
        ('python_version < "3.10" and python_version >= "3.11"', None, FALSE_MARKER),
        ('python_version > "3.10" and python_version < "3.11"', None, FALSE_MARKER),
        ('sys_platform == "linux" and sys_platform == "win32"', None, FALSE_MARKER),
        ('sys_platform == "linux" and sys_platform != "linux"', None, FALSE_MARKER),
        ("'dev' in dependency_groups and 'dev' not in dependency_groups", None, FALSE_MARKER),
        ('extra == "a" and extra == "b"', None, FALSE_MARKER),
        ('python_version < "3.9" and python_full_version >= "3.9.0"', None, FALSE_MARKER),
        # implied atoms
        ('sys_platform == "linux" and sys_platform != "win32"', None, 'sys_platform == "linux"'),
        ('python_version >= "3.8" and python_version >= "3.10"', None, 'python_version >= "3.10"'),
        (
            'python_version >= "3.9" and python_full_version >= "3.9.2"',
            None,
            'python_full_version >= "3.9.2"',
        ),
        # (c) duplicates and subsumed clauses
        (
            'os_name == "nt" or (os_name == "nt" and sys_platform == "win32")',
            None,
            'os_name == "nt"',
        ),
        (
            'python_version >= "3.10" or (python_version >= "3.11" and os_name == "nt")',
            None,
            'python_version >= "3.10"',
        ),
        # (d) complementary ranges and atoms merge
        (
            '(os_name == "nt" and python_version < "3.11") or (os_name == "nt" and python_version >= "3.11")',
            None,
            'os_name == "nt"',
        ),
        (
            '(os_name == "nt" and python_version < "3.11") or (os_name == "nt" and python_version > "3.10")',
            None,
            'os_name == "nt"',
        ),
        (
            'python_version < "3.11" or (python_version >= "3.11" and sys_platform == "linux")',
            None,
            'python_version < "3.11" or sys_platform == "linux"',
        ),
        (
            '(sys_platform == "linux" and extra == "x") or (sys_platform != "linux" and extra == "x")',
            None,
            'extra == "x"',
        ),
        (
            'python_version < "3.10" or python_version >= "3.10" and python_version < "3.12"',
            ">=3.8",
            'python_version < "3.12"',
        ),
        # (e) an emptied clause is TRUE
        ('python_version >= "3.9" or os_name == "nt"', ">=3.9", None),
        ('python_version < "3.11" or python_version >= "3.11"', None, None),
    ],
)
def test_simplify(text: str, requires_python: str | None, expected: str | None) -> None:
    specifiers = SpecifierSet(requires_python) if requires_python is not None else None
    simplified = simplify(parse_marker(text), requires_python=specifiers)
    assert render(simplified) == expected
    allowed = allowed_mask(requires_python)
    assert packaging_mask(render(simplified)) & allowed == packaging_mask(text) & allowed


def test_simplify_is_exact_on_prerelease_interpreters() -> None:
    # python_version is "3.13" on 3.13.0rc1, but python_full_version >= "3.13" is false there.
    environments = tuple(
        make_environment(python, PLATFORMS[0], SELECTIONS[0])
        for python in ("3.12.7", "3.13.0rc1", "3.13.0", "3.13.1")
    )
    for text in (
        'python_version < "3.13" or python_full_version >= "3.13"',
        'python_version >= "3.13" and python_full_version < "3.13"',
        'python_version >= "3.13" or python_full_version < "3.13"',
    ):
        simplified = render(simplify(parse_marker(text)))
        assert packaging_mask(simplified, environments) == packaging_mask(text, environments), text


def test_render_order_is_canonical() -> None:
    texts = [
        'sys_platform == "linux" and python_version >= "3.10" and "dev" in dependency_groups',
        '"dev" in dependency_groups and sys_platform == "linux" and python_version >= "3.10"',
        "'3.10' <= python_version and 'dev' in dependency_groups and sys.platform == 'linux'",
    ]
    rendered = {render(parse_marker(text)) for text in texts}
    assert rendered == {
        'python_version >= "3.10" and sys_platform == "linux" and "dev" in dependency_groups'
    }
    ranges = parse_marker(
        'python_version >= "3.12" or python_version < "3.9" or (os_name == "nt" and python_version == "3.10")'
    )
    assert render(ranges) == (
        'python_version < "3.9" or python_version == "3.10" and os_name == "nt" '
        'or python_version >= "3.12"'
    )
    nested = parse_marker(
        'os_name == "nt" and (sys_platform == "win32" or sys_platform == "cygwin")'
    )
    assert (
        render(nested)
        == 'os_name == "nt" and (sys_platform == "cygwin" or sys_platform == "win32")'
    )
    assert render_for_lock(nested) == render(nested)


def test_evaluate_follows_packaging_contexts() -> None:
    base = make_environment("3.11.4", PLATFORMS[0], SELECTIONS[0])
    partial = {key: value for key, value in base.items() if key not in ("extra", "extras")}
    assert evaluate(parse_marker('extra == ""'), partial, context="metadata")
    assert not evaluate(parse_marker('"plots" in extras'), partial, context="lock_file")
    with pytest.raises(RequirementError, match="'extra'"):
        evaluate(parse_marker('extra == "x"'), partial, context="lock_file")
    with pytest.raises(RequirementError, match="'extras'"):
        evaluate(parse_marker('"plots" in extras'), partial, context="metadata")
    assert evaluate(parse_marker('extra == "foo-bar"'), dict(base, extra="Foo_Bar"))
    assert evaluate(
        parse_marker('"foo-bar" in extras'), dict(base, extras={"Foo.Bar"}), context="lock_file"
    )
    assert evaluate(
        parse_marker('python_full_version >= "3.11.4"'), dict(base, python_full_version="3.11.4+")
    )


def test_evaluate_mask_is_fast_after_the_first_call() -> None:
    environments = GRID[:30]
    expression = parse_marker(
        'sys_platform != "win32" and (python_version < "3.11" or "dev" in dependency_groups)'
    )
    first = evaluate_mask(expression, environments, context="lock_file")
    assert first == packaging_mask(render(expression), environments)
    start = time.perf_counter()
    for _ in range(1000):
        assert evaluate_mask(expression, environments, context="lock_file") == first
    assert (time.perf_counter() - start) / 1000 < 50e-6


# --------------------------------------------------------------------------- randomized properties

PYTHON_VALUES = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
FULL_VALUES = ["3.9.1", "3.9.2", "3.10.0", "3.11.4", "3.12.0"]


def random_atom(rng: random.Random) -> str:
    kind = rng.randrange(13)
    if kind <= 2:
        op = rng.choice(["<", "<=", ">", ">=", "==", "!="])
        return f'python_version {op} "{rng.choice(PYTHON_VALUES)}"'
    if kind == 3:
        op = rng.choice(["<", "<=", ">", ">=", "==", "!="])
        return f'python_full_version {op} "{rng.choice(FULL_VALUES)}"'
    if kind == 4:
        return rng.choice(
            [
                f'python_version ~= "{rng.choice(PYTHON_VALUES)}"',
                f'"{rng.choice(PYTHON_VALUES)}" <= python_version',
                'python_version == "3.*"',
                f'python_version != "{rng.choice(PYTHON_VALUES)}.*"',
            ]
        )
    op = rng.choice(["==", "!="])
    if kind == 5:
        return f'sys_platform {op} "{rng.choice(["linux", "darwin", "win32"])}"'
    if kind == 6:
        return f'platform_machine {op} "{rng.choice(["x86_64", "aarch64", "arm64", "AMD64"])}"'
    if kind == 7:
        return f'platform_system {op} "{rng.choice(["Linux", "Darwin", "Windows"])}"'
    if kind == 8:
        return f'implementation_name {op} "{rng.choice(["cpython", "pypy"])}"'
    if kind == 9:
        return f'os_name {op} "{rng.choice(["nt", "posix"])}"'
    if kind == 10:
        return f'extra {op} "{rng.choice(["x", "y"])}"'
    membership = rng.choice(["in", "not in"])
    if kind == 11:
        return f"'dev' {membership} dependency_groups"
    return f"'plots' {membership} extras"


def random_text(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return random_atom(rng)
    joiner = rng.choice([" and ", " or "])
    parts = [random_text(rng, depth - 1) for _ in range(rng.randint(2, 3))]
    return "(" + joiner.join(parts) + ")"


REQUIRES_PYTHON = [None, ">=3.9", ">=3.10,<3.13", ">=3.11", ">=3.9.2"]


def test_random_markers_agree_with_packaging() -> None:
    rng = random.Random(508751)
    everything = (1 << len(GRID)) - 1
    for _ in range(120):
        text = random_text(rng, depth=3)
        expression = parse_marker(text)
        expected = packaging_mask(text)
        # our evaluator and our rendering mean what packaging means
        assert ours(expression) == expected, text
        rendered = render(expression)
        assert packaging_mask(rendered) == expected, (text, rendered)
        assert render(parse_marker(rendered)) == rendered if rendered else True
        # negation is exact
        negated = marker_not(expression)
        assert ours(negated) == everything & ~expected, text
        assert packaging_mask(render(negated)) == everything & ~expected, text
        # simplification is exact where requires-python allows
        requires_python = rng.choice(REQUIRES_PYTHON)
        specifiers = SpecifierSet(requires_python) if requires_python else None
        simplified = simplify(expression, requires_python=specifiers)
        allowed = allowed_mask(requires_python)
        simplified_text = render(simplified)
        assert packaging_mask(simplified_text) & allowed == expected & allowed, (
            text,
            requires_python,
            simplified_text,
        )
        # simplifying is stable
        again = (
            simplify(parse_marker(simplified_text), requires_python=specifiers)
            if (simplified_text is not None)
            else TRUE
        )
        assert ours(again) & allowed == expected & allowed, (text, simplified_text)


def test_random_markers_render_the_same_whatever_the_written_order() -> None:
    rng = random.Random(685)
    for _ in range(100):
        atoms = [random_atom(rng) for _ in range(rng.randint(2, 5))]
        shuffled = atoms[:]
        rng.shuffle(shuffled)
        joiner = rng.choice([" and ", " or "])
        first = parse_marker(joiner.join(atoms))
        second = parse_marker(joiner.join(shuffled))
        assert first == second
        assert render(first) == render(second)
        assert render(simplify(first)) == render(simplify(second))


def test_simplify_shrinks_random_dnf() -> None:
    rng = random.Random(440)
    for _ in range(60):
        expression = parse_marker(random_text(rng, depth=3))
        simplified = simplify(expression)
        assert len(to_dnf(simplified)) <= len(to_dnf(expression))


DETERMINISM_PROGRAM = """
import random, sys
sys.path.insert(0, {tests!r})
import test_markers as t
from shipyard.specs.markers import marker_not, parse_marker, render, simplify
rng = random.Random(751)
for _ in range(40):
    expression = parse_marker(t.random_text(rng, depth=3))
    print(render(simplify(expression)), render(marker_not(expression)))
"""


def test_rendering_does_not_depend_on_the_hash_seed() -> None:
    program = DETERMINISM_PROGRAM.format(tests=str(Path(__file__).parent))
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert outputs.pop().count("\n") == 40
