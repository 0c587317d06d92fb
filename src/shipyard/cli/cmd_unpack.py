"""``shipyard unpack FILE DIR``: an archive ``shipyard pack`` wrote as a working
environment in DIR, with no network (see :mod:`shipyard.project.unpacking`)."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``unpack``'s arguments."""
    parser.add_argument("archive", metavar="FILE", help="the archive `shipyard pack` wrote")
    parser.add_argument(
        "directory", metavar="DIR", help="where the environment goes (new or empty)"
    )


def run(args: argparse.Namespace) -> int:
    """Unpack; prints where the environment is and how to use it."""
    import shlex
    from pathlib import Path

    from shipyard.cli.common import command_services
    from shipyard.project.unpacking import unpack_environment

    with command_services(args, None) as (_services, output):
        outcome = unpack_environment(Path(args.archive), Path(args.directory))
        output.line(
            f"Unpacked {outcome.project or 'the environment'} (Python "
            f"{outcome.python_version}) into {outcome.root}; {outcome.relocated} files "
            "relocated"
        )
        python = shlex.quote(str(outcome.python))
        if outcome.kind == "venv":
            activate = shlex.quote(str(outcome.root / "bin" / "activate"))
            output.line(f"Run {python}, or activate it with `. {activate}`")
        else:
            output.line(f"Run {python}, or put {outcome.root / 'bin'} first on PATH")
    return 0
