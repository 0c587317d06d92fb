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
    where.add_argument(
        "--conda",
        action="store_true",
        help="the names are conda packages in [tool.shipyard.conda]",
    )
    parser.add_argument(
        "--conda-platform",
        metavar="SUBDIR",
        help="with --conda: only for this conda platform (e.g. linux-64)",
    )
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")
    from shipyard.cli.script_commands import add_script_argument

    add_script_argument(parser, "remove from")


def run(args: argparse.Namespace) -> int:
    """Remove, lock, sync; prints the summary."""
    if getattr(args, "script", None):
        from shipyard.cli.script_commands import edit_script

        return edit_script(args, add=[], remove=list(args.names))
    from shipyard.cli.common import run_edit
    from shipyard.project.editing import remove_requirements

    return run_edit(args, remove_requirements, args.names)
