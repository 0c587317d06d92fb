"""The ``image build`` use case: an OCI image from the lock, without a container engine.

For each platform: open the base image (its Python and C library are read from its
layers), select from the lock for that target environment (PEP 751 selection with the
base's marker values and wheel tags: Linux aarch64 for an ``linux/arm64`` image,
armv7l for ``linux/arm/v7``, whose lock must target it through ``environments``),
install the wheels into a staging tree shaped like ``/app/.venv`` and tar it as one
reproducible layer, then the project (built as a wheel, never editable) as a second
layer, then write the image config and manifest. Several platforms make an image
index. The result goes to an OCI layout directory, a ``docker save`` tarball and/or a
registry.

Layer contents depend only on the lock, the base's Python and shipyard's version, and
every tar is reproducible (:mod:`shipyard.image.layers`): the same lock gives the same
dependency layer digest on every build, so it is packed once and then reused from the
cache or the team's remote cache (:mod:`shipyard.image.dependency_layer`).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.errors import ImageError, UsageError
from shipyard.image.config import LOCK_LABEL
from shipyard.image.dependency_layer import DependencyLayers, dependency_layer_key
from shipyard.image.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    BlobStore,
    Descriptor,
    Platform,
    canonical_json,
)
from shipyard.image.staging import (
    APP_DIR,
    VENV_DIR,
    conda_facts,
    conda_prefix,
    host_platform,
    install_distributions,
    interpreter_layer,
    venv_skeleton,
)

if TYPE_CHECKING:
    from shipyard.accelerators import HostAccelerator
    from shipyard.cache.remote import RemoteLayerCache
    from shipyard.conda.records import CondaRecord
    from shipyard.image.base import BaseFacts, BaseImage, PlatformImage
    from shipyard.image.layers import Layer
    from shipyard.models import LockFile
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = ["APP_DIR", "VENV_DIR", "ImageOutcome", "LayerReport", "PlatformReport", "build_image"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerReport:
    """One layer shipyard added.

    :param role: ``"interpreter"``, ``"dependencies"`` or ``"project"``;
    :param digest: the compressed blob's.
    :param size: compressed bytes; :param uncompressed_size: bytes of the tar.
    :param files: regular files in it.
    """

    role: str
    digest: str
    diff_id: str
    size: int
    uncompressed_size: int
    files: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformReport:
    """One platform's image.

    :param manifest_digest: the manifest's digest; :param config_digest: the config's.
    :param python: the interpreter's path in the image and its version.
    :param python_from_base: False when shipyard added it (python-build-standalone).
    :param distributions: how many locked distributions the dependency layer holds.
    :param base_size: compressed bytes of the base's layers.
    :param layers: the layers shipyard added.
    """

    platform: Platform
    manifest_digest: str
    manifest_size: int
    config_digest: str
    python: str
    python_version: str
    python_from_base: bool
    distributions: int
    base_size: int
    layers: tuple[LayerReport, ...]

    @property
    def size(self) -> int:
        """Compressed bytes of every layer (what a pull downloads at most)."""
        return self.base_size + sum(layer.size for layer in self.layers)


@dataclass(slots=True, kw_only=True)
class ImageOutcome:
    """What ``image build`` made and where it went.

    :param digest: the image's digest (its index for several platforms, else its
        manifest); :param media_type: that descriptor's media type.
    :param written: the ``oci:``/``docker-archive:`` outputs written.
    :param pushed: the registry reference pushed to, or ``None``.
    """

    digest: str
    media_type: str
    size: int
    platforms: list[PlatformReport] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    pushed: str | None = None
    relocked: bool = False


def build_image(
    project: Project,
    services: Services,
    *,
    base: str | None = None,
    platforms: Sequence[str] = (),
    tag: str | None = None,
    outputs: Sequence[str] = (),
    push: str | None = None,
    frozen: bool = False,
    groups: Sequence[str] = (),
    extras: Sequence[str] = (),
    accelerator: str | None = None,
    remote_layers: RemoteLayerCache | None = None,
) -> ImageOutcome:
    """Build the project's image from its lock.

    :param base: the base image (see :func:`~shipyard.image.base.open_base`); default
        ``[tool.shipyard.docker] base``, else ``python:X.Y-slim-bookworm``.
    :param platforms: ``linux/amd64``, ``linux/arm64``, ``linux/arm/v7``; default this
        machine's.
    :param tag: the image's name in the outputs (``name:tag``).
    :param outputs: ``oci:DIR[:TAG]`` and/or ``docker-archive:FILE``.
    :param push: ``registry/repository:tag`` to push to.
    :param frozen: use the lock as it is (a missing lock is an error).
    :param groups: dependency groups to include (none by default: production).
    :param extras: extras to include.
    :param accelerator: for a lock with accelerator variants, the one the image gets
        (``cuda12.4``), and for wheel variants (PEP 825 draft) the machine they are
        chosen for; default the lock's default variant and the null or plain wheels
        (the build machine's own accelerator does not matter).
    :param remote_layers: the team's remote cache of dependency layers (the command's
        ``remote-cache``), asked before a dependency layer is packed here
        (:mod:`shipyard.image.dependency_layer`); ``None``: this cache only.
    :raises ImageError: for a base without Python, an unreadable base, a distribution
        without a wheel for a foreign platform, a failed push, or bad outputs.
    :raises LockError: when the lock is missing or cannot be made.
    """
    from shipyard.accelerators import parse_host
    from shipyard.image.base import inspect_base, open_base
    from shipyard.image.registry import ImageReference, RegistryAccess
    from shipyard.lock.pylock import LOCK_FILENAME
    from shipyard.project.docker import default_command, docker_settings
    from shipyard.project.freshness import current_lock

    settings = docker_settings(project)
    lock_path = project.root / LOCK_FILENAME
    lock, relocked = current_lock(project, services, frozen=frozen)
    lock_sha256 = hashlib.sha256(lock_path.read_bytes()).hexdigest()
    command = default_command(project, settings)
    if command is None:
        raise ImageError(
            "shipyard cannot tell what the image should run: the project has no single "
            "[project.scripts] entry and no __main__.py in its package.",
            context=str(project.pyproject),
            hint="Set cmd in [tool.shipyard.docker].",
        )
    from shipyard.project.accelerator_locking import variant_for_target

    variant = variant_for_target(lock, accelerator, lock_path)
    if variant is not None:
        key, group, reason = variant
        services.reporter.notice(f"Accelerator variant {key}: {reason}")
        groups = [*groups, group] if group is not None else groups
    chosen = [Platform.parse(p) for p in platforms] or [host_platform()]
    chosen = list(dict.fromkeys(chosen))
    for platform in chosen:
        _check_lock_targets(lock, platform)
    for text in outputs:
        _check_output(text, len(chosen))
    push_reference = ImageReference.parse(push) if push else None
    if push_reference is not None and push_reference.digest:
        raise UsageError(
            f"Push to a tag, not a digest ({push}).", hint="Write it as registry/repo:tag."
        )
    base_name = base or settings.base or _default_base(project, services)
    from_registry = not base_name.startswith(("oci:", "docker-archive:"))
    if services.settings.offline and (from_registry or push):
        raise ImageError(
            f"--offline forbids {'pulling ' + base_name if from_registry else 'pushing'}.",
            hint="Use a base from oci:DIR or docker-archive:FILE and --output, or go online.",
        )
    oci_root = services.cache.bucket("oci")
    store = BlobStore(oci_root / "blobs")
    services.reporter.notice(f"Base image {base_name} ({', '.join(map(str, chosen))})")
    options = services.settings
    access = RegistryAccess(
        username=options.registry_username,
        password=options.registry_password,
        insecure_registries=tuple(options.insecure_registries),
        timeout=float(options.http_timeout),
    )
    base_image = open_base(base_name, chosen, store, access)
    reuse = DependencyLayers(
        store,
        oci_root / "layers",
        remote_layers,
        cache=services.cache,
        reporter=services.reporter,
    )
    reports: list[PlatformReport] = []
    all_blobs: list[str] = []
    built_wheels: dict[Path, Path] = {}
    for platform in chosen:
        image = base_image.images[platform]
        facts = inspect_base(image, store, oci_root / "facts")
        report, blobs = _build_platform(
            project,
            services,
            lock,
            lock_path,
            image,
            facts,
            base_image,
            store,
            command=command,
            groups=groups,
            extras=extras,
            lock_sha256=lock_sha256,
            built_wheels=built_wheels,
            reuse=reuse,
            variant_host=parse_host(accelerator, where="--accelerator") if accelerator else None,
        )
        reports.append(report)
        all_blobs.extend(blobs)
    if len(reports) == 1:
        top = Descriptor(
            media_type=OCI_MANIFEST,
            digest=reports[0].manifest_digest,
            size=reports[0].manifest_size,
        )
    else:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                Descriptor(
                    media_type=OCI_MANIFEST,
                    digest=r.manifest_digest,
                    size=r.manifest_size,
                    platform=r.platform,
                ).to_json()
                for r in reports
            ],
            "annotations": {LOCK_LABEL: lock_sha256},
        }
        data = canonical_json(index)
        top = Descriptor(media_type=OCI_INDEX, digest=store.put_bytes(data), size=len(data))
        all_blobs.append(top.digest)
    all_blobs = list(dict.fromkeys(all_blobs))
    outcome = ImageOutcome(
        digest=top.digest,
        media_type=top.media_type,
        size=sum(r.size for r in reports),
        platforms=reports,
        relocked=relocked,
    )
    name = tag or f"{project.canonical_name}:latest"
    for text in outputs or ([] if push else [f"oci:{project.root / 'build' / 'image'}"]):
        _write_output(text, store, top, all_blobs, name)
        outcome.written.append(text)
    if push:
        _push(push, store, top, reports, base_image, access)
        outcome.pushed = push
    return outcome


@contextmanager
def _scratch(services: Services, prefix: str) -> Iterator[Path]:
    """A staging directory in the cache (the wheel cache's file system, so installs
    hard-link); removed afterwards, and by ``cache prune`` if a build is killed."""
    path = services.cache.tempdir(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _default_base(project: Project, services: Services) -> str:
    from shipyard.project.docker import project_python_minor

    return f"python:{project_python_minor(project, services)}-slim-bookworm"


def _check_output(text: str, platforms: int) -> None:
    if text.startswith("oci:") and len(text) > 4:
        return
    if text.startswith("docker-archive:") and len(text) > len("docker-archive:"):
        if platforms > 1:
            raise UsageError(
                "A docker-archive holds one platform's image; this build has several.",
                hint="Use --output oci:DIR for a multi-platform image, or one --platform.",
            )
        return
    raise UsageError(
        f"Unknown output {text!r}.",
        hint="Use --output oci:DIR[:TAG] or --output docker-archive:FILE.",
    )


def _check_lock_targets(lock: LockFile, platform: Platform) -> None:
    """Refuse a platform the lock was not resolved for (its recorded targets name none of
    that machine): its wheels would be missing. A lock without recorded targets passes.

    :raises ImageError: naming the ``environments`` marker that would add it.
    """
    targets = lock.tool.get("targets")
    if not isinstance(targets, list) or not targets:
        return
    suffix = f"-linux-{platform.machine.lower()}"
    if any(isinstance(name, str) and name.endswith(suffix) for name in targets):
        return
    raise ImageError(
        f"The lock was not made for {platform}: none of its targets is Linux "
        f"{platform.machine}, so it lacks that platform's wheels"
        + (
            " (32-bit ARM is locked only when [tool.shipyard] environments ask for it)."
            if platform.architecture == "arm"
            else "."
        ),
        context=str(lock.path),
        hint=f"Add \"sys_platform == 'linux' and platform_machine == '{platform.machine}'\" "
        "to [tool.shipyard] environments, beside the platforms you already lock for, and "
        "run `shipyard lock`.",
    )


def _target(facts: BaseFacts, platform: Platform) -> tuple[dict[str, str], list[str]]:
    """The marker environment and wheel tags of the image's interpreter."""
    from shipyard.python.probe import TagInputs, supported_tags
    from shipyard.specs.targets import target_for

    parts = facts.python_version.split(".")
    minor = (int(parts[0]), int(parts[1]))
    target = target_for(minor, "linux", platform.machine, facts.python_version)
    markers = dict(target.markers)
    inputs = TagInputs(
        implementation="cpython",
        python_version=minor,
        sys_platform="linux",
        platform=f"linux-{platform.machine}",
        machine=platform.machine,
        pointer_size=platform.pointer_size,
        glibc=f"{facts.glibc[0]}.{facts.glibc[1]}" if facts.glibc else None,
        musl=f"{facts.musl[0]}.{facts.musl[1]}" if facts.musl else None,
    )
    tags = list(supported_tags(inputs))
    if platform.architecture != "arm":
        # A linux_<machine> wheel was built on some machine for itself; on 32-bit ARM it
        # is what piwheels publishes for Raspberry Pi OS (Debian armhf), and pip there
        # takes it too.
        tags = [t for t in tags if not t.endswith(f"-linux_{platform.machine}")]
    return markers, tags


def _build_platform(
    project: Project,
    services: Services,
    lock: LockFile,
    lock_path: Path,
    image: PlatformImage,
    facts: BaseFacts,
    base_image: BaseImage,
    store: BlobStore,
    *,
    command: tuple[str, ...],
    groups: Sequence[str],
    extras: Sequence[str],
    lock_sha256: str,
    built_wheels: dict[Path, Path],
    reuse: DependencyLayers,
    variant_host: HostAccelerator | None = None,
) -> tuple[PlatformReport, list[str]]:
    """One platform's image: select from the lock → install into staging trees →
    tar them as layers → write the config and manifest."""
    from shipyard.image.config import write_image_manifest
    from shipyard.image.layers import build_layer, source_date_epoch
    from shipyard.lock.pylock import select_from_lock
    from shipyard.project.docker import docker_settings

    platform = image.platform
    layers: list[tuple[str, Layer]] = []
    conda_records: list[CondaRecord] | None = None
    if lock.conda is not None:
        conda_records, facts = conda_facts(lock.conda, lock_path, platform, facts, base_image)
    elif facts.python is None:
        with _scratch(services, "image-python") as tmp:
            facts, added = interpreter_layer(
                project, services, platform, facts, base_image, store, tmp
            )
        layers.append(("interpreter", added))
    assert facts.python is not None
    if project.requires_python is not None and not project.requires_python.contains(
        facts.python_version, prereleases=True
    ):
        raise ImageError(
            f"The base image's Python {facts.python_version} ({facts.python}) does not "
            f"satisfy the project's requires-python {project.requires_python}.",
            context=base_image.name,
            hint="Choose a base with a Python the project supports.",
        )
    markers, tags = _target(facts, platform)
    selected = select_from_lock(
        lock,
        environment=markers,
        tags=tags,
        extras=[canonicalize_name(e) for e in extras],
        dependency_groups=list(groups),
        variant_host=variant_host,
    )
    dependencies = [d for d in selected if d.directory is None]
    local = [d for d in selected if d.directory is not None]
    minor = ".".join(facts.python_version.split(".")[:2])
    install = partial(
        install_distributions,
        services,
        project,
        minor=minor,
        platform=platform,
        tags=tags,
        built=built_wheels,
    )
    with _scratch(services, "image-build") as work:
        deps_root = work / "dependencies"
        label, key = f"dependencies ({platform})", None
        if conda_records is not None:
            owned = conda_prefix(project, services, conda_records, deps_root, platform)
            dependencies = [d for d in dependencies if d.name not in owned]
        else:
            key = dependency_layer_key(
                dependencies,
                requested=_direct(project),
                platform=platform,
                facts=facts,
                tags=tags,
                layout=VENV_DIR,
                epoch=source_date_epoch(),
            )
        layer = reuse.find(key, label=label) if key else None
        if layer is None:  # not packed before (or a conda prefix): install and pack
            if conda_records is None:
                venv_skeleton(deps_root, facts, minor)
            install(dependencies, deps_root, requested=_direct(project))
            layer = build_layer(store, deps_root)
            if key:
                reuse.keep(key, layer, label=label)
        layers.append(("dependencies", layer))
        if local:
            project_root = work / "project"
            install(local, project_root, requested={d.name for d in local})
            layers.append(("project", build_layer(store, project_root)))
    written = write_image_manifest(
        store,
        image,
        base_image,
        layers,
        platform=platform,
        settings=docker_settings(project),
        title=project.name,
        version=project.version,
        command=command,
        conda=conda_records is not None,
        lock_name=lock_path.name,
        lock_sha256=lock_sha256,
        epoch=source_date_epoch(),
    )
    report = PlatformReport(
        platform=platform,
        manifest_digest=written.manifest_digest,
        manifest_size=written.manifest_size,
        config_digest=written.config_digest,
        python=facts.python,
        python_version=facts.python_version,
        python_from_base=layers[0][0] != "interpreter",
        distributions=len(dependencies),
        base_size=sum(layer.size for layer in image.layers),
        layers=tuple(
            LayerReport(
                role=role,
                digest=layer.digest,
                diff_id=layer.diff_id,
                size=layer.size,
                uncompressed_size=layer.uncompressed_size,
                files=layer.files,
            )
            for role, layer in layers
        ),
    )
    blobs = [
        written.manifest_digest,
        written.config_digest,
        *(layer.digest for layer in image.layers),
        *(layer.digest for _role, layer in layers),
    ]
    return report, blobs


def _direct(project: Project) -> set[str]:
    return {canonicalize_name(r.name) for r in project.dependencies}


def _write_output(
    text: str, store: BlobStore, top: Descriptor, blobs: Sequence[str], name: str
) -> None:
    import json

    from shipyard.image.oci import write_docker_archive, write_oci_layout

    if text.startswith("oci:"):
        rest = text[len("oci:") :]
        directory, _, tag = rest.partition(":")
        write_oci_layout(
            Path(directory), store, top, blobs, tag=tag or name.rpartition(":")[2] or "latest"
        )
        return
    path = Path(text[len("docker-archive:") :])
    manifest = json.loads(store.read(top.digest))
    write_docker_archive(path, store, manifest, repo_tags=[name])


def _push(
    target: str,
    store: BlobStore,
    top: Descriptor,
    reports: Sequence[PlatformReport],
    base_image: BaseImage,
    access: Any,
) -> None:
    """Upload every blob the registry lacks (mounting the base's from its repository
    when both live on the same registry), then the manifests, then the tag."""
    import json

    from shipyard.image.registry import ImageReference, RegistryClient

    reference = ImageReference.parse(target)
    client = RegistryClient(reference, access, push=True)
    same_registry = (
        base_image.repository is not None
        and base_image.repository.registry == reference.registry
        and base_image.repository.repository != reference.repository
    )
    for report in reports:
        manifest = json.loads(store.read(report.manifest_digest))
        digests = [manifest["config"]["digest"], *(d["digest"] for d in manifest["layers"])]
        for digest in digests:
            if client.has_blob(digest):
                continue
            if same_registry and client.mount_blob(base_image.repository.repository, digest):
                continue
            client.push_blob(store.path(digest), digest)
        if len(reports) > 1:
            client.push_manifest(report.manifest_digest, store.read(report.manifest_digest))
    client.push_manifest(reference.tag, store.read(top.digest))
