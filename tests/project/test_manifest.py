"""Editing pyproject.toml keeps comments and layout; restore is byte-for-byte."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from shipyard.project.manifest import load_project
from shipyard.project.manifest_editor import ManifestEditor

ORIGINAL = """\
# The demo project.
[project]
name = "demo"   # the name
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "requests>=2",  # HTTP
]

[dependency-groups]
dev = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
"""


def test_add_remove_keep_comments(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(ORIGINAL)
    editor = ManifestEditor(path)
    editor.add(Requirement("pandas>=2.2"))
    editor.add(Requirement("Requests>=2.31"))  # replaces the existing entry, case-insensitive
    editor.add(Requirement("mypy"), group="lint")
    editor.add(Requirement("matplotlib"), optional="plots")
    editor.write()
    text = path.read_text()
    assert "# The demo project." in text and "# the name" in text
    project = load_project(tmp_path)
    assert [str(r) for r in project.dependencies] == ["Requests>=2.31", "pandas>=2.2"]
    assert [str(r) for r in project.dependency_groups["lint"]] == ["ruff", "mypy"]
    assert [str(r) for r in project.dependency_groups["dev"]] == ["pytest", "ruff", "mypy"]
    assert [str(r) for r in project.optional_dependencies["plots"]] == ["matplotlib"]
    editor = ManifestEditor(path)
    assert editor.remove("pandas")
    assert not editor.remove("not-there")
    editor.write()
    assert [str(r) for r in load_project(tmp_path).dependencies] == ["Requests>=2.31"]


def test_restore_is_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(ORIGINAL.encode())
    editor = ManifestEditor(path)
    editor.add(Requirement("pandas"))
    editor.write()
    assert path.read_bytes() != ORIGINAL.encode()
    editor.restore()
    assert path.read_bytes() == ORIGINAL.encode()


def test_input_hash_follows_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(ORIGINAL)
    first = load_project(tmp_path).input_hash({})
    path.write_text(ORIGINAL.replace("# HTTP", "# a comment change"))
    assert load_project(tmp_path).input_hash({}) == first
    path.write_text(ORIGINAL.replace("requests>=2", "requests>=2.1"))
    assert load_project(tmp_path).input_hash({}) != first


def test_conda_specs_are_added_replaced_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "a"\nversion = "1"\n\n# conda side below\n')
    editor = ManifestEditor(path)
    editor.add_conda("libfoo >=1")
    editor.add_conda("cuda-toolkit 12.4.*", platform="linux-64")
    editor.add_conda("libfoo >=1.2")  # the same package: replaced, not doubled
    editor.write()
    text = path.read_text()
    assert "# conda side below" in text
    assert "[tool]" not in text and "[tool.shipyard]" not in text
    assert "[tool.shipyard.conda.target]\n" not in text
    conda = tomllib.loads(text)["tool"]["shipyard"]["conda"]
    assert conda == {
        "dependencies": ["libfoo >=1.2"],
        "target": {"linux-64": {"dependencies": ["cuda-toolkit 12.4.*"]}},
    }
    editor = ManifestEditor(path)
    assert editor.remove_conda("LibFoo")
    assert not editor.remove_conda("libfoo")
    assert not editor.remove_conda("cuda-toolkit")  # only in the linux-64 table
    assert editor.remove_conda("cuda-toolkit", platform="linux-64")
