"""The ``upgrade`` use case: move the project's requirements up to what is locked.

``upgrade [NAME…]`` re-locks with the pins of those requirements dropped (all of
them when no name is given: ``lock --upgrade``), then raises each requirement's
lower bound in pyproject.toml to the version now locked, as uv's most-asked-for
feature (astral-sh/uv#6794) would: ``pandas>=2.0`` becomes ``pandas>=2.2.3``, a bare
``pandas`` gets ``>=2.2.3``, ``~=2.0`` becomes ``~=2.2`` (its precision kept). Upper
bounds, markers, extras, comments, quoting and order stay as written; ``==`` pins are
left alone. With ``latest``, the bounds that keep out the newest release on the
index are lifted first (``<2`` dropped, ``~=1.4`` → ``~=2.1``; a pin moves only when
its package is named), then the same re-lock and bump follow.

pyproject.toml is edited through :class:`ManifestEditor` (tomlkit); when any step
fails — resolution, download, install, Ctrl-C — pyproject.toml and pylock.toml are
put back byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.atomic import atomic_write_bytes
from shipyard.errors import LockError, ManifestError
from shipyard.lock.pylock import LOCK_FILENAME, read_lock, write_lock
from shipyard.models import LockFile
from shipyard.project.freshness import settings_inputs
from shipyard.project.locking import LockOutcome, lock_project
from shipyard.project.manifest import Project, load_project
from shipyard.project.manifest_editor import ManifestEditor
from shipyard.project.services import Services
from shipyard.project.syncing import Selection, SyncOutcome, sync_project

__all__ = [
    "RequirementChange",
    "UpgradeOutcome",
    "bump_requirement",
    "lift_requirement",
    "upgrade_requirements",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequirementChange:
    """One requirement rewritten in pyproject.toml.

    :param name: the canonical name. :param where: ``"dependencies"``, ``"extra
        plots"`` or ``"group dev"``.
    :param old: the requirement as it was written; :param new: as it is now.
    """

    name: str
    where: str
    old: str
    new: str

    @property
    def old_specifier(self) -> str:
        """The old version specifier as written (``""`` for none)."""
        return _RequirementText(self.old).specifier_text()

    @property
    def new_specifier(self) -> str:
        """The new version specifier as written."""
        return _RequirementText(self.new).specifier_text()


@dataclass(slots=True, kw_only=True)
class UpgradeOutcome:
    """What ``upgrade`` did (or, with ``dry_run``, would do).

    :param changes: the requirements rewritten, in manifest order.
    :param kept: notes on requirements left as they were (``==`` pins, path sources).
    :param lock: the re-lock (in memory for a dry run).
    :param sync: the sync, unless ``no_sync`` or ``dry_run``.
    """

    changes: list[RequirementChange] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    lock: LockOutcome | None = None
    sync: SyncOutcome | None = None
    dry_run: bool = False


# -- requirement text ------------------------------------------------------------------

_HEAD = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\s*\[[^\]]*\])?")
_CLAUSE = re.compile(r"(===|~=|==|!=|<=|>=|<|>)(\s*)([^\s,;()]+)")


class _RequirementText:
    """A PEP 508 requirement string cut into name, specifier clauses and the rest, so
    clauses can change while everything else stays as the user wrote it."""

    def __init__(self, text: str) -> None:
        head = _HEAD.match(text)
        end = head.end() if head else 0
        semicolon = text.find(";", end)
        stop = semicolon if semicolon >= 0 else len(text)
        region = text[end:stop]
        self.head = text[:end]
        self.tail = text[stop:]
        self.url = region.lstrip().startswith("@")
        stripped = region.strip()
        self.lead = region[: len(region) - len(region.lstrip())]
        self.trail = region[len(region.rstrip()) :]
        self.region = region
        self.paren = stripped.startswith("(") and stripped.endswith(")")
        inner = stripped[1:-1] if self.paren else stripped
        self.separator = ", " if ", " in inner else ","
        self.clauses = [c.strip() for c in inner.split(",")] if inner.strip() else []

    def specifier_text(self) -> str:
        """The specifier as written, without parentheses."""
        return self.separator.join(self.clauses)

    def render(self, clauses: Sequence[str]) -> str:
        """The requirement with ``clauses`` as its specifier."""
        inner = self.separator.join(clauses)
        if not inner:
            gap = " " if self.tail and (self.region or self.head.endswith(" ")) else ""
            return self.head + gap + self.tail.lstrip()
        if not self.clauses:  # there was no specifier: put it right after the name
            return self.head + inner + self.region + self.tail
        spec = f"({inner})" if self.paren else inner
        return self.head + self.lead + spec + self.trail + self.tail


def _parts(clause: str) -> tuple[str, str, str] | None:
    """(operator, spacing, version) of one clause, or ``None`` when it is not one."""
    found = _CLAUSE.fullmatch(clause)
    return (found.group(1), found.group(2), found.group(3)) if found else None


def _precise(version: Version, parts: int) -> str:
    """``version``'s release cut (or padded with zeros) to ``parts`` numbers."""
    release = list(version.release[:parts]) + [0] * max(0, parts - len(version.release))
    text = ".".join(str(n) for n in release)
    return f"{version.epoch}!{text}" if version.epoch else text


def _release_length(text: str) -> int:
    try:
        return len(Version(text.removesuffix(".*")).release)
    except InvalidVersion:
        return 0


def bump_requirement(text: str, version: Version) -> tuple[str, bool]:
    """Raise the lower bound of requirement ``text`` to ``version``.

    ``>=X``/``>X`` become ``>=version`` when ``version`` is higher; ``~=X.Y`` becomes
    ``~=`` ``version`` at the same precision; a requirement with no lower bound gets
    ``>=version`` in front of its other clauses. ``==``/``===`` pins, ``!=``, upper
    bounds, extras and the marker are kept as written.

    :param text: a PEP 508 requirement string as written in pyproject.toml.
    :param version: a version the requirement already admits (the locked one).
    :returns: the new text (``text`` itself when nothing moves or the result would not
        admit ``version``) and whether a ``==`` pin held it.
    """
    parsed = _RequirementText(text)
    if parsed.url:
        return text, False
    clauses: list[str] = []
    lower = pinned = False
    for clause in parsed.clauses:
        parts = _parts(clause)
        if parts is None:
            clauses.append(clause)
            continue
        op, space, value = parts
        try:
            bound = Version(value.removesuffix(".*"))
        except InvalidVersion:
            clauses.append(clause)
            continue
        if op in (">=", ">"):
            lower = True
            clauses.append(f">={space}{version}" if version > bound else clause)
        elif op == "~=":
            lower = True
            raised = _precise(version, max(2, _release_length(value)))
            clauses.append(f"~={space}{raised}" if Version(raised) > bound else clause)
        elif op in ("==", "===") and not value.endswith(".*"):
            lower = pinned = True
            clauses.append(clause)
        else:
            lower = lower or op == "=="  # ``==2.*`` bounds from below too
            clauses.append(clause)
    if not lower:
        clauses.insert(0, f">={version}")
    new = parsed.render(clauses)
    return (new if new != text and _admits(new, version) else text), pinned


def lift_requirement(text: str, latest: Version, *, move_pins: bool) -> tuple[str, bool]:
    """Drop or widen the clauses of requirement ``text`` that keep out ``latest``.

    ``<``/``<=`` bounds below it go; ``~=1.4`` becomes ``~=2.1`` and ``==1.*`` becomes
    ``==2.*`` (precision kept); a ``==`` pin becomes ``==latest`` only with
    ``move_pins``; ``!=`` exclusions stay.

    :returns: the new text and whether a pin kept ``latest`` out.
    """
    parsed = _RequirementText(text)
    if parsed.url:
        return text, False
    clauses: list[str] = []
    pinned = False
    for clause in parsed.clauses:
        parts = _parts(clause)
        try:
            holds = parts is None or Specifier(clause).contains(latest, prereleases=True)
        except InvalidSpecifier:
            holds = True
        if holds or parts is None:
            clauses.append(clause)
            continue
        op, space, value = parts
        if op in ("<", "<="):
            continue
        if op == "~=":
            clauses.append(f"~={space}{_precise(latest, max(2, _release_length(value)))}")
        elif op == "==" and value.endswith(".*"):
            clauses.append(f"=={space}{_precise(latest, _release_length(value))}.*")
        elif op in ("==", "===") and move_pins:
            clauses.append(f"{op}{space}{latest}")
        else:
            pinned = pinned or op in ("==", "===")
            clauses.append(clause)
    new = parsed.render(clauses)
    return (new if _parses(new) else text), pinned


def _parses(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def _admits(text: str, version: Version) -> bool:
    try:
        return Requirement(text).specifier.contains(version, prereleases=True)
    except InvalidRequirement:
        return False


# -- the manifest's requirement lists ------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _Entry:
    """One requirement string of pyproject.toml and where it sits."""

    array: Any
    index: int
    where: str
    text: str
    requirement: Requirement
    working: str = ""


def _entries(document: Any, project: Project) -> list[_Entry]:
    """Every requirement string of ``[project].dependencies``, the extras and the
    dependency groups, in manifest order (``include-group`` tables skipped)."""
    arrays: list[tuple[str, Any]] = []
    table = document.get("project")
    if table is not None:
        if isinstance(table.get("dependencies"), list):
            arrays.append(("dependencies", table["dependencies"]))
        optional = table.get("optional-dependencies")
        for extra, array in optional.items() if optional is not None else ():
            if isinstance(array, list):
                arrays.append((f"extra {canonicalize_name(extra)}", array))
    groups = document.get("dependency-groups")
    for group, array in groups.items() if groups is not None else ():
        if isinstance(array, list):
            arrays.append((f"group {canonicalize_name(group)}", array))
    found: list[_Entry] = []
    for where, array in arrays:
        for index, item in enumerate(array):
            if not isinstance(item, str):
                continue
            try:
                requirement = Requirement(str(item))
            except InvalidRequirement:
                continue  # reading the manifest reports it; nothing to upgrade here
            if canonicalize_name(requirement.name) == project.canonical_name:
                continue
            found.append(
                _Entry(
                    array=array,
                    index=index,
                    where=where,
                    text=str(item),
                    requirement=requirement,
                    working=str(item),
                )
            )
    return found


def _string_like(item: Any, text: str) -> Any:
    """``text`` as a tomlkit string quoted as ``item`` was (literal or basic)."""
    import tomlkit
    from tomlkit.items import String, StringType

    if not isinstance(item, String):
        return text
    literal = item.type in (StringType.SLL, StringType.MLL) and "'" not in text
    multiline = item.type in (StringType.MLB, StringType.MLL)
    return tomlkit.string(text, literal=literal, multiline=multiline)


def _with_requirements(project: Project, texts: Mapping[str, str]) -> Project:
    """``project`` with the requirements written as a key of ``texts`` replaced by
    the value, in every list (the manifest on disk is not touched)."""
    if not texts:
        return project
    by_form = {str(Requirement(old)): Requirement(new) for old, new in texts.items()}

    def fix(requirements: Sequence[Requirement]) -> tuple[Requirement, ...]:
        return tuple(by_form.get(str(r), r) for r in requirements)

    return replace(
        project,
        dependencies=fix(project.dependencies),
        optional_dependencies={k: fix(v) for k, v in project.optional_dependencies.items()},
        dependency_groups={k: fix(v) for k, v in project.dependency_groups.items()},
    )


def _locked(lock: LockFile | None) -> dict[str, list[tuple[Version, bool]]]:
    """Canonical name → (version, from an index) of each locked package."""
    found: dict[str, list[tuple[Version, bool]]] = {}
    for table in lock.packages if lock is not None else ():
        try:
            version = Version(str(table.get("version", "")))
        except InvalidVersion:
            continue
        name = canonicalize_name(str(table.get("name", "")))
        found.setdefault(name, []).append((version, bool(table.get("index"))))
    return found


# -- the use case ---------------------------------------------------------------------------


def _targets(entries: list[_Entry], names: Sequence[str], project: Project) -> list[_Entry]:
    """The entries ``names`` ask for (all when none).

    :raises ManifestError: for a name that is not a requirement of the project.
    """
    if not names:
        return entries
    wanted = {canonicalize_name(n): n for n in names}
    present = {canonicalize_name(e.requirement.name) for e in entries}
    missing = [given for name, given in wanted.items() if name not in present]
    if missing:
        raise ManifestError(
            f"{', '.join(missing)} is not a requirement of {project.name} "
            "([project].dependencies, its extras or its dependency groups).",
            context=str(project.pyproject),
            hint="`shipyard upgrade` raises the project's own requirements; "
            "`shipyard lock --upgrade-package NAME` moves a package they pull in.",
        )
    return [e for e in entries if canonicalize_name(e.requirement.name) in wanted]


def _lift(
    project: Project,
    services: Services,
    targets: list[_Entry],
    *,
    named: frozenset[str],
    outcome: UpgradeOutcome,
) -> None:
    """``--latest``: widen each target's working text to admit its newest release."""
    from shipyard.project.outdated import index_repository, newest_release

    names = frozenset(canonicalize_name(e.requirement.name) for e in targets)
    repository = index_repository(project, services, refresh=names)
    for name in sorted(names):
        repository.prefetch(name)
    for entry in targets:
        if entry.requirement.url is not None:
            continue
        name = canonicalize_name(entry.requirement.name)
        newest = newest_release(repository.versions(name), requires_python=project.requires_python)
        if newest is None or entry.requirement.specifier.contains(newest, prereleases=True):
            continue
        entry.working, pinned = lift_requirement(entry.working, newest, move_pins=name in named)
        if pinned:
            outcome.kept.append(
                f"{entry.text} ({entry.where}) is pinned; kept (name it to move the pin "
                f"to {newest})."
            )


def upgrade_requirements(
    project: Project,
    services: Services,
    names: Sequence[str] = (),
    *,
    latest: bool = False,
    dry_run: bool = False,
    no_sync: bool = False,
) -> UpgradeOutcome:
    """Re-lock with the requirements' pins dropped and raise their lower bounds in
    pyproject.toml to the versions locked; then sync (unless ``no_sync``).

    :param names: the requirements to upgrade (any spelling); empty: every one, and
        the re-lock drops every pin (``lock --upgrade``).
    :param latest: first lift the bounds that keep out the newest release on the
        index (asks the index; a pin moves only for a package named in ``names``).
    :param dry_run: compute everything (resolving in memory), write nothing.
    :raises ManifestError: for a name that is not a requirement of the project.
    :raises ShipyardError: from locking or syncing; pyproject.toml and pylock.toml are
        then as they were.
    """
    editor = ManifestEditor(project.pyproject)
    entries = _entries(editor.document, project)
    targets = _targets(entries, names, project)
    named = frozenset(canonicalize_name(n) for n in names)
    outcome = UpgradeOutcome(dry_run=dry_run)
    lock_path = project.root / LOCK_FILENAME
    try:
        previous: LockFile | None = read_lock(lock_path)
    except LockError:
        previous = None
    if latest:
        _lift(project, services, targets, named=named, outcome=outcome)
    planned = _with_requirements(
        project, {e.text: e.working for e in targets if e.working != e.text}
    )
    locked_before = {canonicalize_name(n) for n in previous.package_names()} if previous else set()
    if names:
        moving = sorted(named & locked_before)
        relock = lock_project(planned, services, upgrade_packages=moving, write=False)
    else:
        relock = lock_project(planned, services, upgrade=True, write=False)
    outcome.lock = relock
    locked = _locked(relock.lock)
    for entry in targets:
        name = canonicalize_name(entry.requirement.name)
        choices = locked.get(name, [])
        if entry.requirement.url is not None or (choices and not all(i for _, i in choices)):
            outcome.kept.append(f"{entry.text} ({entry.where}) does not come from an index; kept.")
            continue
        working = Requirement(entry.working).specifier
        fitting = [v for v, _ in choices if working.contains(v, prereleases=True)]
        if not fitting:
            continue  # not locked for any target (its marker never holds)
        lifted = entry.working != entry.text
        entry.working, pinned = bump_requirement(entry.working, min(fitting))
        if pinned and not lifted and not any(n.startswith(entry.text + " ") for n in outcome.kept):
            outcome.kept.append(f"{entry.text} ({entry.where}) is pinned with ==; kept.")
        if entry.working != entry.text:
            outcome.changes.append(
                RequirementChange(name=name, where=entry.where, old=entry.text, new=entry.working)
            )
    if dry_run:
        return outcome
    _apply(project, services, editor, targets, relock, locked, outcome, no_sync=no_sync)
    return outcome


def _apply(
    project: Project,
    services: Services,
    editor: ManifestEditor,
    targets: list[_Entry],
    relock: LockOutcome,
    locked: Mapping[str, list[tuple[Version, bool]]],
    outcome: UpgradeOutcome,
    *,
    no_sync: bool,
) -> None:
    """Write pyproject.toml and pylock.toml, then sync; put both back on any failure."""
    lock_path = project.root / LOCK_FILENAME
    lock_bytes = lock_path.read_bytes() if lock_path.exists() else None
    try:
        for entry in targets:
            if entry.working != entry.text:
                entry.array[entry.index] = _string_like(entry.array[entry.index], entry.working)
        if outcome.changes:
            editor.write()
        current = load_project(project.root)
        if relock.lock is not None and not relock.fresh:
            document = relock.lock.to_dict()
            document["tool"]["shipyard"]["input-hash"] = current.input_hash(
                settings_inputs(services)
            )
            write_lock(lock_path, document)
        # Each new lower bound is a locked version, so the lock stays valid — unless a
        # package locked at several versions (forks) has one below a raised bound.
        valid = all(
            Requirement(entry.working).specifier.contains(version, prereleases=True)
            for entry in targets
            if entry.working != entry.text
            for version, _ in locked.get(canonicalize_name(entry.requirement.name), [])
        )
        if not valid or relock.fresh:
            lock_project(current, services)
        if not no_sync:
            outcome.sync = sync_project(current, services, Selection())
    except BaseException:
        editor.restore()
        if lock_bytes is None:
            lock_path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(lock_path, lock_bytes)
        raise
