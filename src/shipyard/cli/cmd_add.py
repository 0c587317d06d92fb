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
    where.add_argument(
        "--conda",
        action="store_true",
        help="the arguments are conda MatchSpecs for [tool.shipyard.conda]",
    )
    parser.add_argument(
        "--conda-platform",
        metavar="SUBDIR",
        help="with --conda: only for this conda platform (e.g. linux-64)",
    )
    revision = parser.add_mutually_exclusive_group()
    revision.add_argument("--tag", help="for a git+ requirement: the tag to lock")
    revision.add_argument("--branch", help="for a git+ requirement: the branch to follow")
    revision.add_argument("--rev", help="for a git+ requirement: the commit (or any revision)")
    parser.add_argument(
        "--package", metavar="NAME", help="add to this workspace member's pyproject.toml"
    )
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")
    from shipyard.cli.script_commands import add_script_argument

    add_script_argument(parser, "add to")


def run(args: argparse.Namespace) -> int:
    """Add, lock, sync; prints the summary."""
    if getattr(args, "script", None):
        from shipyard.cli.script_commands import edit_script

        return edit_script(args, add=list(args.requirements), remove=[])
    from functools import partial

    from shipyard.cli.common import run_edit
    from shipyard.project.editing import add_requirements

    revision = next(
        ((kind, value) for kind in ("tag", "branch", "rev") if (value := getattr(args, kind))),
        None,
    )
    use_case = partial(add_requirements, git_revision=revision, package=args.package)
    return run_edit(args, use_case, args.requirements)
