"""``shipyard tool``: run, install, list, upgrade and uninstall command-line tools.

``shipyard x NAME`` is ``shipyard tool run NAME`` (as ``uvx`` is ``uv tool run``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.cli.render import Output
    from shipyard.project.ephemeral import EphemeralSpec
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = ["add_run_arguments", "configure", "run", "run_tool"]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tool run`` and ``x``."""
    from shipyard.cli.common import add_with_argument

    parser.add_argument(
        "--from",
        dest="from_package",
        metavar="PKG",
        help="the package that provides the command (NAME, NAME@VERSION, a requirement)",
    )
    add_with_argument(parser, "into the tool's environment")
    parser.add_argument("--python", help="interpreter for the tool (version, range or path)")
    parser.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="NAME[@VERSION] [ARGS...]",
        help="the tool to run and its arguments",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``tool run``, ``install``, ``list``, ``upgrade``, ``uninstall`` and ``dir``."""
    from shipyard.cli.common import add_with_argument
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="tool_command", metavar="COMMAND")
    run_parser = commands.add_parser(
        "run",
        help="Run a tool in an isolated, cached environment (alias: shipyard x).",
        description="Run NAME's command in an environment of its own, kept in the cache: "
        "the next run of the same tool starts at once. NAME@latest resolves again.",
    )
    _global_options(run_parser, suppress=True)
    add_run_arguments(run_parser)
    install = commands.add_parser(
        "install",
        help="Install a tool's commands into ~/.local/bin (SHIPYARD_TOOL_BIN_DIR).",
        description="Install a package into an environment of its own and link its "
        "console scripts into the tool bin directory.",
    )
    _global_options(install, suppress=True)
    install.add_argument("package", metavar="NAME[@VERSION]")
    add_with_argument(install, "into the tool's environment")
    install.add_argument("--python", help="interpreter for the tool (version, range or path)")
    install.add_argument(
        "--force", action="store_true", help="replace commands of the same name in the bin dir"
    )
    listing = commands.add_parser("list", help="List installed tools and their commands.")
    _global_options(listing, suppress=True)
    listing.add_argument("--paths", action="store_true", help="show where each tool lives")
    upgrade = commands.add_parser(
        "upgrade", help="Upgrade installed tools to the newest versions their requirement allows."
    )
    _global_options(upgrade, suppress=True)
    upgrade.add_argument("names", nargs="*", metavar="NAME")
    upgrade.add_argument("--all", action="store_true", help="upgrade every installed tool")
    uninstall = commands.add_parser("uninstall", help="Remove installed tools and their commands.")
    _global_options(uninstall, suppress=True)
    uninstall.add_argument("names", nargs="+", metavar="NAME")
    directory = commands.add_parser("dir", help="Print the tool directory.")
    _global_options(directory, suppress=True)
    directory.add_argument("--bin", action="store_true", help="print the bin directory instead")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the ``tool`` subcommand."""
    from shipyard.errors import UsageError

    command = getattr(args, "tool_command", None)
    handlers = {
        "run": run_tool,
        "install": _install,
        "list": _list,
        "upgrade": _upgrade,
        "uninstall": _uninstall,
        "dir": _dir,
    }
    if command not in handlers:
        raise UsageError(
            "shipyard tool needs a command: run, install, list, upgrade, uninstall or dir.",
            hint="For example `shipyard tool install black` or `shipyard x ruff --version`.",
        )
    return handlers[command](args)


def _sync_tool(
    root: Path,
    spec: EphemeralSpec,
    services: Services,
    output: Output,
    *,
    upgrade: bool,
    quiet_when_unchanged: bool = True,
) -> Project:
    """Write, lock (resolving again with ``upgrade``) and sync the tool's project."""
    from shipyard.cli.common import print_lock, print_sync
    from shipyard.project.ephemeral import prepare_ephemeral_project
    from shipyard.project.syncing import Selection, sync_project

    project = prepare_ephemeral_project(root, spec, services)
    if upgrade:
        from shipyard.project.locking import lock_project

        print_lock(output, lock_project(project, services, upgrade=True))
    outcome = sync_project(project, services, Selection())
    if not quiet_when_unchanged or not outcome.plan.empty or outcome.lock is not None:
        print_sync(output, outcome)
    return project


def run_tool(args: argparse.Namespace) -> int:
    """``tool run`` / ``x``: make (or reuse) the tool's environment, exec its command."""
    from shipyard.cli.cmd_run import exec_in_environment
    from shipyard.cli.common import command_services, hold_directory_lock
    from shipyard.errors import UsageError
    from shipyard.project.ephemeral import ephemeral_key, spec_digest
    from shipyard.project.tools import ToolError, console_scripts, parse_tool_request, tool_spec

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError(
            "No tool given.", hint="Example: shipyard x ruff --version, or shipyard x black@24.8 ."
        )
    request = parse_tool_request(args.from_package or command[0])
    program = command[0] if args.from_package else request.requirement.name
    spec = tool_spec(request, args.with_requirements)
    with command_services(args, None) as (services, output):
        root = services.cache.bucket("tools") / ephemeral_key(
            spec_digest(spec), services.cli_python or ""
        )
        hold_directory_lock(args, root)
        _sync_tool(root, spec, services, output, upgrade=request.latest)
    env_root = root / ".venv"
    if not (_scripts_dir(env_root) / program).exists():
        provided = sorted(console_scripts(env_root, request.name))
        raise ToolError(
            f"{request.requirement.name} provides no command {program!r}"
            + (f" (it provides: {', '.join(provided)})." if provided else "."),
            hint=(
                f"Run `shipyard x --from {request.requirement.name} {provided[0]}`."
                if provided
                else "Name the package that provides it with --from PKG."
            ),
        )
    return exec_in_environment(env_root, [program, *command[1:]], path_fallback=False)


def _scripts_dir(env_root: Path) -> Path:
    from shipyard.project.tools import env_scripts_dir

    return env_scripts_dir(env_root)


def _install(args: argparse.Namespace) -> int:
    """``tool install``: an environment in the tool directory, commands linked."""
    from shipyard.cli.common import command_services, hold_directory_lock
    from shipyard.project.tools import (
        ToolError,
        ToolReceipt,
        console_scripts,
        installed_version,
        link_commands,
        on_path,
        parse_tool_request,
        read_receipt,
        tool_bin_dir,
        tool_dir,
        tool_spec,
        unlink_commands,
    )

    request = parse_tool_request(args.package)
    spec = tool_spec(request, args.with_requirements)
    with command_services(args, None) as (services, output):
        tools_root = tool_dir(services.settings)
        bin_dir = tool_bin_dir(services.settings)
        root = tools_root / request.name
        hold_directory_lock(args, root)
        previous = read_receipt(root)
        fresh = not root.exists()
        try:
            _sync_tool(
                root,
                spec,
                services,
                output,
                upgrade=request.latest,
                quiet_when_unchanged=False,
            )
            env_root = root / ".venv"
            commands = sorted(console_scripts(env_root, request.name))
            if not commands:
                raise ToolError(
                    f"{request.requirement.name} provides no commands (no console_scripts "
                    "entry points), so there is nothing to install as a tool.",
                    hint="Add it to a project with `shipyard add`, or run a module with "
                    f"`shipyard x --from {request.requirement.name} python -m MODULE`.",
                )
            link_commands(env_root, commands, bin_dir, tools_root, force=args.force)
        except BaseException:
            if fresh:
                shutil.rmtree(root, ignore_errors=True)
            raise
        if previous is not None:
            unlink_commands(
                [c for c in previous.commands if c not in commands], bin_dir, tools_root
            )
        version = installed_version(env_root, request.name)
        ToolReceipt(
            name=request.name,
            requirement=str(request.requirement),
            with_requirements=tuple(args.with_requirements),
            python=args.python,
            commands=tuple(commands),
            version=version,
        ).write(root)
        output.line(
            f"Installed {request.requirement.name} {version} with "
            f"{'command' if len(commands) == 1 else 'commands'}: {', '.join(commands)}"
        )
        if not on_path(bin_dir):
            output.warning(
                f"{bin_dir} is not on PATH: add it to run the commands from any shell "
                f"(for bash: echo 'export PATH=\"{bin_dir}:$PATH\"' >> ~/.bashrc)."
            )
    return 0


def _installed(tools_root: Path) -> list[tuple[Path, Any]]:
    from shipyard.project.tools import read_receipt

    found = []
    if tools_root.is_dir():
        for directory in sorted(tools_root.iterdir()):
            receipt = read_receipt(directory)
            if receipt is not None:
                found.append((directory, receipt))
    return found


def _list(args: argparse.Namespace) -> int:
    """``tool list``: each installed tool, its version and commands (on stdout)."""
    from shipyard.cli.common import command_services
    from shipyard.project.tools import tool_bin_dir, tool_dir

    with command_services(args, None) as (services, output):
        tools = _installed(tool_dir(services.settings))
        bin_dir = tool_bin_dir(services.settings)
        if not tools:
            output.line("No tools installed. Install one with `shipyard tool install NAME`.")
            return 0
        for directory, receipt in tools:
            where = f" ({directory})" if args.paths else ""
            sys.stdout.write(f"{receipt.name} {receipt.version}{where}\n")
            for command in receipt.commands:
                link = f" ({bin_dir / command})" if args.paths else ""
                sys.stdout.write(f"- {command}{link}\n")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    """``tool upgrade NAME…`` / ``--all``: resolve again, sync, link the commands."""
    from shipyard.cli.common import command_services, hold_directory_lock
    from shipyard.errors import UsageError
    from shipyard.project.tools import (
        ToolReceipt,
        console_scripts,
        installed_version,
        link_commands,
        parse_tool_request,
        tool_bin_dir,
        tool_dir,
        tool_spec,
        unlink_commands,
    )

    if not args.names and not args.all:
        raise UsageError("Name the tools to upgrade, or pass --all.")
    with command_services(args, None) as (services, output):
        tools_root = tool_dir(services.settings)
        bin_dir = tool_bin_dir(services.settings)
        installed = {receipt.name: (d, receipt) for d, receipt in _installed(tools_root)}
        names = sorted(installed) if args.all else [_canonical(n) for n in args.names]
        for name in names:
            if name not in installed:
                raise _not_installed(name, installed)
        for name in names:
            root, receipt = installed[name]
            hold_directory_lock(args, root)
            request = parse_tool_request(receipt.requirement)
            spec = tool_spec(request, receipt.with_requirements)
            _sync_tool(root, spec, services, output, upgrade=True)
            env_root = root / ".venv"
            commands = sorted(console_scripts(env_root, name))
            link_commands(env_root, commands, bin_dir, tools_root, force=False)
            unlink_commands([c for c in receipt.commands if c not in commands], bin_dir, tools_root)
            version = installed_version(env_root, name)
            ToolReceipt(
                name=name,
                requirement=receipt.requirement,
                with_requirements=receipt.with_requirements,
                python=receipt.python,
                commands=tuple(commands),
                version=version,
            ).write(root)
            if version != receipt.version:
                output.line(f"Upgraded {name} {receipt.version} -> {version}")
            else:
                output.line(f"{name} {version} is the newest its requirement allows")
    return 0


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name.partition("@")[0])


def _not_installed(name: str, installed: dict[str, Any]) -> Exception:
    import difflib

    from shipyard.project.tools import ToolError

    close = difflib.get_close_matches(name, sorted(installed), n=1, cutoff=0.7)
    listing = ", ".join(sorted(installed)) or "none"
    return ToolError(
        f"The tool {name} is not installed (installed: {listing}).",
        hint=f"Did you mean {close[0]!r}?"
        if close
        else "Install it with `shipyard tool install NAME`.",
    )


def _uninstall(args: argparse.Namespace) -> int:
    """``tool uninstall NAME…``: remove the commands' links and the environment."""
    from shipyard.cli.common import command_services, hold_directory_lock
    from shipyard.project.tools import tool_bin_dir, tool_dir, unlink_commands

    with command_services(args, None) as (services, output):
        tools_root = tool_dir(services.settings)
        bin_dir = tool_bin_dir(services.settings)
        installed = {receipt.name: (d, receipt) for d, receipt in _installed(tools_root)}
        names = [_canonical(n) for n in args.names]
        for name in names:
            if name not in installed:
                raise _not_installed(name, installed)
        for name in names:
            root, receipt = installed[name]
            hold_directory_lock(args, root)
            removed = unlink_commands(receipt.commands, bin_dir, tools_root)
            shutil.rmtree(root)
            commands = ", ".join(p.name for p in removed) or "none"
            output.line(f"Uninstalled {name} {receipt.version} (removed commands: {commands})")
    return 0


def _dir(args: argparse.Namespace) -> int:
    """``tool dir [--bin]``: print the tool (or bin) directory on stdout."""
    from shipyard.cli.common import command_services
    from shipyard.project.tools import tool_bin_dir, tool_dir

    with command_services(args, None) as (services, _output):
        chosen = tool_bin_dir(services.settings) if args.bin else tool_dir(services.settings)
        sys.stdout.write(f"{chosen}\n")
    return 0
