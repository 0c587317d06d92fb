"""An sdist whose metadata does not build is skipped with a warning, and the failure
is remembered across runs (per sdist and interpreter) until the cache is cleaned."""

from __future__ import annotations

from pathlib import Path

from support import pkg

from .test_local_index import new_project, shipyard

PACKAGES = [
    # newest: an sdist whose dependencies only its build knows (as with a setup.py)
    pkg("both", "2.0", wheel=False, sdist=True, dynamic=["dependencies"]),
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


def test_an_sdist_that_states_its_metadata_is_locked_without_running_its_backend(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    # PEP 621: a [project] table with static dependencies is what any build would write.
    index = make_index(
        [pkg("plain", "1.0", ["helper>=1"], wheel=False, sdist=True), pkg("helper", "1.5")]
    )
    project = new_project(tmp_path, index, ["plain"])
    result = shipyard(project, "lock", SHIPYARD_TEST_BACKEND_FAIL="1")
    assert "shipyard_test_backend:" not in result.stderr  # each hook prints this line
    assert "Building plain" not in result.stderr and "Skipping" not in result.stderr
    pins = [line for line in _locked_version(project).splitlines() if "==" in line]
    assert pins == ["helper==1.5", "plain==1.0"]


def test_a_run_of_failing_builds_is_walked_past_with_builds_side_by_side(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    # Three sdist-only releases whose builds fail: the resolver starts building the
    # next ones while it waits for the first, and still tells each failure once.
    broken = [
        pkg("walk", version, wheel=False, sdist=True, dynamic=["dependencies"])
        for version in ("4.0", "3.0", "2.0")
    ]
    index = make_index([*broken, pkg("walk", "1.0")])
    project = new_project(tmp_path, index, ["walk"])
    result = shipyard(
        project,
        "lock",
        SHIPYARD_TEST_BACKEND_FAIL="1",
        SHIPYARD_CONCURRENT_BUILDS="2",
    )
    for version in ("4.0", "3.0", "2.0"):
        assert result.stderr.count(f"Skipping walk {version}:") == 1
    assert "walk==1.0" in _locked_version(project)
