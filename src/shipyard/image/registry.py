"""Image references and a registry client (OCI Distribution Specification v1.1) on
``python-dxf``, which speaks the protocol: token and basic authentication, blob
upload sessions, cross-repository mounts and digest-checked downloads.

Credentials come from the ``SHIPYARD_REGISTRY_USERNAME``/``_PASSWORD`` settings, else
from Docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``: the ``auths``
entries ``docker login`` writes; credential helpers are not run). They are sent over
HTTPS only. As Docker does for its "insecure registries", a registry on the loopback
interface or named in ``insecure-registries`` is tried over HTTPS first and spoken to
over plain HTTP, anonymously, when that fails. Certificates are checked against the
system's CAs, or ``REQUESTS_CA_BUNDLE`` when set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ImageError

if TYPE_CHECKING:
    from shipyard.image.oci import BlobStore

__all__ = ["ImageReference", "RegistryAccess", "RegistryClient", "registry_credentials"]

DOCKER_HUB = "docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryAccess:
    """How to reach registries (from the settings).

    :param username: :param password: credentials for every registry (both or neither).
    :param insecure_registries: ``host[:port]`` that may be spoken to over plain HTTP.
    :param timeout: seconds per request.
    """

    username: str | None = None
    password: str | None = None
    insecure_registries: tuple[str, ...] = ()
    timeout: float = 60


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A registry image reference: ``[registry/]repository[:tag][@digest]``.

    Docker's conventions apply: a first component without ``.`` or ``:`` (and not
    ``localhost``) is a Docker Hub repository, and single-name Docker Hub
    repositories live under ``library/``.

    :param registry: ``host[:port]``; :param repository: ``path/name``.
    :param tag: ``"latest"`` when neither tag nor digest is given.
    :param digest: ``sha256:…`` or ``""``.
    """

    registry: str
    repository: str
    tag: str
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse a reference (a ``docker://`` prefix is allowed).

        :raises ImageError: when it is not a valid reference.
        """
        raw = text.strip()
        if raw.startswith("docker://"):
            raw = raw[len("docker://") :]
        digest = ""
        if "@" in raw:
            raw, digest = raw.split("@", 1)
            if not _DIGEST.match(digest):
                raise _invalid(text, "its digest is not sha256:<64 hex digits>")
        first, _, rest = raw.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, rest
        else:
            registry, path = DOCKER_HUB, raw
        tag = ""
        name, colon, maybe_tag = path.rpartition(":")
        if colon and "/" not in maybe_tag:
            path, tag = name, maybe_tag
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not path or not all(_COMPONENT.match(part) for part in path.split("/")):
            raise _invalid(text, "the repository must be lowercase names separated by /")
        if tag and not _TAG.match(tag):
            raise _invalid(text, f"{tag!r} is not a valid tag")
        if not tag and not digest:
            tag = "latest"
        return cls(registry, path, tag, digest)

    @property
    def api_host(self) -> str:
        """The host the registry API answers on (Docker Hub's differs from its name)."""
        return _DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """The manifest reference: the digest when given, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _invalid(text: str, why: str) -> ImageError:
    return ImageError(
        f"{text!r} is not an image reference: {why}.",
        hint="Write it as registry.example.com/team/app:tag (Docker Hub: python:3.12-slim).",
    )


def _may_use_http(host: str, listed: tuple[str, ...]) -> bool:
    """A loopback registry, or one listed in ``insecure-registries``."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if name in ("localhost", "[::1]") or name.startswith("127."):
        return True
    return host in {item.strip() for item in listed if item.strip()}


def _speaks_https(host: str, timeout: float) -> bool:
    """True when ``https://host/v2/`` answers at all with a certificate we trust."""
    import requests

    try:
        requests.get(f"https://{host}/v2/", timeout=min(timeout, 10))
    except requests.RequestException:
        return False
    return True


def registry_credentials(registry: str, access: RegistryAccess) -> tuple[str, str] | None:
    """User name and password for ``registry``: ``access``'s when both are set, else the
    ``auths`` entry of Docker's ``config.json`` (``auth`` = base64 of ``user:password``).

    :raises ImageError: when ``config.json`` exists but cannot be read.
    """
    if access.username and access.password:
        return access.username, access.password
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageError(
            f"Cannot read Docker's credentials file: {exc}.",
            context=str(path),
            hint="Fix or remove it, or set SHIPYARD_REGISTRY_USERNAME and _PASSWORD.",
        ) from exc
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == DOCKER_HUB:
        keys += ["https://index.docker.io/v1/", "index.docker.io", _DOCKER_HUB_API]
    for key in keys:
        entry = auths.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
            try:
                decoded = base64.b64decode(entry["auth"]).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            name, sep, secret = decoded.partition(":")
            if sep:
                return name, secret
    return None


class RegistryClient:
    """One registry, one repository: manifests and blobs over the distribution API.

    :param reference: the image reference (its registry and repository are used).
    :param access: credentials, insecure registries, timeout.
    :param push: ask for push rights when authenticating.
    """

    def __init__(
        self, reference: ImageReference, access: RegistryAccess, *, push: bool = False
    ) -> None:
        from dxf import DXF

        self.reference = reference
        host = reference.api_host
        timeout = access.timeout
        self.insecure = _may_use_http(host, access.insecure_registries) and not _speaks_https(
            host, timeout
        )
        credentials = None if self.insecure else registry_credentials(reference.registry, access)
        actions = ["pull", "push"] if push else ["pull"]

        def authenticate(dxf: Any, response: Any) -> None:
            if credentials is None:
                dxf.authenticate(response=response, actions=actions)
            else:
                dxf.authenticate(credentials[0], credentials[1], response=response, actions=actions)

        self._dxf = DXF(
            reference.api_host,
            reference.repository,
            auth=None if self.insecure else authenticate,
            insecure=self.insecure,
            timeout=timeout,
        )

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        """Run a dxf call, turning its failures into one :class:`ImageError`."""
        import requests
        from dxf.exceptions import DXFUnauthorizedError

        where = f"{self.reference.registry}/{self.reference.repository}"
        try:
            return action()
        except (requests.HTTPError, DXFUnauthorizedError) as exc:
            response = getattr(exc, "response", None)
            status = 401 if isinstance(exc, DXFUnauthorizedError) else 0
            if response is not None:
                status = response.status_code
            hint = {
                401: "Log in (docker login writes ~/.docker/config.json) or set "
                "SHIPYARD_REGISTRY_USERNAME and SHIPYARD_REGISTRY_PASSWORD.",
                403: "The credentials lack the rights for this; check them.",
                404: "Check the repository and tag.",
            }.get(status, "Try again later, or check the registry's logs.")
            if status == 401 and self.insecure:
                hint = (
                    "It speaks plain HTTP, and shipyard sends credentials over HTTPS only; "
                    "serve the registry with TLS."
                )
            raise ImageError(
                f"The registry answered {status} to {what}"
                + (" (authentication required)" if status == 401 else "")
                + ".",
                context=where,
                hint=hint,
            ) from exc
        except requests.RequestException as exc:
            raise ImageError(
                f"Cannot reach the registry to {what}: {type(exc).__name__}.",
                context=where,
                hint="Check the address and that it is running; plain HTTP is tried only "
                "for localhost and insecure-registries (SHIPYARD_INSECURE_REGISTRIES).",
            ) from exc
        except ImageError:
            raise
        except Exception as exc:  # dxf's own errors (digest mismatch, insecure auth)
            raise ImageError(f"Could not {what}: {exc}.", context=where) from exc

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest or index ``reference`` (a tag or digest) names.

        :returns: its exact bytes and media type; a digest reference is verified.
        :raises ImageError: when it is missing, unreadable or does not match the digest.
        """
        _text, response = self._call(
            f"fetch the manifest {reference}",
            lambda: self._dxf.get_manifest_and_response(reference),
        )
        data: bytes = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            media_type = json.loads(data).get("mediaType") or media_type
        except (ValueError, AttributeError) as exc:
            raise ImageError(
                f"The manifest {reference} is not JSON.", context=str(self.reference)
            ) from exc
        if reference.startswith("sha256:"):
            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if actual != reference:
                raise ImageError(
                    f"The manifest fetched as {reference} hashes to {actual}.",
                    context=str(self.reference),
                    hint="The registry or a proxy altered it; do not use this registry.",
                )
        return data, media_type

    def fetch_blob(self, digest: str, store: BlobStore) -> None:
        """Download blob ``digest`` into ``store`` (checked against the digest)."""
        if store.has(digest):
            return
        chunks = self._call(f"fetch blob {digest}", lambda: self._dxf.pull_blob(digest))
        self._call(f"fetch blob {digest}", lambda: store.put_stream(iter(chunks), digest))

    def has_blob(self, digest: str) -> bool:
        """True when the repository already has blob ``digest``."""
        import requests

        def probe() -> bool:
            try:
                self._dxf.blob_size(digest)
            except requests.HTTPError as exc:  # 401 is DXFUnauthorizedError: not caught
                if exc.response is not None and exc.response.status_code == 404:
                    return False
                raise
            return True

        return bool(self._call(f"check blob {digest}", probe))

    def mount_blob(self, source_repository: str, digest: str) -> bool:
        """Ask the registry to link ``digest`` from another repository on it.

        :returns: True when it did (no upload needed).
        """
        try:
            self._dxf.mount_blob(source_repository, digest)
            return True
        except Exception:  # a registry may decline: the caller uploads instead
            return False

    def push_blob(self, path: Path, digest: str) -> None:
        """Upload the file at ``path`` as blob ``digest`` (skipped when present)."""
        self._call(
            f"upload blob {digest}",
            lambda: self._dxf.push_blob(str(path), check_exists=True),
        )

    def push_manifest(self, reference: str, data: bytes) -> None:
        """Put a manifest or index under ``reference`` (a tag or digest).

        ``data`` must carry its ``mediaType``; it is sent byte for byte (ASCII JSON).
        """
        text = data.decode("ascii")
        self._call(
            f"push the manifest {reference}", lambda: self._dxf.set_manifest(reference, text)
        )

    def tags(self) -> list[str]:
        """Every tag of the repository (``GET /v2/<name>/tags/list``, all pages).

        :returns: the tags; empty when the repository does not exist (yet).
        :raises ImageError: for any other failure.
        """
        import requests

        def listing() -> list[str]:
            try:
                return [str(tag) for tag in self._dxf.list_aliases()]
            except requests.HTTPError as exc:  # NAME_UNKNOWN: nothing was ever pushed
                if exc.response is not None and exc.response.status_code == 404:
                    return []
                raise

        result: list[str] = self._call("list the tags", listing)
        return result

    def delete_manifest(self, digest: str) -> None:
        """Delete the manifest ``digest`` (and so every tag naming it); its blobs stay
        until the registry's garbage collection. The registry must allow deletes
        (``docker-registry``: ``storage.delete.enabled``).

        :raises ImageError: when the registry refuses (405 when deletes are off).
        """
        if not _DIGEST.match(digest):
            raise ImageError(f"{digest!r} is not a sha256 digest.", context=str(self.reference))
        self._call(
            f"delete the manifest {digest}",
            lambda: self._dxf._request("delete", f"manifests/{digest}"),  # type: ignore[no-untyped-call]
        )
