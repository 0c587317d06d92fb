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
from typing import Any, Literal, Protocol

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
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
    """

    strategy: ResolutionStrategy = "highest"
    prerelease: PrereleasePolicy = "if-necessary-or-explicit"
    exclude_newer: datetime | None = None
    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    preferences: Mapping[str, Version] = field(default_factory=dict)


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


def _popcount(mask: int) -> int:
    return bin(mask).count("1")


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
        #: identifier → the first requirement that brought it in (for explanations)
        self.introduced_by: dict[str, Requirement_] = {}

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
    ) -> tuple[bool, bool, bool, bool, str]:
        """Order in which to pin identifiers: the Python check first, then causes of
        backtracking, then exact pins, then the project's direct requirements."""
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
        return (identifier != PYTHON, name not in causes, not pinned, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement_]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        """Candidates satisfying every requirement on ``identifier``, best first."""
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
        if urls:
            return self._direct_matches(name, extra, urls, reqs, mask, bad)
        versions = self.repository.versions(name)
        spec = SpecifierSet()
        for req in reqs:
            spec &= req.specifier
        pinned_exactly = {
            s.version for r in reqs for s in r.specifier if s.operator in ("==", "===")
        }
        allow_pre = self._allow_prereleases(spec, versions)
        matches: list[Candidate] = []
        for pv in versions:
            version = pv.version
            if version in bad:
                continue
            if not spec.contains(version, prereleases=allow_pre):
                continue
            if pv.yanked and str(version) not in pinned_exactly:
                continue
            files = self.usable_files(name, pv, mask)
            if not files:
                continue
            matches.append(Candidate(name, extra, version, pv, mask))
        preferred = self.options.preferences.get(name)
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.root_names
        )
        if lowest:
            matches.reverse()
        if preferred is not None:
            matches.sort(key=lambda c: c.version != preferred)
        if matches and matches[0].project_version is not None:
            self.repository.prefetch_metadata(matches[0].project_version)
        return matches

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

    def _allow_prereleases(self, spec: SpecifierSet, versions: Sequence[ProjectVersion]) -> bool:
        policy = self.options.prerelease
        if policy == "allow":
            return True
        if policy == "disallow":
            return False
        if policy == "if-necessary-or-explicit" and any(
            Version(s.version.rstrip(".*")).is_prerelease
            for s in spec
            if s.operator != "!=" and s.version.rstrip(".*")[:1].isdigit()
        ):
            return True
        return not any(
            spec.contains(pv.version, prereleases=False) and not pv.yanked for pv in versions
        )

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
        for text in metadata.requires_dist:
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
