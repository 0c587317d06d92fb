"""``shipyard add``: add requirements, lock, sync."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``add``'s arguments."""
    parser.add_argument(
        "requirements", nargs="+", metavar="REQ", help="PEP 508 requirements, e.g. 'pandas>=2.2'"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--group", metavar="GROUP", help="add to this dependency group (PEP 735)")
    where.add_argument("--optional", metavar="EXTRA", help="add to this extra")
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")


def run(args: argparse.Namespace) -> int:
    """Add, lock, sync; prints the summary."""
    from shipyard.cli.common import command_services, locate_project, print_lock, print_sync
    from shipyard.project.editing import add_requirements

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = add_requirements(
            project,
            services,
            args.requirements,
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
