"""``shipyard sync``: make .venv match the lock."""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run", "try_noop"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``sync``'s arguments."""
    from shipyard.cli.common import add_selection_arguments

    add_selection_arguments(parser, "install")
    from shipyard.cli.common import add_accelerator_argument

    add_accelerator_argument(parser)
    parser.add_argument(
        "--frozen", action="store_true", help="install exactly pylock.toml; never resolve"
    )
    parser.add_argument(
        "--inexact", action="store_true", help="keep packages the lock does not select"
    )
    parser.add_argument(
        "--no-install-project",
        action="store_true",
        help="install the dependencies only, not the project itself",
    )
    parser.add_argument(
        "--no-install-local",
        action="store_true",
        help="leave out every local directory: the project, path sources, workspace members",
    )
    parser.add_argument(
        "--no-editable",
        action="store_true",
        help="install the project (and other directory packages) as ordinary wheels",
    )
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME",
        help="only this workspace member and what it requires (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    parser.add_argument(
        "--link-mode",
        choices=("hardlink", "copy", "symlink", "clone"),
        help="how files get from the cache into .venv (default hardlink)",
    )
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")
    parser.add_argument(
        "--remote-cache-push",
        action="store_true",
        default=None,
        help="push wheels built here to the remote cache (remote-cache-push)",
    )


def selection_from(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The :class:`Selection` the arguments ask for."""
    from shipyard.cli.common import selection_options
    from shipyard.project.syncing import Selection

    return Selection(
        **selection_options(args),
        exact=not args.inexact,
        install_project=not getattr(args, "no_install_project", False),
        install_local=not getattr(args, "no_install_local", False),
        editable=not getattr(args, "no_editable", False),
        packages=tuple(getattr(args, "package", ())),
    )


def _default_selection_key() -> dict[str, object]:
    # Must equal Selection().key() — kept literal so the no-op path imports nothing.
    return {
        "groups": [],
        "all_groups": False,
        "no_default_groups": False,
        "extras": [],
        "all_extras": False,
        "exact": True,
        "install_project": True,
        "install_local": True,
        "editable": True,
        "packages": [],
    }


def try_noop(*, quiet: bool) -> int | None:
    """Finish a plain ``sync`` at once when the environment stamp proves nothing changed.

    :returns: 0 when it did, ``None`` to go the normal way.
    """
    import os
    from pathlib import Path

    from shipyard.project.stamp import read_fresh_stamp

    directory = Path(os.getcwd())
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            break
    else:
        return None
    stamp = read_fresh_stamp(candidate, candidate / ".venv", _default_selection_key())
    if stamp is None:
        return None
    if not quiet:
        count = stamp.get("packages", 0)
        sys.stderr.write(f"Audited {count} package{'' if count == 1 else 's'}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Sync; prints the plan and the summary."""
    from shipyard.cli.common import command_services, locate_project, print_sync
    from shipyard.project.syncing import sync_project

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        if getattr(args, "remote_cache_push", None):
            services.settings.remote_cache_push = True
        outcome = sync_project(
            project,
            services,
            selection_from(args),
            frozen=args.frozen,
            dry_run=args.dry_run,
            link_mode=args.link_mode,
            accelerator=args.accelerator,
        )
        print_sync(output, outcome)
        if not args.dry_run and not output.quiet:
            from shipyard.project.kernels import kernel_hint_due

            if kernel_hint_due(services.cache, project.root, outcome.env_root):
                output.line("To use this environment in Jupyter: shipyard kernel install")
    return 0
