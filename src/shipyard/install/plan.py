"""Plans are data: what a sync will install, replace and remove, computed before acting.

:func:`compute_plan` compares the distributions selected from the lock with the
ones installed in the environment. ``sync --dry-run`` shows the plan and stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.install.installed import InstalledDistribution
from shipyard.lock.pylock import LockedDistribution

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


def compute_plan(
    selected: Sequence[LockedDistribution],
    installed: Iterable[InstalledDistribution],
    *,
    exact: bool = True,
    protected: frozenset[str] = frozenset(),
    reinstall_all: bool = False,
) -> Plan:
    """Compare the lock's selection with an environment.

    :param exact: remove what the lock does not select (``sync --inexact`` turns it off).
    :param protected: canonical names never removed (e.g. the environment's own seed
        packages such as ``pip`` when the user installed it on purpose — empty by default).
    :param reinstall_all: treat every selected distribution as changed.
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
        elif (
            reinstall_all
            or locked.directory is not None
            or not _same_version(current.version, locked.version)
        ):
            # Directory (editable) packages are rebuilt each time their sync runs for real:
            # their metadata may have changed with the source tree.
            plan.reinstall.append((current, locked))
        else:
            plan.unchanged.append(current)
    if exact:
        plan.remove.extend(dist for name, dist in sorted(by_name.items()) if name not in protected)
        plan.remove.extend(duplicates)
    plan.install.sort(key=lambda d: d.name)
    plan.reinstall.sort(key=lambda pair: pair[1].name)
    return plan
