"""The remote tier of the built-wheel cache: what the installer asks of it, and its keys.

A team shares wheels built from sdists and git sources through an OCI registry
(``remote-cache = "oci://registry.example.com/team/shipyard-cache"``). Before
building, the installer asks the remote cache for the wheel; on a miss it builds and,
when pushing is on, hands the wheel back. The registry client lives higher up
(:mod:`shipyard.project.remote_cache`, over :mod:`shipyard.image.registry`); the
installer sees only :class:`RemoteWheelCache`, so ``install/`` stays below ``image/``.

An artifact is keyed by everything that determines the build's result: the source
(an sdist's sha256, or a git URL pinned to its commit — both fix the build-system
requirements the source declares), the interpreter's most specific tag, and
:data:`REMOTE_FORMAT`. Its tag in the repository is readable and carries the whole
key (:func:`artifact_tag`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "LAYER_FORMAT",
    "REMOTE_FORMAT",
    "RemoteLayer",
    "RemoteLayerCache",
    "RemoteWheelCache",
    "artifact_tag",
    "layer_tag",
    "remote_key",
]

#: bump when the artifact format (manifest, annotations, key inputs) changes
REMOTE_FORMAT = 1
#: bump when an image layer's bytes or its artifact change for the same inputs (the
#: tar rules of :mod:`shipyard.image.layers`, the staging layout, the key's inputs)
LAYER_FORMAT = 1

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def remote_key(source: str, build_key: str) -> str:
    """The artifact key: sha256 (hex) of the source key, the interpreter tag and
    :data:`REMOTE_FORMAT`.

    :param source: an sdist's sha256, or ``git-<sha256 of the pinned URL>``.
    :param build_key: the interpreter's most specific tag (``cp312-cp312-manylinux_2_36_x86_64``).
    """
    text = json.dumps(
        {"format": REMOTE_FORMAT, "source": source, "interpreter": build_key}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def artifact_tag(name: str, version: str | None, key: str) -> str:
    """The OCI tag of an artifact: ``<name>-<version>-<key>`` in the tag alphabet
    (``[A-Za-z0-9_.-]``, at most 128 characters; the name and version are shortened
    to fit, the 64-digit key never is).

    :param key: from :func:`remote_key`.
    """
    label = _TAG_UNSAFE.sub("_", f"{name}-{version or 'unversioned'}").lstrip(".-")
    return f"{label[: 128 - len(key) - 1]}-{key}"


class RemoteWheelCache(Protocol):
    """The remote tier as the installer uses it. No method raises for the registry's
    faults: an unreachable, slow or refusing registry is reported once and then left
    alone for the rest of the command, and the caller builds."""

    def pull(
        self, source: str, build_key: str, *, name: str, version: str | None, into: Path
    ) -> Path | None:
        """Download the wheel built from ``source`` for ``build_key`` into the empty
        directory ``into``, checked against the digest the registry's manifest names.

        :returns: the wheel's path (named as the manifest's title says), or ``None`` on
            a miss, a fault or a refused artifact (reported).
        """
        ...

    def refused(self, name: str, version: str | None, why: str) -> None:
        """The caller found the pulled wheel unusable (``why``, one clause): report it
        (it is built here instead)."""
        ...

    def push(
        self,
        source: str,
        build_key: str,
        wheel: Path,
        *,
        name: str,
        version: str | None,
        build_seconds: float,
    ) -> None:
        """Offer a wheel just built here; pushed only when pushing is on and the
        registry lacks it. ``build_seconds`` is how long the build took."""
        ...


def layer_tag(key: str) -> str:
    """The OCI tag of an image-layer artifact: ``layer-<key>``.

    :param key: 64 hex digits (:func:`shipyard.image.dependency_layer.dependency_layer_key`).
    """
    return f"layer-{key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteLayer:
    """An image layer blob as the remote cache hands it over.

    :param digest: ``sha256:`` of the compressed blob; :param diff_id: ``sha256:`` of
        the uncompressed tar (the image config's ``rootfs.diff_ids`` entry).
    :param size: compressed bytes; :param uncompressed_size: tar bytes.
    :param files: regular files in it; :param media_type: the layer's OCI media type.
    """

    digest: str
    diff_id: str
    size: int
    uncompressed_size: int
    files: int
    media_type: str


class RemoteLayerCache(Protocol):
    """The remote tier of ``image build``'s dependency layers: one OCI artifact per
    layer key, tagged :func:`layer_tag`. Like :class:`RemoteWheelCache`, no method
    raises for the registry's faults (one warning, then the layer is built here)."""

    def pull_layer(self, key: str, *, label: str, blobs: Path) -> RemoteLayer | None:
        """Download the layer stored under ``key`` into the OCI blob directory ``blobs``
        (``blobs/sha256/<hex>``), checked against the manifest's digest and, once
        uncompressed, its diff_id and size.

        :param label: what the layer is, for messages (``dependencies for linux/amd64``).
        :returns: the layer, or ``None`` on a miss, a fault or a refused artifact.
        """
        ...

    def push_layer(self, key: str, layer: RemoteLayer, blob: Path, *, label: str) -> None:
        """Offer a layer just packed here (its compressed blob at ``blob``); pushed only
        when pushing is on and the registry has no artifact under ``key`` (a tag is
        never overwritten)."""
        ...
