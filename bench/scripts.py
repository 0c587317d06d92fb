"""Time PEP 723 scripts and one-off tools: ``shipyard run script.py`` (first run with an
empty cache, then the second run) and ``shipyard x ruff --version``, next to the same
with ``uv run --script`` / ``uvx`` when uv is in ``bench/.tools``, and against the
no-op floor (``shipyard run python -c pass`` in a synced project: starting Python
twice), and against running the script with its environment's interpreter directly
(what shipyard adds on top of the script's own start-up and imports).

    python3 bench/scripts.py [--runs 5]

The script (``requires-python >= 3.11``, two dependencies: ``rich`` and ``httpx``)
comes from PyPI. Prints a table of median wall times (seconds) and writes
``results/scripts.json``. A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
UV = HERE / ".tools" / "bin" / "uv"
UVX = HERE / ".tools" / "bin" / "uvx"

SCRIPT = """\
# /// script
# requires-python = ">=3.11"
# dependencies = ["rich", "httpx"]
# ///
import sys
import httpx, rich
if "--where" in sys.argv:
    print(sys.executable)
"""


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - started
    return seconds if done.returncode == 0 else float("nan")  # failed: not a time


def _environ(cache_variable: str, cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "SHIPYARD_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env[cache_variable] = cache
    return env


def _measure(command: list[str], cache_variable: str, runs: int, cwd: Path) -> dict[str, float]:
    """Median first (a new cache each run) and second (the same cache) wall time."""
    first, second = [], []
    for _ in range(runs):
        cache = tempfile.mkdtemp(prefix="bench-scripts-")
        env = _environ(cache_variable, cache)
        try:
            first.append(_time(command, cwd, env))
            second.append(_time(command, cwd, env))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return {"first": statistics.median(first), "second": statistics.median(second)}


def _noop_floor(shipyard: list[str], runs: int, work: Path) -> float:
    """``run python -c pass`` in a synced project with no dependencies."""
    project = work / "floor"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "floor"\nversion = "0"\nrequires-python = ">=3.11"\n'
        "dependencies = []\n"
    )
    cache = tempfile.mkdtemp(prefix="bench-floor-")
    env = _environ("SHIPYARD_CACHE_DIR", cache)
    try:
        subprocess.run([*shipyard, "sync", "-q"], cwd=project, env=env, check=True)
        command = [*shipyard, "run", "python", "-c", "pass"]
        return statistics.median(_time(command, project, env) for _ in range(runs))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The console script beside the running interpreter (not a version manager's shim,
    # which adds its own start-up to every call), else ``python -m shipyard``.
    script = Path(sys.executable).parent / "shipyard"
    shipyard = [str(script)] if script.exists() else [sys.executable, "-m", "shipyard"]
    work = Path(tempfile.mkdtemp(prefix="bench-scripts-work-"))
    try:
        (work / "script.py").write_text(SCRIPT)
        cases = {
            "shipyard run script.py": ([*shipyard, "run", "script.py"], "SHIPYARD_CACHE_DIR"),
            "shipyard x ruff --version": (
                [*shipyard, "x", "ruff", "--version"],
                "SHIPYARD_CACHE_DIR",
            ),
        }
        if UV.exists():
            cases["uv run --script script.py"] = (
                [str(UV), "run", "--script", "script.py"],
                "UV_CACHE_DIR",
            )
            cases["uvx ruff --version"] = ([str(UVX), "ruff", "--version"], "UV_CACHE_DIR")
        results: dict[str, object] = {}
        print(f"{'command':34} {'first s':>8} {'second s':>9}")
        for label, (command, variable) in cases.items():
            measured = _measure(command, variable, args.runs, work)
            results[label] = measured
            print(f"{label:34} {measured['first']:8.3f} {measured['second']:9.3f}")
        cache = tempfile.mkdtemp(prefix="bench-scripts-direct-")
        try:
            env = _environ("SHIPYARD_CACHE_DIR", cache)
            where = subprocess.run(
                [*shipyard, "-q", "run", "script.py", "--where"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            direct = statistics.median(
                _time([where, "script.py"], work, env) for _ in range(args.runs)
            )
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        results["direct: <script env>/bin/python script.py"] = direct
        print(f"{'direct: env python script.py':34} {'':8} {direct:9.3f}")
        floor = _noop_floor(shipyard, args.runs, work)
        results["no-op floor: shipyard run python -c pass"] = floor
        print(f"{'no-op: shipyard run python -c pass':34} {'':8} {floor:9.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results" / "scripts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "median_seconds": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
