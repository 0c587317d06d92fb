"""``shipyard export``: write the lock in a format other tools read."""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``export``'s arguments."""
    # the names only: importing the exporter here would slow every command's start-up
    formats = ("environment-yml", "conda-explicit")
    parser.add_argument("--format", required=True, choices=formats, dest="format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument(
        "--platform", metavar="SUBDIR", help="conda platform, e.g. linux-64 (default: this one)"
    )
    parser.add_argument("--group", action="append", default=[], metavar="GROUP")
    parser.add_argument("--extra", action="append", default=[], metavar="EXTRA")
    parser.add_argument(
        "--frozen", action="store_true", help="export pylock.toml as it is; never re-lock"
    )


def run(args: argparse.Namespace) -> int:
    """Export; the text goes to ``--output`` (atomically) or stdout."""
    from pathlib import Path

    from shipyard.atomic import atomic_write_text
    from shipyard.cli.common import command_services, locate_project
    from shipyard.project.exporting import export_lock

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = export_lock(
            project,
            services,
            args.format,
            platform=args.platform,
            frozen=args.frozen,
            groups=args.group,
            extras=args.extra,
        )
        if args.output:
            atomic_write_text(Path(args.output), outcome.text)
            output.line(f"Wrote {args.format} for {outcome.platform} to {args.output}")
        else:
            sys.stdout.write(outcome.text)
    return 0
