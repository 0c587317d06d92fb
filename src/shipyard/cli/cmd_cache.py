"""``shipyard cache dir|clean|prune|stats``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.cache import Cache

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``cache``'s arguments."""
    parser.add_argument(
        "action",
        choices=("dir", "clean", "prune", "stats"),
        help="dir: print the path; clean: remove everything; "
        "prune: remove what no current shipyard can use; "
        "stats: built-wheel hits here and in the remote cache, and what they saved",
    )


def run(args: argparse.Namespace) -> int:
    """Do the action; prints the path, what was freed, or the counters."""
    from shipyard.cli.common import command_services

    with command_services(args, None) as (services, output):
        cache = services.cache
        if args.action == "dir":
            sys.stdout.write(f"{cache.root}\n")
            return 0
        if args.action == "stats":
            _print_stats(cache)
            return 0
        freed = cache.clean() if args.action == "clean" else cache.prune()
        output.line(f"Removed {freed / 1e6:.1f} MB from {cache.root}")
    return 0


def _print_stats(cache: Cache) -> None:
    """The counters of :mod:`shipyard.cache.stats`, one line each, on stdout."""
    from shipyard.cache.stats import read_stats

    stats = read_stats(cache)
    lines = [
        f"Built wheels from this cache: {stats.local_hits} hits, {stats.builds} built here",
        f"Remote cache: {stats.remote_hits} hits, {stats.remote_misses} misses, "
        f"{stats.remote_pushes} pushed, {stats.remote_refused} refused, "
        f"skipped in {stats.remote_errors} commands",
        f"Saved by remote hits: {stats.bytes_pulled / 1e6:.2f} MB pulled instead of built, "
        f"{stats.seconds_saved:.1f} s of builds",
    ]
    sys.stdout.write("".join(f"{line}\n" for line in lines))
