"""What every fork of one resolution shares (:class:`Universe`): the targets, the
version tables, the parsed metadata, and the memoized evaluations of markers,
Requires-Python and files against the targets."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.errors import BuildError
from shipyard.models import DistFile, ProjectVersion, TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.resolver.fork_signals import RefineTargets
from shipyard.resolver.inputs import NameListing, Repository, ResolveOptions, RootRequirement
from shipyard.resolver.versions import VersionTable, specifier
from shipyard.specs.targets import patch_boundaries, wheel_target_mask

__all__ = ["Universe"]


#: Every CPython minor (x.y.0) a Requires-Python cap is judged against.
_PROBES = tuple(Version(f"2.{minor}") for minor in range(8)) + tuple(
    Version(f"3.{minor}") for minor in range(40)
)


@lru_cache(maxsize=8192)
def _parse_marker(text: str) -> Marker:
    return Marker(text)


class Universe:
    """What every fork of one resolution shares: the targets, the version tables, the
    parsed metadata and the marker and Requires-Python evaluations.

    :param targets: the lock's target environments (bit ``i`` ↔ ``targets[i]``).
    :param roots: the project's requirements.
    """

    def __init__(
        self,
        *,
        targets: Sequence[TargetEnvironment],
        roots: Sequence[RootRequirement],
        repository: Repository,
        options: ResolveOptions,
        reporter: ResolveReporter | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.roots = tuple(roots)
        self.repository = repository
        self.options = options
        self.reporter = reporter
        self.all_mask = (1 << len(self.targets)) - 1
        self.root_names = frozenset(canonicalize_name(r.requirement.name) for r in roots)
        self._envs = tuple(dict(t.markers) for t in self.targets)
        #: the targets' marker environments (bit ``i`` ↔ ``targets[i]``)
        self.environments: tuple[dict[str, str], ...] = self._envs
        self._python_versions = tuple(
            Version(t.markers["python_full_version"]) for t in self.targets
        )
        self._tables: dict[str, VersionTable] = {}
        self._urls: dict[str, str] = {}
        self._marker_masks: dict[tuple[str, str], int] = {}
        self._admitted: dict[str, int] = {}
        self._wheel_masks: dict[str, int] = {}
        self._served: dict[tuple[str, int], int] = {}
        self._capped: dict[tuple[str | None, ...], int] = {}
        self._failed: dict[tuple[str, Version], BuildError] = {}
        self._requirements: dict[tuple[str, Version], tuple[Requirement, ...]] = {}
        #: versions reported to the reporter: resolved, and skipped (unbuildable metadata)
        self.announced: set[tuple[str, Version]] = set()
        self.skipped: set[tuple[str, Version]] = set()
        preferences: dict[str, tuple[Version, ...]] = {}
        for name, value in options.preferences.items():
            versions = (value,) if isinstance(value, Version) else tuple(value)
            preferences[name] = tuple(sorted(versions, reverse=True))
        self.preferences = preferences

    # -- tables ---------------------------------------------------------------------

    def table(self, name: str) -> VersionTable:
        """The versions of canonical ``name`` (one for a direct reference or a version
        provided by conda)."""
        table = self._tables.get(name)
        if table is None:
            provided = self.options.provided.get(name)
            url = self._urls.get(name)
            if provided is not None:
                versions = [ProjectVersion(provided, (), "")]
            elif url is not None:
                versions = [self.repository.direct_version(name, url)]
            else:
                versions = self.repository.versions(name)
            table = self._tables[name] = VersionTable(versions)
        return table

    def known_names(self) -> set[str]:
        """Canonical names of projects known to exist: those whose versions this
        resolution loaded, those of the previous lock (the preferences), and those the
        repository lists without asking an index (:class:`NameListing`)."""
        names = {name for name, table in self._tables.items() if table.versions}
        names.update(self.options.preferences)
        if isinstance(self.repository, NameListing):
            names.update(self.repository.listed_names())
        return names

    def has_table(self, name: str) -> bool:
        """Whether ``name``'s versions are loaded already."""
        return name in self._tables

    def use_url(self, name: str, url: str) -> bool:
        """Make ``name`` come from the direct reference ``url``; ``False`` when its versions
        come from somewhere else already (another URL, or the index)."""
        known = self._urls.get(name)
        if known is not None:
            return known == url
        if name in self._tables or name in self.options.provided:
            return False
        self._urls[name] = url
        return True

    def url_of(self, name: str) -> str | None:
        """The direct reference ``name`` comes from, if any."""
        return self._urls.get(name)

    # -- targets --------------------------------------------------------------------

    def marker_mask(self, marker: str | None, extra: str = "") -> int:
        """Targets on which ``marker`` holds with ``extra`` selected (all for ``None``).

        :raises InvalidMarker: for a marker packaging cannot parse.
        """
        if marker is None:
            return self.all_mask
        key = (marker, extra)
        found = self._marker_masks.get(key)
        if found is None:
            parsed = _parse_marker(marker)
            found = 0
            for index, env in enumerate(self._envs):
                if parsed.evaluate({**env, "extra": extra}):
                    found |= 1 << index
            self._marker_masks[key] = found
        return found

    def admitted(self, requires_python: str) -> int:
        """Targets whose Python a ``Requires-Python`` text admits (all when it does not
        parse, as pip ignores such a value)."""
        found = self._admitted.get(requires_python)
        if found is None:
            spec = specifier(requires_python)
            if spec is None:
                found = self.all_mask
            else:
                split = patch_boundaries(self.targets, spec)
                if split:
                    raise RefineTargets(split)
                found = 0
                for index, version in enumerate(self._python_versions):
                    if spec.contains(version, prereleases=True):
                        found |= 1 << index
            self._admitted[requires_python] = found
        return found

    def version_admits(self, table: VersionTable, position: int) -> int:
        """Targets whose Python ``table.versions[position]`` may be used for (its
        Requires-Python, less what newer releases cap off: :meth:`VersionTable.python_masks`)."""
        return table.python_masks(self.admitted, self.capped)[position] & self.all_mask

    def python_admitting(self, table: VersionTable, mask: int, *, every: bool) -> int:
        """The versions of ``table`` that may be used for every target of ``mask``
        (``every``), or for at least one."""
        return table.admitting(mask, self.admitted, self.capped, every=every)

    def capped(self, texts: tuple[str | None, ...]) -> int:
        """The targets a version's Requires-Python (``texts``: one per file, ``None``
        where a file has none) leaves out from above: not admitted, while a lower
        Python is admitted and no higher one is — by every file's. Lower and higher
        Pythons are looked for among every CPython minor, not only the lock's
        targets: ``<3.11`` caps 3.11 and 3.12 off a lock that starts at 3.11."""
        found = self._capped.get(texts)
        if found is None:
            found = self.all_mask if texts else 0
            for text in texts:
                spec = specifier(text) if text is not None else None
                found &= 0 if spec is None else self._capped_by(spec)
            self._capped[texts] = found
        return found

    def _capped_by(self, spec: SpecifierSet) -> int:
        found = 0
        for index, version in enumerate(self._python_versions):
            if spec.contains(version, prereleases=True):
                continue
            lower = any(spec.contains(p, prereleases=True) for p in _PROBES if p < version)
            higher = any(spec.contains(p, prereleases=True) for p in _PROBES if p > version)
            if lower and not higher:
                found |= 1 << index
        return found

    def wheel_mask(self, filename: str) -> int:
        """Targets a wheel can be installed on (memoized per filename)."""
        found = self._wheel_masks.get(filename)
        if found is None:
            found = self._wheel_masks[filename] = wheel_target_mask(filename, self.targets)
        return found

    def file_mask(self, name: str, dist: DistFile, all_yanked: bool) -> int:
        """The targets ``dist`` may be used for: none when yanked (unless every file of
        its version is), newer than ``exclude_newer``, or refused by ``no_binary`` /
        ``only_binary``; a wheel's tags and the file's Requires-Python narrow the rest."""
        options = self.options
        if dist.yanked is not None and not all_yanked:
            return 0
        if (
            options.exclude_newer is not None
            and dist.upload_time is not None
            and dist.upload_time > options.exclude_newer
        ):
            return 0
        if dist.is_wheel:
            if ":all:" in options.no_binary or name in options.no_binary:
                return 0
            mask = self.wheel_mask(dist.filename)
        else:
            if ":all:" in options.only_binary or name in options.only_binary:
                return 0
            mask = self.all_mask
        if dist.requires_python:
            mask &= self.admitted(dist.requires_python)
        return mask

    def served(self, name: str, table: VersionTable, position: int) -> int:
        """The targets at least one file of ``table.versions[position]`` serves
        (memoized; every target for a direct reference or a provided version)."""
        key = (name, position)
        found = self._served.get(key)
        if found is None:
            pv = table.versions[position]
            if not pv.index:
                found = self.all_mask
            else:
                all_yanked = pv.yanked
                found = 0
                for dist in pv.files:
                    found |= self.file_mask(name, dist, all_yanked)
            self._served[key] = found
        return found

    def usable_files(self, name: str, pv: ProjectVersion, mask: int) -> tuple[DistFile, ...]:
        """The files of ``pv`` that serve at least one target of ``mask``."""
        if not pv.index:
            return pv.files  # a direct reference: exactly what the project named
        all_yanked = pv.yanked
        return tuple(f for f in pv.files if self.file_mask(name, f, all_yanked) & mask)

    def requirements_of(self, name: str, pv: ProjectVersion) -> tuple[Requirement, ...]:
        """The parsed ``Requires-Dist`` of one version (invalid ones reported, skipped).

        :raises BuildError: when its sdist's metadata does not build (remembered: the
            next fork does not build it again).
        """
        key = (name, pv.version)
        found = self._requirements.get(key)
        if found is not None:
            return found
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        try:
            metadata = self.repository.metadata(pv)
        except BuildError as exc:
            self._failed[key] = exc
            raise
        parsed = []
        for text in metadata.requires_dist:
            try:
                parsed.append(Requirement(text))
            except InvalidRequirement as exc:
                if self.reporter is not None:
                    self.reporter.warning(
                        f"Ignoring an invalid requirement {text!r} in the metadata of "
                        f"{name} {pv.version}: {str(exc).splitlines()[0]}"
                    )
        found = self._requirements[key] = tuple(parsed)
        return found
