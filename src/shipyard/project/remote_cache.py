"""The team cache of built wheels in an OCI registry (``remote-cache``).

Each wheel built from an sdist or a git commit is one OCI artifact (OCI image
manifest v1.1 with an ``artifactType``) tagged :func:`~shipyard.cache.remote.artifact_tag`
in the configured repository::

    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/vnd.shipyard.wheel.v1",
     "config": <the empty descriptor, application/vnd.oci.empty.v1+json>,
     "layers": [{"mediaType": "application/vnd.shipyard.wheel.v1+zip", "digest": …,
                 "size": …, "annotations": {"org.opencontainers.image.title": <wheel>}}],
     "annotations": {"org.opencontainers.image.title": <wheel>,
                     "dev.shipyard.name", "dev.shipyard.version", "dev.shipyard.tags",
                     "dev.shipyard.source", "dev.shipyard.key", "dev.shipyard.build-seconds",
                     "org.opencontainers.image.created"}}

Blobs are content-addressed and uploaded before the manifest that names them, and a
tag that exists is never overwritten, so runners pushing the same artifact at once
leave one consistent tag. A pulled blob is checked against the manifest's digest
(python-dxf while streaming, then the blob store again); the installer then checks the
wheel's name, version and RECORD (:mod:`shipyard.install.prepare`).

With ``remote-cache-sign-key`` a pushing runner signs each artifact's manifest digest
(:mod:`shipyard.image.signing`, cosign's format) before pushing the manifest; with
``remote-cache-public-key`` every pulled artifact must carry a valid signature by that
key, checked before its wheel is downloaded, else it is refused and built here.

Faults never fail a command: the first time the registry cannot be reached, answers
too slowly (``remote-cache-timeout`` seconds per request) or refuses the
credentials, one warning is shown and the remote cache is left alone for the rest
of the command; everything is built locally.

This module sits in ``project/`` because it joins the cache's interface
(:class:`~shipyard.cache.remote.RemoteWheelCache`, used by ``install/``) to the
registry client of ``image/``, which is above ``install/`` and ``cache/``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipyard.cache import Cache
from shipyard.cache.remote import artifact_tag, remote_key
from shipyard.cache.stats import record
from shipyard.errors import ImageError, UsageError
from shipyard.project.remote_prune import created_time
from shipyard.reporting import Reporter

if TYPE_CHECKING:
    from shipyard.image.oci import BlobStore
    from shipyard.image.registry import ImageReference, RegistryAccess, RegistryClient
    from shipyard.image.signing import PrivateKey, PublicKey
    from shipyard.project.services import Services

__all__ = ["OciWheelCache", "artifact_manifest", "parse_remote_cache", "remote_wheel_cache"]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE = "application/vnd.shipyard.wheel.v1"
WHEEL_LAYER = "application/vnd.shipyard.wheel.v1+zip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
_EMPTY = b"{}"
_EMPTY_DIGEST = "sha256:" + hashlib.sha256(_EMPTY).hexdigest()
TITLE = "org.opencontainers.image.title"
CREATED = "org.opencontainers.image.created"
_PREFIX = "dev.shipyard."


def parse_remote_cache(location: str) -> ImageReference:
    """The repository ``oci://host[:port]/path`` names (the tag is a placeholder).

    :raises UsageError: when ``location`` is not such a URL.
    """
    from shipyard.image.registry import ImageReference

    text = location.strip()
    rest = text.removeprefix("oci://")
    host = rest.partition("/")[0]
    problem = None
    if not text.startswith("oci://"):
        problem = "it must start with oci://"
    elif "." not in host and ":" not in host and host != "localhost":
        problem = "it must name the registry's host (with a dot or a port)"
    elif "@" in rest or rest.rsplit("/", 1)[-1].count(":"):
        problem = "it names a repository, without a tag or digest"
    if problem is None:
        try:
            return ImageReference.parse(f"{rest}:placeholder")
        except ImageError as exc:
            problem = exc.message.rstrip(".")
    raise UsageError(
        f"The remote cache {location!r} is not a registry repository: {problem}.",
        context="remote-cache / SHIPYARD_REMOTE_CACHE",
        hint="Write it as oci://registry.example.com/team/shipyard-cache, or leave it unset.",
    )


class OciWheelCache:
    """A :class:`~shipyard.cache.remote.RemoteWheelCache` on one registry repository;
    one per command, safe to use from several build threads.

    :param reference: the repository (from :func:`parse_remote_cache`).
    :param access: credentials, insecure registries and the per-request timeout.
    :param push: push wheels built here (``remote-cache-push``).
    :param cache: the local cache, for the counters ``cache stats`` shows.
    :param reporter: told about hits, pushes, refusals and (once) faults.
    :param signer: signs what is pushed (``remote-cache-sign-key``), or ``None``.
    :param trusted: pulled artifacts must be signed by this key
        (``remote-cache-public-key``), or ``None`` to take unsigned ones.
    :param created: RFC 3339 ``org.opencontainers.image.created`` of what is pushed
        (``SHIPYARD_REMOTE_CACHE_CREATED``), ``None`` for the current time.
    """

    def __init__(
        self,
        reference: ImageReference,
        access: RegistryAccess,
        *,
        push: bool,
        cache: Cache,
        reporter: Reporter,
        signer: PrivateKey | None = None,
        trusted: PublicKey | None = None,
        created: str | None = None,
    ) -> None:
        self.reference = reference
        self.signer = signer
        self.trusted = trusted
        self.created = created
        self.access = access
        self.push_enabled = push
        self.cache = cache
        self.reporter = reporter
        self.where = f"{reference.registry}/{reference.repository}"
        self._lock = threading.Lock()
        self._clients = threading.local()
        self._disabled = False

    def _connect(self) -> RegistryClient | None:
        """This thread's registry client, or ``None`` once the cache is skipped.

        One client per thread: python-dxf keeps its authentication state on the client,
        and threads authenticating one client at once get 401s."""
        from shipyard.image.registry import RegistryClient

        if self._disabled:
            return None
        client: RegistryClient | None = getattr(self._clients, "client", None)
        if client is None:
            client = RegistryClient(self.reference, self.access, push=self.push_enabled)
            self._clients.client = client
        return client

    def _fault(self, exc: ImageError) -> None:
        """Skip the remote cache for the rest of the command, saying why once."""
        with self._lock:
            if self._disabled:
                return
            self._disabled = True
        record(self.cache, remote_errors=1)
        self.reporter.warning(
            f"The remote cache {self.where} is skipped for this command: {exc.message} "
            "Packages are built here instead."
        )

    def pull(
        self, source: str, build_key: str, *, name: str, version: str | None, into: Path
    ) -> Path | None:
        """See :meth:`~shipyard.cache.remote.RemoteWheelCache.pull`."""
        from shipyard.image.oci import BlobStore

        key = remote_key(source, build_key)
        tag = artifact_tag(name, version, key)
        try:
            client = self._connect()
            if client is None:
                return None
            fetched = self._fetch(client, tag)
            if fetched is None:
                record(self.cache, remote_misses=1)
                return None
            manifest, data = fetched
            layer, why = _wheel_layer(manifest, key)
            store = BlobStore(into / "blobs")
            if layer is not None and self.trusted is not None:
                why = self._untrusted(client, data, store)
            if layer is None or why:
                self.refused(name, version, why)
                return None
            _retrying(lambda: client.fetch_blob(str(layer["digest"]), store))
        except ImageError as exc:
            if _is_fault(exc):
                self._fault(exc)
            else:  # the blob does not hash to the digest the manifest names
                self.refused(name, version, exc.message.rstrip("."))
            return None
        wheel: Path = into / str(layer["annotations"][TITLE])
        store.path(str(layer["digest"])).replace(wheel)
        size = wheel.stat().st_size
        try:
            seconds = max(0.0, float(manifest["annotations"].get(_PREFIX + "build-seconds", 0)))
        except (TypeError, ValueError):
            seconds = 0.0
        record(self.cache, remote_hits=1, bytes_pulled=size, seconds_saved=seconds)
        self.reporter.notice(
            f"Fetched {_label(name, version)} from the remote cache {self.where} "
            f"({size / 1e3:.1f} kB, built in {seconds:.1f} s there)"
        )
        return wheel

    def _manifest(self, client: RegistryClient, tag: str) -> dict[str, Any] | None:
        """The manifest ``tag`` names, or ``None`` when the repository lacks it.

        :raises ImageError: for any other failure.
        """
        fetched = self._fetch(client, tag)
        return None if fetched is None else fetched[0]

    def _fetch(self, client: RegistryClient, tag: str) -> tuple[dict[str, Any], bytes] | None:
        """The manifest ``tag`` names, parsed and as its exact bytes (whose sha256 is
        what a signature names), or ``None`` when the repository lacks it.

        :raises ImageError: for any other failure.
        """
        try:
            data, _media_type = _retrying(lambda: client.manifest(tag))
        except ImageError as exc:
            if _status(exc) == 404:
                return None
            raise
        try:
            manifest = json.loads(data)
        except ValueError:
            manifest = None
        return (manifest if isinstance(manifest, dict) else {}), data

    def _untrusted(self, client: RegistryClient, data: bytes, store: BlobStore) -> str:
        """Why the artifact manifest ``data`` lacks a valid signature by the trusted
        key (``""`` when it has one).

        :raises ImageError: when the registry fails while the signature is read.
        """
        from shipyard.image.signing import verify_signature

        assert self.trusted is not None
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        trusted = self.trusted
        return _retrying(lambda: verify_signature(client, trusted, digest=digest, store=store))

    def refused(self, name: str, version: str | None, why: str) -> None:
        """See :meth:`~shipyard.cache.remote.RemoteWheelCache.refused`."""
        record(self.cache, remote_refused=1)
        self.reporter.warning(
            f"The remote cache's wheel of {_label(name, version)} was refused: {why}. "
            "It is built here instead."
        )

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
        """See :meth:`~shipyard.cache.remote.RemoteWheelCache.push`."""
        if not self.push_enabled:
            return
        key = remote_key(source, build_key)
        try:
            with wheel.open("rb") as handle:
                digest = "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
            size = wheel.stat().st_size
        except OSError as exc:
            self._fault(ImageError(f"{exc}."))
            return

        def manifest(created: str) -> bytes:
            return artifact_manifest(
                ARTIFACT_TYPE,
                {"mediaType": WHEEL_LAYER, "digest": digest, "size": size},
                {
                    TITLE: wheel.name,
                    _PREFIX + "name": name,
                    _PREFIX + "version": version or "",
                    _PREFIX + "tags": build_key,
                    _PREFIX + "source": source,
                    _PREFIX + "key": key,
                    _PREFIX + "build-seconds": f"{build_seconds:.3f}",
                    CREATED: created,
                },
                layer_annotations={TITLE: wheel.name},
            )

        if not self.push_artifact(artifact_tag(name, version, key), wheel, digest, manifest):
            return
        record(self.cache, remote_pushes=1)
        signed = " (signed)" if self.signer is not None else ""
        self.reporter.notice(f"Pushed {wheel.name} to the remote cache {self.where}{signed}")

    def push_artifact(
        self, tag: str, blob: Path, digest: str, manifest: Callable[[str], bytes]
    ) -> bool:
        """Push ``blob`` (``digest``) and the artifact manifest ``manifest(created)``
        makes under ``tag``, unless the registry has that tag already (a tag is never
        overwritten), signed when a sign key is set. Blobs go up before the manifest
        that names them; a registry that lost a race with another runner's upload of
        the same blob gets it once more.

        :param manifest: the manifest's bytes for an RFC 3339 creation time.
        :returns: True when pushed; False when the tag was there or the registry
            failed (reported once, as every fault of the command).
        """
        try:
            client = self._connect()
            if client is None or self._manifest(client, tag) is not None:
                return False
            _upload(client, blob, digest)
            if not _retrying(lambda: client.has_blob(_EMPTY_DIGEST)):
                empty = blob.with_name(f".{blob.name}.empty.json")
                empty.write_bytes(_EMPTY)
                try:
                    _upload(client, empty, _EMPTY_DIGEST)
                finally:
                    empty.unlink(missing_ok=True)
            created = self.created or _now()
            data = manifest(created)
            if self.signer is not None:
                self._sign(client, tag, data, created)
            try:
                _retrying(lambda: client.push_manifest(tag, data))
            except ImageError as exc:
                if _status(exc) != 400:
                    raise
                # MANIFEST_BLOB_UNKNOWN: another runner's upload of a blob was still
                # landing when the registry checked; upload what is missing, once more.
                _upload(client, blob, digest)
                _retrying(lambda: client.push_manifest(tag, data))
        except (ImageError, OSError) as exc:
            self._fault(exc if isinstance(exc, ImageError) else ImageError(f"{exc}."))
            return False
        return True

    def _sign(self, client: RegistryClient, tag: str, data: bytes, created: str) -> None:
        """Push the signature of the artifact manifest ``data`` (before the manifest).

        :raises ImageError: when the registry refuses it or fails.
        """
        from shipyard.image.signing import push_signature

        assert self.signer is not None
        signer = self.signer
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        _retrying(
            lambda: push_signature(
                client, signer, digest=digest, size=len(data), tag=tag, created=created
            )
        )


def _upload(client: RegistryClient, path: Path, digest: str) -> None:
    """Upload blob ``digest`` unless the registry has it. Runners uploading the same
    blob at once may see the registry fail one of them (docker-registry answers 500
    when another upload of the digest commits first): the blob being there then is
    success; otherwise the upload is tried once more.

    :raises ImageError: when the blob is still missing after the second try.
    """
    try:
        client.push_blob(path, digest)
    except ImageError:
        if _retrying(lambda: client.has_blob(digest)):
            return
        _retrying(lambda: client.push_blob(path, digest))


_T = TypeVar("_T")
_RETRY_PAUSES = (0.1, 0.4)  # seconds before the second and third tries


def _retrying(call: Callable[[], _T]) -> _T:
    """``call()``, tried again (twice at most, after short pauses) when the registry
    answers 5xx: docker-registry fails a read of a tag another runner is writing at
    that moment. Unreachable registries are not retried (the timeout already passed).

    :raises ImageError: from the last try.
    """
    import time

    for pause in _RETRY_PAUSES:
        try:
            return call()
        except ImageError as exc:
            status = _status(exc)
            if status is None or status < 500:
                raise
        time.sleep(pause)
    return call()


def artifact_manifest(
    artifact_type: str,
    layer: dict[str, Any],
    annotations: dict[str, str],
    *,
    layer_annotations: dict[str, str] | None = None,
) -> bytes:
    """An OCI 1.1 artifact manifest (canonical JSON, ASCII) with the empty config and
    one layer: ``layer`` is its ``mediaType``, ``digest`` and ``size``."""
    descriptor = dict(layer)
    if layer_annotations:
        descriptor["annotations"] = layer_annotations
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": _EMPTY_DIGEST, "size": len(_EMPTY)},
        "layers": [descriptor],
        "annotations": annotations,
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("ascii")


def _now() -> str:
    """The current time as ``org.opencontainers.image.created`` writes it (RFC 3339)."""
    return created_time(None)


def _label(name: str, version: str | None) -> str:
    return f"{name} {version}" if version else name


def _wheel_layer(manifest: dict[str, Any], key: str) -> tuple[dict[str, Any] | None, str]:
    """The wheel's layer descriptor of an artifact manifest, or ``None`` and why not."""
    annotations = manifest.get("annotations")
    layers = manifest.get("layers")
    if manifest.get("artifactType") != ARTIFACT_TYPE or not isinstance(annotations, dict):
        return None, "it is not a shipyard wheel artifact"
    if annotations.get(_PREFIX + "key") != key:
        return None, "its manifest is for another source or interpreter"
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return None, "its manifest does not hold exactly one wheel"
    layer = layers[0]
    title = (layer.get("annotations") or {}).get(TITLE)
    digest = layer.get("digest")
    if (
        layer.get("mediaType") != WHEEL_LAYER
        or not isinstance(title, str)
        or not title.endswith(".whl")
        or "/" in title
        or title.startswith(".")
        or not isinstance(digest, str)
        or not digest.startswith("sha256:")
    ):
        return None, "its manifest does not hold exactly one wheel"
    return layer, ""


def _status(exc: ImageError) -> int | None:
    """The HTTP status behind a registry client error, if any."""
    response = getattr(exc.__cause__, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _is_fault(exc: ImageError) -> bool:
    """True when ``exc`` says the registry is unusable (unreachable, slow, refusing
    the credentials, failing); False when one artifact is bad (a digest mismatch)."""
    import requests
    from dxf.exceptions import DXFUnauthorizedError

    cause = exc.__cause__
    if cause is None:
        return "arrived as" not in exc.message  # BlobStore's digest check
    return isinstance(cause, requests.RequestException | DXFUnauthorizedError)


_PER_COMMAND: weakref.WeakKeyDictionary[Services, OciWheelCache | None] = (
    weakref.WeakKeyDictionary()
)
_PER_COMMAND_LOCK = threading.Lock()


def remote_wheel_cache(services: Services) -> OciWheelCache | None:
    """The command's remote cache from the settings (one per :class:`Services`, so a
    fault is reported once), or ``None`` when none is set or the command is offline.

    :raises UsageError: when ``remote-cache`` is not an ``oci://`` repository, or a
        signing or public key cannot be read.
    """
    settings = services.settings
    if not settings.remote_cache or settings.offline:
        return None
    with _PER_COMMAND_LOCK:
        if services in _PER_COMMAND:
            return _PER_COMMAND[services]
        from shipyard.image.registry import RegistryAccess
        from shipyard.image.signing import load_private_key, load_public_key

        sign_key = settings.remote_cache_sign_key
        public_key = settings.remote_cache_public_key
        remote = OciWheelCache(
            parse_remote_cache(settings.remote_cache),
            RegistryAccess(
                username=settings.registry_username,
                password=settings.registry_password,
                insecure_registries=tuple(settings.insecure_registries),
                timeout=max(0.1, float(settings.remote_cache_timeout)),
            ),
            push=settings.remote_cache_push,
            cache=services.cache,
            reporter=services.reporter,
            signer=(
                load_private_key(sign_key) if sign_key and settings.remote_cache_push else None
            ),
            trusted=load_public_key(public_key) if public_key and public_key.strip() else None,
            created=created_time(settings.remote_cache_created)
            if settings.remote_cache_created
            else None,
        )
        _PER_COMMAND[services] = remote
        return remote
