"""The install step of ``image build``: a staging tree shaped like the image's ``/``.

The dependencies go into ``<root>/app/.venv`` — a virtual environment skeleton
pointing at the base's interpreter (:func:`venv_skeleton`), or a conda prefix from
the lock's conda records (:func:`conda_prefix`) — through the one
:class:`~shipyard.install.installer.Installer`, with scripts written for
``/app/.venv/bin/python``; the project and other directory packages are built as
ordinary wheels into a second tree (:func:`install_distributions`). For a base
without Python, :func:`interpreter_layer` adds a python-build-standalone CPython.
Nothing here runs code from the image.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.errors import ImageError
from shipyard.image.oci import BlobStore, Platform

if TYPE_CHECKING:
    from shipyard.conda.records import CondaRecord
    from shipyard.image.base import BaseFacts, BaseImage
    from shipyard.image.layers import Layer
    from shipyard.models import LockedDistribution
    from shipyard.project.building import BuilderFactory
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = [
    "APP_DIR",
    "CONDA_SUBDIRS",
    "PYTHON_DIR",
    "VENV_DIR",
    "conda_facts",
    "conda_prefix",
    "host_platform",
    "install_distributions",
    "interpreter_layer",
    "venv_skeleton",
]

APP_DIR = "/app"
VENV_DIR = "/app/.venv"


def host_platform() -> Platform:
    """This machine's image platform: ``linux/amd64``, ``linux/arm/v7`` on 32-bit ARM
    (``armv7l``, ``armv8l``), else ``linux/arm64``."""
    import platform as host

    machine = host.machine().lower()
    if machine in ("armv7l", "armv8l"):
        return Platform("linux", "arm", "v7")
    return Platform("linux", {"x86_64": "amd64", "amd64": "amd64"}.get(machine, "arm64"))


#: The conda subdir of each image architecture.
CONDA_SUBDIRS = {"amd64": "linux-64", "arm64": "linux-aarch64", "arm": "linux-armv7l"}


def conda_facts(
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


def conda_prefix(
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
    from shipyard.project.remote_blobs import remote_blob_cache

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
        remote=remote_blob_cache(services, "conda-packages"),
    )
    owned: set[str] = set()
    for relative in conda_owned_distributions(prefix):
        stem = Path(relative).name.rsplit(".", 1)[0]
        owned.add(canonicalize_name(stem.split("-", 1)[0]))
    return owned


#: Where an interpreter shipyard adds to the image lives (one directory per build).
PYTHON_DIR = "/opt/python"


def interpreter_layer(
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


def venv_skeleton(root: Path, facts: BaseFacts, minor: str) -> None:
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


def install_distributions(
    services: Services,
    project: Project,
    dists: Sequence[LockedDistribution],
    root: Path,
    *,
    minor: str,
    platform: Platform,
    tags: Sequence[str],
    requested: Collection[str],
    built: dict[Path, Path],
) -> None:
    """Install ``dists`` into the staging tree ``root`` as if it were ``/``: files under
    ``root/app/.venv/lib/pythonX.Y/site-packages``, scripts with
    ``#!/app/.venv/bin/python``, no ``direct_url.json`` (the sources are not in the
    image). Wheels come from the cache or the lock's URLs; an sdist is built only when
    the image's interpreter is this machine's kind (same platform, same Python minor);
    a directory package is built as an ordinary wheel that must suit the image.

    :param minor: the image's Python ``X.Y``.
    :param tags: the image interpreter's wheel tags, most specific first.
    :param built: source directory → wheel, shared by the platforms of one build so
        each directory is built once.
    :raises ImageError: for an sdist or a directory wheel that cannot serve the image.
    :raises ShipyardError: from downloading, building or installing.
    """
    from shipyard.install.plan import Plan
    from shipyard.models import InstallScheme
    from shipyard.project.building import make_installer

    builds = _ImageBuilds(services, project, platform, minor, tags, built)
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
    installer = make_installer(
        services,
        build_sdist=builds.sdist,
        build_directory=builds.directory,
        build_key=tags[0],
        report_installs=False,
    )
    installer.install(
        Plan(install=list(dists)),
        scheme,
        base=project.root,
        requested=requested,
        link_mode="hardlink",
        record_direct_urls=False,
    )


class _ImageBuilds:
    """The two build hooks of an image's installer: sdists only for this machine's kind
    of interpreter, directories as ordinary wheels checked against the image's tags."""

    def __init__(
        self,
        services: Services,
        project: Project,
        platform: Platform,
        minor: str,
        tags: Sequence[str],
        built: dict[Path, Path],
    ) -> None:
        self.services = services
        self.project = project
        self.platform = platform
        self.minor = minor
        self.tags = tags
        self.built = built
        self._factory: BuilderFactory | None = None

    def _builders(self) -> BuilderFactory:
        from shipyard.project.building import BuilderFactory

        if self._factory is None:
            self._factory = BuilderFactory(self.project, self.services)
        return self._factory

    def sdist(self, archive: Path, dist: LockedDistribution) -> Path:
        from shipyard.project.environment import find_project_interpreter

        interpreter = find_project_interpreter(self.project, self.services)
        if host_platform() != self.platform or interpreter.python_version != self.minor:
            raise ImageError(
                f"{dist.name} {dist.version} has no wheel for {self.platform} with Python "
                f"{self.minor} in the lock, and shipyard cannot build its "
                f"sdist ({archive.name}) for another platform or Python.",
                context=dist.name,
                hint="Pick a version with wheels for that platform (`shipyard lock "
                f"--upgrade-package {dist.name}`), or build on a matching machine.",
            )
        return self._builders().build_wheel(archive, dist)

    def directory(self, source: Path, dist: LockedDistribution) -> Path:
        from packaging.tags import parse_tag
        from packaging.utils import parse_wheel_filename

        wheel = self.built.get(source)
        if wheel is None:
            wheel = self._builders().builder().wheel(source, dist.name, editable=False)
            self.built[source] = wheel
        supported = {t for text in self.tags for t in parse_tag(text)}
        if not parse_wheel_filename(wheel.name)[3] & supported:
            raise ImageError(
                f"The wheel built from {dist.directory} ({wheel.name}) does not run on "
                f"{self.platform}.",
                context=str(source),
                hint="Only pure-Python local packages can go into an image for another "
                "platform; build on a matching machine.",
            )
        return wheel
