"""``shipyard upgrade [NAME…]``: re-lock, raise the requirements' lower bounds in
pyproject.toml to the locked versions, sync."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``upgrade``'s arguments."""
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="requirements to upgrade (default: every requirement of the project)",
    )
    parser.add_argument(
        "--latest",
        action="store_true",
        help="also lift upper bounds that keep out the newest release on the index "
        "(and the == pins of the packages named)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")


def run(args: argparse.Namespace) -> int:
    """Upgrade; prints the lock's changes, the requirements rewritten and the sync."""
    from shipyard.cli.common import command_services, locate_project, print_lock, print_sync
    from shipyard.project.upgrading import upgrade_requirements

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = upgrade_requirements(
            project,
            services,
            args.names,
            latest=args.latest,
            dry_run=args.dry_run,
            no_sync=args.no_sync,
        )
        print_lock(output, outcome.lock)
        if outcome.dry_run and outcome.lock is not None and outcome.lock.pending:
            output.line("Would write pylock.toml")
        if outcome.changes:
            verb = "Would update" if outcome.dry_run else "Updated"
            output.line(f"{verb} pyproject.toml:")
            for change in outcome.changes:
                where = "" if change.where == "dependencies" else f" ({change.where})"
                old = change.old_specifier or "(any version)"
                output.change("~", f"{change.name} {old} -> {change.new_specifier}{where}")
        else:
            output.line("pyproject.toml already asks for the locked versions.")
        for note in outcome.kept:
            output.line(f"note: {note}")
        if outcome.sync is not None:
            print_sync(output, outcome.sync)
    return 0
