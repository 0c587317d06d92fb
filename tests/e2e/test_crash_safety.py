"""``kill -9`` during ``sync``, at 30+ points spread over the whole run (downloads, cache
unpacking, uninstalling, linking, metadata): meanwhile no distribution that is only
partly there is reported as installed, and the next ``sync`` brings the environment
exactly to the lock, with every installed file matching its RECORD.

The kill comes from inside the process: a ``sitecustomize`` (on ``PYTHONPATH`` for the
killed run only) counts the file-system operations that change something and sends
itself SIGKILL at the N-th, so each point is reached without timing or sleeps.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import pkg

from .test_local_index import new_project, shipyard, site_packages

HOOK = r"""
import builtins, os, signal, threading
_at = int(os.environ.pop("SHIPYARD_TEST_CRASH_AT", "0") or 0)
_count_file = os.environ.pop("SHIPYARD_TEST_CRASH_COUNT", "")
if _at or _count_file:
    _lock = threading.Lock()
    _state = [0]

    def _tick():
        with _lock:
            _state[0] += 1
            if _at and _state[0] == _at:
                os.kill(os.getpid(), signal.SIGKILL)

    def _wrap(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            _tick()
            return real(*args, **kwargs)

        setattr(module, name, wrapper)

    for _name in ("link", "symlink", "rename", "replace", "unlink", "rmdir", "mkdir"):
        _wrap(os, _name)
    _real_open = builtins.open
    _real_os_open = os.open

    def _open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            _tick()
        return _real_open(file, mode, *args, **kwargs)

    def _os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            _tick()
        return _real_os_open(path, flags, *args, **kwargs)

    builtins.open = _open
    os.open = _os_open
    if _count_file:
        import atexit

        atexit.register(lambda: _real_open(_count_file, "w").write(str(_state[0])))
"""

MODULES = {f"alpha/part{i}.py": f"VALUE = {i}\n" * 20 for i in range(12)}
PACKAGES = [
    pkg("alpha", "1.0", files={**MODULES, "alpha/__init__.py": "VERSION = 1\n"}),
    pkg(
        "alpha",
        "2.0",
        files={**MODULES, "alpha/__init__.py": "VERSION = 2\n", "alpha/new.py": "NEW = 1\n"},
        entry_points={"console_scripts": {"alpha": "alpha:main"}},
    ),
    pkg("beta", "1.0", files={f"beta/m{i}.py": "B = 1\n" for i in range(8)}),
    pkg("gamma", "1.0", files={f"gamma/m{i}.py": "G = 1\n" for i in range(8)}, sdist=True),
    pkg("delta", "1.0"),
]


def _record_ok(site: Path) -> list[str]:
    """Problems with what the environment reports as installed: a .dist-info without
    RECORD, or a RECORD file that is missing or differs."""
    problems = []
    for info in sorted(site.glob("*.dist-info")):
        record = info / "RECORD"
        if not record.is_file():
            problems.append(f"{info.name} has no RECORD")
            continue
        with record.open(newline="") as handle:
            for path, digest, _size in csv.reader(handle):
                if not digest:
                    continue
                target = (site / path).resolve()
                if not target.is_file():
                    problems.append(f"{info.name}: {path} is missing")
                    continue
                algorithm, _, expected = digest.partition("=")
                actual = base64.urlsafe_b64encode(
                    hashlib.new(algorithm, target.read_bytes()).digest()
                ).rstrip(b"=")
                if actual.decode() != expected:
                    problems.append(f"{info.name}: {path} differs from RECORD")
    return problems


def _installed(site: Path) -> dict[str, str]:
    found = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].split("-", 1)
        found[name] = version
    return found


def _use(project: Path, state: Path) -> None:
    for name in ("pyproject.toml", "pylock.toml"):
        shutil.copyfile(state / name, project / name)


def test_kill_9_at_30_points_of_a_sync_then_repair(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["alpha==1.0", "beta", "delta"])
    states = {}
    for label, deps in (
        ("old", '["alpha==1.0", "beta", "delta"]'),
        ("new", '["alpha==2.0", "gamma", "delta"]'),
    ):
        text = (project / "pyproject.toml").read_text()
        start = text.index("dependencies = [")
        end = text.index("]", start) + 1
        (project / "pyproject.toml").write_text(
            text[:start] + f"dependencies = {deps}" + text[end:]
        )
        shipyard(project, "lock")
        states[label] = tmp_path / label
        states[label].mkdir()
        _use(states[label], project)  # copy the manifest and lock out
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    expected = {
        p.split("==")[0]: p.split("==")[1] for p in ("alpha==2.0", "gamma==1.0", "delta==1.0")
    }

    def crashing_sync(cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipyard", "sync", "--frozen"],
            cwd=project,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": str(hook_dir),
                "SHIPYARD_CACHE_DIR": str(cache),
                **env,
            },
            timeout=300,
        )

    # How many operations a full cold sync from the old lock to the new one makes.
    _use(project, states["old"])
    shipyard(project, "sync", "--frozen")
    _use(project, states["new"])
    count_file = tmp_path / "count"
    counted = crashing_sync(tmp_path / "cache-count", SHIPYARD_TEST_CRASH_COUNT=str(count_file))
    assert counted.returncode == 0, counted.stderr
    total = int(count_file.read_text())
    assert total > 100  # downloads, unpacking, removal and linking all count

    points = sorted(random.Random(7).sample(range(1, total), 32))
    killed = 0
    for number, point in enumerate(points):
        _use(project, states["old"])
        shipyard(project, "sync", "--frozen")
        assert _installed(site_packages(project))["alpha"] == "1.0"
        _use(project, states["new"])
        cache = tmp_path / f"cache-{number}"
        result = crashing_sync(cache, SHIPYARD_TEST_CRASH_AT=str(point))
        if result.returncode == -signal.SIGKILL:
            killed += 1
        else:  # a run can make a few operations fewer than the counted one
            assert result.returncode == 0, result.stderr
        site = site_packages(project)
        assert _record_ok(site) == [], f"after a kill at operation {point} of {total}"
        # the repair: a plain sync with the same (possibly half-filled) cache
        repaired = shipyard(project, "sync", "--frozen", SHIPYARD_CACHE_DIR=str(cache))
        assert _installed(site) == expected, (point, repaired.stderr)
        assert _record_ok(site) == []
        assert not [p.name for p in site.iterdir() if p.name.startswith(".")], point
        assert shipyard(project, "sync", "--frozen").stderr.startswith("Audited")
    print(f"crash points: {points} of {total}; killed {killed}")
    assert killed >= 30, f"only {killed} of {len(points)} runs were killed"


@pytest.mark.parametrize(
    ("command", "change"),
    [
        (["add", "--no-sync", "gamma"], None),
        (["remove", "--no-sync", "beta"], None),
        (["lock"], ("beta", "gamma")),  # the manifest edited by hand, then `lock`
    ],
)
def test_kill_9_during_add_remove_and_lock_leaves_old_or_new_files(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, command: list[str], change: tuple[str, str] | None
) -> None:
    """pyproject.toml and pylock.toml are each, after a kill at any of 12 points, either
    exactly as before or exactly as after; the next ``sync`` then succeeds."""
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["alpha==1.0", "beta"])
    shipyard(project, "sync")
    before = tmp_path / "before"
    before.mkdir()
    if change is not None:
        manifest = project / "pyproject.toml"
        manifest.write_text(manifest.read_text().replace(f'"{change[0]}"', f'"{change[1]}"'))
    _use(before, project)
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK)

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipyard", *command],
            cwd=project,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(hook_dir), **env},
            timeout=300,
        )

    count_file = tmp_path / "count"
    assert run(SHIPYARD_TEST_CRASH_COUNT=str(count_file)).returncode == 0
    total = int(count_file.read_text())
    after = {n: (project / n).read_text() for n in ("pyproject.toml", "pylock.toml")}
    old = {n: (before / n).read_text() for n in ("pyproject.toml", "pylock.toml")}
    assert after != old
    killed = 0
    for point in sorted(random.Random(11).sample(range(1, total), min(12, total - 1))):
        _use(project, before)
        result = run(SHIPYARD_TEST_CRASH_AT=str(point))
        killed += result.returncode == -signal.SIGKILL
        for name in ("pyproject.toml", "pylock.toml"):
            text = (project / name).read_text()
            tomllib.loads(text)  # whole, never cut
            # `add gamma` writes twice: the bare requirement to lock it, then gamma>=1.0
            # with the lock's input hash refreshed; a kill between leaves the first state.
            between = {
                "pyproject.toml": after[name].replace('"gamma>=1.0"', '"gamma"'),
                "pylock.toml": _without_input_hash(after[name]),
            }
            assert text in (old[name], after[name]) or (
                command[0] == "add"
                and (text if name == "pyproject.toml" else _without_input_hash(text))
                == between[name]
            ), f"{name} is neither old nor new after a kill at {point}"
        # Whatever the kill left, the project works again; the first command that takes
        # the project lock also removes the temporary copies a killed write leaves.
        shipyard(project, "lock")
        shipyard(project, "sync")
        assert not [p.name for p in project.iterdir() if p.name.endswith(".tmp")], point
    assert killed >= 6


def _without_input_hash(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("input-hash"))


def test_a_failed_add_restores_the_manifest_byte_for_byte(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["alpha==1.0"])
    manifest = project / "pyproject.toml"
    manifest.write_text(manifest.read_text() + "\n# a comment the user keeps\n")
    shipyard(project, "lock")
    old = manifest.read_bytes(), (project / "pylock.toml").read_bytes()
    result = shipyard(project, "add", "alpha==2.0", "no-such-thing", check=False)
    assert result.returncode == 1 and "no-such-thing" in result.stderr
    assert (manifest.read_bytes(), (project / "pylock.toml").read_bytes()) == old
