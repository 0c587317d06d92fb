"""The ``import`` use case: bring a project in from the files users already have.

Understood, by file name:

* ``requirements*.txt`` / ``*.in`` — pip requirements files (see
  :mod:`shipyard.formats.requirements`); ``requirements-dev.txt`` and the like
  become the dependency group named after the suffix; ``-c`` files become
  ``[tool.shipyard] constraint-dependencies``; ``--hash`` values are checked
  against what the lock records for that version.
* ``environment.yml`` / ``.yaml`` — conda (see
  :mod:`shipyard.formats.environment_yml`); with ``prefer_pypi``, conda packages
  that are plain PyPI projects move to the PyPI dependencies.
* ``Pipfile`` (and the ``Pipfile.lock`` beside it), a ``pyproject.toml`` with
  ``[tool.poetry]`` (and ``poetry.lock``) or ``[tool.pdm]`` (and ``pdm.lock``),
  ``setup.cfg``.
* Lock files — ``Pipfile.lock``, ``poetry.lock``, ``pdm.lock``, ``pylock*.toml``,
  and a pinned ``requirements.txt`` imported next to its ``requirements.in``:
  their versions are preferences for the first lock, so migrating does not
  upgrade anything; every version that still changes is reported with the reason.

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

from shipyard.errors import ManifestError, UsageError
from shipyard.formats.imported import Imported, ImportedRequirement
from shipyard.project.editing import EditOutcome, commit_edit
from shipyard.project.manifest import PYPROJECT, ManifestEditor
from shipyard.project.services import Services
from shipyard.project.syncing import Selection

__all__ = ["ImportOutcome", "VersionChange", "classify", "import_files"]

#: ``python=3.12``, ``python 3.12.*``, ``python==3.12.1``, ``python=3.12.1=h0_cpython``
_PYTHON_SPEC = re.compile(r"^python\s*(?:=|==|\s)\s*(\d+)\.(\d+)[.*\d]*(?:[=\s]\S+)?$")
_LOCK_NAMES = {"Pipfile.lock": "pipfile-lock", "poetry.lock": "poetry-lock", "pdm.lock": "pdm-lock"}


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
    :param moved: (conda spec, PyPI requirement) pairs moved by ``prefer_pypi``.
    """

    edit: EditOutcome
    problems: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    pins: int = 0
    changes: list[VersionChange] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)


def classify(path: Path) -> str:
    """The kind of file ``path`` is, from its name.

    :returns: ``requirements``, ``environment-yml``, ``pipfile``, ``pipfile-lock``,
        ``pyproject``, ``poetry-lock``, ``pdm-lock``, ``pylock`` or ``setup-cfg``.
    :raises UsageError: for a file shipyard cannot import.
    """
    name = path.name
    if name in _LOCK_NAMES:
        return _LOCK_NAMES[name]
    if name == "Pipfile":
        return "pipfile"
    if name == PYPROJECT:
        return "pyproject"
    if name == "setup.cfg":
        return "setup-cfg"
    if re.fullmatch(r"pylock\.([^.]+\.)?toml", name):
        return "pylock"
    if path.suffix in (".yml", ".yaml"):
        return "environment-yml"
    if path.suffix in (".txt", ".in"):
        return "requirements"
    raise UsageError(
        f"shipyard cannot import {name}.",
        hint="Import requirements files (.txt, .in), environment.yml, Pipfile, Pipfile.lock, "
        "pyproject.toml (Poetry, PDM), poetry.lock, pdm.lock, pylock.toml or setup.cfg.",
    )


def _group_for(path: Path) -> str | None:
    match = re.match(r"^requirements[-_.](.+?)\.(txt|in)$", path.name)
    if not match or match.group(1) in ("in", "txt"):
        return None
    return canonicalize_name(match.group(1))


def _from_requirements(path: Path, project_root: Path) -> Imported:
    from shipyard.formats.requirements import read_requirements

    parsed = read_requirements(path)
    imported = Imported(problems=list(parsed.problems))
    imported.dependencies = [
        ImportedRequirement(line.requirement, line.origin, line.hashes)
        for line in parsed.requirements
    ]
    imported.constraints = [
        ImportedRequirement(line.requirement, line.origin) for line in parsed.constraints
    ]
    for editable in parsed.editables:
        if (path.parent / editable).resolve() == project_root.resolve():
            continue  # "-e ." is the project itself
        imported.problems.append(
            f"{path}: the editable requirement {editable} is not carried over (path and VCS "
            "dependencies are not locked yet); add it by hand."
        )
    imported.index_url = parsed.index_url
    imported.extra_index_urls = list(parsed.extra_index_urls)
    imported.find_links = [
        link if "://" in link else str((path.parent / link).resolve()) for link in parsed.find_links
    ]
    if parsed.no_index:
        imported.problems.append(
            f"{path}: --no-index is not carried over; shipyard keeps the index (use "
            "--offline to work from the cache)."
        )
    if parsed.pre:
        imported.problems.append(
            f"{path}: --pre is not carried over; pass --prerelease allow to `shipyard lock`."
        )
    for choice, names in (("only-binary", parsed.only_binary), ("no-binary", parsed.no_binary)):
        if names:
            imported.problems.append(
                f"{path}: --{choice} {','.join(names)} is a machine setting in shipyard; set "
                f"SHIPYARD_{choice.upper().replace('-', '_')} or [tool.shipyard] {choice}."
            )
    return imported


def _pins_from_requirements(path: Path) -> Imported:
    from shipyard.formats.requirements import pinned_version, read_requirements

    parsed = read_requirements(path)
    imported = Imported(problems=list(parsed.problems))
    for line in parsed.requirements:
        version = pinned_version(line.requirement)
        if version is not None:
            imported.pin(line.requirement.name, version, line.origin)
    return imported


def _from_pylock(path: Path) -> Imported:
    from shipyard.formats.tomlfiles import read_toml

    toml = read_toml(path)
    imported = Imported()
    for package in toml.data.get("packages", []) or []:
        if package.get("name") and package.get("version"):
            imported.pin(
                str(package["name"]), str(package["version"]), f"{path}: {package['name']}"
            )
    return imported


def _from_environment_yml(path: Path) -> Imported:
    from shipyard.formats.environment_yml import read_environment_yml

    env = read_environment_yml(path)
    imported = Imported(problems=list(env.problems))
    imported.channels = list(env.channels)
    imported.conda = list(env.conda)
    for spec in env.conda:
        match = _PYTHON_SPEC.match(spec.strip())
        if match:
            imported.requires_python = f">={match.group(1)}.{match.group(2)}"
            imported.python = f"{match.group(1)}.{match.group(2)}"
    pip = env.pip
    imported.dependencies = [
        ImportedRequirement(line.requirement, line.origin, line.hashes) for line in pip.requirements
    ]
    imported.constraints = [
        ImportedRequirement(line.requirement, line.origin) for line in pip.constraints
    ]
    imported.index_url = pip.index_url
    imported.extra_index_urls = list(pip.extra_index_urls)
    for editable in pip.editables:
        if (path.parent / editable).resolve() != path.parent.resolve():
            imported.problems.append(
                f"{path}: the editable requirement {editable} is not carried over; add it by hand."
            )
    return imported


def _from_pyproject(path: Path, own: bool) -> tuple[Imported, list[Path]]:
    """What a pyproject.toml brings (Poetry, PDM, or another PEP 621 project), and the
    lock files beside it to take pins from."""
    from packaging.requirements import InvalidRequirement, Requirement

    from shipyard.formats.pdm import read_pdm
    from shipyard.formats.poetry import read_poetry
    from shipyard.formats.tomlfiles import read_toml

    toml = read_toml(path)
    tool = toml.data.get("tool", {}) or {}
    imported = Imported()
    locks: list[Path] = []
    if "poetry" in tool:
        imported = read_poetry(toml)
        if (path.parent / "poetry.lock").is_file():
            locks.append(path.parent / "poetry.lock")
    if "pdm" in tool:
        pdm = read_pdm(toml)
        _merge(imported, pdm)
        if (path.parent / "pdm.lock").is_file():
            locks.append(path.parent / "pdm.lock")
    project = toml.data.get("project")
    if not own and isinstance(project, dict):
        # another PEP 621 project: take its requirements
        for text in project.get("dependencies", []) or []:
            try:
                imported.dependencies.append(
                    ImportedRequirement(Requirement(text), toml.where("project", "dependencies"))
                )
            except InvalidRequirement as exc:
                imported.problems.append(f"{toml.where('project', 'dependencies')}: {exc}")
        imported.requires_python = imported.requires_python or project.get("requires-python")
    if own and not locks and "poetry" not in tool and "pdm" not in tool:
        raise UsageError(
            f"{path} is this project's own manifest and has no [tool.poetry] or [tool.pdm] "
            "table to import.",
            hint="Import the file your requirements are in (requirements.txt, Pipfile, "
            "environment.yml, ...).",
        )
    return imported, locks


def _merge(into: Imported, other: Imported) -> None:
    """Add ``other`` to ``into`` (later files win for single values)."""
    for key in ("name", "version", "description", "requires_python", "python", "index_url"):
        value = getattr(other, key)
        if value:
            setattr(into, key, value)
    into.dependencies.extend(other.dependencies)
    for extra, items in other.optional.items():
        into.optional.setdefault(extra, []).extend(items)
    for group, items in other.groups.items():
        into.groups.setdefault(group, []).extend(items)
    into.optional_groups |= other.optional_groups
    if other.default_groups is not None:
        into.default_groups = sorted(set(into.default_groups or []) | set(other.default_groups))
    into.constraints.extend(other.constraints)
    into.scripts.update(other.scripts)
    for url in other.extra_index_urls:
        if url not in into.extra_index_urls:
            into.extra_index_urls.append(url)
    for link in other.find_links:
        if link not in into.find_links:
            into.find_links.append(link)
    for channel in other.channels:
        if channel not in into.channels:
            into.channels.append(channel)
    into.conda.extend(other.conda)
    for name, (version, origin) in other.pins.items():
        if name not in into.pins or version > into.pins[name][0]:
            into.pins[name] = (version, origin)
    into.problems.extend(other.problems)


def gather(root: Path, paths: Sequence[Path], *, group: str | None = None) -> Imported:
    """Read every file in ``paths`` into one :class:`Imported`.

    :param root: the project directory (its own pyproject.toml is converted in place).
    :param group: put every PyPI requirement into this dependency group.
    :raises UsageError: for a file of an unknown kind or nothing to import.
    :raises ManifestError: for a missing or unreadable file.
    """
    from shipyard.formats.pipenv import read_pipfile
    from shipyard.formats.setup_cfg import read_setup_cfg
    from shipyard.formats.tomlfiles import read_toml

    result = Imported()
    kinds = {path: classify(path) for path in paths}
    stems_in = {p.with_suffix("").resolve() for p, k in kinds.items() if p.suffix == ".in"}
    seen_locks: set[Path] = set()
    for path in paths:
        if not path.is_file():
            raise ManifestError(f"There is no file {path}.", context=str(path))
        kind = kinds[path]
        locks: list[Path] = []
        target_group = group
        if kind == "requirements":
            if path.suffix == ".txt" and path.with_suffix("").resolve() in stems_in:
                # pip-compile's output next to its input: the pins, not requirements
                imported = _pins_from_requirements(path)
            else:
                imported = _from_requirements(path, root)
                target_group = group or _group_for(path)
        elif kind == "environment-yml":
            imported = _from_environment_yml(path)
        elif kind == "pipfile":
            imported = read_pipfile(read_toml(path))
            if (path.parent / "Pipfile.lock").is_file():
                locks.append(path.parent / "Pipfile.lock")
        elif kind == "pyproject":
            own = path.resolve() == (root / PYPROJECT).resolve()
            imported, locks = _from_pyproject(path, own)
        elif kind == "setup-cfg":
            imported = read_setup_cfg(path)
        else:  # a lock file: its pins only
            imported = _read_lock(path)
            seen_locks.add(path.resolve())
        if target_group:
            imported.groups.setdefault(target_group, []).extend(imported.dependencies)
            imported.dependencies = []
        _merge(result, imported)
        for lock in locks:
            if lock.resolve() in seen_locks:
                continue
            seen_locks.add(lock.resolve())
            _merge(result, _read_lock(lock))
    return result


def _read_lock(path: Path) -> Imported:
    """The pins of a lock file, chosen by its name (:func:`classify`)."""
    from shipyard.formats.pdm import read_pdm_lock
    from shipyard.formats.pipenv import read_pipfile_lock
    from shipyard.formats.poetry import read_poetry_lock
    from shipyard.formats.tomlfiles import read_toml

    kind = classify(path)
    if kind == "pipfile-lock":
        return read_pipfile_lock(path)
    if kind == "poetry-lock":
        return read_poetry_lock(read_toml(path))
    if kind == "pdm-lock":
        return read_pdm_lock(read_toml(path))
    return _from_pylock(path)


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
    :param prefer_pypi: move conda packages that are PyPI projects to the PyPI side.
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
    moved: list[tuple[str, str]] = []
    if prefer_pypi and imported.conda:
        moved = _move_to_pypi(imported, services)
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
    if imported.default_groups is not None:
        editor.set_tool_value("default-groups", imported.default_groups)
    if imported.constraints:
        existing = _tool_list(editor, "constraint-dependencies")
        texts = existing + [str(c.requirement) for c in imported.constraints]
        editor.set_tool_value("constraint-dependencies", list(dict.fromkeys(texts)))
        added.extend(f"constraint {c.requirement}" for c in imported.constraints)
    if imported.index_url:
        editor.set_tool_value("index-url", imported.index_url)
    if imported.extra_index_urls:
        editor.set_tool_value("extra-index-urls", imported.extra_index_urls)
    if imported.find_links:
        editor.set_tool_value("find-links", imported.find_links)
    selection_groups = tuple(sorted(set(imported.groups) - imported.optional_groups))
    preferences = {name: version for name, (version, _) in imported.pins.items()}
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
    changes = _changes(imported, edit, services) if imported.pins else []
    return ImportOutcome(
        edit, imported.problems, added, pins=len(preferences), changes=changes, moved=moved
    )


def _project_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return cleaned or "project"


def _drop_inert_build_system(editor: ManifestEditor, root: Path) -> None:
    """A Poetry project in non-package mode (``package-mode = false``) has nothing to
    build; its poetry-core ``[build-system]`` would only make sync fail."""
    poetry = editor.document.get("tool", {}).get("poetry", {})
    if poetry.get("package-mode") is False:
        editor.remove_build_system()


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
            imported.problems.append(
                f"conda packages are locked for {here} only; list more platforms in "
                "[tool.shipyard.conda] platforms to lock them too."
            )
    for spec in imported.conda:
        editor.add_conda(spec)
        added.append(f"conda: {spec}")


def _move_to_pypi(imported: Imported, services: Services) -> list[tuple[str, str]]:
    """Move conda specs whose package is a PyPI project (per the published mapping) to
    the PyPI dependencies; returns (conda spec, PyPI requirement) pairs."""
    from packaging.requirements import InvalidRequirement, Requirement

    from shipyard.conda.config import spec_name
    from shipyard.conda.mapping import published_mapping

    mapping = published_mapping(
        services.client, services.cache, services.settings.conda_pypi_mapping_url
    )
    if mapping is None:
        imported.problems.append(
            "--prefer-pypi: the conda-to-PyPI mapping could not be fetched "
            f"({services.settings.conda_pypi_mapping_url}); no conda package was moved."
        )
        return []
    kept: list[str] = []
    moved: list[tuple[str, str]] = []
    for spec in imported.conda:
        name = spec_name(spec)
        pypi = mapping.get(name) if name not in ("python", "pip") else None
        if not pypi:
            kept.append(spec)
            continue
        try:
            requirement = Requirement(pypi + _pypi_specifier(spec))
        except InvalidRequirement:
            kept.append(spec)
            continue
        imported.dependencies.append(ImportedRequirement(requirement, spec))
        moved.append((spec, str(requirement)))
    imported.conda = kept
    return moved


def _pypi_specifier(spec: str) -> str:
    """The PEP 440 specifier of a conda MatchSpec's version (``=1.19`` → ``==1.19.*``;
    the build string is dropped)."""
    text = spec.split("::")[-1].strip()
    match = re.match(r"^[A-Za-z0-9_.-]+\s*(.*)$", text)
    rest = (match.group(1) if match else "").strip()
    if not rest:
        return ""
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0].strip()
        return f"=={version.rstrip('.*')}.*" if version else ""
    if rest.startswith("=="):
        return "==" + rest[2:].split("=")[0].strip()
    version = rest.split()[0]
    if version[0].isdigit():
        return f"=={version}"
    return version


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
