"""Reading the files other tools write into one :class:`~shipyard.formats.imported.Imported`,
for the ``import`` use case (:mod:`shipyard.project.importing`).

Each file's kind comes from its name (:func:`classify`): pip requirements files,
conda ``environment.yml``, ``Pipfile``/``Pipfile.lock``, a ``pyproject.toml`` with
``[tool.poetry]`` or ``[tool.pdm]`` and the lock beside it, ``setup.cfg``, and the
lock files ``poetry.lock``, ``pdm.lock`` and ``pylock*.toml`` (pins only). What cannot
be carried over is recorded in ``Imported.problems``.

Git, path and editable requirements become plain names plus ``Imported.sources``
(:mod:`shipyard.formats.references`); :func:`gather` makes their paths relative to the
project root and leaves out a path to the project itself (``-e .``; in an
``environment.yml`` that is said, with what becomes of the project).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError, UsageError
from shipyard.formats.imported import Imported, ImportedRequirement
from shipyard.project.manifest import PYPROJECT

if TYPE_CHECKING:
    from shipyard.formats.tomlfiles import TomlFile

__all__ = ["classify", "gather"]

#: ``python=3.12``, ``python 3.12.*``, ``python==3.12.1``, ``python=3.12.1=h0_cpython``
_PYTHON_SPEC = re.compile(r"^python\s*(?:=|==|\s)\s*(\d+)\.(\d+)[.*\d]*(?:[=\s]\S+)?$")
_LOCK_NAMES = {"Pipfile.lock": "pipfile-lock", "poetry.lock": "poetry-lock", "pdm.lock": "pdm-lock"}


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
    from shipyard.formats.references import requirements_into
    from shipyard.formats.requirements import read_requirements

    parsed = read_requirements(path, keep_locations=True)
    imported = Imported(problems=list(parsed.problems))
    requirements_into(imported, parsed, itself=project_root)  # "-e ." is the project itself
    imported.constraints = [
        ImportedRequirement(line.requirement, line.origin) for line in parsed.constraints
    ]
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


def _from_environment_yml(path: Path, project_root: Path) -> Imported:
    from shipyard.conda.config import spec_name
    from shipyard.conda.matchspec import pep440_specifier
    from shipyard.formats.environment_yml import read_environment_yml
    from shipyard.formats.references import requirements_into

    env = read_environment_yml(path)
    imported = Imported(problems=list(env.problems))
    imported.channels = list(env.channels)
    imported.conda = list(env.conda)
    imported.conda_origins = dict(env.origins)
    for spec in env.conda:
        match = _PYTHON_SPEC.match(spec.strip())
        if match:
            imported.requires_python = f">={match.group(1)}.{match.group(2)}"
            imported.python = f"{match.group(1)}.{match.group(2)}"
        elif spec_name(spec) == "python" and "::" not in spec:
            specifier = pep440_specifier(spec)  # "python >=3.10,<3.13"
            if specifier:
                imported.requires_python = specifier
    pip = env.pip
    _note_project_itself(imported, pip.locations, project_root)
    requirements_into(imported, pip, itself=project_root)
    imported.constraints = [
        ImportedRequirement(line.requirement, line.origin) for line in pip.constraints
    ]
    imported.index_url = pip.index_url
    imported.extra_index_urls = list(pip.extra_index_urls)
    imported.find_links = [
        link if "://" in link else str((path.parent / link).resolve()) for link in pip.find_links
    ]
    return imported


def _note_project_itself(imported: Imported, locations: Sequence[Any], root: Path) -> None:
    """Say what becomes of ``-e .`` (a ``pip:`` entry naming the project itself), which
    is no dependency to write: with a ``[build-system]`` sync installs the project
    editable anyway; without one it is not installed at all."""
    import tomllib

    home = _resolved(root)
    for entry in locations:
        text = entry.text.strip()
        target = re.sub(r"\[[^\]]*\]$", "", text.split(";")[0].strip())  # ".[dev]"
        if "://" in text or text.startswith("file:") or _resolved(entry.base / target) != home:
            continue
        try:
            data = tomllib.loads((root / PYPROJECT).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        flag = "-e " if entry.editable else ""
        if isinstance(data.get("build-system"), dict):
            imported.problems.append(
                f"{entry.origin}: '{flag}{text}' is this project itself; it has a "
                "[build-system], so every sync installs it editable — nothing to add."
            )
        else:
            imported.problems.append(
                f"{entry.origin}: '{flag}{text}' is this project itself, which has no "
                "[build-system], so sync does not install it; add a [build-system] table "
                "to pyproject.toml (as `shipyard init --lib` writes) to have it installed "
                "editable."
            )


def _from_pyproject(path: Path, own: bool) -> tuple[Imported, list[Path]]:
    """What a pyproject.toml brings (Poetry, PDM, or another PEP 621 project), and the
    lock files beside it to take pins from."""
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
    if isinstance(project, dict):
        _project_requirements(toml, project, imported, own)
    if not own and isinstance(project, dict):
        imported.requires_python = imported.requires_python or project.get("requires-python")
    if own and not locks and "poetry" not in tool and "pdm" not in tool:
        raise UsageError(
            f"{path} is this project's own manifest and has no [tool.poetry] or [tool.pdm] "
            "table to import.",
            hint="Import the file your requirements are in (requirements.txt, Pipfile, "
            "environment.yml, ...).",
        )
    return imported, locks


def _project_requirements(
    toml: TomlFile, project: dict[str, Any], imported: Imported, own: bool
) -> None:
    """The PEP 621 requirements a pyproject.toml brings: another project's
    ``dependencies``, all of them; this project's own (already in its manifest), only
    the direct references to git or a local path, in every list (``dependencies``,
    ``optional-dependencies``, ``[dependency-groups]``), to be written back as a plain
    name plus a source. A source the file's tool table already gave (Poetry's
    ``develop = true``) is kept."""
    from packaging.requirements import InvalidRequirement, Requirement

    from shipyard.formats.references import direct_reference

    where = toml.where("project", "dependencies")
    lists: list[tuple[dict[str, list[ImportedRequirement]] | None, str, Any]] = [
        (None, "", project.get("dependencies"))
    ]
    if own:
        optional = project.get("optional-dependencies")
        for extra, texts in (optional if isinstance(optional, dict) else {}).items():
            lists.append((imported.optional, extra, texts))
        groups = toml.data.get("dependency-groups")
        for group, texts in (groups if isinstance(groups, dict) else {}).items():
            lists.append((imported.groups, canonicalize_name(group), texts))
    for table, key, texts in lists:
        for text in texts if isinstance(texts, list) else []:
            if not isinstance(text, str):
                continue  # {include-group = …}
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                if not own:
                    imported.problems.append(f"{where}: {exc}")
                continue
            if own and requirement.url is None:
                continue
            found = Imported()
            item = direct_reference(found, requirement, where, toml.path.parent)
            for name, entry in found.sources.items():
                imported.sources.setdefault(name, entry)
            imported.problems.extend(found.problems)
            if item is not None and not (own and item.requirement.url is not None):
                target = imported.dependencies if table is None else table.setdefault(key, [])
                target.append(item)


def _settle_sources(result: Imported, root: Path) -> None:
    """Make the path sources relative to the project root, leave out a path to the
    project itself (with its requirement), drop pins of sourced names, and report the
    lock files' packages from a source that no dependency carries over."""
    home = _resolved(root)
    itself: set[str] = set()
    for name, entry in list(result.sources.items()):
        if "path" not in entry:
            continue
        location = _resolved(Path(entry["path"]))
        if location == home:
            del result.sources[name]
            itself.add(name)
            continue
        try:
            entry["path"] = Path(os.path.relpath(location, home)).as_posix()
        except ValueError:  # another drive (Windows)
            entry["path"] = location.as_posix()
    lists = [result.dependencies, *result.optional.values(), *result.groups.values()]
    if itself:
        for items in lists:
            items[:] = [i for i in items if canonicalize_name(i.requirement.name) not in itself]
    direct = {
        canonicalize_name(i.requirement.name) for items in lists for i in items if i.requirement.url
    }
    for name in result.sources:
        result.pins.pop(name, None)  # a source decides the version
    for name, message in result.unpinned.items():
        if name not in result.sources and name not in itself and name not in direct:
            result.problems.append(message)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return Path(os.path.abspath(path))


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
    for spec, origin in other.conda_origins.items():
        into.conda_origins.setdefault(spec, origin)
    for name, (version, origin) in other.pins.items():
        if name not in into.pins or version > into.pins[name][0]:
            into.pins[name] = (version, origin)
    for name, entry in other.sources.items():
        into.set_source(name, entry)
    into.unpinned.update(other.unpinned)
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
            imported = _from_environment_yml(path, root)
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
    _settle_sources(result, root)
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
