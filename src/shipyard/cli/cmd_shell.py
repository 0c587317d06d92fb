"""``shipyard shell``: start the user's shell with the project's environment activated."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project.manifest import Project

__all__ = ["configure", "run", "start_shell"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``shell``'s arguments."""
    from shipyard.cli.cmd_run import add_sync_arguments

    parser.add_argument(
        "--shell",
        metavar="PROGRAM",
        help="the shell to start, by name or path: bash, zsh, fish or sh "
        "(default: $SHELL, else bash)",
    )
    add_sync_arguments(parser)


def start_shell(
    project: Project | None,
    env_root: Path,
    cache_root: Path,
    *,
    program: str | None = None,
    prompt: str,
) -> int:
    """Replace this process with ``program`` (default ``$SHELL``, else bash), started
    interactively with ``env_root`` activated after its own startup files and
    ``(<prompt>)`` before its prompt; leaving it ends the command.

    :raises UsageError: when the shell cannot be found or activated.
    """
    from shutil import which

    from shipyard.cli.cmd_activate import default_shell
    from shipyard.errors import UsageError
    from shipyard.project.activation import load_activation
    from shipyard.project.activation_scripts import shell_command

    program = program or os.environ.get("SHELL") or "bash"
    kind = default_shell(program)
    found = which(program)
    if found is None:
        raise UsageError(
            f"The shell {program} is not installed or not on PATH.",
            hint="Pass --shell with a shell that is (bash, zsh, fish or sh).",
        )
    activation = load_activation(env_root, project=project, cache_root=cache_root)
    argv, environ = shell_command(activation, os.environ, program=found, shell=kind, prompt=prompt)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - no exec on Windows
        import subprocess

        return subprocess.call(argv, env=environ)
    os.execve(found, argv, environ)
    return 0  # pragma: no cover


def run(args: argparse.Namespace) -> int:
    """Sync like ``run`` (unless ``--no-sync``), then start the activated shell."""
    from shipyard.cli.cmd_run import project_for_command, sync_for_command

    project = project_for_command(args)
    env_root, cache_root = sync_for_command(args, project)
    return start_shell(project, env_root, cache_root, program=args.shell, prompt=project.name)
