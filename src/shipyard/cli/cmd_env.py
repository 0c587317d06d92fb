"""``shipyard env create|list|remove|export``: named environments, usable from any
directory with ``run --env NAME`` (and ``shell --env NAME``).

Each is a project kept in the named-environment directory (``SHIPYARD_ENV_DIR``); see
:mod:`shipyard.project.named_envs`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project.manifest import Project

__all__ = ["configure", "named_env_project", "run"]

# the names only: importing the exporter here would slow every command's start-up
_FORMATS = ("requirements-txt", "constraints", "pylock", "environment-yml", "conda-explicit")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``env create``, ``list``, ``remove`` and ``export``."""
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="env_command", metavar="COMMAND")
    create = commands.add_parser(
        "create",
        help="Create a named environment, locked and synced.",
        description="Create a named environment: a project (pyproject.toml, pylock.toml, "
        ".venv) kept in the environment directory (SHIPYARD_ENV_DIR), usable from any "
        "directory with `run --env NAME` and `shell --env NAME`. With --file, an "
        "environment.yml (or requirements file, Pipfile …) is imported; NAME then "
        "defaults to the environment.yml's name.",
    )
    _global_options(create, suppress=True)
    create.add_argument("name", nargs="?", metavar="NAME")
    create.add_argument(
        "requirements", nargs="*", metavar="REQ", help="PyPI requirements (PEP 508)"
    )
    create.add_argument(
        "--conda",
        dest="conda_specs",
        action="extend",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="conda packages (MatchSpecs), locked for this machine's platform; put PyPI "
        "requirements before --conda",
    )
    create.add_argument(
        "-c",
        "--channel",
        dest="channels",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="conda channel for --conda packages (repeatable; default conda-forge)",
    )
    create.add_argument("--python", help="interpreter (version, range or path), pinned")
    create.add_argument(
        "-f",
        "--file",
        metavar="FILE",
        help="import this environment.yml, requirements file, Pipfile or pyproject.toml",
    )
    create.add_argument(
        "--force", action="store_true", help="replace an environment of the same name"
    )
    listing = commands.add_parser(
        "list",
        help="List the named environments.",
        description="Each named environment with its Python, package count and path.",
    )
    _global_options(listing, suppress=True)
    listing.add_argument("--json", action="store_true", help="a JSON array of objects")
    remove = commands.add_parser(
        "remove",
        help="Delete named environments.",
        description="Delete named environments: their manifest, lock and environment.",
    )
    _global_options(remove, suppress=True)
    remove.add_argument("names", nargs="+", metavar="NAME")
    export = commands.add_parser(
        "export",
        help="Write a named environment's lock in another format.",
        description="Write the named environment's lock as requirements.txt, pylock, "
        "environment.yml, constraints or a conda explicit list (as `shipyard export`).",
    )
    _global_options(export, suppress=True)
    export.add_argument("name", metavar="NAME")
    export.add_argument(
        "--format",
        dest="format",
        choices=_FORMATS,
        default="requirements-txt",
        help="default requirements-txt",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    export.add_argument(
        "--platform", metavar="SUBDIR", help="conda platform, e.g. linux-64 (default: this one)"
    )
    export.add_argument("--no-hashes", action="store_true", help="requirements-txt without --hash")
    export.add_argument(
        "--frozen", action="store_true", help="export pylock.toml as it is; never re-lock"
    )


def named_env_project(name: str, args: argparse.Namespace) -> Project:
    """The project of the named environment ``name``, read once this process holds its
    lock (as :func:`~shipyard.cli.common.locate_project` does for the project here):
    what ``run --env NAME`` and ``shell --env NAME`` sync and run in. Its environment is
    ``project.root / ".venv"``.

    :raises UsageError: for an invalid name.
    :raises NamedEnvError: when there is no environment of that name (with the closest).
    """
    from shipyard.cli.common import hold_directory_lock
    from shipyard.project.manifest import load_project
    from shipyard.project.named_envs import find_named_env
    from shipyard.settings import load_settings

    env = find_named_env(name, load_settings(project_table=None, cli={}))
    hold_directory_lock(args, env.root)
    return load_project(env.root)


def _run_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.cli.common import command_services, hold_directory_lock, packages, print_edit
    from shipyard.errors import UsageError
    from shipyard.project.named_envs import (
        check_env_name,
        create_named_env,
        env_name_from_file,
        named_envs_dir,
    )

    file = Path(args.file) if args.file else None
    name = args.name
    if name is None and file is not None:
        name = env_name_from_file(file)
    if name is None:
        raise UsageError(
            "Which name? `env create` needs NAME"
            + (f" ({file} has no `name:`)." if file is not None else "."),
            hint="For example `shipyard env create sci numpy pandas`.",
        )
    check_env_name(name)
    with command_services(args, None) as (services, output):
        hold_directory_lock(args, named_envs_dir(services.settings) / name)
        created = create_named_env(
            name,
            args.requirements,
            args.conda_specs,
            args.python,
            file,
            services,
            channels=args.channels,
            force=args.force,
            index_url=getattr(args, "index_url", None),
            extra_index_urls=getattr(args, "extra_index_url", None) or (),
            find_links=getattr(args, "find_links", None) or (),
        )
        if created.imported is not None:
            for problem in created.imported.problems:
                services.reporter.warning(problem)
        print_edit(output, created.edit)
        env = created.env
        facts = [f"Python {env.python}"] if env.python else []
        if env.packages is not None:
            facts.append(packages(env.packages))
        detail = f" ({', '.join(facts)})" if facts else ""
        output.line(f"Created named environment {name} at {env.root}{detail}")
        output.line(f"Use it from any directory: shipyard run --env {name} python")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    import json

    from shipyard.project.named_envs import list_named_envs, named_envs_dir
    from shipyard.settings import load_settings

    settings = load_settings(project_table=None, cli={})
    envs = list_named_envs(settings)
    if getattr(args, "json", False):
        rows = [
            {"name": e.name, "python": e.python, "packages": e.packages, "path": str(e.root)}
            for e in envs
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not envs:
        if not getattr(args, "quiet", False):
            sys.stderr.write(
                f"No named environments in {named_envs_dir(settings)}; create one with "
                "`shipyard env create NAME PKG…`.\n"
            )
        return 0
    table = [
        (e.name, e.python or "-", "-" if e.packages is None else str(e.packages), str(e.root))
        for e in envs
    ]
    header = ("NAME", "PYTHON", "PACKAGES", "PATH")
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(3)]
    for row in [header, *table]:
        sys.stdout.write(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}\n"
        )
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    from shipyard.cli.common import command_services, hold_directory_lock
    from shipyard.project.named_envs import find_named_env, remove_named_env

    with command_services(args, None) as (services, output):
        envs = [find_named_env(name, services.settings) for name in args.names]
        for env in envs:
            hold_directory_lock(args, env.root)
            removed = remove_named_env(env.name, services.settings)
            output.line(f"Removed named environment {removed.name} ({removed.root})")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.atomic import atomic_write_text
    from shipyard.cli.common import command_services
    from shipyard.project.exporting import export_lock

    project = named_env_project(args.name, args)
    command = f"shipyard env export {args.name} --format {args.format}"
    if args.output:
        command += f" -o {args.output}"
    with command_services(args, project) as (services, output):
        outcome = export_lock(
            project,
            services,
            args.format,
            platform=args.platform,
            frozen=args.frozen,
            hashes=not args.no_hashes,
            output_name=Path(args.output).name if args.output else None,
            command=command,
        )
        if args.output:
            atomic_write_text(Path(args.output), outcome.text)
            output.line(f"Wrote {args.format} for {outcome.platform} to {args.output}")
        else:
            sys.stdout.write(outcome.text)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``env create``, ``list``, ``remove`` or ``export``."""
    from shipyard.errors import UsageError

    command = getattr(args, "env_command", None)
    if command == "create":
        return _run_create(args)
    if command == "list":
        return _run_list(args)
    if command == "remove":
        return _run_remove(args)
    if command == "export":
        return _run_export(args)
    raise UsageError(
        "shipyard env needs a command: create, list, remove or export.",
        hint="For example `shipyard env create sci numpy pandas`, then "
        "`shipyard run --env sci python`.",
    )
