"""Git sources against real git: repositories made here, served over ``file://`` and
over smart HTTP (``git http-backend``) on 127.0.0.1, with a tag, a branch that moves
and a package in a subdirectory. The lock holds the exact commit (PEP 751 ``vcs``)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from support.git_server import GitServer, commit_files, git, make_repository
from support.uv_install import uv_install_lock

from .test_local_index import PACKAGES, installed, new_project, shipyard, site_packages

BACKEND = '[build-system]\nrequires = ["shipyard-test-backend"]\nbuild-backend = "shipyard_test_backend"\n\n'


def _package(name: str, value: str, deps: str = "") -> dict[str, str]:
    return {
        "pyproject.toml": BACKEND
        + f'[project]\nname = "{name}"\nversion = "1.{value}"\ndependencies = [{deps}]\n',
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitServer, Path, Path]]:
    """``gitpkg.git`` (package at the root, needing helper<2) with tag v1 on its first
    commit, served over HTTP; returns ``(server, bare repository, working clone)``."""
    root = tmp_path / "git" / "served"
    bare, clone = make_repository(root, "gitpkg", _package("gitpkg", "1", '"helper<2"'))
    git(clone, "tag", "v1")
    git(clone, "push", "--quiet", "origin", "v1")
    server = GitServer(root)
    yield server, bare, clone
    server.close()


def _value(project: Path, module: str) -> str:
    run = shipyard(project, "run", "python", "-c", f"import {module}; print({module}.VALUE)")
    return run.stdout.strip()


def _lock_entry(project: Path, name: str) -> dict:  # type: ignore[type-arg]
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()  # a valid PEP 751 lock, vcs entries included
    return next(p for p in document["packages"] if p["name"] == name)


def test_a_git_branch_is_locked_to_its_commit_until_upgraded(
    tmp_path: Path, make_index, served: tuple[GitServer, Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    server, _bare, clone = served
    first = git(clone, "rev-parse", "HEAD")
    project = new_project(tmp_path, make_index(PACKAGES), [])
    shipyard(project, "add", f"gitpkg @ git+{server.url}/gitpkg.git@main")
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["dependencies"] == ["gitpkg"]
    assert manifest["tool"]["shipyard"]["sources"]["gitpkg"] == {
        "git": f"{server.url}/gitpkg.git",
        "rev": "main",
    }
    vcs = _lock_entry(project, "gitpkg")["vcs"]
    assert vcs == {
        "type": "git",
        "url": f"{server.url}/gitpkg.git",
        "requested-revision": "main",
        "commit-id": first,
    }
    assert installed(project) == {"gitpkg": "1.1", "helper": "1.0"}
    assert _value(project, "gitpkg") == "1"
    direct = json.loads(
        (site_packages(project) / "gitpkg-1.1.dist-info/direct_url.json").read_text()
    )
    assert direct["vcs_info"] == {"vcs": "git", "commit_id": first}

    # The branch moves; the lock does not, whatever sync is asked.
    second = commit_files(clone, _package("gitpkg", "2"), "second")
    shipyard(project, "sync", "--frozen")
    shipyard(project, "sync")
    shipyard(project, "lock")
    assert _lock_entry(project, "gitpkg")["vcs"]["commit-id"] == first
    assert _value(project, "gitpkg") == "1"

    # Until the package is upgraded by name.
    shipyard(project, "lock", "--upgrade-package", "gitpkg")
    assert _lock_entry(project, "gitpkg")["vcs"]["commit-id"] == second
    shipyard(project, "sync")
    assert _value(project, "gitpkg") == "2"
    assert installed(project)["gitpkg"] == "1.2"


def test_a_git_tag_and_a_subdirectory_from_a_file_url(
    tmp_path: Path, make_index, served: tuple[GitServer, Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    _server, bare, clone = served
    tagged = git(clone, "rev-parse", "v1")
    commit_files(clone, {f"packages/sub/{k}": v for k, v in _package("subpkg", "7").items()}, "sub")
    extra = (
        "\n[tool.shipyard.sources]\n"
        f'gitpkg = {{ git = "{bare.as_uri()}", tag = "v1" }}\n'
        f'subpkg = {{ git = "{bare.as_uri()}", branch = "main", subdirectory = "packages/sub" }}\n'
    )
    project = new_project(tmp_path, make_index(PACKAGES), ["gitpkg", "subpkg"], extra=extra)
    shipyard(project, "sync")
    assert _lock_entry(project, "gitpkg")["vcs"]["commit-id"] == tagged
    assert _lock_entry(project, "gitpkg")["vcs"]["requested-revision"] == "v1"
    sub = _lock_entry(project, "subpkg")["vcs"]
    assert sub["subdirectory"] == "packages/sub" and sub["requested-revision"] == "main"
    assert _value(project, "gitpkg") == "1" and _value(project, "subpkg") == "7"
    exported = shipyard(project, "export", "--format", "requirements-txt").stdout
    assert "--require-hashes refuses them" in exported
    assert f"gitpkg @ git+{bare.as_uri()}@{tagged}" in exported
    assert f"subpkg @ git+{bare.as_uri()}@{sub['commit-id']}#subdirectory=packages/sub" in exported


def test_an_unknown_revision_is_a_clear_error(
    tmp_path: Path, make_index, served: tuple[GitServer, Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    server, _bare, _clone = served
    project = new_project(tmp_path, make_index(PACKAGES), [])
    result = shipyard(project, "add", f"gitpkg @ git+{server.url}/gitpkg.git@nope", check=False)
    assert result.returncode == 1
    text = " ".join(result.stderr.split())
    assert "has no tag, branch or commit 'nope'" in text and "Traceback" not in text
    assert "gitpkg" not in (project / "pyproject.toml").read_text()  # restored

    missing = tmp_path / "no-such-repo.git"
    result = shipyard(project, "add", f"gitpkg @ git+{missing.as_uri()}@v1", check=False)
    text = " ".join(result.stderr.split())
    assert result.returncode == 1 and "does not appear to be a git repository" in text


def test_uv_installs_a_lock_with_git_and_directory_entries(
    tmp_path: Path, make_index, served: tuple[GitServer, Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    _server, bare, _clone = served
    index = make_index(PACKAGES)
    extra = (
        "\n[tool.shipyard.sources]\n"
        f'gitpkg = {{ git = "{bare.as_uri()}", tag = "v1" }}\n'
        'core = { path = "packages/core" }\n'
    )
    project = new_project(tmp_path, index, ["gitpkg", "core"], extra=extra)
    (project / "packages" / "core" / "core").mkdir(parents=True)
    (project / "packages" / "core" / "core" / "__init__.py").write_text("VALUE = 'core'\n")
    (project / "packages" / "core" / "pyproject.toml").write_text(
        BACKEND + '[project]\nname = "core"\nversion = "0.3"\n'
    )
    shipyard(project, "lock")
    python = uv_install_lock(
        project / "pylock.toml", tmp_path / "uv-env", "--index-url", index.index_url
    )
    run = subprocess.run(
        [str(python), "-c", "import gitpkg, core, helper; print(gitpkg.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == "1", run.stderr


def test_pip_installs_the_export_of_a_lock_with_git_entries(
    tmp_path: Path, make_index, served: tuple[GitServer, Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    server, _bare, _clone = served
    index = make_index(PACKAGES)
    # Over HTTP: the pip that ensurepip bundles cannot parse git+file:/// requirements.
    extra = (
        f'\n[tool.shipyard.sources]\ngitpkg = {{ git = "{server.url}/gitpkg.git", tag = "v1" }}\n'
    )
    project = new_project(tmp_path, index, ["gitpkg"], extra=extra)
    shipyard(project, "lock")
    exported = project / "requirements.txt"
    shipyard(project, "export", "--format", "requirements-txt", "--no-hashes", "-o", str(exported))
    target = tmp_path / "pip-env"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    result = subprocess.run(
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--index-url",
            index.index_url,
            "-r",
            str(exported),
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    run = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import gitpkg, helper; print(gitpkg.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == "1", run.stderr

    # pip's hash-checking mode takes the rest of the lock once the git line is left out.
    hashed = project / "requirements.hashed.txt"
    shipyard(
        project,
        "export",
        "--format",
        "requirements-txt",
        "--no-emit-package",
        "gitpkg",
        "-o",
        str(hashed),
    )
    lines = [line for line in hashed.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in lines if "gitpkg" in line]
    checked = tmp_path / "pip-hashed"
    subprocess.run([sys.executable, "-m", "venv", str(checked)], check=True)
    result = subprocess.run(
        [
            str(checked / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--require-hashes",
            "--index-url",
            index.index_url,
            "-r",
            str(hashed),
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
