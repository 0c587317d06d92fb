"""Property-based fuzz tests of every parser shipyard owns.

The rule under test: whatever the input, a parser returns a result or raises a
:class:`~shipyard.errors.ShipyardError` whose message is not empty. Any other
exception is a bug. The simple-API page parsers are the one exception to the
rule: ``SimpleIndex.get_page`` turns their ``ValueError``/``KeyError``/``TypeError``
into a ``NetworkError``, so those three are accepted from them too.

Inputs are both random (text, bytes) and structured: documents shaped like the real
files (pyproject.toml tables, pylock.toml packages, index pages, ...) whose values
are of random types.

* ``SHIPYARD_FUZZ_EXAMPLES``: examples per test (default 200).
* ``SHIPYARD_FUZZ_REPORT``: when set, a JSON file written at the end of the module
  with ``{test name: examples run}``.

Both are read when the module is imported: the shared ``isolated_env`` fixture
removes ``SHIPYARD_*`` variables while each test runs.
"""

from __future__ import annotations

import configparser
import io
import json
import math
import os
import sys
import tempfile
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.markers import default_environment
from packaging.tags import sys_tags

from shipyard.errors import ShipyardError
from shipyard.formats.environment_yml import read_environment_yml
from shipyard.formats.pdm import read_pdm, read_pdm_lock
from shipyard.formats.pipenv import read_pipfile, read_pipfile_lock
from shipyard.formats.poetry import poetry_constraint, python_marker, read_poetry, read_poetry_lock
from shipyard.formats.requirements import parse_requirement_lines, read_requirements
from shipyard.formats.setup_cfg import read_setup_cfg
from shipyard.formats.tomlfiles import read_toml
from shipyard.index.metadata import metadata_from_wheel_zip
from shipyard.index.pages import parse_html_page, parse_json_page, project_of_filename
from shipyard.index.repository import _file_version
from shipyard.lock.pylock import read_lock, select_from_lock
from shipyard.models import parse_core_metadata
from shipyard.project.manifest import load_project, parse_requirement
from shipyard.python.requests import parse_python_request
from shipyard.specs.markers import parse_marker
from shipyard.specs.targets import default_targets, wheel_target_mask

# --------------------------------------------------------------------------- settings

_EXAMPLES = int(os.environ.get("SHIPYARD_FUZZ_EXAMPLES", "200"))
_REPORT = os.environ.get("SHIPYARD_FUZZ_REPORT")

settings.register_profile(
    "shipyard-fuzz",
    max_examples=_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,  # nothing written into the work tree
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,  # the autouse isolated_env of tests/conftest.py
        HealthCheck.large_base_example,
    ],
)
fuzz = settings.get_profile("shipyard-fuzz")

# packaging reads marker strings with ast.literal_eval: a backslash in one warns.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

_RUNS: Counter[str] = Counter()


def _count() -> None:
    """Count one example for the calling test (reported through SHIPYARD_FUZZ_REPORT)."""
    _RUNS[sys._getframe(1).f_code.co_name] += 1


@pytest.fixture(scope="module", autouse=True)
def _fuzz_report() -> Iterator[None]:
    yield
    if _REPORT:
        Path(_REPORT).write_text(json.dumps(dict(sorted(_RUNS.items())), indent=2) + "\n")


# --------------------------------------------------------------------------- checking

Allowed = tuple[type[BaseException], ...]


def _outcome(call: Callable[[], Any], allowed: Allowed = ()) -> Any:
    """``call()``; a ShipyardError (with a message) or one of ``allowed`` is a fine
    outcome (``None`` is returned); any other exception propagates and fails the test."""
    try:
        return call()
    except ShipyardError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
        return None
    except allowed:
        return None


#: What SimpleIndex.get_page converts into a NetworkError.
PAGE_ERRORS: Allowed = (ValueError, KeyError, TypeError)


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="shipyard-fuzz-") as name:
        yield Path(name)


def _read_from_file(name: str, content: str | bytes, reader: Callable[[Path], Any]) -> None:
    """Write ``content`` to a scratch file called ``name`` and check ``reader`` on it."""
    with _scratch() as root:
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        _outcome(lambda: reader(path))


# --------------------------------------------------------------------------- strategies: pieces

#: Characters str.isdigit() accepts but int() refuses (superscripts, Ethiopic digits, ...).
_ODD_DIGITS = "".join(c for c in map(chr, range(0x110000)) if c.isdigit() and not c.isdecimal())
digit_runs = st.one_of(
    st.integers(0, 40).map(str),
    st.integers(0, 10**30).map(str),
    st.text(
        st.sampled_from("0123456789")
        | st.sampled_from(_ODD_DIGITS)
        | st.characters(categories=["Nd"]),
        min_size=1,
        max_size=4,
    ),
    st.integers(4290, 4400).map(lambda n: "1" * n),  # past int()'s 4300-digit limit
)
short_text = st.text(max_size=12)
#: Digit runs that may sit in a wheel tag (tag components are identifiers).
tag_digits = st.text(
    st.sampled_from("0123456789")
    | st.sampled_from([c for c in _ODD_DIGITS if f"a{c}".isidentifier()]),
    min_size=1,
    max_size=3,
)

names = st.one_of(
    st.sampled_from(["a", "b", "dev", "test", "docs", "Foo_Bar", "requests", "pip", "python"]),
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?", fullmatch=True),
    short_text,
)
versions = st.one_of(
    st.from_regex(
        r"(v|[0-9]+!)?[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9]?)?(\.post[0-9])?(\.dev[0-9])?"
        r"(\+[a-z0-9]+(\.[a-z0-9]+)?)?(\.\*)?",
        fullmatch=True,
    ),
    st.lists(digit_runs, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["*", "", "1.2.x", "x", "1.0.post1", "1!2.0", "0", "0.0.0"]),
    short_text,
)
operators = st.sampled_from(
    ["==", "!=", "<", ">", "<=", ">=", "~=", "===", "^", "~", "=", "", " ", "=>", "in"]
)
specifiers = st.lists(st.builds(lambda op, v: op + v, operators, versions), max_size=3).map(
    ",".join
)
marker_variables = st.sampled_from(
    [
        "python_version",
        "python_full_version",
        "os_name",
        "sys_platform",
        "platform_release",
        "platform_system",
        "platform_version",
        "platform_machine",
        "platform_python_implementation",
        "implementation_name",
        "implementation_version",
        "extra",
        "extras",
        "dependency_groups",
        "os.name",
        "sys.platform",
        "python_implementation",
        "unknown_var",
    ]
)
marker_operators = st.sampled_from(
    ["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in", "not", "=", ""]
)
marker_values = st.one_of(versions, names, short_text).flatmap(
    lambda v: st.sampled_from([f'"{v}"', f"'{v}'", v])
)
marker_atoms = st.one_of(
    st.builds(lambda a, o, b: f"{a} {o} {b}", marker_variables, marker_operators, marker_values),
    st.builds(lambda a, o, b: f"{a} {o} {b}", marker_values, marker_operators, marker_variables),
)
markers = st.recursive(
    marker_atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        inner.map(lambda m: f"({m})"),
        inner.map(lambda m: f"({m}"),
    ),
    max_leaves=6,
)
urls = st.one_of(
    st.sampled_from(
        [
            "https://example.invalid/simple/",
            "https://example.invalid/a-1.0-py3-none-any.whl",
            "file:///tmp/a-1.0.tar.gz",
            "git+https://example.invalid/repo.git@main",
            "http://[::1]:8080/simple/",
            "http://[",
            "./local",
            "../files/a-1.0.zip#sha256=ABCD",
            "",
        ]
    ),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}/{path}",
        st.sampled_from(["https://", "http://", "file://", "", "//"]),
        short_text,
        short_text,
    ),
    short_text,
)
requirements = st.one_of(
    st.builds(
        lambda name, extras, spec, url, marker: (
            name
            + (f"[{','.join(extras)}]" if extras is not None else "")
            + (f" @ {url}" if url is not None else spec)
            + (f" ; {marker}" if marker is not None else "")
        ),
        names,
        st.none() | st.lists(names, max_size=3),
        specifiers,
        st.none() | urls,
        st.none() | markers,
    ),
    st.text(max_size=40),
)

# --------------------------------------------------------------------------- strategies: documents

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=16),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=8,
)


def _or_any(strategy: st.SearchStrategy[Any], values: st.SearchStrategy[Any] = toml_values) -> Any:
    """``strategy``, or sometimes a value of a random type in its place."""
    return st.one_of(strategy, values)


def _table(
    fields: dict[str, st.SearchStrategy[Any]], values: st.SearchStrategy[Any] = toml_values
) -> st.SearchStrategy[Any]:
    """A table with any subset of ``fields`` (and a random extra key), or a random value."""
    return st.one_of(
        st.fixed_dictionaries({}, optional={**fields, "x-extra": values}),
        values,
    )


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_document(data: Any) -> str:
    """TOML text for ``data``: top-level tables (and arrays of tables) get headers,
    everything below them is inline. ``data`` that is not a dict gives a key ``x``."""
    if not isinstance(data, dict):
        data = {"x": data}
    lines = [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in data.items() if not _headed(v)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{_toml_string(key)}]")
            lines.extend(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        elif _headed(value):
            for table in value:
                lines.append(f"\n[[{_toml_string(key)}]]")
                lines.extend(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def _headed(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


#: Text that is often nearly TOML.
toml_fragments = st.one_of(
    st.sampled_from(
        [
            "[project]\n",
            "[tool.shipyard]\n",
            "[[packages]]\n",
            "[dependency-groups]\n",
            "[tool]\n",
            "name = ",
            "dependencies = ",
            "tool = ",
            "project = ",
            "version = ",
            "lock-version = ",
            '"1.0"',
            '"a"',
            "1",
            "true",
            "1979-05-27T07:32:00Z",
            "[",
            "]",
            "{",
            "}",
            ",",
            "=",
            ".",
            '"',
            "'",
            "'''",
            '"""',
            "#",
            "\\",
            "\n",
            "\r\n",
            " ",
        ]
    ),
    st.text(max_size=6),
)
tomlish_text = st.lists(toml_fragments, max_size=30).map("".join)
file_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    tomlish_text.map(str.encode),
)
nesting = st.tuples(st.integers(1, 3000), st.sampled_from(["array", "table"]))


# --------------------------------------------------------------------------- requirements files

requirement_options = st.one_of(
    st.builds(
        lambda option, sep, value: f"{option}{sep}{value}",
        st.sampled_from(
            [
                "-r",
                "--requirement",
                "-c",
                "--constraint",
                "-e",
                "--editable",
                "-i",
                "--index-url",
                "--extra-index-url",
                "-f",
                "--find-links",
                "--only-binary",
                "--no-binary",
                "--trusted-host",
                "--no-index",
                "--pre",
                "--prefer-binary",
                "--require-hashes",
                "--use-feature",
                "--unknown",
                "-x",
                "-",
                "--",
            ]
        ),
        st.sampled_from([" ", "=", "", "  "]),
        st.one_of(
            st.sampled_from(
                [
                    "a.txt",
                    "b.txt",
                    "requirements.txt",
                    ".",
                    "..",
                    ":all:",
                    ":none:",
                    "a,b",
                    "",
                    "a\x00",
                ]
            ),
            urls,
            short_text,
        ),
    ),
)
requirement_lines = st.one_of(
    requirements,
    st.builds(
        lambda req, hashes: req + "".join(hashes),
        requirements,
        st.lists(
            st.sampled_from([" --hash=sha256:abcd", " --hash sha256:ef", " --hash", " --other"]),
            max_size=3,
        ),
    ),
    requirement_options,
    st.sampled_from(["", "# comment", "  \\", "\\", "${HOME}", "${UNSET_FUZZ_VAR}", "'", '"']),
    st.builds(lambda a, b: f"{a} \\\n{b}", requirements, requirement_options),
    st.text(max_size=30),
)


@fuzz
@given(st.lists(st.text(max_size=60), max_size=8))
def test_requirement_lines_random_text(lines: list[str]) -> None:
    _count()
    with _scratch() as root:
        _outcome(lambda: parse_requirement_lines(lines, source=root / "requirements.txt"))


@fuzz
@given(st.lists(requirement_lines, max_size=10))
def test_requirement_lines_structured(lines: list[str]) -> None:
    _count()
    with _scratch() as root:
        _outcome(lambda: parse_requirement_lines(lines, source=root / "requirements.txt"))


@fuzz
@given(
    st.fixed_dictionaries(
        {
            "requirements.txt": st.one_of(
                st.lists(requirement_lines, max_size=6).map("\n".join).map(str.encode), file_bytes
            )
        },
        optional={
            "a.txt": st.lists(requirement_lines, max_size=4).map("\n".join).map(str.encode),
            "b.txt": file_bytes,
        },
    )
)
def test_read_requirements_files(files: dict[str, bytes]) -> None:
    """A requirements file and the files it may include (``-r a.txt``), as bytes."""
    _count()
    with _scratch() as root:
        for name, content in files.items():
            (root / name).write_bytes(content)
        _outcome(lambda: read_requirements(root / "requirements.txt"))


@fuzz
@given(requirements)
def test_parse_requirement(text: str) -> None:
    _count()
    _outcome(lambda: parse_requirement(text, where="fuzz"))


# --------------------------------------------------------------------------- pyproject.toml

requirement_lists = _or_any(st.lists(_or_any(requirements), max_size=4))
group_names = st.sampled_from(["dev", "test", "docs", "Dev", "lint"]) | short_text
pyproject_documents = st.fixed_dictionaries(
    {},
    optional={
        "project": _table(
            {
                "name": _or_any(names),
                "version": _or_any(versions),
                "requires-python": _or_any(specifiers),
                "dependencies": requirement_lists,
                "optional-dependencies": _or_any(
                    st.dictionaries(names, requirement_lists, max_size=3)
                ),
            }
        ),
        "dependency-groups": _or_any(
            st.dictionaries(
                group_names,
                _or_any(
                    st.lists(
                        _or_any(
                            requirements
                            | st.fixed_dictionaries({"include-group": _or_any(group_names)})
                        ),
                        max_size=4,
                    )
                ),
                max_size=4,
            )
        ),
        "tool": _or_any(
            st.fixed_dictionaries(
                {},
                optional={
                    "shipyard": _table(
                        {
                            "constraint-dependencies": requirement_lists,
                            "default-groups": _or_any(st.lists(group_names, max_size=3)),
                            "environments": _or_any(st.lists(markers, max_size=3)),
                            "conda": toml_values,
                        }
                    ),
                    "other": toml_values,
                },
            )
        ),
        "build-system": toml_values,
    },
)


def _load_pyproject(content: bytes) -> None:
    with _scratch() as root:
        (root / "pyproject.toml").write_bytes(content)
        _outcome(lambda: load_project(root))


@fuzz
@given(file_bytes)
def test_load_project_random_bytes(content: bytes) -> None:
    _count()
    _load_pyproject(content)


@fuzz
@given(pyproject_documents)
def test_load_project_structured(document: dict[str, Any]) -> None:
    _count()
    _load_pyproject(toml_document(document).encode())


# --------------------------------------------------------------------------- pylock.toml

hashes = _or_any(
    st.dictionaries(
        st.sampled_from(["sha256", "md5", "sha512"]) | short_text,
        _or_any(st.sampled_from(["a" * 64, "ABCD", ""])),
        max_size=2,
    )
)
lock_file_tables = _table(
    {
        "name": _or_any(st.sampled_from(["a-1.0-py3-none-any.whl", "a-1.0.tar.gz"]) | short_text),
        "url": _or_any(urls),
        "path": _or_any(st.sampled_from(["a-1.0.tar.gz", "dist/a.whl", "\x00", ""]) | short_text),
        "size": _or_any(st.integers()),
        "upload-time": toml_values,
        "hashes": hashes,
    }
)
lock_packages = _table(
    {
        "name": _or_any(st.sampled_from(["a", "b", "c"]) | names),
        "version": _or_any(versions),
        "marker": _or_any(markers),
        "requires-python": _or_any(specifiers),
        "index": _or_any(urls),
        "dependencies": _or_any(
            st.lists(_table({"name": _or_any(names), "version": _or_any(versions)}), max_size=3)
        ),
        "sdist": lock_file_tables,
        "wheels": _or_any(st.lists(lock_file_tables, max_size=3)),
        "archive": lock_file_tables,
        "directory": _table({"path": _or_any(short_text), "editable": toml_values}),
        "vcs": _table({"type": _or_any(short_text), "url": _or_any(urls)}),
    }
)
lock_documents = st.fixed_dictionaries(
    {
        "lock-version": _or_any(st.sampled_from(["1.0", "1.1", "2.0", "1"])),
        "created-by": _or_any(st.just("fuzz")),
    },
    optional={
        "requires-python": _or_any(specifiers),
        "environments": _or_any(st.lists(markers, max_size=2)),
        "extras": _or_any(st.lists(names, max_size=2)),
        "dependency-groups": _or_any(st.lists(group_names, max_size=2)),
        "default-groups": _or_any(st.lists(group_names, max_size=2)),
        "packages": _or_any(st.lists(lock_packages, max_size=4)),
        "tool": toml_values,
    },
)

_ENVIRONMENT = dict(default_environment())
_TAGS = [*[str(tag) for tag in list(sys_tags())[:40]], "py3-none-any"]


@fuzz
@given(file_bytes)
def test_read_lock_random_bytes(content: bytes) -> None:
    _count()
    _read_from_file("pylock.toml", content, read_lock)


@fuzz
@given(lock_documents, st.sets(st.sampled_from(["x", "extra"])), st.none() | st.sets(group_names))
def test_read_and_select_lock_structured(
    document: dict[str, Any], extras: set[str], groups: set[str] | None
) -> None:
    _count()
    with _scratch() as root:
        path = root / "pylock.toml"
        path.write_text(toml_document(document), encoding="utf-8")
        lock = _outcome(lambda: read_lock(path))
        if lock is None:
            return
        _outcome(
            lambda: select_from_lock(
                lock,
                environment=_ENVIRONMENT,
                tags=_TAGS,
                extras=extras,
                dependency_groups=groups,
            )
        )


# --------------------------------------------------------------------------- environment.yml

yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=8,
)
conda_specs = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", names, versions),
    st.builds(lambda n, s: f"{n} {s}", names, specifiers),
    st.sampled_from(["pip", "pip=24", "conda-forge::pip", "python=3.12", "", " ", "=1", "::"]),
    short_text,
)
environment_documents = _or_any(
    st.fixed_dictionaries(
        {},
        optional={
            "name": yaml_values,
            "channels": _or_any(
                st.lists(short_text | st.just("nodefaults"), max_size=3), yaml_values
            ),
            "dependencies": _or_any(
                st.lists(
                    st.one_of(
                        conda_specs,
                        st.fixed_dictionaries(
                            {
                                "pip": _or_any(
                                    st.lists(requirement_lines | yaml_values, max_size=4),
                                    yaml_values,
                                )
                            }
                        ),
                        yaml_values,
                    ),
                    max_size=5,
                ),
                yaml_values,
            ),
        },
    ),
    yaml_values,
)


def _read_environment(content: bytes) -> None:
    _read_from_file("environment.yml", content, read_environment_yml)


@fuzz
@given(file_bytes)
def test_environment_yml_random_bytes(content: bytes) -> None:
    _count()
    _read_environment(content)


@fuzz
@given(environment_documents)
def test_environment_yml_structured(document: Any) -> None:
    _count()
    _read_environment(yaml.safe_dump(document, allow_unicode=True).encode())


# --------------------------------------------------------------------------- Pipfile, Poetry, PDM

pipenv_package = _or_any(
    st.one_of(
        specifiers,
        st.just("*"),
        _table(
            {
                "version": _or_any(specifiers),
                "extras": _or_any(st.lists(names, max_size=2)),
                "markers": _or_any(markers),
                "index": toml_values,
                "git": toml_values,
                "sys_platform": _or_any(st.sampled_from(["== 'win32'", "linux", ""])),
                "python_version": _or_any(specifiers),
            }
        ),
    )
)
pipfile_documents = st.fixed_dictionaries(
    {},
    optional={
        "source": _or_any(
            st.lists(
                _table({"url": _or_any(urls), "name": toml_values, "verify_ssl": toml_values}),
                max_size=3,
            )
        ),
        "packages": _or_any(st.dictionaries(names, pipenv_package, max_size=3)),
        "dev-packages": _or_any(st.dictionaries(names, pipenv_package, max_size=3)),
        "docs": _or_any(st.dictionaries(names, pipenv_package, max_size=3)),
        "requires": _table(
            {"python_version": _or_any(versions), "python_full_version": _or_any(versions)}
        ),
        "scripts": toml_values,
        "pipenv": toml_values,
    },
)
pipfile_lock_documents = _or_any(
    st.fixed_dictionaries(
        {},
        optional={
            "_meta": json_values,
            "default": _or_any(
                st.dictionaries(
                    names,
                    _table(
                        {
                            "version": _or_any(versions.map(lambda v: "==" + v), json_values),
                            "hashes": json_values,
                            "git": json_values,
                        },
                        json_values,
                    ),
                    max_size=3,
                ),
                json_values,
            ),
            "develop": json_values,
        },
    ),
    json_values,
)
poetry_dependency = _or_any(
    st.one_of(
        specifiers,
        _table(
            {
                "version": _or_any(specifiers),
                "extras": _or_any(st.lists(names, max_size=2)),
                "markers": _or_any(markers),
                "python": _or_any(specifiers),
                "platform": _or_any(short_text),
                "optional": toml_values,
                "url": _or_any(urls),
                "git": toml_values,
                "source": toml_values,
                "allow-prereleases": toml_values,
            }
        ),
    )
)
poetry_dependencies = _or_any(
    st.dictionaries(
        names | st.just("python"),
        poetry_dependency | st.lists(poetry_dependency, max_size=2),
        max_size=4,
    )
)
poetry_documents = st.fixed_dictionaries(
    {
        "tool": _or_any(
            st.fixed_dictionaries(
                {
                    "poetry": _table(
                        {
                            "name": toml_values,
                            "version": toml_values,
                            "description": toml_values,
                            "dependencies": poetry_dependencies,
                            "dev-dependencies": poetry_dependencies,
                            "group": _or_any(
                                st.dictionaries(
                                    group_names,
                                    _table(
                                        {
                                            "dependencies": poetry_dependencies,
                                            "optional": toml_values,
                                        }
                                    ),
                                    max_size=3,
                                )
                            ),
                            "extras": _or_any(
                                st.dictionaries(
                                    names, _or_any(st.lists(names, max_size=3)), max_size=2
                                )
                            ),
                            "scripts": _or_any(
                                st.dictionaries(
                                    names,
                                    _or_any(short_text | _table({"callable": toml_values})),
                                    max_size=2,
                                )
                            ),
                            "source": _or_any(
                                st.lists(
                                    _table(
                                        {
                                            "name": _or_any(st.just("pypi") | short_text),
                                            "url": _or_any(urls),
                                            "priority": _or_any(
                                                st.sampled_from(
                                                    [
                                                        "default",
                                                        "primary",
                                                        "supplemental",
                                                        "explicit",
                                                    ]
                                                )
                                            ),
                                            "default": toml_values,
                                            "secondary": toml_values,
                                        }
                                    ),
                                    max_size=3,
                                )
                            ),
                        }
                    )
                }
            )
        )
    },
    optional={"project": _table({"name": _or_any(names)})},
)
pdm_documents = st.fixed_dictionaries(
    {
        "tool": _or_any(
            st.fixed_dictionaries(
                {
                    "pdm": _table(
                        {
                            "dev-dependencies": _or_any(
                                st.dictionaries(
                                    group_names,
                                    _or_any(
                                        st.lists(
                                            _or_any(
                                                requirements
                                                | st.sampled_from(
                                                    ["-e .", "-e file:///x", "git+https://x"]
                                                )
                                            ),
                                            max_size=3,
                                        )
                                    ),
                                    max_size=3,
                                )
                            ),
                            "source": _or_any(
                                st.lists(
                                    _table(
                                        {
                                            "name": toml_values,
                                            "url": _or_any(urls),
                                            "type": _or_any(
                                                st.sampled_from(["index", "find_links"])
                                            ),
                                            "verify_ssl": toml_values,
                                        }
                                    ),
                                    max_size=3,
                                )
                            ),
                            "resolution": _table(
                                {"overrides": toml_values, "excludes": toml_values}
                            ),
                            "scripts": toml_values,
                        }
                    )
                }
            )
        )
    }
)
package_locks = st.fixed_dictionaries(
    {},
    optional={
        "package": _or_any(
            st.lists(
                _table(
                    {
                        "name": _or_any(names),
                        "version": _or_any(versions),
                        "source": _table(
                            {
                                "type": _or_any(
                                    st.sampled_from(["git", "directory", "file", "legacy"])
                                )
                            }
                        ),
                        "git": toml_values,
                        "path": toml_values,
                        "url": toml_values,
                    }
                ),
                max_size=4,
            )
        ),
        "metadata": toml_values,
    },
)

TomlReader = Callable[[Any], Any]
TOML_READERS: dict[str, TomlReader] = {
    "pipfile": read_pipfile,
    "poetry": read_poetry,
    "poetry-lock": read_poetry_lock,
    "pdm": read_pdm,
    "pdm-lock": read_pdm_lock,
}


def _read_with(reader: TomlReader, content: bytes, name: str = "pyproject.toml") -> None:
    with _scratch() as root:
        path = root / name
        path.write_bytes(content)
        toml = _outcome(lambda: read_toml(path))
        if toml is not None:
            _outcome(lambda: reader(toml))


@pytest.mark.parametrize("reader", sorted(TOML_READERS))
@fuzz
@given(file_bytes)
def test_toml_readers_random_bytes(reader: str, content: bytes) -> None:
    _count()
    _read_with(TOML_READERS[reader], content)


@fuzz
@given(pipfile_documents)
def test_pipfile_structured(document: dict[str, Any]) -> None:
    _count()
    _read_with(read_pipfile, toml_document(document).encode(), "Pipfile")


@fuzz
@given(st.one_of(file_bytes, pipfile_lock_documents.map(lambda d: json.dumps(d).encode())))
def test_pipfile_lock(content: bytes) -> None:
    _count()
    _read_from_file("Pipfile.lock", content, read_pipfile_lock)


@fuzz
@given(poetry_documents)
def test_poetry_structured(document: dict[str, Any]) -> None:
    _count()
    _read_with(read_poetry, toml_document(document).encode())


@fuzz
@given(pdm_documents)
def test_pdm_structured(document: dict[str, Any]) -> None:
    _count()
    _read_with(read_pdm, toml_document(document).encode())


@pytest.mark.parametrize("reader", ["poetry-lock", "pdm-lock"])
@fuzz
@given(package_locks)
def test_package_locks_structured(reader: str, document: dict[str, Any]) -> None:
    _count()
    _read_with(TOML_READERS[reader], toml_document(document).encode(), "x.lock")


@fuzz
@given(
    st.one_of(specifiers, st.lists(specifiers, max_size=3).map(" || ".join), st.text(max_size=30))
)
def test_poetry_constraint(text: str) -> None:
    """Documented to raise ValueError for text that is not a Poetry constraint."""
    _count()
    _outcome(lambda: poetry_constraint(text), (ValueError,))
    _outcome(lambda: python_marker(text), (ValueError,))


# --------------------------------------------------------------------------- setup.cfg

ini_values = st.one_of(
    st.lists(requirement_lines, max_size=3).map(
        lambda lines: "\n" + "\n".join(f"    {x}" for x in lines)
    ),
    st.sampled_from(["attr: pkg.__version__", "file: requirements.txt", "", "a = b:c\n x"]),
    short_text,
)
setup_cfg_documents = st.dictionaries(
    st.sampled_from(
        ["metadata", "options", "options.extras_require", "options.entry_points", "other"]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "version",
                "description",
                "install_requires",
                "python_requires",
                "console_scripts",
                "extra",
            ]
        )
        | st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        ini_values,
        max_size=4,
    ),
    max_size=4,
)


def _ini(document: dict[str, dict[str, str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict(document)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


@fuzz
@given(st.one_of(file_bytes, setup_cfg_documents.map(lambda d: _ini(d).encode())))
def test_setup_cfg(content: bytes) -> None:
    _count()
    _read_from_file("setup.cfg", content, read_setup_cfg)


# --------------------------------------------------------------------------- index pages

page_urls = st.sampled_from(
    [
        "https://pypi.example/simple/demo/",
        "https://pypi.example/simple/demo",
        "file:///srv/index/demo/",
        "http://[::1]:8080/simple/demo/",
    ]
)
tags = st.one_of(
    st.sampled_from(["py3-none-any", "cp312-cp312-manylinux_2_17_x86_64", "cp39-abi3-win_amd64"]),
    st.builds(
        lambda i, a, p: f"{i}-{a}-{p}",
        st.lists(
            st.builds(
                lambda prefix, digits: prefix + digits,
                st.sampled_from(["py3", "cp3", "pp3", "py", "cp", "py2", ""]),
                digit_runs | tag_digits,
            ),
            min_size=1,
            max_size=2,
        ).map(".".join),
        st.sampled_from(["none", "abi3", "cp312", ""]),
        st.sampled_from(
            ["any", "win_amd64", "manylinux_2_17_x86_64", "macosx_11_0_arm64", "linux_aarch64"]
        ),
    ),
    st.builds(lambda i, a, p: f"{i}-{a}-{p}", short_text, short_text, short_text),
)
filenames = st.one_of(
    st.builds(
        lambda name, version, build, tag: f"{name}-{version}{build}-{tag}.whl",
        st.one_of(
            st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._]{0,10}[A-Za-z0-9])?", fullmatch=True), names
        ),
        st.one_of(st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True), versions),
        st.sampled_from(["", "-1", "-1abc", "-x"]) | digit_runs.map(lambda d: f"-{d}"),
        tags,
    ),
    st.builds(
        lambda name, version, suffix: f"{name}-{version}{suffix}",
        names,
        versions,
        st.sampled_from([".tar.gz", ".zip", ".whl", ".tar.bz2", ""]),
    ),
    st.builds(
        lambda text, suffix: text + suffix, short_text, st.sampled_from([".whl", ".tar.gz", ".zip"])
    ),
    short_text,
)
json_file_entries = _or_any(
    st.fixed_dictionaries(
        {},
        optional={
            "filename": _or_any(filenames, json_values),
            "url": _or_any(urls | filenames, json_values),
            "hashes": _or_any(
                st.dictionaries(
                    st.sampled_from(["sha256", "md5"]) | short_text, json_values, max_size=2
                ),
                json_values,
            ),
            "requires-python": _or_any(specifiers, json_values),
            "yanked": _or_any(st.booleans() | short_text, json_values),
            "core-metadata": _or_any(
                st.sampled_from([True, False, "true", "sha256=abcd", {"sha256": "ABCD"}]),
                json_values,
            ),
            "dist-info-metadata": json_values,
            "size": _or_any(st.integers(), json_values),
            "upload-time": _or_any(
                st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
                | st.sampled_from(["2024-05-01T10:00:00Z", "2024-13-01", ""]),
                json_values,
            ),
        },
    ),
    json_values,
)
json_pages = _or_any(
    st.fixed_dictionaries(
        {"files": _or_any(st.lists(json_file_entries, max_size=5), json_values)},
        optional={"meta": json_values, "name": json_values, "versions": json_values},
    ),
    json_values,
)


@fuzz
@given(file_bytes | st.just(b"\xef\xbb\xbf{}"), page_urls)
def test_json_page_random_bytes(body: bytes, page_url: str) -> None:
    _count()
    _outcome(lambda: parse_json_page(body, page_url), PAGE_ERRORS)


@fuzz
@given(json_pages, st.booleans(), page_urls)
def test_json_page_structured(page: Any, ascii_only: bool, page_url: str) -> None:
    _count()
    body = json.dumps(page, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    _outcome(lambda: parse_json_page(body, page_url), PAGE_ERRORS)


html_attribute_values = st.one_of(
    urls,
    filenames,
    filenames.map(lambda f: f"https://files.example/{f}#sha256=ABCD"),
    specifiers.map(lambda s: s.replace(">", "&gt;").replace("<", "&lt;")),
    st.sampled_from(
        [
            "",
            "true",
            "sha256=abcd",
            "2024-05-01T10:00:00Z",
            "&amp;",
            "&#0;",
            "&#x110000;",
            "&bogus;",
        ]
    ),
    short_text,
)
html_attributes = st.builds(
    lambda name, value, quote: name if quote is None else f"{name}={quote}{value}{quote}",
    st.sampled_from(
        [
            "href",
            "HREF",
            "data-requires-python",
            "data-yanked",
            "data-core-metadata",
            "data-dist-info-metadata",
            "data-upload-time",
            "rel",
        ]
    )
    | st.from_regex(r"[a-zA-Z_:][-a-zA-Z0-9_:.]{0,8}", fullmatch=True),
    html_attribute_values,
    st.sampled_from(['"', "'", "", None]),
)
html_anchors = st.one_of(
    st.builds(
        lambda attrs, text: f"<a {' '.join(attrs)}>{text}</a>",
        st.lists(html_attributes, max_size=4),
        short_text,
    ),
    html_attribute_values.map(lambda href: f'<a href="{href}">x</a>'),
    html_attribute_values.map(lambda href: f"<base href='{href}'>"),
    st.sampled_from(
        ["<a>", "<a >", "<a href>", '<a href="">', "</a>", "<!-- <a href='x.whl'> -->"]
    ),
    short_text,
)
html_pages = st.lists(html_anchors, max_size=8).map("\n".join)


@fuzz
@given(file_bytes, page_urls)
def test_html_page_random_bytes(body: bytes, page_url: str) -> None:
    _count()
    _outcome(lambda: parse_html_page(body, page_url), PAGE_ERRORS)


@fuzz
@given(html_pages, st.sampled_from(["utf-8", "latin-1", "utf-16"]), page_urls)
def test_html_page_structured(page: str, encoding: str, page_url: str) -> None:
    _count()
    body = page.encode(encoding, errors="replace")
    _outcome(lambda: parse_html_page(body, page_url), PAGE_ERRORS)


# --------------------------------------------------------------------------- filenames

_TARGETS = default_targets(None)


@fuzz
@given(filenames, names)
def test_filename_parsers(filename: str, project: str) -> None:
    """project_of_filename, the repository's version-of-filename and the wheel tag mask
    of universal targets: all return ``None``/``0`` for what they cannot read."""
    _count()
    _outcome(lambda: project_of_filename(filename))
    _outcome(lambda: _file_version(project, filename))
    canonical = project_of_filename(filename)
    if canonical:
        _outcome(lambda: _file_version(canonical, filename))
    _outcome(lambda: wheel_target_mask(filename, _TARGETS))


@fuzz
@given(tags)
def test_wheel_target_mask(tag: str) -> None:
    """The tags of an otherwise valid wheel filename, against the universal targets."""
    _count()
    _outcome(lambda: wheel_target_mask(f"demo-1.0-{tag}.whl", _TARGETS))


# --------------------------------------------------------------------------- core metadata

metadata_headers = st.one_of(
    st.builds(
        lambda field, value: f"{field}: {value}",
        st.sampled_from(
            [
                "Metadata-Version",
                "Name",
                "Version",
                "Requires-Dist",
                "Requires-Python",
                "Provides-Extra",
                "Summary",
                "Classifier",
                "Project-URL",
                "Keywords",
                "Dynamic",
                "License-Expression",
                "License-File",
            ]
        )
        | short_text,
        st.one_of(requirements, versions, names, specifiers, markers, short_text),
    ),
    st.sampled_from(["", " continued", "\t", ":", "Name:", "Version:"]),
    short_text,
)
metadata_documents = st.builds(
    lambda headers, body, encoding: ("\n".join(headers) + ("\n\n" + body if body else "")).encode(
        encoding, errors="replace"
    ),
    st.lists(metadata_headers, max_size=10),
    st.none() | short_text,
    st.sampled_from(["utf-8", "latin-1"]),
)


@fuzz
@given(st.one_of(file_bytes, metadata_documents))
def test_core_metadata(data: bytes) -> None:
    _count()
    _outcome(lambda: parse_core_metadata(data))


@fuzz
@given(
    st.lists(
        st.one_of(
            st.builds(lambda n, v: f"{n}-{v}.dist-info/METADATA", names, versions),
            st.sampled_from(["METADATA", "a/b/METADATA", "x.dist-info/RECORD"]),
            short_text.filter(bool),
        ),
        max_size=4,
        unique=True,
    ),
    filenames,
)
def test_metadata_from_wheel_zip(members: list[str], filename: str) -> None:
    """METADATA from a wheel with any member names and any filename."""
    _count()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            if member.split("\x00", 1)[0]:  # zipfile cuts names at NUL and needs one left
                archive.writestr(member, b"Metadata-Version: 2.1\nName: a\nVersion: 1\n")
    with zipfile.ZipFile(buffer) as archive:
        _outcome(lambda: metadata_from_wheel_zip(archive, filename))


# --------------------------------------------------------------------------- markers, python requests


@fuzz
@given(st.one_of(markers, st.text(max_size=40)))
def test_parse_marker(text: str) -> None:
    _count()
    _outcome(lambda: parse_marker(text))


@fuzz
@given(
    st.one_of(
        st.builds(
            lambda impl, version, threaded: impl + version + threaded,
            st.sampled_from(["", "python", "cpython", "pypy", "cp", "pp", "any", "PyPy "]),
            st.lists(digit_runs, max_size=3).map(".".join),
            st.sampled_from(["", "t"]),
        ),
        specifiers,
        st.builds(
            lambda impl, spec: impl + spec,
            st.sampled_from(["cpython", "pypy ", "cpython "]),
            specifiers,
        ),
        st.builds(
            lambda prefix, text, suffix: prefix + text + suffix,
            st.sampled_from(["~", "./", "/", "~/", ""]),
            short_text,
            st.sampled_from(["", "\x00"]),
        ),
        st.none(),
        st.text(max_size=20),
    )
)
def test_parse_python_request(text: str | None) -> None:
    _count()
    _outcome(lambda: parse_python_request(text))


# --------------------------------------------------------------------------- deep nesting


def _nested(depth: int, kind: str, language: str) -> str:
    if language == "marker":
        return "(" * depth + 'os_name == "nt"' + ")" * depth
    if language == "toml":
        inner = "[" * depth + "]" * depth if kind == "array" else "{a=" * depth + "1" + "}" * depth
        return f'[project]\nname = "a"\ndependencies = {inner}\n'
    # JSON and YAML flow style
    body = "[" * depth + "]" * depth if kind == "array" else '{"a":' * depth + "1" + "}" * depth
    return '{"files": ' + body + "}" if language == "json" else body


NESTED_PARSERS: dict[str, tuple[str, Callable[[Path, str], Any], Allowed]] = {
    "load_project": (
        "toml",
        lambda root, text: load_project(_write(root / "pyproject.toml", text).parent),
        (),
    ),
    "read_lock": ("toml", lambda root, text: read_lock(_write(root / "pylock.toml", text)), ()),
    "read_toml": ("toml", lambda root, text: read_toml(_write(root / "Pipfile", text)), ()),
    "read_environment_yml": (
        "yaml",
        lambda root, text: read_environment_yml(_write(root / "environment.yml", text)),
        (),
    ),
    "read_pipfile_lock": (
        "json",
        lambda root, text: read_pipfile_lock(_write(root / "Pipfile.lock", text)),
        (),
    ),
    "parse_json_page": (
        "json",
        lambda root, text: parse_json_page(text.encode(), "https://x/simple/a/"),
        PAGE_ERRORS,
    ),
    "parse_marker": ("marker", lambda root, text: parse_marker(text), ()),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("parser", sorted(NESTED_PARSERS))
# The input is one depth and one shape, and a deep example costs up to a second
# (PyYAML): 50 examples cover it at any SHIPYARD_FUZZ_EXAMPLES.
@settings(fuzz, max_examples=min(_EXAMPLES, 50))
@given(nesting)
def test_deeply_nested_input(parser: str, shape: tuple[int, str]) -> None:
    """Nesting deep enough to exhaust the recursion limit is still only bad input."""
    _count()
    language, parse, allowed = NESTED_PARSERS[parser]
    depth, kind = shape
    escaped = None
    with _scratch() as root:
        try:
            _outcome(lambda: parse(root, _nested(depth, kind, language)), allowed)
        except RecursionError as exc:
            frames = [
                f for f in traceback.extract_tb(exc.__traceback__) if "shipyard" in f.filename
            ]
            escaped = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    # Raised outside the handler: where the limit is hit varies, the failure must not.
    assert escaped is None, f"RecursionError escaped {parser} at depth {depth} (in {escaped})"
