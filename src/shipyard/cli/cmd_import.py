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
        help="install conda dependencies from PyPI: those that are Python distributions "
        "become PyPI requirements, the others are left out and listed; no conda channel "
        "is contacted",
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
    over.

    :raises ManifestError: when there is no project to import into (the hint names the
        ``shipyard init --from`` command that creates one from the same files).
    """
    from pathlib import Path

    from shipyard.project.manifest import PYPROJECT, find_project

    start = Path(getattr(args, "project", None) or ".").resolve()
    if not any((d / PYPROJECT).is_file() for d in (start, *start.parents)):
        raise _no_project(args, start)
    root = find_project(start)
    return run_import(args, root)


def _no_project(args: argparse.Namespace, start: object) -> Exception:
    """The error for ``import`` outside a project, naming the ``init --from`` command."""
    import shlex

    from shipyard.errors import ManifestError

    command = ["shipyard", "init"]
    for name in args.files:
        command += ["--from", name]
    if args.prefer_pypi:
        command.append("--prefer-pypi")
    if args.no_sync:
        command.append("--no-sync")
    if args.python:
        command += ["--python", args.python]
    return ManifestError(
        "There is no project here to import into: no pyproject.toml in this directory or "
        "any parent.",
        context=str(start),
        hint=f"Run `{shlex.join(command)}` to create one from "
        f"{'these files' if len(args.files) > 1 else 'it'}.",
    )
