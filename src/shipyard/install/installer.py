"""The one installer: carry out a :class:`~shipyard.install.plan.Plan` in one target.

Every command that puts distributions into an environment — ``sync``, ``pip sync``,
``image build`` (into its staging tree) and PEP 517 build environments — hands its
plan to :class:`Installer`. The steps, in order:

1. **prepare** every distribution to add as an unpacked wheel in the cache, in
   parallel on the shared download executor: cached wheels are looked up (one
   manifest read each), the rest downloaded and checked against the lock's sha256,
   sdists built through ``build_sdist`` and ``directory`` packages through
   ``build_directory`` (:class:`~shipyard.install.prepare.WheelPreparer` does each);
2. **remove** what goes, journaled so a killed run is finished by the next one
   (:func:`~shipyard.install.uninstall.uninstall`);
3. **link** what comes on a small thread pool, checking each cached entry for edits
   first (:func:`~shipyard.install.wheel.install_unpacked` writes ``RECORD``,
   ``INSTALLER``, ``REQUESTED`` and ``direct_url.json``).

Reading a wheel (:mod:`shipyard.install.unpack`) and writing an environment
(:mod:`shipyard.install.wheel`) stay separate pieces; this module only orders them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cache import Cache
from shipyard.install.manifest import UnpackedWheel
from shipyard.install.plan import Plan
from shipyard.install.prepare import WheelPreparer
from shipyard.install.uninstall import uninstall
from shipyard.install.wheel import LinkMode, install_unpacked
from shipyard.models import LockedDistribution
from shipyard.models.scheme import InstallScheme
from shipyard.reporting import Reporter

if TYPE_CHECKING:
    from shipyard.cache.remote import RemoteWheelCache
    from shipyard.index.http import HttpClient
    from shipyard.vcs.git import GitRepositories

__all__ = ["DirectoryBuilder", "InstallTimes", "Installer", "SdistBuilder"]

SdistBuilder = Callable[[Path, LockedDistribution], Path]
"""Builds a wheel from a downloaded sdist: ``(archive path, locked sdist) → wheel path``."""

DirectoryBuilder = Callable[[Path, LockedDistribution], Path]
"""Builds a wheel from a source directory: ``(absolute directory, locked entry) → wheel
path``; an editable (PEP 660) wheel when the entry's ``editable`` is true."""


@dataclass(frozen=True, slots=True)
class InstallTimes:
    """How long the two halves of an install took, in seconds."""

    prepare_seconds: float
    install_seconds: float


class Installer:
    """Carries out install plans; one instance may serve several plans and targets.

    :param cache: where unpacked and built wheels live.
    :param client: returns the HTTP client that downloads wheels and sdists; called
        at the first download only.
    :param reporter: told about downloads, builds, warnings and — when
        ``report_installs`` — each install and removal.
    :param executor: the shared pool downloads and builds run on; ``None`` prepares in
        the calling thread (build environments: they are filled from that pool's own
        threads, which must not wait on the pool).
    :param threads: at most this many links at once (``concurrent-installs``).
    :param build_sdist: builds sdists; ``None`` makes an sdist in a plan an error.
    :param build_directory: builds ``directory`` packages; ``None`` makes them an error.
    :param build_key: names the interpreter sdists are built for (its most specific
        tag): a wheel built from an sdist is reused only for the same interpreter.
    :param report_installs: send ``install_*``/``package_*`` events (off for build
        environments, filled while the main install's progress is on screen).
    :param git: fetches the commits of git packages, which are then built through
        ``build_directory`` (as ordinary wheels, cached per commit and interpreter).
    :param remote: the team's remote cache of wheels built from sdists and git
        commits, asked before building and offered what is built.
    """

    def __init__(
        self,
        *,
        cache: Cache,
        client: Callable[[], HttpClient],
        reporter: Reporter,
        executor: Executor | None,
        threads: int,
        build_sdist: SdistBuilder | None = None,
        build_directory: DirectoryBuilder | None = None,
        build_key: str = "",
        report_installs: bool = True,
        git: GitRepositories | None = None,
        remote: RemoteWheelCache | None = None,
    ) -> None:
        self.preparer = WheelPreparer(
            cache=cache,
            client=client,
            reporter=reporter,
            build_wheel=build_sdist,
            build_key=build_key,
            remote=remote,
        )
        self.reporter = reporter
        self.executor = executor
        self.threads = max(1, threads)
        self.build_directory = build_directory
        self.report_installs = report_installs
        self.git = git

    def install(
        self,
        plan: Plan,
        scheme: InstallScheme,
        *,
        base: Path,
        requested: Collection[str] = (),
        link_mode: LinkMode = "hardlink",
        record_direct_urls: bool = True,
    ) -> InstallTimes:
        """Prepare what ``plan`` adds, remove what it removes, then link.

        :param scheme: the target's absolute install paths (a venv's, a conda prefix's,
            or an image staging tree's with ``python`` naming the in-image interpreter).
        :param base: the directory ``directory`` packages are relative to (the lock's).
        :param requested: canonical names to mark as requested (PEP 376 ``REQUESTED``);
            directory packages always are.
        :param link_mode: ``hardlink``, ``copy``, ``symlink`` or ``clone``.
        :param record_direct_urls: write PEP 610 ``direct_url.json`` for URL and
            directory installs (an image leaves it out: the source is not in it).
        :returns: the seconds spent preparing and installing.
        :raises ShipyardError: from downloading, verifying, building or installing;
            nothing is removed when preparing fails.
        """
        started = time.perf_counter()
        to_add = plan.to_add()
        unpacked, unchecked, sources = self._prepare(to_add, base)
        prepared = time.perf_counter()
        removing = plan.to_remove()
        if self.report_installs:
            self.reporter.install_started(len(to_add) + len(removing))
        for old in plan.remove:
            uninstall(old, site_packages=old.dist_info.parent)
            self._removed(old.name, old.version)
        for old, _new in plan.reinstall:
            uninstall(old, site_packages=old.dist_info.parent, replacing=True)
            self._removed(old.name, old.version)

        def link(dist: LockedDistribution) -> None:
            wheel = unpacked[dist.name]
            if dist.name in unchecked:
                wheel = self.preparer.verified(wheel, dist)
            install_unpacked(
                wheel,
                scheme,
                link_mode=link_mode,
                requested=dist.name in requested or dist.name in sources,
                direct_url=_direct_url(dist, sources.get(dist.name))
                if record_direct_urls
                else None,
            )
            if self.report_installs:
                self.reporter.package_installed(dist.name, dist.version or "")

        threads = min(self.threads, len(to_add))
        if threads == 1:
            for dist in to_add:
                link(dist)
        elif threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="shipyard-install") as pool:
                for job in [pool.submit(link, dist) for dist in to_add]:
                    job.result()
        finished = time.perf_counter()
        if self.report_installs:
            self.reporter.install_finished(len(to_add), len(removing), finished - prepared)
        return InstallTimes(prepared - started, finished - prepared)

    def _prepare(
        self, to_add: list[LockedDistribution], base: Path
    ) -> tuple[dict[str, UnpackedWheel], set[str], dict[str, Path]]:
        """Every wheel to link, by name; the names whose cached entry is still to be
        checked for edits (on the link workers); the source directory of each
        ``directory`` package."""
        preparer = self.preparer
        futures: dict[str, Future[UnpackedWheel]] = {}
        unpacked: dict[str, UnpackedWheel] = {}
        unchecked: set[str] = set()
        sources: dict[str, Path] = {}
        # Cached wheels are looked up here and checked on the link workers; the rest
        # are downloaded and built concurrently meanwhile. Checking in the download pool
        # made its threads fight over the GIL for each stat.
        for dist in to_add:
            if dist.directory is not None:
                continue
            if dist.vcs:
                if self.executor is None:
                    unpacked[dist.name] = self._vcs_wheel(dist)
                else:
                    futures[dist.name] = self.executor.submit(self._vcs_wheel, dist)
                continue
            found = preparer.lookup(dist)
            if found is not None:
                unpacked[dist.name] = found
                unchecked.add(dist.name)
            elif self.executor is None:
                unpacked[dist.name] = preparer.prepare(dist)
            else:
                futures[dist.name] = self.executor.submit(preparer.prepare, dist)
        try:
            for dist in to_add:
                if dist.directory is None:
                    continue
                source = (base / dist.directory).resolve()
                unpacked[dist.name] = self._directory_wheel(source, dist)
                sources[dist.name] = source
            for name, future in futures.items():
                unpacked[name] = future.result()
        finally:
            for future in futures.values():
                future.cancel()
        return unpacked, unchecked, sources

    def _directory_wheel(self, source: Path, dist: LockedDistribution) -> UnpackedWheel:
        from shipyard.errors import InstallError

        if self.build_directory is None:
            raise InstallError(
                f"{dist.name} is a local directory ({dist.directory}) and this install "
                "cannot build it.",
                hint="Install it from a wheel, or from a project sync.",
            )
        wheel = self.build_directory(source, dist)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        return self.preparer.cached_wheel(digest) or self.preparer.unpack(wheel, digest)

    def _vcs_wheel(self, dist: LockedDistribution) -> UnpackedWheel:
        """The wheel of a git package: built once per commit (and interpreter) from the
        commit's exported tree, then taken from the cache."""
        from shipyard.errors import InstallError
        from shipyard.vcs.git import GitUrl

        assert dist.url is not None
        if self.git is None or self.build_directory is None:
            raise InstallError(
                f"{dist.name} comes from a git repository, and this install cannot build it.",
                hint="Install it from a wheel, or from a project sync.",
            )
        source = GitUrl.parse(dist.url)
        assert source.revision is not None
        git = self.git
        build_directory = self.build_directory

        def build() -> Path:
            tree = git.checkout(source, str(source.revision))
            return build_directory(tree, replace(dist, editable=False))

        return self.preparer.built(
            f"git-{hashlib.sha256(dist.url.encode()).hexdigest()}", build, dist
        )

    def _removed(self, name: str, version: str) -> None:
        if self.report_installs:
            self.reporter.package_removed(name, version)


def _direct_url(dist: LockedDistribution, source: Path | None) -> dict[str, Any] | None:
    """PEP 610 data: ``dir_info`` for directories (editable or not), ``archive_info``
    for a distribution locked by URL, ``None`` for one from an index."""
    if source is not None:
        return {"url": source.as_uri(), "dir_info": {"editable": dist.editable}}
    if dist.vcs and dist.url is not None:
        from shipyard.index.credentials import public_url
        from shipyard.vcs.git import GitUrl

        pinned = GitUrl.parse(dist.url)
        data: dict[str, Any] = {
            "url": public_url(pinned.repository),
            "vcs_info": {"vcs": "git", "commit_id": pinned.revision},
        }
        if pinned.subdirectory:
            data["subdirectory"] = pinned.subdirectory
        return data
    if dist.direct and dist.url is not None:
        return {"url": dist.url, "archive_info": {"hashes": {"sha256": dist.sha256}}}
    return None
