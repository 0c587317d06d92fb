"""Plans are data: what a sync will install, replace and remove, computed before acting.

:func:`compute_plan` compares the distributions selected from the lock with the
ones installed in the environment. ``sync --dry-run`` shows the plan and stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.install.installed import InstalledDistribution
from shipyard.models import LockedDistribution

__all__ = ["Plan", "compute_plan"]


@dataclass(slots=True, kw_only=True)
class Plan:
    """What a sync does.

    :param install: selected but not installed.
    :param reinstall: installed at another version (or from another source): ``(old, new)``.
    :param remove: installed but not selected (only in exact mode).
    :param unchanged: already as the lock says.
    """

    install: list[LockedDistribution] = field(default_factory=list)
    reinstall: list[tuple[InstalledDistribution, LockedDistribution]] = field(default_factory=list)
    remove: list[InstalledDistribution] = field(default_factory=list)
    unchanged: list[InstalledDistribution] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the environment already matches."""
        return not (self.install or self.reinstall or self.remove)

    def to_add(self) -> list[LockedDistribution]:
        """Everything that will be placed into the environment."""
        return [*self.install, *(new for _old, new in self.reinstall)]

    def to_remove(self) -> list[InstalledDistribution]:
        """Everything that will be taken out of the environment."""
        return [*self.remove, *(old for old, _new in self.reinstall)]


def _same_version(installed: str, locked: str | None) -> bool:
    if locked is None:
        return False
    try:
        return Version(installed) == Version(locked)
    except InvalidVersion:
        return installed == locked


def _same_commit(current: InstalledDistribution, locked: LockedDistribution) -> bool:
    """A git package is current when PEP 610's ``vcs_info`` names the locked commit."""
    data = current.direct_url or {}
    vcs_info = data.get("vcs_info") or {}
    commit = (locked.url or "").partition("#")[0].rpartition("@")[2]
    return bool(commit) and vcs_info.get("commit_id") == commit


def _directory_current(
    current: InstalledDistribution, locked: LockedDistribution, base: Path
) -> bool:
    """An editable/directory install is current when it points at the same directory and
    is newer than that directory's pyproject.toml (whose edits change its metadata)."""
    if locked.directory is None:
        return False
    source = (base / locked.directory).resolve()
    data = current.direct_url or {}
    if data.get("url") != source.as_uri():
        return False
    if bool((data.get("dir_info") or {}).get("editable")) != locked.editable:
        return False
    try:
        installed_at = (current.dist_info / "METADATA").stat().st_mtime_ns
        changed_at = (source / "pyproject.toml").stat().st_mtime_ns
    except OSError:
        return False
    return installed_at > changed_at


def compute_plan(
    selected: Sequence[LockedDistribution],
    installed: Iterable[InstalledDistribution],
    *,
    exact: bool = True,
    protected: frozenset[str] = frozenset(),
    reinstall_all: bool = False,
    base: Path | None = None,
) -> Plan:
    """Compare the lock's selection with an environment.

    :param exact: remove what the lock does not select (``sync --inexact`` turns it off).
    :param protected: canonical names never removed (e.g. the environment's own seed
        packages such as ``pip`` when the user installed it on purpose — empty by default).
    :param reinstall_all: treat every selected distribution as changed.
    :param base: the lock's directory, against which ``directory`` packages resolve.
    """
    plan = Plan()
    by_name: dict[str, InstalledDistribution] = {}
    duplicates: list[InstalledDistribution] = []
    for dist in installed:
        name = canonicalize_name(dist.name)
        if name in by_name:
            duplicates.append(dist)
        else:
            by_name[name] = dist
    for locked in selected:
        current = by_name.pop(locked.name, None)
        if current is None:
            plan.install.append(locked)
        elif locked.directory is not None:
            if not reinstall_all and _directory_current(current, locked, base or Path.cwd()):
                plan.unchanged.append(current)
            else:
                plan.reinstall.append((current, locked))
        elif (
            reinstall_all
            or not _same_version(current.version, locked.version)
            or (locked.vcs and not _same_commit(current, locked))
            or (
                locked.direct
                and not locked.vcs
                and (current.direct_url or {}).get("url") != locked.url
            )
            or not (current.dist_info / "RECORD").is_file()  # an install cut short
        ):
            plan.reinstall.append((current, locked))
        else:
            plan.unchanged.append(current)
    if exact:
        plan.remove.extend(dist for name, dist in sorted(by_name.items()) if name not in protected)
        plan.remove.extend(duplicates)
    plan.install.sort(key=lambda d: d.name)
    plan.reinstall.sort(key=lambda pair: pair[1].name)
    return plan
