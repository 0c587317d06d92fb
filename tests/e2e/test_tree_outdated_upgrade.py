"""`tree`, `why`, `outdated` and `upgrade` on a local index whose newer versions
appear between two commands: the tree from the lock alone (also with the index
down), the newer versions as `outdated --json` reports them, and `upgrade` raising
the lower bounds in pyproject.toml — comments and quoting kept — then the lock and
.venv following."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from support import IndexServer, build_package, pkg

from .test_local_index import installed, shipyard

PACKAGES = [
    pkg("alpha", "1.0", ["beta>=1"]),
    pkg("beta", "1.0"),
    pkg("gamma", "1.0", ["beta", "delta; sys_platform == 'win32'"]),
    pkg("delta", "1.0"),
    pkg("tester", "1.0", ["beta"]),
]

MANIFEST = """\
[project]
name = "proj"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "alpha>=1.0,<2",  # keep alpha below 2 for now
    'gamma',
]

[dependency-groups]
dev = ["tester"]

[tool.shipyard]
index-url = "{url}"
"""


def _project(tmp_path: Path, index: IndexServer, manifest: str = MANIFEST) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(manifest.format(url=index.index_url))
    return project


def _publish(index: IndexServer, *specs: object) -> None:
    """Newer versions appear on the running index."""
    for spec in specs:
        build_package(index.root, spec)  # type: ignore[arg-type]


def _locked(project: Path) -> dict[str, str]:
    document = tomllib.loads((project / "pylock.toml").read_text())
    return {p["name"]: p["version"] for p in document["packages"] if "version" in p}


def test_tree_and_why_come_from_the_lock_alone(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "lock")

    tree = shipyard(project, "tree").stdout
    assert tree == (
        "proj 0.1.0\n"
        "├── alpha 1.0 (<2,>=1.0)\n"
        "│   └── beta 1.0\n"
        "├── gamma 1.0\n"
        "│   ├── beta 1.0\n"
        '│   └── delta 1.0 ; sys_platform == "win32"\n'
        "└── tester 1.0 (group: dev)\n"
        "    └── beta 1.0\n"
    )
    assert shipyard(project, "tree", "--depth", "1", "--no-default-groups").stdout == (
        "proj 0.1.0\n├── alpha 1.0 (<2,>=1.0)\n└── gamma 1.0\n"
    )
    ascii_tree = shipyard(project, "tree", "--ascii", "--package", "gamma").stdout
    assert ascii_tree == 'gamma 1.0\n|-- beta 1.0\n`-- delta 1.0 ; sys_platform == "win32"\n'

    # Another target: the Windows-only package loses its marker, Linux leaves it out.
    windows = shipyard(project, "tree", "--for-environment", "sys_platform == 'win32'").stdout
    assert "└── delta 1.0\n" in windows
    linux = shipyard(project, "tree", "--python-platform", "linux", "--python-version", "3.12")
    assert "delta" not in linux.stdout

    # A package seen twice is expanded once, then marked (*).
    inverted = shipyard(project, "tree", "--invert", "--package", "beta").stdout
    assert inverted == (
        "beta 1.0\n"
        "├── alpha 1.0\n"
        "│   └── proj 0.1.0 (dependencies: alpha<2,>=1.0)\n"
        "├── gamma 1.0\n"
        "│   └── proj 0.1.0 (dependencies: gamma)\n"
        "└── tester 1.0\n"
        "    └── proj 0.1.0 (group dev: tester)\n"
    )
    why = shipyard(project, "why", "delta").stdout
    assert why == (
        'delta 1.0 ; sys_platform == "win32"\n'
        "└── gamma 1.0\n"
        "    └── proj 0.1.0 (dependencies: gamma)\n"
    )
    repeated = shipyard(project, "why", "beta", "delta").stdout
    assert repeated.endswith('delta 1.0 ; sys_platform == "win32"\n└── gamma 1.0 (*)\n')

    missing = shipyard(project, "why", "nothing-such", check=False)
    assert missing.returncode == 1 and "nothing-such is not in the lock" in missing.stderr
    left_out = shipyard(
        project, "why", "delta", "--for-environment", "sys_platform == 'linux'", check=False
    )
    assert left_out.returncode == 1 and "leave it out" in left_out.stderr

    # No network: the index is down, and --offline is fine too.
    index.stop()
    assert shipyard(project, "tree").stdout == tree
    assert shipyard(project, "--offline", "why", "delta").stdout == why

    # A stale lock is shown as it is, with a warning; a missing one is an error.
    manifest = project / "pyproject.toml"
    manifest.write_text(manifest.read_text().replace("'gamma',", "'gamma',\n    \"omega\","))
    stale = shipyard(project, "tree")
    assert "out of date" in stale.stderr and "shipyard lock" in stale.stderr
    assert "omega (dependencies; not in the lock)" in stale.stdout
    (project / "pylock.toml").unlink()
    no_lock = shipyard(project, "tree", check=False)
    assert no_lock.returncode == 1 and "shipyard lock" in no_lock.stderr


def test_outdated_reports_versions_that_appear_on_the_index(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "lock")
    first = shipyard(project, "outdated", "--json")
    assert json.loads(first.stdout) == []
    assert "up to date" in first.stderr

    _publish(
        index,
        pkg("alpha", "1.5", ["beta>=1"]),
        pkg("alpha", "2.0", ["beta>=1"]),
        pkg("beta", "1.1"),
        pkg("gamma", "1.1rc1", ["beta"]),  # a pre-release: not "latest"
        pkg("delta", "3.0", requires_python=">=3.99"),  # no Python the project allows
    )
    lock_before = (project / "pylock.toml").read_bytes()
    report = {
        row["name"]: row for row in json.loads(shipyard(project, "outdated", "--json").stdout)
    }
    assert set(report) == {"alpha", "beta"}
    assert report["alpha"] == {
        "name": "alpha",
        "locked": "1.0",
        "allowed": "1.5",
        "latest": "2.0",
        "direct": True,
        "requirements": ["alpha<2,>=1.0"],
        "outdated": True,
        "index": index.index_url,
        "marker": None,
    }
    assert (report["beta"]["locked"], report["beta"]["allowed"], report["beta"]["latest"]) == (
        "1.0",
        "1.1",
        "1.1",
    )
    assert report["beta"]["direct"] is False
    assert (project / "pylock.toml").read_bytes() == lock_before  # resolved in memory only

    everything = json.loads(shipyard(project, "outdated", "--json", "--all").stdout)
    by_name = {row["name"]: row for row in everything}
    assert by_name["gamma"]["latest"] == "1.0" and by_name["delta"]["latest"] == "1.0"
    assert by_name["tester"]["requirements"] == ["tester (group dev)"]

    table = shipyard(project, "outdated", "--direct").stdout.splitlines()
    assert table[0].split() == ["Package", "Locked", "Allowed", "Latest", "Required", "as"]
    assert table[1].split() == ["alpha", "1.0", "1.5", "2.0", "alpha<2,>=1.0"]
    assert len(table) == 2


def test_upgrade_raises_lower_bounds_then_locks_and_syncs(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "sync")
    assert installed(project)["alpha"] == "1.0"
    _publish(index, pkg("alpha", "1.5", ["beta>=1"]), pkg("alpha", "2.0", ["beta>=1.1"]))
    _publish(index, pkg("beta", "1.1"))
    manifest = project / "pyproject.toml"
    original = manifest.read_bytes()

    dry = shipyard(project, "upgrade", "--dry-run")
    assert " ~ alpha >=1.0,<2 -> >=1.5,<2" in dry.stderr
    assert " ~ gamma (any version) -> >=1.0" in dry.stderr
    assert " ~ tester (any version) -> >=1.0 (group dev)" in dry.stderr
    assert "Would update pyproject.toml" in dry.stderr
    assert manifest.read_bytes() == original
    assert _locked(project)["alpha"] == "1.0"

    shipyard(project, "upgrade")
    text = manifest.read_text()
    assert '    "alpha>=1.5,<2",  # keep alpha below 2 for now\n' in text
    assert "    'gamma>=1.0',\n" in text  # literal string stays literal
    assert 'dev = ["tester>=1.0"]' in text
    assert (
        text.replace("alpha>=1.5,<2", "alpha>=1.0,<2")
        .replace(">=1.0'", "'")
        .replace('tester>=1.0"', 'tester"')
        == original.decode()
    )
    assert _locked(project)["alpha"] == "1.5" and _locked(project)["beta"] == "1.1"
    assert installed(project)["alpha"] == "1.5"
    assert shipyard(project, "lock", "--check").returncode == 0

    # --latest lifts the upper bound that keeps 2.0 out, then bumps to it.
    shipyard(project, "upgrade", "--latest", "alpha")
    assert '    "alpha>=2.0",  # keep alpha below 2 for now\n' in manifest.read_text()
    assert _locked(project)["alpha"] == "2.0"
    assert installed(project)["alpha"] == "2.0"
    assert "├── alpha 2.0 (>=2.0)\n" in shipyard(project, "tree").stdout


def test_upgrade_keeps_pins_and_refuses_unknown_names(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    manifest_text = MANIFEST.replace("'gamma',", "'gamma==1.0',")
    project = _project(tmp_path, index, manifest_text)
    shipyard(project, "lock")
    _publish(index, pkg("gamma", "2.0", ["beta"]))
    result = shipyard(project, "upgrade", "--latest", "--no-sync")
    assert "gamma==1.0 (dependencies) is pinned" in result.stderr
    assert "'gamma==1.0'," in (project / "pyproject.toml").read_text()
    assert not (project / ".venv").exists()

    unknown = shipyard(project, "upgrade", "beta", check=False)
    assert unknown.returncode == 1
    assert "beta is not a requirement of proj" in unknown.stderr
    assert "lock --upgrade-package" in unknown.stderr


def test_failed_upgrade_restores_pyproject_and_lock(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index, MANIFEST.replace('"alpha>=1.0,<2"', '"alpha~=1.0"'))
    shipyard(project, "sync")
    manifest, lock = project / "pyproject.toml", project / "pylock.toml"
    before = (manifest.read_bytes(), lock.read_bytes())

    # --latest widens alpha~=1.0 to alpha~=2.0, whose only release cannot be resolved.
    _publish(index, pkg("alpha", "2.0", ["ghost>=1"]))
    failed = shipyard(project, "upgrade", "--latest", "alpha", check=False)
    assert failed.returncode == 1 and "ghost" in failed.stderr
    assert (manifest.read_bytes(), lock.read_bytes()) == before

    # beta 1.1 resolves but cannot be downloaded: the sync fails after pyproject.toml
    # and pylock.toml were written, and both are put back.
    _publish(index, pkg("beta", "1.1"))
    shipyard(project, "outdated")  # fetches beta 1.1's metadata into the cache
    index.fail["/files/beta-1.1-"] = 404
    broken = shipyard(project, "upgrade", check=False)
    assert broken.returncode == 1, broken.stderr
    assert "/files/beta-1.1-py3-none-any.whl" in broken.stderr  # the download, in sync
    assert (manifest.read_bytes(), lock.read_bytes()) == before
    assert installed(project)["beta"] == "1.0"
