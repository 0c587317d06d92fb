"""``shipyard import``: bring requirements from environment.yml or requirements files."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``import``'s arguments."""
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="environment.yml or requirements files"
    )
    parser.add_argument("--group", metavar="GROUP", help="put PyPI requirements in this group")
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")


def run(args: argparse.Namespace) -> int:
    """Import, lock, sync; prints what was added and what was not carried over."""
    from pathlib import Path

    from shipyard.cli.common import command_services, locate_project, print_edit
    from shipyard.project.importing import import_files

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = import_files(
            project,
            services,
            [Path(f) for f in args.files],
            group=args.group,
            no_sync=args.no_sync,
        )
        for item in outcome.added:
            output.line(f"Added {item}")
        for problem in outcome.problems:
            services.reporter.warning(problem)
        print_edit(output, outcome.edit)
    return 0
