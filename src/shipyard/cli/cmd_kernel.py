"""``shipyard kernel install|list|remove``: the project's environment as a Jupyter kernel."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``kernel install``, ``list`` and ``remove``."""
    from shipyard.cli.common import add_selection_arguments
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="kernel_command", metavar="COMMAND")
    install = commands.add_parser(
        "install",
        help="Register the project's environment as a Jupyter kernel.",
        description="Sync the environment, then write a kernelspec whose command is "
        "`shipyard run --frozen python -m ipykernel_launcher` in this project: Jupyter "
        "then runs notebooks in .venv, activated and in sync with pylock.toml. The "
        "environment needs ipykernel (`shipyard add --group dev ipykernel`).",
    )
    _global_options(install, suppress=True)
    install.add_argument(
        "--name", help="the kernel's name (default: the project's name; [a-z0-9._-])"
    )
    install.add_argument(
        "--display-name",
        metavar="TEXT",
        help="what Jupyter's kernel menu shows (default: 'Python (<project>)')",
    )
    add_selection_arguments(install, "install")
    install.add_argument(
        "--frozen", action="store_true", help="sync from pylock.toml as it is; never resolve"
    )
    install.add_argument(
        "--force",
        action="store_true",
        help="replace a kernel of that name that is not this project's",
    )
    _prefix_argument(install)
    listing = commands.add_parser(
        "list",
        help="The Jupyter kernels in the user's (or --prefix's) kernel directory.",
        description="List the kernelspecs where `kernel install` writes them, marking "
        "those shipyard installed and the project each runs.",
    )
    _global_options(listing, suppress=True)
    listing.add_argument("--json", action="store_true", help="a JSON array of kernels")
    _prefix_argument(listing)
    remove = commands.add_parser(
        "remove",
        help="Remove kernels shipyard installed.",
        description="Remove the named kernels (without NAME: this project's). Kernels "
        "shipyard did not install are left alone unless --force.",
    )
    _global_options(remove, suppress=True)
    remove.add_argument("names", nargs="*", metavar="NAME")
    remove.add_argument(
        "--force", action="store_true", help="also remove kernels shipyard did not install"
    )
    _prefix_argument(remove)


def _prefix_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prefix",
        metavar="DIR",
        help="use DIR/share/jupyter/kernels (the environment Jupyter itself runs from) "
        "instead of the user's Jupyter data directory ($JUPYTER_DATA_DIR/kernels)",
    )


def _directory(args: argparse.Namespace) -> Path:
    from shipyard.project.kernels import kernels_dir

    prefix = getattr(args, "prefix", None)
    return kernels_dir(Path(prefix).expanduser() if prefix else None)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the subcommand."""
    from shipyard.errors import UsageError

    command = getattr(args, "kernel_command", None)
    if command == "install":
        return _run_install(args)
    if command == "list":
        return _run_list(args)
    if command == "remove":
        return _run_remove(args)
    raise UsageError(
        "Which kernel command? Use install, list or remove.",
        hint="Example: shipyard kernel install",
    )


def _run_options(args: argparse.Namespace) -> list[str]:
    """The ``run`` options the kernel repeats at each start: the selection synced now
    (so starting the kernel does not uninstall a group) and an explicit cache."""
    options: list[str] = []
    options += [f"--group={g}" for g in args.group]
    options += [f"--extra={e}" for e in args.extra]
    for flag in ("all_groups", "no_default_groups", "all_extras"):
        if getattr(args, flag):
            options.append("--" + flag.replace("_", "-"))
    cache_dir = getattr(args, "cache_dir", None)
    if cache_dir:
        options.append(f"--cache-dir={Path(cache_dir).expanduser().resolve()}")
    return options


def _run_install(args: argparse.Namespace) -> int:
    from shipyard.cli.common import command_services, locate_project, print_sync, selection_options
    from shipyard.project.kernels import (
        install_kernel,
        kernel_argv,
        kernel_name,
        require_ipykernel,
    )
    from shipyard.project.syncing import Selection, sync_project

    project = locate_project(args)
    name = kernel_name(args.name, project)
    display_name = args.display_name or f"Python ({project.name or project.root.name})"
    with command_services(args, project) as (services, output):
        outcome = sync_project(
            project, services, Selection(**selection_options(args)), frozen=args.frozen
        )
        if not outcome.plan.empty or outcome.lock is not None:
            print_sync(output, outcome)
        env_root = outcome.env_root or project.root / ".venv"
        site_packages = require_ipykernel(project, env_root)
        root = project.root.resolve()
        directory, replaced = install_kernel(
            _directory(args),
            name,
            project_root=root,
            display_name=display_name,
            argv=kernel_argv(
                root, launcher=[sys.executable, "-m", "shipyard"], run_options=_run_options(args)
            ),
            logos_from=site_packages / "ipykernel" / "resources",
            force=args.force,
        )
        verb = "Updated" if replaced else "Installed"
        output.line(f"{verb} Jupyter kernel {name!r} ({display_name}) at {directory}")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from shipyard.cli.common import command_services
    from shipyard.project.kernels import list_kernels

    directory = _directory(args)
    kernels = list_kernels(directory)
    if args.json:
        rows = [
            {
                "name": k.name,
                "display_name": k.display_name,
                "directory": str(k.directory),
                "shipyard": k.is_shipyard,
                "project": str(k.project) if k.project else None,
                "project_exists": (k.project / "pyproject.toml").is_file() if k.project else None,
            }
            for k in kernels
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not kernels:
        with command_services(args, None) as (_services, output):
            output.line(f"No Jupyter kernels in {directory}")
        return 0
    name_width = max(len(k.name) for k in kernels)
    shown_width = max(len(k.display_name) for k in kernels)
    sys.stdout.write(f"Kernels in {directory}:\n")
    for k in kernels:
        if not k.readable:
            owner = "(kernel.json unreadable)"
        elif k.project is None:
            owner = "(not shipyard's)"
        elif not (k.project / "pyproject.toml").is_file():
            owner = f"{k.project} (project missing: `shipyard kernel remove {k.name}`)"
        else:
            owner = str(k.project)
        sys.stdout.write(f"  {k.name:<{name_width}}  {k.display_name:<{shown_width}}  {owner}\n")
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    from shipyard.cli.common import command_services
    from shipyard.errors import ShipyardError
    from shipyard.project.kernels import project_kernels, remove_kernel

    directory = _directory(args)
    names = list(args.names)
    with command_services(args, None) as (_services, output):
        if not names:
            from shipyard.project.manifest import find_project

            root = find_project(Path(getattr(args, "project", None) or "."))
            names = [k.name for k in project_kernels(directory, root)]
            if not names:
                raise ShipyardError(
                    f"No Jupyter kernel in {directory} runs the project at {root}.",
                    hint="Name the kernel to remove; `shipyard kernel list` shows them.",
                )
        for name in names:
            removed = remove_kernel(directory, name, force=args.force)
            output.line(f"Removed Jupyter kernel {removed.name!r} ({removed.display_name})")
    return 0
