"""``shipyard lock``: resolve into pylock.toml."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``lock``'s arguments."""
    parser.add_argument("--upgrade", "-U", action="store_true", help="ignore existing pins")
    parser.add_argument(
        "--upgrade-package",
        "-P",
        action="append",
        default=[],
        metavar="NAME",
        help="move this package to its newest allowed version (repeatable)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the lock is stale; write nothing"
    )
    parser.add_argument("--resolution", choices=("highest", "lowest", "lowest-direct"))
    parser.add_argument(
        "--fork-strategy",
        choices=("requires-python", "fewest"),
        help="requires-python (default): the newest versions each Python range allows; "
        "fewest: one version wherever one serves every Python",
    )
    parser.add_argument(
        "--prerelease", choices=("allow", "if-necessary", "disallow", "if-necessary-or-explicit")
    )
    parser.add_argument(
        "--exclude-newer",
        metavar="DATE",
        help="ignore files uploaded after DATE (2024-06-01 or RFC 3339)",
    )
    parser.add_argument("--python", help=argparse.SUPPRESS)
    from shipyard.cli.script_commands import add_script_argument

    add_script_argument(parser, "lock (into FILE.lock, PEP 751)")


def run(args: argparse.Namespace) -> int:
    """Lock the project; prints the summary."""
    from shipyard.cli.common import command_services, locate_project, print_lock
    from shipyard.project.locking import lock_project

    if getattr(args, "script", None):
        from shipyard.cli.script_commands import lock_script

        return lock_script(args)
    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = lock_project(
            project,
            services,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            check=args.check,
            resolution=args.resolution,
            fork_strategy=args.fork_strategy,
            prerelease=args.prerelease,
            exclude_newer=args.exclude_newer,
        )
        if outcome.fresh:
            output.line("The lock is up to date.")
        else:
            print_lock(output, outcome)
    return 0
