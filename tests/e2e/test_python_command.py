"""``shipyard python list|find|pin`` on this machine's real interpreters (pyenv 3.8–3.13),
and a pin that makes the next ``sync`` rebuild ``.venv`` on the pinned version."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .test_local_index import new_project, shipyard

PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def test_list_shows_every_pyenv_version_with_its_source(tmp_path: Path) -> None:
    result = shipyard(tmp_path, "python", "list", "--only-installed", "--json")
    rows = json.loads(result.stdout)
    minors = {".".join(row["version"].split(".")[:2]) for row in rows}
    assert {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"} <= minors
    for row in rows:
        assert Path(row["path"]).is_file()
        if row["path"].startswith(str(PYENV / "versions")):
            assert row["source"] in ("pyenv", "PATH")
        assert row["key"].startswith(f"{row['implementation']}-{row['version']}-")
    assert any(row["source"] == "pyenv" for row in rows)
    # 2.7, 3.6 and 3.7 are too old: named only with -v
    assert not any(row["version"].startswith(("2.", "3.6", "3.7")) for row in rows)
    verbose = shipyard(tmp_path, "python", "list", "-v")
    assert "older than 3.8" in verbose.stderr
    table = shipyard(tmp_path, "python", "list", "--only-installed").stdout.splitlines()
    assert len(table) == len(rows) and table[0].startswith("cpython-3.13")
    # without --only-installed, the newest build of each minor that can be downloaded
    everything = shipyard(tmp_path, "python", "list").stdout.splitlines()
    offered = [line for line in everything if line.endswith("download")]
    assert len(everything) == len(rows) + len(offered)
    assert any(
        line.startswith("cpython-3.13.") and "<download available>" in line for line in offered
    )


def test_find_prints_the_match_or_lists_what_there_is(tmp_path: Path) -> None:
    found = shipyard(tmp_path, "python", "find", ">=3.10,<3.11").stdout.strip()
    assert "3.10" in found and Path(found).is_file()
    missing = shipyard(tmp_path, "python", "find", "3.99", check=False)
    assert missing.returncode == 1
    assert "3.99" in missing.stderr and "3.12" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = shipyard(tmp_path, "python", "find", "three", check=False)
    assert bad.returncode == 2 and "not a Python request" in bad.stderr


def test_pin_then_sync_rebuilds_the_environment(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([])
    project = new_project(tmp_path, index, [])
    shipyard(project, "python", "pin", "3.11")
    shipyard(project, "sync")
    assert "3.11." in shipyard(project, "run", "python", "-V").stdout
    pinned = shipyard(project, "python", "pin", "3.12")
    assert (project / ".python-version").read_text() == "3.12\n"
    assert "Pinned" in pinned.stderr + pinned.stdout
    assert shipyard(project, "python", "pin").stdout.strip() == "3.12"
    rebuilt = shipyard(project, "sync")
    assert "Rebuilding .venv" in rebuilt.stderr and "3.12" in rebuilt.stderr
    assert "3.12." in shipyard(project, "run", "python", "-V").stdout
    # a pin requires-python (>=3.11) does not allow is refused, and the old pin stays
    refused = shipyard(project, "python", "pin", "3.9", check=False)
    assert refused.returncode == 2 and "requires-python" in refused.stderr
    assert (project / ".python-version").read_text() == "3.12\n"
    resolved = shipyard(project, "python", "pin", "--resolved", "3.13")
    assert (project / ".python-version").read_text().startswith("3.13.")
    assert "Traceback" not in resolved.stderr
