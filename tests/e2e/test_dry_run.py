"""``sync --dry-run`` changes nothing — no lock, no ``.venv``, no rebuild — and the plan
it prints names each change that a real ``sync`` then makes."""

from __future__ import annotations

import re
from pathlib import Path

from .test_local_index import PACKAGES, new_project, shipyard


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (ns); links not followed."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        found[path.relative_to(root).as_posix()] = (info.st_size, info.st_mtime_ns)
    return found


def _planned(stdout_and_err: str) -> set[str]:
    return set(re.findall(r"^ \+ (\S+)$", stdout_and_err, re.MULTILINE))


def test_dry_run_without_a_lock_or_environment_writes_nothing(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core"])
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run")
    assert _listing(project) == before  # no pylock.toml, no .venv
    text = dry.stdout + dry.stderr
    assert "Would write pylock.toml" in text
    assert "Would create virtual environment" in text
    planned = _planned(text)
    assert "app-core==2.0" in planned and "helper==2.1" in planned

    real = shipyard(project, "sync")
    assert (project / "pylock.toml").is_file() and (project / ".venv").is_dir()
    assert _planned(real.stdout + real.stderr) == planned


def test_dry_run_after_a_python_pin_does_not_rebuild(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    shipyard(project, "python", "pin", "3.11")
    shipyard(project, "sync")
    shipyard(project, "python", "pin", "3.12")
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run")
    assert _listing(project) == before  # .venv still the 3.11 one, file for file
    text = " ".join((dry.stdout + dry.stderr).split())
    assert "Would rebuild virtual environment" in text and "3.12" in text
    assert "helper==2.1" in _planned(dry.stdout + dry.stderr)

    shipyard(project, "sync")
    assert "3.12." in shipyard(project, "run", "python", "-V").stdout


def test_dry_run_of_a_stale_lock_leaves_it_and_says_what_would_change(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper<2"])
    shipyard(project, "sync")
    text = (project / "pyproject.toml").read_text().replace('"helper<2"', '"helper>=2"')
    (project / "pyproject.toml").write_text(text)
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run")
    assert _listing(project) == before
    output = dry.stdout + dry.stderr
    assert "Would write pylock.toml" in output
    assert "helper==2.1" in _planned(output)
    assert re.search(r"^ - helper==1\.0$", output, re.MULTILINE)
