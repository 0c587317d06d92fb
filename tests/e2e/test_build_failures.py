"""An sdist whose metadata does not build is skipped with a warning, and the failure
is remembered across runs (per sdist and interpreter) until the cache is cleaned."""

from __future__ import annotations

from pathlib import Path

from support import pkg

from .test_local_index import new_project, shipyard

PACKAGES = [
    pkg("both", "2.0", wheel=False, sdist=True),  # newest: sdist only
    pkg("both", "1.0"),
]


def _locked_version(project: Path) -> str:
    return shipyard(project, "export", "--format", "constraints").stdout


def test_a_failed_metadata_build_is_remembered_until_the_cache_is_cleaned(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["both"])
    cache = str(tmp_path / "cache")

    result = shipyard(project, "lock", SHIPYARD_CACHE_DIR=cache, SHIPYARD_TEST_BACKEND_FAIL="1")
    assert "Skipping both 2.0" in result.stderr and "remembered" not in result.stderr
    assert "both==1.0" in _locked_version(project)

    # The backend would succeed now; the failure is remembered, so it is not run again.
    (project / "pylock.toml").unlink()
    result = shipyard(project, "lock", SHIPYARD_CACHE_DIR=cache)
    assert "Skipping both 2.0" in result.stderr
    assert "remembered from a build" in result.stderr and "cache clean" in result.stderr
    assert "shipyard_test_backend:" not in result.stderr  # each hook prints this line
    assert "Building both 2.0 from source" not in result.stderr
    assert "both==1.0" in _locked_version(project)

    shipyard(project, "cache", "clean", SHIPYARD_CACHE_DIR=cache)
    (project / "pylock.toml").unlink()
    result = shipyard(project, "lock", SHIPYARD_CACHE_DIR=cache)
    assert "Skipping" not in result.stderr
    assert "both==2.0" in _locked_version(project)
