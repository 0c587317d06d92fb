"""Base images: open one (OCI layout, ``docker save`` tarball or registry), pick the
manifest of each platform, bring its blobs into the local store, and find out what
the image's file system holds that the build depends on: the Python interpreter
(path and version) and the C library (glibc or musl version), read from the layers
themselves, whiteouts applied, without running anything.
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ImageError
from shipyard.image.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    BlobStore,
    Descriptor,
    Platform,
    open_layer,
    read_oci_layout,
)

if TYPE_CHECKING:
    from shipyard.image.registry import RegistryAccess

__all__ = ["BaseFacts", "BaseImage", "PlatformImage", "inspect_base", "open_base"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformImage:
    """One platform's image of a base.

    :param platform: what it runs on; :param manifest_digest: its manifest's digest.
    :param manifest: the manifest (parsed); :param config: the image config (parsed).
    :param layers: the layer descriptors, in order (media types as the base has them).
    """

    platform: Platform
    manifest_digest: str
    manifest: Mapping[str, Any]
    config: Mapping[str, Any]
    config_digest: str
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseImage:
    """A base image, its blobs in the local store.

    :param name: as the user wrote it; :param digest: the digest of what it named
        (index or manifest); :param repository: for a registry base, its reference
        (``None`` for files).
    :param images: one per requested platform.
    """

    name: str
    digest: str
    repository: Any
    images: Mapping[Platform, PlatformImage] = field(default_factory=dict)


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"The {what} is not JSON.", context=what) from exc
    if not isinstance(value, dict):
        raise ImageError(f"The {what} is not a JSON object.", context=what)
    return value


def _platform_of(config: Mapping[str, Any]) -> Platform:
    return Platform(
        str(config.get("os", "")),
        str(config.get("architecture", "")),
        str(config.get("variant", "") or ""),
    )


def open_base(
    name: str, platforms: Sequence[Platform], store: BlobStore, access: RegistryAccess
) -> BaseImage:
    """Open the base image ``name`` for ``platforms`` and copy its blobs into ``store``.

    ``name`` is ``oci:DIR[:TAG]`` (an OCI image layout), ``docker-archive:FILE`` (what
    ``docker save`` writes) or a registry reference (``[docker://]host/repo:tag``,
    Docker Hub names such as ``python:3.12-slim``), reached with ``access``. An image
    index (multi-platform) is searched for each platform; a single manifest must be of
    the one platform asked for.

    :raises ImageError: when it cannot be read or pulled, or lacks a platform.
    """
    if name.startswith("oci:"):
        directory, _, tag = name[len("oci:") :].partition(":")
        layout_store, top = read_oci_layout(Path(directory), tag or None)

        def fetch(digest: str) -> None:
            layout_store.copy_to(store, digest)

        return _resolve(name, top.digest, top.media_type, None, platforms, store, fetch)
    if name.startswith("docker-archive:"):
        return _open_docker_archive(name, Path(name[len("docker-archive:") :]), platforms, store)
    from shipyard.image.registry import ImageReference, RegistryClient

    reference = ImageReference.parse(name)
    client = RegistryClient(reference, access)
    data, media_type = client.manifest(reference.reference)
    digest = store.put_bytes(data)

    def fetch_remote(digest: str) -> None:
        if not store.has(digest):
            client.fetch_blob(digest, store)

    def fetch_manifest(digest: str) -> None:
        if not store.has(digest):
            body, _type = client.manifest(digest)
            store.put_bytes(body)

    return _resolve(
        name, digest, media_type, reference, platforms, store, fetch_remote, fetch_manifest
    )


def _resolve(
    name: str,
    digest: str,
    media_type: str,
    reference: Any,
    platforms: Sequence[Platform],
    store: BlobStore,
    fetch: Callable[[str], None],
    fetch_manifest: Callable[[str], None] | None = None,
) -> BaseImage:
    """Pick each platform's manifest from what ``digest`` names (an index or one
    manifest) and bring every blob into ``store`` with ``fetch`` (manifests with
    ``fetch_manifest``, which a registry serves from another endpoint)."""
    fetch_manifest = fetch_manifest or fetch
    fetch_manifest(digest)
    top = _load_json(store.read(digest), f"manifest of {name}")
    media_type = str(top.get("mediaType") or media_type)
    images: dict[Platform, PlatformImage] = {}
    if media_type in INDEX_TYPES or "manifests" in top:
        entries = [Descriptor.from_json(e, where=name) for e in top.get("manifests") or []]
        for platform in platforms:
            found = next(
                (e for e in entries if e.platform and platform.matches(e.platform.to_json())),
                None,
            )
            if found is None:
                offered = ", ".join(str(e.platform) for e in entries if e.platform) or "none"
                raise ImageError(
                    f"The base image {name} has no {platform} image (it has: {offered}).",
                    context=name,
                    hint="Choose --platform from those, or another base.",
                )
            fetch_manifest(found.digest)
            images[platform] = _platform_image(name, found.digest, platform, store, fetch)
    elif media_type in MANIFEST_TYPES or "layers" in top:
        image = _platform_image(name, digest, None, store, fetch)
        for platform in platforms:
            if not platform.matches(image.platform.to_json()):
                raise ImageError(
                    f"The base image {name} is {image.platform}, not {platform}.",
                    context=name,
                    hint="Pass --platform to match it, or use a multi-platform base.",
                )
            images[platform] = image
    else:
        raise ImageError(
            f"The base image {name} is neither an image manifest nor an index "
            f"({media_type or 'no media type'}).",
            context=name,
        )
    return BaseImage(name=name, digest=digest, repository=reference, images=images)


def _platform_image(
    name: str,
    digest: str,
    platform: Platform | None,
    store: BlobStore,
    fetch: Callable[[str], None],
) -> PlatformImage:
    manifest = _load_json(store.read(digest), f"manifest {digest} of {name}")
    if "config" not in manifest or not isinstance(manifest.get("layers"), list):
        raise ImageError(
            f"The manifest {digest} of {name} has no config or layers.",
            context=name,
            hint="Docker's old schema 1 manifests are not supported; re-push the base.",
        )
    config_descriptor = Descriptor.from_json(manifest["config"], where=name)
    fetch(config_descriptor.digest)
    config = _load_json(store.read(config_descriptor.digest), f"config of {name}")
    layers = tuple(Descriptor.from_json(layer, where=name) for layer in manifest["layers"])
    for layer in layers:
        fetch(layer.digest)
    actual = _platform_of(config)
    return PlatformImage(
        platform=platform or actual,
        manifest_digest=digest,
        manifest=manifest,
        config=config,
        config_digest=config_descriptor.digest,
        layers=layers,
    )


def _open_docker_archive(
    name: str, path: Path, platforms: Sequence[Platform], store: BlobStore
) -> BaseImage:
    """A ``docker save`` tarball: its config and layers become blobs; the manifest is
    made here (OCI, gzip or plain layers as they are stored)."""
    from shipyard.image.oci import OCI_CONFIG, OCI_MANIFEST, canonical_json

    try:
        archive = tarfile.open(path)  # noqa: SIM115 (closed by the `with` below)
    except (OSError, tarfile.TarError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a tar file"
        raise ImageError(
            f"Cannot read {path} as a docker-archive tarball: {reason}.",
            context=str(path),
            hint="Make one with `docker save IMAGE -o FILE` or skopeo.",
        ) from exc
    with archive:
        try:
            member = archive.extractfile("manifest.json")
            entries = json.loads(member.read()) if member else None
        except (KeyError, ValueError) as exc:
            raise ImageError(f"{path} has no readable manifest.json.", context=str(path)) from exc
        if not isinstance(entries, list) or len(entries) != 1:
            raise ImageError(
                f"{path} must hold exactly one image.",
                context=str(path),
                hint="Save one image per tarball.",
            )
        entry = entries[0]

        def blob(member_name: str) -> tuple[str, int, bytes]:
            """Store one member as a blob: its digest, size and first two bytes."""
            try:
                handle = archive.extractfile(member_name)
            except KeyError:
                handle = None
            if handle is None:
                raise ImageError(f"{path} lacks {member_name}.", context=str(path))
            digest, size = store.put_reader(handle)
            with store.path(digest).open("rb") as stored:
                return digest, size, stored.read(2)

        config_digest, config_size, _head = blob(str(entry.get("Config")))
        layers = []
        for layer_name in entry.get("Layers") or []:
            digest, size, head = blob(str(layer_name))
            gz = head == b"\x1f\x8b"
            layers.append(
                {"mediaType": OCI_LAYER_GZIP if gz else OCI_LAYER, "digest": digest, "size": size}
            )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layers,
    }
    digest = store.put_bytes(canonical_json(manifest))
    return _resolve(name, digest, OCI_MANIFEST, None, platforms, store, lambda d: None)


# -- what is inside -------------------------------------------------------------------

_INTERESTING = re.compile(
    r"^(?:(?:usr/local/bin|usr/bin|bin)/python3(?:\.\d+)?"
    r"|(?:usr/)?(?:local/)?lib(?:64)?/(?:[^/]+/)?"
    r"(?:libc\.so\.6|libc-\d+\.\d+\.so|ld-musl-[^/]+\.so\.1|libpython3\.\d+\.so\.1\.0))$"
)
_FACTS_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseFacts:
    """What a base image's file system provides.

    :param python: the absolute path of its ``python3.X`` (``None``: no Python).
    :param python_version: ``"3.11.2"``, or ``"3.11.0"`` when the patch level could not be
        read; ``""`` without Python.
    :param glibc: ``(2, 36)``; :param musl: ``(1, 2)``; ``None`` when absent.
    """

    python: str | None
    python_version: str
    glibc: tuple[int, int] | None
    musl: tuple[int, int] | None


def _normalize(name: str) -> str:
    """A tar member name as a relative POSIX path (``./usr/bin`` → ``usr/bin``)."""
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    return posixpath.normpath(name) if name and name != "." else ""


def inspect_base(image: PlatformImage, store: BlobStore, cache_dir: Path | None) -> BaseFacts:
    """Read the interpreter and C library facts of ``image`` from its layers.

    Results are cached per config digest in ``cache_dir`` (``None``: no cache).
    """
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"{image.config_digest.split(':')[1]}-v{_FACTS_VERSION}.json"
        try:
            data = json.loads(cache_file.read_text())
            return BaseFacts(
                python=data["python"],
                python_version=data["python_version"],
                glibc=(data["glibc"][0], data["glibc"][1]) if data["glibc"] else None,
                musl=(data["musl"][0], data["musl"][1]) if data["musl"] else None,
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass
    facts = _inspect(image, store)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(asdict(facts)))
        except OSError:
            pass
    return facts


def _inspect(image: PlatformImage, store: BlobStore) -> BaseFacts:
    # path -> (layer index, "file" | "link", link target)
    entries: dict[str, tuple[int, str, str]] = {}
    for index, layer in enumerate(image.layers):
        with open_layer(store.path(layer.digest), layer.media_type) as stream:
            try:
                archive = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115
            except tarfile.TarError as exc:
                raise ImageError(
                    f"A layer of the base image is not a tar archive ({exc}).",
                    context=layer.digest,
                ) from exc
            with archive:
                for member in archive:
                    name = _normalize(member.name)
                    parent, base = posixpath.split(name)
                    if base == ".wh..wh..opq":
                        prefix = parent + "/"
                        for key in [
                            k for k, v in entries.items() if k.startswith(prefix) and v[0] < index
                        ]:
                            del entries[key]
                        continue
                    if base.startswith(".wh."):
                        gone = posixpath.join(parent, base[4:])
                        for key in [k for k in entries if k == gone or k.startswith(gone + "/")]:
                            del entries[key]
                        continue
                    if _INTERESTING.match(name):
                        if member.issym():
                            entries[name] = (index, "link", member.linkname)
                        elif member.islnk():
                            entries[name] = (index, "link", "/" + _normalize(member.linkname))
                        elif member.isfile():
                            entries[name] = (index, "file", "")
                        else:
                            entries.pop(name, None)

    def resolve(path: str) -> str | None:
        for _ in range(10):
            found = entries.get(path)
            if found is None:
                return None
            if found[1] == "file":
                return path
            target = found[2]
            if target.startswith("/"):
                path = _normalize(target)
            else:
                path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        return None

    python = None
    minor = None
    for directory in ("usr/local/bin", "usr/bin", "bin"):
        candidates: list[tuple[int, str]] = []
        link = entries.get(f"{directory}/python3")
        if link is not None and link[1] == "link":
            match = re.search(r"python3\.(\d+)$", link[2])
            if match:
                candidates.append((int(match.group(1)), f"{directory}/python3.{match.group(1)}"))
        if not candidates:
            for key in entries:
                match = re.fullmatch(re.escape(directory) + r"/python3\.(\d+)", key)
                if match:
                    candidates.append((int(match.group(1)), key))
        for number, key in sorted(candidates, reverse=True):
            if resolve(key) is not None:
                python, minor = "/" + key, number
                break
        if python:
            break
    glibc = musl = None
    wanted: dict[str, str] = {}
    for key in entries:
        if key.endswith("libc.so.6"):
            real = resolve(key)
            if real:
                wanted["libc"] = real
        elif re.search(r"libc-(\d+)\.(\d+)\.so$", key):
            match = re.search(r"libc-(\d+)\.(\d+)\.so$", key)
            assert match is not None
            glibc = (int(match.group(1)), int(match.group(2)))
        elif "ld-musl-" in key:
            musl = (1, 2)
    version = ""
    if python and minor is not None:
        env = image.config.get("config", {}).get("Env") or []
        for item in env if isinstance(env, list) else []:
            if isinstance(item, str) and item.startswith("PYTHON_VERSION="):
                value = item.split("=", 1)[1]
                if re.fullmatch(rf"3\.{minor}\.\d+", value):
                    version = value
        if not version:
            real_python = resolve(python.lstrip("/"))
            if real_python:
                wanted["python"] = real_python
            for key in entries:
                if key.endswith(f"libpython3.{minor}.so.1.0"):
                    real = resolve(key)
                    if real:
                        wanted["libpython"] = real
    contents = _read_files(image, store, entries, set(wanted.values())) if wanted else {}
    if "libc" in wanted and glibc is None:
        data = contents.get(wanted["libc"], b"")
        release = re.search(rb"GNU C Library[^\n]*?version (\d+)\.(\d+)", data)
        if release:
            glibc = (int(release.group(1)), int(release.group(2)))
    if python and minor is not None and not version:
        pattern = re.compile(rb"(?<![\d.])3\.%d\.(\d{1,2})(?![\d.])" % minor)
        for key in ("python", "libpython"):
            data = contents.get(wanted.get(key, ""), b"")
            found = pattern.search(data)
            if found:
                version = f"3.{minor}.{int(found.group(1))}"
                break
        version = version or f"3.{minor}.0"
    return BaseFacts(python=python, python_version=version, glibc=glibc, musl=musl)


def _read_files(
    image: PlatformImage,
    store: BlobStore,
    entries: Mapping[str, tuple[int, str, str]],
    paths: set[str],
) -> dict[str, bytes]:
    """The contents of ``paths`` (regular files), each from the layer that has it last."""
    by_layer: dict[int, set[str]] = {}
    for path in paths:
        found = entries.get(path)
        if found is not None and found[1] == "file":
            by_layer.setdefault(found[0], set()).add(path)
    contents: dict[str, bytes] = {}
    for index, names in by_layer.items():
        layer = image.layers[index]
        with (
            open_layer(store.path(layer.digest), layer.media_type) as stream,
            tarfile.open(fileobj=stream, mode="r|*") as archive,
        ):
            for member in archive:
                name = _normalize(member.name)
                if name in names and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        contents[name] = handle.read(64 << 20)
                    if len(contents) >= len(paths):
                        break
    return contents
