"""Scaling run: lock time and peak memory against the number of resolved packages.

Locks each workload cold (empty cache) and warm (cache kept, lock deleted) with
shipyard and with uv, alternating, and records wall time, peak RSS and how many
packages the lock holds. Workloads: trio-docs, ml-web and sentry-base from
``../shared/workloads`` and the 320 and 470 most downloaded PyPI projects from
``bench/workloads``. Results: a table on stdout, ``results/scaling.json`` and
``results/scaling.png``. A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from run import (
    HERE,
    LIMITS,
    RESULTS,
    WORKLOAD_PYTHON,
    WORKLOADS,
    Sample,
    clean_environ,
    compile_shipyard,
    ensure_tools,
    find_python,
    make_tools,
    timed,
)

DEFAULT_WORKLOADS = "trio-docs,ml-web,sentry-base,top-320,top-470"


def read_any_workload(name: str) -> list[str]:
    """Requirement lines of a shared workload or of ``bench/workloads/<name>.in``."""
    path = WORKLOADS / f"{name}.in"
    if not path.exists():
        path = HERE / "workloads" / f"{name}.in"
    lines = path.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def locked_count(tool: str, project: Path) -> int | None:
    """How many packages the tool's lock holds (``None`` without a lock)."""
    if tool == "shipyard":
        path = project / "pylock.toml"
        if not path.exists():
            return None
        return len(tomllib.loads(path.read_text()).get("packages", []))
    path = project / "uv.lock"
    if not path.exists():
        return None
    packages = tomllib.loads(path.read_text()).get("package", [])
    return sum(1 for p in packages if p.get("name") != "bench-project")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scaling benchmark; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds before a lock is killed and counted as failed",
    )
    args = parser.parse_args(argv)
    LIMITS["timeout"] = args.timeout
    bin_dir = ensure_tools()
    compile_shipyard()
    RESULTS.mkdir(exist_ok=True)
    rows: list[dict[str, object]] = []
    for workload in args.workloads.split(","):
        requirements = read_any_workload(workload)
        minor = WORKLOAD_PYTHON.get(workload, "3.11")
        python = find_python(minor)
        tools = make_tools(bin_dir, python)
        for run in range(args.runs):
            for name in ("shipyard", "uv"):
                tool = tools[name]
                print(f"[{workload}] run {run + 1}/{args.runs}: {name}", file=sys.stderr)
                with tempfile.TemporaryDirectory(prefix=f"scaling-{workload}-") as scratch:
                    project, cache = Path(scratch) / "project", Path(scratch) / "cache"
                    project.mkdir()
                    tool.prepare(project, requirements, minor)
                    env = {**clean_environ(), **tool.extra_env, tool.cache_var: str(cache)}
                    cold: Sample = timed(tool.lock_cmd, project, env)
                    count = locked_count(name, project)
                    for lock_file in tool.lock_files:
                        (project / lock_file).unlink(missing_ok=True)
                    # A lock that failed cold fails warm too: don't wait for it twice.
                    warm = timed(tool.lock_cmd, project, env) if cold.code == 0 else cold
                rows.append(
                    {
                        "workload": workload,
                        "tool": name,
                        "run": run + 1,
                        "direct": len(requirements),
                        "resolved": count,
                        "lock_cold_s": round(cold.wall, 2),
                        "lock_warm_s": round(warm.wall, 2),
                        "peak_rss_mb": round(max(cold.rss_mb, warm.rss_mb), 1),
                        "failed": cold.code != 0 or warm.code != 0,
                    }
                )
    print(
        f"\n{'workload':<12}{'tool':<10}{'direct':>7}{'resolved':>9}{'cold s':>9}"
        f"{'warm s':>9}{'RSS MB':>9}"
    )
    for row in rows:
        failed = " (failed)" if row["failed"] else ""
        print(
            f"{row['workload']:<12}{row['tool']:<10}{row['direct']:>7}"
            f"{row['resolved'] or '-':>9}{row['lock_cold_s']:>9}{row['lock_warm_s']:>9}"
            f"{row['peak_rss_mb']:>9}{failed}"
        )
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "rows": rows,
    }
    path = RESULTS / "scaling.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    chart(path, bin_dir)
    return 0


def chart(path: Path, bin_dir: Path) -> None:
    """Draw ``scaling.png`` with matplotlib from the tools environment."""
    code = f"""
import json, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [r for r in json.load(open({str(path)!r}))["rows"] if not r["failed"] and r["resolved"]]
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
for tool, mark in (("shipyard", "o-"), ("uv", "s--")):
    mine = sorted((r for r in rows if r["tool"] == tool), key=lambda r: r["resolved"])
    xs = [r["resolved"] for r in mine]
    a.plot(xs, [r["lock_cold_s"] for r in mine], mark, label=tool + " cold")
    a.plot(xs, [r["lock_warm_s"] for r in mine], mark, alpha=0.5, label=tool + " warm")
    b.plot(xs, [r["peak_rss_mb"] for r in mine], mark, label=tool)
a.set_xlabel("resolved packages"); a.set_ylabel("lock wall time, s"); a.legend()
b.set_xlabel("resolved packages"); b.set_ylabel("peak RSS, MB"); b.legend()
fig.suptitle("lock scaling (failed locks omitted)")
fig.tight_layout(); fig.savefig({str(path.with_suffix(".png"))!r}, dpi=110)
"""
    subprocess.run([str(bin_dir / "python"), "-c", code], check=False, env=clean_environ())


if __name__ == "__main__":
    raise SystemExit(main())
