"""``shipyard python list|find|install|uninstall|pin``: the interpreters on this machine,
the ones shipyard can download, and the project's.

``list`` is on the fast path (``shipyard python list`` does not build the full parser):
with the probe cache filled it reads one small file per interpreter and runs none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.models import Interpreter

__all__ = ["configure", "interpreter_key", "run", "run_find", "run_list"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``python list``, ``find``, ``install``, ``uninstall`` and ``pin``."""
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="python_command", metavar="COMMAND")
    listing = commands.add_parser(
        "list",
        help="Every Python interpreter on this machine.",
        description="Every Python 3.8+ interpreter found on PATH, in shipyard's, pyenv's, "
        "uv's, mise's and asdf's version directories, and in conda environments.",
    )
    _global_options(listing, suppress=True)
    add_list_arguments(listing)
    find = commands.add_parser(
        "find",
        help="Print the interpreter that best fits a request.",
        description="Print the path of the interpreter a request (3.12, '>=3.10,<3.12', "
        "pypy3.10, 3.13t, a path) picks; without one, the project's.",
    )
    _global_options(find, suppress=True)
    find.add_argument("request", nargs="?", metavar="SPEC")
    install = commands.add_parser(
        "install",
        help="Download and install managed CPython builds.",
        description="Install python-build-standalone CPython builds into shipyard's "
        "directory (sha256 checked, all or nothing). Without SPEC: the version "
        ".python-version asks for.",
    )
    _global_options(install, suppress=True)
    install.add_argument("requests", nargs="*", metavar="SPEC")
    install.add_argument(
        "--from",
        dest="archive",
        metavar="FILE",
        help="install this install_only archive instead of downloading one",
    )
    install.add_argument(
        "--mirror", metavar="URL", help="download from here (see SHIPYARD_PYTHON_MIRROR)"
    )
    uninstall = commands.add_parser(
        "uninstall",
        help="Remove managed CPython builds.",
        description="Remove the shipyard-managed interpreters that fit each SPEC.",
    )
    _global_options(uninstall, suppress=True)
    uninstall.add_argument("requests", nargs="+", metavar="SPEC")
    pin = commands.add_parser(
        "pin",
        help="Pin the project's interpreter in .python-version.",
        description="Write .python-version (beside pyproject.toml, else here); sync, run and "
        "lock then use it, and rebuild .venv when it changes. Without SPEC, show the pin.",
    )
    _global_options(pin, suppress=True)
    pin.add_argument("request", nargs="?", metavar="SPEC")
    pin.add_argument(
        "--resolved",
        action="store_true",
        help="write the full version of the interpreter found (3.12.1), not SPEC",
    )


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """``python list``'s own options (shared with the fast path)."""
    parser.add_argument("--json", action="store_true", help="one JSON object per interpreter")
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--only-installed", action="store_true", help="only interpreters on this machine"
    )
    only.add_argument(
        "--only-downloads", action="store_true", help="only versions shipyard can download"
    )
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="every downloadable patch release, not only the newest of each minor",
    )


def interpreter_key(interpreter: Interpreter) -> str:
    """``cpython-3.12.1-linux-x86_64`` (``+freethreaded`` after the version when so)."""
    version = interpreter.version + ("+freethreaded" if interpreter.gil_disabled else "")
    system = interpreter.markers.get("sys_platform", "")
    machine = interpreter.markers.get("platform_machine", "")
    return f"{interpreter.implementation}-{version}-{system}-{machine}"


def _sort_key(item: tuple[Interpreter, str]) -> tuple[Any, ...]:
    interpreter = item[0]
    return (interpreter.implementation != "cpython", tuple(-n for n in interpreter.version_tuple))


def run_list(args: argparse.Namespace) -> int:
    """Print the interpreters found, newest first (CPython before the others)."""
    from shipyard.python.discovery import list_interpreters

    cache_dir = _cache_dir(args)
    skipped: list[str] = []
    rows: list[dict[str, Any]] = []
    if not getattr(args, "only_downloads", False):
        found = sorted(list_interpreters(cache_dir, skipped=skipped), key=_sort_key)
        rows = [
            {
                "key": interpreter_key(i),
                "version": i.version,
                "implementation": i.implementation,
                "platform": i.markers.get("sys_platform", ""),
                "arch": i.markers.get("platform_machine", ""),
                "free_threaded": i.gil_disabled,
                "path": str(i.executable),
                "source": source,
            }
            for i, source in found
        ]
    if not getattr(args, "only_installed", False):
        rows += _download_rows(rows, all_versions=getattr(args, "all_versions", False))
    out = sys.stdout
    if getattr(args, "json", False):
        out.write(json.dumps(rows, indent=2) + "\n")
    else:
        width = max((len(row["key"]) for row in rows), default=0)
        path_width = max((len(row["path"] or "<download available>") for row in rows), default=0)
        for row in rows:
            where = row["path"] or "<download available>"
            out.write(f"{row['key']:<{width}}  {where:<{path_width}}  {row['source']}\n")
    if getattr(args, "verbose", 0):
        for reason in skipped:
            sys.stderr.write(f"skipped: {reason}\n")
    return 0


def _download_rows(installed: list[dict[str, Any]], *, all_versions: bool) -> list[dict[str, Any]]:
    """Downloadable builds for this machine not installed already: the newest patch of
    each minor (both threading models), or every patch with ``all_versions``."""
    from shipyard.python.downloads import available_downloads

    have = {(row["version"], row["free_threaded"]) for row in installed}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, bool]] = set()
    for download in available_downloads():
        minor = (".".join(download.version.split(".")[:2]), download.free_threaded)
        if not all_versions and minor in seen:
            continue
        seen.add(minor)
        if (download.version, download.free_threaded) in have:
            continue
        rows.append(
            {
                "key": download.key,
                "version": download.version,
                "implementation": "cpython",
                "platform": download.platform,
                "arch": download.arch,
                "free_threaded": download.free_threaded,
                "path": None,
                "source": "download",
                "url": download.url,
            }
        )
    return rows


def _run_install(args: argparse.Namespace) -> int:
    from shipyard.cli.common import command_services
    from shipyard.errors import UsageError
    from shipyard.project.remote_blobs import remote_blob_cache
    from shipyard.python.discovery import managed_python_dir, parse_python_request, read_python_pin
    from shipyard.python.downloads import download_and_install, find_download, install_archive

    with command_services(args, None) as (services, output):
        install_dir = managed_python_dir()
        if args.archive:
            if args.requests:
                raise UsageError(
                    "--from installs one archive; it cannot be combined with SPEC.",
                    hint="Run one command per archive.",
                )
            path = install_archive(Path(args.archive), install_dir=install_dir)
            output.line(f"Installed {Path(args.archive).name} at {path}")
            return 0
        requests = list(args.requests)
        if not requests:
            pinned = read_python_pin(Path.cwd())
            if pinned is None:
                raise UsageError(
                    "Which Python? Give a version (`shipyard python install 3.12`), or pin "
                    "one in .python-version first.",
                    hint="`shipyard python list --only-downloads` shows what there is.",
                )
            requests = [pinned[0]]
        mirror = args.mirror or services.settings.python_mirror
        for text in requests:
            download = find_download(parse_python_request(text))
            already = (install_dir / download.key).exists()
            path = download_and_install(
                download,
                client=services.client,
                install_dir=install_dir,
                mirror=mirror,
                reporter=services.reporter,
                remote=remote_blob_cache(services, "interpreters"),
            )
            verb = "Already installed" if already else "Installed"
            output.line(f"{verb} Python {download.version} ({download.key}) at {path}")
    return 0


def _run_uninstall(args: argparse.Namespace) -> int:
    import re

    from shipyard.cli.common import command_services
    from shipyard.errors import InterpreterNotFoundError
    from shipyard.python.discovery import managed_python_dir, parse_python_request
    from shipyard.python.downloads import installed_managed, uninstall_managed

    with command_services(args, None) as (_services, output):
        managed = installed_managed(managed_python_dir())
        for text in args.requests:
            request = parse_python_request(text)
            matched = []
            for directory in managed:
                found = re.match(r"cpython-([0-9][^-+]*)(\+freethreaded)?-", directory.name)
                if found and request.satisfied_by_version(
                    found.group(1), free_threaded=bool(found.group(2))
                ):
                    matched.append(directory)
            if not matched:
                names = ", ".join(d.name for d in managed) or "none"
                raise InterpreterNotFoundError(
                    f"No shipyard-managed interpreter fits {request.describe()} "
                    f"(installed: {names}).",
                    hint="Interpreters from pyenv, uv or conda are theirs to remove.",
                )
            for directory in matched:
                uninstall_managed(directory)
                managed.remove(directory)
                output.line(f"Uninstalled {directory.name}")
    return 0


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """The probe cache's root, as the settings would give it (without loading them)."""
    from shipyard.settings import from_environment

    configured = getattr(args, "cache_dir", None) or from_environment("cache_dir")
    if configured:
        return Path(configured).expanduser()
    from shipyard.cache import default_cache_dir

    return default_cache_dir()


def _project_root(args: argparse.Namespace) -> Path | None:
    from shipyard.errors import ManifestError
    from shipyard.project.manifest import find_project

    try:
        return find_project(Path(getattr(args, "project", None) or "."))
    except ManifestError:
        return None


def run_find(args: argparse.Namespace) -> int:
    """Print the interpreter the request (else the project's settings) picks."""
    from shipyard.python.discovery import find_interpreter, parse_python_request

    if args.request:
        interpreter = find_interpreter(
            parse_python_request(args.request), requires_python=None, cache_dir=_cache_dir(args)
        )
        sys.stdout.write(f"{interpreter.executable}\n")
        return 0
    from shipyard.cli.common import command_services
    from shipyard.project.environment import find_project_interpreter
    from shipyard.project.manifest import load_project

    root = _project_root(args)
    project = load_project(root) if root is not None else None
    with command_services(args, project) as (services, _output):
        if project is not None:
            interpreter = find_project_interpreter(project, services)
        else:
            interpreter = find_interpreter(
                parse_python_request(None), requires_python=None, cache_dir=services.cache.root
            )
    sys.stdout.write(f"{interpreter.executable}\n")
    return 0


def _run_pin(args: argparse.Namespace) -> int:
    from shipyard.atomic import atomic_write_text
    from shipyard.cli.render import Output
    from shipyard.errors import InterpreterNotFoundError, ManifestError, UsageError
    from shipyard.project.manifest import load_project
    from shipyard.python.discovery import find_interpreter, parse_python_request

    root = _project_root(args)
    directory = root if root is not None else Path.cwd()
    pin_file = directory / ".python-version"
    output = Output(quiet=bool(getattr(args, "quiet", False)), color="auto")
    if not args.request:
        if not pin_file.is_file():
            raise UsageError(
                f"There is no .python-version in {directory}.",
                hint="Pin one with `shipyard python pin 3.12`.",
            )
        sys.stdout.write(pin_file.read_text(encoding="utf-8").strip() + "\n")
        return 0
    request = parse_python_request(args.request)
    requires_python = None
    if root is not None:
        try:
            requires_python = load_project(root).requires_python
        except ManifestError:
            requires_python = None
    text = args.request.strip()
    try:
        interpreter = find_interpreter(request, requires_python=None, cache_dir=_cache_dir(args))
    except InterpreterNotFoundError:
        if args.resolved:
            raise
        interpreter = None
        output.warning(
            f"No interpreter on this machine fits {request.describe()} yet; `sync` will "
            "download one (unless python-downloads is `manual` or `never`)."
        )
    if interpreter is not None:
        full = interpreter.markers.get("python_full_version", interpreter.version)
        if requires_python is not None and not requires_python.contains(full, prereleases=True):
            raise UsageError(
                f"{args.request} picks Python {full}, which the project's requires-python "
                f"{requires_python} does not allow.",
                context=str(directory / "pyproject.toml"),
                hint="Pin a version requires-python allows, or change requires-python.",
            )
        if args.resolved:
            text = str(interpreter.executable) if request.path is not None else full
    atomic_write_text(pin_file, text + "\n")
    output.line(f"Pinned {pin_file} to {text}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``python list``, ``find``, ``install``, ``uninstall`` or ``pin``."""
    from shipyard.errors import UsageError

    command = getattr(args, "python_command", None)
    if command == "list":
        return run_list(args)
    if command == "find":
        return run_find(args)
    if command == "pin":
        return _run_pin(args)
    if command == "install":
        return _run_install(args)
    if command == "uninstall":
        return _run_uninstall(args)
    raise UsageError(
        "shipyard python needs a command: list, find, install, uninstall or pin.",
        hint="For example `shipyard python list`.",
    )
