"""``shipyard remove``: remove requirements, lock, sync (orphans leave too)."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``remove``'s arguments."""
    parser.add_argument("names", nargs="+", metavar="NAME", help="project names to remove")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--group", metavar="GROUP", help="remove from this dependency group")
    where.add_argument("--optional", metavar="EXTRA", help="remove from this extra")
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")


def run(args: argparse.Namespace) -> int:
    """Remove, lock, sync; prints the summary."""
    from shipyard.cli.common import command_services, locate_project, print_lock, print_sync
    from shipyard.project.editing import remove_requirements

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = remove_requirements(
            project,
            services,
            args.names,
            group=args.group,
            optional=args.optional,
            no_sync=args.no_sync,
        )
        if outcome.sync is not None:
            outcome.sync.lock = outcome.lock
            print_sync(output, outcome.sync)
        else:
            print_lock(output, outcome.lock)
    return 0
