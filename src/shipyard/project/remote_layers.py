"""``image build``'s dependency layers in the team cache (``remote-cache``).

Each dependency layer is one OCI artifact in the remote cache's repository, tagged
:func:`~shipyard.cache.remote.layer_tag` (``layer-<key>``, the key of
:func:`~shipyard.image.dependency_layer.dependency_layer_key`)::

    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/vnd.shipyard.image-layer.v1",
     "config": <the empty descriptor, application/vnd.oci.empty.v1+json>,
     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                 "digest": …, "size": …,
                 "annotations": {"dev.shipyard.diff-id", "dev.shipyard.uncompressed-size",
                                 "dev.shipyard.files"}}],
     "annotations": {"org.opencontainers.image.title": "dependencies (linux/amd64)",
                     "dev.shipyard.key", "dev.shipyard.layer-format",
                     "org.opencontainers.image.created"}}

The layer blob is the very blob an image names (same media type, same digest), so a
registry that holds both stores it once. A pulled blob is checked against the
manifest's digest while it streams, then uncompressed and checked against the
diff_id and size the annotations give (the image config records that diff_id); any
mismatch refuses the artifact and the layer is packed here. Pushing, faults and
"never overwrite a tag", signing (``remote-cache-sign-key``), the signature required
by ``remote-cache-public-key`` (checked before the blob is downloaded) and the age
``cache prune --remote`` reads all work as for wheels
(:mod:`shipyard.project.remote_cache`, whose per-command state this shares, so a dead
registry is reported once).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cache.remote import LAYER_FORMAT, RemoteLayer, layer_tag
from shipyard.cache.stats import record
from shipyard.errors import ImageError
from shipyard.project.remote_cache import (
    CREATED,
    TITLE,
    OciWheelCache,
    _is_fault,
    _retrying,
    artifact_manifest,
    remote_wheel_cache,
)

if TYPE_CHECKING:
    from shipyard.project.services import Services

__all__ = ["LAYER_ARTIFACT_TYPE", "OciLayerCache", "remote_layer_cache"]

LAYER_ARTIFACT_TYPE = "application/vnd.shipyard.image-layer.v1"
_PREFIX = "dev.shipyard."
#: the layer media types a pulled artifact may carry (what ``image/oci`` can open)
_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.v1.tar",
)


class OciLayerCache:
    """A :class:`~shipyard.cache.remote.RemoteLayerCache` on the remote cache's
    repository, sharing the wheel cache's client, settings and fault state.

    :param wheels: the command's remote wheel cache (:func:`remote_wheel_cache`).
    """

    def __init__(self, wheels: OciWheelCache) -> None:
        self.wheels = wheels
        self.where = wheels.where

    def pull_layer(self, key: str, *, label: str, blobs: Path) -> RemoteLayer | None:
        """See :meth:`~shipyard.cache.remote.RemoteLayerCache.pull_layer`."""
        from shipyard.image.oci import BlobStore

        wheels = self.wheels
        store = BlobStore(blobs)
        try:
            client = wheels._connect()
            if client is None:
                return None
            fetched = wheels._fetch(client, layer_tag(key))
            if fetched is None:
                record(wheels.cache, layer_remote_misses=1)
                return None
            manifest, data = fetched
            layer, why = _described_layer(manifest, key)
            if layer is not None and wheels.trusted is not None:
                why = wheels._untrusted(client, data, store)
            if layer is None or why:
                self._refused(label, why)
                return None
            _retrying(lambda: client.fetch_blob(layer.digest, store))
        except ImageError as exc:
            if _is_fault(exc):
                wheels._fault(exc)
            else:  # the blob does not hash to the digest the manifest names
                self._refused(label, exc.message.rstrip("."))
            return None
        why = _check_contents(store.path(layer.digest), layer)
        if why:
            self._refused(label, why)
            return None
        record(wheels.cache, layer_remote_hits=1, layer_bytes_pulled=layer.size)
        wheels.reporter.notice(
            f"Reused the {label} layer from the remote cache {self.where} "
            f"({_size(layer.size)}, {layer.files} files, nothing installed)"
        )
        return layer

    def _refused(self, label: str, why: str) -> None:
        record(self.wheels.cache, remote_refused=1)
        self.wheels.reporter.warning(
            f"The remote cache's {label} layer was refused: {why}. It is packed here instead."
        )

    def push_layer(self, key: str, layer: RemoteLayer, blob: Path, *, label: str) -> None:
        """See :meth:`~shipyard.cache.remote.RemoteLayerCache.push_layer`."""
        wheels = self.wheels
        if not wheels.push_enabled:
            return
        if not wheels.push_artifact(
            layer_tag(key),
            blob,
            layer.digest,
            lambda created: _manifest_bytes(key, layer, label, created),
        ):
            return
        record(wheels.cache, layer_pushes=1)
        signed = ", signed" if wheels.signer is not None else ""
        wheels.reporter.notice(
            f"Pushed the {label} layer to the remote cache {self.where} "
            f"({_size(layer.size)}{signed})"
        )


def _manifest_bytes(key: str, layer: RemoteLayer, label: str, created: str) -> bytes:
    """The artifact manifest of ``layer`` (canonical JSON); ``created`` is RFC 3339."""
    return artifact_manifest(
        LAYER_ARTIFACT_TYPE,
        {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size},
        {
            TITLE: label,
            _PREFIX + "key": key,
            _PREFIX + "layer-format": str(LAYER_FORMAT),
            CREATED: created,
        },
        layer_annotations={
            _PREFIX + "diff-id": layer.diff_id,
            _PREFIX + "uncompressed-size": str(layer.uncompressed_size),
            _PREFIX + "files": str(layer.files),
        },
    )


def _described_layer(manifest: dict[str, Any], key: str) -> tuple[RemoteLayer | None, str]:
    """The layer an artifact manifest describes, or ``None`` and why not."""
    annotations = manifest.get("annotations")
    layers = manifest.get("layers")
    if manifest.get("artifactType") != LAYER_ARTIFACT_TYPE or not isinstance(annotations, dict):
        return None, "it is not a shipyard image-layer artifact"
    if annotations.get(_PREFIX + "key") != key:
        return None, "its manifest is for other inputs"
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return None, "its manifest does not hold exactly one layer"
    entry = layers[0]
    notes = entry.get("annotations") or {}
    digest, diff_id = entry.get("digest"), notes.get(_PREFIX + "diff-id")
    try:
        size = int(entry["size"])
        uncompressed = int(notes[_PREFIX + "uncompressed-size"])
        files = int(notes[_PREFIX + "files"])
    except (KeyError, TypeError, ValueError):
        return None, "its manifest lacks the layer's sizes"
    if (
        entry.get("mediaType") not in _LAYER_TYPES
        or not isinstance(digest, str)
        or not digest.startswith("sha256:")
        or not isinstance(diff_id, str)
        or not diff_id.startswith("sha256:")
    ):
        return None, "its manifest does not describe an image layer"
    return RemoteLayer(
        digest=digest,
        diff_id=diff_id,
        size=size,
        uncompressed_size=uncompressed,
        files=files,
        media_type=str(entry["mediaType"]),
    ), ""


def _check_contents(path: Path, layer: RemoteLayer) -> str:
    """Why the blob at ``path`` is not ``layer`` (its size, or its uncompressed
    digest and size), or ``""`` when it is."""
    from shipyard.image.oci import open_layer

    try:
        if path.stat().st_size != layer.size:
            return f"the blob has {path.stat().st_size} bytes, not {layer.size}"
        digest = hashlib.sha256()
        count = 0
        with open_layer(path, layer.media_type) as reader:
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                digest.update(chunk)
                count += len(chunk)
    except Exception as exc:  # gzip/zlib/zstd errors of a corrupt blob, OSError
        return f"the blob cannot be uncompressed ({exc})"
    if "sha256:" + digest.hexdigest() != layer.diff_id or count != layer.uncompressed_size:
        return "the blob's uncompressed contents differ from the diff_id its manifest names"
    return ""


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def remote_layer_cache(services: Services) -> OciLayerCache | None:
    """The command's remote cache of dependency layers (the ``remote-cache`` setting,
    sharing :func:`remote_wheel_cache`'s per-command state), or ``None`` when none is
    set or the command is offline.

    :raises UsageError: when ``remote-cache`` is not an ``oci://`` repository.
    """
    wheels = remote_wheel_cache(services)
    return None if wheels is None else OciLayerCache(wheels)
