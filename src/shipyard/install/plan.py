"""Plans are data: what a sync will install, replace and remove, computed before acting.

:func:`compute_plan` compares the distributions selected from the lock with the
ones installed in the environment (for wheel variants, PEP 825 draft, also which
variant: the label in ``.dist-info/variant.json``). ``sync --dry-run`` shows the plan and stops.
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
    :param installed_variants: canonical name → the wheel variant label (PEP 825 draft)
        installed now, for the installed wheel variants the plan compared.
    """

    install: list[LockedDistribution] = field(default_factory=list)
    reinstall: list[tuple[InstalledDistribution, LockedDistribution]] = field(default_factory=list)
    remove: list[InstalledDistribution] = field(default_factory=list)
    unchanged: list[InstalledDistribution] = field(default_factory=list)
    installed_variants: dict[str, str] = field(default_factory=dict)

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

    def variant_of(self, dist: LockedDistribution | InstalledDistribution) -> str | None:
        """The wheel variant label (PEP 825 draft) of a selected wheel, or of an
        installed distribution as the plan found it; ``None`` for anything else."""
        if isinstance(dist, InstalledDistribution):
            return self.installed_variants.get(canonicalize_name(dist.name))
        if not dist.is_wheel or dist.filename is None:
            return None
        from shipyard.index.variant_files import variant_label

        return variant_label(dist.filename)


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


def _installed_label(current: InstalledDistribution) -> str | None:
    """The label of the wheel variant installed (its ``.dist-info/variant.json`` lists
    exactly that one, PEP 825); ``None`` for a plain wheel (no such file)."""
    import json

    try:
        document = json.loads((current.dist_info / "variant.json").read_bytes())
        labels = list(document["variants"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(labels[0]) if len(labels) == 1 else None


def _other_variant(current: InstalledDistribution, locked: LockedDistribution, plan: Plan) -> bool:
    """Whether the lock's wheel for this machine is another wheel variant (or the plain
    wheel instead of a variant) than the one installed: same version, other build. The
    installed label is noted in ``plan``."""
    if not locked.is_wheel or locked.direct:
        return False
    installed = _installed_label(current)
    if installed is not None:
        plan.installed_variants[locked.name] = installed
    return plan.variant_of(locked) != installed


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
            or _other_variant(current, locked, plan)
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
