"""The resolvelib provider: how shipyard's requirements and candidates behave.

A universal resolution serves a set of target environments at once. Every
requirement carries a *target mask* (bit ``i`` set when it applies to
``targets[i]``): the mask of its parent candidate narrowed by its own marker.
A candidate carries the union of the masks of the requirements it was chosen
for, so a package's ``Requires-Python`` is checked only against the Python
versions that actually need it, and a dependency with a marker that no target
satisfies is never added.

Identifiers are canonical project names, ``name[extra]`` for an extra (which
depends on ``name`` at the same version, as pip models extras), and
``<python>`` for the virtual Python requirement a candidate's
``Requires-Python`` turns into.

No I/O happens here: versions and metadata come from a :class:`Repository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Protocol, overload

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider

from shipyard.index.metadata import CoreMetadata
from shipyard.index.repository import ProjectVersion
from shipyard.models import DistFile, TargetEnvironment
from shipyard.reporting import ResolveReporter
from shipyard.specs.targets import wheel_target_mask

__all__ = [
    "PYTHON",
    "Candidate",
    "Provider",
    "Repository",
    "Requirement_",
    "ResolveOptions",
]

PYTHON = "<python>"

ResolutionStrategy = Literal["highest", "lowest", "lowest-direct"]
PrereleasePolicy = Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"]


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

    def prefetch_metadata(self, version: ProjectVersion) -> None:
        """Hint that ``metadata(version)`` will be asked for soon."""
        ...

    def direct_version(self, name: str, url: str) -> ProjectVersion:
        """The one version a direct reference (``name @ url``) offers."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveOptions:
    """How to choose among candidates.

    :param strategy: ``highest`` (default), ``lowest``, or ``lowest-direct`` (lowest
        for the project's own requirements, highest for the rest).
    :param prerelease: ``if-necessary-or-explicit`` (default: pre-releases only when a
        specifier names one or nothing else fits), ``allow``, ``if-necessary``, ``disallow``.
    :param exclude_newer: ignore files uploaded after this time (timezone-aware).
    :param no_binary: names that must be built from source (``":all:"`` for every name).
    :param only_binary: names that must not be built from source (``":all:"`` for every).
    :param preferences: canonical name → version to keep when it still fits (from the lock).
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
    prerelease: PrereleasePolicy = "if-necessary-or-explicit"
    exclude_newer: datetime | None = None
    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    preferences: Mapping[str, Version] = field(default_factory=dict)
    provided: Mapping[str, Version] = field(default_factory=dict)
    constraints: Mapping[str, tuple[tuple[SpecifierSet, str | None], ...]] = field(
        default_factory=dict
    )
    no_deps: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Requirement_:
    """One requirement in the resolution.

    :param name: canonical project name (or :data:`PYTHON`).
    :param extra: the extra this requirement selects (one per requirement; ``None``: base).
    :param specifier: the version specifier.
    :param mask: bitmask of the target environments it applies to.
    :param parent: the candidate that declared it; ``None`` for the project's own.
    :param text: the requirement as written (for messages).
    :param marker: its marker string as written (``None``: unconditional).
    :param origin: for root requirements, who declares it (``"ml-service"``,
        ``"ml-service[plots]"``, ``"dependency group 'dev'"``).
    :param url: for a direct reference (``name @ url``, PEP 440/508), the URL.
    """

    name: str
    extra: str | None
    specifier: SpecifierSet
    mask: int
    parent: Candidate | None
    text: str
    marker: str | None = None
    origin: str | None = None
    url: str | None = None

    @property
    def identifier(self) -> str:
        """The resolvelib identifier: ``name`` or ``name[extra]``."""
        return f"{self.name}[{self.extra}]" if self.extra else self.name


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    """One version of one project the resolver may pick, for the targets in ``mask``.

    :param name: canonical name; :param extra: the extra (``None``: base);
    :param version: the version; :param project_version: its files and index;
    :param mask: the targets it must serve.
    """

    name: str
    extra: str | None
    version: Version
    project_version: ProjectVersion | None
    mask: int

    @property
    def identifier(self) -> str:
        """The resolvelib identifier."""
        return f"{self.name}[{self.extra}]" if self.extra else self.name

    def _key(self) -> tuple[str, str | None, Version, int]:
        return (self.name, self.extra, self.version, self.mask)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"<Candidate {self.identifier}=={self.version}>"


@lru_cache(maxsize=8192)
def _parse_marker(text: str) -> Marker:
    return Marker(text)


@lru_cache(maxsize=4096)
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


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


def _bit_positions(bits: int) -> list[int]:
    """The positions of the set bits of ``bits``, lowest first."""
    positions = []
    while bits:
        low = bits & -bits
        positions.append(low.bit_length() - 1)
        bits ^= low
    return positions


#: candidates whose metadata is fetched ahead once the resolver starts rejecting
_PREFETCH_AHEAD = 8


class _Matches(Sequence[Candidate]):
    """The candidates of one ``find_matches`` call, produced lazily and re-filtered.

    resolvelib re-iterates a criterion's candidates after every backjump. Each
    iteration here skips versions with no usable file for ``mask`` and versions
    the provider has since found dead, so a candidate that contradicts the
    project's own requirements is rejected once, not once per backjump.
    """

    def __init__(
        self,
        provider: Provider,
        name: str,
        extra: str | None,
        mask: int,
        versions: list[ProjectVersion],
    ) -> None:
        self._provider = provider
        self._name = name
        self._extra = extra
        self._mask = mask
        self._versions = versions

    def __iter__(self) -> Iterator[Candidate]:
        provider, name, mask = self._provider, self._name, self._mask
        versions = self._versions
        yielded = 0
        for index, pv in enumerate(versions):
            if provider.usable_files(name, pv, mask) and not provider.is_dead(
                name, pv.version, mask
            ):
                if yielded:
                    # The resolver is walking down this list (the candidates before were
                    # rejected): fetch the next few candidates' metadata in parallel
                    # instead of one round trip per rejection.
                    for ahead in versions[index + 1 : index + 1 + _PREFETCH_AHEAD]:
                        provider.repository.prefetch_metadata(ahead)
                yielded += 1
                yield Candidate(name, self._extra, pv.version, pv, mask)

    def first(self) -> Candidate | None:
        """The best candidate, or ``None``."""
        return next(iter(self), None)

    def __bool__(self) -> bool:
        return self.first() is not None

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        return list(self)[index]


class _VersionTable:
    """One project's versions (newest first) with bitsets over their positions.

    Bit ``i`` stands for ``versions[i]``. Each distinct specifier is evaluated
    once per project; a resolution (with all its backtracking) then combines
    requirements with integer ``&``.
    """

    __slots__ = (
        "all_bits",
        "by_text",
        "position",
        "spec_bits",
        "stable_bits",
        "unyanked_bits",
        "versions",
    )

    def __init__(self, versions: Sequence[ProjectVersion]) -> None:
        self.versions = versions
        self.position = {pv.version: i for i, pv in enumerate(versions)}
        self.by_text: dict[str, list[int]] | None = None
        self.all_bits = (1 << len(versions)) - 1
        stable = unyanked = 0
        for i, pv in enumerate(versions):
            if not pv.version.is_prerelease:
                stable |= 1 << i
            if not pv.yanked:
                unyanked |= 1 << i
        self.stable_bits = stable
        self.unyanked_bits = unyanked
        self.spec_bits: dict[SpecifierSet, int] = {}

    def matching(self, specifier: SpecifierSet) -> int:
        """The versions ``specifier`` admits (pre-releases included)."""
        bits = self.spec_bits.get(specifier)
        if bits is None:
            if not len(specifier):
                bits = self.all_bits
            else:
                bits = 0
                for i, pv in enumerate(self.versions):
                    if specifier.contains(pv.version, prereleases=True):
                        bits |= 1 << i
            self.spec_bits[specifier] = bits
        return bits

    def positions_of(self, text: str) -> list[int]:
        """Positions of the versions whose normalized text is ``text`` (for ``==``)."""
        if self.by_text is None:
            self.by_text = {}
            for i, pv in enumerate(self.versions):
                self.by_text.setdefault(str(pv.version), []).append(i)
        try:
            key = str(Version(text))
        except InvalidVersion:
            key = text
        return self.by_text.get(key, [])


class Provider(AbstractProvider["Requirement_", "Candidate", str]):
    """The resolvelib provider for one universal resolution (one fork of targets).

    :param targets: all target environments of the lock (bit ``i`` ↔ ``targets[i]``).
    :param fork_mask: the targets this resolution serves (all of them unless forked).
    :param root_names: canonical names the project requires directly.
    :param repository: where versions and metadata come from.
    """

    def __init__(
        self,
        *,
        targets: Sequence[TargetEnvironment],
        fork_mask: int,
        root_names: frozenset[str],
        repository: Repository,
        options: ResolveOptions,
        reporter: ResolveReporter | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.fork_mask = fork_mask
        self.root_names = root_names
        self.repository = repository
        self.options = options
        self.reporter = reporter
        self._envs = tuple(dict(t.markers) for t in self.targets)
        self._python_versions = tuple(
            Version(t.markers["python_full_version"]) for t in self.targets
        )
        self._mask_cache: dict[tuple[str, str], int] = {}
        self._python_cache: dict[tuple[str, int], bool] = {}
        self._wheel_masks: dict[str, int] = {}
        self._usable_cache: dict[tuple[str, Version, int], tuple[DistFile, ...]] = {}
        self._deps_cache: dict[Candidate, list[Requirement_]] = {}
        self._tables: dict[str, _VersionTable] = {}
        #: canonical name → (mask, specifier) of the project's own requirements on it
        self._root_specs: dict[str, list[tuple[int, SpecifierSet]]] = {}
        #: canonical name → {requiring project: how many versions its requirement admits}
        self.requirers: dict[str, dict[str, int]] = {}
        #: names to decide first, in this order (see ``universal._ConflictWatch``)
        self.prioritized: dict[str, int] = {}
        #: (name, version) → target masks on which that version can never be used
        self._dead: dict[tuple[str, Version], list[int]] = {}
        #: identifier → the first requirement that brought it in (for explanations)
        self.introduced_by: dict[str, Requirement_] = {}

    def narrowing_requirers(self, name: str) -> list[str]:
        """The projects whose requirements on ``name`` exclude some of its versions,
        the most restrictive first."""
        table = self._tables.get(name)
        total = len(table.versions) if table is not None else 0
        found = self.requirers.get(name, {})
        return sorted((n for n, count in found.items() if count < total), key=found.__getitem__)

    def prioritize(self, name: str) -> None:
        """Decide ``name`` before every project not prioritized earlier."""
        self.prioritized.setdefault(name, len(self.prioritized))

    def set_root_requirements(self, requirements: Iterable[Requirement_]) -> None:
        """Record the project's own requirements, so a candidate that contradicts one
        of them is ruled out once instead of on every backtrack."""
        for req in requirements:
            if req.extra is None and req.url is None and req.parent is None:
                self._root_specs.setdefault(req.name, []).append((req.mask, req.specifier))

    def is_dead(self, name: str, version: Version, mask: int) -> bool:
        """Whether ``version`` of ``name`` is known to be unusable for the targets in
        ``mask`` (it contradicts a requirement of the project itself)."""
        masks = self._dead.get((name, version))
        return masks is not None and any(dead & ~mask == 0 for dead in masks)

    def _check_against_roots(self, candidate: Candidate, deps: Sequence[Requirement_]) -> None:
        """Mark ``candidate`` dead when one of its dependencies admits no version the
        project's own requirement on that name admits, on a target both apply to.

        Such a candidate fails whatever else is pinned; without this memo resolvelib
        re-tries it after every backjump (sentry-base's google-cloud-spanner versions
        that need ``sqlparse>=0.4.4`` against the project's ``sqlparse<=0.3.0``).
        """
        for dep in deps:
            roots = self._root_specs.get(dep.name)
            if not roots or dep.extra is not None or dep.url is not None:
                continue
            table = self._tables.get(dep.name)
            if table is None:
                continue  # its page is not loaded yet; resolvelib will find out itself
            dep_bits = table.matching(dep.specifier)
            for root_mask, root_spec in roots:
                if dep.mask & root_mask and not dep_bits & table.matching(root_spec):
                    self._dead.setdefault((candidate.name, candidate.version), []).append(
                        candidate.mask
                    )
                    return

    # -- masks ------------------------------------------------------------------------

    def marker_mask(self, marker: str | None, extra: str = "") -> int:
        """Targets (within the fork) on which ``marker`` holds with ``extra`` selected."""
        if marker is None:
            return self.fork_mask
        key = (marker, extra)
        found = self._mask_cache.get(key)
        if found is not None:
            return found
        parsed = _parse_marker(marker)
        mask = 0
        for index, env in enumerate(self._envs):
            if self.fork_mask >> index & 1 and parsed.evaluate({**env, "extra": extra}):
                mask |= 1 << index
        self._mask_cache[key] = mask
        return mask

    def constraints_on(self, name: str, mask: int) -> list[SpecifierSet]:
        """The constraint specifiers on ``name`` whose marker holds on a target of ``mask``."""
        return [
            specifier
            for specifier, marker in self.options.constraints.get(name, ())
            if self.marker_mask(marker) & mask
        ]

    def python_ok(self, requires_python: str | None, mask: int) -> bool:
        """Whether ``requires_python`` admits the Python of every target in ``mask``."""
        if not requires_python:
            return True
        key = (requires_python, mask)
        found = self._python_cache.get(key)
        if found is not None:
            return found
        try:
            spec = _specifier(requires_python)
        except InvalidSpecifier:
            return True  # an unparseable Requires-Python is ignored, as pip does
        result = True
        index = 0
        while mask:
            if mask & 1 and not spec.contains(self._python_versions[index], prereleases=True):
                result = False
                break
            mask >>= 1
            index += 1
        self._python_cache[key] = result
        return result

    def wheel_mask(self, filename: str) -> int:
        """Targets a wheel can be installed on (memoized per filename)."""
        found = self._wheel_masks.get(filename)
        if found is None:
            found = wheel_target_mask(filename, self.targets)
            self._wheel_masks[filename] = found
        return found

    # -- resolvelib protocol ------------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement_ | Candidate) -> str:
        """The identifier shared by a requirement and the candidates that can satisfy it."""
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, int, bool, bool, bool, str]:
        """Order in which to pin identifiers: the Python check first, then projects
        prioritized after repeated conflicts, then causes of backtracking, then exact
        pins, then the project's direct requirements."""
        infos = list(information[identifier])
        pinned = any(
            any(
                s.operator in ("==", "===") and "*" not in s.version
                for s in i.requirement.specifier
            )
            for i in infos
        )
        direct = any(i.parent is None for i in infos)
        causes = {c.requirement.name for c in backtrack_causes} | {
            c.parent.name for c in backtrack_causes if c.parent is not None
        }
        name = identifier.partition("[")[0]
        rank = self.prioritized.get(name, len(self.prioritized))
        return (identifier != PYTHON, rank, name not in causes, not pinned, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement_]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Sequence[Candidate]:
        """Candidates satisfying every requirement on ``identifier``, best first.

        The versions that pass the specifiers are found with per-project bitsets;
        the result is a lazy sequence (:class:`_Matches`) that checks each version's
        files only when the resolver gets that far down the list, and that skips
        versions found dead since (resolvelib keeps and re-iterates it).
        """
        reqs = list(requirements[identifier])
        mask = 0
        for req in reqs:
            mask |= req.mask
        for req in reqs:
            self.introduced_by.setdefault(identifier, req)
        if identifier == PYTHON:
            if all(self.python_ok(str(r.specifier), r.mask) for r in reqs):
                return [Candidate(PYTHON, None, Version("0"), None, mask)]
            return []
        name, _, extra_part = identifier.partition("[")
        extra = extra_part.rstrip("]") or None
        if extra:
            # Versions the base requirement excludes are excluded for the extra too.
            reqs = reqs + [r for r in requirements.get(name, ()) if r.extra is None]
        bad = {c.version for c in incompatibilities[identifier]}
        urls = {r.url for r in reqs if r.url}
        constraints = self.constraints_on(name, mask)
        provided = self.options.provided.get(name)
        if provided is not None:
            if (
                urls
                or provided in bad
                or not all(
                    s.contains(provided, prereleases=True)
                    for s in [r.specifier for r in reqs] + constraints
                )
            ):
                return []
            return [Candidate(name, extra, provided, None, mask)]
        if urls:
            return self._direct_matches(name, extra, urls, reqs, mask, bad)
        table = self._table(name)
        bits = table.all_bits
        requirers = self.requirers.setdefault(name, {})
        for req in reqs:
            admitted = table.matching(req.specifier)
            bits &= admitted
            if req.parent is not None and req.parent.name != name:
                count = admitted.bit_count()
                if count < requirers.get(req.parent.name, len(table.versions) + 1):
                    requirers[req.parent.name] = count
        for specifier in constraints:
            bits &= table.matching(specifier)
        for version in bad:
            position = table.position.get(version)
            if position is not None:
                bits &= ~(1 << position)
        # Yanked versions only when a requirement pins exactly that version (PEP 592).
        pinned = {
            s.version
            for specifier in [r.specifier for r in reqs] + constraints
            for s in specifier
            if s.operator in ("==", "===")
        }
        allowed_yanked = 0
        for text in pinned:
            for position in table.positions_of(text):
                allowed_yanked |= 1 << position
        bits &= table.unyanked_bits | allowed_yanked
        if not self._allow_prereleases(reqs, bits & table.stable_bits):
            bits &= table.stable_bits
        if not bits:
            return []
        positions = _bit_positions(bits)
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.root_names
        )
        if lowest:
            positions.reverse()
        preferred = self.options.preferences.get(name)
        if preferred is not None:
            position = table.position.get(preferred)
            if position is not None and bits >> position & 1:
                positions.remove(position)
                positions.insert(0, position)
        matches = _Matches(self, name, extra, mask, [table.versions[p] for p in positions])
        first = matches.first()
        if first is None:
            return []
        if first.project_version is not None:
            self.repository.prefetch_metadata(first.project_version)
        return matches

    def _table(self, name: str) -> _VersionTable:
        table = self._tables.get(name)
        if table is None:
            table = _VersionTable(self.repository.versions(name))
            self._tables[name] = table
        return table

    def _direct_matches(
        self,
        name: str,
        extra: str | None,
        urls: set[str],
        reqs: Sequence[Requirement_],
        mask: int,
        bad: set[Version],
    ) -> list[Candidate]:
        """The single candidate of a direct reference, if every requirement accepts it."""
        if len(urls) != 1:
            return []  # two different URLs for one project cannot both be honoured
        url = next(iter(urls))
        pv = self.repository.direct_version(name, url)
        if pv.version in bad:
            return []
        if not all(r.specifier.contains(pv.version, prereleases=True) for r in reqs):
            return []
        return [Candidate(name, extra, pv.version, pv, mask)]

    def _allow_prereleases(self, reqs: Sequence[Requirement_], stable_bits: int) -> bool:
        """Whether pre-releases may be chosen: per the policy, when a specifier names
        one, or when no stable, unyanked version fits (``stable_bits`` is empty)."""
        policy = self.options.prerelease
        if policy == "allow":
            return True
        if policy == "disallow":
            return False
        if policy == "if-necessary-or-explicit" and any(
            _names_prerelease(s.operator, s.version) for r in reqs for s in r.specifier
        ):
            return True
        return not stable_bits

    def usable_files(self, name: str, pv: ProjectVersion, mask: int) -> tuple[DistFile, ...]:
        """The files of ``pv`` that may be used for the targets in ``mask``.

        Drops yanked files (unless all are yanked), files uploaded after
        ``exclude_newer``, wheels under ``no_binary`` and sdists under
        ``only_binary``, wheels no target in ``mask`` can install, and files whose
        ``Requires-Python`` excludes a target in ``mask``.
        """
        key = (name, pv.version, mask)
        cached = self._usable_cache.get(key)
        if cached is not None:
            return cached
        options = self.options
        no_binary = ":all:" in options.no_binary or name in options.no_binary
        only_binary = ":all:" in options.only_binary or name in options.only_binary
        all_yanked = pv.yanked
        usable: list[DistFile] = []
        for dist in pv.files:
            if dist.yanked is not None and not all_yanked:
                continue
            if (
                options.exclude_newer is not None
                and dist.upload_time is not None
                and dist.upload_time > options.exclude_newer
            ):
                continue
            if dist.is_wheel:
                if no_binary or not self.wheel_mask(dist.filename) & mask:
                    continue
            elif only_binary:
                continue
            if not self.python_ok(dist.requires_python, mask):
                continue
            usable.append(dist)
        result = tuple(usable)
        self._usable_cache[key] = result
        return result

    def is_satisfied_by(self, requirement: Requirement_, candidate: Candidate) -> bool:
        """Whether ``candidate`` satisfies ``requirement`` (version and targets)."""
        if requirement.mask & ~candidate.mask:
            return False
        if candidate.name == PYTHON:
            return self.python_ok(str(requirement.specifier), requirement.mask)
        if requirement.url and (
            candidate.project_version is None
            or candidate.project_version.files[0].url != requirement.url
        ):
            return False
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement_]:
        """The requirements ``candidate`` brings in, each narrowed to its targets."""
        cached = self._deps_cache.get(candidate)
        if cached is not None:
            return cached
        if self.reporter is not None and candidate.extra is None and candidate.name != PYTHON:
            self.reporter.package_resolved(candidate.name, str(candidate.version))
        if candidate.name == PYTHON or candidate.project_version is None:
            return []
        metadata = self.repository.metadata(candidate.project_version)
        deps: list[Requirement_] = []
        if candidate.extra:
            deps.append(
                Requirement_(
                    name=candidate.name,
                    extra=None,
                    specifier=SpecifierSet(f"=={candidate.version}"),
                    mask=candidate.mask,
                    parent=candidate,
                    text=f"{candidate.name}=={candidate.version}",
                )
            )
        else:
            requires_python = metadata.requires_python
            if requires_python and not self.python_ok(requires_python, candidate.mask):
                try:
                    spec = _specifier(requires_python)
                except InvalidSpecifier:
                    spec = SpecifierSet()
                deps.append(
                    Requirement_(
                        name=PYTHON,
                        extra=None,
                        specifier=spec,
                        mask=candidate.mask,
                        parent=candidate,
                        text=f"Python{requires_python}",
                    )
                )
        for text in () if self.options.no_deps else metadata.requires_dist:
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                if self.reporter is not None:
                    self.reporter.warning(
                        f"Ignoring an invalid requirement {text!r} in the metadata of "
                        f"{candidate.name} {candidate.version}: {str(exc).splitlines()[0]}"
                    )
                continue
            marker = str(req.marker) if req.marker is not None else None
            try:
                if candidate.extra:
                    if marker is None or "extra" not in marker:
                        continue  # a base dependency: the base candidate brings it in
                    mask = self.marker_mask(marker, candidate.extra) & candidate.mask
                else:
                    mask = self.marker_mask(marker, "") & candidate.mask
            except InvalidMarker:
                continue
            if not mask:
                continue
            deps.extend(requirements_for(req, mask=mask, parent=candidate, text=text))
        for dep in deps:
            if dep.name != PYTHON:
                self.repository.prefetch(dep.name)
        if candidate.extra is None and self._root_specs:
            self._check_against_roots(candidate, deps)
        self._deps_cache[candidate] = deps
        return deps

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Iterable[str]:
        """Resolve the Python requirement before anything else when it is pending."""
        identifiers = list(identifiers)
        if PYTHON in identifiers:
            return [PYTHON]
        return identifiers


def requirements_for(
    req: Requirement,
    *,
    mask: int,
    parent: Candidate | None,
    text: str,
    origin: str | None = None,
) -> list[Requirement_]:
    """Turn a PEP 508 requirement into resolver requirements: one for the base project
    and one per extra (each ``name[extra]`` depends on the base at the same version)."""
    name = canonicalize_name(req.name)
    marker = str(req.marker) if req.marker is not None else None
    extras: list[str | None] = [None, *sorted(canonicalize_name(e) for e in req.extras)]
    return [
        Requirement_(
            name=name,
            extra=extra,
            specifier=req.specifier,
            mask=mask,
            parent=parent,
            text=text,
            marker=marker,
            origin=origin,
            url=req.url,
        )
        for extra in extras
    ]
