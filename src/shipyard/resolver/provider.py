"""What the solver needs to know about Python packages, for one fork of targets.

A universal resolution serves a set of target environments (Python minor ×
platform) at once; bit ``i`` of a *target mask* stands for ``targets[i]``. It
starts as one fork holding every target and splits into forks with fewer
(:mod:`shipyard.resolver.universal`). Within a fork, :class:`ForkSource` turns
the world into PubGrub terms for :class:`~shipyard.resolver.solver.Solver`:

* packages are canonical names, ``name[extra]`` for an extra (which depends on
  ``name`` at the same version, as pip models extras) and :data:`ROOT`;
* a dependency with a marker applies on the targets where the marker holds; one
  that holds on none of the fork's targets is dropped;
* ``Requires-Python`` is folded into each dependency: ``A → B>=2`` on targets ``e``
  admits the versions of ``B>=2`` whose Requires-Python admits at least one Python
  of ``e``. Whether the chosen version serves *every* target that needs it is
  checked when it is chosen and again when the fork is done; where it does not,
  the fork is split (:class:`SplitFork`) so each part gets the newest version its
  Pythons allow — uv's ``requires-python`` fork strategy;
* pre-releases (PEP 440), yanked files (PEP 592), ``exclude-newer``, ``no-binary``
  and ``only-binary`` decide which versions can be *chosen*; versions that cannot
  become ``unavailable`` incompatibilities with the reason, for explanations.

No I/O happens here: versions and metadata come from a :class:`Repository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Protocol

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import BuildError
from shipyard.models import CoreMetadata, DistFile, ProjectVersion, TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.resolver.solver import ROOT, Incompatibility
from shipyard.resolver.versions import VersionTable, bit_positions, specifier
from shipyard.specs.targets import patch_boundaries, wheel_target_mask

if TYPE_CHECKING:
    from shipyard.resolver.solver import Solver

__all__ = [
    "ROOT",
    "DependencyInfo",
    "ForkSource",
    "ForkStrategy",
    "PrereleasePolicy",
    "RefineTargets",
    "Repository",
    "ResolutionStrategy",
    "ResolveOptions",
    "RestartFork",
    "RootRequirement",
    "SplitFork",
    "UnavailableInfo",
    "Universe",
]

ResolutionStrategy = Literal["highest", "lowest", "lowest-direct"]
PrereleasePolicy = Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"]
ForkStrategy = Literal["requires-python", "fewest"]

#: at most this many candidates' metadata is fetched ahead once the solver starts
#: rejecting a package's versions (uv's batch prefetch goes up to 50)
_PREFETCH_AHEAD = 32
#: of those, how many may start an sdist build
_BUILDS_AHEAD = 2
#: Every CPython minor (x.y.0) a Requires-Python cap is judged against.
_PROBES = tuple(Version(f"2.{minor}") for minor in range(8)) + tuple(
    Version(f"3.{minor}") for minor in range(40)
)


class Repository(Protocol):
    """Where candidates come from: an index, a lock, an installed environment."""

    def versions(self, name: str) -> list[ProjectVersion]:
        """Every version of canonical ``name``, newest first (empty when unknown)."""
        ...

    def metadata(self, version: ProjectVersion) -> CoreMetadata:
        """The core metadata of ``version``."""
        ...

    def prefetch(self, name: str) -> None:
        """Hint that ``versions(name)`` will be asked for soon."""
        ...

    def prefetch_metadata(self, version: ProjectVersion, *, build: bool = False) -> None:
        """Hint that ``metadata(version)`` will be asked for soon; ``build``: even when
        that means building an sdist (the version is likely to be chosen)."""
        ...

    def direct_version(self, name: str, url: str) -> ProjectVersion:
        """The one version a direct reference (``name @ url``) offers."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveOptions:
    """How to choose among candidates.

    :param strategy: ``highest`` (default), ``lowest``, or ``lowest-direct`` (lowest
        for the project's own requirements, highest for the rest).
    :param fork_strategy: ``requires-python`` (default: each range of Pythons gets the
        newest versions it allows, as uv's default) or ``fewest`` (one version wherever
        one serves every Python, as ``uv lock --fork-strategy fewest``).
    :param prerelease: ``if-necessary-or-explicit`` (default: pre-releases only when a
        specifier names one or nothing else fits), ``allow``, ``if-necessary``, ``disallow``.
    :param exclude_newer: ignore files uploaded after this time (timezone-aware).
    :param no_binary: names that must be built from source (``":all:"`` for every name).
    :param only_binary: names that must not be built from source (``":all:"`` for every).
    :param preferences: canonical name → the version (or versions, newest first) to keep
        when it still fits (from the lock).
    :param provided: canonical name → version already provided by the environment
        outside PyPI (conda packages that are Python distributions). Such a name has
        that one candidate, with no files and no dependencies of its own (its provider
        satisfies them); it is left out of the resolution's packages.
    :param constraints: canonical name → (specifier, marker or ``None``) pairs that
        narrow a project's versions wherever the marker holds, without ever requiring
        the project (pip's ``-c``, uv's ``constraint-dependencies``).
    :param no_deps: take only the root requirements, none of their dependencies
        (``pip sync`` of a fully pinned file, pip's ``--no-deps``); Requires-Python is
        still checked.
    """

    strategy: ResolutionStrategy = "highest"
    fork_strategy: ForkStrategy = "requires-python"
    prerelease: PrereleasePolicy = "if-necessary-or-explicit"
    exclude_newer: datetime | None = None
    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    preferences: Mapping[str, Version | Sequence[Version]] = field(default_factory=dict)
    provided: Mapping[str, Version] = field(default_factory=dict)
    constraints: Mapping[str, tuple[tuple[SpecifierSet, str | None], ...]] = field(
        default_factory=dict
    )
    no_deps: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RootRequirement:
    """A requirement the project declares.

    :param requirement: the PEP 508 requirement.
    :param selector: the lock-file marker that selects it: ``None`` for
        ``[project].dependencies``, ``"'plots' in extras"`` for an extra,
        ``"'dev' in dependency_groups"`` for a group.
    :param origin: who declares it, for messages (``"ml-service"``,
        ``"ml-service[plots]"``, ``"dependency group 'dev'"``).
    """

    requirement: Requirement
    selector: str | None
    origin: str


@dataclass(frozen=True, slots=True)
class DependencyInfo:
    """What a ``dependency`` incompatibility stands for, for explanations.

    :param text: the requirement as written (``"numpy>=1.26; python_version>='3.12'"``).
    :param origin: for the project's own requirements, who declares them.
    :param mask: the fork's targets on which it applies.
    :param spec_bits: the versions its specifier admits, before Requires-Python is
        folded in (the incompatibility's own term is the folded set).
    :param child: the package it requires (the term on it is left out when no version
        is admitted: the incompatibility then rules out the parent alone).
    """

    text: str
    origin: str | None
    mask: int
    spec_bits: int
    child: str


@dataclass(frozen=True, slots=True)
class UnavailableInfo:
    """Why an ``unavailable`` incompatibility rules versions out.

    :param reason: ``"missing"`` (no index has the project), ``"files"`` (no file for
        the fork's targets, or none allowed by exclude-newer/no-binary/only-binary),
        ``"yanked"``, ``"prerelease"``, ``"constraint"``, ``"provided"`` (conda provides
        another version), ``"url"`` (two different direct references), ``"self"`` (the
        version depends on itself at another version), ``"build"`` (its sdist's metadata
        does not build).
    :param detail: words for the message (the constraint text, the provided version…).
    """

    reason: str
    detail: str = ""


class SplitFork(Exception):
    """Raised inside a fork when a chosen version serves only some of the targets that
    need it: the fork is split into ``admitted`` (the targets it serves) and the rest."""

    def __init__(self, admitted: int, package: str, version: Version) -> None:
        super().__init__(f"{package} {version}")
        self.admitted = admitted
        self.package = package
        self.version = version


class RefineTargets(Exception):
    """Raised when a Requires-Python draws a line inside a target's patch releases
    (``!=3.9.0,!=3.9.1``): the resolution starts over with the targets split there.

    :param boundaries: per ``(major, minor)``, the patch numbers new targets start at.
    """

    def __init__(self, boundaries: dict[tuple[int, int], set[int]]) -> None:
        super().__init__(str(boundaries))
        self.boundaries = boundaries


class RestartFork(Exception):
    """Raised when a version's metadata shows a Requires-Python its index did not: the
    fork starts over with the corrected table."""


@lru_cache(maxsize=8192)
def _parse_marker(text: str) -> Marker:
    return Marker(text)


@lru_cache(maxsize=4096)
def _names_prerelease(operator: str, version: str) -> bool:
    """Whether a specifier clause explicitly names a pre-release (``>=2.0b1``)."""
    text = version.rstrip(".*")
    if operator == "!=" or not text[:1].isdigit():
        return False
    try:
        return Version(text).is_prerelease
    except InvalidVersion:
        return False


def split_identifier(identifier: str) -> tuple[str, str | None]:
    """``"b[x]"`` → ``("b", "x")``; ``"b"`` → ``("b", None)``."""
    name, _, extra = identifier.partition("[")
    return name, (extra[:-1] or None) if extra else None


def _identifier(name: str, extra: str | None) -> str:
    return f"{name}[{extra}]" if extra else name


@dataclass(slots=True)
class Edge:
    """One dependency of a chosen version, as the lock's markers need it.

    :param child: the identifier it requires; :param marker: its marker as written;
    :param extra: the parent's extra (the marker is evaluated with it).
    """

    child: str
    marker: str | None
    extra: str | None
    mask: int


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


class ForkSource:
    """The :class:`~shipyard.resolver.solver.Source` for one fork of targets.

    :param fork_mask: the targets this fork serves.
    :param preferred: canonical name → versions chosen by forks resolved before this
        one, tried first after the lock's own preferences (so forks agree wherever they
        can).
    """

    def __init__(
        self, universe: Universe, fork_mask: int, preferred: Mapping[str, Sequence[Version]]
    ) -> None:
        self.universe = universe
        self.fork_mask = fork_mask
        self.preferred = preferred
        self.options = universe.options
        #: identifier → the targets needing it, as estimated when it was chosen
        self.need: dict[str, int] = {ROOT: fork_mask}
        #: identifier → [(parent identifier, parent position, targets of the edge,
        #: versions its specifier admits)]
        self.incoming: dict[str, list[tuple[str, int, int, int]]] = {}
        #: (identifier, position) → the dependency edges of that version, for markers
        self.edges: dict[tuple[str, int], list[Edge]] = {}
        self._order: dict[str, int] = {ROOT: 0}
        self._constrained: set[str] = set()
        self._explicit_pre: set[str] = set()
        #: per project: the position last chosen, and how often a later choice was older
        self._last_choice: dict[str, int] = {}
        self._walked: dict[str, int] = {}
        #: projects one of whose sdists failed to build in this fork
        self._build_failed: set[str] = set()

    # -- Source protocol --------------------------------------------------------------

    def priority(self, package: str) -> tuple[int, ...]:
        """Exact pins and direct references first, then the order packages were met in
        (breadth-first from the project's requirements)."""
        order = self._order.get(package)
        if order is None:
            order = self._order[package] = len(self._order)
        name = split_identifier(package)[0]
        if self.universe.url_of(name) is not None or name in self.options.provided:
            return (0, order)
        return (1, order)

    def choose(self, package: str, allowed: int, solver: Solver) -> int | Incompatibility:
        """The version to try for ``package`` within ``allowed``.

        :raises SplitFork: when the best version serves only some of the targets that
            need the package (and the fork strategy wants the newest per Python range).
        """
        if package == ROOT:
            return 0
        name, extra = split_identifier(package)
        universe = self.universe
        table = universe.table(name)
        need, required = self._need(package, solver)
        candidates = allowed
        if extra is not None:
            # ``name[extra]`` at a version means ``name`` at that version: only the
            # versions the base may still take are worth trying. When there are none,
            # say so as a fact over the whole set (name[extra] ∈ S needs name ∈ S) so
            # the solver learns it at once instead of trying each version in turn.
            positive, bits = solver.term_of(name)
            base = bits if positive else table.all_bits & ~bits
            if not candidates & base:
                return Incompatibility(
                    ((package, True, allowed), (name, False, allowed)),
                    "dependency",
                    info=DependencyInfo(f"{name}[{extra}]", None, self.fork_mask, allowed, name),
                )
            candidates &= base
        # Versions that cannot be chosen are ruled out by one reason at a time, so each
        # explanation names the right one.
        if not _pinned(table, candidates):
            yanked = candidates & ~table.unyanked_bits
            if yanked and not candidates & ~yanked:
                return _unavailable(package, yanked, "yanked")
            candidates &= ~yanked
        if not self._prereleases_allowed(name, required & table.all_bits):
            pre = candidates & ~table.stable_bits
            if pre and not candidates & ~pre:
                return _unavailable(package, pre, "prerelease")
            candidates &= ~pre
        order = self._order_of(name, table, candidates)
        covering = universe.python_admitting(table, need, every=True)
        # Files: a version with none the lock can use is ruled out. One with files for
        # other targets only (no wheel for Python 3.15 yet) is used when no version
        # has files for this fork's targets, and reported as not covering them. Files
        # are looked at only as far down the order as needed (building them costs).
        if self.options.fork_strategy == "fewest":
            order = [p for p in order if covering >> p & 1] + [
                p for p in order if not covering >> p & 1
            ]
        unusable = 0
        chosen = -1
        fallback = -1
        for index, position in enumerate(order):
            served = universe.served(name, table, position)
            if not served:
                unusable |= 1 << position
            elif served & self.fork_mask:
                chosen = index
                break
            elif fallback < 0:
                fallback = index
        if chosen < 0:
            chosen = fallback
        if chosen < 0:
            return _unavailable(package, unusable, "files")
        position = order[chosen]
        last = self._last_choice.get(name)
        self._last_choice[name] = position
        if (
            last is not None
            and position != last
            and table.versions[position].version < (table.versions[last].version)
        ):
            self._walked[name] = self._walked.get(name, 0) + 1
        walked = self._walked.get(name, 0)
        if walked:
            # Walking down the versions: fetch the next ones' metadata now, more with
            # each step down (2, 4, 8 … 32). A package chosen again at the same version
            # after a backjump is not walking; a fetch the resolution does not use is
            # parsing that competes with it. After
            # an sdist of this project failed to build, start building the next few too:
            # such failures come in runs (a backend that needs what this machine lacks),
            # each a backend run of seconds. Otherwise sdists wait until chosen, as the
            # solver often skips whole ranges of them.
            window = min(_PREFETCH_AHEAD, 1 << walked)
            build = name in self._build_failed
            if build:  # the chosen one first, so its build takes a slot first
                universe.repository.prefetch_metadata(table.versions[position], build=True)
            for index, ahead in enumerate(order[chosen + 1 : chosen + 1 + window]):
                universe.repository.prefetch_metadata(
                    table.versions[ahead], build=build and index < _BUILDS_AHEAD
                )
        if not covering >> position & 1:
            admitted = universe.version_admits(table, position) & self.fork_mask
            raise SplitFork(admitted, name, table.versions[position].version)
        return position

    def dependencies(self, package: str, position: int) -> list[Incompatibility]:
        """The incompatibilities of one chosen version: its dependencies (each narrowed to
        the targets its marker holds on), and the constraints on packages met first.

        :raises RestartFork: when its metadata's Requires-Python excludes targets its
            index entry did not say it excludes.
        """
        if package == ROOT:
            return self._root_dependencies()
        universe = self.universe
        name, extra = split_identifier(package)
        table = universe.table(name)
        pv = table.versions[position]
        version_bits = 1 << position
        result: list[Incompatibility] = []
        edges: list[Edge] = []
        self.edges[(package, position)] = edges
        if extra is not None:
            edges.append(Edge(name, None, extra, self.fork_mask))
            self._link(name, position, package, self.fork_mask, version_bits)
            result.append(
                Incompatibility(
                    ((package, True, version_bits), (name, False, version_bits)),
                    "dependency",
                    info=DependencyInfo(
                        f"{name}=={pv.version}", None, self.fork_mask, version_bits, name
                    ),
                )
            )
        if not pv.index and name in self.options.provided:
            return result
        if universe.reporter is not None and extra is None:
            key = (name, pv.version)
            if key not in universe.announced:
                universe.announced.add(key)
                universe.reporter.package_resolved(name, str(pv.version))
        try:
            requirements = universe.requirements_of(name, pv)
        except BuildError as exc:
            # An sdist whose metadata does not build is a version that cannot be used,
            # as pip treats it: the resolution goes on with another one.
            self._build_failed.add(name)
            key = (name, pv.version)
            if universe.reporter is not None and key not in universe.skipped:
                universe.skipped.add(key)
                universe.reporter.warning(
                    f"Skipping {name} {pv.version}: {exc.message.rstrip('.')}."
                )
            return [_unavailable(package, version_bits, "build", exc.message)]
        if extra is None and pv.index:
            requires_python = universe.repository.metadata(pv).requires_python
            if (
                requires_python
                and table.set_requires_python(position, requires_python)
                and universe.admitted(requires_python) & self.fork_mask != self.fork_mask
            ):
                raise RestartFork(name)
        if self.options.no_deps:
            return result
        wanted: list[tuple[Requirement, str | None, int]] = []
        for req in requirements:
            marker = str(req.marker) if req.marker is not None else None
            if extra is not None and (marker is None or "extra" not in marker):
                continue  # a base dependency: the base package brings it in
            try:
                mask = universe.marker_mask(marker, extra or "") & self.fork_mask
            except InvalidMarker:
                continue
            if mask:
                wanted.append((req, marker, mask))
                universe.repository.prefetch(canonicalize_name(req.name))
        for req, marker, mask in wanted:
            for child, incompatibility in self._requirement(
                package, version_bits, req, mask, str(req), None
            ):
                edges.append(Edge(child, marker, extra, mask))
                self._link(child, position, package, mask, incompatibility)
                result.extend(incompatibility)
        return result

    # -- helpers ----------------------------------------------------------------------

    def _root_dependencies(self) -> list[Incompatibility]:
        universe = self.universe
        result: list[Incompatibility] = []
        edges: list[Edge] = []
        self.edges[(ROOT, 0)] = edges
        for root in universe.roots:
            req = root.requirement
            name = canonicalize_name(req.name)
            if req.url is not None:
                universe.use_url(name, req.url)
            universe.repository.prefetch(name)
        for root in universe.roots:
            req = root.requirement
            marker = str(req.marker) if req.marker is not None else None
            mask = universe.marker_mask(marker) & self.fork_mask
            if not mask:
                continue
            for child, incompatibility in self._requirement(
                ROOT, 1, req, mask, str(req), root.origin
            ):
                edges.append(Edge(child, marker, None, mask))
                self._link(child, 0, ROOT, mask, incompatibility)
                result.extend(incompatibility)
        return result

    def _link(
        self,
        child: str,
        position: int,
        parent: str,
        mask: int,
        spec: int | Sequence[Incompatibility],
    ) -> None:
        """Record that ``parent`` at ``position`` requires ``child`` on the targets of
        ``mask``, at the versions ``spec`` admits (a bitset, or taken from the
        dependency among the incompatibilities of the requirement)."""
        if not isinstance(spec, int):
            infos = [i.info for i in spec if isinstance(i.info, DependencyInfo)]
            spec = infos[0].spec_bits if infos else -1
        self.incoming.setdefault(child, []).append((parent, position, mask, spec))
        if child not in self._order:
            self._order[child] = len(self._order)

    def _requirement(
        self,
        parent: str,
        parent_bits: int,
        req: Requirement,
        mask: int,
        text: str,
        origin: str | None,
    ) -> Iterable[tuple[str, list[Incompatibility]]]:
        """The incompatibilities of one requirement: one per identifier (the base and
        each extra), each with the constraints on that package if it is new here."""
        universe = self.universe
        name = canonicalize_name(req.name)
        if req.url is not None and not universe.use_url(name, req.url):
            yield (
                name,
                [
                    Incompatibility(
                        ((parent, True, parent_bits),),
                        "unavailable",
                        info=UnavailableInfo("url", f"{name} @ {req.url}"),
                    )
                ],
            )
            return
        table = universe.table(name)
        spec_bits = table.matching(req.specifier)
        if req.url is None and universe.url_of(name) is not None:
            spec_bits = table.all_bits if not len(req.specifier) else spec_bits
        bits = spec_bits & universe.python_admitting(table, mask, every=False)
        if any(_names_prerelease(s.operator, s.version) for s in req.specifier):
            self._explicit_pre.add(name)
        self._prefetch_best(name, table, bits)
        extras = [None, *sorted({canonicalize_name(e) for e in req.extras})]
        for extra in extras:
            child = _identifier(name, extra)
            info = DependencyInfo(text, origin, mask, spec_bits, child)
            found: list[Incompatibility] = []
            if child == parent:
                if not parent_bits & bits:
                    found.append(
                        Incompatibility(
                            ((parent, True, parent_bits),),
                            "unavailable",
                            info=UnavailableInfo("self", text),
                        )
                    )
                yield child, found
                continue
            terms: tuple[tuple[str, bool, int], ...] = ((parent, True, parent_bits),)
            if bits:
                terms += ((child, False, bits),)
            found.append(Incompatibility(terms, "dependency", info=info))
            if child not in self._constrained:
                self._constrained.add(child)
                found.extend(self._constraints(child, name, table))
            yield child, found

    def _constraints(self, child: str, name: str, table: VersionTable) -> list[Incompatibility]:
        result = []
        for spec, marker in self.options.constraints.get(name, ()):
            if not self.universe.marker_mask(marker) & self.fork_mask:
                continue
            if any(_names_prerelease(s.operator, s.version) for s in spec):
                self._explicit_pre.add(name)
            outside = table.all_bits & ~table.matching(spec)
            if outside:
                text = f"{name}{spec}" + (f"; {marker}" if marker else "")
                result.append(
                    Incompatibility(
                        ((child, True, outside),),
                        "unavailable",
                        info=UnavailableInfo("constraint", text),
                    )
                )
        return result

    def _prefetch_best(self, name: str, table: VersionTable, bits: int) -> None:
        """Start fetching the metadata of the version most likely chosen among ``bits``."""
        likely = bits & table.unyanked_bits & table.stable_bits or bits
        if not likely:
            return
        for version in self.universe.preferences.get(name, ()):
            position = table.position.get(version)
            if position is not None and likely >> position & 1:
                self.universe.repository.prefetch_metadata(table.versions[position])
                return
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.universe.root_names
        )
        position = likely.bit_length() - 1 if lowest else (likely & -likely).bit_length() - 1
        self.universe.repository.prefetch_metadata(table.versions[position])

    def _need(self, package: str, solver: Solver) -> tuple[int, int]:
        """The targets that need ``package`` given the versions decided so far, and the
        versions the specifiers of those requirements admit."""
        decisions = solver.decisions
        need = 0
        admitted = -1
        for parent, position, mask, spec in self.incoming.get(package, ()):
            if decisions.get(parent) == position:
                need |= mask & self.need.get(parent, self.fork_mask)
                admitted &= spec
        need = need or self.fork_mask
        self.need[package] = need
        return need, admitted

    def _prereleases_allowed(self, name: str, required: int) -> bool:
        """PEP 440's rule, as uv applies it: pre-releases only when the policy allows
        them, a specifier names one, or the requirements (``required``: the versions
        their specifiers admit) leave no final release."""
        policy = self.options.prerelease
        if policy == "allow":
            return True
        if policy == "disallow":
            return False
        if policy == "if-necessary-or-explicit" and name in self._explicit_pre:
            return True
        return not required & self.universe.table(name).stable_bits

    def _order_of(self, name: str, table: VersionTable, candidates: int) -> list[int]:
        """Positions of ``candidates`` in the order to try them: the lock's preferences,
        the versions earlier forks chose, then by the resolution strategy."""
        positions = bit_positions(candidates)
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.universe.root_names
        )
        if lowest:
            positions.reverse()
        first: list[int] = []
        for version in (*self.universe.preferences.get(name, ()), *self.preferred.get(name, ())):
            position = table.position.get(version)
            if position is not None and candidates >> position & 1 and position not in first:
                first.append(position)
        if not first:
            return positions
        rest = [p for p in positions if p not in first]
        return first + rest

    # -- after the solver ---------------------------------------------------------------

    def exact_need(self, decisions: Mapping[str, int]) -> dict[str, int]:
        """The targets that need each decided package in the finished solution (the
        least fixed point over the dependency edges of the decided versions)."""
        need = {ROOT: self.fork_mask}
        changed = True
        while changed:
            changed = False
            for child, parents in self.incoming.items():
                if child not in decisions:
                    continue
                mask = 0
                for parent, position, edge, _spec in parents:
                    if decisions.get(parent) == position:
                        mask |= edge & need.get(parent, 0)
                if mask != need.get(child, 0):
                    need[child] = mask
                    changed = True
        return need

    def uncovered(
        self, decisions: Mapping[str, int], need: Mapping[str, int], order: Sequence[str]
    ) -> SplitFork | None:
        """The first decided version (in decision ``order``) whose Requires-Python leaves
        out targets that need it, as the split to make; ``None`` when all serve."""
        universe = self.universe
        for package in order:
            if package == ROOT:
                continue
            name = split_identifier(package)[0]
            table = universe.table(name)
            position = decisions[package]
            admitted = universe.version_admits(table, position)
            wanted = need.get(package, 0)
            if wanted & ~admitted:
                return SplitFork(admitted & self.fork_mask, name, table.versions[position].version)
        return None


def _unavailable(package: str, bits: int, reason: str, detail: str = "") -> Incompatibility:
    """The incompatibility "no version of ``package`` in ``bits`` can be used"."""
    return Incompatibility(
        ((package, True, bits),), "unavailable", info=UnavailableInfo(reason, detail)
    )


def _pinned(table: VersionTable, candidates: int) -> bool:
    """Whether ``candidates`` are all one release (``==1.0`` pins it; PEP 592 lets a
    yanked version be chosen then)."""
    low = (candidates & -candidates).bit_length() - 1
    return candidates & ~table.equal_to(str(table.versions[low].version)) == 0
