"""Reuse of ``image build``'s dependency layer: packed once per cache, once per team.

The dependency layer's bytes are fixed by what goes into it (:mod:`shipyard.image.layers`
makes the tar reproducible), so :func:`dependency_layer_key` names it by those inputs:

- each selected distribution: name, version, and its file's sha256 (a wheel, or an sdist
  built here) or, for a git source, the URL pinned to its commit; whether it was
  requested directly (the installer writes ``REQUESTED`` for those);
- the image platform, the interpreter's path and full version, its C library and most
  specific wheel tag (the ``/app/.venv`` skeleton and the scripts point at it);
- the layout (``/app/.venv``), the tar timestamp (``SOURCE_DATE_EPOCH``), shipyard's
  version and :data:`~shipyard.cache.remote.LAYER_FORMAT`.

A layer is found first in this cache (a small JSON record per key next to the blobs,
``oci-*/layers/<key>.json``, kept only while its blob is there), then in the remote
cache (:class:`~shipyard.cache.remote.RemoteLayerCache`); only on a miss are the
distributions installed into a staging tree and packed, and the new layer recorded
here and offered to the remote cache. Conda prefixes are not keyed (always packed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.cache.remote import LAYER_FORMAT, RemoteLayer, RemoteLayerCache
from shipyard.image.layers import Layer
from shipyard.image.oci import BlobStore, Platform

if TYPE_CHECKING:
    from shipyard.cache import Cache
    from shipyard.image.base import BaseFacts
    from shipyard.models import LockedDistribution
    from shipyard.reporting import Reporter

__all__ = ["DependencyLayers", "dependency_layer_key"]


def dependency_layer_key(
    dists: Sequence[LockedDistribution],
    *,
    requested: Collection[str],
    platform: Platform,
    facts: BaseFacts,
    tags: Sequence[str],
    layout: str,
    epoch: int,
) -> str | None:
    """The key of the dependency layer these inputs pack to: 64 hex digits (sha256 of
    their canonical JSON), or ``None`` when a distribution's content is not pinned by
    the lock (no sha256 and no commit), so the layer must be packed.

    :param dists: the distributions the layer holds (directory packages excluded).
    :param requested: canonical names installed as requested (``REQUESTED`` files).
    :param tags: the image interpreter's wheel tags, most specific first.
    :param layout: the environment's path in the image (``/app/.venv``).
    :param epoch: the timestamp of every tar entry (seconds since 1970).
    """
    from shipyard import __version__

    entries = []
    for dist in sorted(dists, key=lambda d: (d.name, d.version or "")):
        if dist.sha256:
            content = f"sha256:{dist.sha256}"
        elif dist.vcs and dist.url:
            content = dist.url
        else:
            return None
        entries.append([dist.name, dist.version, content, dist.is_wheel, dist.name in requested])
    inputs = {
        "format": LAYER_FORMAT,
        "shipyard": __version__,
        "platform": str(platform),
        "python": [facts.python, facts.python_version],
        "libc": [list(facts.glibc or ()), list(facts.musl or ())],
        "tag": tags[0] if tags else "",
        "layout": layout,
        "epoch": epoch,
        "distributions": entries,
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class DependencyLayers:
    """Finds and keeps dependency layers by key, in the local cache and the remote one.

    :param store: the blob store layers live in (the cache's ``oci`` bucket).
    :param records: the directory of the per-key records.
    :param remote: the remote cache, or ``None``.
    :param cache: for the ``cache stats`` counters; :param reporter: told about reuse.
    """

    def __init__(
        self,
        store: BlobStore,
        records: Path,
        remote: RemoteLayerCache | None,
        *,
        cache: Cache,
        reporter: Reporter,
    ) -> None:
        self.store = store
        self.records = records
        self.remote = remote
        self.cache = cache
        self.reporter = reporter

    def find(self, key: str, *, label: str) -> Layer | None:
        """The layer packed for ``key`` before, here or by another runner (its blob then
        put into :attr:`store`), or ``None``: pack it and call :meth:`keep`.

        :param label: what the layer is, for messages (``dependencies for linux/amd64``).
        """
        from shipyard.cache.stats import record

        layer = self._local(key)
        if layer is not None:
            record(self.cache, layer_local_hits=1)
            self.reporter.notice(f"Reused the {label} layer from the cache ({_size(layer)})")
            if self.remote is not None:  # a layer packed before pushing was turned on
                self.remote.push_layer(
                    key, _remote(layer), self.store.path(layer.digest), label=label
                )
            return layer
        if self.remote is None:
            return None
        pulled = self.remote.pull_layer(key, label=label, blobs=self.store.root)
        if pulled is None or not self.store.has(pulled.digest):
            return None
        layer = Layer(
            digest=pulled.digest,
            diff_id=pulled.diff_id,
            size=pulled.size,
            uncompressed_size=pulled.uncompressed_size,
            files=pulled.files,
            media_type=pulled.media_type,
        )
        self._record(key, layer)
        return layer

    def keep(self, key: str, layer: Layer, *, label: str) -> None:
        """Remember a layer just packed for ``key`` and offer it to the remote cache."""
        self._record(key, layer)
        if self.remote is not None:
            self.remote.push_layer(key, _remote(layer), self.store.path(layer.digest), label=label)

    def _local(self, key: str) -> Layer | None:
        try:
            data = json.loads((self.records / f"{key}.json").read_text(encoding="utf-8"))
            layer = Layer(
                digest=str(data["digest"]),
                diff_id=str(data["diff_id"]),
                size=int(data["size"]),
                uncompressed_size=int(data["uncompressed_size"]),
                files=int(data["files"]),
                media_type=str(data["media_type"]),
            )
            present = self.store.has(layer.digest)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not present or self.store.path(layer.digest).stat().st_size != layer.size:
            return None  # pruned since: packed (or pulled) again
        return layer

    def _record(self, key: str, layer: Layer) -> None:
        from shipyard.atomic import atomic_write_text
        from shipyard.errors import ShipyardError

        data = {
            "digest": layer.digest,
            "diff_id": layer.diff_id,
            "size": layer.size,
            "uncompressed_size": layer.uncompressed_size,
            "files": layer.files,
            "media_type": layer.media_type,
        }
        try:
            self.records.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                self.records / f"{key}.json", json.dumps(data, sort_keys=True), fsync=False
            )
        except (OSError, ShipyardError):
            return  # only the reuse is lost: the next build packs it again


def _remote(layer: Layer) -> RemoteLayer:
    return RemoteLayer(
        digest=layer.digest,
        diff_id=layer.diff_id,
        size=layer.size,
        uncompressed_size=layer.uncompressed_size,
        files=layer.files,
        media_type=layer.media_type,
    )


def _size(layer: Layer) -> str:
    amount = f"{layer.size / 1e6:.1f} MB" if layer.size >= 1e6 else f"{layer.size / 1e3:.1f} kB"
    return f"{amount}, {layer.files} files, nothing installed"
