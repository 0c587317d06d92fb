"""Probing real interpreters from ~/.pyenv: facts, wheel tags, the cache, and refusals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import packaging
import pytest

from shipyard.errors import InterpreterNotFoundError
from shipyard.python.probe import probe_interpreter

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def pyenv_python(version: str) -> Path:
    """The interpreter of one installed pyenv version, e.g. ``"3.12"`` → 3.12.1's python3."""
    for directory in sorted(PYENV_VERSIONS.iterdir(), reverse=True):
        if directory.name == version or directory.name.startswith(version + "."):
            for name in ("python3", "python"):
                if (directory / "bin" / name).exists():
                    return directory / "bin" / name
    raise AssertionError(f"pyenv has no Python {version} on this machine")


@pytest.fixture(scope="session")
def packaging_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a copy of shipyard's own ``packaging``, for PYTHONPATH."""
    folder = tmp_path_factory.mktemp("packaging-copy")
    shutil.copytree(Path(packaging.__file__).parent, folder / "packaging")
    return folder


def run_json(executable: Path, code: str, pythonpath: Path | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run(
        [str(executable), "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


SELF_REPORT = """
import json, sys, sysconfig
from {module} import markers, tags
print(json.dumps({{
    "tags": [str(t) for t in tags.sys_tags()],
    "markers": markers.default_environment(),
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "platform": sysconfig.get_platform(),
}}))
"""


def self_report(python: Path, packaging_copy: Path) -> tuple[Any, bool]:
    """What ``python`` says of itself, through shipyard's own ``packaging`` when that
    release still imports there (``True``), else through the copy vendored in the
    interpreter's pip (``False``): packaging drops old Pythons (26.4 needs 3.10), and
    which release an install gets depends on the day."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    imports = subprocess.run(
        [str(python), "-c", "from packaging import markers, tags"],
        capture_output=True,
        env={**env, "PYTHONPATH": str(packaging_copy)},
    )
    if imports.returncode == 0:
        return run_json(python, SELF_REPORT.format(module="packaging"), packaging_copy), True
    return run_json(python, SELF_REPORT.format(module="pip._vendor.packaging")), False


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13"])
def test_facts_and_tags_match_what_the_interpreter_says_itself(
    version: str, packaging_copy: Path, tmp_path: Path
) -> None:
    python = pyenv_python(version)
    interpreter = probe_interpreter(python, cache_dir=tmp_path)
    own, current = self_report(python, packaging_copy)

    if current:
        assert list(interpreter.tags) == own["tags"]
    else:
        # An older packaging (pip's) lacks the `cpXY-none-any` tag newer releases add and
        # puts linux_* after manylinux_*: everything it lists must be there, and an
        # interpreter-specific tag first.
        nodot = version.replace(".", "")
        assert set(interpreter.tags) - set(own["tags"]) <= {f"cp{nodot}-none-any"}
        assert set(own["tags"]) <= set(interpreter.tags)
        assert interpreter.tags[0].startswith(f"cp{nodot}-cp{nodot}-")
    assert interpreter.markers == own["markers"]
    assert interpreter.version == own["markers"]["python_full_version"]
    assert interpreter.python_version == version
    assert interpreter.prefix == Path(own["prefix"])
    assert interpreter.base_prefix == Path(own["base_prefix"])
    assert interpreter.platform == own["platform"]
    assert interpreter.implementation == "cpython"
    assert interpreter.executable == python
    assert interpreter.base_executable == python
    assert not interpreter.is_virtualenv
    assert interpreter.pointer_size == 64
    assert interpreter.scheme["purelib"] == f"lib/python{version}/site-packages"
    assert interpreter.scheme["scripts"] == "bin"


def test_python_38_tags_match_its_own_pip(tmp_path: Path) -> None:
    # packaging 26 no longer imports on 3.8; pip's vendored copy (21.3) lacks only the
    # `cp38-none-any` tag that newer packaging added, and orders linux_* differently.
    python = pyenv_python("3.8")
    interpreter = probe_interpreter(python, cache_dir=tmp_path)
    own = run_json(
        python,
        "import json; from pip._vendor.packaging import markers, tags; print(json.dumps("
        "[[str(t) for t in tags.sys_tags()], markers.default_environment()]))",
    )
    assert set(interpreter.tags) - set(own[0]) == {"cp38-none-any"}
    assert set(own[0]) <= set(interpreter.tags)
    assert interpreter.markers == own[1]
    assert interpreter.tags[0] == "cp38-cp38-linux_x86_64"


def test_tags_prefer_the_newest_manylinux_and_keep_legacy_aliases(tmp_path: Path) -> None:
    tags = probe_interpreter(pyenv_python("3.11"), cache_dir=tmp_path).tags
    assert "cp311-cp311-manylinux2014_x86_64" in tags
    assert "cp311-cp311-manylinux1_x86_64" in tags
    assert "cp311-abi3-manylinux_2_17_x86_64" in tags
    assert tags.index("cp311-cp311-manylinux_2_28_x86_64") < tags.index(
        "cp311-cp311-manylinux_2_17_x86_64"
    )
    assert tags[-1] == "py30-none-any"


def test_debian_system_python_is_probed_too(tmp_path: Path) -> None:
    interpreter = probe_interpreter(Path("/usr/bin/python3"), cache_dir=tmp_path)
    assert interpreter.prefix == Path("/usr")
    assert interpreter.scheme["purelib"] == f"lib/python{interpreter.python_version}/site-packages"
    assert interpreter.executable == Path("/usr/bin/python3")


def counting_subprocess_run(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real_run: Callable[..., Any] = subprocess.run

    def run(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(cmd))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def test_a_second_probe_reads_the_cache_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = pyenv_python("3.12")
    first = probe_interpreter(python, cache_dir=tmp_path)
    entries = list((tmp_path / "interpreters-v1").glob("*.json"))
    assert len(entries) == 1
    assert entries[0].stem == hashlib.sha256(os.path.realpath(python).encode()).hexdigest()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached interpreter was run again")

    monkeypatch.setattr(subprocess, "run", refuse)
    again = probe_interpreter(python, cache_dir=tmp_path)
    assert again == first
    assert again.tags == first.tags and again.markers == first.markers
    # Another name for the same binary shares the entry but keeps its own path.
    other = python.parent / f"python{first.python_version}"
    assert probe_interpreter(other, cache_dir=tmp_path).executable == other


def test_a_changed_executable_is_probed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = tmp_path / "bin" / "python-wrapper"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {pyenv_python("3.11")} "$@"\n')
    wrapper.chmod(0o755)
    calls = counting_subprocess_run(monkeypatch)
    cache = tmp_path / "cache"

    assert probe_interpreter(wrapper, cache_dir=cache).python_version == "3.11"
    assert probe_interpreter(wrapper, cache_dir=cache).python_version == "3.11"
    assert len(calls) == 1

    wrapper.write_text(f'#!/bin/sh\n# now 3.12\nexec {pyenv_python("3.12")} "$@"\n')
    assert probe_interpreter(wrapper, cache_dir=cache).python_version == "3.12"
    assert len(calls) == 2


def test_a_corrupt_cache_entry_is_ignored(tmp_path: Path) -> None:
    python = pyenv_python("3.10")
    probe_interpreter(python, cache_dir=tmp_path)
    (entry,) = (tmp_path / "interpreters-v1").glob("*.json")
    entry.write_text("{not json")
    assert probe_interpreter(python, cache_dir=tmp_path).python_version == "3.10"
    assert json.loads(entry.read_text())["record"] == 1


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7"])
def test_old_interpreters_are_reported_unsupported(version: str, tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFoundError) as caught:
        probe_interpreter(pyenv_python(version), cache_dir=tmp_path)
    assert f"Python {version}." in caught.value.message
    assert "3.8 or newer" in caught.value.message
    assert caught.value.hint


def test_a_missing_file_is_not_an_interpreter(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFoundError, match="does not exist") as caught:
        probe_interpreter(tmp_path / "nope" / "python3", cache_dir=tmp_path)
    assert caught.value.hint


def test_a_file_that_is_not_executable_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "python3"
    plain.write_text("print('hi')\n")
    with pytest.raises(InterpreterNotFoundError, match="not an executable"):
        probe_interpreter(plain, cache_dir=tmp_path)
    with pytest.raises(InterpreterNotFoundError, match="not an executable"):
        probe_interpreter(tmp_path, cache_dir=tmp_path)


def test_a_program_that_is_not_python_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFoundError, match="does not look like a Python") as caught:
        probe_interpreter(Path("/bin/ls"), cache_dir=tmp_path)
    assert caught.value.hint
    assert not (tmp_path / "interpreters-v1").exists() or not any(
        (tmp_path / "interpreters-v1").iterdir()
    )


@pytest.mark.parametrize("version", ["3.8", "3.10", "3.12", "3.13"])
def test_derived_venv_facts_equal_a_real_probe(version: str, tmp_path: Path) -> None:
    """A fresh .venv's interpreter is not started: its facts are derived from the base's.
    They must be what probing it would have said."""
    from shipyard.python.probe import venv_interpreter
    from shipyard.venv import create_venv

    base = probe_interpreter(pyenv_python(version), cache_dir=None)
    env = create_venv(tmp_path / "venv", base)
    derived = venv_interpreter(base, env.root, env.python)
    probed = probe_interpreter(env.python, cache_dir=None)
    assert derived.executable == probed.executable
    assert derived.prefix == probed.prefix and derived.base_prefix == probed.base_prefix
    assert derived.is_virtualenv and probed.is_virtualenv
    assert os.path.realpath(derived.base_executable) == os.path.realpath(probed.base_executable)
    assert (derived.version, derived.implementation, derived.platform) == (
        probed.version,
        probed.implementation,
        probed.platform,
    )
    assert derived.markers == probed.markers
    assert derived.tags == probed.tags
    assert derived.scheme == probed.scheme
    assert (derived.gil_disabled, derived.pointer_size) == (
        probed.gil_disabled,
        probed.pointer_size,
    )


def test_free_threaded_314_tags() -> None:
    """A 3.14t interpreter (none on this machine): the ``cp314t`` ABI first and never
    the GIL build's ``cp314`` ABI, manylinux down to the oldest, then pure Python."""
    from shipyard.python.tags import TagInputs, supported_tags

    inputs = TagInputs(
        implementation="cpython",
        python_version=(3, 14),
        sys_platform="linux",
        platform="linux-x86_64",
        machine="x86_64",
        pointer_size=64,
        glibc="2.36",
        gil_disabled=True,
        ext_suffix=".cpython-314t-x86_64-linux-gnu.so",
        version_nodot="314",
    )
    tags = supported_tags(inputs)
    assert tags[0] == "cp314-cp314t-linux_x86_64"
    assert "cp314-cp314t-manylinux_2_17_x86_64" in tags
    assert "cp314-cp314t-manylinux1_x86_64" in tags
    assert not any(tag.startswith("cp314-cp314-") for tag in tags)
    assert not any("abi3-" in tag for tag in tags)  # the GIL build's stable ABI
    assert tags.index("cp314-cp314t-manylinux_2_17_x86_64") < tags.index("py314-none-any")
    assert tags[-1] == "py30-none-any"
