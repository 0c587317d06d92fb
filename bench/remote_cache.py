"""How much does the team cache of built wheels (``remote-cache``) save a second runner?

Usage (from the repository root, on Debian with ``docker-registry`` installable)::

    python3 bench/remote_cache.py          # writes bench/results/remote-cache.json

A project needs ``--packages`` sdist-only packages (built by the tests' build backend)
and one git source, served from 127.0.0.1 (the tests' index server, a ``file://``
repository). Debian's ``docker-registry`` runs on 127.0.0.1 as the tests start it.
Each round syncs the same lock three times, each time into a fresh ``.venv`` with an
empty cache directory:

* **cold**: no remote cache, every package built here;
* **runner A**: builds and pushes (``--remote-cache-push``);
* **runner B**: pulls every wheel from the registry, builds nothing.

It reports the median of each over the rounds and ``cold - runner B`` as the time
saved per sync, next to what ``shipyard cache stats`` counted in runner B's cache.
The test backend builds in well under a second, so the saving here is the floor:
a real build backend (setuptools, a compiler) saves far more per package.

This is a measurement, not a test: nothing here asserts a time.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

BACKEND = (
    '[build-system]\nrequires = ["shipyard-test-backend"]\n'
    'build-backend = "shipyard_test_backend"\n\n'
)


def _sync(project: Path, cache: Path, *args: str, **env: str) -> tuple[float, str]:
    """Seconds one ``shipyard sync`` took, and its stderr."""
    shutil.rmtree(project / ".venv", ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "shipyard", "sync", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "SHIPYARD_CACHE_DIR": str(cache), **env},
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sync failed:\n{result.stderr}")
    return seconds, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=12, help="sdist-only packages")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    from support import build_package, pkg
    from support.builders import build_test_backend_wheel
    from support.git_server import make_repository
    from support.index_server import IndexServer
    from support.oci_tools import ensure_debian_tools, start_registry

    ensure_debian_tools()
    results: dict[str, Any] = {"packages": options.packages + 1, "rounds": options.rounds}
    timings: dict[str, list[float]] = {"cold": [], "runner_a": [], "runner_b": []}
    with tempfile.TemporaryDirectory(prefix="remote-cache-") as tmp:
        work = Path(tmp)
        index_root = work / "index"
        index_root.mkdir()
        build_test_backend_wheel(index_root)
        names = [f"srcpkg{i}" for i in range(options.packages)]
        for name in names:
            body = f"{name.upper()} = {'1' * 2000}\n"
            build_package(
                index_root, pkg(name, "1.0", wheel=False, sdist=True, files={f"{name}/x.py": body})
            )
        bare, _clone = make_repository(
            work / "git",
            "gitpkg",
            {
                "pyproject.toml": BACKEND + '[project]\nname = "gitpkg"\nversion = "1.0"\n',
                "gitpkg/__init__.py": "VALUE = 1\n",
            },
        )
        index = IndexServer(index_root).start()
        project = work / "project"
        project.mkdir()
        deps = ", ".join(f'"{n}"' for n in [*names, "gitpkg"])
        (project / "pyproject.toml").write_text(
            f'[project]\nname = "bench"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
            f'dependencies = [{deps}]\n\n[tool.shipyard]\nindex-url = "{index.index_url}"\n\n'
            f'[tool.shipyard.sources]\ngitpkg = {{ git = "{bare.as_uri()}", branch = "main" }}\n'
        )
        subprocess.run(
            [sys.executable, "-m", "shipyard", "lock"],
            cwd=project,
            env={**os.environ, "SHIPYARD_CACHE_DIR": str(work / "lock-cache")},
            check=True,
            capture_output=True,
        )
        stats = ""
        try:
            for round_number in range(options.rounds):
                with start_registry(work / f"registry-{round_number}") as registry:
                    remote = {"SHIPYARD_REMOTE_CACHE": f"oci://{registry.host}/team/cache"}
                    caches = work / f"caches-{round_number}"
                    seconds, _ = _sync(project, caches / "cold")
                    timings["cold"].append(seconds)
                    seconds, _ = _sync(project, caches / "a", "--remote-cache-push", **remote)
                    timings["runner_a"].append(seconds)
                    seconds, log = _sync(project, caches / "b", **remote)
                    if "Building" in log:
                        raise SystemExit(f"runner B built something:\n{log}")
                    timings["runner_b"].append(seconds)
                    stats = subprocess.run(
                        [sys.executable, "-m", "shipyard", "cache", "stats"],
                        cwd=project,
                        env={**os.environ, "SHIPYARD_CACHE_DIR": str(caches / "b")},
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
        finally:
            index.stop()
    for name, values in timings.items():
        results[f"{name}_seconds"] = round(statistics.median(values), 3)
        results[f"{name}_all"] = [round(v, 3) for v in values]
    results["saved_seconds"] = round(results["cold_seconds"] - results["runner_b_seconds"], 3)
    results["runner_b_cache_stats"] = stats.strip().splitlines()
    out = ROOT / "bench" / "results" / "remote-cache.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{results['packages']} built packages: cold sync {results['cold_seconds']:.2f} s, "
        f"runner A (build + push) {results['runner_a_seconds']:.2f} s, runner B (pull) "
        f"{results['runner_b_seconds']:.2f} s: {results['saved_seconds']:.2f} s saved per sync"
    )
    print(stats, end="")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
