"""A full disk, for real: the cache, then the environment, on a small tmpfs.

The sync must stop with a one-paragraph "disk is full" error, leave no partial cache
entry or download behind, report nothing half-installed, and a plain ``sync`` after
space is freed must bring the environment to the lock. Mounting needs root (CI runs
as root); elsewhere the test is skipped with that reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import pkg

from .test_crash_safety import _record_ok
from .test_local_index import installed, new_project, shipyard, site_packages

BIG = os.urandom(3 * 2**20)  # incompressible: the wheel and its unpacked copy are ~3 MiB


def _mount(point: Path, size: str) -> bool:
    point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    point = tmp_path / "small"
    if not _mount(point, "2m"):
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _grow(point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(point)], check=True)


def test_a_full_cache_disk_stops_cleanly_and_sync_recovers(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, small_disk: Path
) -> None:
    index = make_index([pkg("small", "1.0"), pkg("huge", "1.0", files={"huge/blob.bin": BIG})])
    project = new_project(tmp_path, index, ["small"])
    cache = small_disk / "cache"
    env = {"SHIPYARD_CACHE_DIR": str(cache)}
    shipyard(project, "sync", **env)
    text = (project / "pyproject.toml").read_text().replace('["small"]', '["small", "huge"]')
    (project / "pyproject.toml").write_text(text)
    result = shipyard(project, "sync", check=False, **env)
    assert result.returncode == 1, result.stderr
    assert "disk" in result.stderr.lower() and "full" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
    # Nothing half-made in the cache; the environment is as before.
    assert not list(cache.rglob("*.part")) and not list(cache.rglob(".*.tmp-*"))
    assert not [p for p in cache.rglob("huge/blob.bin")]
    assert installed(project) == {"small": "1.0"}
    _grow(small_disk)
    shipyard(project, "sync", **env)
    assert installed(project) == {"small": "1.0", "huge": "1.0"}
    assert (site_packages(project) / "huge" / "blob.bin").read_bytes() == BIG


def test_a_full_environment_disk_stops_cleanly_and_sync_recovers(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, small_disk: Path
) -> None:
    """The cache has room; the project (and .venv) lives on the small disk, so the
    wheel's files are copied across file systems until the disk is full."""
    index = make_index([pkg("small", "1.0"), pkg("huge", "1.0", files={"huge/blob.bin": BIG})])
    project = new_project(small_disk, index, ["small", "huge"], name="proj")
    shipyard(project, "lock")
    result = shipyard(project, "sync", "--frozen", "--link-mode", "copy", check=False)
    assert result.returncode == 1, result.stderr
    assert "disk" in result.stderr.lower() and "full" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
    if (project / ".venv").exists():
        site = site_packages(project)
        assert "huge" not in installed(project)  # never reported as installed
        assert _record_ok(site) == []
    _grow(small_disk)
    shipyard(project, "sync", "--frozen")
    assert installed(project) == {"small": "1.0", "huge": "1.0"}
    assert _record_ok(site_packages(project)) == []
