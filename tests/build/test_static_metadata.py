"""Source trees that state their metadata (PEP 643 PKG-INFO, PEP 621 ``[project]``)
are read, not built; anything a backend could still change is left to the backend."""

from __future__ import annotations

from pathlib import Path

from shipyard.build.frontend import static_metadata

PROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "Demo_Pkg"
version = "1.2"
requires-python = ">=3.9"
dependencies = ["requests>=2", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
Win = ["pywin32; sys_platform == 'win32'", "winhelper @ https://example.invalid/w.whl"]
yaml = ["pyyaml"]
"""


def _tree(tmp_path: Path, pyproject: str | None = None, pkg_info: str | None = None) -> Path:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    if pkg_info is not None:
        (tmp_path / "PKG-INFO").write_text(pkg_info)
    return tmp_path


def test_a_static_project_table_is_the_metadata(tmp_path: Path) -> None:
    found = static_metadata(_tree(tmp_path, PROJECT, "Metadata-Version: 2.1\nName: demo-pkg\n"))
    assert found is not None
    assert (found.name, found.version, found.requires_python) == ("demo-pkg", "1.2", ">=3.9")
    assert found.provides_extra == ("win", "yaml")
    assert found.requires_dist == (
        "requests>=2",
        'tomli; python_version < "3.11"',
        'pywin32; sys_platform == "win32" and extra == "win"',
        'winhelper @ https://example.invalid/w.whl ; extra == "win"',
        'pyyaml; extra == "yaml"',
    )


def test_dynamic_dependencies_or_version_leave_it_to_the_backend(tmp_path: Path) -> None:
    for dynamic in ('["dependencies"]', '["version"]', '["optional-dependencies"]'):
        text = PROJECT.replace('version = "1.2"\n', f"dynamic = {dynamic}\n")
        if "version" not in dynamic:
            text = text.replace("[project]\n", '[project]\nversion = "1.2"\n')
        assert static_metadata(_tree(tmp_path, text)) is None, dynamic


def test_no_project_table_or_broken_values_leave_it_to_the_backend(tmp_path: Path) -> None:
    assert static_metadata(_tree(tmp_path)) is None  # setup.py only
    assert static_metadata(_tree(tmp_path, "[build-system]\nrequires = []\n")) is None
    assert static_metadata(_tree(tmp_path, PROJECT.replace("requests>=2", "requests>=>2"))) is None
    assert static_metadata(_tree(tmp_path, "[project\n")) is None


def test_pkg_info_2_2_without_dynamic_requirements_is_the_metadata(tmp_path: Path) -> None:
    # A setup.py project built by a setuptools that writes PEP 643 PKG-INFO.
    pkg_info = (
        "Metadata-Version: 2.2\nName: legacy\nVersion: 3.0\nRequires-Python: >=3.8\n"
        "Dynamic: Summary\nRequires-Dist: six\nProvides-Extra: fast\n"
        'Requires-Dist: cython; extra == "fast"\n'
    )
    found = static_metadata(_tree(tmp_path, pkg_info=pkg_info))
    assert found is not None
    assert (found.name, found.version, found.requires_python) == ("legacy", "3.0", ">=3.8")
    assert found.requires_dist == ("six", 'cython; extra == "fast"')
    assert found.provides_extra == ("fast",)


def test_pkg_info_with_dynamic_requirements_or_before_2_2_is_not_trusted(
    tmp_path: Path,
) -> None:
    dynamic = "Metadata-Version: 2.2\nName: legacy\nVersion: 3.0\nDynamic: Requires-Dist\n"
    assert static_metadata(_tree(tmp_path, pkg_info=dynamic)) is None
    old = "Metadata-Version: 2.1\nName: legacy\nVersion: 3.0\nRequires-Dist: six\n"
    assert static_metadata(_tree(tmp_path, pkg_info=old)) is None


def test_unreadable_pkg_info_leaves_it_to_the_backend(tmp_path: Path) -> None:
    (tmp_path / "PKG-INFO").write_bytes(b"\xff\xfeMetadata-Version: 2.4\n\xff")
    assert static_metadata(tmp_path) is None
