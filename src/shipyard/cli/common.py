"""What every command does around its use case: find the project, build settings
and services, print the summaries."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.cli.render import ConsoleReporter, Output
from shipyard.project.manifest import Project, find_project, load_project
from shipyard.project.services import Services
from shipyard.settings import load_settings

__all__ = [
    "add_accelerator_argument",
    "add_selection_arguments",
    "add_with_argument",
    "command_services",
    "hold_directory_lock",
    "locate_project",
    "print_lock",
    "print_sync",
    "run_edit",
    "selection_options",
]


#: Project locks this process holds until it exits (or execs the command of ``run``).
_HELD: list[Any] = []


def locate_project(args: argparse.Namespace) -> Project:
    """The project given with ``--project`` or found from the working directory, read
    once this process holds the project's lock.

    Commands on one project serialise: the second waits (and says so) until the first
    ends, then reads pyproject.toml as the first left it, so two ``add`` commands both
    land. The lock is a file in the cache (``project-locks-v1/``), never in the project; the
    operating system releases it when the process exits, is killed, or execs.
    """
    start = Path(getattr(args, "project", None) or ".")
    root = find_project(start)
    _hold_project_lock(args, root)
    return load_project(root)


def add_selection_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """Add the options that choose groups and extras of the lock (``--group``,
    ``--all-groups``, ``--no-default-groups``, ``--extra``, ``--all-extras``), with help
    text in ``verb`` (``"install"``, ``"show"``); :func:`selection_options` reads them."""
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="GROUP",
        help=f"also {verb} this dependency group (repeatable)",
    )
    parser.add_argument("--all-groups", action="store_true", help=f"{verb} every group")
    parser.add_argument(
        "--no-default-groups", action="store_true", help="leave out the default groups (dev)"
    )
    parser.add_argument(
        "--extra", action="append", default=[], metavar="EXTRA", help=f"{verb} this extra"
    )
    parser.add_argument("--all-extras", action="store_true", help=f"{verb} every extra")


def add_accelerator_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--accelerator`` (a lock's accelerator variant, instead of detection)."""
    parser.add_argument(
        "--accelerator",
        metavar="KIND",
        help="install this accelerator variant of the lock (cpu, cuda12.4, rocm6.2) "
        "instead of the one the machine's driver picks (SHIPYARD_ACCELERATOR)",
    )


def add_with_argument(parser: argparse.ArgumentParser, where: str) -> None:
    """Add ``--with PKG`` (repeatable, into ``args.with_requirements``); ``where`` ends
    its help text."""
    parser.add_argument(
        "--with",
        dest="with_requirements",
        action="append",
        default=[],
        metavar="PKG",
        help=f"also install PKG {where} (repeatable)",
    )


def selection_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :class:`~shipyard.project.syncing.Selection` that
    :func:`add_selection_arguments`' options give."""
    return {
        "groups": tuple(args.group),
        "all_groups": args.all_groups,
        "no_default_groups": args.no_default_groups,
        "extras": tuple(args.extra),
        "all_extras": args.all_extras,
    }


def hold_directory_lock(args: argparse.Namespace, root: Path) -> None:
    """Hold, until this process exits or execs, the lock that serialises commands on
    the project (or script or tool environment) at ``root``; waits, saying so, while
    another command holds it."""
    _hold_project_lock(args, root)


def _hold_project_lock(args: argparse.Namespace, root: Path) -> None:
    import hashlib
    import sys

    from filelock import FileLock, Timeout

    from shipyard.cache import Cache, default_cache_dir
    from shipyard.errors import CacheError

    settings = load_settings(project_table=None, cli=_cli_values(args))
    cache = Cache(
        Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir()
    )
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    try:
        folder = cache.bucket("project-locks")
    except CacheError:
        return  # no writable cache: nothing else will work either, and it will say so
    lock = FileLock(str(folder / f"{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not getattr(args, "quiet", False):
            sys.stderr.write(f"Waiting for another shipyard command on {root} to finish…\n")
            sys.stderr.flush()
        lock.acquire()
    _HELD.append(lock)
    # Holding the project lock, any temporary copy of the manifest or a lock beside them
    # is a leftover of a command that was killed mid-write: the real files are whole
    # (written by rename), so the leftover goes.
    for pattern in (".pyproject.toml.*.tmp", ".pylock*.toml.*.tmp"):
        for leftover in root.glob(pattern):
            try:
                leftover.unlink()
            except OSError:
                pass


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "cache_dir": getattr(args, "cache_dir", None),
        "index_url": getattr(args, "index_url", None),
        "extra_index_urls": getattr(args, "extra_index_url", None),
        "indexes": getattr(args, "index", None),
        "find_links": getattr(args, "find_links", None),
        "no_binary": getattr(args, "no_binary", None),
        "only_binary": getattr(args, "only_binary", None),
        "no_build": True if getattr(args, "no_build", None) else None,
        "no_build_package": getattr(args, "no_build_package", None),
        "offline": True if getattr(args, "offline", None) else None,
        "python_downloads": "never" if getattr(args, "no_python_downloads", None) else None,
        "color": getattr(args, "color", None),
        "link_mode": getattr(args, "link_mode", None),
    }


@contextmanager
def command_services(
    args: argparse.Namespace, project: Project | None
) -> Iterator[tuple[Services, Output]]:
    """Settings, services and output for one command; closes them afterwards."""
    cli = _cli_values(args)
    settings = load_settings(project_table=project.tool if project else None, cli=cli)
    output = Output(quiet=bool(getattr(args, "quiet", False)), color=settings.color)
    output.verbose = int(getattr(args, "verbose", 0) or 0)
    reporter = ConsoleReporter(output)
    services = Services(
        settings,
        reporter,
        cli_python=getattr(args, "python", None),
        cli_values=cli,
        credential_urls=_named_index_credentials(project),
    )
    try:
        yield services, output
    finally:
        reporter.close()
        services.close()


def _named_index_credentials(project: Project | None) -> list[str]:
    """The URLs of the project's named indexes for the HTTP client's per-host
    credentials: as written, or — when ``SHIPYARD_INDEX_<NAME>_USERNAME``/``_PASSWORD``
    are set — with those credentials put in (in memory only; nothing writes them)."""
    import urllib.parse

    from shipyard.settings import index_credentials

    entries = project.tool.get("index") if project else None
    urls = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        url = entry["url"]
        name = entry.get("name")
        found = index_credentials(name) if isinstance(name, str) else None
        if found is not None:
            parts = urllib.parse.urlsplit(url)
            user, password = (urllib.parse.quote(v, safe="") for v in found)
            host = parts.hostname or ""
            if parts.port is not None:
                host = f"{host}:{parts.port}"
            url = urllib.parse.urlunsplit(
                (parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, "")
            )
        urls.append(url)
    return urls


def packages(count: int, noun: str = "package") -> str:
    """``"1 package"``, ``"3 packages"``: a count with its noun in the right number."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def print_lock(output: Output, outcome: Any) -> None:
    """Summarize a :class:`~shipyard.project.locking.LockOutcome`."""
    if outcome is None:
        return
    if outcome.fresh:
        return
    resolution = outcome.resolution
    if resolution is not None:
        output.line(f"Resolved {packages(len(resolution.packages))} in {resolution.seconds:.2f}s")
    for name, old, new in outcome.changed:
        output.change("~", f"{name} {old} -> {new}")
    for text in outcome.added:
        output.change("+", text)
    for text in outcome.removed:
        output.change("-", text)


def print_sync(output: Output, outcome: Any) -> None:
    """Summarize a :class:`~shipyard.project.syncing.SyncOutcome`."""
    if outcome is None:
        return
    if outcome.lock is not None and outcome.lock.resolution is not None:
        resolution = outcome.lock.resolution
        output.line(f"Resolved {packages(len(resolution.packages))} in {resolution.seconds:.2f}s")
        if outcome.dry_run and outcome.lock.pending:
            output.line("Would write pylock.toml")
    plan = outcome.plan
    accelerator = getattr(outcome, "accelerator", None)
    if accelerator is not None and (outcome.dry_run or not plan.empty or output.verbose):
        key, reason = accelerator
        output.line(f"Accelerator variant {key}: {reason}")
    if outcome.python_download:
        output.line(f"Would download Python {outcome.python_download}")
    if outcome.env_created and outcome.env_root is not None:
        kind = "conda environment" if outcome.conda else "virtual environment"
        if outcome.env_rebuild_reason:
            verb = "Would rebuild" if outcome.dry_run else "Rebuilt"
            output.line(f"{verb} {kind} at {outcome.env_root}: {outcome.env_rebuild_reason}")
        else:
            verb = "Would create" if outcome.dry_run else "Created"
            output.line(f"{verb} {kind} at {outcome.env_root}")
    if outcome.conda_installed:
        verb = "Would install" if outcome.dry_run else "Installed"
        output.line(f"{verb} {packages(outcome.conda_installed, 'conda package')}")
    if plan.empty:
        output.line(f"Audited {packages(len(plan.unchanged))}")
        return
    prefix = "Would install" if outcome.dry_run else "Installed"
    added = plan.to_add()
    removed = plan.to_remove()
    if added and not outcome.dry_run:
        output.line(f"Prepared {packages(len(added))} in {outcome.prepare_seconds:.2f}s")
    if removed:
        verb = "Would uninstall" if outcome.dry_run else "Uninstalled"
        output.line(f"{verb} {packages(len(removed))}")
    if added:
        suffix = "" if outcome.dry_run else f" in {outcome.install_seconds:.2f}s"
        output.line(f"{prefix} {packages(len(added))}{suffix}")
    changes = sorted(
        [(d.name, "-", f"{d.name}=={d.version}{_label(plan.variant_of(d))}") for d in removed]
        + [
            (
                d.name,
                "+",
                f"{d.name}=={d.version}{_label(plan.variant_of(d))}"
                if d.version
                else f"{d.name} (editable)",
            )
            for d in added
        ]
    )
    for _name, sign, text in changes:
        output.change(sign, text)


def _label(variant: str | None) -> str:
    """`` (variant cu126)`` after a wheel variant's pin, nothing for other packages."""
    return f" (variant {variant})" if variant else ""


def run_edit(args: argparse.Namespace, use_case: Any, items: list[str]) -> int:
    """Run ``add`` or ``remove``: the use case edits, locks and (unless ``--no-sync``) syncs;
    then print what changed."""
    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = use_case(
            project,
            services,
            items,
            group=args.group,
            optional=args.optional,
            no_sync=args.no_sync,
            conda=getattr(args, "conda", False),
            conda_platform=getattr(args, "conda_platform", None),
        )
        print_edit(output, outcome)
    return 0


def print_edit(output: Output, edit: Any) -> None:
    """Summarize an :class:`~shipyard.project.editing.EditOutcome`: the sync when there
    was one (with the lock's changes), else the lock."""
    if edit.sync is not None:
        edit.sync.lock = edit.lock
        print_sync(output, edit.sync)
    else:
        print_lock(output, edit.lock)
