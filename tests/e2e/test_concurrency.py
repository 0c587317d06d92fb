"""Concurrent shipyard processes: eight syncs of overlapping projects filling one cache
at once, and two ``add`` commands in the same project at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from support import pkg

from .test_crash_safety import _record_ok
from .test_local_index import installed, new_project, shipyard, site_packages

PACKAGES = [
    pkg("shared", "1.0", files={f"shared/m{i}.py": "S = 1\n" * 30 for i in range(20)}),
    pkg("common", "2.0", ["shared"], files={f"common/m{i}.py": "C = 1\n" for i in range(10)}),
    pkg("built", "1.0", wheel=False, sdist=True),  # built from source, into the shared cache
    *(pkg(f"only{i}", "1.0", ["common"]) for i in range(8)),
    pkg("first", "1.0"),
    pkg("second", "1.0"),
]


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shipyard", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_eight_syncs_share_one_cache(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    projects = [
        new_project(tmp_path, index, [f"only{i}", "common", "built"], name=f"p{i}")
        for i in range(8)
    ]
    for project in projects:
        shipyard(project, "lock")
    running = [_start(project, "sync", "--frozen") for project in projects]
    for process in running:
        _out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    for i, project in enumerate(projects):
        assert installed(project) == {
            f"only{i}": "1.0",
            "common": "2.0",
            "shared": "1.0",
            "built": "1.0",
        }
        assert _record_ok(site_packages(project)) == []
    # the cache the eight wrote together serves a ninth project, which downloads nothing
    ninth = new_project(tmp_path, index, ["only3", "built"], name="p9")
    shipyard(ninth, "lock")
    result = shipyard(ninth, "sync", "--frozen", "--offline")
    assert installed(ninth)["built"] == "1.0", result.stderr
    assert _record_ok(site_packages(ninth)) == []


def test_two_adds_in_one_project_both_land(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["shared"])
    shipyard(project, "sync")
    first, second = _start(project, "add", "first"), _start(project, "add", "second")
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    waited = [err for _out, err in outputs if "Waiting for another shipyard command" in err]
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    names = {dep.split(">")[0].split("=")[0] for dep in manifest["project"]["dependencies"]}
    assert names == {"shared", "first", "second"}, (names, waited)
    locked = {p["name"] for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]}
    assert {"shared", "first", "second"} <= locked
    assert {"shared", "first", "second"} <= set(installed(project))
    assert shipyard(project, "sync").stderr.startswith("Audited")


def test_many_source_builds_on_two_workers_do_not_deadlock(
    tmp_path: Path, make_index, isolated_env: Path
) -> None:  # type: ignore[no-untyped-def]
    # Each build holds the builder's lock on a pool worker while its own build
    # requirements are resolved, which needs index pages fetched on that same pool;
    # with two workers and three builds, both workers were taken (one building, one
    # waiting for the lock) and the page waited forever behind them.
    index = make_index([pkg(f"src{i}", "1.0", wheel=False, sdist=True) for i in range(3)])
    project = new_project(tmp_path, index, [f"src{i}" for i in range(3)])
    shipyard(project, "lock")
    fresh_cache = tmp_path / "fresh-cache"
    shipyard(
        project,
        "sync",
        "--frozen",
        SHIPYARD_CONCURRENCY="2",
        SHIPYARD_CACHE_DIR=str(fresh_cache),
    )
    assert installed(project) == {"src0": "1.0", "src1": "1.0", "src2": "1.0"}
