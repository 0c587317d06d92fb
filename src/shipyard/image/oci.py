"""OCI image format: media types, descriptors, content-addressed blob stores and the
two on-disk forms an image is written in.

Implements the OCI Image Format Specification v1.1 (image layout, index, manifest,
config) and reads Docker's Image Manifest V2 Schema 2 equivalents, which registries
still serve for many base images. ``docker-archive`` is the tarball ``docker save``
writes and ``docker load`` reads (``manifest.json`` + config + uncompressed layers).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from shipyard.errors import ImageError, UsageError

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_MANIFEST",
    "BlobStore",
    "Descriptor",
    "Platform",
    "canonical_json",
    "read_oci_layout",
    "write_docker_archive",
    "write_oci_layout",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

#: Docker media types and the OCI ones with the same bytes (a manifest written by
#: shipyard is OCI throughout).
TO_OCI = {
    DOCKER_MANIFEST: OCI_MANIFEST,
    DOCKER_MANIFEST_LIST: OCI_INDEX,
    DOCKER_CONFIG: OCI_CONFIG,
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_LAYER: OCI_LAYER,
}
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same value always gives the same bytes
    (and so the same digest)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


#: the image platforms shipyard builds: architecture → (``platform_machine``, the
#: variant a missing one stands for, the variants accepted; ``None``: any)
_ARCHITECTURES: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "amd64": ("x86_64", "", None),
    "arm64": ("aarch64", "v8", ("", "v8")),
    "arm": ("armv7l", "v7", ("", "v7")),
}
#: other spellings of those architectures (``uname -m`` and Debian names)
_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv7": "arm", "armhf": "arm"}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: ``os``/``architecture``[/``variant``], e.g. ``linux/arm64``.

    :param os: ``"linux"``; :param architecture: Go's names (``amd64``, ``arm64``,
        ``arm``).
    :param variant: ``"v8"`` for arm64 when given, ``"v7"`` for arm (32-bit ARM,
        ``armhf``: always written), else ``""``.
    """

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``linux/amd64``, ``linux/arm64[/v8]`` or ``linux/arm/v7``; the os may be
        left out (``arm64``), and ``x86_64``, ``aarch64``, ``armv7l`` (or ``arm``,
        ``linux/arm``: ``v7``) name the same platforms.

        :raises UsageError: for anything else.
        """
        parts = text.strip().lower().split("/")
        if len(parts) == 1:
            parts.insert(0, "linux")
        if len(parts) in (2, 3) and all(parts) and parts[0] == "linux":
            architecture = _ALIASES.get(parts[1], parts[1])
            known = _ARCHITECTURES.get(architecture)
            variant = parts[2] if len(parts) == 3 else ""
            if known is not None and (known[2] is None or variant in known[2]):
                if architecture == "arm":
                    variant = known[1]
                return cls(parts[0], architecture, variant)
        raise UsageError(
            f"Unsupported platform {text!r}.",
            hint="Use linux/amd64, linux/arm64 or linux/arm/v7 (comma-separated for several).",
        )

    @property
    def machine(self) -> str:
        """The ``platform_machine`` marker value: ``x86_64``, ``aarch64`` or ``armv7l``."""
        known = _ARCHITECTURES.get(self.architecture)
        return known[0] if known is not None else self.architecture

    @property
    def pointer_size(self) -> int:
        """The interpreter's pointer size in bits: 32 for ``arm``, else 64."""
        return 32 if self.architecture == "arm" else 64

    def matches(self, data: Mapping[str, Any] | None) -> bool:
        """True when an index entry's ``platform`` object is this platform (a missing
        variant matches the one it stands for: ``v8`` on arm64, ``v7`` on arm, as
        Docker reads them)."""
        if not isinstance(data, Mapping):
            return False
        if data.get("os") != self.os or data.get("architecture") != self.architecture:
            return False
        variant = str(data.get("variant") or "")
        known = _ARCHITECTURES.get(self.architecture)
        if known is not None and not variant:
            variant = known[1]
        mine = self.variant or (known[1] if known is not None else "")
        return variant == mine

    def to_json(self) -> dict[str, str]:
        """The ``platform`` object of an index entry."""
        value = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            value["variant"] = self.variant
        return value

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    """An OCI content descriptor.

    :param media_type: the blob's media type; :param digest: ``sha256:<hex>``;
    :param size: bytes. :param platform: for index entries.
    :param annotations: string map, written only when non-empty.
    """

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The descriptor object, in OCI's spelling."""
        value: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            value["platform"] = self.platform.to_json()
        if self.annotations:
            value["annotations"] = dict(self.annotations)
        return value

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> Descriptor:
        """Read a descriptor object.

        :raises ImageError: when it lacks a valid digest, size or media type.
        """
        if not isinstance(data, Mapping):
            raise ImageError(f"A descriptor in {where} is not an object.", context=where)
        digest, size, media_type = data.get("digest"), data.get("size"), data.get("mediaType")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise ImageError(
                f"A descriptor in {where} has no sha256 digest ({digest!r}).",
                context=where,
                hint="Only sha256 content addresses are supported.",
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ImageError(f"The descriptor of {digest} has no valid size.", context=where)
        platform = None
        raw_platform = data.get("platform")
        if isinstance(raw_platform, Mapping):
            platform = Platform(
                str(raw_platform.get("os", "")),
                str(raw_platform.get("architecture", "")),
                str(raw_platform.get("variant", "") or ""),
            )
        annotations = data.get("annotations")
        return cls(
            media_type=str(media_type or ""),
            digest=digest,
            size=size,
            platform=platform,
            annotations=dict(annotations) if isinstance(annotations, Mapping) else {},
        )


def _hex(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise ImageError(f"{digest!r} is not a sha256 digest.")
    return digest.split(":", 1)[1]


class BlobStore:
    """Content-addressed blobs in a directory, as an OCI layout stores them
    (``<root>/sha256/<hex>``). Blobs are written to a temporary file, their digest
    checked, and renamed into place, so a present blob is always whole.

    :param root: the ``blobs`` directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it is there)."""
        return self.root / "sha256" / _hex(digest)

    def has(self, digest: str) -> bool:
        """True when the blob is present."""
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        """The blob's bytes (for manifests and configs; layers are read as files).

        :raises ImageError: when it is missing.
        """
        try:
            return self.path(digest).read_bytes()
        except OSError as exc:
            raise ImageError(
                f"The blob {digest} is missing from {self.root}.", context=str(self.root)
            ) from exc

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._publish(digest, lambda handle: handle.write(data))
        return digest

    def put_reader(self, reader: IO[bytes]) -> tuple[str, int]:
        """Store everything ``reader`` yields, whatever its digest.

        :returns: the digest and size in bytes.
        """
        self.root.joinpath("sha256").mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".blob-", dir=self.root / "sha256")
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in iter(lambda: reader.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
            name = "sha256:" + digest.hexdigest()
            os.replace(tmp, self.path(name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return name, size

    def put_stream(self, chunks: Iterable[bytes], expected: str) -> None:
        """Store a blob from ``chunks``, which must hash to ``expected``.

        :raises ImageError: on a digest mismatch (nothing is stored).
        """
        if self.has(expected):
            return

        def write(handle: BinaryIO) -> None:
            for chunk in chunks:
                handle.write(chunk)

        self._publish(expected, write)

    def put_file(self, source: Path, digest: str) -> None:
        """Store a copy of ``source`` (a hard link when possible) under ``digest``."""
        if self.has(digest):
            return
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
            return
        except OSError:
            pass

        def write(handle: BinaryIO) -> None:
            with source.open("rb") as reader:
                shutil.copyfileobj(reader, handle, 1 << 20)

        self._publish(digest, write)

    def _publish(self, digest: str, write: Any) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".blob-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            with open(tmp, "rb") as written:
                actual = "sha256:" + hashlib.file_digest(written, "sha256").hexdigest()
            if actual != digest:
                raise ImageError(
                    f"The blob expected as {digest} arrived as {actual}.",
                    hint="The registry or file is corrupt; try again.",
                )
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def copy_to(self, other: BlobStore, digest: str) -> None:
        """Put this store's blob ``digest`` into ``other``."""
        other.put_file(self.path(digest), digest)


def read_oci_layout(directory: Path, reference: str | None) -> tuple[BlobStore, Descriptor]:
    """Open an OCI image layout directory and find the image ``reference`` names.

    :param reference: an ``org.opencontainers.image.ref.name`` annotation (a tag), or
        ``None`` for the only image in the layout.
    :returns: the layout's blobs and the descriptor of the image (a manifest or index).
    :raises ImageError: when it is not a layout, or the reference is missing or ambiguous.
    """
    where = str(directory)
    try:
        layout = json.loads((directory / "oci-layout").read_text(encoding="utf-8"))
        index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageError(
            f"{directory} is not an OCI image layout (no readable oci-layout and index.json).",
            context=where,
            hint="Give oci:DIR[:TAG] of a directory written by skopeo, umoci, buildah or "
            "shipyard, or docker-archive:FILE.",
        ) from exc
    if not isinstance(layout, Mapping) or not isinstance(index, Mapping):
        raise ImageError(f"{directory}/index.json is not an OCI index.", context=where)
    entries = [
        Descriptor.from_json(item, where=f"{where}/index.json")
        for item in index.get("manifests") or []
    ]
    if reference:
        chosen = [
            e
            for e in entries
            if e.annotations.get("org.opencontainers.image.ref.name") == reference
        ]
    else:
        chosen = entries
    if len(chosen) != 1:
        names = sorted(
            e.annotations.get("org.opencontainers.image.ref.name", "(untagged)") for e in entries
        )
        what = (
            f"no image tagged {reference!r}"
            if reference and not chosen
            else ("several images" if chosen else "no image")
        )
        raise ImageError(
            f"The OCI layout {directory} has {what}.",
            context=where,
            hint=f"Name one as oci:{directory}:TAG (it has: {', '.join(names) or 'nothing'}).",
        )
    return BlobStore(directory / "blobs"), chosen[0]


def write_oci_layout(
    directory: Path,
    store: BlobStore,
    image: Descriptor,
    blobs: Sequence[str],
    *,
    tag: str | None,
) -> None:
    """Write (or add to) an OCI image layout holding ``image``.

    Blobs are hard-linked from ``store`` where possible. An existing layout keeps its
    other images; one already tagged ``tag`` is replaced. ``index.json`` is written last
    (temporary file + rename).

    :param blobs: every blob digest the image needs (manifests, configs, layers).
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = BlobStore(directory / "blobs")
    for digest in blobs:
        store.copy_to(target, digest)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries: list[dict[str, Any]] = []
    index_path = directory / "index.json"
    if index_path.is_file():
        try:
            old = json.loads(index_path.read_text(encoding="utf-8"))
            entries = [
                e
                for e in old.get("manifests", [])
                if tag is None
                or (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag
            ]
        except (OSError, ValueError, AttributeError):
            entries = []
    annotations = {"org.opencontainers.image.ref.name": tag} if tag else {}
    entry = Descriptor(
        media_type=image.media_type, digest=image.digest, size=image.size, annotations=annotations
    )
    entries.append(entry.to_json())
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    tmp = index_path.with_name(".index.json.tmp")
    tmp.write_bytes(json.dumps(document, indent=2, sort_keys=True).encode() + b"\n")
    os.replace(tmp, index_path)


def write_docker_archive(
    path: Path,
    store: BlobStore,
    manifest: Mapping[str, Any],
    *,
    repo_tags: Sequence[str],
) -> None:
    """Write the tarball ``docker save`` makes, for ``docker load`` and skopeo.

    Layers are stored uncompressed (their names are their ``diff_id``), so the archive
    loads on any Docker version. Written to a temporary file and renamed into place.

    :param manifest: one image manifest (OCI), whose blobs are in ``store``.
    :param repo_tags: ``name:tag`` strings for ``RepoTags``.
    """
    config_digest = manifest["config"]["digest"]
    config = json.loads(store.read(config_digest))
    diff_ids: list[str] = list(config.get("rootfs", {}).get("diff_ids", []))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as archive:
            config_name = _hex(config_digest) + ".json"
            _add_bytes(archive, config_name, store.read(config_digest))
            layer_names = []
            for layer, diff_id in zip(manifest["layers"], diff_ids, strict=True):
                name = _hex(diff_id) + "/layer.tar"
                # decompressed once, into a spool file: the tar header needs the size
                with (
                    _layer_reader(store.path(layer["digest"]), layer["mediaType"]) as reader,
                    tempfile.TemporaryFile(dir=path.parent) as spool,
                ):
                    shutil.copyfileobj(reader, spool, 1 << 20)
                    size = spool.tell()
                    spool.seek(0)
                    _add_stream(archive, name, spool, size)
                layer_names.append(name)
            index = [{"Config": config_name, "RepoTags": list(repo_tags), "Layers": layer_names}]
            _add_bytes(archive, "manifest.json", json.dumps(index).encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _layer_reader:
    """A file object over a layer's uncompressed tar bytes."""

    def __init__(self, path: Path, media_type: str) -> None:
        self.path, self.media_type = path, media_type
        self.handle: Any = None

    def __enter__(self) -> BinaryIO:
        if self.media_type.endswith("gzip"):
            self.handle = gzip.open(self.path, "rb")
        elif self.media_type.endswith("zstd"):
            import zstandard

            raw = self.path.open("rb")
            self.handle = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        else:
            self.handle = self.path.open("rb")
        return self.handle  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def open_layer(path: Path, media_type: str) -> _layer_reader:
    """A context manager giving the uncompressed tar stream of a layer blob (gzip, zstd
    or plain, by ``media_type``)."""
    return _layer_reader(path, media_type)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _add_stream(archive: tarfile.TarFile, name: str, reader: BinaryIO, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    archive.addfile(info, reader)
