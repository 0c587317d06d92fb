"""The resolver on the real PyPI: conflicts explained, forks per Python, patch-level
Requires-Python, several numpy versions for a wide requires-python, and a changed
resolution mode applied at once.

Marked ``network``: runs in CI (``CI=true``) or with ``SHIPYARD_NETWORK_TESTS=1``.
What these check holds whatever PyPI serves next month: version floors, never exact
versions.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from shipyard.specs.markers import evaluate, parse_marker
from shipyard.specs.targets import default_targets

from .test_real_pypi import _tags_for, shipyard

pytestmark = pytest.mark.network


def _project(tmp_path: Path, requires_python: str, dependencies: list[str]) -> Path:
    project = tmp_path / "p"
    project.mkdir()
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "0"\nrequires-python = "{requires_python}"\n'
        f"dependencies = [{deps}]\n"
    )
    return project


def _packages(project: Path, name: str) -> list[dict]:  # type: ignore[type-arg]
    document = tomllib.loads((project / "pylock.toml").read_text())
    return [p for p in document["packages"] if p["name"] == name]


def _version_for(packages: list[dict], environment: dict[str, str]) -> Version:  # type: ignore[type-arg]
    """The one locked version whose marker holds in ``environment``."""
    chosen = [
        Version(p["version"])
        for p in packages
        if "marker" not in p
        or evaluate(parse_marker(p["marker"]), environment, context="lock_file")
    ]
    assert len(chosen) == 1, (environment["python_full_version"], packages)
    return chosen[0]


def test_pandas_with_an_old_numpy_is_explained_naming_both(tmp_path: Path) -> None:
    project = _project(tmp_path, ">=3.10", ["pandas>=2.2", "numpy<1.22"])
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    # Python 3.10 fails on pandas' numpy floor; 3.11 and later on numpy<1.22's cap
    # (numpy 1.21.2 requires Python <3.11): both reasons are told, for their Pythons.
    assert "On Python 3.10: because pandas>=2.2" in message
    assert "numpy>=1.22.4" in message
    assert "numpy has no version for Python 3.11, 3.12" in message
    assert "Relax one of your requirements: pandas>=2.2, numpy<1.22." in message
    assert "too many steps" not in message and "Traceback" not in message
    assert not (project / "pylock.toml").exists()


def test_django_gets_its_newest_release_for_each_python(tmp_path: Path) -> None:
    project = _project(tmp_path, ">=3.10", ["django>=4.2"])
    shipyard(project, "lock")
    django = _packages(project, "django")
    for target in default_targets(SpecifierSet(">=3.10"), ()):
        version = _version_for(django, dict(target.markers))
        if target.python >= (3, 12):
            assert version >= Version("6"), (target.name, version)
        else:
            assert Version("5.2") <= version < Version("6"), (target.name, version)


def test_cryptography_is_new_from_python_3_9_2_on(tmp_path: Path) -> None:
    # cryptography >= 44 says Requires-Python >=3.7,!=3.9.0,!=3.9.1: that excludes two
    # patch releases, not Python 3.9.
    project = _project(tmp_path, ">=3.8", ["cryptography"])
    shipyard(project, "lock")
    cryptography = _packages(project, "cryptography")
    base = dict(next(iter(default_targets(SpecifierSet(">=3.8"), ()))).markers)

    def at(full: str) -> dict[str, str]:
        return {**base, "python_full_version": full, "python_version": full.rsplit(".", 1)[0]}

    for full in ("3.9.2", "3.9.25", "3.12.0"):
        assert _version_for(cryptography, at(full)) >= Version("44"), full
    assert _version_for(cryptography, at("3.9.1")) < Version("44")


def test_a_wide_requires_python_locks_a_numpy_with_wheels_for_each_python(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, ">=3.8", ["numpy", "scipy", "pandas"])
    shipyard(project, "lock")
    numpy = _packages(project, "numpy")
    assert len(numpy) >= 3
    for target in default_targets(SpecifierSet(">=3.8"), ()):
        if target.python > (3, 13):
            continue  # wheels for the newest Pythons come with time
        environment = dict(target.markers)
        version = _version_for(numpy, environment)
        entry = next(p for p in numpy if Version(p["version"]) == version)
        tags = set(_tags_for(target))
        wheels = [
            parse_wheel_filename(w["url"].rsplit("/", 1)[-1])[3] for w in entry.get("wheels", [])
        ]
        assert any(wheel_tags & tags for wheel_tags in wheels), (target.name, version)


def test_a_new_resolution_mode_is_applied_at_once(tmp_path: Path) -> None:
    project = _project(tmp_path, ">=3.11", ["fastapi>=0.110"])
    shipyard(project, "lock")
    newest = Version(_packages(project, "fastapi")[0]["version"])
    result = shipyard(project, "lock", "--resolution", "lowest-direct")
    assert "resolution highest -> lowest-direct" in " ".join(result.stderr.split())
    lowest = Version(_packages(project, "fastapi")[0]["version"])
    assert lowest < newest and lowest in SpecifierSet(">=0.110,<0.111")
    starlette = Version(_packages(project, "starlette")[0]["version"])
    shipyard(project, "lock", "--upgrade-package", "fastapi")
    assert Version(_packages(project, "fastapi")[0]["version"]) == lowest
    assert Version(_packages(project, "starlette")[0]["version"]) == starlette
