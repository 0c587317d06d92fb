"""Bad input gives one short paragraph, exit code 1 (2 for usage), no traceback unless -v."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def make_project(path: Path, body: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(body)
    return path


def assert_one_paragraph(
    result: subprocess.CompletedProcess[str], code: int, *fragments: str
) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_invalid_requirement_is_rejected_and_manifest_untouched(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.11"\n'
    )
    before = (project / "pyproject.toml").read_bytes()
    result = run(project, "add", "pandas>>2")
    assert_one_paragraph(result, 1, "Invalid requirement 'pandas>>2'", "PEP 508")
    assert (project / "pyproject.toml").read_bytes() == before


def test_malformed_pyproject_names_the_file(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "[project\nname = 'x'\n")
    result = run(project, "lock")
    assert_one_paragraph(result, 1, "not valid TOML", "pyproject.toml")


def test_missing_pyproject(tmp_path: Path) -> None:
    result = run(tmp_path, "sync")
    assert_one_paragraph(result, 1, "No pyproject.toml found", "shipyard init")


def test_invalid_dependency_in_manifest_names_the_key(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p",
        '[project]\nname = "p"\nversion = "0"\ndependencies = ["ok", "bad req !!"]\n',
    )
    result = run(project, "lock")
    assert_one_paragraph(result, 1, "[project].dependencies", "bad req !!")


def test_unknown_group(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p",
        '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.11"\n\n[dependency-groups]\ndev = []\n',
    )
    (project / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n')
    result = run(project, "sync", "--frozen", "--group", "docs")
    assert_one_paragraph(result, 1, "no dependency group 'docs'", "dev")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path, "sync", "--link-mode", "teleport")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_unreachable_index_restores_manifest(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p",
        '# my project\n[project]\nname = "p"  # keep me\nversion = "0"\nrequires-python = ">=3.11"\ndependencies = []\n',
    )
    before = (project / "pyproject.toml").read_bytes()
    result = run(
        project,
        "add",
        "requests",
        "--index-url",
        "http://127.0.0.1:9/simple",
        env={"SHIPYARD_HTTP_RETRIES": "0", "SHIPYARD_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert_one_paragraph(result, 1, "Could not connect to 127.0.0.1", "127.0.0.1:9")
    assert (project / "pyproject.toml").read_bytes() == before
    assert not (project / "pylock.toml").exists()


def test_unresolvable_host(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", '[project]\nname = "p"\nversion = "0"\ndependencies = ["x"]\n'
    )
    result = run(
        project,
        "lock",
        "--index-url",
        "https://no-such-host.invalid/simple",
        env={"SHIPYARD_HTTP_RETRIES": "0", "SHIPYARD_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert_one_paragraph(result, 1, "Could not resolve host no-such-host.invalid")


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "[project\n")
    result = run(project, "-v", "lock")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_interpreter_not_found(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.11"\n'
    )
    (project / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n')
    result = run(project, "sync", "--frozen", "--python", "3.4")
    assert_one_paragraph(result, 1, "3.4", "3.12.1 (pyenv)")


@pytest.mark.parametrize(
    "args", [["--help"], ["sync", "--help"], ["lock", "--help"], ["run", "--help"]]
)
def test_every_command_has_help(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``shipyard python list | head -1``: no error text when the reader goes away."""
    for args in (["python", "list", "--only-installed"], ["python", "list", "-v"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # before it writes a line
        stderr = process.stderr.read().decode()
        process.wait(timeout=120)
        assert "error" not in stderr.lower() and "Traceback" not in stderr, stderr
