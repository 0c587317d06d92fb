"""``shipyard tree``: the locked dependency tree, from ``pylock.toml`` alone."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_display_options", "add_target_options", "configure", "run", "target_from"]


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--for-environment``, ``--python-version`` and ``--python-platform``."""
    parser.add_argument(
        "--for-environment",
        metavar="MARKER",
        help="evaluate the lock's markers for one target, e.g. \"sys_platform == 'win32' "
        "and python_version == '3.12'\" (default: every target, markers shown)",
    )
    parser.add_argument(
        "--python-version", metavar="X.Y", help="evaluate the markers for this Python version"
    )
    parser.add_argument(
        "--python-platform",
        metavar="PLATFORM",
        help="evaluate the markers for this platform: linux, macos, windows or a target "
        "triple such as aarch64-apple-darwin",
    )


def add_display_options(parser: argparse.ArgumentParser) -> None:
    """``--depth`` and ``--ascii``."""
    parser.add_argument(
        "--depth", type=_depth, metavar="N", help="show N levels below each root at most"
    )
    parser.add_argument("--ascii", action="store_true", help="draw the tree with ASCII only")


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of levels (0 or more)")
    return value


def target_from(args: argparse.Namespace) -> dict[str, str]:
    """The marker variables the target options fix."""
    from shipyard.project.lock_graph import target_variables

    return target_variables(
        args.for_environment,
        python_version=args.python_version,
        python_platform=args.python_platform,
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``tree``'s arguments."""
    add_display_options(parser)
    parser.add_argument(
        "--invert",
        "--reverse",
        action="store_true",
        help="show what requires each package instead of what it requires",
    )
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME",
        help="start the tree at this package instead of the project (repeatable)",
    )
    from shipyard.cli.common import add_selection_arguments

    add_selection_arguments(parser, "show")
    add_target_options(parser)


def run(args: argparse.Namespace) -> int:
    """Print the tree on stdout."""
    from shipyard.cli.common import command_services, locate_project, selection_options
    from shipyard.project.lock_graph import project_graph
    from shipyard.project.syncing import Selection
    from shipyard.project.tree import dependency_tree, inverted_tree, render_tree

    project = locate_project(args)
    fixed = target_from(args)
    selection = Selection(**selection_options(args))
    with command_services(args, project) as (services, _output):
        graph = project_graph(
            project,
            services,
            groups=selection.resolve_groups(project),
            extras=selection.resolve_extras(project),
            fixed=fixed,
        )
        build = inverted_tree if args.invert else dependency_tree
        roots = build(graph, packages=args.package, depth=args.depth)
        sys.stdout.write(render_tree(roots, ascii=args.ascii))
    return 0
