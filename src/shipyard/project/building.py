"""Glue between the build front end and the rest: build environments are filled by
resolving their requirements for the one build interpreter and installing them
with shipyard's own installer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

from shipyard.models import CoreMetadata, DistFile, Interpreter, LockedDistribution
from shipyard.project.manifest import Project
from shipyard.project.services import Services

if TYPE_CHECKING:
    from shipyard.build.frontend import Builder
    from shipyard.install.installer import DirectoryBuilder, Installer, SdistBuilder
    from shipyard.venv import VirtualEnvironment

__all__ = ["BuilderFactory", "install_requirements", "make_installer"]


def _best_file(files: tuple[DistFile, ...], interpreter: Interpreter) -> DistFile:
    """The most preferred wheel for ``interpreter`` (by its tag order), else the sdist.

    A build environment takes no wheel variant (PEP 825 draft) but the null one, after
    every plain wheel: which variant fits would need the variant metadata."""
    from packaging.utils import InvalidWheelFilename

    from shipyard.specs.variants import NULL_LABEL, parse_variant_wheel_filename

    rank = {tag: i for i, tag in enumerate(interpreter.tags)}
    best: tuple[int, DistFile] | None = None
    for dist in files:
        if not dist.is_wheel:
            continue
        try:
            _name, _version, _build, tags, label = parse_variant_wheel_filename(dist.filename)
        except InvalidWheelFilename:
            continue
        if label not in (None, NULL_LABEL):
            continue
        score = min((rank[str(t)] for t in tags if str(t) in rank), default=None)
        if score is not None and label is not None:
            score += len(rank)
        if score is not None and (best is None or score < best[0]):
            best = (score, dist)
    if best is not None:
        return best[1]
    return next(f for f in files if not f.is_wheel)


def install_requirements(
    requirements: list[str],
    env: VirtualEnvironment,
    *,
    interpreter: Interpreter,
    services: Services,
    builder: Builder | None,
) -> None:
    """Resolve ``requirements`` for ``interpreter`` alone and install them into ``env``.

    Used for PEP 517 build environments.

    :raises ResolutionError, NetworkError, InstallError: as the steps do.
    """
    from shipyard.index.repository import IndexRepository
    from shipyard.install.plan import Plan
    from shipyard.resolver.provider import ResolveOptions
    from shipyard.resolver.universal import RootRequirement, resolve
    from shipyard.specs.targets import target_from_interpreter

    target = target_from_interpreter(interpreter)
    repository = IndexRepository(
        client=services.client,
        cache=services.cache,
        index_urls=services.settings.index_urls(),
        find_links=services.settings.find_links,
        executor=services.executor,
        build_metadata=builder.metadata_for_sdist if builder is not None else None,
    )
    roots = [
        RootRequirement(requirement=Requirement(text), selector=None, origin="the build system")
        for text in requirements
    ]
    resolution = resolve(
        roots,
        project_name="the build system",
        targets=[target],
        repository=repository,
        options=ResolveOptions(),
        requires_python=None,
    )
    installer = make_installer(
        services,
        build_sdist=_sdist_builder(builder) if builder else None,
        build_directory=None,
        build_key=interpreter.tags[0],
        report_installs=False,
        parallel=False,
    )
    to_install = []
    for package in resolution.packages:
        chosen = repository.file_digest(_best_file(package.files, interpreter))
        to_install.append(
            LockedDistribution(
                name=package.name,
                version=str(package.version),
                url=chosen.url,
                filename=chosen.filename,
                sha256=chosen.sha256,
                size=chosen.size,
                is_wheel=chosen.is_wheel,
            )
        )
    installer.install(Plan(install=to_install), env.scheme(), base=env.root)


def _sdist_builder(builder: Builder):  # type: ignore[no-untyped-def]
    def build(archive: Path, dist: LockedDistribution) -> Path:
        tree = builder.source_tree(archive)
        return builder.wheel(tree, dist.name)

    return build


def _local_directory(url: str) -> Path | None:
    """The directory a ``file://`` URL names, or ``None``."""
    if not url.startswith("file:"):
        return None
    import urllib.parse
    import urllib.request

    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    return path if path.is_dir() else None


class BuilderFactory:
    """Creates the project's :class:`Builder` on first use (finding the interpreter
    then, not before: most locks never build anything)."""

    def __init__(
        self,
        project: Project | None,
        services: Services,
        interpreter: Interpreter | None = None,
    ):
        """:param project: whose interpreter builds, found on first use; may be ``None``
        when ``interpreter`` is given (``pip compile``/``pip sync`` have no project)."""
        self.project = project
        self.services = services
        self._interpreter = interpreter
        self._builder: Builder | None = None
        # Guards creating the builder and announcing builds; the builds themselves run
        # outside it, side by side, as many at once as ``concurrent-builds`` says.
        self._lock = threading.RLock()
        self._slots = threading.BoundedSemaphore(max(1, services.settings.concurrent_builds))

    def builder(self) -> Builder:
        """The builder (created once)."""
        from shipyard.build.frontend import Builder
        from shipyard.project.environment import find_project_interpreter

        with self._lock:
            if self._builder is None:
                interpreter = self._interpreter
                if interpreter is None:
                    assert self.project is not None, "a BuilderFactory needs one of the two"
                    interpreter = find_project_interpreter(self.project, self.services)
                holder: list[Builder] = []

                def installer(requirements: list[str], env: VirtualEnvironment) -> None:
                    install_requirements(
                        requirements,
                        env,
                        interpreter=interpreter,
                        services=self.services,
                        builder=holder[0],
                    )

                self._builder = Builder(
                    interpreter=interpreter,
                    cache=self.services.cache,
                    client=self.services.client,
                    reporter=self.services.reporter,
                    install_requirements=installer,
                )
                holder.append(self._builder)
            return self._builder

    def check_build_allowed(self, name: str, version: str, filename: str) -> None:
        """Refuse a build that ``no-build``/``no-build-package`` forbids.

        :raises BuildError: when building ``name`` is forbidden.
        """
        from packaging.utils import canonicalize_name

        from shipyard.errors import BuildError

        key = canonicalize_name(name)
        settings = self.services.settings
        if settings.build_forbidden(key):
            why = "--no-build" if settings.no_build else "no-build-package"
            raise BuildError(
                f"{name} {version} would be built from its source distribution ({filename}), "
                f"and {why} forbids building it.",
                hint="Lock again so a version with a wheel is chosen (`shipyard lock "
                f"--upgrade-package {key}`), or allow building {key}.",
            )

    def announce_build(self, name: str, version: str, filename: str) -> None:
        """Unless the user asked for it (``no-binary``), say once per package that its
        build backend is about to run."""
        from packaging.utils import canonicalize_name

        key = canonicalize_name(name)
        with self._lock:
            announced = self.services.announced_builds
            if self.services.settings.build_requested(key) or key in announced:
                return
            announced.add(key)
        self.services.reporter.notice(
            f"Building {name} {version} from source ({filename}): this runs its build "
            "backend, code from the package, on this machine. --no-build or "
            "`no-build-package` refuse; `no-binary` marks a build as wanted."
        )

    def metadata_for_sdist(self, dist: DistFile) -> CoreMetadata:
        """The metadata of an sdist, or of a local project directory given as a
        ``file://`` URL: read where the tree states it statically (PEP 643, PEP 621),
        else built (PEP 517) with the project's interpreter. Safe to call from several
        threads: at most ``concurrent-builds`` run at once.

        :raises BuildError: when building it is forbidden or fails.
        """
        builder = self.builder()
        directory = _local_directory(dist.url)
        if directory is not None:
            with self._slots:
                return builder.metadata(directory, dist.filename)
        from shipyard.index.simple import project_of_filename

        stem = dist.filename.removesuffix(".tar.gz").removesuffix(".zip")
        name = project_of_filename(dist.filename) or stem
        version = stem.rpartition("-")[2] if "-" in stem else "?"
        remembered = builder.remembered_failure(dist)
        if remembered is not None:
            raise remembered  # not built again: nothing to announce
        # Forbidden even when the metadata is static: installing it would need a build.
        self.check_build_allowed(name, version, dist.filename)
        with self._slots:
            return builder.metadata_for_sdist(
                dist, before_build=lambda: self.announce_build(name, version, dist.filename)
            )

    def build_wheel(self, archive: Path, dist: LockedDistribution) -> Path:
        """Build a wheel from a downloaded sdist (at most ``concurrent-builds`` at once).

        :raises BuildError: when building it is forbidden or fails.
        """
        self.check_build_allowed(dist.name, dist.version or "?", archive.name)
        self.announce_build(dist.name, dist.version or "?", archive.name)
        builder = self.builder()
        with self._slots:
            tree = builder.source_tree(archive)
            return builder.wheel(tree, dist.name)

    def build_directory(self, source: Path, dist: LockedDistribution) -> Path:
        """Build a wheel from the source directory ``source`` (a PEP 660 editable one
        when ``dist.editable``).

        :raises BuildError: when the build fails.
        """
        return self.builder().wheel(source, dist.name, editable=dist.editable)

    def installer(self, build_key: str, *, report_installs: bool = True) -> Installer:
        """The :class:`~shipyard.install.installer.Installer` that builds with this
        factory: sdists (``build_key`` naming the interpreter) and directories.

        :param report_installs: send install events (off for build environments).
        """
        return make_installer(
            self.services,
            build_sdist=self.build_wheel,
            build_directory=self.build_directory,
            build_key=build_key,
            report_installs=report_installs,
            git_urls=git_source_urls(self.project) if self.project is not None else (),
        )


def git_source_urls(project: Project) -> list[str]:
    """The repository URLs of the project's git sources, as written (credentials kept)."""
    table = project.tool.get("sources")
    return [
        entry["git"]
        for entry in (table.values() if isinstance(table, dict) else ())
        if isinstance(entry, dict) and isinstance(entry.get("git"), str)
    ]


def make_installer(
    services: Services,
    *,
    build_sdist: SdistBuilder | None,
    build_directory: DirectoryBuilder | None,
    build_key: str,
    report_installs: bool = True,
    parallel: bool = True,
    git_urls: Sequence[str] = (),
) -> Installer:
    """An :class:`~shipyard.install.installer.Installer` on ``services``' cache, client,
    reporter and (when ``parallel``) executor, linking on ``concurrent-installs`` threads.

    :param parallel: ``False`` prepares in the calling thread, for installs that run on
        the executor's own threads (build environments).
    :param git_urls: the project's git source URLs, whose credentials fetch the locked
        commits (the lock holds the URLs without them).

    Wheels built from sdists and git commits go through the ``remote-cache`` when one
    is set (:mod:`shipyard.project.remote_cache`).

    :raises UsageError: when ``remote-cache`` is not an ``oci://`` repository."""
    from shipyard.install.installer import Installer
    from shipyard.project.remote_cache import remote_wheel_cache
    from shipyard.vcs.git import GitRepositories

    return Installer(
        git=GitRepositories(
            services.cache.bucket("git"),
            offline=services.settings.offline,
            credential_urls=git_urls,
        ),
        cache=services.cache,
        client=lambda: services.client,
        reporter=services.reporter,
        executor=services.executor if parallel else None,
        threads=services.settings.concurrent_installs,
        build_sdist=build_sdist,
        build_directory=build_directory,
        build_key=build_key,
        report_installs=report_installs,
        remote=remote_wheel_cache(services) if build_sdist or build_directory else None,
    )
