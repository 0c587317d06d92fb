"""What a resolution is given: the project's requirements (:class:`RootRequirement`),
how to choose among candidates (:class:`ResolveOptions` and its strategy literals), and
where candidates come from (the :class:`Repository` protocol)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from shipyard.models import CoreMetadata, ProjectVersion

__all__ = [
    "ForkStrategy",
    "NameListing",
    "PrereleasePolicy",
    "Repository",
    "ResolutionStrategy",
    "ResolveOptions",
    "RootRequirement",
]


ResolutionStrategy = Literal["highest", "lowest", "lowest-direct"]
PrereleasePolicy = Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"]
ForkStrategy = Literal["requires-python", "fewest"]


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


@runtime_checkable
class NameListing(Protocol):
    """A :class:`Repository` that can name projects it has without asking an index for
    each (find-links locations, local indexes): used to suggest a name for a misspelled
    one."""

    def listed_names(self) -> list[str]:
        """Canonical project names; no network request is made for them."""
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
