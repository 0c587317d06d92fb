"""The ``import`` use case: bring a project in from the files users already have.

Understood, by file name:

* ``requirements*.txt`` / ``*.in`` — pip requirements files (see
  :mod:`shipyard.formats.requirements`); ``requirements-dev.txt`` and the like
  become the dependency group named after the suffix; ``-c`` files become
  ``[tool.shipyard] constraint-dependencies``; ``--hash`` values are checked
  against what the lock records for that version.
* ``environment.yml`` / ``.yaml`` — conda (see
  :mod:`shipyard.formats.environment_yml`); with ``prefer_pypi`` every conda
  dependency becomes a PyPI requirement or is left out and reported, and no conda
  channel is contacted (see :mod:`shipyard.project.prefer_pypi`).
* ``Pipfile`` (and the ``Pipfile.lock`` beside it), a ``pyproject.toml`` with
  ``[tool.poetry]`` (and ``poetry.lock``) or ``[tool.pdm]`` (and ``pdm.lock``),
  ``setup.cfg``.
* Lock files — ``Pipfile.lock``, ``poetry.lock``, ``pdm.lock``, ``pylock*.toml``,
  and a pinned ``requirements.txt`` imported next to its ``requirements.in``:
  their versions are preferences for the first lock, so migrating does not
  upgrade anything; every version that still changes is reported with the reason.

The files are read by :mod:`shipyard.project.import_sources`. Git, path and
editable requirements are written as a plain name plus a ``[tool.shipyard.sources]``
entry (paths relative to the project root); their lock entries are not pins.
Everything that cannot be carried over is reported as ``file:line: what and why``.
The manifest is written (a ``[project]`` table is created when the file has none,
as in a Poetry 1 project), then locked and synced like ``add``; if any step fails,
``pyproject.toml`` and ``pylock.toml`` are put back byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.errors import NetworkError
from shipyard.formats.imported import Imported
from shipyard.project.editing import EditOutcome, commit_edit
from shipyard.project.import_sources import classify, gather
from shipyard.project.manifest import PYPROJECT
from shipyard.project.manifest_editor import ManifestEditor
from shipyard.project.services import Services
from shipyard.project.syncing import Selection

__all__ = ["ImportOutcome", "VersionChange", "classify", "import_files"]


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A package whose imported pin was not kept.

    :param name: canonical name; :param pinned: the imported version;
    :param locked: the locked versions (empty when the package left the lock);
    :param reason: why, in words.
    """

    name: str
    pinned: str
    locked: tuple[str, ...]
    reason: str


@dataclass(slots=True)
class ImportOutcome:
    """What ``import`` did.

    :param edit: the lock (and sync) outcome.
    :param problems: ``file:line: what and why`` for what was not carried over.
    :param added: one line per change to the manifest.
    :param pins: how many imported pins were offered to the resolver.
    :param changes: pins that were not kept, with the reason.
    :param moved: (conda spec, what it became: a PyPI requirement or
        ``requires-python …``) pairs moved by ``prefer_pypi``.
    """

    edit: EditOutcome
    problems: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    pins: int = 0
    changes: list[VersionChange] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)


def import_files(
    root: Path,
    services: Services,
    paths: Sequence[Path],
    *,
    group: str | None = None,
    no_sync: bool = False,
    prefer_pypi: bool = False,
) -> ImportOutcome:
    """Import ``paths`` into the project at ``root``, then lock (keeping imported pins)
    and, unless ``no_sync``, sync.

    :param root: the project directory; its pyproject.toml must exist (a Poetry 1 one
        without ``[project]`` is completed).
    :param group: put PyPI requirements into this dependency group instead of
        ``[project].dependencies``.
    :param prefer_pypi: turn the files' conda dependencies into PyPI requirements, leaving
        out (and reporting) those that are not Python distributions.
    :raises UsageError: for a file of an unknown kind.
    :raises ManifestError: for a file that cannot be read or parsed.
    :raises ShipyardError: from locking or syncing (the manifest and lock are restored).
    """
    imported = gather(root, paths, group=group)
    for name in [g for g, items in imported.groups.items() if not items]:
        del imported.groups[name]  # every entry was reported: no empty group is written
        if imported.default_groups is not None and name in imported.default_groups:
            imported.default_groups.remove(name)
    editor = ManifestEditor(root / PYPROJECT)
    added: list[str] = []
    if imported.index_url:
        editor.set_tool_value("index-url", imported.index_url)
    if imported.extra_index_urls:
        editor.set_tool_value("extra-index-urls", imported.extra_index_urls)
    if imported.find_links:
        editor.set_tool_value("find-links", imported.find_links)
    moved: list[tuple[str, str]] = []
    if prefer_pypi:
        from shipyard.project.prefer_pypi import move_to_pypi

        if imported.conda:
            moved = move_to_pypi(imported, services, _tool_table(editor), group=group)
        imported.channels = []  # no conda dependency is left to need them
    if editor.ensure_project(
        _project_name(imported.name or root.name),
        version=imported.version,
        description=imported.description,
    ):
        added.append(f"[project] table for {imported.name or root.name}")
        if imported.scripts:
            editor.set_project_value("scripts", dict(imported.scripts))
            added.append(f"{len(imported.scripts)} console scripts")
        _drop_inert_build_system(editor, root)
    if imported.requires_python:
        editor.set_requires_python(imported.requires_python)
        added.append(f"requires-python {imported.requires_python}")
    if imported.python:
        editor.set_tool_value("python", imported.python)
    _apply_conda(editor, imported, root, added)
    for item in imported.dependencies:
        editor.add(item.requirement)
        added.append(str(item.requirement))
    for extra, items in imported.optional.items():
        for item in items:
            editor.add(item.requirement, optional=extra)
            added.append(f"{item.requirement} (extra {extra})")
    for name, items in imported.groups.items():
        for item in items:
            editor.add(item.requirement, group=name)
            added.append(f"{item.requirement} (group {name})")
    for name, entry in imported.sources.items():
        editor.set_source(name, entry)
        added.append(f"source {name} = {_inline(entry)}")
    if imported.default_groups is not None:
        editor.set_tool_value("default-groups", imported.default_groups)
    if imported.constraints:
        existing = _tool_list(editor, "constraint-dependencies")
        texts = existing + [str(c.requirement) for c in imported.constraints]
        editor.set_tool_value("constraint-dependencies", list(dict.fromkeys(texts)))
        added.extend(f"constraint {c.requirement}" for c in imported.constraints)
    selection_groups = tuple(sorted(set(imported.groups) - imported.optional_groups))
    preferences = {name: version for name, (version, _) in imported.pins.items()}
    try:
        edit = commit_edit(
            editor,
            root,
            services,
            no_sync=no_sync,
            selection=Selection(groups=selection_groups),
            reload_settings=True,
            preferences=preferences,
            check=lambda _project, outcome: _check_hashes(imported, outcome),
        )
    except NetworkError as exc:
        if imported.conda and "conda channels" in exc.message:
            exc.hint = (exc.hint + " " if exc.hint else "") + (
                "To take the Python packages from PyPI and use no conda channel, import "
                "with --prefer-pypi."
            )
        raise
    changes = _changes(imported, edit, services) if imported.pins else []
    return ImportOutcome(
        edit, imported.problems, added, pins=len(preferences), changes=changes, moved=moved
    )


def _project_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return cleaned or "project"


def _inline(entry: dict[str, Any]) -> str:
    """A source entry as TOML writes it (``{ path = "../core" }``)."""
    import tomlkit

    table = tomlkit.inline_table()
    table.update(entry)
    return table.as_string().strip()


def _drop_inert_build_system(editor: ManifestEditor, root: Path) -> None:
    """A Poetry project in non-package mode (``package-mode = false``) has nothing to
    build; its poetry-core ``[build-system]`` would only make sync fail."""
    poetry = editor.document.get("tool", {}).get("poetry", {})
    if poetry.get("package-mode") is False:
        editor.remove_build_system()


def _tool_table(editor: ManifestEditor) -> dict[str, Any]:
    """``[tool.shipyard]`` as edited so far, as plain values."""
    table = editor.document.get("tool", {}).get("shipyard", {})
    unwrap = getattr(table, "unwrap", None)
    value = unwrap() if callable(unwrap) else table
    return dict(value) if isinstance(value, dict) else {}


def _tool_list(editor: ManifestEditor, key: str) -> list[str]:
    value = editor.document.get("tool", {}).get("shipyard", {}).get(key, [])
    return [str(v) for v in value] if isinstance(value, list) else []


def _apply_conda(editor: ManifestEditor, imported: Imported, root: Path, added: list[str]) -> None:
    if imported.channels:
        editor.set_tool_value("channels", imported.channels, conda=True)
    if not imported.conda:
        return
    conda_table = editor.document.get("tool", {}).get("shipyard", {}).get("conda", {})
    if not conda_table.get("platforms"):
        from shipyard.conda.solve import host_platform

        here = host_platform()
        if here is not None:
            # An environment file was made for one machine; its packages may not exist
            # for every platform. Lock this one; the user adds more.
            editor.set_tool_value("platforms", [here], conda=True)
            where = imported.conda_origins.get(imported.conda[0])
            imported.problems.append(
                (f"{where}: " if where else "")
                + f"the conda packages are locked for {here} only (an environment file "
                "is made for one machine); list more platforms in [tool.shipyard.conda] "
                "platforms to lock them too."
            )
    for spec in imported.conda:
        editor.add_conda(spec)
        added.append(f"conda: {spec}")


def _check_hashes(imported: Imported, outcome: Any) -> None:
    """Refuse the import when a file's ``--hash`` for a pinned version does not match
    any file the lock records for that version (the index serves other bytes)."""
    from shipyard.errors import LockError

    resolution = outcome.resolution
    if resolution is None:
        return
    locked: dict[tuple[str, Version], set[str]] = {}
    for package in resolution.packages:
        digests = {f"{algorithm}:{digest}" for f in package.files for algorithm, digest in f.hashes}
        locked[(package.name, package.version)] = digests
    for item in [*imported.dependencies, *(i for g in imported.groups.values() for i in g)]:
        if not item.hashes:
            continue
        pinned = [s for s in item.requirement.specifier if s.operator == "=="]
        if len(pinned) != 1:
            continue
        key = (canonicalize_name(item.requirement.name), Version(pinned[0].version))
        if key in locked and not set(item.hashes) & locked[key]:
            raise LockError(
                f"{item.origin}: none of the --hash values for {item.requirement} matches a "
                "file the index serves for that version.",
                hint="The index has different bytes than when the file was written; check "
                "the index, or drop the stale --hash options.",
            )


def _changes(imported: Imported, edit: EditOutcome, services: Services) -> list[VersionChange]:
    resolution = edit.lock.resolution
    if resolution is None:
        return []
    locked: dict[str, list[str]] = {}
    for package in resolution.packages:
        locked.setdefault(package.name, []).append(str(package.version))
    changes = []
    for name, (version, _) in sorted(imported.pins.items()):
        versions = locked.get(name)
        if versions is not None and str(version) in versions:
            continue
        reason = _why(name, version, edit, services) if versions else "nothing requires it now"
        changes.append(VersionChange(name, str(version), tuple(versions or ()), reason))
    return changes


def _why(name: str, version: Version, edit: EditOutcome, services: Services) -> str:
    """Why the resolver did not keep ``version`` of ``name``."""
    from packaging.requirements import Requirement

    from shipyard.project.locking import make_repository

    project = edit.project
    for requirement in project.dependencies + tuple(
        r
        for reqs in (*project.optional_dependencies.values(), *project.dependency_groups.values())
        for r in reqs
    ):
        if canonicalize_name(requirement.name) == name and not requirement.specifier.contains(
            version, prereleases=True
        ):
            return f"pyproject.toml asks for {requirement}"
    for requirement in project.constraint_dependencies:
        if canonicalize_name(requirement.name) == name and not requirement.specifier.contains(
            version, prereleases=True
        ):
            return f"the constraint {requirement}"
    resolution = edit.lock.resolution
    assert resolution is not None
    repository = make_repository(project, services)
    try:
        for package in resolution.packages:
            if name not in package.dependencies or package.project_version.index == "":
                continue
            metadata = repository.metadata(package.project_version)
            for text in metadata.requires_dist:
                requirement = Requirement(text)
                if canonicalize_name(requirement.name) == name and not (
                    requirement.specifier.contains(version, prereleases=True)
                ):
                    return f"{package.name} {package.version} requires {requirement}"
        if not any(pv.version == version for pv in repository.versions(name)):
            return f"{version} is not on the index"
    except Exception:  # the reason is a courtesy; the lock is already right
        pass
    return (
        f"{version} has no file for a target Python or platform, or another requirement excludes it"
    )
