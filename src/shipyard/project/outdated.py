"""The ``outdated`` use case: locked versions against what the requirements allow and
what the index has.

For each package of ``pylock.toml`` that comes from an index:

* *locked* — the version in the lock;
* *allowed* — the newest version the project's requirements allow: the version a
  ``shipyard lock --upgrade`` would pick, found by resolving in memory (the lock
  file is not written);
* *latest* — the newest version on the index, whatever the requirements say:
  yanked versions and pre-releases are left out (pre-releases count when the
  locked version is one), and so are versions none of whose files' Requires-Python
  admits any Python the project's ``requires-python`` allows.

Packages from a path, a git repository or a direct URL have no index to ask and
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.index.repository import IndexRepository
from shipyard.lock.pylock import LOCK_FILENAME, read_lock
from shipyard.models import LockFile, ProjectVersion
from shipyard.project.freshness import lock_is_fresh
from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = [
    "OutdatedPackage",
    "OutdatedReport",
    "find_outdated",
    "index_repository",
    "newest_release",
    "requirement_labels",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutdatedPackage:
    """One locked package and its newer versions.

    :param name: the canonical name. :param locked: the locked version.
    :param allowed: the newest version the requirements allow, or ``None`` when an
        upgraded resolution no longer needs the package.
    :param latest: the newest usable version on the index, or ``None`` when the index
        offers none.
    :param requirements: the project's requirements on it as written, with the list
        they are in (``"pytest>=8 (group dev)"``); empty for a transitive package.
    :param index: the index it was locked from.
    :param marker: its lock marker, when it has one.
    """

    name: str
    locked: str
    allowed: str | None
    latest: str | None
    requirements: tuple[str, ...] = ()
    index: str | None = None
    marker: str | None = None

    @property
    def direct(self) -> bool:
        """True when the project requires it by name."""
        return bool(self.requirements)

    @property
    def outdated(self) -> bool:
        """True when the requirements allow, or the index has, a newer version."""
        return _newer(self.allowed, self.locked) or _newer(self.latest, self.locked)

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``outdated --json`` prints for it."""
        return {
            "name": self.name,
            "locked": self.locked,
            "allowed": self.allowed,
            "latest": self.latest,
            "direct": self.direct,
            "requirements": list(self.requirements),
            "outdated": self.outdated,
            "index": self.index,
            "marker": self.marker,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OutdatedReport:
    """What ``outdated`` found.

    :param packages: every index package of the lock, by name and version.
    :param stale: the lock was made from another pyproject.toml.
    :param unchecked: names of locked packages with no index (paths, git, URLs).
    """

    packages: tuple[OutdatedPackage, ...]
    stale: bool = False
    unchecked: tuple[str, ...] = field(default=())


def _version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _newer(candidate: str | None, locked: str) -> bool:
    new, old = _version(candidate), _version(locked)
    return new is not None and old is not None and new > old


def _pythons(requires_python: SpecifierSet | None) -> list[str]:
    """Python versions standing for what ``requires_python`` allows: the first and a
    late patch release of every known minor it admits."""
    from shipyard.specs.targets import KNOWN_PYTHON_MINORS

    every = [
        f"{major}.{minor}.{patch}" for major, minor in KNOWN_PYTHON_MINORS for patch in (0, 99)
    ]
    if requires_python is None:
        return every
    return [v for v in every if requires_python.contains(v, prereleases=True)] or every


def _fits_python(version: ProjectVersion, pythons: Sequence[str]) -> bool:
    """Whether any file of ``version`` admits one of ``pythons`` (by its Requires-Python)."""
    for text in version.requires_python_texts():
        if not text:
            return True
        try:
            spec = SpecifierSet(text)
        except InvalidSpecifier:
            return True  # pip ignores a Requires-Python it cannot read; so do we
        if any(spec.contains(python, prereleases=True) for python in pythons):
            return True
    return False


def newest_release(
    versions: Sequence[ProjectVersion],
    *,
    requires_python: SpecifierSet | None,
    prereleases: bool = False,
) -> Version | None:
    """The newest version of ``versions`` a project could install: not yanked (PEP
    592), a final release unless ``prereleases``, with a file whose Requires-Python
    admits some Python that ``requires_python`` allows.

    :param versions: the index's versions of one project (any order).
    :returns: ``None`` when no version qualifies.
    """
    pythons = _pythons(requires_python)
    usable = [
        pv.version
        for pv in versions
        if not pv.yanked
        and (prereleases or not pv.version.is_prerelease)
        and _fits_python(pv, pythons)
    ]
    return max(usable, default=None)


def requirement_labels(project: Project) -> dict[str, list[str]]:
    """Canonical name → the project's requirements on it, as written, each with the
    list it is in (``"a>=1.0"``, ``"pytest>=8 (group dev)"``, ``"plotly (extra plots)"``)."""
    from shipyard.project.lock_graph import direct_requirements

    found: dict[str, list[str]] = {}
    for direct in direct_requirements(project):
        where = "" if direct.where == "dependencies" else f" ({direct.where})"
        label = f"{direct.requirement}{where}"
        labels = found.setdefault(canonicalize_name(direct.requirement.name), [])
        if label not in labels:
            labels.append(label)
    return found


def index_repository(
    project: Project, services: Services, *, refresh: bool | frozenset[str] = False
) -> IndexRepository:
    """A repository of the project's indexes and find-links locations that reads pages
    only (no metadata, no speculative fetching), for looking up versions.

    :param refresh: ``True`` or canonical names whose cached pages are revalidated.
    """
    from shipyard.project.locking import project_indexes

    index_urls, pinned = project_indexes(project, services)
    return IndexRepository(
        client=services.client,
        cache=services.cache,
        index_urls=index_urls,
        pinned=pinned,
        find_links=services.settings.find_links,
        executor=services.executor,
        refresh=refresh,
    )


def _allowed(
    upgraded: LockFile | None,
) -> dict[str, list[tuple[str, str | None]]]:
    """Canonical name → (version, marker) of each package an upgraded lock holds."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for table in upgraded.packages if upgraded is not None else ():
        if table.get("version"):
            name = canonicalize_name(str(table.get("name", "")))
            marker = table.get("marker")
            found.setdefault(name, []).append(
                (str(table["version"]), str(marker) if marker else None)
            )
    return found


def _pick_allowed(choices: list[tuple[str, str | None]], marker: str | None) -> str | None:
    """The upgraded version for a locked entry: the one with the same marker (forks keep
    theirs), else the newest."""
    for version, other in choices:
        if other == marker:
            return version
    versions = [v for v, _ in choices]
    return max(versions, key=lambda v: _version(v) or Version("0"), default=None)


def find_outdated(project: Project, services: Services) -> OutdatedReport:
    """Compare each index package of the lock with the newest versions.

    Asks the index (or, with ``--offline``, the cache) and resolves the project with
    every pin dropped, in memory.

    :raises LockError: when there is no lock, or it is invalid (a stale lock is used
        as it is, after a warning through the reporter).
    :raises ShipyardError: when the requirements cannot be resolved or an index cannot
        be reached.
    """
    from shipyard.project.locking import lock_project

    lock = read_lock(project.root / LOCK_FILENAME, services.cache)
    stale = not lock_is_fresh(project, services, lock)
    if stale:
        services.reporter.warning(
            f"{LOCK_FILENAME} is out of date with pyproject.toml; comparing the versions "
            "it holds. Run `shipyard lock` to bring it up to date."
        )
    entries: list[Mapping[str, Any]] = []
    unchecked: list[str] = []
    for table in lock.packages:
        if table.get("index") and table.get("version"):
            entries.append(table)
        elif canonicalize_name(str(table.get("name", ""))) != project.canonical_name:
            unchecked.append(str(table.get("name", "")))
    upgraded = lock_project(project, services, upgrade=True, write=False).lock
    allowed = _allowed(upgraded)
    labels = requirement_labels(project)
    repository = index_repository(project, services)
    names = sorted({canonicalize_name(str(t["name"])) for t in entries})
    for name in names:
        repository.prefetch(name)
    requires_python = project.requires_python or (
        SpecifierSet(lock.requires_python) if lock.requires_python else None
    )
    found: list[OutdatedPackage] = []
    for table in entries:
        name = canonicalize_name(str(table["name"]))
        locked = str(table["version"])
        marker = str(table["marker"]) if table.get("marker") else None
        locked_version = _version(locked)
        latest = newest_release(
            repository.versions(name),
            requires_python=requires_python,
            prereleases=locked_version is not None and locked_version.is_prerelease,
        )
        found.append(
            OutdatedPackage(
                name=name,
                locked=locked,
                allowed=_pick_allowed(allowed.get(name, []), marker),
                latest=str(latest) if latest is not None else None,
                requirements=tuple(labels.get(name, ())),
                index=str(table["index"]),
                marker=marker,
            )
        )
    found.sort(key=lambda p: (p.name, _version(p.locked) or Version("0")))
    return OutdatedReport(packages=tuple(found), stale=stale, unchecked=tuple(sorted(unchecked)))
