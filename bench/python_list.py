"""Time interpreter discovery: ``shipyard python list --only-installed`` and
``shipyard python find``, with the probe cache empty (cold) and filled (warm), next to
``uv python list --only-installed`` / ``uv python find`` when uv is in ``bench/.tools``.

    python3 bench/python_list.py [--runs 10]

Prints a table of median wall times (seconds) and writes
``results/python-list.json``. A benchmark, not a test: nothing is asserted.
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


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds if done.returncode == 0 else float("nan")  # failed: not a time


def _measure(name: str, command: list[str], cache_variable: str, runs: int) -> dict[str, float]:
    """Median cold (a new cache each run) and warm (the same cache) wall time."""
    cold, warm = [], []
    for _ in range(runs):
        cache = tempfile.mkdtemp(prefix=f"bench-{name}-")
        env = {**os.environ, cache_variable: cache}
        try:
            cold.append(_time(command, env))
            warm.append(_time(command, env))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return {"cold": statistics.median(cold), "warm": statistics.median(warm)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    shipyard = [sys.executable, "-m", "shipyard"]
    if shutil.which("shipyard"):
        shipyard = [str(shutil.which("shipyard"))]
    cases = {
        "shipyard python list --only-installed": (
            [*shipyard, "python", "list", "--only-installed"],
            "SHIPYARD_CACHE_DIR",
        ),
        "shipyard python find 3.12": ([*shipyard, "python", "find", "3.12"], "SHIPYARD_CACHE_DIR"),
    }
    if UV.exists():
        cases["uv python list --only-installed"] = (
            [str(UV), "python", "list", "--only-installed"],
            "UV_CACHE_DIR",
        )
        cases["uv python find 3.12"] = ([str(UV), "python", "find", "3.12"], "UV_CACHE_DIR")
    results = {}
    print(f"{'command':45} {'cold s':>8} {'warm s':>8}")
    for label, (command, variable) in cases.items():
        results[label] = _measure(label.split()[0], command, variable, args.runs)
        print(f"{label:45} {results[label]['cold']:8.3f} {results[label]['warm']:8.3f}")
    out = HERE / "results" / "python-list.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "median_seconds": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
