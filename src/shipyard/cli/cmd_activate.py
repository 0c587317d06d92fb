"""``shipyard activate``: print the shell code that activates the project's environment,
for ``eval "$(shipyard activate)"`` (bash, zsh, sh) or ``shipyard activate --shell fish
| source``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project.manifest import Project

__all__ = ["configure", "default_shell", "print_activation", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``activate``'s arguments."""
    from shipyard.cli.cmd_run import add_sync_arguments
    from shipyard.project.activation_scripts import SHELLS

    parser.add_argument(
        "--shell",
        choices=SHELLS,
        help="the shell to write for (default: the one $SHELL names, else bash)",
    )
    add_sync_arguments(parser)


def default_shell(program: str | None) -> str:
    """The dialect to write for: ``program``'s (a path or a name, default ``$SHELL``),
    or bash when neither is given.

    :raises UsageError: when it names a shell shipyard cannot activate.
    """
    from shipyard.errors import UsageError
    from shipyard.project.activation_scripts import SHELLS, shell_kind

    program = program or os.environ.get("SHELL") or "bash"
    kind = shell_kind(program)
    if kind is None:
        raise UsageError(
            f"shipyard cannot activate {program}; it writes for {', '.join(SHELLS)}.",
            hint="Pass --shell with one of those.",
        )
    return kind


def print_activation(
    project: Project | None,
    env_root: Path,
    cache_root: Path,
    *,
    shell: str | None = None,
    prompt: str,
) -> int:
    """Write the activation script of ``env_root`` for ``shell`` (default from
    ``$SHELL``) to standard output, with ``project``'s variables and ``(<prompt>)``
    before the prompt; returns the exit status."""
    from shipyard.project.activation import load_activation
    from shipyard.project.activation_scripts import activate_script

    kind = default_shell(shell)
    activation = load_activation(env_root, project=project, cache_root=cache_root)
    sys.stdout.write(activate_script(activation, os.environ, shell=kind, prompt=prompt))
    sys.stdout.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    """Sync like ``run`` (unless ``--no-sync``), then print the activation script."""
    from shipyard.cli.cmd_run import project_for_command, sync_for_command

    project = project_for_command(args)
    env_root, cache_root = sync_for_command(args, project)
    return print_activation(project, env_root, cache_root, shell=args.shell, prompt=project.name)
