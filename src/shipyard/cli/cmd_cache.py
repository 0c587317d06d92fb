"""``shipyard cache dir|clean|prune|stats|keygen``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta

    from shipyard.cache import Cache
    from shipyard.cli.render import Output
    from shipyard.project.services import Services

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``cache``'s arguments."""
    parser.add_argument(
        "action",
        choices=("dir", "clean", "prune", "stats", "keygen"),
        help="dir: print the path; clean: remove everything; "
        "prune: remove what no current shipyard can use (--remote: the remote cache's "
        "old artifacts); stats: built-wheel hits here and in the remote cache, and what "
        "they saved; keygen: make a key pair to sign the remote cache's artifacts",
    )
    parser.add_argument(
        "--remote",
        action="store_true",
        help="prune: delete the remote cache's artifacts older than --older-than",
    )
    parser.add_argument(
        "--older-than",
        metavar="AGE",
        help="prune --remote: the age past which artifacts go (30d, 12h, 2w)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="prune --remote: list what would go, delete nothing"
    )
    parser.add_argument(
        "--output",
        metavar="PREFIX",
        default="shipyard-cache",
        help="keygen: write PREFIX.key (private) and PREFIX.pub (default shipyard-cache)",
    )
    parser.add_argument(
        "--kind",
        choices=("ecdsa-p256", "ed25519"),
        default="ecdsa-p256",
        help="keygen: the key type (default ecdsa-p256, as cosign makes)",
    )


def run(args: argparse.Namespace) -> int:
    """Do the action; prints the path, what was freed, the counters or the key files."""
    from shipyard.cli.common import command_services
    from shipyard.errors import UsageError

    remote_only = [flag for flag in ("older_than", "dry_run") if getattr(args, flag)]
    if (args.remote or remote_only) and args.action != "prune":
        raise UsageError(
            "--remote, --older-than and --dry-run belong to `cache prune --remote`.",
            hint="Run `shipyard cache prune --remote --older-than 30d`.",
        )
    if args.action == "prune" and (args.remote or remote_only):
        if not (args.remote and args.older_than):
            raise UsageError(
                "Pruning the remote cache needs both --remote and --older-than.",
                hint="Run `shipyard cache prune --remote --older-than 30d [--dry-run]`.",
            )
        return _prune_remote(args)
    if args.action == "keygen":
        return _keygen(args)
    with command_services(args, None) as (services, output):
        cache = services.cache
        if args.action == "dir":
            sys.stdout.write(f"{cache.root}\n")
            return 0
        if args.action == "stats":
            _print_stats(cache)
            return 0
        freed = cache.clean() if args.action == "clean" else cache.prune()
        output.line(f"Removed {freed / 1e6:.1f} MB from {cache.root}")
    return 0


def _prune_remote(args: argparse.Namespace) -> int:
    """``cache prune --remote``: with the project's settings when run in one."""
    from shipyard.cli.common import command_services
    from shipyard.errors import ManifestError
    from shipyard.project.manifest import find_project, load_project
    from shipyard.project.remote_prune import parse_age

    age = parse_age(args.older_than)
    try:
        project = load_project(find_project(Path(getattr(args, "project", None) or ".")))
    except ManifestError:
        if getattr(args, "project", None):
            raise
        project = None  # the settings from the environment and the user file
    with command_services(args, project) as (services, output):
        _print_prune(services, output, age, dry_run=args.dry_run)
    return 0


def _print_prune(services: Services, output: Output, age: timedelta, *, dry_run: bool) -> None:
    """Prune (or list, with ``dry_run``) and print one line per manifest and a summary."""
    from shipyard.project.remote_prune import prune_remote_cache

    result = prune_remote_cache(services, age, dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    for item in result.removed:
        what = "signature" if item.signature else "artifact"
        when = item.created.strftime("%Y-%m-%d %H:%M")
        output.change("-", f"{item.tag} ({what}, created {when} UTC)")
    artifacts = sum(1 for item in result.removed if not item.signature)
    signatures = len(result.removed) - artifacts
    output.line(
        f"{verb} {artifacts} artifacts and {signatures} signatures created before "
        f"{result.cutoff:%Y-%m-%d %H:%M} UTC from the remote cache {result.where}; "
        f"{result.kept} tags kept"
    )
    if result.undated:
        output.line(
            f"Kept {len(result.undated)} artifacts without a creation time "
            "(pushed by an older shipyard)"
        )


def _keygen(args: argparse.Namespace) -> int:
    """``cache keygen``: write PREFIX.key (mode 0600) and PREFIX.pub, never over files."""
    from shipyard.atomic import atomic_write_bytes
    from shipyard.errors import UsageError
    from shipyard.image.signing import generate_key_pair

    prefix = Path(args.output)
    private_path = prefix.with_name(prefix.name + ".key")
    public_path = prefix.with_name(prefix.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(
                f"{path} exists; keygen never overwrites a key.",
                hint="Choose another --output prefix, or remove the old files first.",
            )
    private, public = generate_key_pair(args.kind)
    atomic_write_bytes(private_path, private, mode=0o600)
    atomic_write_bytes(public_path, public)
    sys.stdout.write(
        f"Wrote {private_path} (private: give it to CI as SHIPYARD_REMOTE_CACHE_SIGN_KEY) "
        f"and {public_path} (public: put it in [tool.shipyard] remote-cache-public-key)\n"
    )
    return 0


def _print_stats(cache: Cache) -> None:
    """The counters of :mod:`shipyard.cache.stats`, one line each, on stdout."""
    from shipyard.cache.stats import read_stats

    stats = read_stats(cache)
    lines = [
        f"Built wheels from this cache: {stats.local_hits} hits, {stats.builds} built here",
        f"Remote cache: {stats.remote_hits} hits, {stats.remote_misses} misses, "
        f"{stats.remote_pushes} pushed, {stats.remote_refused} refused, "
        f"skipped in {stats.remote_errors} commands",
        f"Saved by remote hits: {stats.bytes_pulled / 1e6:.2f} MB pulled instead of built, "
        f"{stats.seconds_saved:.1f} s of builds",
        f"Image dependency layers: {stats.layer_local_hits} reused from this cache, "
        f"{stats.layer_remote_hits} from the remote cache "
        f"({stats.layer_bytes_pulled / 1e6:.2f} MB), {stats.layer_remote_misses} misses, "
        f"{stats.layer_pushes} pushed",
    ]
    sys.stdout.write("".join(f"{line}\n" for line in lines))
