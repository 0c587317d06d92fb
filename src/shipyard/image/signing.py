"""Cosign-style signatures of registry artifacts (``remote-cache-sign-key`` and
``remote-cache-public-key``).

What is signed is cosign's "simple signing" payload naming the artifact manifest's
digest::

    {"critical": {"identity": {"docker-reference": "<registry>/<repository>"},
                  "image": {"docker-manifest-digest": "sha256:…"},
                  "type": "cosign container image signature"},
     "optional": {"dev.shipyard.tag": "<the artifact's tag>"}}

with ECDSA P-256 (SHA-256, DER signature: cosign's own key type) or Ed25519, and
stored as cosign does on registries without the OCI 1.1 referrers API: an OCI
manifest tagged ``sha256-<hex of the signed digest>.sig`` whose one layer
(``application/vnd.dev.cosign.simplesigning.v1+json``) is the payload, the base64
signature in its ``dev.cosignproject.cosign/signature`` annotation. The manifest also
names the signed manifest as its ``subject`` (OCI image spec 1.1), so registries that
serve the referrers API list it as a referrer; readers here find it by its tag, which
works on every registry (Debian's ``docker-registry`` 2.8 has no referrers API).

Keys are PEM: the private key PKCS#8 (``openssl genpkey``, unencrypted; a CI secret
file), the public key SubjectPublicKeyInfo (``openssl pkey -pubout``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ImageError, UsageError

if TYPE_CHECKING:
    from shipyard.image.oci import BlobStore
    from shipyard.image.registry import RegistryClient

__all__ = [
    "PrivateKey",
    "PublicKey",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "push_signature",
    "signature_tag",
    "verify_signature",
]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
CREATED = "org.opencontainers.image.created"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
_EMPTY = b"{}"
_EMPTY_DIGEST = "sha256:" + hashlib.sha256(_EMPTY).hexdigest()
#: a payload is a few hundred bytes; a larger "payload" blob is not downloaded
_MAX_PAYLOAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A signing key (ECDSA P-256 or Ed25519) and where it came from (for messages)."""

    key: Any
    source: str

    def sign(self, payload: bytes) -> str:
        """The base64 signature of ``payload`` (ECDSA: DER over SHA-256)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            raw = self.key.sign(payload, ec.ECDSA(hashes.SHA256()))
        else:
            raw = self.key.sign(payload)
        return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verifying key (ECDSA P-256 or Ed25519)."""

    key: Any

    def verifies(self, payload: bytes, signature: str) -> bool:
        """True when ``signature`` (base64) is this key's signature of ``payload``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            raw = base64.b64decode(signature, validate=True)
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(raw, payload, ec.ECDSA(hashes.SHA256()))
            else:
                self.key.verify(raw, payload)
        except (InvalidSignature, ValueError):
            return False
        return True


def _check_kind(key: Any, what: str, where: str) -> None:
    """Refuse keys other than ECDSA P-256 and Ed25519."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name == "secp256r1":
            return
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return
    raise UsageError(
        f"The {what} is neither an ECDSA P-256 nor an Ed25519 key.",
        context=where,
        hint="Make a key pair with `shipyard cache keygen`, or "
        "`openssl genpkey -algorithm ed25519`.",
    )


def load_private_key(path: str) -> PrivateKey:
    """The signing key in the PEM file at ``path`` (``~`` expanded).

    :raises UsageError: when it cannot be read, is encrypted or is of another kind.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = "remote-cache-sign-key / SHIPYARD_REMOTE_CACHE_SIGN_KEY"
    file = Path(path).expanduser()
    try:
        key = load_pem_private_key(file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(
            f"Cannot read the remote cache's signing key {str(file)!r}: {exc}.",
            context=where,
            hint="Give the path of an unencrypted PEM private key (PKCS#8), or unset it.",
        ) from exc
    _check_kind(key, "remote cache's signing key", where)
    return PrivateKey(key, str(file))


def load_public_key(text: str) -> PublicKey:
    """The public key ``text`` holds (PEM) or names (the path of a PEM file: ``~``
    expanded, relative to the working directory).

    :raises UsageError: when it is neither a readable PEM public key nor such a file.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    where = "[tool.shipyard] remote-cache-public-key / SHIPYARD_REMOTE_CACHE_PUBLIC_KEY"
    data = text.strip().encode("utf-8")
    try:
        if not data.startswith(b"-----BEGIN"):
            data = Path(text.strip()).expanduser().read_bytes()
        key = load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(
            f"Cannot read the remote cache's public key: {exc}.",
            context=where,
            hint="Give the PEM text (-----BEGIN PUBLIC KEY----- …) or the path of a PEM file.",
        ) from exc
    _check_kind(key, "remote cache's public key", where)
    return PublicKey(key)


def generate_key_pair(kind: str = "ecdsa-p256") -> tuple[bytes, bytes]:
    """A new key pair as PEM: (unencrypted PKCS#8 private key, SubjectPublicKeyInfo).

    :param kind: ``ecdsa-p256`` (cosign's kind) or ``ed25519``.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def signature_tag(digest: str) -> str:
    """Cosign's tag for the signatures of the manifest ``digest``: ``sha256-<hex>.sig``."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.sig"


def _payload(digest: str, identity: str, tag: str) -> bytes:
    """The simple signing payload of manifest ``digest`` (compact, sorted JSON)."""
    document = {
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": {"dev.shipyard.tag": tag},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def push_signature(
    client: RegistryClient,
    key: PrivateKey,
    *,
    digest: str,
    size: int,
    tag: str,
    created: str,
) -> None:
    """Sign the manifest ``digest`` (``size`` bytes, tagged ``tag``) and push the
    signature under :func:`signature_tag`; done before the manifest itself is pushed,
    so whoever sees the tag finds its signature.

    :param created: RFC 3339 time for the signature's ``org.opencontainers.image.created``.
    :raises ImageError: when the registry refuses it or cannot be reached.
    """
    from shipyard.image.oci import BlobStore

    identity = f"{client.reference.registry}/{client.reference.repository}"
    payload = _payload(digest, identity, tag)
    signature = key.sign(payload)
    with tempfile.TemporaryDirectory(prefix="shipyard-sig-") as folder:
        store = BlobStore(Path(folder))
        payload_digest = store.put_bytes(payload)
        store.put_bytes(_EMPTY)
        for blob in (payload_digest, _EMPTY_DIGEST):
            if not client.has_blob(blob):
                client.push_blob(store.path(blob), blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": SIGNATURE_ARTIFACT,
        "config": {"mediaType": EMPTY_CONFIG, "digest": _EMPTY_DIGEST, "size": len(_EMPTY)},
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING,
                "digest": payload_digest,
                "size": len(payload),
                "annotations": {SIGNATURE_ANNOTATION: signature},
            }
        ],
        "subject": {"mediaType": MANIFEST, "digest": digest, "size": size},
        "annotations": {CREATED: created},
    }
    data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("ascii")
    client.push_manifest(signature_tag(digest), data)


def verify_signature(
    client: RegistryClient, public: PublicKey, *, digest: str, store: BlobStore
) -> str:
    """Check that the manifest ``digest`` carries a valid signature by ``public``.

    :param store: where the payload blobs are downloaded (digest-checked).
    :returns: ``""`` when it does, else why not (one clause, for a refusal).
    :raises ImageError: when the registry fails (a fault, not a refusal).
    """
    tag = signature_tag(digest)
    try:
        data, _media_type = client.manifest(tag)
    except ImageError as exc:
        response = getattr(exc.__cause__, "response", None)
        if getattr(response, "status_code", None) == 404:
            return f"it is not signed (no signature {tag})"
        raise
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    candidates = [
        layer
        for layer in (layers if isinstance(layers, list) else [])
        if isinstance(layer, dict)
        and layer.get("mediaType") == SIMPLE_SIGNING
        and isinstance(layer.get("digest"), str)
        and str(layer["digest"]).startswith("sha256:")
        and isinstance(layer.get("size"), int)
        and 0 < layer["size"] <= _MAX_PAYLOAD
        and isinstance((layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION), str)
    ]
    if not candidates:
        return f"its signature {tag} holds no cosign signature"
    for layer in candidates:
        blob = str(layer["digest"])
        try:
            client.fetch_blob(blob, store)
        except ImageError as exc:
            if _is_fault(exc):
                raise
            continue  # the payload does not hash to its digest: not this one
        payload = store.read(blob)
        if _names(payload, digest) and public.verifies(
            payload, layer["annotations"][SIGNATURE_ANNOTATION]
        ):
            return ""
    return "its signature is not by the key in remote-cache-public-key"


def _names(payload: bytes, digest: str) -> bool:
    """True when ``payload`` is a simple signing payload for manifest ``digest``."""
    try:
        document = json.loads(payload)
        critical = document["critical"]
        return bool(
            critical["type"] == PAYLOAD_TYPE
            and critical["image"]["docker-manifest-digest"] == digest
        )
    except (ValueError, KeyError, TypeError):
        return False


def _is_fault(exc: ImageError) -> bool:
    """True when ``exc`` says the registry failed (unreachable, refusing, erroring),
    False when one blob was bad (it did not hash to its digest)."""
    import requests
    from dxf.exceptions import DXFUnauthorizedError

    return isinstance(exc.__cause__, requests.RequestException | DXFUnauthorizedError)
