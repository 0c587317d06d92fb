"""A workspace of three members (one requiring another): one lock at the root, every
member editable in the root's ``.venv``, ``--package`` to pick one."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.pylock import Pylock
from packaging.specifiers import SpecifierSet

from .test_local_index import PACKAGES, installed, new_project, shipyard

BACKEND = '[build-system]\nrequires = ["shipyard-test-backend"]\nbuild-backend = "shipyard_test_backend"\n\n'


def _member(root: Path, name: str, deps: str, extra: str = "") -> Path:
    directory = root / "packages" / name
    (directory / name).mkdir(parents=True)
    (directory / name / "__init__.py").write_text(f"VALUE = '{name}-1'\n")
    (directory / "pyproject.toml").write_text(
        BACKEND + f'[project]\nname = "{name}"\nversion = "0.1"\ndependencies = [{deps}]\n{extra}'
    )
    return directory


def test_a_workspace_locks_once_and_runs_each_member(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    root = new_project(
        tmp_path,
        make_index(PACKAGES),
        [],
        name="monorepo",
        extra='\n[tool.shipyard.workspace]\nmembers = ["packages/*"]\n',
    )
    core = _member(root, "core", '"helper<2"')
    app = _member(
        root,
        "app",
        '"core", "util"',
        'requires-python = ">=3.11,<3.14"\n\n[tool.shipyard.sources]\ncore = { workspace = true }\n',
    )
    _member(root, "tool", "")

    # Run from inside a member: the workspace root's lock and .venv are used.
    shipyard(app, "lock")
    assert not (app / "pylock.toml").exists() and (root / "pylock.toml").is_file()
    document = tomllib.loads((root / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    entries = {p["name"]: p for p in document["packages"]}
    for name in ("core", "app", "tool"):
        assert entries[name]["directory"] == {"path": f"packages/{name}", "editable": True}
    assert entries["helper"]["version"] == "1.0"  # core's requirement, through app too
    assert SpecifierSet(document["requires-python"]) == SpecifierSet(">=3.11,<3.14")

    for name in ("core", "app", "tool"):
        run = shipyard(
            app, "run", "--package", name, "python", "-c", f"import {name}; print({name}.VALUE)"
        )
        assert run.stdout.strip() == f"{name}-1"
    assert not (app / ".venv").exists() and (root / ".venv").is_dir()
    assert installed(root) == {
        "app": "0.1",
        "core": "0.1",
        "helper": "1.0",
        "tool": "0.1",
        "util": "1.0",
    }

    # An edit in a member is seen without a sync.
    (core / "core" / "__init__.py").write_text("VALUE = 'core-2'\n")
    run = shipyard(root, "run", "--no-sync", "python", "-c", "import core; print(core.VALUE)")
    assert run.stdout.strip() == "core-2"

    # --package syncs one member and what it needs, exactly.
    shipyard(root, "sync", "--package", "tool")
    assert installed(root) == {"tool": "0.1"}
    shipyard(root, "sync", "--package", "app")
    assert installed(root) == {"app": "0.1", "core": "0.1", "helper": "1.0", "util": "1.0"}
    bad = shipyard(root, "sync", "--package", "nope", check=False)
    assert bad.returncode != 0 and "names no project of this workspace" in bad.stderr

    # add --package edits that member and locks at the root.
    shipyard(root, "add", "--package", "tool", "speedup")
    assert '"speedup>=0.3"' in (root / "packages" / "tool" / "pyproject.toml").read_text()
    assert "speedup" not in (root / "pyproject.toml").read_text()
    assert installed(root)["speedup"] == "0.3"

    # A member's new requirement is locked by the next plain sync.
    text = (core / "pyproject.toml").read_text().replace('"helper<2"', '"helper>=2"')
    (core / "pyproject.toml").write_text(text)
    shipyard(root, "sync")
    assert installed(root)["helper"] == "2.1"


def test_init_inside_a_workspace_adds_the_member(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    root = new_project(
        tmp_path,
        make_index(PACKAGES),
        [],
        name="monorepo",
        extra='\n[tool.shipyard.workspace]\nmembers = ["packages/*"]\n',
    )
    inside = shipyard(root, "init", "packages/first")
    assert "member of the workspace" in inside.stderr + inside.stdout
    manifest = tomllib.loads((root / "pyproject.toml").read_text())
    assert manifest["tool"]["shipyard"]["workspace"]["members"] == ["packages/*"]  # matched
    outside = shipyard(root, "init", "tools/second")
    assert "member of the workspace" in outside.stderr + outside.stdout
    manifest = tomllib.loads((root / "pyproject.toml").read_text())
    assert manifest["tool"]["shipyard"]["workspace"]["members"] == ["packages/*", "tools/second"]
    shipyard(root, "lock")
    names = {p["name"] for p in tomllib.loads((root / "pylock.toml").read_text())["packages"]}
    assert {"first", "second"} <= names
