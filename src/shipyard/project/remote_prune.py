"""``cache prune --remote``: delete the remote cache's artifacts older than an age.

Every tag of the ``remote-cache`` repository is read; a shipyard artifact (an
``artifactType`` under ``application/vnd.shipyard.``) whose
``org.opencontainers.image.created`` annotation is older than the cutoff is deleted by
digest (OCI Distribution Specification: ``DELETE /v2/<name>/manifests/<digest>``), and
then its cosign signature (tag ``sha256-<hex>.sig``). A signature whose artifact is gone
is deleted once it is itself older than the cutoff (a younger one may belong to an
artifact being pushed right now: signatures go first). Artifacts without a creation
time (pushed before shipyard wrote one) and anything else in the repository are kept.

The registry frees the blobs at its own garbage collection (``docker-registry
garbage-collect``, or the hosted registry's policy); blobs are shared between
artifacts, so they are never deleted here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.errors import ImageError, UsageError

if TYPE_CHECKING:
    from shipyard.image.registry import RegistryClient
    from shipyard.project.services import Services

__all__ = ["PrunedArtifact", "RemotePrune", "created_time", "parse_age", "prune_remote_cache"]

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SHIPYARD_TYPES = "application/vnd.shipyard."
_SIGNATURE_TAG = re.compile(r"^sha256-([0-9a-f]{64})\.sig$")
_CREATED = "org.opencontainers.image.created"


def created_time(text: str | None) -> str:
    """The ``org.opencontainers.image.created`` a push writes (RFC 3339, UTC, seconds):
    ``text`` (``SHIPYARD_REMOTE_CACHE_CREATED``) when given, else the current time.

    :raises UsageError: when ``text`` is not an RFC 3339 time.
    """
    from shipyard.settings import parse_datetime

    if text is None or not text.strip():
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        value = parse_datetime(text.strip())
    except UsageError as exc:
        raise UsageError(
            f"Invalid value in SHIPYARD_REMOTE_CACHE_CREATED: {text!r} is not a time.",
            hint="Write an RFC 3339 time like 2024-06-01T12:00:00Z, or unset it.",
        ) from exc
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_age(text: str) -> timedelta:
    """An age like ``30d``: a whole number and a unit, ``s``/``m``/``h``/``d``/``w``.

    :raises UsageError: for anything else.
    """
    match = _AGE.match(text)
    if match is None:
        raise UsageError(
            f"{text!r} is not an age.",
            context="--older-than",
            hint="Write a number and a unit: 30d (days), 12h (hours), 2w (weeks), 90m, 45s.",
        )
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


@dataclass(frozen=True, slots=True)
class PrunedArtifact:
    """One manifest deleted (or, with ``--dry-run``, that would be).

    :param tag: its tag; :param digest: its ``sha256:`` digest.
    :param created: its creation time; :param signature: True for a cosign signature.
    """

    tag: str
    digest: str
    created: datetime
    signature: bool


@dataclass(slots=True)
class RemotePrune:
    """What :func:`prune_remote_cache` did.

    :param where: ``registry/repository``; :param cutoff: artifacts created before it go.
    :param removed: the manifests deleted (or to delete), artifacts before signatures.
    :param kept: how many tags stay; :param undated: tags kept for lack of a creation time.
    """

    where: str
    cutoff: datetime
    removed: list[PrunedArtifact] = field(default_factory=list)
    kept: int = 0
    undated: list[str] = field(default_factory=list)


def prune_remote_cache(
    services: Services, older_than: timedelta, *, dry_run: bool, now: datetime | None = None
) -> RemotePrune:
    """Delete the remote cache's artifacts created more than ``older_than`` ago (see the
    module's text), or with ``dry_run`` only say which.

    :raises UsageError: when no ``remote-cache`` is set, or the command is offline.
    :raises ImageError: when the registry cannot be reached or refuses a listing or a
        delete (405: deletes are turned off on it).
    """
    from shipyard.image.registry import RegistryAccess, RegistryClient
    from shipyard.project.remote_cache import parse_remote_cache

    settings = services.settings
    if not settings.remote_cache or settings.offline:
        raise UsageError(
            "There is no remote cache to prune"
            + (" offline." if settings.offline and settings.remote_cache else "."),
            context="remote-cache / SHIPYARD_REMOTE_CACHE",
            hint="Set remote-cache (oci://registry/repository) in [tool.shipyard] or "
            "SHIPYARD_REMOTE_CACHE, and run it online.",
        )
    reference = parse_remote_cache(settings.remote_cache)
    access = RegistryAccess(
        username=settings.registry_username,
        password=settings.registry_password,
        insecure_registries=tuple(settings.insecure_registries),
        timeout=max(float(settings.remote_cache_timeout), 30.0),
    )
    client = RegistryClient(reference, access, push=True)
    cutoff = (now or datetime.now(UTC)) - older_than
    result = RemotePrune(f"{reference.registry}/{reference.repository}", cutoff)

    tags = sorted(client.tags())
    artifacts: list[PrunedArtifact] = []
    signatures: dict[str, tuple[str, str, datetime | None]] = {}  # subject -> tag, digest, time
    present: set[str] = set()  # digests that stay
    for tag in tags:
        try:
            manifest, digest = _read(client, tag)
        except ImageError as exc:
            if getattr(getattr(exc.__cause__, "response", None), "status_code", None) == 404:
                continue  # deleted since the listing (another prune)
            raise
        created = _created(manifest)
        signed = _SIGNATURE_TAG.match(tag)
        kind = str(manifest.get("artifactType") or "")
        if signed:
            signatures[f"sha256:{signed[1]}"] = (tag, digest, created)
        elif not kind.startswith(_SHIPYARD_TYPES):
            present.add(digest)
        elif created is None:
            result.undated.append(tag)
            present.add(digest)
        elif created < cutoff:
            artifacts.append(PrunedArtifact(tag, digest, created, False))
        else:
            present.add(digest)

    removed = list(artifacts)
    gone = {artifact.digest for artifact in artifacts}
    for subject, (tag, digest, created) in sorted(signatures.items()):
        if subject in gone:  # its artifact goes: so does it
            removed.append(PrunedArtifact(tag, digest, created or cutoff, True))
        elif subject not in present and created is not None and created < cutoff:
            removed.append(PrunedArtifact(tag, digest, created, True))  # artifact long gone
    result.removed = removed
    result.kept = len(tags) - len(removed)
    if not dry_run:
        for item in removed:
            _delete(client, item.digest)
    return result


def _read(client: RegistryClient, tag: str) -> tuple[dict[str, Any], str]:
    """The manifest ``tag`` names (``{}`` when it is not a JSON object) and its digest."""
    data, _media_type = client.manifest(tag)
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return (manifest if isinstance(manifest, dict) else {}), digest


def _created(manifest: dict[str, Any]) -> datetime | None:
    """The manifest's ``org.opencontainers.image.created`` (UTC), or ``None``."""
    annotations = manifest.get("annotations")
    text = annotations.get(_CREATED) if isinstance(annotations, dict) else None
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _delete(client: RegistryClient, digest: str) -> None:
    """Delete manifest ``digest``; one already gone (another prune) is fine.

    :raises ImageError: when the registry refuses (with a hint for 405).
    """
    try:
        client.delete_manifest(digest)
    except ImageError as exc:
        response = getattr(exc.__cause__, "response", None)
        status = getattr(response, "status_code", None)
        if status == 404:
            return
        if status == 405:
            raise ImageError(
                "The registry does not allow deleting manifests.",
                context=f"{client.reference.registry}/{client.reference.repository}",
                hint="Turn deletes on (docker-registry: storage.delete.enabled: true), or "
                "prune with the registry's own retention policy.",
            ) from exc
        raise
