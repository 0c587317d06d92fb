"""Messages a new user meets (issue 20's list): each read as printed."""

from __future__ import annotations

from pathlib import Path

from e2e.test_local_index import PACKAGES, new_project, shipyard


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((result.stdout + result.stderr).split())


def test_counts_agree_with_their_noun(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_project(tmp_path, make_index(PACKAGES), ["speedup"])
    assert "Installed 1 package" in _said(shipyard(project, "sync"))
    assert "Uninstalled 1 package" in _said(shipyard(project, "remove", "speedup"))
    assert "1 packages" not in _said(shipyard(project, "add", "speedup"))


def test_a_misspelled_command_or_option_gets_a_suggestion(tmp_path: Path) -> None:
    command = shipyard(tmp_path, "snyc", check=False)
    assert command.returncode == 2 and "Did you mean 'sync'?" in _said(command)
    option = shipyard(tmp_path, "lock", "--upgrade-pakage", "x", check=False)
    assert option.returncode == 2 and "Did you mean '--upgrade-package'?" in _said(option)
    nothing = shipyard(tmp_path, "xyzzy", check=False)
    assert nothing.returncode == 2 and "Did you mean" not in _said(nothing)


def test_a_single_equals_pin_suggests_double(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_project(tmp_path, make_index(PACKAGES), [])
    before = (project / "pyproject.toml").read_text()
    result = shipyard(project, "add", "helper=2.1", check=False)
    assert result.returncode == 1
    assert "Did you mean 'helper==2.1'?" in _said(result)
    assert (project / "pyproject.toml").read_text() == before


def test_a_broken_pyproject_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0.1"\ndependencies = ["a",\n'
    )
    result = shipyard(tmp_path, "lock", check=False)
    said = _said(result)
    assert result.returncode == 1 and "Traceback" not in said
    assert "pyproject.toml:4" in said and 'dependencies = ["a",' in said
