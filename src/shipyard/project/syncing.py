"""The ``sync`` use case: make ``.venv`` exactly what the lock selects for it.

Steps: re-lock when the manifest changed (unless ``--frozen``), make sure the
environment exists, select from the lock for its interpreter (PEP 751,
``packaging.pylock``), compute the :class:`~shipyard.install.plan.Plan`, stop
there for ``--dry-run``, then prepare every wheel in the cache (parallel:
download, verify, unpack; build sdists and the project), remove what goes,
link what comes, and write the stamp that lets the next no-op sync return at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from packaging.utils import canonicalize_name

from shipyard.errors import LockError
from shipyard.install.plan import Plan, compute_plan
from shipyard.lock.pylock import LOCK_FILENAME, read_lock, select_from_lock
from shipyard.lock.variant_selection import has_variant_wheels
from shipyard.lock.variant_selection import host_key as _host_key
from shipyard.models import Interpreter, LockedDistribution, LockFile
from shipyard.project.environment import (
    VENV_DIRNAME,
    ensure_environment,
    plan_environment,
    stand_in_interpreter,
)
from shipyard.project.freshness import lock_is_fresh
from shipyard.project.manifest import Project, group_names
from shipyard.project.services import Services
from shipyard.project.sources import path_source_manifests
from shipyard.project.stamp import clear_stamp, write_stamp

if TYPE_CHECKING:
    from shipyard.accelerators import HostAccelerator
    from shipyard.install.wheel import LinkMode
    from shipyard.project.building import BuilderFactory
    from shipyard.project.locking import LockOutcome
    from shipyard.venv import VirtualEnvironment

__all__ = [
    "Selection",
    "SyncOutcome",
    "apply_plan",
    "finish_interrupted_installs",
    "sync_project",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which parts of the lock to install.

    :param groups: dependency groups asked for with ``--group``.
    :param all_groups: every group. :param no_default_groups: leave out the defaults.
    :param extras: extras; :param all_extras: every extra.
    :param exact: remove what is not selected (``--inexact`` turns it off).
    :param install_project: install the project itself (``--no-install-project`` turns
        it off: dependencies only, as a container build's first layer wants).
    :param editable: install directory packages editable as locked (``--no-editable``
        installs them as ordinary wheels, so the environment does not need the source).
    :param install_local: install local directories (path sources, workspace
        members, the project); ``--no-install-local`` leaves them out, as the first
        layer of a container build wants before the sources are copied in.
    :param packages: workspace members (``--package``): install only these and what
        they require, as the lock's dependency lists say.
    """

    groups: tuple[str, ...] = ()
    all_groups: bool = False
    no_default_groups: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    exact: bool = True
    install_project: bool = True
    install_local: bool = True
    editable: bool = True
    packages: tuple[str, ...] = ()

    def key(self) -> dict[str, Any]:
        """A JSON-able form for the environment stamp."""
        return {
            "groups": sorted(self.groups),
            "all_groups": self.all_groups,
            "no_default_groups": self.no_default_groups,
            "extras": sorted(self.extras),
            "all_extras": self.all_extras,
            "exact": self.exact,
            "install_project": self.install_project,
            "install_local": self.install_local,
            "editable": self.editable,
            "packages": sorted(self.packages),
        }

    def resolve_groups(self, project: Project) -> list[str]:
        """The group names to install, validated against the project."""
        if self.all_groups:
            return sorted(project.dependency_groups)
        chosen = [] if self.no_default_groups else list(project.default_groups)
        chosen.extend(group_names(project, self.groups))
        return sorted(set(chosen))

    def resolve_extras(self, project: Project) -> list[str]:
        """The extras to install, validated against the project."""
        from shipyard.errors import ManifestError

        if self.all_extras:
            return sorted(project.optional_dependencies)
        result = []
        for extra in self.extras:
            name = canonicalize_name(extra)
            if name not in project.optional_dependencies:
                import difflib

                known = sorted(project.optional_dependencies)
                listing = ", ".join(known) or "none"
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                guess = f"Did you mean {close[0]!r}? " if close else ""
                raise ManifestError(
                    f"The project has no extra {extra!r} (it has: {listing}).",
                    context=str(project.pyproject),
                    hint=f"{guess}Add it under [project.optional-dependencies] or check the "
                    "spelling.",
                )
            result.append(name)
        return sorted(set(result))


@dataclass(slots=True, kw_only=True)
class SyncOutcome:
    """What ``sync`` did (or, with ``dry_run``, would do)."""

    lock: LockOutcome | None = None
    plan: Plan = field(default_factory=Plan)
    env_root: Path | None = None
    env_created: bool = False
    #: the environment is (or would be) made again on another interpreter: why
    env_rebuild_reason: str = ""
    #: a dry run: the managed CPython build a real sync downloads first
    python_download: str = ""
    prepare_seconds: float = 0.0
    install_seconds: float = 0.0
    dry_run: bool = False
    #: the environment is a conda prefix; how many conda packages this sync installed
    conda: bool = False
    conda_installed: int = 0
    #: a lock with accelerator variants: the variant chosen and why
    accelerator: tuple[str, str] | None = None


def _requested_names(project: Project, groups: Sequence[str], extras: Sequence[str]) -> set[str]:
    names: set[str] = {canonicalize_name(r.name) for r in project.dependencies}
    for extra in extras:
        names |= {canonicalize_name(r.name) for r in project.optional_dependencies.get(extra, ())}
    for group in groups:
        names |= {canonicalize_name(r.name) for r in project.dependency_groups.get(group, ())}
    return names


def sync_project(
    project: Project,
    services: Services,
    selection: Selection,
    *,
    frozen: bool = False,
    dry_run: bool = False,
    link_mode: str | None = None,
    accelerator: str | None = None,
) -> SyncOutcome:
    """Sync the project's ``.venv`` to its lock.

    :param frozen: install exactly what ``pylock.toml`` says; never resolve (a stale
        lock is used as is, a missing one is an error).
    :param accelerator: ``--accelerator`` (``cpu``, ``cuda12.4``): the variant of a lock
        with accelerator variants to install, instead of the one detection picks.
    :raises LockError: with ``frozen`` when there is no lock.
    :raises ShipyardError: from locking, downloading, building or installing.
    """
    outcome = SyncOutcome(dry_run=dry_run)
    groups = selection.resolve_groups(project)
    extras = selection.resolve_extras(project)
    lock_path = project.root / LOCK_FILENAME
    lockfile: LockFile | None = None
    # A dry run reads the lock without keeping its parse in the cache.
    lock_cache = None if dry_run else services.cache
    if not frozen:
        try:
            lockfile = read_lock(lock_path, lock_cache)
        except LockError:
            lockfile = None
        if not lock_is_fresh(project, services, lockfile):
            from shipyard.project.locking import lock_project

            # A dry run resolves but keeps the file as it is: the plan says "would lock".
            outcome.lock = lock_project(project, services, write=not dry_run)
            lockfile = outcome.lock.lock if dry_run else None
    if lockfile is None:
        lockfile = read_lock(lock_path, lock_cache)
    from shipyard.install.installed import iter_installed
    from shipyard.venv import inspect_venv

    env_root = project.root / VENV_DIRNAME
    conda_table = lockfile.conda
    conda_owned: dict[str, str] = {}
    if conda_table:
        interpreter, venv, conda_owned = _conda_environment(
            project, services, conda_table, outcome, dry_run=dry_run, path=lock_path
        )
    elif dry_run:
        # Show what a sync would do without creating or rebuilding the environment.
        planned = plan_environment(project, services, dry_run=True)
        interpreter = planned.interpreter
        outcome.env_root, outcome.env_created = planned.root, planned.action != "keep"
        outcome.env_rebuild_reason = planned.reason
        outcome.python_download = planned.download
        venv = inspect_venv(env_root) if planned.action == "keep" else None
    else:
        env = ensure_environment(project, services)
        outcome.env_root, outcome.env_created = env.root, env.created
        interpreter = env.interpreter
        venv = inspect_venv(env.root)
        assert venv is not None
    variants = lockfile.accelerator_variants()
    if variants:
        from shipyard.accelerators import choose_locked_variant

        key, group, reason = choose_locked_variant(variants, accelerator)
        outcome.accelerator = (key, reason)
        if group is not None:
            groups = sorted({*groups, group})
    variant_host = _variant_host(lockfile, accelerator)
    selected = select_from_lock(
        lockfile,
        environment=interpreter.markers,
        tags=interpreter.tags,
        extras=extras,
        dependency_groups=groups,
        no_binary=frozenset(
            n if n == ":all:" else canonicalize_name(n) for n in services.settings.no_binary
        ),
        cache=None if dry_run else services.cache,
        variant_host=variant_host,
    )
    if selection.packages:
        wanted = _closure(lockfile, _member_names(project, selection.packages))
        selected = [d for d in selected if d.name in wanted]
    if not selection.install_project:
        selected = [d for d in selected if not _is_the_project(d, project)]
    if not selection.install_local:
        selected = [d for d in selected if d.directory is None]
    if not selection.editable:
        selected = [replace(d, editable=False) if d.editable else d for d in selected]
    if venv is not None and not dry_run:
        finish_interrupted_installs(venv)
    installed = (
        list(iter_installed(sorted({venv.site_packages, venv.platlib}))) if venv is not None else []
    )
    if conda_owned:
        # Distributions the conda packages installed are theirs: never removed or
        # replaced by the PyPI side, and they satisfy the lock's entry of that name.
        owned_names = set()
        assert venv is not None
        kept = []
        for dist in installed:
            relative = dist.dist_info.relative_to(venv.root).as_posix()
            if relative in conda_owned:
                owned_names.add(canonicalize_name(dist.name))
            else:
                kept.append(dist)
        installed = kept
        selected = [d for d in selected if d.name not in owned_names]
    plan = compute_plan(selected, installed, exact=selection.exact, base=project.root)
    outcome.plan = plan
    if dry_run or venv is None:
        return outcome
    if not plan.empty:
        clear_stamp(venv.root)
        from shipyard.project.building import BuilderFactory

        apply_plan(
            plan,
            services,
            venv,
            interpreter,
            factory=BuilderFactory(project, services, interpreter),
            base=project.root,
            requested=_requested_names(project, groups, extras),
            link_mode=link_mode or services.settings.link_mode,
            outcome=outcome,
        )
    (venv.site_packages / "__pycache__").mkdir(exist_ok=True)
    write_stamp(
        project.root,
        venv.root,
        selection.key(),
        packages=len(selected),
        watched=path_source_manifests(project),
        accelerator=(
            {"variants": [list(v) for v in variants], "chosen": outcome.accelerator[0]}
            if variants and outcome.accelerator
            else None
        ),
        wheel_variants=_host_key(variant_host) if has_variant_wheels(lockfile) else None,
    )
    _prepare_activation(project, services, venv.root)
    return outcome


def _prepare_activation(project: Project, services: Services, env_root: Path) -> None:
    """Work out and cache the environment's activation now, so the next ``run`` takes
    its fast path at once. A failing activate.d script or a bad ``env-file`` is not
    this sync's error: ``run`` reports it when it needs the activation."""
    from shipyard.errors import ShipyardError
    from shipyard.project.activation import load_activation

    try:
        load_activation(env_root, project=project, cache_root=services.cache.root)
    except (ShipyardError, OSError):
        pass


def _variant_host(lockfile: LockFile, accelerator: str | None) -> HostAccelerator | None:
    """This machine's accelerators (``--accelerator`` over detection) when the lock
    has wheel variants (PEP 825 draft) to choose among; ``None`` otherwise.

    :raises UsageError: for an invalid override or ``CONDA_OVERRIDE_CUDA``.
    """
    if not has_variant_wheels(lockfile):
        return None
    from shipyard.accelerators import detect_host

    return detect_host(accelerator)


def _member_names(project: Project, names: Sequence[str]) -> list[str]:
    """``names`` as canonical names of the workspace's projects (the root or a member).

    :raises UsageError: for a name that is neither.
    """
    from shipyard.errors import UsageError
    from shipyard.project.workspace import workspace_members

    known = {project.canonical_name, *(m.canonical_name for m in workspace_members(project))}
    result: list[str] = [canonicalize_name(n) for n in names]
    unknown = [n for n in result if n not in known]
    if unknown:
        raise UsageError(
            f"--package names no project of this workspace: {', '.join(unknown)}.",
            hint=f"The workspace's projects: {', '.join(sorted(known))}.",
        )
    return result


def _closure(lockfile: LockFile, names: Sequence[str]) -> set[str]:
    """``names`` and everything they require, following the lock's ``dependencies``."""
    requires: dict[str, set[str]] = {}
    for package in lockfile.packages:
        name: str = canonicalize_name(str(package.get("name", "")))
        deps = package.get("dependencies") or []
        requires.setdefault(name, set()).update(
            canonicalize_name(str(d.get("name", ""))) for d in deps if isinstance(d, dict)
        )
    found: set[str] = set()
    pending: list[str] = list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(requires.get(name, ()))
    return found


def _is_the_project(dist: LockedDistribution, project: Project) -> bool:
    """True for the lock's entry of the project itself (its ``directory`` is the root)."""
    if dist.directory is None or dist.name != project.canonical_name:
        return False
    return (project.root / dist.directory).resolve() == project.root.resolve()


def finish_interrupted_installs(venv: VirtualEnvironment) -> None:
    """Complete the removals and drop the half-made installs a killed sync left in
    ``venv`` (see :func:`~shipyard.install.uninstall.finish_interrupted`), before anything
    reads what is installed."""
    from shipyard.install.uninstall import finish_interrupted

    for site_packages in sorted({venv.site_packages, venv.platlib}):
        finish_interrupted(site_packages, env_root=venv.root)


def apply_plan(
    plan: Plan,
    services: Services,
    venv: VirtualEnvironment,
    interpreter: Interpreter,
    *,
    factory: BuilderFactory,
    base: Path,
    requested: set[str],
    link_mode: str,
    outcome: SyncOutcome,
) -> None:
    """Carry out ``plan`` in ``venv`` with the one
    :class:`~shipyard.install.installer.Installer` (building with ``factory``).

    :param base: the directory ``directory`` packages are relative to (the lock's).
    :param requested: canonical names to mark as requested (PEP 376 ``REQUESTED``).
    :param link_mode: ``hardlink``, ``copy``, ``symlink`` or ``clone``.
    :param outcome: receives the prepare and install times (seconds).
    :raises ShipyardError: from downloading, verifying, building or installing.
    """
    times = factory.installer(interpreter.tags[0]).install(
        plan,
        venv.scheme(),
        base=base,
        requested=requested,
        link_mode=cast("LinkMode", link_mode),
    )
    outcome.prepare_seconds = times.prepare_seconds
    outcome.install_seconds = times.install_seconds


def _conda_environment(
    project: Project,
    services: Services,
    table: Any,
    outcome: SyncOutcome,
    *,
    dry_run: bool,
    path: Path,
) -> tuple[Interpreter, Any, dict[str, str]]:
    """The conda prefix for this machine's platform from the lock's conda records.

    :returns: the interpreter (probed, or for a dry run without a prefix a stand-in
        with the locked Python's markers and tags), the install layout (``None`` when
        dry-running without a prefix) and the conda-owned ``.dist-info`` paths.
    :raises LockError: when the lock has no conda records for this platform.
    """
    from shipyard.conda.pypi import conda_owned_distributions
    from shipyard.conda.records import platform_records
    from shipyard.conda.solve import host_platform
    from shipyard.project.environment import conda_environment_layout, ensure_conda_environment

    records = platform_records(table, host_platform(), str(path))
    outcome.conda = True
    env = ensure_conda_environment(project, services, records, dry_run=dry_run)
    if env is None:
        outcome.env_root, outcome.env_created = project.root / VENV_DIRNAME, True
        outcome.conda_installed = len(records)
        from shipyard.conda.pypi import python_record

        record = python_record(records)
        version = record.version if record is not None else "3"
        return stand_in_interpreter(version, project.root / VENV_DIRNAME), None, {}
    outcome.env_root, outcome.env_created = env.root, env.created
    outcome.conda_installed = env.conda_installed
    return (
        env.interpreter,
        conda_environment_layout(env.interpreter),
        (conda_owned_distributions(env.root)),
    )
