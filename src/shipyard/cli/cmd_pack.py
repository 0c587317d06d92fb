"""``shipyard pack``: the environment as a relocatable archive for a machine without
network (see :mod:`shipyard.project.packing`)."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``pack``'s arguments."""
    from shipyard.cli.common import add_accelerator_argument, add_selection_arguments

    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the archive: .tar.gz, .tar.zst or .tar (default <project>-<os>-<machine>.tar.gz)",
    )
    add_selection_arguments(parser, "pack")
    add_accelerator_argument(parser)
    parser.add_argument(
        "--no-install-project",
        action="store_true",
        help="pack the dependencies only, not the project itself",
    )
    parser.add_argument(
        "--frozen", action="store_true", help="pack exactly pylock.toml; never re-lock"
    )
    parser.add_argument(
        "--python",
        help="the shipyard-managed interpreter the archive carries (version or path)",
    )


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"


def run(args: argparse.Namespace) -> int:
    """Pack; prints what the archive holds and how to unpack it."""
    import shlex
    from pathlib import Path

    from shipyard.cli.common import command_services, locate_project, selection_options
    from shipyard.project.packing import default_archive_name, pack_environment
    from shipyard.project.syncing import Selection

    project = locate_project(args)
    output_path = Path(args.output or default_archive_name(project))
    selection = Selection(
        **selection_options(args),
        install_project=not args.no_install_project,
        editable=False,
    )
    with command_services(args, project) as (services, output):
        outcome = pack_environment(
            project,
            services,
            selection,
            output=output_path,
            frozen=args.frozen,
            accelerator=args.accelerator,
        )
        conda = f", {outcome.conda_packages} conda packages" if outcome.kind == "conda" else ""
        plural = "" if outcome.packages == 1 else "s"
        output.line(
            f"Packed {project.name} for {outcome.platform}: Python {outcome.python_version}, "
            f"{outcome.packages} package{plural}{conda}; {outcome.relocated} files to "
            f"relocate -> {output_path} ({_size(outcome.size)})"
        )
        name = shlex.quote(str(output_path))
        output.line(
            f"Unpack with `shipyard unpack {name} DIR`, or without shipyard: "
            f"`mkdir DIR && tar xf {name} -C DIR && DIR/unpack.sh`"
        )
    return 0
