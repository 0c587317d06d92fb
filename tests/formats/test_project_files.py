"""Readers of other tools' project files: Poetry constraints in PEP 440 terms, the
tables of Poetry, Pipenv, PDM and setup.cfg, and their lock files' pins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from shipyard.errors import ManifestError
from shipyard.formats.pipenv import read_pipfile, read_pipfile_lock
from shipyard.formats.poetry import poetry_constraint, python_marker, read_poetry_lock
from shipyard.formats.tomlfiles import read_toml


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0", ">=0.0,<0.1"),
        ("^0", ">=0,<1"),
        ("^1.2", ">=1.2,<2.0"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1", ">=1,<2"),
        ("~=1.4", "~=1.4"),
        ("*", ""),
        ("1.2.*", "==1.2.*"),
        ("1.x", "==1.*"),
        ("1.2.3", "==1.2.3"),
        ("=1.2.3", "==1.2.3"),
        (">=1.2 <2", ">=1.2,<2"),
        (">= 2.1.0, < 3", ">=2.1.0,<3"),
        ("!=1.5", "!=1.5"),
        ("^2.0 || ^3.0", ">=2.0,<4.0"),
    ],
)
def test_poetry_constraints_become_pep440(poetry: str, pep440: str) -> None:
    constraint = poetry_constraint(poetry)
    assert constraint.specifier == pep440
    assert not constraint.widened
    SpecifierSet(constraint.specifier)  # valid PEP 440


def test_a_union_with_a_gap_is_widened_and_says_so() -> None:
    constraint = poetry_constraint("^1.0 || ^3.0")
    assert constraint.specifier == ">=1.0,<4.0" and constraint.widened
    assert "2.5" in SpecifierSet(constraint.specifier)  # what widening admits


@pytest.mark.parametrize("text", ["^", "^^1", ">=1.0 ~~2", "abc def"])
def test_nonsense_constraints_raise(text: str) -> None:
    with pytest.raises(ValueError):
        poetry_constraint(text)


@pytest.mark.parametrize(
    ("poetry", "holds", "fails"),
    [
        ("^3.8", ["3.8.0", "3.12.1"], ["3.7.9", "4.0.0"]),
        (">=2.7,<2.8 || >=3.4", ["2.7.18", "3.4.0"], ["3.0.1", "2.6.9"]),
        ("3.9.*", ["3.9.2"], ["3.10.0"]),
        (">=3.8.1", ["3.8.1", "3.9.0"], ["3.8.0"]),
    ],
)
def test_python_constraints_become_markers(poetry: str, holds: list[str], fails: list[str]) -> None:
    marker = Marker(python_marker(poetry))
    for version in holds:
        short = ".".join(version.split(".")[:2])
        assert marker.evaluate({"python_version": short, "python_full_version": version})
    for version in fails:
        short = ".".join(version.split(".")[:2])
        assert not marker.evaluate({"python_version": short, "python_full_version": version})


def test_pipfile_categories_markers_and_problems(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile"
    path.write_text(
        '[[source]]\nurl = "https://pypi.org/simple"\nverify_ssl = false\nname = "pypi"\n\n'
        '[packages]\nrequests = {extras = ["socks"], version = ">=2.31"}\n'
        'django = "4.2"\nwin = {version = "*", os_name = "== \'nt\'"}\n'
        'tool = {hg = "https://example.org/tool", ref = "main"}\n\n'
        '[dev-packages]\npytest = "*"\n\n[docs]\nsphinx = "~=7.2"\n\n'
        '[requires]\npython_full_version = "3.11.4"\n'
    )
    imported = read_pipfile(read_toml(path))
    assert [str(r.requirement) for r in imported.dependencies] == [
        "requests[socks]>=2.31",
        "django==4.2",
        'win; os_name == "nt"',
    ]
    assert {g: [str(r.requirement) for r in rs] for g, rs in imported.groups.items()} == {
        "dev": ["pytest"],
        "docs": ["sphinx~=7.2"],
    }
    assert imported.requires_python == ">=3.11" and imported.python == "3.11.4"
    assert any(p.startswith(f"{path}:10: tool comes from hg") for p in imported.problems)
    assert any(f"{path}:3: verify_ssl = false" in p for p in imported.problems)


def test_lock_files_give_pins(tmp_path: Path) -> None:
    lock = tmp_path / "Pipfile.lock"
    lock.write_text(
        json.dumps(
            {
                "_meta": {},
                "default": {"Requests": {"version": "==2.31.0"}, "local": {"path": "."}},
                "develop": {"pytest": {"version": "==8.0.0"}},
            }
        )
    )
    pins = read_pipfile_lock(lock)
    assert {k: str(v) for k, (v, _) in pins.pins.items()} == {
        "requests": "2.31.0",
        "pytest": "8.0.0",
    }
    assert "local is not from an index" in pins.unpinned["local"]
    poetry = tmp_path / "poetry.lock"
    poetry.write_text(
        '[[package]]\nname = "six"\nversion = "1.16.0"\n\n'
        '[[package]]\nname = "mylib"\nversion = "0.1"\n\n[package.source]\n'
        'type = "directory"\nurl = "../mylib"\n\n'
        '[[package]]\nname = "numpy"\nversion = "1.26.4"\n\n'
        '[[package]]\nname = "numpy"\nversion = "2.0.1"\n'
    )
    pins = read_poetry_lock(read_toml(poetry))
    assert {k: str(v) for k, (v, _) in pins.pins.items()} == {"six": "1.16.0", "numpy": "2.0.1"}


def test_broken_files_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "poetry.lock"
    path.write_text('[[package]]\nname = "six"\nversion = \n')
    with pytest.raises(ManifestError, match=r"poetry.lock is not valid TOML: .*line 3"):
        read_toml(path)
    lock = tmp_path / "Pipfile.lock"
    lock.write_text("{not json")
    with pytest.raises(ManifestError, match=r"Pipfile\.lock is not a readable JSON lock file"):
        read_pipfile_lock(lock)
