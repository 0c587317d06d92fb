"""``shipyard image build``: an OCI image from the lock, without a container engine."""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``image build``."""
    from shipyard.cli.main import _global_options

    commands = parser.add_subparsers(dest="image_command", metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="Build an OCI image from the lock (no Docker daemon needed).",
        description="Build the project's image: the base image's layers, one reproducible "
        "layer with the locked dependencies for each platform, one with the project; "
        "write it as an OCI layout or docker-archive, and/or push it to a registry.",
    )
    _global_options(build, suppress=True)
    build.add_argument(
        "--base",
        metavar="REF",
        help="base image: registry reference, oci:DIR[:TAG] or docker-archive:FILE "
        "(default [tool.shipyard.docker] base, else python:X.Y-slim-bookworm)",
    )
    build.add_argument(
        "--platform",
        metavar="LIST",
        help="comma-separated platforms, e.g. linux/amd64,linux/arm64,linux/arm/v7 "
        "(default: this machine's)",
    )
    build.add_argument("--tag", metavar="NAME:TAG", help="the image's name in the outputs")
    build.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="DEST",
        help="oci:DIR[:TAG] or docker-archive:FILE (repeatable; default oci:build/image "
        "unless --push)",
    )
    build.add_argument("--push", metavar="REGISTRY/REPO:TAG", help="push the image there")
    build.add_argument(
        "--accelerator",
        metavar="KIND",
        help="the accelerator variant of the lock the image gets (cpu, cuda12.4); "
        "default the lock's default variant",
    )
    build.add_argument("--group", action="append", default=[], metavar="GROUP")
    build.add_argument("--extra", action="append", default=[], metavar="EXTRA")
    build.add_argument(
        "--frozen", action="store_true", help="use pylock.toml as it is; never re-lock"
    )


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"


def run(args: argparse.Namespace) -> int:
    """Run ``image build``."""
    from shipyard.errors import UsageError

    if getattr(args, "image_command", None) != "build":
        raise UsageError(
            "shipyard image needs a command: build.", hint="For example `shipyard image build`."
        )
    from shipyard.cli.common import command_services, locate_project
    from shipyard.image.build import build_image
    from shipyard.project.remote_layers import remote_layer_cache

    platforms = [p for p in (args.platform or "").split(",") if p.strip()]
    project = locate_project(args)
    with command_services(args, project) as (services, output):
        outcome = build_image(
            project,
            services,
            base=args.base,
            platforms=platforms,
            tag=args.tag,
            outputs=args.output,
            push=args.push,
            frozen=args.frozen,
            groups=args.group,
            extras=args.extra,
            accelerator=args.accelerator,
            remote_layers=remote_layer_cache(services),
        )
        if outcome.relocked:
            output.line("Locked: pylock.toml was stale")
        for report in outcome.platforms:
            added = ", ".join(
                f"{layer.role} {_size(layer.size)} ({_size(layer.uncompressed_size)} "
                f"unpacked, {layer.digest[:19]})"
                for layer in report.layers
            )
            source = "from the base" if report.python_from_base else "added"
            output.line(
                f"{report.platform}: Python {report.python_version} {source}, "
                f"{report.distributions} distributions; base {_size(report.base_size)}, "
                f"{added}; {_size(report.size)} in all"
            )
        output.line(f"Image {outcome.digest}")
        for text in outcome.written:
            output.line(f"Wrote {text}")
        if outcome.pushed:
            output.line(f"Pushed {outcome.pushed}")
    return 0
