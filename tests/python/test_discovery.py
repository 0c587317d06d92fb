"""Finding interpreters: request parsing, PATH and pyenv candidates, choosing, refusing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from shipyard.errors import InterpreterNotFoundError, UsageError
from shipyard.python.discovery import (
    find_interpreter,
    iter_candidate_executables,
    list_interpreters,
)
from shipyard.python.probe import probe_interpreter
from shipyard.python.requests import PythonRequest, parse_python_request
from shipyard.venv import create_venv

REAL_PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def real_version_dir(prefix: str) -> Path:
    names = sorted(p.name for p in (REAL_PYENV / "versions").iterdir() if p.name.startswith(prefix))
    assert names, f"pyenv has no {prefix} here"
    return REAL_PYENV / "versions" / names[-1]


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A controlled machine: PATH holds only ``python3.11`` (and pyenv shims that must be
    ignored); ``PYENV_ROOT`` has 3.8, 3.12, 3.13 and 2.7 (links to the real installs)."""
    path_dir = tmp_path / "usr-bin"
    path_dir.mkdir()
    python311 = real_version_dir("3.11.") / "bin" / "python3.11"
    (path_dir / "python3.11").symlink_to(python311)
    (path_dir / "python3").symlink_to("python3.11")
    pyenv = tmp_path / "pyenv"
    (pyenv / "versions").mkdir(parents=True)
    for prefix in ("3.8.", "3.12.", "3.13.", "2.7."):
        real = real_version_dir(prefix)
        (pyenv / "versions" / real.name).symlink_to(real)
    shims = pyenv / "shims"
    shims.mkdir()
    shim = shims / "python3"
    shim.write_text("#!/bin/sh\necho shim must not run >&2; exit 3\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(shims), str(path_dir)]))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    return tmp_path


def count_probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_run: Callable[..., Any] = subprocess.run

    def run(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(str(cmd[0]))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    return calls


# -- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "implementation", "version", "free_threaded"),
    [
        ("3", None, (3,), False),
        ("3.11", None, (3, 11), False),
        ("3.11.7", None, (3, 11, 7), False),
        ("cpython3.12", "cpython", (3, 12), False),
        ("cp312", "cpython", (3, 12), False),
        ("python3.12", None, (3, 12), False),
        ("pypy3.10", "pypy", (3, 10), False),
        ("pypy", "pypy", (), False),
        ("3.13t", None, (3, 13), True),
        ("312", None, (3, 12), False),
    ],
)
def test_version_requests_parse(
    text: str, implementation: str | None, version: tuple[int, ...], free_threaded: bool
) -> None:
    request = parse_python_request(text)
    assert (request.implementation, request.version, request.free_threaded) == (
        implementation,
        version,
        free_threaded,
    )
    assert request.path is None and request.specifier is None
    assert request.text == text


def test_empty_request_means_any() -> None:
    assert parse_python_request(None).is_any
    assert parse_python_request("").is_any
    assert parse_python_request(None).minimum_version() is None


def test_specifier_requests_parse() -> None:
    request = parse_python_request(">=3.10,<3.12")
    assert request.specifier == SpecifierSet(">=3.10,<3.12")
    assert request.minimum_version() == "3.10"
    assert parse_python_request("==3.11.*").minimum_version() == "3.11"
    assert parse_python_request("<3.12").minimum_version() is None
    assert parse_python_request("3.11.7").minimum_version() == "3.11"


def test_path_requests_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_python_request("./.venv").path == tmp_path / ".venv"
    assert parse_python_request("/usr/bin/python3").path == Path("/usr/bin/python3")
    assert parse_python_request("~/x").path == Path.home() / "x"


@pytest.mark.parametrize("text", ["banana", "3.x", ">=three", "t", "1.2", "pypy3.x", ">=3.8,,<"])
def test_garbage_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_python_request(text)
    assert caught.value.hint and "3.13t" in caught.value.hint
    assert caught.value.exit_code == 2


def test_satisfied_by_compares_versions_implementation_and_gil(tmp_path: Path) -> None:
    python = real_version_dir("3.12.") / "bin" / "python3"
    interpreter = probe_interpreter(python, cache_dir=tmp_path)
    fits = ["3", "3.12", interpreter.version, "cp312", "cpython3.12", ">=3.12,<3.13", str(python)]
    for text in fits:
        assert parse_python_request(text).satisfied_by(interpreter), text
    for text in ["3.11", "pypy3.12", "3.12t", "<3.12", "2", "/usr/bin/python3"]:
        assert not parse_python_request(text).satisfied_by(interpreter), text
    assert PythonRequest(path=real_version_dir("3.12.")).satisfied_by(interpreter)


# -- candidates ---------------------------------------------------------------------------


def test_candidates_come_from_path_then_pyenv_newest_first(machine: Path) -> None:
    candidates = list(iter_candidate_executables())
    sources = [source for _, source in candidates]
    names = [path.parent.parent.name for path, source in candidates if source == "pyenv"]
    assert candidates[0] == (machine / "usr-bin" / "python3.11", "PATH")
    assert sources == ["PATH"] + ["pyenv"] * 4  # python3 is the same file as python3.11
    assert [n.split(".")[:2] for n in names] == [["3", "13"], ["3", "12"], ["3", "8"], ["2", "7"]]
    assert all("shims" not in str(path) for path, _ in candidates)


# -- choosing -----------------------------------------------------------------------------


def test_any_request_prefers_the_first_on_path(machine: Path) -> None:
    found = find_interpreter(parse_python_request(None), requires_python=None, cache_dir=None)
    assert found.python_version == "3.11"
    assert found.executable == machine / "usr-bin" / "python3.11"


def test_a_range_not_on_path_takes_the_newest_pyenv_version(machine: Path) -> None:
    found = find_interpreter(parse_python_request(">=3.12"), requires_python=None, cache_dir=None)
    assert found.python_version == "3.13"


def test_requires_python_filters_candidates(machine: Path) -> None:
    found = find_interpreter(
        parse_python_request(None), requires_python=SpecifierSet(">=3.12,<3.13"), cache_dir=None
    )
    assert found.python_version == "3.12"
    old = find_interpreter(
        parse_python_request("3"), requires_python=SpecifierSet("<3.10"), cache_dir=None
    )
    assert old.python_version == "3.8"


def test_names_rule_out_candidates_before_probing(
    machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_probes(monkeypatch)
    found = find_interpreter(parse_python_request("3.12"), requires_python=None, cache_dir=None)
    assert found.python_version == "3.12"
    assert len(calls) == 1 and "3.12" in calls[0]


def test_a_second_search_probes_nothing(
    machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    request = parse_python_request(">=3.12,<3.13")
    first = find_interpreter(request, requires_python=None, cache_dir=tmp_path / "cache")
    calls = count_probes(monkeypatch)
    again = find_interpreter(request, requires_python=None, cache_dir=tmp_path / "cache")
    assert again == first and calls == []


def test_nothing_fits_lists_what_was_found(machine: Path) -> None:
    with pytest.raises(InterpreterNotFoundError) as caught:
        find_interpreter(parse_python_request("3.14"), requires_python=None, cache_dir=None)
    message = caught.value.message
    assert "Python 3.14" in message
    assert "3.11 (PATH)" in message
    assert "(pyenv)" in message and "3.12." in message and "3.13." in message
    assert "2.7.18 (pyenv, unsupported)" in message
    assert caught.value.hint is not None and "pyenv" in caught.value.hint


def test_requires_python_appears_in_the_refusal(machine: Path) -> None:
    with pytest.raises(InterpreterNotFoundError, match=r"requires-python >=3\.99"):
        find_interpreter(
            parse_python_request(None), requires_python=SpecifierSet(">=3.99"), cache_dir=None
        )


def test_a_path_request_probes_that_interpreter(machine: Path) -> None:
    python = real_version_dir("3.10.") / "bin" / "python3"
    found = find_interpreter(
        parse_python_request(str(python)), requires_python=None, cache_dir=None
    )
    assert found.executable == python and found.python_version == "3.10"
    by_dir = find_interpreter(
        parse_python_request(str(real_version_dir("3.10."))), requires_python=None, cache_dir=None
    )
    assert by_dir.python_version == "3.10"
    with pytest.raises(InterpreterNotFoundError, match="does not satisfy requires-python"):
        find_interpreter(
            parse_python_request(str(python)),
            requires_python=SpecifierSet(">=3.11"),
            cache_dir=None,
        )


def test_a_virtual_environment_on_path_gives_its_base_interpreter(
    machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = probe_interpreter(real_version_dir("3.12.") / "bin" / "python3", cache_dir=None)
    env = create_venv(tmp_path / "env", base)
    monkeypatch.setenv("PATH", str(env.scripts))
    found = find_interpreter(parse_python_request("3.12"), requires_python=None, cache_dir=None)
    assert not found.is_virtualenv
    assert found.executable == base.executable
    # Given as a path, the environment's own interpreter is what the user gets.
    own = find_interpreter(
        parse_python_request(str(env.root)), requires_python=None, cache_dir=None
    )
    assert own.is_virtualenv and own.prefix == env.root


def test_the_real_machine_finds_312_by_version_range_and_path(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    by_version = find_interpreter(
        parse_python_request("3.12"), requires_python=None, cache_dir=cache
    )
    by_range = find_interpreter(
        parse_python_request(">=3.12,<3.13"), requires_python=None, cache_dir=cache
    )
    assert by_version.python_version == by_range.python_version == "3.12"
    by_path = find_interpreter(
        parse_python_request(str(by_version.executable)), requires_python=None, cache_dir=cache
    )
    assert by_path == by_version


def test_list_interpreters_skips_unsupported_ones(machine: Path) -> None:
    found = list_interpreters(None)
    assert [(i.python_version, source) for i, source in found] == [
        ("3.11", "PATH"),
        ("3.13", "pyenv"),
        ("3.12", "pyenv"),
        ("3.8", "pyenv"),
    ]


@pytest.fixture
def many_sources(machine: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``machine`` plus every other place interpreters live: shipyard's own directory
    (3.10), uv's (3.9), mise's (3.7, too old), asdf's (3.6, too old), and a conda
    environment listed in ``~/.conda/environments.txt`` (Debian's /usr/bin/python3)."""
    home = machine / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.delenv("MAMBA_ROOT_PREFIX", raising=False)
    places = {
        "SHIPYARD_PYTHON_INSTALL_DIR": (machine / "managed", "3.10.", "cpython-{}-linux-x86_64"),
        "UV_PYTHON_INSTALL_DIR": (machine / "uv", "3.9.", "cpython-{}-linux-x86_64-gnu"),
        "MISE_DATA_DIR": (machine / "mise" / "installs" / "python", "3.7.", "{}"),
        "ASDF_DATA_DIR": (machine / "asdf" / "installs" / "python", "3.6.", "{}"),
    }
    for variable, (root, prefix, pattern) in places.items():
        root.mkdir(parents=True)
        real = real_version_dir(prefix)
        (root / pattern.format(real.name)).symlink_to(real)
        monkeypatch.setenv(variable, str(root if "installs" not in str(root) else root.parents[1]))
    env = machine / "conda-envs" / "analysis"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python3").symlink_to("/usr/bin/python3")
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(f"{env}\n{machine / 'gone'}\n")
    return machine


def test_every_source_is_searched_in_order(many_sources: Path) -> None:
    sources = [source for _path, source in iter_candidate_executables()]
    firsts = list(dict.fromkeys(sources))
    assert firsts == ["PATH", "shipyard", "pyenv", "uv", "mise", "asdf", "conda"]
    found = {source: interpreter.version for interpreter, source in list_interpreters(None)}
    assert found["shipyard"].startswith("3.10.") and found["uv"].startswith("3.9.")
    assert found["conda"] == probe_interpreter(Path("/usr/bin/python3"), cache_dir=None).version
    assert "mise" not in found and "asdf" not in found  # older than 3.8


def test_a_request_finds_an_interpreter_in_any_source(many_sources: Path) -> None:
    interpreter = find_interpreter(
        parse_python_request("3.9"), requires_python=None, cache_dir=None
    )
    assert str(interpreter.executable).startswith(str(many_sources / "uv"))


def test_an_interpreter_that_hangs_is_skipped_and_named(
    many_sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hanging = many_sources / "uv" / "cpython-3.14.0-linux-x86_64-gnu" / "bin" / "python3"
    hanging.parent.mkdir(parents=True)
    hanging.write_text("#!/bin/sh\nexec /bin/sleep 600\n")
    hanging.chmod(0o755)
    monkeypatch.setenv("SHIPYARD_PROBE_TIMEOUT", "1")
    skipped: list[str] = []
    found = list_interpreters(None, skipped=skipped)
    assert all(str(i.executable) != str(hanging) for i, _ in found)
    assert any(str(hanging) in reason and "did not answer" in reason for reason in skipped)
    assert {source for _, source in found} >= {"PATH", "pyenv", "uv", "shipyard", "conda"}
