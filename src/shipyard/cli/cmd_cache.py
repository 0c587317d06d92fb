"""``shipyard cache dir|clean|prune``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``cache``'s arguments."""
    parser.add_argument(
        "action",
        choices=("dir", "clean", "prune"),
        help="dir: print the path; clean: remove everything; "
        "prune: remove what no current shipyard can use",
    )


def run(args: argparse.Namespace) -> int:
    """Do the action; prints the path or what was freed."""
    from shipyard.cli.common import command_services

    with command_services(args, None) as (services, output):
        cache = services.cache
        if args.action == "dir":
            sys.stdout.write(f"{cache.root}\n")
            return 0
        freed = cache.clean() if args.action == "clean" else cache.prune()
        output.line(f"Removed {freed / 1e6:.1f} MB from {cache.root}")
    return 0
