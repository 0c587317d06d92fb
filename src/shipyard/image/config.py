"""The OCI side of ``image build``: an image's config and manifest as the image spec
and Docker expect them (``config.Env``, ``WorkingDir``, ``User``, ``Cmd``, labels,
``Healthcheck``, ``rootfs.diff_ids``, ``history``), canonical JSON so the same inputs
give the same digests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.errors import ImageError
from shipyard.image.oci import (
    OCI_CONFIG,
    OCI_MANIFEST,
    TO_OCI,
    BlobStore,
    Descriptor,
    Platform,
    canonical_json,
)
from shipyard.image.staging import APP_DIR, VENV_DIR

if TYPE_CHECKING:
    from shipyard.image.base import BaseImage, PlatformImage
    from shipyard.image.layers import Layer
    from shipyard.project.docker import DockerSettings

__all__ = ["LOCK_LABEL", "ImageManifest", "iso_time", "write_image_manifest"]

#: The label carrying the sha256 of ``pylock.toml``.
LOCK_LABEL = "dev.shipyard.lock.sha256"


def iso_time(seconds: int) -> str:
    """``seconds`` since the epoch as the image spec's UTC RFC 3339 time."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageManifest:
    """A platform image written to the blob store: its manifest's and config's digest
    (``sha256:…``) and the manifest's size in bytes."""

    manifest_digest: str
    manifest_size: int
    config_digest: str


def write_image_manifest(
    store: BlobStore,
    image: PlatformImage,
    base_image: BaseImage,
    layers: Sequence[tuple[str, Layer]],
    *,
    platform: Platform,
    settings: DockerSettings,
    title: str,
    version: str | None,
    command: Sequence[str],
    conda: bool,
    lock_name: str,
    lock_sha256: str,
    epoch: int,
) -> ImageManifest:
    """Write the config and manifest of the base ``image`` plus ``layers`` (role, layer)
    to ``store``.

    The config is the base's with the environment's ``bin`` first on ``PATH``, the
    project's ``env``, ``/app`` as working directory, a non-root user (``user-id``,
    default 10001), ``command`` as ``Cmd``, the OCI title/version/base labels and the
    lock's sha256 (:data:`LOCK_LABEL`), the exposed port and health check from
    ``[tool.shipyard.docker]``, and one history entry per added layer dated ``epoch``
    (``SOURCE_DATE_EPOCH`` seconds).

    :raises ImageError: when the base's config and manifest disagree on its layers.
    """
    base_config = dict(image.config)
    inner = dict(base_config.get("config") or {})
    uid = settings.user_id or 10001
    labels = dict(inner.get("Labels") or {})
    labels.update(
        {
            "org.opencontainers.image.title": title,
            LOCK_LABEL: lock_sha256,
            "org.opencontainers.image.base.name": base_image.name,
        }
    )
    if version:
        labels["org.opencontainers.image.version"] = version
    inner.update(
        {
            "Env": _environment(inner.get("Env"), settings.env, conda=conda),
            "WorkingDir": APP_DIR,
            "User": f"{uid}:{uid}",
            "Cmd": list(command),
            "Entrypoint": None,
            "Labels": labels,
        }
    )
    if settings.port is not None:
        inner["ExposedPorts"] = {**(inner.get("ExposedPorts") or {}), f"{settings.port}/tcp": {}}
    healthcheck = _healthcheck(settings)
    if healthcheck is not None:
        inner["Healthcheck"] = healthcheck
    rootfs = dict(base_config.get("rootfs") or {})
    diff_ids = list(rootfs.get("diff_ids") or [])
    if len(diff_ids) != len(image.layers):
        raise ImageError(
            f"The base image's config lists {len(diff_ids)} layers and its manifest "
            f"{len(image.layers)}.",
            context=base_image.name,
            hint="The base image is damaged; pull or build it again.",
        )
    history = list(base_config.get("history") or [])
    for role, layer in layers:
        diff_ids.append(layer.diff_id)
        history.append(
            {
                "created": iso_time(epoch),
                "created_by": f"shipyard image build: {role} ({lock_name} "
                f"sha256:{lock_sha256[:12]})",
            }
        )
    config = {
        **base_config,
        "created": iso_time(epoch),
        "architecture": platform.architecture,
        "os": platform.os,
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if platform.variant:
        config["variant"] = platform.variant
    config_bytes = canonical_json(config)
    config_digest = store.put_bytes(config_bytes)
    manifest_layers = [
        Descriptor(
            media_type=TO_OCI.get(layer.media_type, layer.media_type),
            digest=layer.digest,
            size=layer.size,
        ).to_json()
        for layer in image.layers
    ] + [
        Descriptor(media_type=layer.media_type, digest=layer.digest, size=layer.size).to_json()
        for _role, layer in layers
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": manifest_layers,
        "annotations": {
            "org.opencontainers.image.base.name": base_image.name,
            "org.opencontainers.image.base.digest": image.manifest_digest,
        },
    }
    manifest_bytes = canonical_json(manifest)
    return ImageManifest(
        manifest_digest=store.put_bytes(manifest_bytes),
        manifest_size=len(manifest_bytes),
        config_digest=config_digest,
    )


def _environment(
    base_env: Any, extra: Sequence[tuple[str, str]], *, conda: bool = False
) -> list[str]:
    """The base's ``Env`` with the environment's ``bin`` first on ``PATH``, Python's
    bytecode and buffering switches, ``VIRTUAL_ENV`` (``CONDA_PREFIX`` for a conda
    prefix), then the project's own values."""
    values: dict[str, str] = {}
    for item in base_env if isinstance(base_env, list) else []:
        if isinstance(item, str) and "=" in item:
            key, value = item.split("=", 1)
            values[key] = value
    path = values.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    values["PATH"] = f"{VENV_DIR}/bin:{path}"
    values["CONDA_PREFIX" if conda else "VIRTUAL_ENV"] = VENV_DIR
    values["PYTHONDONTWRITEBYTECODE"] = "1"
    values["PYTHONUNBUFFERED"] = "1"
    for key, value in extra:
        values[key] = value
    return [f"{key}={value}" for key, value in values.items()]


def _healthcheck(settings: DockerSettings) -> dict[str, Any] | None:
    """Docker's ``Healthcheck`` config object (durations in nanoseconds)."""
    argv = settings.healthcheck_command()
    if argv is None:
        return None
    second = 1_000_000_000
    return {
        "Test": ["CMD", *argv],
        "Interval": 30 * second,
        "Timeout": 5 * second,
        "StartPeriod": 15 * second,
        "Retries": 3,
    }
