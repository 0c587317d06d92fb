"""The ``image build`` use case: an OCI image from the lock, without a container engine.

For each platform: open the base image (its Python and C library are read from its
layers), select from the lock for that target environment (PEP 751 selection with the
base's marker values and wheel tags: Linux aarch64 for an ``linux/arm64`` image),
install the wheels into a staging tree shaped like ``/app/.venv`` and tar it as one
reproducible layer, then the project (built as a wheel, never editable) as a second
layer, then write the image config and manifest. Several platforms make an image
index. The result goes to an OCI layout directory, a ``docker save`` tarball and/or a
registry.

Layer contents depend only on the lock, the base's Python and shipyard's version, and
every tar is reproducible (:mod:`shipyard.image.layers`): the same lock gives the same
dependency layer digest on every build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.errors import ImageError, UsageError
from shipyard.image.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    TO_OCI,
    BlobStore,
    Descriptor,
    Platform,
    canonical_json,
)

if TYPE_CHECKING:
    from shipyard.conda.records import CondaRecord
    from shipyard.image.base import BaseFacts, BaseImage, PlatformImage
    from shipyard.image.layers import Layer
    from shipyard.install.unpack import UnpackedWheel
    from shipyard.models import LockedDistribution
    from shipyard.project.docker import DockerSettings
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = ["APP_DIR", "VENV_DIR", "ImageOutcome", "LayerReport", "PlatformReport", "build_image"]

APP_DIR = "/app"
VENV_DIR = "/app/.venv"
#: The label carrying the sha256 of ``pylock.toml``.
LOCK_LABEL = "dev.shipyard.lock.sha256"


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


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _host_platform() -> Platform:
    import platform as host

    machine = host.machine().lower()
    return Platform("linux", {"x86_64": "amd64", "amd64": "amd64"}.get(machine, "arm64"))


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
) -> ImageOutcome:
    """Build the project's image from its lock.

    :param base: the base image (see :func:`~shipyard.image.base.open_base`); default
        ``[tool.shipyard.docker] base``, else ``python:X.Y-slim-bookworm``.
    :param platforms: ``linux/amd64``, ``linux/arm64``; default this machine's.
    :param tag: the image's name in the outputs (``name:tag``).
    :param outputs: ``oci:DIR[:TAG]`` and/or ``docker-archive:FILE``.
    :param push: ``registry/repository:tag`` to push to.
    :param frozen: use the lock as it is (a missing lock is an error).
    :param groups: dependency groups to include (none by default: production).
    :param extras: extras to include.
    :raises ImageError: for a base without Python, an unreadable base, a distribution
        without a wheel for a foreign platform, a failed push, or bad outputs.
    :raises LockError: when the lock is missing or cannot be made.
    """
    from shipyard.image.base import inspect_base, open_base
    from shipyard.image.registry import ImageReference, RegistryAccess
    from shipyard.lock.pylock import LOCK_FILENAME
    from shipyard.project.docker import default_command, docker_settings
    from shipyard.project.freshness import current_lock

    settings = docker_settings(project)
    lock_path = project.root / LOCK_FILENAME
    document, relocked = current_lock(project, services, frozen=frozen)
    lock_sha256 = hashlib.sha256(lock_path.read_bytes()).hexdigest()
    command = default_command(project, settings)
    if command is None:
        raise ImageError(
            "shipyard cannot tell what the image should run: the project has no single "
            "[project.scripts] entry and no __main__.py in its package.",
            context=str(project.pyproject),
            hint="Set cmd in [tool.shipyard.docker].",
        )
    chosen = [Platform.parse(p) for p in platforms] or [_host_platform()]
    chosen = list(dict.fromkeys(chosen))
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
    reports: list[PlatformReport] = []
    all_blobs: list[str] = []
    built_wheels: dict[Path, Path] = {}
    for platform in chosen:
        image = base_image.images[platform]
        facts = inspect_base(image, store, oci_root / "facts")
        report, blobs = _build_platform(
            project,
            services,
            document,
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
        pointer_size=64,
        glibc=f"{facts.glibc[0]}.{facts.glibc[1]}" if facts.glibc else None,
        musl=f"{facts.musl[0]}.{facts.musl[1]}" if facts.musl else None,
    )
    tags = [t for t in supported_tags(inputs) if not t.endswith(f"-linux_{platform.machine}")]
    return markers, tags


def _build_platform(
    project: Project,
    services: Services,
    document: dict[str, Any],
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
) -> tuple[PlatformReport, list[str]]:
    from shipyard.image.layers import build_layer, source_date_epoch
    from shipyard.lock.pylock import select_from_lock
    from shipyard.project.docker import docker_settings

    platform = image.platform
    interpreter_layer: Layer | None = None
    conda_table = document.get("tool", {}).get("shipyard", {}).get("conda") or None
    conda_records: list[CondaRecord] | None = None
    if conda_table:
        conda_records, facts = _conda_facts(conda_table, lock_path, platform, facts, base_image)
    elif facts.python is None:
        with _scratch(services, "image-python") as tmp:
            facts, interpreter_layer = _interpreter_layer(
                project, services, platform, facts, base_image, store, tmp
            )
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
        document,
        environment=markers,
        tags=tags,
        extras=[canonicalize_name(e) for e in extras],
        dependency_groups=list(groups),
        path=lock_path,
    )
    dependencies = [d for d in selected if d.directory is None]
    local = [d for d in selected if d.directory is not None]
    minor = ".".join(facts.python_version.split(".")[:2])
    with _scratch(services, "image-build") as work:
        deps_root = work / "dependencies"
        if conda_records is not None:
            owned = _conda_prefix(project, services, conda_records, deps_root, platform)
            dependencies = [d for d in dependencies if d.name not in owned]
        else:
            _venv_skeleton(deps_root, facts, minor)
        unpacked = _prepare(services, project, dependencies, markers, tags, platform)
        _install(services, unpacked, dependencies, deps_root, minor, requested=_direct(project))
        dep_layer = build_layer(store, deps_root)
        layers: list[tuple[str, Layer]] = []
        if interpreter_layer is not None:
            layers.append(("interpreter", interpreter_layer))
        layers.append(("dependencies", dep_layer))
        if local:
            project_root = work / "project"
            wheels = _build_local(services, project, local, tags, platform, built_wheels)
            _install(
                services, wheels, local, project_root, minor, requested={d.name for d in local}
            )
            layers.append(("project", build_layer(store, project_root)))
    settings = docker_settings(project)
    epoch = source_date_epoch()
    base_config = dict(image.config)
    inner = dict(base_config.get("config") or {})
    env = _environment(inner.get("Env"), settings.env, conda=conda_records is not None)
    uid = settings.user_id or 10001
    labels = dict(inner.get("Labels") or {})
    labels.update(
        {
            "org.opencontainers.image.title": project.name,
            LOCK_LABEL: lock_sha256,
            "org.opencontainers.image.base.name": base_image.name,
        }
    )
    if project.version:
        labels["org.opencontainers.image.version"] = project.version
    inner.update(
        {
            "Env": env,
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
                "created": _iso(epoch),
                "created_by": f"shipyard image build: {role} ({lock_path.name} "
                f"sha256:{lock_sha256[:12]})",
            }
        )
    config = {
        **base_config,
        "created": _iso(epoch),
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
    manifest_digest = store.put_bytes(manifest_bytes)
    report = PlatformReport(
        platform=platform,
        manifest_digest=manifest_digest,
        manifest_size=len(manifest_bytes),
        config_digest=config_digest,
        python=facts.python,
        python_version=facts.python_version,
        python_from_base=interpreter_layer is None,
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
        manifest_digest,
        config_digest,
        *(layer.digest for layer in image.layers),
        *(layer.digest for _role, layer in layers),
    ]
    return report, blobs


#: The conda subdir of each image architecture.
CONDA_SUBDIRS = {"amd64": "linux-64", "arm64": "linux-aarch64"}


def _conda_facts(
    table: Any, lock_path: Path, platform: Platform, facts: BaseFacts, base_image: BaseImage
) -> tuple[list[CondaRecord], BaseFacts]:
    """The lock's conda records for the image's platform, and the facts of the
    interpreter they bring (``/app/.venv/bin/pythonX.Y``); the base's own Python, if
    any, goes unused.

    :raises LockError: when the lock has no records for that platform.
    :raises ImageError: when they have no python, or the base has no glibc.
    """
    from shipyard.conda.pypi import python_record
    from shipyard.conda.records import platform_records
    from shipyard.image.base import BaseFacts as Facts

    records = platform_records(table, CONDA_SUBDIRS.get(platform.architecture), str(lock_path))
    python = python_record(records)
    if python is None:
        raise ImageError(
            f"The lock's conda packages for {platform} have no python.",
            context=str(lock_path),
            hint="Add python to [tool.shipyard.conda] dependencies and run `shipyard lock`.",
        )
    if facts.glibc is None:
        raise ImageError(
            f"The base image {base_image.name} has no glibc for {platform}; conda packages "
            "for Linux need it.",
            context=base_image.name,
            hint="Use a glibc base such as debian:bookworm-slim.",
        )
    minor = ".".join(python.version.split(".")[:2])
    return records, Facts(
        python=f"{VENV_DIR}/bin/python{minor}",
        python_version=python.version,
        glibc=facts.glibc,
        musl=None,
    )


def _conda_prefix(
    project: Project,
    services: Services,
    records: Sequence[CondaRecord],
    root: Path,
    platform: Platform,
) -> set[str]:
    """Install ``records`` as the conda prefix ``/app/.venv`` of the staging tree
    ``root`` (checked and linked by :func:`~shipyard.conda.prefix.install_records` for
    the image's subdir, with ``/app/.venv`` written into relocated files; nothing is run).

    :returns: the canonical names of the Python distributions the conda packages
        installed, which the PyPI side must not install again.
    """
    from shipyard.conda.config import conda_config
    from shipyard.conda.prefix import install_records
    from shipyard.conda.pypi import conda_owned_distributions

    prefix = root / VENV_DIR.lstrip("/")
    config = conda_config(project.tool, project.root)
    install_records(
        records,
        prefix,
        config=config,
        cache_dir=services.cache.bucket("conda-pkgs"),
        requested=config.dependencies if config is not None else (),
        offline=services.settings.offline,
        platform=CONDA_SUBDIRS[platform.architecture],
        used_at=VENV_DIR,
    )
    owned: set[str] = set()
    for relative in conda_owned_distributions(prefix):
        stem = Path(relative).name.rsplit(".", 1)[0]
        owned.add(canonicalize_name(stem.split("-", 1)[0]))
    return owned


#: Where an interpreter shipyard adds to the image lives (one directory per build).
PYTHON_DIR = "/opt/python"


def _interpreter_layer(
    project: Project,
    services: Services,
    platform: Platform,
    facts: BaseFacts,
    base_image: BaseImage,
    store: BlobStore,
    work: Path,
) -> tuple[BaseFacts, Layer]:
    """A layer with a python-build-standalone CPython for ``platform`` under
    ``/opt/python/<build>``, for a base without Python: the version the project asks for
    (``.python-version``, ``[tool.shipyard] python``, ``requires-python``), downloaded
    (sha256-checked, cached), unpacked, never run.

    :returns: the base's facts with that interpreter, and the layer.
    :raises ImageError: when the base has no glibc or downloads are off.
    :raises InterpreterNotFoundError: when no published build fits.
    """
    from shipyard.errors import InterpreterNotFoundError
    from shipyard.image.base import BaseFacts as Facts
    from shipyard.image.layers import build_layer
    from shipyard.project.environment import python_request_text
    from shipyard.python.discovery import parse_python_request
    from shipyard.python.downloads import find_download, install_archive

    if facts.glibc is None:
        raise ImageError(
            f"The base image {base_image.name} has no Python and no glibc for {platform}, "
            "so shipyard cannot add a python-build-standalone interpreter to it.",
            context=base_image.name,
            hint="Use a glibc base (debian:bookworm-slim) or one with Python.",
        )
    if services.settings.python_downloads == "never":
        raise ImageError(
            f"The base image {base_image.name} has no Python 3 interpreter for {platform}, "
            "and Python downloads are off (python-downloads = never).",
            context=base_image.name,
            hint="Use a base with Python, or allow downloads.",
        )
    text, _source = python_request_text(project, services)
    try:
        download = find_download(
            parse_python_request(text),
            requires_python=project.requires_python,
            platform="linux",
            arch=platform.machine,
        )
    except InterpreterNotFoundError as exc:
        raise ImageError(
            f"The base image {base_image.name} has no Python, and {exc.message}",
            context=base_image.name,
            hint="Use a base with Python, or ask for a version that can be downloaded.",
        ) from exc
    archive_dir = services.cache.bucket("downloads")
    archive = archive_dir / download.filename
    if not archive.is_file():
        services.reporter.download_started(download.key, None)
        services.client.download(
            download.mirrored(services.settings.python_mirror),
            archive,
            expected_sha256=download.sha256,
            on_progress=lambda n: services.reporter.download_progress(download.key, n),
        )
        services.reporter.download_finished(download.key)
    root = work / "interpreter"
    install_archive(
        archive,
        install_dir=root / PYTHON_DIR.lstrip("/"),
        key=download.key,
        expected_sha256=download.sha256,
        filename=download.filename,
    )
    minor = ".".join(download.version.split(".")[:2])
    layer = build_layer(store, root)
    python = f"{PYTHON_DIR}/{download.key}/bin/python{minor}"
    return Facts(
        python=python, python_version=download.version, glibc=facts.glibc, musl=None
    ), layer


def _direct(project: Project) -> set[str]:
    return {canonicalize_name(r.name) for r in project.dependencies}


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


def _venv_skeleton(root: Path, facts: BaseFacts, minor: str) -> None:
    """``/app/.venv`` as ``python -m venv`` lays it out on Linux, pointing at the base's
    interpreter: ``pyvenv.cfg``, ``bin/python*`` links, ``lib/pythonX.Y/site-packages``
    and the ``lib64`` link."""
    assert facts.python is not None
    venv = root / VENV_DIR.lstrip("/")
    (venv / "lib" / f"python{minor}" / "site-packages").mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "include").mkdir()
    os.symlink("lib", venv / "lib64")
    os.symlink(facts.python, venv / "bin" / "python")
    os.symlink("python", venv / "bin" / "python3")
    os.symlink("python", venv / "bin" / f"python{minor}")
    home = facts.python.rsplit("/", 1)[0]
    (venv / "pyvenv.cfg").write_text(
        f"home = {home}\n"
        "include-system-site-packages = false\n"
        f"version = {facts.python_version}\n"
        f"executable = {facts.python}\n"
        f"command = {facts.python} -m venv {VENV_DIR}\n"
    )


def _prepare(
    services: Services,
    project: Project,
    dists: Sequence[LockedDistribution],
    markers: dict[str, str],
    tags: Sequence[str],
    platform: Platform,
) -> dict[str, UnpackedWheel]:
    """Every distribution's unpacked wheel in the cache: downloaded (hash-checked) and
    unpacked, or built from its sdist when the image's interpreter is this machine's
    kind (same machine, same Python minor)."""
    from shipyard.install.prepare import WheelPreparer
    from shipyard.project.building import BuilderFactory

    factory: BuilderFactory | None = None
    host = _host_platform()

    def build_wheel(archive: Path, dist: LockedDistribution) -> Path:
        nonlocal factory
        from shipyard.project.environment import find_project_interpreter

        interpreter = find_project_interpreter(project, services)
        if host != platform or interpreter.python_version != markers["python_version"]:
            raise ImageError(
                f"{dist.name} {dist.version} has no wheel for {platform} with Python "
                f"{markers['python_version']} in the lock, and shipyard cannot build its "
                f"sdist ({archive.name}) for another platform or Python.",
                context=dist.name,
                hint="Pick a version with wheels for that platform (`shipyard lock "
                f"--upgrade-package {dist.name}`), or build on a matching machine.",
            )
        if factory is None:
            factory = BuilderFactory(project, services, interpreter)
        return factory.build_wheel(archive, dist)

    preparer = WheelPreparer(
        cache=services.cache,
        client=services.client,
        reporter=services.reporter,
        build_wheel=build_wheel,
        build_key=tags[0],
    )
    result: dict[str, UnpackedWheel] = {}
    futures: dict[str, Future[UnpackedWheel]] = {}
    for dist in dists:
        found = preparer.lookup(dist)
        if found is not None:
            result[dist.name] = preparer.verified(found, dist)
        else:
            futures[dist.name] = services.executor.submit(preparer.prepare, dist)
    for name, future in futures.items():
        result[name] = future.result()
    return result


def _build_local(
    services: Services,
    project: Project,
    local: Sequence[LockedDistribution],
    tags: Sequence[str],
    platform: Platform,
    built: dict[Path, Path],
) -> dict[str, UnpackedWheel]:
    """Build the project (and other directory packages) as ordinary wheels; they must
    suit the image (pure Python, or built for the same platform).

    :param built: source directory → wheel, shared by the platforms of one build so
        each directory is built once.
    """
    from packaging.tags import parse_tag
    from packaging.utils import parse_wheel_filename

    from shipyard.install.prepare import WheelPreparer
    from shipyard.project.building import BuilderFactory

    factory = BuilderFactory(project, services)
    preparer = WheelPreparer(
        cache=services.cache, client=services.client, reporter=services.reporter
    )
    supported = {t for text in tags for t in parse_tag(text)}
    result: dict[str, UnpackedWheel] = {}
    for dist in local:
        assert dist.directory is not None
        source = (project.root / dist.directory).resolve()
        wheel = built.get(source)
        if wheel is None:
            wheel = built[source] = factory.builder().wheel(source, dist.name, editable=False)
        _name, _version, _build, wheel_tags = parse_wheel_filename(wheel.name)
        if not wheel_tags & supported:
            raise ImageError(
                f"The wheel built from {dist.directory} ({wheel.name}) does not run on {platform}.",
                context=str(source),
                hint="Only pure-Python local packages can go into an image for another "
                "platform; build on a matching machine.",
            )
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        result[dist.name] = preparer.cached_wheel(digest) or preparer.unpack(wheel, digest)
    return result


def _install(
    services: Services,
    unpacked: dict[str, UnpackedWheel],
    dists: Sequence[LockedDistribution],
    root: Path,
    minor: str,
    *,
    requested: set[str],
) -> None:
    """Install ``dists`` into the staging tree ``root`` as if it were ``/``: files under
    ``root/app/.venv``, scripts with ``#!/app/.venv/bin/python``."""
    from concurrent.futures import ThreadPoolExecutor

    from shipyard.install.wheel import install_unpacked
    from shipyard.models import InstallScheme

    venv = root / VENV_DIR.lstrip("/")
    site = venv / "lib" / f"python{minor}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    scheme = InstallScheme(
        purelib=site,
        platlib=site,
        scripts=venv / "bin",
        data=venv,
        headers=venv / "include" / "site" / f"python{minor}",
        python=Path(VENV_DIR) / "bin" / "python",
    )

    def place(dist: LockedDistribution) -> None:
        install_unpacked(
            unpacked[dist.name],
            scheme,
            link_mode="hardlink",
            requested=dist.name in requested,
        )

    threads = max(1, min(services.settings.concurrent_installs, len(dists)))
    with ThreadPoolExecutor(threads, thread_name_prefix="shipyard-image") as pool:
        for job in [pool.submit(place, dist) for dist in dists]:
            job.result()


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
