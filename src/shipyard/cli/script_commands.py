"""``init``, ``add``, ``remove`` and ``lock`` with ``--script FILE``: the same commands on a
PEP 723 script's ``# /// script`` block instead of a project."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_script_argument", "edit_script", "init_script", "lock_script"]


def add_script_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--script FILE`` to a command's parser; ``what`` ends its help text."""
    parser.add_argument(
        "--script", metavar="FILE", help=f"{what} the PEP 723 script FILE, not the project"
    )


def init_script(args: argparse.Namespace, requires_python: str) -> int:
    """``init --script FILE``: write a script with a metadata block and a ``main``.

    :raises UsageError: when the file exists.
    """
    from shipyard.atomic import atomic_write_text
    from shipyard.cli.render import Output
    from shipyard.errors import UsageError
    from shipyard.project.scripts import script_template

    path = Path(args.script)
    if path.exists():
        raise UsageError(
            f"{path} exists already.",
            hint=f"Add its dependencies with `shipyard add --script {path} REQ…`, which "
            "writes the `# /// script` block into it.",
        )
    atomic_write_text(path, script_template(requires_python))
    Output(quiet=args.quiet, color=args.color or "auto").line(
        f"Initialized script at {path} (run it with `shipyard run {path}`)"
    )
    return 0


def edit_script(args: argparse.Namespace, *, add: list[str], remove: list[str]) -> int:
    """``add``/``remove --script FILE``: edit the block, then resolve it; a requirement
    that cannot be resolved puts the file back as it was. ``FILE.lock`` is updated
    when it exists.

    :raises ShipyardError: from parsing, reading the script or resolving.
    """
    from shipyard.atomic import atomic_write_text
    from shipyard.cli.common import command_services, hold_directory_lock, print_lock
    from shipyard.project.locking import lock_project
    from shipyard.project.manifest import parse_requirement
    from shipyard.project.scripts import (
        edit_script_dependencies,
        keep_script_lock,
        read_script,
        script_lock_path,
        script_project,
    )

    path = Path(args.script)
    read_script(path)  # a missing file or an invalid block is reported as such
    requirements = [parse_requirement(text) for text in add]
    old, new = edit_script_dependencies(path, add=requirements, remove=remove)
    atomic_write_text(path, new)
    try:
        script = read_script(path)
        from shipyard.cli.cmd_run import _tool_table_project

        with command_services(args, _tool_table_project(script.tool)) as (services, output):
            project = script_project(script, services)
            hold_directory_lock(args, project.root)
            outcome = lock_project(project, services)
            print_lock(output, outcome)
            if script_lock_path(script.path).is_file():
                keep_script_lock(script, project)
            verb, names = ("Added", add) if add else ("Removed", remove)
            output.line(f"{verb} {', '.join(names)} {'to' if add else 'from'} {path}")
    except BaseException:
        atomic_write_text(path, old)
        raise
    return 0


def lock_script(args: argparse.Namespace) -> int:
    """``lock --script FILE``: a universal PEP 751 lock written to ``FILE.lock``."""
    from shipyard.cli.cmd_run import _tool_table_project
    from shipyard.cli.common import command_services, hold_directory_lock, print_lock
    from shipyard.errors import LockError
    from shipyard.project.locking import lock_project
    from shipyard.project.scripts import keep_script_lock, read_script, script_lock_path

    script = read_script(Path(args.script))
    with command_services(args, _tool_table_project(script.tool)) as (services, output):
        from shipyard.project.scripts import script_project

        project = script_project(script, services, universal=True)
        hold_directory_lock(args, project.root)
        outcome = lock_project(
            project,
            services,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            resolution=args.resolution,
            fork_strategy=args.fork_strategy,
            prerelease=args.prerelease,
            exclude_newer=args.exclude_newer,
            check=args.check,
        )
        target = script_lock_path(script.path)
        if args.check:
            if (
                not target.is_file()
                or target.read_bytes() != (project.root / "pylock.toml").read_bytes()
            ):
                raise LockError(
                    f"{target.name} is missing or out of date with the script's metadata.",
                    context=str(target),
                    hint=f"Run `shipyard lock --script {args.script}`.",
                )
            output.line("The lock is up to date.")
            return 0
        print_lock(output, outcome)
        if keep_script_lock(script, project):
            output.line(f"Wrote {target}")
        else:
            output.line("The lock is up to date.")
    return 0
