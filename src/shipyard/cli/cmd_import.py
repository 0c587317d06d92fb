"""``shipyard import``: bring a project in from requirements files, environment.yml,
Pipfile, Poetry, PDM or setup.cfg, keeping the versions of their lock files."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run", "run_import"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``import``'s arguments."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="requirements*.txt/.in, environment.yml, Pipfile[.lock], pyproject.toml "
        "(Poetry, PDM), poetry.lock, pdm.lock, pylock.toml, setup.cfg",
    )
    parser.add_argument("--group", metavar="GROUP", help="put PyPI requirements in this group")
    parser.add_argument(
        "--prefer-pypi",
        action="store_true",
        help="move conda packages that are PyPI projects to the PyPI dependencies",
    )
    parser.add_argument("--no-sync", action="store_true", help="lock but do not sync")
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")


def run_import(args: argparse.Namespace, root: object) -> int:
    """Import ``args.files`` into the project at ``root`` and print what happened."""
    from pathlib import Path

    from shipyard.cli.common import command_services, print_edit
    from shipyard.project.importing import import_files

    assert isinstance(root, Path)
    with command_services(args, None) as (services, output):
        outcome = import_files(
            root,
            services,
            [Path(f) for f in args.files],
            group=args.group,
            no_sync=args.no_sync,
            prefer_pypi=args.prefer_pypi,
        )
        for item in outcome.added:
            output.line(f"Added {item}")
        if outcome.moved:
            output.line("Moved from conda to PyPI (--prefer-pypi):")
            width = max(len(spec) for spec, _ in outcome.moved)
            for spec, requirement in outcome.moved:
                output.line(f"  {spec.ljust(width)}  ->  {requirement}")
        if outcome.pins:
            kept = outcome.pins - len(outcome.changes)
            output.line(f"Kept {kept} of {outcome.pins} imported pins")
            for change in outcome.changes:
                now = ", ".join(change.locked) or "not locked"
                output.line(f"  {change.name} {change.pinned} -> {now}: {change.reason}")
        for problem in outcome.problems:
            services.reporter.warning(problem)
        print_edit(output, outcome.edit)
    return 0


def run(args: argparse.Namespace) -> int:
    """Import, lock, sync; prints what was added, pins not kept and what was not carried
    over."""
    from pathlib import Path

    from shipyard.project.manifest import find_project

    root = find_project(Path(getattr(args, "project", None) or "."))
    return run_import(args, root)
