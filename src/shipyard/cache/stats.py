"""Counters of what the built-wheel caches saved, kept in the cache for ``cache stats``.

One small JSON file, ``stats-v1/counters.json``, holds running totals: local hits of
built wheels, builds, remote hits, misses, pushes and refusals, the bytes pulled
instead of built and the build seconds those pulls saved (as the pushing runner
measured them); and the same for ``image build``'s dependency layers. Every update
takes a file lock and rewrites the file atomically, so concurrent commands sharing a
cache add up exactly. Counting never fails a command: an unwritable file only loses
the count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from shipyard.cache import Cache

__all__ = ["CacheStats", "read_stats", "record"]

_FILE = "counters.json"
_LOCK_TIMEOUT = 10.0  # seconds: a stuck lock loses one count, never blocks a sync


@dataclass(slots=True, kw_only=True)
class CacheStats:
    """Running totals (all integers except ``seconds_saved``).

    :param local_hits: built wheels taken from this cache instead of built.
    :param builds: sdists and git sources built here.
    :param remote_hits: built wheels pulled from the remote cache.
    :param remote_misses: remote lookups that found nothing.
    :param remote_pushes: built wheels pushed to the remote cache.
    :param remote_refused: pulled artifacts refused (digest, name or RECORD mismatch).
    :param remote_errors: commands in which the remote cache was skipped (unreachable,
        slow, or refusing the credentials).
    :param bytes_pulled: bytes of wheels pulled instead of built.
    :param seconds_saved: build seconds the pulled wheels took where they were built.
    :param layer_local_hits: ``image build`` dependency layers reused from this cache.
    :param layer_remote_hits: dependency layers pulled from the remote cache instead of
        installed and packed.
    :param layer_remote_misses: remote lookups of a dependency layer that found nothing.
    :param layer_pushes: dependency layers pushed to the remote cache.
    :param layer_bytes_pulled: compressed bytes of the layers pulled.
    """

    local_hits: int = 0
    builds: int = 0
    remote_hits: int = 0
    remote_misses: int = 0
    remote_pushes: int = 0
    remote_refused: int = 0
    remote_errors: int = 0
    bytes_pulled: int = 0
    seconds_saved: float = 0.0
    layer_local_hits: int = 0
    layer_remote_hits: int = 0
    layer_remote_misses: int = 0
    layer_pushes: int = 0
    layer_bytes_pulled: int = 0


def _path(cache: Cache) -> Path:
    return cache.bucket("stats") / _FILE


def read_stats(cache: Cache) -> CacheStats:
    """The totals recorded in ``cache`` (zeros when none or unreadable)."""
    try:
        data = json.loads(_path(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CacheStats()
    stats = CacheStats()
    for field in fields(CacheStats):
        value = data.get(field.name) if isinstance(data, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(stats, field.name, type(getattr(stats, field.name))(value))
    return stats


def record(cache: Cache, **counts: float) -> None:
    """Add ``counts`` (:class:`CacheStats` field → amount) to the totals in ``cache``.

    :raises KeyError: for a name that is not a :class:`CacheStats` field (a bug).
    """
    known = {field.name for field in fields(CacheStats)}
    unknown = set(counts) - known
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    from filelock import FileLock, Timeout

    from shipyard.atomic import atomic_write_text
    from shipyard.errors import ShipyardError

    try:
        path = _path(cache)
        with FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT):
            stats = read_stats(cache)
            for name, amount in counts.items():
                current = getattr(stats, name)
                setattr(stats, name, type(current)(current + amount))
            atomic_write_text(path, json.dumps(asdict(stats), indent=2) + "\n", fsync=False)
    except (OSError, Timeout, ShipyardError):
        return  # a lost count, never a failed command
