"""``shipyard init``: create a project."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``init``'s arguments."""
    parser.add_argument("path", nargs="?", default=".", help="where to create it (default: here)")
    parser.add_argument("--name", help="project name (default: the directory's name)")
    parser.add_argument("--python", help="Python version for the project, e.g. 3.12")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--app", action="store_true", help="an application, no build system (default)"
    )
    kind.add_argument("--lib", action="store_true", help="a library, installed editable")


def run(args: argparse.Namespace) -> int:
    """Create the project; prints where."""
    from shipyard.cli.render import Output
    from shipyard.project.init import init_project

    output = Output(quiet=args.quiet, color=args.color or "auto")
    pin = None
    if args.python:
        from shipyard.python.discovery import parse_python_request

        request = parse_python_request(args.python)
        version = request.minimum_version()
        requires = f">={version}" if version else _requires_from_text(args.python)
        pin = args.python
    else:
        import sys

        requires = f">={sys.version_info.major}.{sys.version_info.minor}"
        try:
            from shipyard.cache import default_cache_dir
            from shipyard.python.discovery import find_interpreter, parse_python_request

            found = find_interpreter(
                parse_python_request(None), requires_python=None, cache_dir=default_cache_dir()
            )
            major, minor, _ = found.version_tuple
            requires = f">={major}.{minor}"
        except Exception:  # no interpreter probe: fall back to the running Python
            pass
    path = init_project(
        Path(args.path), name=args.name, requires_python=requires, python_pin=pin, lib=args.lib
    )
    kind = "library" if args.lib else "application"
    output.line(f"Initialized {kind} project at {path.parent}")
    return 0


def _requires_from_text(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".").strip(".")
    parts = digits.split(".")
    if len(parts) >= 2 and all(parts[:2]):
        return f">={parts[0]}.{parts[1]}"
    return f">={digits}" if digits else ">=3.8"
