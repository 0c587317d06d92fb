"""``shipyard x NAME [ARGS…]``: ``shipyard tool run`` in fewer keystrokes (as ``uvx``)."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tool run``."""
    from shipyard.cli.cmd_tool import add_run_arguments

    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the tool (see :func:`shipyard.cli.cmd_tool.run_tool`)."""
    from shipyard.cli.cmd_tool import run_tool

    return run_tool(args)
