"""Building from source runs code from the package: shipyard says so first, and
``--no-build`` / ``no-build-package`` refuse it, at lock and at sync."""

from __future__ import annotations

from pathlib import Path

from support import pkg

from .test_local_index import installed, new_project, shipyard

PACKAGES = [
    pkg("srconly", "1.0", wheel=False, sdist=True),
    pkg("both", "1.0", wheel=False, sdist=True),
    pkg("both", "0.9"),  # an older version with a wheel
    pkg("plain", "1.0"),
]


def test_a_build_is_announced_once_unless_asked_for(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["srconly", "plain"])
    result = shipyard(project, "sync")
    assert result.stderr.count("Building srconly 1.0 from source (srconly-1.0.tar.gz)") == 1
    assert "build backend" in result.stderr and "plain" not in result.stderr.split("Building")[1]
    assert installed(project) == {"srconly": "1.0", "plain": "1.0"}
    # Asked for by name: no notice.
    other = new_project(
        tmp_path, index, ["srconly"], name="other", extra='no-binary = ["srconly"]\n'
    )
    result = shipyard(other, "sync", SHIPYARD_CACHE_DIR=str(tmp_path / "cold"))
    assert "Building srconly" not in result.stderr
    assert installed(other) == {"srconly": "1.0"}


def test_no_build_refuses_at_lock_and_at_sync(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["both", "plain"])
    # Locking without building picks the newest version that has a wheel.
    shipyard(project, "lock", "--no-build")
    assert "both==0.9" in shipyard(project, "export", "--format", "constraints").stdout
    # A package with nothing but an sdist cannot be locked under --no-build.
    nothing = new_project(tmp_path, index, ["srconly"], name="nothing")
    result = shipyard(nothing, "lock", "--no-build", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "srconly" in result.stderr
    assert not (nothing / "pylock.toml").exists()
    # A lock made with builds allowed, synced with them forbidden: refused, nothing built.
    shipyard(nothing, "lock")
    result = shipyard(nothing, "sync", "--frozen", "--no-build", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "srconly 1.0 would be built from its source distribution" in result.stderr
    assert "--no-build forbids" in result.stderr
    assert "srconly" not in installed(nothing)


def test_no_build_package_in_the_manifest(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(
        tmp_path, index, ["both", "srconly"], extra='no-build-package = ["both"]\n'
    )
    shipyard(project, "sync")
    assert installed(project) == {"both": "0.9", "srconly": "1.0"}
