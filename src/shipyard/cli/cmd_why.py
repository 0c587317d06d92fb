"""``shipyard why NAME``: which of the project's requirements pull a package in."""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``why``'s arguments."""
    from shipyard.cli.cmd_tree import add_display_options, add_target_options

    parser.add_argument("names", nargs="+", metavar="NAME", help="a locked package")
    add_display_options(parser)
    add_target_options(parser)


def run(args: argparse.Namespace) -> int:
    """Print, for each name, the inverted tree up to the project's requirements."""
    from shipyard.cli.cmd_tree import target_from
    from shipyard.cli.common import command_services, locate_project
    from shipyard.project.lock_graph import project_graph
    from shipyard.project.tree import inverted_tree, render_tree

    project = locate_project(args)
    fixed = target_from(args)
    with command_services(args, project) as (services, _output):
        # Every group and extra: the question is why the lock holds the package at all.
        graph = project_graph(project, services, groups=None, extras=None, fixed=fixed)
        roots = inverted_tree(graph, packages=args.names, depth=args.depth)
        sys.stdout.write(render_tree(roots, ascii=args.ascii))
    return 0
