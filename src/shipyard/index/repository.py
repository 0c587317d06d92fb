"""The resolver's view of the package sources: versions, files and metadata.

:class:`IndexRepository` combines the configured indexes and find-links
locations and fetches in the background: as soon as a project name is known its
page is requested (``prefetch``), and as soon as a page arrives the metadata of
its most likely candidate is requested too, so the resolver rarely waits.

Index priority follows uv's "first index" rule: the extra indexes are asked
first, then the main index, and the first one that knows a project supplies all
of its versions (a later index cannot shadow a project with a higher version —
the dependency-confusion guard). Find-links files are merged with that index.
A platform-scoped index (piwheels for ``linux/arm/v7``) is no such index: the wheels
it has for its platforms join the files of the versions the others offer.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.background import BackgroundTask
from shipyard.cache import Cache
from shipyard.index.http import HttpClient
from shipyard.index.metadata import MetadataFetcher
from shipyard.index.pages import version_text
from shipyard.index.simple import FindLinks, ProjectPage, SimpleIndex
from shipyard.index.variant_files import fetch_variant_metadata, is_variant_wheel
from shipyard.models import CoreMetadata, DistFile, ProjectVersion, VersionGroup

if TYPE_CHECKING:
    from shipyard.specs.variants import VariantMetadata
    from shipyard.vcs.git import GitRepositories

__all__ = ["IndexRepository"]


@lru_cache(maxsize=65536)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, ValueError):  # ValueError: a number past int's digit limit
        return None


@lru_cache(maxsize=4096)
def _canonical(text: str) -> str:
    return canonicalize_name(text)


#: the project name at the start of a PEP 508 requirement
_REQUIREMENT_NAME = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*")


def _file_version(name: str, filename: str) -> Version | None:
    """The version in a wheel or sdist filename when the file belongs to canonical
    ``name``; ``None`` otherwise (one cached :class:`Version` per distinct text)."""
    text = version_text(name, filename)
    return None if text is None else _version(text)


def _group_versions(name: str, files: Sequence[DistFile], index: str) -> list[ProjectVersion]:
    by_version: dict[Version, list[DistFile]] = {}
    for dist in files:
        version = _file_version(name, dist.filename)
        if version is not None:
            by_version.setdefault(version, []).append(dist)
    result = []
    for version, group in by_version.items():
        group.sort(key=lambda f: not f.is_wheel)
        pv = ProjectVersion(version, tuple(group), index)
        if pv.files:  # not a lone -variants.json
            result.append(pv)
    result.sort(key=lambda pv: pv.version, reverse=True)
    return result


def _group_packed(groups: Sequence[VersionGroup], index: str) -> list[ProjectVersion]:
    """The versions of a page that came grouped and packed from the cache."""
    by_version: dict[Version, ProjectVersion] = {}
    for group in groups:
        version = _version(group[0])
        if version is None:
            continue
        known = by_version.get(version)
        if known is None:
            by_version[version] = ProjectVersion(version, index=index, group=group)
        else:  # "1.0" and "1.0.0" in filenames: one version
            other = ProjectVersion(version, group=group)
            files = sorted(known.files + other.files, key=lambda f: not f.is_wheel)
            by_version[version] = ProjectVersion(
                version,
                tuple(files),
                index,
                variants_json=known.variants_json or other.variants_json,
            )
    return sorted(by_version.values(), key=lambda pv: pv.version, reverse=True)


def _page_versions(name: str, page: ProjectPage, index: str) -> list[ProjectVersion]:
    if page.groups is not None:
        return _group_packed(page.groups, index)
    return _group_versions(name, page.files, index)


def _join_versions(
    versions: list[ProjectVersion], offered: list[ProjectVersion], accept: Callable[[str], bool]
) -> list[ProjectVersion]:
    """``versions`` with the files of ``offered`` (a platform-scoped index's page) that
    ``accept`` takes added to the same versions; ``offered``'s accepted files alone when
    ``versions`` is empty. Newest first, wheels first."""
    taken: dict[Version, ProjectVersion] = {}
    for pv in offered:
        files = tuple(f for f in pv.files if accept(f.filename))
        if files:
            taken[pv.version] = ProjectVersion(
                pv.version, files, pv.index, variants_json=pv.variants_json
            )
    if not versions:
        return sorted(taken.values(), key=lambda pv: pv.version, reverse=True)
    result = []
    for pv in versions:
        extra = taken.get(pv.version)
        if extra is None:
            result.append(pv)
            continue
        names = {f.filename for f in pv.files}
        joined = sorted(
            pv.files + tuple(f for f in extra.files if f.filename not in names),
            key=lambda f: not f.is_wheel,
        )
        result.append(
            ProjectVersion(pv.version, tuple(joined), pv.index, variants_json=pv.variants_json)
        )
    return result


class IndexRepository:
    """Projects, versions, files and metadata from indexes and find-links locations.

    Thread-safe; the network work runs on ``executor``.

    :param index_urls: simple index roots in priority order (extra indexes first); the
        first that has a project answers for all its versions.
    :param pinned: canonical name → the one index root that name comes from (a
        ``[tool.shipyard.sources]`` index pin): no other index and no find-links
        location is asked for it, so a same-named package elsewhere never wins.
    :param find_links: directories or HTML pages of archives.
    :param joined: platform-scoped indexes, as (simple index root, which of its files
        may serve: a test on the filename), asked after the others for every name that
        is not pinned. The files they offer that pass the test join the files of the
        same version from the other sources (by filename: the first source's file
        wins); a version only they have is ignored, unless no other source has the
        project at all. Their files never shadow another index's, so a piwheels-style
        index adds ``linux_armv7l`` wheels without taking over a project.
    :param refresh: revalidate cached index pages even when fresh: ``True`` for all
        projects, or a set of canonical names (``lock --upgrade-package``).
    :param build_metadata: builds an sdist's metadata (PEP 517); see
        :class:`~shipyard.index.metadata.MetadataFetcher`.
    :param speculate: fetch ahead of the resolver: each page's newest final release's
        metadata, and the pages of what that requires (a lock's breadth-first walk,
        without waiting for each decision).
    :param git: fetches git sources (``None``: git direct references are refused).
    :param git_pins: a git direct reference (as written, revision included) → the
        commit the previous lock holds for it: kept instead of asking the repository
        again, so a lock does not move a branch unless told to.
    """

    def __init__(
        self,
        *,
        client: HttpClient,
        cache: Cache | None,
        index_urls: Sequence[str],
        pinned: Mapping[str, str] | None = None,
        find_links: Sequence[str] = (),
        joined: Sequence[tuple[str, Callable[[str], bool]]] = (),
        executor: ThreadPoolExecutor,
        refresh: bool | frozenset[str] = False,
        build_metadata: Callable[[DistFile], CoreMetadata] | None = None,
        speculate: bool = False,
        git: GitRepositories | None = None,
        git_pins: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.indexes = [SimpleIndex(url, client, cache) for url in index_urls]
        by_url = {index.url: index for index in self.indexes}
        self.pinned: dict[str, SimpleIndex] = {}
        for name, url in (pinned or {}).items():
            key = url.rstrip("/") + "/"
            if key not in by_url:
                by_url[key] = SimpleIndex(url, client, cache)
            self.pinned[name] = by_url[key]
        self.find_links = [FindLinks(location, client) for location in find_links]
        self.joined = [(SimpleIndex(url, client, cache), accept) for url, accept in joined]
        self.executor = executor
        self.refresh = refresh
        self.fetcher = MetadataFetcher(client, cache, build_metadata)
        self.speculate = speculate
        self.git = git
        self.git_pins = dict(git_pins or {})
        # Background tasks, not futures: a thread that needs a page or metadata still
        # queued fetches it itself (a build's own resolution runs on a pool worker).
        self._pages: dict[str, BackgroundTask[list[ProjectVersion]]] = {}
        self._metadata: dict[str, BackgroundTask[CoreMetadata]] = {}
        self._lock = threading.Lock()
        self._local_hashes: dict[str, tuple[str, int]] = {}
        self._direct: dict[str, tuple[ProjectVersion, CoreMetadata]] = {}
        self._variants: dict[str, BackgroundTask[VariantMetadata]] = {}

    # -- versions ---------------------------------------------------------------------

    def _load_versions(self, name: str) -> list[ProjectVersion]:
        refresh = self.refresh is True or (
            isinstance(self.refresh, frozenset) and name in self.refresh
        )
        versions: list[ProjectVersion] = []
        pin = self.pinned.get(name)
        for index in [pin] if pin is not None else self.indexes:
            page = index.get_page(name, refresh=refresh)
            if page is not None and (page.groups or page.files):
                versions = _page_versions(name, page, index.url.rstrip("/"))
                break
        for location in self.find_links if pin is None else ():
            page = location.get_page(name)
            if page is None:
                continue
            local = _group_versions(name, page.files, location.location)
            known = {pv.version: pv for pv in versions}
            for pv in local:
                if pv.version in known:
                    merged = known[pv.version]
                    known[pv.version] = ProjectVersion(
                        merged.version,
                        merged.files + pv.files,
                        merged.index,
                        variants_json=merged.variants_json or pv.variants_json,
                    )
                else:
                    known[pv.version] = pv
            versions = sorted(known.values(), key=lambda pv: pv.version, reverse=True)
        for index, accept in self.joined if pin is None else ():
            page = index.get_page(name, refresh=refresh)
            if page is not None and (page.groups or page.files):
                versions = _join_versions(
                    versions, _page_versions(name, page, index.url.rstrip("/")), accept
                )
        if self.speculate:
            # The newest final release is what a resolution most often takes: fetch its
            # metadata now, and through it the pages of what it requires.
            newest = next(
                (pv for pv in versions if not pv.yanked and not pv.version.is_prerelease), None
            )
            if newest is not None and newest.index:
                self.prefetch_metadata(newest)
        return versions

    def _fetch_metadata(self, dist: DistFile) -> CoreMetadata:
        """Fetch one file's metadata; when speculating, start fetching the pages of the
        projects it requires (extras' requirements aside) before anyone asks."""
        metadata = self.fetcher.fetch(dist)
        if self.speculate:
            for text in metadata.requires_dist:
                requirement, _, marker = text.partition(";")
                if "extra" in marker:
                    continue
                name = _REQUIREMENT_NAME.match(requirement)
                if name is not None:
                    self.prefetch(_canonical(name.group(0)))
        return metadata

    def prefetch(self, name: str) -> None:
        """Start fetching the versions of canonical ``name`` in the background."""
        with self._lock:
            if name in self._pages:
                return
            self._pages[name] = BackgroundTask(self._load_versions, name).submit(self.executor)

    def versions(self, name: str) -> list[ProjectVersion]:
        """Every version of canonical ``name``, newest first; empty when no source knows it.

        :raises NetworkError: when a source cannot be reached.
        """
        self.prefetch(name)
        return self._pages[name].result()

    def listed_names(self) -> list[str]:
        """Canonical project names known without asking an index for its root page: those
        the find-links locations read so far list, and the folders of local (``file://``)
        indexes. For "did you mean" suggestions; fetches nothing."""
        names: set[str] = set()
        for location in self.find_links:
            names.update(location.listed_names())
        for index in self.indexes:
            names.update(index.local_names())
        return sorted(names)

    # -- metadata ---------------------------------------------------------------------

    def metadata_file(self, version: ProjectVersion) -> DistFile:
        """The file whose metadata stands for ``version``: a wheel when there is one
        (PEP 658 metadata or a range request is cheap), else the sdist. A wheel variant
        (PEP 825 draft) only when the version has no other wheel: variants of one
        version may declare other dependencies, the plain wheel is the common ground."""
        files = version.files
        first = files[0]
        if first.is_wheel and is_variant_wheel(first):
            return next((f for f in files if f.is_wheel and not is_variant_wheel(f)), first)
        return first

    def prefetch_metadata(self, version: ProjectVersion, *, build: bool = False) -> None:
        """Start fetching the metadata of ``version`` in the background.

        :param build: also when the version has only an sdist, whose metadata is built
            (PEP 517): the resolver asks for this for the versions it is about to try,
            so builds run side by side (as many at once as the builder allows) instead
            of one after another while the resolution waits. Speculative fetches
            leave sdists alone.
        """
        if not version.index:
            return
        dist = self.metadata_file(version)
        if not dist.is_wheel and (not build or self.fetcher.build_metadata is None):
            return
        with self._lock:
            if dist.url in self._metadata:
                return
            self._metadata[dist.url] = BackgroundTask(self._fetch_metadata, dist).submit(
                self.executor
            )

    def direct_version(self, name: str, url: str) -> ProjectVersion:
        """The one version a direct reference offers (``name @ url``, PEP 508/610).

        ``url`` may name a wheel or sdist (``https://`` or ``file://``) or a local
        project directory (``file://``). The version comes from its metadata (built with
        PEP 517 for sdists and directories). The result's ``index`` is ``""``.

        :raises ShipyardError: when the metadata names another project, or for VCS URLs.
        """
        with self._lock:
            found = self._direct.get(url)
        if found is not None:
            return found[0]
        import urllib.parse
        import urllib.request

        from shipyard.errors import RequirementError

        if url.startswith("git+") and self.git is not None:
            return self._git_version(name, url)
        if "+" in url.split(":", 1)[0]:
            raise RequirementError(
                f"Only git VCS requirements are supported: {name} @ {url}.",
                hint="Use a git URL (git+https://…), a released version or an archive URL.",
            )
        path = url.rsplit("/", 1)[-1] or name
        if url.startswith("file:"):
            local = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
            if not local.exists():
                raise RequirementError(
                    f"The path of {name} @ {url} does not exist.",
                    hint="Use an absolute file:// URL to an archive or a project directory.",
                )
            path = local.name if local.is_file() else name
        dist = DistFile(filename=path, url=url)
        metadata = self.fetcher.fetch(dist, use_cache=False)
        if metadata.name != name:
            raise RequirementError(
                f"{url} holds the project {metadata.name!r}, not {name!r}.",
                hint=f"Write it as '{metadata.name} @ {url}'.",
            )
        version = ProjectVersion(Version(metadata.version), (dist,), "")
        with self._lock:
            self._direct[url] = (version, metadata)
        return version

    def _git_version(self, name: str, url: str) -> ProjectVersion:
        """A git direct reference's one version: its revision resolved to a commit (the
        previous lock's, when it pinned this very reference), the commit's tree exported,
        the metadata built from it. The version's file URL names the commit."""
        from shipyard.errors import RequirementError
        from shipyard.vcs.git import GitUrl

        assert self.git is not None
        source = GitUrl.parse(url)
        from shipyard.index.credentials import public_url

        key = str(GitUrl(public_url(source.repository), source.revision, source.subdirectory))
        commit = self.git_pins.get(key) or self.git.resolve(source)
        directory = self.git.checkout(source, commit)
        metadata = self.fetcher.fetch(
            DistFile(filename=name, url=directory.as_uri()), use_cache=False
        )
        if metadata.name != name:
            raise RequirementError(
                f"{url} holds the project {metadata.name!r}, not {name!r}.",
                hint=f"Write it as '{metadata.name} @ {url}'.",
            )
        pinned = DistFile(filename=name, url=str(source.with_revision(commit)))
        version = ProjectVersion(Version(metadata.version), (pinned,), "")
        with self._lock:
            self._direct[url] = (version, metadata)
            self._direct[pinned.url] = (version, metadata)
        return version

    def metadata(self, version: ProjectVersion) -> CoreMetadata:
        """The core metadata of ``version``.

        :raises NetworkError, HashMismatchError, BuildError: when it cannot be obtained.
        """
        if not version.index:
            return self._direct[version.files[0].url][1]
        dist = self.metadata_file(version)
        with self._lock:
            task = self._metadata.get(dist.url)
        if task is None:
            cached = self.fetcher.cached(dist)
            if cached is not None:
                return cached
            self.prefetch_metadata(version, build=True)
            with self._lock:
                task = self._metadata.get(dist.url)
            if task is None:  # an sdist, and building is off: fetch says so
                return self.fetcher.fetch(dist)
        # A task still queued runs here, on this thread (BackgroundTask); one started
        # elsewhere is waited for, so no sdist is built twice.
        return task.result()

    # -- wheel variants (PEP 825 draft) -------------------------------------------------

    def variant_metadata(self, version: ProjectVersion) -> VariantMetadata | None:
        """The wheel variant metadata of ``version``: its index's
        ``{name}-{version}-variants.json``, fetched once (and kept in the cache by the
        sha256 the index gives for it). ``None`` when the index lists none.

        :raises VariantMetadataError: when the file is missing, does not match the
            index's sha256 or is not valid variant metadata; PEP 825 asks installers to
            skip the version's variant wheels then, which the caller does (and says).
        :raises NetworkError: when the index cannot be reached.
        """
        dist = version.variants_json
        if dist is None:
            return None
        with self._lock:
            task = self._variants.get(dist.url)
            if task is None:
                task = self._variants[dist.url] = BackgroundTask(
                    fetch_variant_metadata, self.client, self.fetcher.cache, dist
                )
        return task.result()

    # -- hashes of local files ----------------------------------------------------------

    def file_digest(self, dist: DistFile) -> DistFile:
        """``dist`` with its sha256 and size filled in (reading it when it is a local file).

        Index files normally carry a sha256; find-links directory files do not.

        :raises NetworkError: when a remote file without a hash must be downloaded and fails.
        """
        if dist.url.startswith("git+"):
            return dist  # a git commit is its own digest (PEP 751 vcs commit-id)
        if dist.sha256 and (dist.size is not None or not dist.url.startswith("file:")):
            return dist
        if dist.url.startswith("file:"):
            import urllib.parse
            import urllib.request

            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(dist.url).path))
            if path.is_dir():
                return dist  # a project directory has no digest (PEP 751 directory entry)
            with self._lock:
                known = self._local_hashes.get(str(path))
            if known is None:
                data = path.read_bytes()
                known = (hashlib.sha256(data).hexdigest(), len(data))
                with self._lock:
                    self._local_hashes[str(path)] = known
            return replace(dist, hashes=(("sha256", known[0]),), size=known[1])
        if dist.sha256:
            return dist
        response = self.client.request(dist.url)
        digest = hashlib.sha256(response.body).hexdigest()
        return replace(dist, hashes=(("sha256", digest),), size=len(response.body))
