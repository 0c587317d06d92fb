"""Messages a new user meets (issue 20's list): each read as printed."""

from __future__ import annotations

import socket
from pathlib import Path

from e2e.test_local_index import PACKAGES, new_project, shipyard
from support import build_package, pkg


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


def test_a_misspelled_dependency_group_gets_a_suggestion(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_project(
        tmp_path, make_index(PACKAGES), [], extra='\n[dependency-groups]\ntest = ["helper"]\n'
    )
    close = shipyard(project, "sync", "--group", "tset", check=False)
    assert close.returncode == 1
    assert "no dependency group 'tset' (it has: test)" in _said(close)
    assert "Did you mean 'test'?" in _said(close)
    far = shipyard(project, "sync", "--group", "docs", check=False)
    assert far.returncode == 1 and "Did you mean" not in _said(far)


def test_a_misspelled_extra_gets_a_suggestion(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_project(
        tmp_path,
        make_index(PACKAGES),
        [],
        extra='\n[project.optional-dependencies]\nplots = ["helper"]\n',
    )
    close = shipyard(project, "sync", "--extra", "plost", check=False)
    assert close.returncode == 1
    assert "no extra 'plost' (it has: plots)" in _said(close)
    assert "Did you mean 'plots'?" in _said(close)


def test_a_misspelled_package_name_gets_a_suggestion(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("requests", "2.0"), pkg("app", "1.0", ["requests"])])
    project = new_project(tmp_path, index, ["app"])
    shipyard(project, "sync")
    before = (project / "pyproject.toml").read_text()
    # the lock's names are known: no index root page is fetched to find a close one
    result = shipyard(project, "add", "reqeusts", check=False)
    assert result.returncode == 1
    assert "no index or find-links location has a project named 'reqeusts'" in (
        _said(result).lower()
    )
    assert "Did you mean 'requests'?" in _said(result)
    assert (project / "pyproject.toml").read_text() == before
    assert not [r for r in index.requests if r.path.rstrip("/").endswith("/simple")]
    # a find-links folder lists its projects
    links = tmp_path / "links"
    links.mkdir()
    build_package(links, pkg("requests", "2.0"))
    bare = new_project(tmp_path, make_index([]), [], name="bare")
    found = shipyard(bare, "add", "--find-links", str(links), "reqeusts", check=False)
    assert found.returncode == 1 and "Did you mean 'requests'?" in _said(found)
    unlike = shipyard(bare, "add", "--find-links", str(links), "zzzzzz", check=False)
    assert unlike.returncode == 1 and "Did you mean" not in _said(unlike)


def test_an_unknown_extra_warns_and_installs_the_package(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("lib", "2.1", extras={"fast": ["speedup"], "docs": []}), *PACKAGES])
    project = new_project(tmp_path, index, [])
    result = shipyard(project, "add", "lib[nonexistentextra]")
    warning = "warning: lib 2.1 has no extra 'nonexistentextra' (it has: fast, docs)."
    assert _said(result).count(warning) == 1
    assert "+ lib==2.1" in _said(result)
    # a known extra says nothing
    assert "has no extra" not in _said(shipyard(project, "add", "lib[fast]"))


def test_python_install_without_its_download_server_names_the_mirror_setting(
    tmp_path: Path,
) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        mirror = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = shipyard(
            tmp_path,
            "python",
            "install",
            "3.12",
            check=False,
            SHIPYARD_PYTHON_MIRROR=mirror,
            SHIPYARD_PYTHON_INSTALL_DIR=str(tmp_path / "managed"),
        )
    said = _said(result)
    assert result.returncode == 1 and "Traceback" not in said
    assert "Could not download Python 3.12" in said and "python-build-standalone" in said
    assert f"mirror {mirror} could not be used" in said and "SHIPYARD_PYTHON_MIRROR" in said
    assert "index" not in said.lower()


def test_a_conflict_in_a_requirements_file_names_that_file(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(
        [
            pkg("a", "1.0"),
            pkg("a", "2.0"),
            pkg("b", "1.0", ["a>=2"]),
            pkg("c", "1.0", requires_python=">=3.99"),
        ]
    )
    (tmp_path / "reqs").mkdir()
    source = tmp_path / "reqs" / "base.in"
    for lines, expected in [
        ("a==1.0\nb\n", "relax one of your requirements: a==1.0 (-r reqs/base.in), b (-r"),
        ("a>=5\n", "Change the requirement 'a>=5' in reqs/base.in"),
        ("c\n", "Relax 'c' in reqs/base.in to allow a release that supports these Pythons"),
    ]:
        source.write_text(lines)
        result = shipyard(
            tmp_path, "pip", "compile", "reqs/base.in", "--index-url", index.index_url, check=False
        )
        said = _said(result)
        assert result.returncode == 1, said
        assert expected.lower() in said.lower()
        assert "pyproject.toml" not in said
        assert not (tmp_path / "reqs" / "base.txt").exists()
