"""Downloaded archives in the team cache (``remote-cache-include``).

With ``remote-cache-include = ["interpreters", "conda-packages"]`` the managed CPython
builds and the conda packages a command downloads are shared through the remote
cache's repository too (their origin is public already, so they are shared only when
asked). Each archive is one OCI artifact tagged
:func:`~shipyard.cache.remote_blobs.blob_tag` (``blob-sha256-<hex>``)::

    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/vnd.shipyard.blob.v1",
     "config": <the empty descriptor, application/vnd.oci.empty.v1+json>,
     "layers": [{"mediaType": "application/octet-stream", "digest": "sha256:<hex>",
                 "size": …, "annotations": {"org.opencontainers.image.title": <file>}}],
     "annotations": {"org.opencontainers.image.title": <file>, "dev.shipyard.label",
                     "org.opencontainers.image.created"}}

A pulled artifact is used only when its one layer's digest is the sha256 the puller
expects (the download table's, the lock's) and the bytes hash to it; anything else
is refused with a warning and the archive is downloaded from its origin. Pushing,
faults, "never overwrite a tag", signing and the trusted key work as for wheels
(:mod:`shipyard.project.remote_cache`, whose per-command client and fault state this
shares).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cache.remote_blobs import blob_tag
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
from shipyard.settings import REMOTE_CACHE_INCLUDES

if TYPE_CHECKING:
    from shipyard.project.services import Services

__all__ = ["BLOB_ARTIFACT_TYPE", "INCLUDE_CHOICES", "OciBlobCache", "remote_blob_cache"]

BLOB_ARTIFACT_TYPE = "application/vnd.shipyard.blob.v1"
BLOB_LAYER = "application/octet-stream"
#: what ``remote-cache-include`` may name
INCLUDE_CHOICES = REMOTE_CACHE_INCLUDES
_LABEL = "dev.shipyard.label"


class OciBlobCache:
    """A :class:`~shipyard.cache.remote_blobs.RemoteBlobCache` on the remote cache's
    repository, sharing the wheel cache's client, settings and fault state.

    :param wheels: the command's remote wheel cache (:func:`remote_wheel_cache`).
    """

    def __init__(self, wheels: OciWheelCache) -> None:
        self.wheels = wheels
        self.where = wheels.where

    def pull_blob(self, sha256: str, *, filename: str, label: str, into: Path) -> Path | None:
        """See :meth:`~shipyard.cache.remote_blobs.RemoteBlobCache.pull_blob`."""
        from shipyard.image.oci import BlobStore

        wheels = self.wheels
        digest = "sha256:" + sha256.lower()
        try:
            tag = blob_tag(sha256)
        except ValueError:
            return None
        store = BlobStore(Path(tempfile.mkdtemp(prefix=".remote-", dir=into)))
        try:
            client = wheels._connect()
            if client is None:
                return None
            fetched = wheels._fetch(client, tag)
            if fetched is None:
                return None
            manifest, data = fetched
            why = _blob_problem(manifest, digest)
            if not why and wheels.trusted is not None:
                why = wheels._untrusted(client, data, store)
            if why:
                self._refused(label, why)
                return None
            _retrying(lambda: client.fetch_blob(digest, store))
            target = into / filename
            store.path(digest).replace(target)
        except ImageError as exc:
            if _is_fault(exc):
                wheels._fault(exc)
            else:  # the blob does not hash to the digest the manifest names
                self._refused(label, exc.message.rstrip("."))
            return None
        finally:
            _remove_tree(store.root)
        with target.open("rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual != sha256.lower():
            target.unlink(missing_ok=True)
            self._refused(label, f"its file has sha256 {actual}, not {sha256.lower()}")
            return None
        size = target.stat().st_size
        wheels.reporter.notice(
            f"Fetched {label} ({filename}, {size / 1e6:.1f} MB) from the remote cache {self.where}"
        )
        return target

    def _refused(self, label: str, why: str) -> None:
        record(self.wheels.cache, remote_refused=1)
        self.wheels.reporter.warning(
            f"The remote cache's copy of {label} was refused: {why}. It is downloaded "
            "from its origin instead."
        )

    def push_blob(self, path: Path, sha256: str, *, label: str) -> None:
        """See :meth:`~shipyard.cache.remote_blobs.RemoteBlobCache.push_blob`."""
        wheels = self.wheels
        if not wheels.push_enabled:
            return
        try:
            tag = blob_tag(sha256)
        except ValueError:
            return
        digest = "sha256:" + sha256.lower()
        size = path.stat().st_size
        if not wheels.push_artifact(
            tag,
            path,
            digest,
            lambda created: _manifest_bytes(path.name, digest, size, label, created),
        ):
            return
        signed = " (signed)" if wheels.signer is not None else ""
        wheels.reporter.notice(f"Pushed {path.name} to the remote cache {self.where}{signed}")


def _manifest_bytes(filename: str, digest: str, size: int, label: str, created: str) -> bytes:
    """The artifact manifest of one archive (canonical JSON); ``created`` is RFC 3339."""
    return artifact_manifest(
        BLOB_ARTIFACT_TYPE,
        {"mediaType": BLOB_LAYER, "digest": digest, "size": size},
        {TITLE: filename, _LABEL: label, CREATED: created},
        layer_annotations={TITLE: filename},
    )


def _blob_problem(manifest: dict[str, Any], digest: str) -> str:
    """Why an artifact manifest is not the archive ``digest`` names (``""`` when it is)."""
    layers = manifest.get("layers")
    if manifest.get("artifactType") != BLOB_ARTIFACT_TYPE:
        return "it is not a shipyard archive artifact"
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return "its manifest does not hold exactly one file"
    if layers[0].get("digest") != digest:
        return f"its file is {layers[0].get('digest')}, not the expected {digest}"
    return ""


def _remove_tree(root: Path) -> None:
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def remote_blob_cache(services: Services, kind: str) -> OciBlobCache | None:
    """The command's remote cache for downloaded archives of ``kind``, or ``None`` when
    ``remote-cache-include`` does not name it, no remote cache is set, or the command
    is offline.

    :param kind: one of :data:`INCLUDE_CHOICES`.
    :raises UsageError: as :func:`~shipyard.project.remote_cache.remote_wheel_cache`.
    """
    if kind not in services.settings.remote_cache_include:
        return None
    wheels = remote_wheel_cache(services)
    return None if wheels is None else OciBlobCache(wheels)
