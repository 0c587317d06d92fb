"""``shipyard run``: lock and sync if stale, then run a command in the environment."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project.activation import Activation
    from shipyard.project.manifest import Project

__all__ = [
    "add_sync_arguments",
    "configure",
    "exec_in_environment",
    "project_for_command",
    "run",
    "sync_for_command",
    "try_fast_run",
]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``run``'s arguments."""
    add_sync_arguments(parser)
    parser.add_argument(
        "--script",
        metavar="FILE",
        help="run FILE as a PEP 723 script in its own environment (for a shebang: "
        "#!/usr/bin/env -S shipyard run --script)",
    )
    from shipyard.cli.common import add_with_argument

    add_with_argument(parser, "for this run only, without touching the project")
    parser.add_argument(
        "--no-path-fallback",
        action="store_true",
        help="refuse a command the environment lacks instead of running one found on PATH",
    )
    parser.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="CMD [ARGS...]", help="the command to run"
    )


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``run``'s sync (:func:`sync_for_command` reads them), for the
    commands that enter the environment as ``run`` does (``shell``, ``activate``)."""
    from shipyard.cli.common import add_accelerator_argument, add_selection_arguments

    parser.add_argument(
        "--frozen", action="store_true", help="sync from pylock.toml as it is; never resolve"
    )
    parser.add_argument("--no-sync", action="store_true", help="do not sync first")
    add_selection_arguments(parser, "install")
    add_accelerator_argument(parser)
    parser.add_argument("--python", help="interpreter for .venv (version, range or path)")
    parser.add_argument(
        "--package", metavar="NAME", help="sync this workspace member (and what it requires)"
    )
    parser.add_argument(
        "--env",
        metavar="NAME",
        help="use the named environment NAME (`shipyard env create`), from any directory",
    )


def project_for_command(args: argparse.Namespace) -> Project:
    """The named environment's project with ``--env NAME``, else the project here (read
    once this process holds its lock).

    :raises UsageError: for ``--env`` with ``--project`` or ``--package``.
    :raises ShipyardError: for an unknown environment or no project here.
    """
    from shipyard.cli.common import locate_project
    from shipyard.errors import UsageError

    named = getattr(args, "env", None)
    if not named:
        return locate_project(args)
    if getattr(args, "project", None) or getattr(args, "package", None):
        raise UsageError(
            "--env uses a named environment; it cannot be combined with --project or --package.",
            hint="Drop --env to use the project here.",
        )
    from shipyard.cli.cmd_env import named_env_project

    return named_env_project(named, args)


def _scripts_dir(env_root: Path) -> Path:
    return env_root / ("Scripts" if os.name == "nt" else "bin")


def _from_python_environment(program: str) -> bool:
    """Whether ``program`` belongs to a Python environment: it lives (links included) in
    a virtual environment's or conda prefix's scripts directory, or it is a Python
    script (``#!…python``) such as pip and pipx install. Those are the copies a user
    may take for the project's; ``sh``, ``make`` or ``git`` from the system are not."""
    real = Path(os.path.realpath(program))
    prefix = real.parent.parent
    if (prefix / "pyvenv.cfg").is_file() or (prefix / "conda-meta").is_dir():
        return True
    try:
        with open(real, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def exec_in_environment(
    env_root: Path,
    command: list[str],
    *,
    path_fallback: bool = True,
    extra_bin: Path | None = None,
    activation: Activation | None = None,
) -> int:
    """Replace this process with ``command`` run inside the environment at ``env_root``,
    activated (:mod:`shipyard.project.activation`: ``PATH``, ``VIRTUAL_ENV`` or
    ``CONDA_PREFIX``, the conda packages' activate.d variables, the project's ``env``).

    A command the environment lacks but ``PATH`` has runs with a warning naming where
    it was found (``path_fallback``), or is refused.

    :param extra_bin: another environment's scripts directory put before the
        environment's own (``run --with``).
    :param activation: the environment's activation with the project's variables;
        ``None`` computes it without a project (a tool's or a script's environment).
    :raises UsageError: when the command is found nowhere, or only on ``PATH`` and
        ``path_fallback`` is off.
    :raises ManifestError: when the project's env-file cannot be read.
    """
    from shutil import which

    from shipyard.errors import UsageError
    from shipyard.project.activation import apply_activation, load_activation

    if activation is None:
        activation = load_activation(env_root)
    environ = apply_activation(activation, os.environ)
    own_dirs = [str(d) for d in (extra_bin, *activation.path_prepend) if d is not None]
    if extra_bin is not None:
        environ["PATH"] = f"{extra_bin}{os.pathsep}{environ['PATH']}"
        if not activation.conda:
            environ["VIRTUAL_ENV"] = str(extra_bin.parent)
    outside = os.environ.get("PATH", "")
    own = os.pathsep.join(own_dirs)
    program = which(command[0], path=own)
    if program is None and os.sep not in command[0]:
        found = which(command[0], path=outside)
        if found is not None and not path_fallback:
            raise UsageError(
                f"{command[0]} is not in the environment ({env_root}); it was found at "
                f"{found}, outside it.",
                hint="Add the package that provides it with `shipyard add`, or drop "
                "--no-path-fallback to run that one.",
            )
        if found is not None and _from_python_environment(found):
            sys.stderr.write(
                f"warning: {command[0]} is not in the environment ({env_root}); running "
                f"{found} from another Python environment on PATH. Add the package that "
                "provides it with `shipyard add`, or pass --no-path-fallback to refuse.\n"
            )
        program = found
    elif program is None:
        program = which(command[0], path=environ["PATH"])
    if program is None:
        raise UsageError(
            f"Command not found: {command[0]}.",
            hint="Check the spelling, or add the package that provides it with `shipyard add`.",
        )
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - no exec on Windows
        import subprocess

        return subprocess.call([program, *command[1:]], env=environ)
    os.execve(program, [command[0], *command[1:]], environ)
    return 0  # pragma: no cover


def _fast_cache_root() -> Path:
    """The cache directory as ``SHIPYARD_CACHE_DIR`` or the default says (only
    ``--cache-dir`` says otherwise, and the fast paths never see it)."""
    from shipyard.settings import from_environment

    cache_dir = from_environment("cache_dir")
    if cache_dir is None:
        from shipyard.cache import default_cache_dir

        cache_dir = default_cache_dir()
    return Path(cache_dir).expanduser()


def _project_above(directory: Path) -> Path | None:
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return None


def try_fast_run(command: list[str]) -> int | None:
    """Run at once when the environment stamp proves the project (or, for a script,
    its environment) is in sync; ``None`` sends the command the normal way."""
    from shipyard.cli.cmd_sync import _default_selection_key
    from shipyard.project.stamp import read_fresh_stamp

    try:
        if command[0] == "--script" and len(command) > 1:
            return _fast_script(Path(command[1]), command[2:])
        project = _project_above(Path(os.getcwd()))
        if command[0].endswith(".py") and os.path.isfile(command[0]):
            script = Path(command[0])
            if project is None or _has_block(script):
                return _fast_script(script, command[1:])
            command = ["python", *command]
        if project is None:
            return None
        env_root = project / ".venv"
        if read_fresh_stamp(project, env_root, _default_selection_key()) is None:
            return None
        from shipyard.project.activation import cached_activation

        # the activation a slow run cached (the cache directory comes only from
        # SHIPYARD_CACHE_DIR or --cache-dir, which takes the slow path); none yet, or a
        # changed pyproject.toml or activate.d script, sends the command the normal way
        activation = cached_activation(env_root, project, _fast_cache_root())
        if activation is None:
            return None
        return exec_in_environment(env_root, command, activation=activation)
    except Exception:
        return None


def _has_block(script: Path) -> bool:
    from shipyard.project.scripts import find_block

    return find_block(script.read_text(encoding="utf-8")) is not None


def _fast_script(script: Path, arguments: list[str]) -> int | None:
    """Exec the script in its environment when the stamp says that is in sync (no
    settings, no resolver, no HTTP stack imported)."""
    from shipyard.cli.cmd_sync import _default_selection_key
    from shipyard.project.ephemeral import ephemeral_key
    from shipyard.project.scripts import block_text, script_lock_path
    from shipyard.project.stamp import read_fresh_stamp

    text = script.read_text(encoding="utf-8")
    from shipyard.cache import BUCKETS

    key = ephemeral_key(block_text(text) or "", "")
    root = _fast_cache_root() / f"scripts-v{BUCKETS['scripts']}" / key
    lock_beside = script_lock_path(script)
    if lock_beside.is_file():
        root = root.with_name(root.name + "-universal")
        try:
            if (root / "pylock.toml").read_bytes() != lock_beside.read_bytes():
                return None
        except OSError:
            return None
    if read_fresh_stamp(root, root / ".venv", _default_selection_key()) is None:
        return None
    return exec_in_environment(
        root / ".venv", ["python", str(script.resolve()), *arguments], path_fallback=False
    )


def run(args: argparse.Namespace) -> int:
    """Sync unless told not to, then exec the command (a script: in its own environment)."""
    from shipyard.errors import UsageError

    command = [c for c in args.cmd]
    if command and command[0] == "--":
        command = command[1:]
    named = getattr(args, "env", None)
    if named and (args.script or getattr(args, "project", None) or args.package):
        raise UsageError(
            "--env runs in a named environment; it cannot be combined with --script, "
            "--project or --package.",
            hint="Drop --env to run in the project here.",
        )
    if args.script:
        return _run_script(args, Path(args.script), command)
    if not command:
        raise UsageError("No command given.", hint="Example: shipyard run python -m myapp")
    if command[0].endswith(".py") and os.path.isfile(command[0]):
        project_root = _project_above(Path(args.project or os.getcwd()))
        if not named and (project_root is None or _has_block(Path(command[0]))):
            return _run_script(args, Path(command[0]), command[1:])
        command = ["python", *command]
    project = project_for_command(args)
    env_root, cache_root = sync_for_command(args, project)
    overlay = _with_overlay(args, env_root, project) if args.with_requirements else None
    from shipyard.project.activation import load_activation

    return exec_in_environment(
        env_root,
        command,
        path_fallback=not args.no_path_fallback,
        extra_bin=_scripts_dir(overlay) if overlay else None,
        activation=load_activation(env_root, project=project, cache_root=cache_root),
    )


def sync_for_command(args: argparse.Namespace, project: Project) -> tuple[Path, Path]:
    """``run``'s sync, shared by ``shell`` and ``activate``: sync ``project``'s
    environment as ``args`` select (``--frozen``, groups and extras, ``--package``,
    ``--accelerator``) and print what changed, or with ``--no-sync`` only check that the
    environment exists.

    :returns: (the environment's root, the cache directory).
    :raises UsageError: with ``--no-sync`` when there is no environment.
    """
    from shipyard.cli.common import command_services, print_sync, selection_options
    from shipyard.errors import UsageError
    from shipyard.project.syncing import Selection, sync_project

    env_root = project.root / ".venv"
    with command_services(args, project) as (services, output):
        cache_root = services.cache.root
        if not args.no_sync:
            outcome = sync_project(
                project,
                services,
                Selection(
                    **selection_options(args),
                    packages=(args.package,) if args.package else (),
                    # other members stay installed: switching packages is no churn
                    exact=not args.package,
                ),
                frozen=args.frozen,
                accelerator=args.accelerator,
            )
            if not outcome.plan.empty or outcome.lock is not None:
                print_sync(output, outcome)
            return outcome.env_root or env_root, cache_root
    if not (env_root / "pyvenv.cfg").is_file() and not (env_root / "conda-meta").is_dir():
        raise UsageError("There is no .venv to run in.", hint="Run `shipyard sync` first.")
    return env_root, cache_root


def _run_script(args: argparse.Namespace, path: Path, arguments: list[str]) -> int:
    """Sync the script's own environment (locking when needed) and run it there."""
    from shipyard.cli.common import command_services, hold_directory_lock, print_sync
    from shipyard.project.scripts import (
        keep_script_lock,
        read_script,
        script_lock_path,
        script_project,
    )
    from shipyard.project.syncing import Selection, sync_project

    script = read_script(path)
    if args.with_requirements:
        from dataclasses import replace

        from shipyard.project.scripts import with_requirements

        script = replace(
            script,
            block=(script.block or "") + "\0" + "\0".join(args.with_requirements),
            dependencies=with_requirements(script.dependencies, args.with_requirements),
        )
    with command_services(args, _tool_table_project(script.tool)) as (services, output):
        project = script_project(script, services)
        hold_directory_lock(args, project.root)
        outcome = sync_project(project, services, Selection(), frozen=args.frozen)
        if script_lock_path(script.path).is_file():
            keep_script_lock(script, project)
        if not outcome.plan.empty or outcome.lock is not None:
            print_sync(output, outcome)
    return exec_in_environment(
        project.root / ".venv",
        ["python", str(script.path), *arguments],
        path_fallback=False,
    )


def _tool_table_project(tool: object) -> Project:
    """A stand-in project carrying only a ``[tool.shipyard]`` table, so the settings of
    a script's block (index-url, indexes …) apply as a project's would."""
    from shipyard.project.manifest import Project

    return Project(
        root=Path("."),
        name="script",
        version="0",
        requires_python=None,
        dependencies=(),
        optional_dependencies={},
        dependency_groups={},
        tool=dict(tool) if isinstance(tool, dict) else {},
    )


def _with_overlay(args: argparse.Namespace, env_root: Path, project: Project) -> Path:
    """``run --with PKG``: an environment of the extra packages, kept in the cache,
    layered over the project's (its ``site-packages`` come after the overlay's through a
    ``.pth`` file), so the project's environment and lock stay as they are. The
    project's settings (its indexes) apply.

    :returns: the overlay environment's root.
    """
    from shipyard.cli.common import command_services, hold_directory_lock, print_sync
    from shipyard.project.ephemeral import (
        EphemeralSpec,
        ephemeral_key,
        prepare_ephemeral_project,
        spec_digest,
    )
    from shipyard.project.scripts import with_requirements
    from shipyard.project.stamp import read_fresh_stamp, write_stamp
    from shipyard.project.syncing import Selection, sync_project
    from shipyard.venv import inspect_venv

    base = inspect_venv(env_root)
    python = (base.base_executable if base and base.base_executable else None) or (
        _scripts_dir(env_root) / "python"
    )
    spec = EphemeralSpec(
        name="run-with",
        dependencies=tuple(str(r) for r in with_requirements((), args.with_requirements)),
    )
    with command_services(args, project) as (services, output):
        services.cli_python = str(python)
        root = services.cache.bucket("tools") / ephemeral_key(
            "run-with", spec_digest(spec), str(python), str(env_root)
        )
        hold_directory_lock(args, root)
        overlay_project = prepare_ephemeral_project(root, spec, services)
        outcome = sync_project(overlay_project, services, Selection())
        if not outcome.plan.empty or outcome.lock is not None:
            print_sync(output, outcome)
        overlay = inspect_venv(root / ".venv")
        target = inspect_venv(env_root)
        if overlay is not None and target is not None:
            pth = overlay.site_packages / "_shipyard_run_with.pth"
            wanted = "".join(f"{p}\n" for p in sorted({target.site_packages, target.platlib}))
            if not pth.is_file() or pth.read_text() != wanted:
                stamp = read_fresh_stamp(root, overlay.root, Selection().key())
                pth.write_text(wanted)
                if stamp is not None:
                    write_stamp(root, overlay.root, Selection().key(), packages=stamp["packages"])
    return root / ".venv"
