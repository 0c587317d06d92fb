"""``shipyard docker init``: write a Dockerfile and .dockerignore for the project."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``docker init``."""
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="docker_command", metavar="COMMAND")
    init = commands.add_parser(
        "init",
        help="Write a multi-stage Dockerfile and .dockerignore from the lock.",
        description="Write a Dockerfile (a builder stage that installs exactly the lock, "
        "hash-checked, dependencies in their own layer; a slim runtime stage with a "
        "non-root user), a .dockerignore and, for pip, requirements.lock.txt.",
    )
    _global_options(init, suppress=True)
    init.add_argument(
        "--accelerator",
        metavar="KIND",
        help="the accelerator variant of the lock the image installs (cpu, cuda12.4); "
        "default the lock's default variant",
    )
    init.add_argument(
        "--base",
        metavar="IMAGE",
        help="runtime base image (default python:X.Y-slim-bookworm for the project's Python)",
    )
    init.add_argument(
        "--entrypoint",
        metavar="CMD",
        help='what the container runs (ENTRYPOINT), e.g. "python -m app serve"',
    )
    init.add_argument(
        "--installer",
        choices=("pip", "shipyard"),
        help="what installs the lock in the builder (default pip; shipyard with conda)",
    )
    init.add_argument(
        "--frozen", action="store_true", help="use pylock.toml as it is; never re-lock"
    )
    init.add_argument(
        "--force", action="store_true", help="replace a Dockerfile shipyard did not write"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``docker init``."""
    from shipyard.errors import UsageError

    if getattr(args, "docker_command", None) != "init":
        raise UsageError(
            "shipyard docker needs a command: init.", hint="For example `shipyard docker init`."
        )
    from shipyard.cli.common import command_services, locate_project
    from shipyard.project.docker import init_docker

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = init_docker(
            project,
            services,
            base=args.base,
            entrypoint=args.entrypoint,
            installer=args.installer,
            frozen=args.frozen,
            force=args.force,
            accelerator=args.accelerator,
        )
        if outcome.relocked:
            output.line("Locked: pylock.toml was stale")
        spec = outcome.spec
        for path in outcome.written:
            output.line(f"Wrote {path.relative_to(project.root)}")
        runs = spec.entrypoint or spec.command or ()
        output.line(
            f"Builder {spec.builder_image} installs with {spec.installer}; runtime "
            f"{spec.runtime_image} runs {' '.join(runs)} as uid {spec.uid}."
        )
    return 0
