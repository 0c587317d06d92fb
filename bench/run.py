"""Benchmark shipyard against uv, Poetry, PDM and pip-tools on the shared workloads.

Usage (from the repository root, with shipyard installed in the running Python)::

    python3 bench/run.py                                  # every tool and workload, 3 runs
    python3 bench/run.py --tools shipyard,uv --workloads trio-docs --runs 1

The peer tools are installed into ``bench/.tools`` (a scratch virtual environment,
versions pinned in ``bench/requirements-tools.txt``). Each tool gets its own cache
directory; tools alternate within each run; every run goes through the phases of
``../shared/workloads/README.md``: lock-cold, lock-warm, sync-cold, sync-warm,
sync-noop, add-package. Reported per phase: the median wall time, CPU time (user +
system of the tool's process tree) and peak RSS, and the ratio to uv from the same
run. Results go to stdout (a table), ``bench/results/<workload>.json`` and
``bench/results/<workload>.png``.

This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ROOT.parent / "shared" / "workloads"
TOOLS_ENV = HERE / ".tools"
RESULTS = HERE / "results"
PHASES = (
    "lock-cold",
    "lock-warm",
    "sync-cold",
    "sync-warm",
    "sync-noop",
    "run",
    "add-package",
    "version",
)
ADDED_PACKAGE = "goodconf"
INDEX_URL = "https://pypi.org/simple/"
#: workload → the Python minor its environments use (default 3.11). sentry-base pins
#: pyuwsgi==2.0.20.0, whose newest wheels are for CPython 3.10 and whose sdist does not
#: compile against 3.11's C API, so no tool can sync it on 3.11.
WORKLOAD_PYTHON = {"sentry-base": "3.10"}


def read_workload(name: str) -> list[str]:
    """The requirement lines of ``../shared/workloads/<name>.in``."""
    lines = (WORKLOADS / f"{name}.in").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ensure_tools() -> Path:
    """Create ``bench/.tools`` with the pinned peer tools; returns its bin directory."""
    bin_dir = TOOLS_ENV / "bin"
    stamp = TOOLS_ENV / ".installed"
    wanted = (HERE / "requirements-tools.txt").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return bin_dir
    shutil.rmtree(TOOLS_ENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(TOOLS_ENV)], check=True)
    env = clean_environ()
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            str(HERE / "requirements-tools.txt"),
        ],
        check=True,
        env=env,
    )
    stamp.write_text(wanted)
    return bin_dir


def compile_shipyard() -> None:
    """Write the bytecode of the shipyard being measured, as ``pip install`` does.

    An editable install has none, and with ``PYTHONDONTWRITEBYTECODE`` set (this
    machine sets it) every run would compile shipyard's modules again: 0.1 s of each
    phase that no installed copy pays.
    """
    import compileall

    import shipyard

    compileall.compile_dir(Path(shipyard.__file__).parent, quiet=1)


def find_python(minor: str) -> str:
    """The real executable of a CPython ``minor`` (``"3.10"``): ``python3.10`` on PATH
    resolved through launchers such as pyenv's shims, else a pyenv install."""
    candidates = [shutil.which(f"python{minor}")]
    candidates += sorted(
        str(p) for p in Path.home().glob(f".pyenv/versions/{minor}.*/bin/python{minor}")
    )
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            env=clean_environ(),
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
    raise SystemExit(f"bench: no working python{minor} found (PATH or ~/.pyenv/versions)")


def clean_environ() -> dict[str, str]:
    """The environment without pip's, uv's, PDM's, Poetry's or shipyard's settings."""
    prefixes = ("PIP_", "UV_", "PDM_", "POETRY_", "SHIPYARD_", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Tool:
    """How one tool performs each phase in a project directory."""

    name: str
    lock_cmd: list[str]
    sync_cmd: list[str]
    add_cmd: list[str]
    lock_files: tuple[str, ...]
    cache_var: str
    extra_env: dict[str, str] = field(default_factory=dict)
    #: ``run python -c pass`` in the synced project (the overhead of ``run``)
    run_cmd: list[str] = field(default_factory=list)
    #: ``--version`` (start-up cost)
    version_cmd: list[str] = field(default_factory=list)

    def prepare(self, project: Path, requirements: Sequence[str], minor: str = "3.11") -> None:
        """Write the project's files for this tool (``requires-python >= minor``)."""
        deps = "".join(f"    {json.dumps(r)},\n" for r in requirements)
        text = (
            '[project]\nname = "bench-project"\nversion = "0.1.0"\n'
            f'requires-python = ">={minor}"\ndependencies = [\n{deps}]\n'
        )
        if self.name == "pdm":
            text += "\n[tool.pdm]\ndistribution = false\n"
        if self.name == "poetry":
            # Poetry reads PyPI through its JSON API, which this mirror lacks: give it
            # the simple index as its source (the HTML pages every other tool reads).
            text += (
                "\n[tool.poetry]\npackage-mode = false\n"
                f'\n[[tool.poetry.source]]\nname = "index"\nurl = "{INDEX_URL}"\n'
                'priority = "primary"\n'
            )
        (project / "pyproject.toml").write_text(text)
        if self.name == "pip-tools":
            (project / "requirements.in").write_text("\n".join(requirements) + "\n")


def make_tools(bin_dir: Path, python: str) -> dict[str, Tool]:
    """The tools, each as a command line using ``python`` (3.11) for environments."""
    b = str(bin_dir)
    pip_sync = (
        f"test -d .venv || {python} -m venv .venv; "
        f"{b}/pip-sync -q --python-executable .venv/bin/python requirements.txt"
    )
    return {
        "shipyard": Tool(
            "shipyard",
            [sys.executable, "-m", "shipyard", "-q", "lock"],
            [sys.executable, "-m", "shipyard", "-q", "sync"],
            [sys.executable, "-m", "shipyard", "-q", "add", ADDED_PACKAGE],
            ("pylock.toml",),
            "SHIPYARD_CACHE_DIR",
            {"SHIPYARD_PYTHON": python},
            [sys.executable, "-m", "shipyard", "-q", "run", "python", "-c", "pass"],
            [sys.executable, "-m", "shipyard", "--version"],
        ),
        "uv": Tool(
            "uv",
            [f"{b}/uv", "lock", "-q"],
            [f"{b}/uv", "sync", "-q"],
            [f"{b}/uv", "add", "-q", ADDED_PACKAGE],
            ("uv.lock",),
            "UV_CACHE_DIR",
            {"UV_PYTHON": python, "UV_PYTHON_DOWNLOADS": "never"},
            [f"{b}/uv", "run", "-q", "python", "-c", "pass"],
            [f"{b}/uv", "--version"],
        ),
        "poetry": Tool(
            "poetry",
            [f"{b}/poetry", "lock", "-q"],
            [f"{b}/poetry", "install", "-q", "--no-root"],
            [f"{b}/poetry", "add", "-q", ADDED_PACKAGE],
            ("poetry.lock",),
            "POETRY_CACHE_DIR",
            {
                "POETRY_VIRTUALENVS_IN_PROJECT": "true",
                "POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON": "false",
                "POETRY_PYTHON": python,
            },
            [f"{b}/poetry", "run", "python", "-c", "pass"],
            [f"{b}/poetry", "--version"],
        ),
        "pdm": Tool(
            "pdm",
            [f"{b}/pdm", "lock", "-q"],
            [f"{b}/pdm", "sync", "-q"],
            [f"{b}/pdm", "add", "-q", ADDED_PACKAGE],
            ("pdm.lock",),
            "PDM_CACHE_DIR",
            {"PDM_PYTHON": python, "PDM_IGNORE_SAVED_PYTHON": "1", "PDM_CHECK_UPDATE": "false"},
            [f"{b}/pdm", "run", "python", "-c", "pass"],
            [f"{b}/pdm", "--version"],
        ),
        "pip-tools": Tool(
            "pip-tools",
            [f"{b}/pip-compile", "-q", "-o", "requirements.txt", "requirements.in"],
            ["bash", "-c", pip_sync],
            [
                "bash",
                "-c",
                f"echo {ADDED_PACKAGE} >> requirements.in && "
                f"{b}/pip-compile -q -o requirements.txt requirements.in && {pip_sync}",
            ],
            ("requirements.txt",),
            "PIP_CACHE_DIR",
            {},
            [".venv/bin/python", "-c", "pass"],
            [f"{b}/pip-compile", "--version"],
        ),
    }


@dataclass
class Sample:
    """One timed command: wall and CPU seconds, peak RSS in MB, exit code."""

    wall: float
    cpu: float
    rss_mb: float
    code: int


#: seconds after which a command is killed and counted as failed (``--timeout``)
LIMITS = {"timeout": 1200.0}


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Run ``cmd`` and measure it with ``os.wait4`` (rusage of the process tree);
    a command still running after ``LIMITS["timeout"]`` seconds is killed (a failure)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    killer = threading.Timer(LIMITS["timeout"], lambda: os.killpg(process.pid, signal.SIGKILL))
    killer.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"    ! {' '.join(cmd[:3])}… exited {code}: {stderr.strip()[-400:]}", file=sys.stderr)
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def run_phases(
    tool: Tool, requirements: Sequence[str], work: Path, minor: str = "3.11"
) -> dict[str, Sample]:
    """All phases for one tool, in a fresh project and an empty cache."""
    project = work / f"{tool.name}-project"
    cache = work / f"{tool.name}-cache"
    shutil.rmtree(project, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    project.mkdir(parents=True)
    tool.prepare(project, requirements, minor)
    env = {**clean_environ(), **tool.extra_env, tool.cache_var: str(cache)}
    venv = project / ".venv"

    def drop_lock() -> None:
        for name in tool.lock_files:
            (project / name).unlink(missing_ok=True)

    samples: dict[str, Sample] = {}
    samples["lock-cold"] = timed(tool.lock_cmd, project, env)
    drop_lock()
    samples["lock-warm"] = timed(tool.lock_cmd, project, env)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    samples["sync-cold"] = timed(tool.sync_cmd, project, env)
    shutil.rmtree(venv, ignore_errors=True)
    samples["sync-warm"] = timed(tool.sync_cmd, project, env)
    samples["sync-noop"] = timed(tool.sync_cmd, project, env)
    samples["run"] = timed(tool.run_cmd, project, env)
    samples["add-package"] = timed(tool.add_cmd, project, env)
    samples["version"] = timed(tool.version_cmd, project, env)
    return samples


def summarize(runs: dict[str, list[dict[str, Sample]]]) -> dict[str, dict[str, dict[str, object]]]:
    """Medians per tool and phase, with the ratio to uv."""
    summary: dict[str, dict[str, dict[str, object]]] = {}
    for tool, samples in runs.items():
        summary[tool] = {}
        for phase in PHASES:
            got = [s[phase] for s in samples if phase in s]
            ok = [s for s in got if s.code == 0]
            summary[tool][phase] = {
                "wall": [round(s.wall, 3) for s in got],
                "cpu": [round(s.cpu, 3) for s in got],
                "rss_mb": [round(s.rss_mb, 1) for s in got],
                "failed": len(got) - len(ok),
                "median_wall": round(statistics.median(s.wall for s in ok), 3) if ok else None,
                "median_cpu": round(statistics.median(s.cpu for s in ok), 3) if ok else None,
                "peak_rss_mb": round(max(s.rss_mb for s in ok), 1) if ok else None,
            }
    uv = summary.get("uv", {})
    for phases in summary.values():
        for phase, data in phases.items():
            base = uv.get(phase, {}).get("median_wall")
            mine = data["median_wall"]
            data["ratio_to_uv"] = round(mine / base, 2) if base and mine else None  # type: ignore[operator]
    return summary


def print_table(workload: str, summary: dict[str, dict[str, dict[str, object]]]) -> None:
    """A plain table: median wall seconds (ratio to uv) per phase and tool."""
    tools = list(summary)
    print(f"\n{workload}: median wall time, s (× uv); peak RSS MB")
    print(f"{'phase':<12}" + "".join(f"{t:>22}" for t in tools))
    for phase in PHASES:
        cells = []
        for tool in tools:
            data = summary[tool][phase]
            wall, ratio = data["median_wall"], data["ratio_to_uv"]
            text = "failed" if wall is None else f"{wall:.2f}" + (f" ({ratio}×)" if ratio else "")
            cells.append(f"{text:>22}")
        print(f"{phase:<12}" + "".join(cells))
    print(
        f"{'peak RSS':<12}"
        + "".join(
            f"{max((d['peak_rss_mb'] or 0) for d in summary[t].values()):>21.0f}M" for t in tools
        )
    )


def chart(workload: str, summary: dict[str, dict[str, dict[str, object]]], path: Path) -> None:
    """A grouped bar chart of the median wall times (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = list(summary)
    width = 0.8 / max(1, len(tools))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for index, tool in enumerate(tools):
        values = [summary[tool][p]["median_wall"] or 0 for p in PHASES]
        positions = [i + index * width for i in range(len(PHASES))]
        ax.bar(positions, values, width, label=tool)
    ax.set_xticks([i + width * (len(tools) - 1) / 2 for i in range(len(PHASES))], PHASES)
    ax.set_yscale("log")
    ax.set_ylabel("median wall time, s (log)")
    ax.set_title(f"{workload}: shipyard vs peers ({platform.machine()}, {os.cpu_count()} cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0 (failed commands are reported, not fatal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", default="shipyard,uv,poetry,pdm,pip-tools")
    parser.add_argument("--workloads", default="ml-web,sentry-base,trio-docs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--python",
        default=None,
        help="the interpreter every tool builds its environment from "
        "(default: python3.11, python3.10 for sentry-base)",
    )
    parser.add_argument("--chart", metavar="JSON", help="only draw the chart of a results file")
    parser.add_argument(
        "--timeout",
        type=float,
        default=LIMITS["timeout"],
        help="seconds before a command is killed and counted as failed",
    )
    parser.add_argument(
        "--tag", default="", help="write results/<workload>.<tag>.json (keeps other runs' files)"
    )
    args = parser.parse_args(argv)
    if args.chart:
        data = json.loads(Path(args.chart).read_text())
        chart(data["workload"], data["results"], Path(args.chart).with_suffix(".png"))
        return 0
    LIMITS["timeout"] = args.timeout
    bin_dir = ensure_tools()
    compile_shipyard()
    RESULTS.mkdir(exist_ok=True)
    for workload in args.workloads.split(","):
        minor = WORKLOAD_PYTHON.get(workload, "3.11")
        python = args.python or find_python(minor)
        tools = make_tools(bin_dir, python)
        chosen = [tools[name] for name in args.tools.split(",")]
        requirements = read_workload(workload)
        runs: dict[str, list[dict[str, Sample]]] = {t.name: [] for t in chosen}
        with tempfile.TemporaryDirectory(prefix=f"bench-{workload}-") as scratch:
            for run in range(args.runs):
                for tool in chosen:  # tools alternate within each run
                    print(f"[{workload}] run {run + 1}/{args.runs}: {tool.name}", file=sys.stderr)
                    runs[tool.name].append(run_phases(tool, requirements, Path(scratch), minor))
        summary = summarize(runs)
        print_table(workload, summary)
        document = {
            "workload": workload,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": python},
            "runs": args.runs,
            "tools": (HERE / "requirements-tools.txt").read_text().split(),
            "results": summary,
        }
        json_path = RESULTS / (f"{workload}.{args.tag}.json" if args.tag else f"{workload}.json")
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        # matplotlib lives in the tools environment: draw the chart with its Python.
        subprocess.run(
            [str(bin_dir / "python"), __file__, "--chart", str(json_path)],
            check=True,
            env=clean_environ(),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
