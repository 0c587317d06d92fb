"""Command-line entry point: parse, dispatch, render errors.

Only the ``cli`` package prints or exits. Imports are lazy: ``shipyard --version``
and a no-op ``sync`` load argparse and little else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["build_parser", "main"]

_COMMANDS = {
    "init": ("shipyard.cli.cmd_init", "Create a new project (pyproject.toml)."),
    "add": ("shipyard.cli.cmd_add", "Add requirements to the project, then lock and sync."),
    "remove": (
        "shipyard.cli.cmd_remove",
        "Remove requirements from the project, then lock and sync.",
    ),
    "lock": ("shipyard.cli.cmd_lock", "Resolve the project's requirements into pylock.toml."),
    "sync": ("shipyard.cli.cmd_sync", "Make .venv exactly match the lock."),
    "run": ("shipyard.cli.cmd_run", "Run a command in the project's environment."),
    "export": (
        "shipyard.cli.cmd_export",
        "Write the lock as requirements.txt, pylock, environment.yml or a conda list.",
    ),
    "import": (
        "shipyard.cli.cmd_import",
        "Bring requirements files, environment.yml, Pipfile, Poetry, PDM or setup.cfg "
        "into the project.",
    ),
    "pip": (
        "shipyard.cli.cmd_pip",
        "pip-tools' commands on shipyard: `pip compile` and `pip sync`.",
    ),
    "python": (
        "shipyard.cli.cmd_python",
        "List, find, install and pin Python interpreters.",
    ),
    "docker": (
        "shipyard.cli.cmd_docker",
        "Write a multi-stage Dockerfile and .dockerignore from the lock (`docker init`).",
    ),
    "image": (
        "shipyard.cli.cmd_image",
        "Build an OCI image from the lock without a Docker daemon (`image build`).",
    ),
    "cache": ("shipyard.cli.cmd_cache", "Inspect or clean the cache."),
    "tool": (
        "shipyard.cli.cmd_tool",
        "Run, install, list, upgrade and uninstall command-line tools from PyPI.",
    ),
    "x": ("shipyard.cli.cmd_tool_run", "Run a tool in a temporary environment (`tool run`)."),
    "tree": ("shipyard.cli.cmd_tree", "Show the locked dependency tree."),
    "why": ("shipyard.cli.cmd_why", "Show which requirements pull a package in."),
    "outdated": (
        "shipyard.cli.cmd_outdated",
        "List locked packages that have newer versions on the index.",
    ),
    "upgrade": (
        "shipyard.cli.cmd_upgrade",
        "Raise the lower bounds in pyproject.toml to the locked (or newest) versions.",
    ),
    "build": ("shipyard.cli.cmd_build", "Build the project's sdist and wheel into dist/."),
    "publish": ("shipyard.cli.cmd_publish", "Upload dist/ files to a package index."),
    "shell": (
        "shipyard.cli.cmd_shell",
        "Start your shell with the project's (or a named) environment activated.",
    ),
    "activate": (
        "shipyard.cli.cmd_activate",
        'Print the activation script (for `eval "$(shipyard activate)"`).',
    ),
    "env": (
        "shipyard.cli.cmd_env",
        "Named environments usable from any directory: create, list, remove, export.",
    ),
    "kernel": (
        "shipyard.cli.cmd_kernel",
        "Register the environment as a Jupyter kernel: install, list, remove.",
    ),
    "pack": (
        "shipyard.cli.cmd_pack",
        "Write the environment as a relocatable archive for a machine without network.",
    ),
    "unpack": ("shipyard.cli.cmd_unpack", "Unpack an archive made by `shipyard pack`."),
    "completion": (
        "shipyard.cli.cmd_completion",
        "Print the shell completion script for bash, zsh or fish.",
    ),
}


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options every command accepts, before or after the command name."""
    default: Any = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("global options")
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print only errors",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS if suppress else 0,
        help="print more, and tracebacks on errors",
    )
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=default,
        help="colored output (honours NO_COLOR)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        default=argparse.SUPPRESS if suppress else None,
        help="never use the network; only the cache",
    )
    group.add_argument(
        "--no-python-downloads",
        action="store_true",
        default=argparse.SUPPRESS if suppress else None,
        help="never download an interpreter; use only those on this machine",
    )
    group.add_argument("--cache-dir", default=default, metavar="DIR", help="cache directory")
    group.add_argument(
        "--index-url",
        default=default,
        metavar="URL",
        help="main package index (default https://pypi.org/simple)",
    )
    group.add_argument(
        "--index",
        action="append",
        default=default,
        metavar="NAME=URL",
        help="a named index asked before all others (repeatable; NAME= may be left out)",
    )
    group.add_argument(
        "--extra-index-url",
        action="append",
        default=default,
        metavar="URL",
        help="another index, asked before the main one (repeatable)",
    )
    group.add_argument(
        "--find-links",
        action="append",
        default=default,
        metavar="PATH_OR_URL",
        help="a directory or HTML page of archives (repeatable)",
    )
    group.add_argument(
        "--no-binary",
        action="append",
        default=default,
        metavar="NAME",
        help="build NAME from source (:all: for every package)",
    )
    group.add_argument(
        "--only-binary",
        action="append",
        default=default,
        metavar="NAME",
        help="never build NAME from source (:all: for every package)",
    )
    group.add_argument(
        "--no-build",
        action="store_true",
        default=default,
        help="never run a build backend: lock picks wheels only, sync refuses sdists",
    )
    group.add_argument(
        "--no-build-package",
        action="append",
        default=default,
        metavar="NAME",
        help="never build NAME from source (repeatable)",
    )
    group.add_argument(
        "--project",
        default=default,
        metavar="DIR",
        help="the project directory (default: the nearest with pyproject.toml)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a misspelled command or option."""

    def error(self, message: str) -> NoReturn:
        """Print usage and ``message`` (with a suggestion when one is close), exit 2."""
        super().error(message + _did_you_mean(self, message))


def _did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    """``" Did you mean 'sync'?"`` for argparse's "invalid choice: 'snyc'" and
    "unrecognized arguments: --frozn" messages, when a known name is close."""
    import difflib
    import re

    choices: list[str] = []
    options: list[str] = []
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            options.extend(o for o in action.option_strings if o.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                choices.extend(action.choices)
                parsers.extend(action.choices.values())
    invalid = re.search(r"invalid choice: '([^']+)'", message)
    if invalid:
        words, known = [invalid.group(1)], choices
    else:
        unrecognized = re.search(r"unrecognized arguments: (.+)$", message)
        words = [w.split("=")[0] for w in unrecognized.group(1).split()] if unrecognized else []
        words, known = [w for w in words if w.startswith("--")], options
    for word in words:
        close = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.7)
        if close:
            return f". Did you mean {close[0]!r}?"
    return ""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; each command's module adds its own options.

    :param argv: the arguments about to be parsed: only the commands named in them get
        their options (and their module imported), the others are listed by name and
        help alone, which is all ``--help`` and "invalid choice" need. ``None`` builds
        every command's options.
    """
    import importlib

    from shipyard import __version__

    parser = _Parser(
        prog="shipyard",
        description="One lock from laptop to container: a Python environment manager.",
    )
    parser.add_argument("--version", action="version", version=f"shipyard {__version__}")
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = set(argv) if argv is not None else set(_COMMANDS)
    for name, (module_name, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name in named:
            _global_options(sub, suppress=True)
            module = importlib.import_module(module_name)
            module.configure(sub)
    return parser


def _render_error(exc: BaseException, verbose: int) -> None:
    from shipyard.cli.render import print_error

    print_error(exc, verbose=verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    Run as a program (``argv`` is ``None``) after py-rattler was used, the process
    ends here through ``os._exit`` once the output is flushed: py-rattler's runtime
    threads can crash an interpreter that is shutting down (pyo3-async-runtimes#40),
    which turned one run in six into a segfault after the work was done.
    """
    try:
        code = _main(argv)
    except SystemExit as exc:
        if argv is not None or "rattler" not in sys.modules:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if argv is None and "rattler" in sys.modules:
        import os

        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return code


def _limit_malloc_arenas() -> None:
    """Let glibc keep two malloc arenas instead of one per thread (up to 8 per core).

    A lock fetches and parses pages on 16 threads. Parsing holds the GIL, so the threads
    gain nothing from arenas of their own, but each arena keeps the memory its thread
    freed: a cold lock of 136 packages peaked at 140 MB with them and 115 MB with two.
    ``MALLOC_ARENA_MAX`` set by the user wins; other C libraries are left alone.
    """
    import os

    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        pass


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["--version"] or args_list == ["-V"]:
        from shipyard import __version__

        sys.stdout.write(f"shipyard {__version__}\n")
        return 0
    try:
        fast = _fast_path(args_list)
    except BrokenPipeError:
        return _closed_stdout()
    except Exception as exc:  # the fast path's errors are rendered as any command's
        _render_error(exc, 0)
        from shipyard.errors import ShipyardError

        return exc.exit_code if isinstance(exc, ShipyardError) else 1
    if fast is not None:
        return fast
    _limit_malloc_arenas()
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if not args.command:
        parser.print_help()
        return 2
    verbose = getattr(args, "verbose", 0) or 0
    if not verbose:
        # Build backends' deprecation chatter (setuptools' license classifiers and the
        # like), re-raised by pyproject_hooks as BuildBackendWarning, is not the user's
        # business unless they ask (-v); a failed build still shows its output.
        import warnings

        from pyproject_hooks import BuildBackendWarning

        warnings.filterwarnings("ignore", category=BuildBackendWarning)
    try:
        import importlib

        module = importlib.import_module(_COMMANDS[args.command][0])
        result: int = module.run(args)
        return result
    except KeyboardInterrupt:
        sys.stderr.write(
            "error: Interrupted. Files shipyard writes are replaced atomically, so "
            "pyproject.toml and pylock.toml are intact; run `shipyard sync` to finish the "
            "environment.\n"
        )
        return 1
    except BrokenPipeError:
        return _closed_stdout()
    except BaseException as exc:
        from shipyard.errors import ShipyardError

        if isinstance(exc, SystemExit):
            raise
        _render_error(exc, verbose)
        return exc.exit_code if isinstance(exc, ShipyardError) else 1


def _fast_path(args: list[str]) -> int | None:
    """A no-op ``sync`` or a ``run`` in a synced project, without building the parser.

    Only plain invocations qualify (``sync``, ``sync -q``, ``run CMD...``); anything
    else goes the normal way.
    """
    quiet_flags = {"-q", "--quiet"}
    leading = 0
    while leading < len(args) and args[leading] in quiet_flags:
        leading += 1
    quiet = leading > 0
    args = args[leading:]
    if not args:
        return None
    if args[0] == "sync" and set(args[1:]) <= quiet_flags:
        from shipyard.cli.cmd_sync import try_noop

        return try_noop(quiet=quiet or bool(args[1:]))
    list_flags = {"--json", "--only-installed", "--only-downloads", "--all-versions"}
    if (
        args[:2] == ["python", "list"]
        and set(args[2:]) <= list_flags
        and not {"--only-installed", "--only-downloads"} <= set(args)
    ):
        from shipyard.cli.cmd_python import run_list

        return run_list(
            _simple_namespace(**{flag[2:].replace("-", "_"): flag in args for flag in list_flags})
        )
    if args[:2] == ["python", "find"] and len(args) == 3 and not args[2].startswith("-"):
        from shipyard.cli.cmd_python import run_find

        return run_find(_simple_namespace(request=args[2]))
    if args[0] == "run" and len(args) > 1 and not args[1].startswith("-"):
        from shipyard.cli.cmd_run import try_fast_run

        return try_fast_run(args[1:])
    return None


def _closed_stdout() -> int:
    """The reader of our output went away (``shipyard python list | head``): stop quietly,
    as other command-line tools do, and keep Python from complaining at exit."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass
    return 1


def _simple_namespace(**values: object) -> argparse.Namespace:
    return argparse.Namespace(quiet=False, verbose=0, cache_dir=None, **values)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
