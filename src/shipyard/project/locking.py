"""The ``lock`` use case: manifest → universal resolution → ``pylock.toml``.

Existing pins are preferences: a re-lock keeps every version that still fits
unless ``--upgrade`` (all) or ``--upgrade-package NAME`` asks to move it. The
lock records the hash of its inputs, so ``lock --check``, ``sync`` and ``run``
know it is stale without resolving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.conda.config import conda_config
from shipyard.errors import LockError, ManifestError, UsageError
from shipyard.index.repository import IndexRepository
from shipyard.lock.pylock import (
    LOCK_FILENAME,
    ProjectEntry,
    build_lock_document,
    lock_differs,
    read_lock,
    write_lock,
)
from shipyard.models import DistFile, Interpreter, LockFile, TargetEnvironment
from shipyard.project.conda_locking import lock_conda
from shipyard.project.freshness import lock_is_fresh, settings_inputs
from shipyard.project.lock_changes import lock_changes
from shipyard.project.manifest import Project
from shipyard.project.services import Services
from shipyard.project.sources import (
    accelerator_variants,
    apply_source,
    command_line_indexes,
    editable_by_default,
    named_indexes,
    project_sources,
)
from shipyard.project.variant_locking import attach_variant_metadata
from shipyard.project.workspace import workspace_members, workspace_requires_python
from shipyard.resolver.provider import (
    ForkStrategy,
    PrereleasePolicy,
    ResolutionStrategy,
    ResolveOptions,
)
from shipyard.resolver.universal import Resolution, RootRequirement, resolve
from shipyard.settings import parse_datetime
from shipyard.specs.targets import default_targets

__all__ = [
    "LockOutcome",
    "constraint_map",
    "lock_is_fresh",
    "lock_project",
    "make_repository",
    "refresh_input_hash",
    "resolve_options",
    "root_requirements",
]


@dataclass(slots=True, kw_only=True)
class LockOutcome:
    """What ``lock`` did.

    :param fresh: the lock already matched the manifest (nothing resolved).
    :param written: the file changed on disk.
    :param added/removed/changed: ``name==version`` strings; ``changed`` as ``(name, old, new)``.
    :param lock: the lock in effect afterwards (also when ``write=False`` kept it
        off the disk).
    :param pending: with ``write=False``: the file would have changed.
    """

    fresh: bool = False
    written: bool = False
    lock: LockFile | None = None
    pending: bool = False
    resolution: Resolution | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)


def root_requirements(project: Project) -> list[RootRequirement]:
    """The project's requirements with the lock markers that select them.

    Direct references (``name @ url``) stay as written; the resolver takes their one
    version from the URL. A requirement on the project itself (``all = ["myproj[yaml]"]``,
    ``dev = ["myproj[test]"]``) stands for the requirements of the extras it names, as
    pip and uv read it: those are required wherever it is, never a project of that name
    from an index.

    :raises ManifestError: when such a requirement names an extra the project lacks.
    """
    sources = project_sources(
        project.tool, project.pyproject, named_indexes(project.tool, project.pyproject)
    )

    def sourced(requirement: Requirement) -> Requirement:
        source = sources.get(canonicalize_name(requirement.name))
        if source is None or requirement.url is not None:
            return requirement
        return apply_source(requirement, source, project.root)

    members = workspace_members(project)
    member_names = {m.canonical_name for m in members}
    for name, source in sources.items():
        if source.kind == "workspace" and name not in member_names:
            raise ManifestError(
                f"[tool.shipyard.sources] {name} = {{ workspace = true }}, but no workspace "
                f"member is named {name!r} (members: {', '.join(sorted(member_names)) or 'none'}).",
                context=str(project.pyproject),
                hint="Add the member to [tool.shipyard.workspace] members, or fix the name.",
            )
    roots = [
        # Every member, editable from its directory: a requirement on a member anywhere
        # in the workspace gets this copy, never an index's.
        RootRequirement(
            requirement=Requirement(f"{member.name} @ {member.root.as_uri()}"),
            selector=None,
            origin=f"the workspace of {project.name}",
        )
        for member in members
    ]
    roots += [
        RootRequirement(requirement=sourced(r), selector=None, origin=project.name)
        for req in project.dependencies
        for r in _own_extras(project, req, "[project].dependencies")
    ]
    for extra, reqs in sorted(project.optional_dependencies.items()):
        roots.extend(
            RootRequirement(
                requirement=sourced(r),
                selector=f"'{extra}' in extras",
                origin=f"{project.name}[{extra}]",
            )
            for req in reqs
            for r in _own_extras(project, req, f"[project.optional-dependencies].{extra}")
        )
    for group, reqs in sorted(project.dependency_groups.items()):
        roots.extend(
            RootRequirement(
                requirement=sourced(r),
                selector=f"'{group}' in dependency_groups",
                origin=f"{project.name}'s dependency group '{group}'",
            )
            for req in reqs
            for r in _own_extras(project, req, f"[dependency-groups].{group}")
        )
    return roots


def _own_extras(
    project: Project, requirement: Requirement, where: str, seen: frozenset[str] = frozenset()
) -> list[Requirement]:
    """``requirement``, or when it names the project itself, the requirements of the
    extras it selects (recursively, each extra once), its marker and-ed into theirs."""
    if canonicalize_name(requirement.name) != project.canonical_name:
        return [requirement]
    result: list[Requirement] = []
    for extra in sorted({canonicalize_name(e) for e in requirement.extras}):
        if extra in seen:
            continue
        if extra not in project.optional_dependencies:
            raise ManifestError(
                f"{where} requires '{requirement}', but {project.name} has no extra '{extra}'.",
                context=str(project.pyproject),
                hint="Add it to [project.optional-dependencies], or fix the name "
                f"(extras: {', '.join(sorted(project.optional_dependencies)) or 'none'}).",
            )
        for child in project.optional_dependencies[extra]:
            combined = Requirement(str(child))
            if requirement.marker is not None:
                combined.marker = (
                    requirement.marker
                    if child.marker is None
                    else Marker(f"({child.marker}) and ({requirement.marker})")
                )
            result.extend(_own_extras(project, combined, where, seen | {extra}))
    return result


def make_repository(
    project: Project | None,
    services: Services,
    *,
    refresh: bool | frozenset[str] = False,
    interpreter: Interpreter | None = None,
    git_pins: Mapping[str, str] | None = None,
    variant_pins: Mapping[str, str] | None = None,
    targets: Sequence[TargetEnvironment] | None = None,
) -> IndexRepository:
    """The index repository of the settings' indexes; sdist metadata is built with
    ``interpreter``, else the project's, found only when an sdist is met.

    :param project: ``None`` only together with ``interpreter`` (``pip compile``).
    :param refresh: ``True`` or the canonical names whose index pages are fetched anew.
    :param git_pins: git direct reference (credentials removed) → the commit to keep.
    :param variant_pins: canonical name → index URL for an accelerator variant's
        packages (over the sources' own pins).
    :param targets: the lock's; an index with ``platforms`` is asked only for theirs.
    """
    from shipyard.project.building import BuilderFactory, git_source_urls
    from shipyard.project.platform_indexes import platform_indexes
    from shipyard.vcs.git import GitRepositories

    factory = BuilderFactory(project, services, interpreter)
    index_urls, pinned = project_indexes(project, services)
    pinned = {**pinned, **(variant_pins or {})}
    return IndexRepository(
        client=services.client,
        cache=services.cache,
        index_urls=index_urls,
        pinned=pinned,
        find_links=services.settings.find_links,
        joined=platform_indexes(project, targets),
        executor=services.executor,
        refresh=refresh,
        build_metadata=factory.metadata_for_sdist,
        speculate=True,
        git=GitRepositories(
            services.cache.bucket("git"),
            offline=services.settings.offline,
            credential_urls=git_source_urls(project) if project is not None else (),
        ),
        git_pins=git_pins,
    )


def _git_pins(lock: LockFile | None, upgrade: frozenset[str]) -> dict[str, str]:
    """The commits a lock holds for git sources, by the reference that asked for them
    (``git+<repository>[@<revision>][#subdirectory=…]``, credentials removed), except
    for the names being upgraded."""
    from shipyard.vcs.git import GitUrl

    pins: dict[str, str] = {}
    for package in lock.packages if lock is not None else ():
        vcs = package.get("vcs")
        name = canonicalize_name(str(package.get("name", "")))
        if not isinstance(vcs, Mapping) or vcs.get("type") != "git" or name in upgrade:
            continue
        reference = GitUrl(
            str(vcs.get("url", "")), vcs.get("requested-revision"), vcs.get("subdirectory")
        )
        if vcs.get("commit-id"):
            pins[str(reference)] = str(vcs["commit-id"])
    return pins


def _requested_revisions(roots: Sequence[RootRequirement]) -> dict[str, str]:
    """Canonical name → the revision a git requirement asks for (tag, branch or rev)."""
    from shipyard.vcs.git import GitUrl

    found: dict[str, str] = {}
    for root in roots:
        url = root.requirement.url
        if url and url.startswith("git+"):
            revision = GitUrl.parse(url).revision
            if revision:
                found[canonicalize_name(root.requirement.name)] = revision
    return found


def project_indexes(
    project: Project | None, services: Services
) -> tuple[list[str], dict[str, str]]:
    """The indexes asked, in order — ``--index``/``SHIPYARD_INDEX``, the project's named
    indexes that are not ``explicit``, then ``extra-index-urls``, then ``index-url`` (or
    the named index marked ``default``) — and the index pins of
    ``[tool.shipyard.sources]`` (canonical name → index URL).

    :raises ManifestError: for a malformed ``[[tool.shipyard.index]]`` or source.
    """
    settings = services.settings
    if project is None:
        extra = [url for _name, url in command_line_indexes(settings.indexes)]
        return list(dict.fromkeys([*extra, *settings.index_urls()])), {}
    indexes = named_indexes(project.tool, project.pyproject)
    sources = project_sources(project.tool, project.pyproject, indexes)
    by_name = {index.name: index for index in indexes}
    main = next((i.url for i in indexes if i.default), settings.index_url)
    ordered = [url for _name, url in command_line_indexes(settings.indexes)]
    ordered += [i.url for i in indexes if not (i.explicit or i.default or i.platforms)]
    ordered += [*settings.extra_index_urls, main]
    pinned = {
        name: by_name[source.target].url
        for name, source in sources.items()
        if source.kind == "index"
    }
    return list(dict.fromkeys(ordered)), pinned


def editable_sources(project: Project) -> frozenset[str]:
    """Canonical names of the ``path`` sources installed editable (PEP 660)."""
    sources = project_sources(
        project.tool, project.pyproject, named_indexes(project.tool, project.pyproject)
    )
    return frozenset(
        name for name, source in sources.items() if editable_by_default(source, project.root)
    ) | {member.canonical_name for member in workspace_members(project)}


def _preferences(
    lock: LockFile | None, skip: frozenset[str] | bool
) -> dict[str, tuple[Version, ...]]:
    """The versions the lock holds, per package (several where forks chose several),
    except those of ``skip`` (``True``: none)."""
    if lock is None or skip is True:
        return {}
    preferences: dict[str, set[Version]] = {}
    for package in lock.packages:
        name = canonicalize_name(str(package.get("name", "")))
        if not package.get("version") or (isinstance(skip, frozenset) and name in skip):
            continue
        try:
            version = Version(str(package["version"]))
        except InvalidVersion:
            continue
        preferences.setdefault(name, set()).add(version)
    return {name: tuple(sorted(found, reverse=True)) for name, found in preferences.items()}


def constraint_map(
    requirements: Iterable[Requirement],
) -> dict[str, tuple[tuple[SpecifierSet, str | None], ...]]:
    """Constraints (``[tool.shipyard] constraint-dependencies``, pip's ``-c``) as the
    resolver takes them: canonical name → (specifier, marker or ``None``) pairs."""
    found: dict[str, tuple[tuple[SpecifierSet, str | None], ...]] = {}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        marker = str(requirement.marker) if requirement.marker else None
        found[name] = (*found.get(name, ()), (requirement.specifier, marker))
    return found


_DEFAULT_OPTIONS = {
    "resolution": "highest",
    "fork-strategy": "requires-python",
    "prerelease": "if-necessary-or-explicit",
    "exclude-newer": "none",
}


def _recorded_options(lock: LockFile | None) -> Mapping[str, Any]:
    """The resolution options a lock records (``[tool.shipyard.options]``)."""
    return lock.options if lock is not None else {}


def _options_record(options: ResolveOptions) -> dict[str, Any]:
    """What a lock records of ``options``: only what differs from the defaults."""
    record: dict[str, Any] = {}
    if options.strategy != "highest":
        record["resolution"] = options.strategy
    if options.fork_strategy != "requires-python":
        record["fork-strategy"] = options.fork_strategy
    if options.prerelease != "if-necessary-or-explicit":
        record["prerelease"] = options.prerelease
    if options.exclude_newer is not None:
        record["exclude-newer"] = options.exclude_newer.isoformat()
    return record


def resolve_options(
    services: Services, lock: LockFile | None, overrides: Mapping[str, Any]
) -> ResolveOptions:
    """The resolver's options from the settings, the old lock's recorded options
    (``lock``, or ``None``) and this command's ``overrides`` (``resolution``,
    ``prerelease``, ``exclude_newer``; ``None`` values are ignored)."""
    recorded = _recorded_options(lock)
    s = services.settings
    strategy = overrides.get("resolution") or s.resolution
    if overrides.get("resolution") is None and s.resolution == "highest":
        strategy = recorded.get("resolution", strategy)
    fork_strategy = overrides.get("fork_strategy") or s.fork_strategy
    if overrides.get("fork_strategy") is None and s.fork_strategy == "requires-python":
        fork_strategy = recorded.get("fork-strategy", fork_strategy)
    prerelease = overrides.get("prerelease") or s.prerelease
    if overrides.get("prerelease") is None and s.prerelease == "if-necessary-or-explicit":
        prerelease = recorded.get("prerelease", prerelease)
    exclude_newer = (
        overrides.get("exclude_newer") or s.exclude_newer or recorded.get("exclude-newer")
    )
    return ResolveOptions(
        strategy=cast(ResolutionStrategy, strategy),
        fork_strategy=cast(ForkStrategy, fork_strategy),
        prerelease=cast(PrereleasePolicy, prerelease),
        exclude_newer=parse_datetime(str(exclude_newer)) if exclude_newer else None,
        no_binary=frozenset(canonicalize_name(n) if n != ":all:" else n for n in s.no_binary),
        only_binary=frozenset(canonicalize_name(n) if n != ":all:" else n for n in s.binary_only()),
    )


def lock_project(
    project: Project,
    services: Services,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    check: bool = False,
    resolution: str | None = None,
    fork_strategy: str | None = None,
    prerelease: str | None = None,
    exclude_newer: str | None = None,
    preferences: Mapping[str, Version] | None = None,
    write: bool = True,
) -> LockOutcome:
    """Bring ``pylock.toml`` up to date with the manifest.

    :param write: ``False`` resolves as usual but leaves the file as it is (``sync
        --dry-run``); the outcome carries the lock and whether it would change.

    :param preferences: canonical name → version to keep when it fits, over the lock's
        own pins (the pins of a lock file being imported); resolving is forced then.

    :param check: do not write; raise :class:`LockError` when the lock is stale.
    :raises ResolutionError, PackageNotFoundError, NoMatchingVersionError: when the
        requirements cannot be satisfied.
    :raises LockError: with ``check`` when the lock is missing or stale.
    """
    path = project.root / LOCK_FILENAME
    try:
        previous_lock: LockFile | None = read_lock(path)
    except LockError:
        if path.exists() and not check:
            previous_lock = None  # an unreadable lock is replaced
        elif path.exists():
            raise
        else:
            previous_lock = None
    overrides = {
        "resolution": resolution,
        "fork_strategy": fork_strategy,
        "prerelease": prerelease,
        "exclude_newer": exclude_newer,
    }
    forced = (
        upgrade
        or bool(upgrade_packages)
        or bool(preferences)
        or any(v is not None for v in overrides.values())
    )
    if not forced and lock_is_fresh(project, services, previous_lock):
        return LockOutcome(fresh=True, lock=previous_lock)
    if check:
        raise LockError(
            "The lock file is out of date with pyproject.toml."
            if previous_lock is not None
            else "There is no lock file.",
            context=str(path),
            hint="Run `shipyard lock` and commit the result.",
        )
    upgrade_names = frozenset(canonicalize_name(n) for n in upgrade_packages)
    if upgrade_names and previous_lock is not None:
        known = {canonicalize_name(name) for name in previous_lock.package_names()}
        unknown = sorted(upgrade_names - known)
        if unknown:
            raise UsageError(
                f"--upgrade-package names a package that is not in the lock: {', '.join(unknown)}.",
                hint="Check the spelling; only locked packages can be upgraded.",
            )
    options = resolve_options(services, previous_lock, overrides)
    previous = _recorded_options(previous_lock)
    current = _options_record(options)
    changed_options = sorted(
        key for key in set(previous) | set(current) if previous.get(key) != current.get(key)
    )
    if previous_lock is not None and changed_options:
        # The old pins were chosen under other rules: keeping them would keep their
        # answer (uv: "Ignoring existing lockfile due to change in resolution mode").
        described = ", ".join(
            f"{key} {previous.get(key, _DEFAULT_OPTIONS[key])} -> "
            f"{current.get(key, _DEFAULT_OPTIONS[key])}"
            for key in changed_options
        )
        services.reporter.notice(
            f"Ignoring the versions in {LOCK_FILENAME}: the resolution options changed "
            f"({described})."
        )
    drop_pins = upgrade or (previous_lock is not None and bool(changed_options))
    options = replace(
        options,
        preferences={
            **_preferences(previous_lock, True if drop_pins else upgrade_names),
            **{
                k: v
                for k, v in (preferences or {}).items()
                if k not in upgrade_names and not drop_pins
            },
        },
        constraints=constraint_map(project.constraint_dependencies),
    )
    environments = [str(e) for e in project.tool.get("environments", []) or []]
    members = workspace_members(project)
    requires_python = workspace_requires_python(project, members)
    targets = default_targets(requires_python, environments)
    conda_tool: dict[str, Any] | None = None
    conda = conda_config(project.tool, project.root)
    if conda is not None:
        targets, provided, conda_tool = lock_conda(
            project, services, conda, targets, None if upgrade else previous_lock
        )
        options = replace(options, provided=provided)
    roots = root_requirements(project)
    variants = accelerator_variants(
        project.tool, project.pyproject, named_indexes(project.tool, project.pyproject)
    )
    resolutions: list[tuple[Any, Resolution]] = []
    plans: list[tuple[Any, Mapping[str, Any]]] = list(variants) or [(None, {})]
    for _spec, variant_indexes in plans:
        repository = make_repository(
            project,
            services,
            refresh=True if upgrade else upgrade_names,
            git_pins={} if upgrade else _git_pins(previous_lock, upgrade_names),
            variant_pins={name: index.url for name, index in variant_indexes.items()},
            targets=targets,
        )
        resolved = resolve(
            roots,
            project_name=project.name,
            targets=targets,
            repository=repository,
            options=options,
            requires_python=requires_python,
            reporter=services.reporter,
        )
        resolved = attach_variant_metadata(resolved, repository, services.reporter)
        resolutions.append((_spec, _with_digests(resolved, repository)))
    result = resolutions[0][1]
    groups = sorted(project.dependency_groups)
    tool: dict[str, Any] = {
        "input-hash": project.input_hash(settings_inputs(services)),
        "targets": [t.name for t in result.targets],
    }
    recorded_options = _options_record(options)
    if recorded_options:
        tool["options"] = recorded_options
    if conda_tool is not None:
        tool["conda"] = conda_tool
    if variants:
        from shipyard.project.accelerator_locking import (
            merge_variants,
            variant_group,
            variants_record,
        )

        result = merge_variants([(spec, r) for (spec, r) in resolutions if spec is not None])
        groups = sorted({*groups, *(variant_group(spec) for spec, _i in variants[1:])})
        tool["accelerators"] = variants_record(variants)
    new_document = build_lock_document(
        result,
        requires_python=str(requires_python) if requires_python else None,
        extras=sorted(project.optional_dependencies),
        dependency_groups=groups,
        default_groups=project.default_groups,
        project=ProjectEntry(name=project.canonical_name) if project.has_build_system else None,
        tool=tool,
        environments=environments,
        base=project.root,
        editable=editable_sources(project),
        requested_revisions=_requested_revisions(roots),
    )
    if write:
        written, pending = write_lock(path, new_document), False
    else:
        written, pending = False, lock_differs(path, new_document)
    new_lock = LockFile.from_document(new_document, path)
    outcome = LockOutcome(written=written, resolution=result, lock=new_lock, pending=pending)
    outcome.added, outcome.removed, outcome.changed = lock_changes(previous_lock, new_lock)
    return outcome


def refresh_input_hash(project: Project, services: Services) -> None:
    """Record the current manifest's input hash in the existing lock, without resolving.

    Only for edits that keep the locked versions valid (``add`` writing a lower bound at
    the lowest locked version of a requirement it just added).
    """
    path = project.root / LOCK_FILENAME
    document = read_lock(path).to_dict()
    document["tool"]["shipyard"]["input-hash"] = project.input_hash(settings_inputs(services))
    write_lock(path, document)


def _with_digests(result: Resolution, repository: IndexRepository) -> Resolution:
    """Fill in the sha256 of files whose source gave none (find-links directories)."""
    packages = []
    for package in result.packages:
        files: tuple[DistFile, ...] = tuple(repository.file_digest(f) for f in package.files)
        packages.append(replace(package, files=files))
    return replace(result, packages=tuple(packages))
