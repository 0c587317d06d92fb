"""``shipyard export``: write the lock in a format other tools read."""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``export``'s arguments."""
    # the names only: importing the exporter here would slow every command's start-up
    formats = ("requirements-txt", "constraints", "pylock", "environment-yml", "conda-explicit")
    parser.add_argument("--format", required=True, choices=formats, dest="format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument(
        "--platform", metavar="SUBDIR", help="conda platform, e.g. linux-64 (default: this one)"
    )
    parser.add_argument("--group", action="append", default=[], metavar="GROUP")
    parser.add_argument("--extra", action="append", default=[], metavar="EXTRA")
    parser.add_argument(
        "--no-default-groups", action="store_true", help="leave the default groups (dev) out"
    )
    parser.add_argument("--no-hashes", action="store_true", help="requirements-txt without --hash")
    parser.add_argument(
        "--emit-project",
        action="store_true",
        help="include the project itself (-e .; pip then cannot --require-hashes)",
    )
    parser.add_argument(
        "--no-emit-package",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this package out (repeatable), e.g. a git package for --require-hashes",
    )
    parser.add_argument(
        "--for-environment",
        metavar="MARKER",
        help="collapse markers for one target, e.g. \"sys_platform == 'linux' and "
        "python_version == '3.11'\"",
    )
    parser.add_argument(
        "--frozen", action="store_true", help="export pylock.toml as it is; never re-lock"
    )


def _command_line(args: argparse.Namespace) -> str:
    """The export command as a user would retype it (for the file's header)."""
    parts = ["shipyard", "export", "--format", args.format]
    parts += [f"--group={g}" for g in args.group] + [f"--extra={e}" for e in args.extra]
    for flag in ("no_default_groups", "no_hashes", "emit_project", "frozen"):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_", "-"))
    parts += [f"--no-emit-package={name}" for name in args.no_emit_package]
    if args.for_environment:
        parts += ["--for-environment", _quote(args.for_environment)]
    if args.output:
        parts += ["-o", _quote(args.output)]
    return " ".join(parts)


def _quote(text: str) -> str:
    """Shell quoting that keeps a marker readable: double quotes around single ones."""
    import shlex

    if '"' not in text and "$" not in text and "`" not in text and "\\" not in text:
        return f'"{text}"' if any(c in text for c in " '") else text
    return shlex.quote(text)


def run(args: argparse.Namespace) -> int:
    """Export; the text goes to ``--output`` (atomically) or stdout."""
    from pathlib import Path

    from shipyard.atomic import atomic_write_text
    from shipyard.cli.common import command_services, locate_project
    from shipyard.project.exporting import export_lock

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = export_lock(
            project,
            services,
            args.format,
            platform=args.platform,
            frozen=args.frozen,
            groups=args.group,
            extras=args.extra,
            no_default_groups=args.no_default_groups,
            hashes=not args.no_hashes,
            for_environment=args.for_environment,
            emit_project=args.emit_project,
            no_emit=args.no_emit_package,
            output_name=Path(args.output).name if args.output else None,
            command=_command_line(args),
        )
        if args.output:
            atomic_write_text(Path(args.output), outcome.text)
            output.line(f"Wrote {args.format} for {outcome.platform} to {args.output}")
        else:
            sys.stdout.write(outcome.text)
    return 0
