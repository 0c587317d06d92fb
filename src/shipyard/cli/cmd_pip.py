"""``shipyard pip compile`` / ``shipyard pip sync``: pip-tools' two commands.

A pip-tools user switches by typing ``shipyard pip`` in front of the command they
know: the options keep pip-compile's names and the output keeps its layout.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``pip compile`` and ``pip sync`` with their arguments."""
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="pip_command", metavar="COMMAND")
    compile_ = commands.add_parser(
        "compile",
        help="Pin requirements.in (or pyproject.toml) into requirements.txt, like pip-compile.",
        description="Resolve the input files and write the pinned result the way "
        "pip-compile does: header, # via annotations, --hash lines with --generate-hashes. "
        "Pins already in the output file are kept when they still fit.",
    )
    _global_options(compile_, suppress=True)
    compile_.add_argument(
        "src_files",
        nargs="*",
        metavar="SRC_FILE",
        help="requirements.in, pyproject.toml or setup.cfg (default: requirements.in, "
        "else pyproject.toml)",
    )
    compile_.add_argument(
        "-o", "--output-file", metavar="FILE", help="where to write ('-' for stdout)"
    )
    compile_.add_argument("--generate-hashes", action="store_true", help="write --hash lines")
    compile_.add_argument(
        "-U", "--upgrade", action="store_true", help="ignore the pins in the output file"
    )
    compile_.add_argument(
        "-P",
        "--upgrade-package",
        action="append",
        default=[],
        metavar="NAME",
        help="drop this package's pin (NAME or NAME==VERSION; repeatable)",
    )
    compile_.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE", help="constraints file"
    )
    compile_.add_argument("--extra", action="append", default=[], metavar="EXTRA")
    compile_.add_argument("--all-extras", action="store_true")
    target = compile_.add_mutually_exclusive_group()
    target.add_argument(
        "--universal",
        action="store_true",
        help="one file for every platform, with markers (from --python-version upwards)",
    )
    target.add_argument(
        "--python-platform",
        metavar="PLATFORM",
        help="resolve for this platform: linux, macos, windows, or a target triple such as "
        "aarch64-unknown-linux-gnu",
    )
    compile_.add_argument("--python-version", metavar="X.Y", help="resolve for this Python version")
    compile_.add_argument(
        "-p",
        "--python",
        metavar="PYTHON",
        help="the interpreter to resolve for (a version or a path; default: the active "
        "or nearest .venv, else the first python on PATH)",
    )
    compile_.add_argument("--pre", action="store_true", help="allow pre-releases")
    compile_.add_argument("--allow-unsafe", action="store_true", help="pin pip and setuptools too")
    compile_.add_argument("--no-header", action="store_true")
    compile_.add_argument("--no-annotate", action="store_true", help="no # via comments")
    compile_.add_argument("--annotation-style", choices=("split", "line"), default="split")
    compile_.add_argument("--no-emit-index-url", action="store_true")
    compile_.add_argument("--no-emit-find-links", action="store_true")
    compile_.add_argument(
        "--strip-extras",
        action="store_true",
        help="accepted for pip-compile scripts: extras are always stripped from pins",
    )
    compile_.add_argument(
        "--resolver",
        choices=("backtracking",),
        help="accepted for pip-compile scripts: shipyard always backtracks",
    )
    compile_.add_argument(
        "-n", "--dry-run", action="store_true", help="print the result; write nothing"
    )

    sync = commands.add_parser(
        "sync",
        help="Make a virtual environment match requirements.txt exactly, like pip-sync.",
        description="Install the pinned distributions of the files, at those versions, and "
        "remove everything else (pip, setuptools and wheel stay unless listed).",
    )
    _global_options(sync, suppress=True)
    sync.add_argument(
        "src_files",
        nargs="*",
        metavar="SRC_FILE",
        help="compiled requirements files (default: requirements.txt)",
    )
    sync.add_argument(
        "-p",
        "--python",
        "--python-executable",
        dest="python",
        metavar="PATH",
        help="the virtual environment (its directory or its python; default: the active "
        "one, else the nearest .venv)",
    )
    sync.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would change; change nothing"
    )
    sync.add_argument("--link-mode", choices=("hardlink", "copy", "symlink", "clone"), default=None)


def _compile_command(
    args: argparse.Namespace, output: str | None, custom_setting: str | None
) -> str:
    """The command for the header, as pip-compile writes it: one-off options such as
    ``--upgrade`` and ``--dry-run`` left out, credentials never written."""
    import shlex

    from shipyard.index.credentials import public_url

    custom = custom_setting or os.environ.get("CUSTOM_COMPILE_COMMAND")
    if custom:
        return custom
    parts = ["shipyard", "pip", "compile"]
    for flag in (
        "all_extras",
        "allow_unsafe",
        "generate_hashes",
        "no_annotate",
        "no_emit_find_links",
        "no_emit_index_url",
        "no_header",
        "pre",
        "universal",
    ):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_", "-"))
    if args.annotation_style != "split":
        parts.append(f"--annotation-style={args.annotation_style}")
    parts += [f"--constraint={c}" for c in args.constraint]
    parts += [f"--extra={e}" for e in args.extra]
    for option in ("index_url", "python_platform", "python_version"):
        value = getattr(args, option, None)
        if value:
            parts.append(f"--{option.replace('_', '-')}={public_url(value)}")
    for option in ("extra_index_url", "find_links"):
        parts += [
            f"--{option.replace('_', '-')}={public_url(v)}"
            for v in getattr(args, option, None) or []
        ]
    if output:
        parts.append(f"--output-file={output}")
    parts += args.src_files
    return " ".join(shlex.quote(p) for p in parts)


def _default_inputs() -> list[str]:
    from shipyard.errors import UsageError

    for name in ("requirements.in", "pyproject.toml", "setup.cfg"):
        if os.path.isfile(name):
            return [name]
    raise UsageError(
        "No input: there is no requirements.in, pyproject.toml or setup.cfg here.",
        hint="Name the file to compile: `shipyard pip compile requirements.in`.",
    )


def _run_compile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.atomic import atomic_write_text
    from shipyard.cli.common import command_services, packages
    from shipyard.project.pip_compile import (
        CompileRequest,
        compile_requirements,
        default_output,
    )
    from shipyard.project.pip_environment import find_target_interpreter

    if not args.src_files:
        args.src_files = _default_inputs()
    inputs = tuple(Path(p) for p in args.src_files)
    to_stdout = args.output_file == "-"
    output = None if to_stdout else Path(args.output_file or default_output(inputs))
    with command_services(args, None) as (services, out):
        interpreter = find_target_interpreter(args.python, services)
        request = CompileRequest(
            inputs=inputs,
            output=output,
            constraints=tuple(Path(p) for p in args.constraint),
            upgrade=args.upgrade,
            upgrade_packages=tuple(args.upgrade_package),
            extras=tuple(args.extra),
            all_extras=args.all_extras,
            universal=args.universal,
            python_version=args.python_version,
            python_platform=args.python_platform,
            generate_hashes=args.generate_hashes,
            allow_unsafe=args.allow_unsafe,
            pre=args.pre,
            header=not args.no_header,
            annotate=not args.no_annotate,
            annotation_style=args.annotation_style,
            emit_index_url=not args.no_emit_index_url,
            emit_find_links=not args.no_emit_find_links,
            command=_compile_command(
                args, args.output_file, services.settings.custom_compile_command
            ),
        )
        outcome = compile_requirements(request, services, interpreter)
        resolution = outcome.resolution
        out.line(f"Resolved {packages(len(resolution.packages))} in {resolution.seconds:.2f}s")
        for name, old, new in outcome.changed:
            if old is None:
                out.change("+", f"{name}=={new}")
            elif new is None:
                out.change("-", f"{name}=={old}")
            else:
                out.change("~", f"{name} {old} -> {new}")
        if to_stdout or args.dry_run:
            sys.stdout.write(outcome.text)
            if args.dry_run:
                out.line("Dry run: nothing written.")
        else:
            assert output is not None
            atomic_write_text(output, outcome.text)
            out.line(f"Wrote {output}")
    return 0


def _run_sync(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.cli.common import command_services, print_sync
    from shipyard.errors import UsageError
    from shipyard.project.pip_environment import find_environment
    from shipyard.project.pip_sync import sync_requirements

    if not args.src_files:
        if not os.path.isfile("requirements.txt"):
            raise UsageError(
                "No input: there is no requirements.txt here.",
                hint="Name the compiled file: `shipyard pip sync requirements.txt`.",
            )
        args.src_files = ["requirements.txt"]
    for name in args.src_files:
        if name.endswith(".in"):
            raise UsageError(
                f"{name} looks like an input file; pip sync wants the compiled one.",
                hint=f"Compile it first: `shipyard pip compile {name}`.",
            )
    with command_services(args, None) as (services, out):
        venv, interpreter = find_environment(args.python, services)
        out.line(f"Using the environment at {venv.root} (Python {interpreter.version})")
        outcome = sync_requirements(
            [Path(p) for p in args.src_files],
            services,
            venv,
            interpreter,
            dry_run=args.dry_run,
            link_mode=args.link_mode,
        )
        print_sync(out, outcome)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``pip compile`` or ``pip sync``."""
    from shipyard.errors import UsageError

    if args.pip_command == "compile":
        return _run_compile(args)
    if args.pip_command == "sync":
        return _run_sync(args)
    raise UsageError(
        "shipyard pip needs a command: compile or sync.",
        hint="For example `shipyard pip compile requirements.in`.",
    )
