"""``shipyard run``: lock and sync if stale, then run a command in the environment."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["configure", "run", "try_fast_run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``run``'s arguments."""
    parser.add_argument(
        "--frozen", action="store_true", help="sync from pylock.toml as it is; never resolve"
    )
    parser.add_argument("--no-sync", action="store_true", help="run without syncing first")
    parser.add_argument("--group", action="append", default=[], metavar="GROUP")
    parser.add_argument("--extra", action="append", default=[], metavar="EXTRA")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")
    parser.add_argument(
        "--package",
        metavar="NAME",
        help="sync this workspace member (and what it requires) before running",
    )
    parser.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="CMD [ARGS...]", help="the command to run"
    )


def _exec(env_root: Path, command: list[str]) -> int:
    """Replace this process with ``command`` run inside the environment."""
    from shutil import which

    bin_dir = env_root / ("Scripts" if os.name == "nt" else "bin")
    environ = dict(os.environ)
    if (env_root / "conda-meta").is_dir():
        environ["CONDA_PREFIX"] = str(env_root)
        environ.pop("VIRTUAL_ENV", None)
    else:
        environ["VIRTUAL_ENV"] = str(env_root)
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    environ.pop("PYTHONHOME", None)
    program = which(command[0], path=environ["PATH"])
    if program is None:
        from shipyard.errors import UsageError

        raise UsageError(
            f"Command not found: {command[0]}.",
            hint="Check the spelling, or add the package that provides it with `shipyard add`.",
        )
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - no exec on Windows
        import subprocess

        return subprocess.call([program, *command[1:]], env=environ)
    os.execve(program, [command[0], *command[1:]], environ)
    return 0  # pragma: no cover


def try_fast_run(command: list[str]) -> int | None:
    """Run at once when the environment stamp proves the project is in sync."""
    from shipyard.cli.cmd_sync import _default_selection_key
    from shipyard.project.stamp import read_fresh_stamp

    directory = Path(os.getcwd())
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            break
    else:
        return None
    if read_fresh_stamp(candidate, candidate / ".venv", _default_selection_key()) is None:
        return None
    try:
        return _exec(candidate / ".venv", command)
    except Exception:
        return None


def run(args: argparse.Namespace) -> int:
    """Sync unless told not to, then exec the command."""
    from shipyard.cli.common import command_services, locate_project, print_sync
    from shipyard.errors import UsageError
    from shipyard.project.syncing import Selection, sync_project

    command = [c for c in args.cmd]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("No command given.", hint="Example: shipyard run python -m myapp")
    project = locate_project(args)
    env_root = project.root / ".venv"
    if not args.no_sync:
        with command_services(args, project) as (services, output):
            outcome = sync_project(
                project,
                services,
                Selection(
                    groups=tuple(args.group),
                    extras=tuple(args.extra),
                    packages=(args.package,) if args.package else (),
                    # other members stay installed: switching packages is no churn
                    exact=not args.package,
                ),
                frozen=args.frozen,
            )
            if not outcome.plan.empty or outcome.lock is not None:
                print_sync(output, outcome)
            env_root = outcome.env_root or env_root
    elif not (env_root / "pyvenv.cfg").is_file() and not (env_root / "conda-meta").is_dir():
        raise UsageError("There is no .venv to run in.", hint="Run `shipyard sync` first.")
    return _exec(env_root, command)
