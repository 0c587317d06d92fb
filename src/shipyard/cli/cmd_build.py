"""``shipyard build``: write the project's sdist and wheel into ``dist/``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``build``'s arguments."""
    parser.add_argument(
        "src",
        nargs="?",
        metavar="SRC",
        help="the project directory to build (default: the current project)",
    )
    parser.add_argument(
        "--sdist", action="store_true", help="build the sdist (alone unless --wheel too)"
    )
    parser.add_argument(
        "--wheel",
        action="store_true",
        help="build the wheel (from the source tree when alone; from the sdist otherwise)",
    )
    parser.add_argument(
        "-o",
        "--out-dir",
        metavar="DIR",
        help="write the files here (default: dist/ of the project built)",
    )
    parser.add_argument(
        "--package", metavar="NAME", help="build this workspace member instead of the root"
    )


def _nearest_project_dir(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` with a pyproject.toml (a workspace
    member, where :func:`locate_project` would answer the workspace root)."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return None


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    """Build; print one ``Built <file>`` line per file."""
    from shipyard.cli.common import command_services, locate_project
    from shipyard.project.building_dists import build_distributions

    source: Path | None = Path(args.src) if args.src else None
    if source is not None and source.is_dir() and not getattr(args, "project", None):
        # The project whose settings (index, interpreter) apply is the one holding SRC.
        args.project = str(source)
    elif source is None and args.package is None and not getattr(args, "project", None):
        # From inside a workspace member, build that member (as uv does).
        source = _nearest_project_dir(Path.cwd())
    project = locate_project(args)
    want_sdist = args.sdist or not args.wheel
    want_wheel = args.wheel or not args.sdist
    with command_services(args, project) as (services, output):
        outcome = build_distributions(
            project,
            services,
            source=source,
            package=args.package,
            sdist=want_sdist,
            wheel=want_wheel,
            out_dir=Path(args.out_dir) if args.out_dir else None,
        )
        for path in outcome.files:
            output.line(f"Built {_shown(path)}")
    return 0
