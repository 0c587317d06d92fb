"""Pipenv's ``Pipfile`` and ``Pipfile.lock``.

``Pipfile`` is TOML: ``[[source]]`` indexes (the first is the main one),
``[packages]`` (the project's dependencies), ``[dev-packages]`` (the ``dev``
group), any other package category (a group of that name), ``[requires]``
``python_version``/``python_full_version``. A package is ``"*"``, a PEP 440
specifier, or a table with ``version``, ``extras``, ``markers`` and the marker
variables as keys (``sys_platform = "== 'win32'"``). A package from elsewhere becomes
a plain name and a source (:mod:`shipyard.formats.references`): ``{git = URL, ref =
"…", subdirectory = "…"}`` a git source (``ref`` as ``rev``), ``{path = "…", editable
= true}`` a path source (non-editable without ``editable``), ``{file = "…"}`` a path
source for a local archive or a direct reference for one on a server; Mercurial,
Subversion and Bazaar are reported. ``Pipfile.lock`` is JSON whose
``default``/``develop``/category sections give each package's ``==`` version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError
from shipyard.formats.imported import Imported, ImportedRequirement, structure_checked
from shipyard.formats.references import direct_reference, git_source, path_source
from shipyard.formats.tomlfiles import TomlFile

__all__ = ["read_pipfile", "read_pipfile_lock"]

_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)
_SKIPPED = {"source", "requires", "scripts", "pipenv", "dev-packages", "packages"}


def _requirement(
    name: str, value: Any, where: str, imported: Imported, base: Path
) -> ImportedRequirement | None:
    table: dict[str, Any] = value if isinstance(value, dict) else {"version": value}
    for key in ("hg", "svn", "bzr"):
        if key in table:
            imported.problems.append(
                f"{where}: {name} comes from {key} {table[key]!r}; shipyard fetches git "
                "repositories only; add it by hand or publish it to an index."
            )
            return None
    place = next((key for key in ("git", "path", "file") if key in table), None)
    if "index" in table:
        imported.problems.append(
            f"{where}: {name} is pinned to the index {table['index']!r}; shipyard searches "
            "every index for every package, so that pin is not kept."
        )
    extras = table.get("extras") or []
    version = str(table.get("version", "*")).strip()
    text = f"{name}[{','.join(extras)}]" if extras else name
    if version not in ("*", "") and place is None:  # a source decides the version
        text += version if version[0] in "<>=!~" else f"=={version}"
    markers = [f"({table['markers']})"] if table.get("markers") else []
    for key in _MARKER_KEYS:
        if key in table:
            condition = str(table[key]).strip()
            markers.append(
                f"{key} {condition}" if condition[:1] in "<>=!" else f"{key} == {condition!r}"
            )
    if markers:
        text += " ; " + " and ".join(markers)
    item = imported.requirement(text, where)
    if item is None or place is None:
        return item
    target = str(table[place])
    editable = table.get("editable") is True
    if place == "git":
        ref = table.get("ref")
        return git_source(
            imported,
            item.requirement,
            where,
            target,
            revision=("rev", str(ref)) if ref else None,
            subdirectory=str(table["subdirectory"]) if table.get("subdirectory") else None,
        )
    if place == "file" and ("://" in target or target.startswith("file:")):
        item.requirement.url = target
        return direct_reference(imported, item.requirement, where, base, editable=editable)
    return path_source(imported, item.requirement, where, base, target, editable=editable)


@structure_checked("Pipenv")
def read_pipfile(toml: TomlFile) -> Imported:
    """Read a ``Pipfile``; problems as ``file:line: what and why``."""
    data = toml.data
    imported = Imported()
    for category, table in data.items():
        if not isinstance(table, dict) or category in ("source", "requires", "scripts", "pipenv"):
            continue
        items = []
        for name, value in table.items():
            item = _requirement(name, value, toml.where(category, name), imported, toml.path.parent)
            if item is not None:
                items.append(item)
        if category == "packages":
            imported.dependencies.extend(items)
        else:
            group = "dev" if category == "dev-packages" else canonicalize_name(category)
            imported.groups.setdefault(group, []).extend(items)
    if "scripts" in data:
        imported.problems.append(
            f"{toml.where('scripts')}: Pipfile scripts are shell commands, not entry points; "
            "run them with `shipyard run`."
        )
    requires = data.get("requires", {}) or {}
    full = requires.get("python_full_version")
    short = requires.get("python_version")
    if full or short:
        version = str(full or short)
        parts = version.split(".")
        imported.requires_python = f">={'.'.join(parts[:2])}"
        imported.python = version
    sources = data.get("source", []) or []
    for index, source in enumerate(sources):
        url = source.get("url")
        if not url:
            continue
        if index == 0:
            imported.index_url = url
        else:
            imported.extra_index_urls.append(url)
        if source.get("verify_ssl") is False:
            imported.problems.append(
                f"{toml.where('source', 'verify_ssl')}: verify_ssl = false is not carried "
                f"over; shipyard always verifies TLS ({url})."
            )
    return imported


@structure_checked("Pipenv")
def read_pipfile_lock(path: Path) -> Imported:
    """The pins of a ``Pipfile.lock`` (every section's ``==`` versions); packages from
    git, a path or a file are in ``unpinned``.

    :raises ManifestError: when the file is not JSON.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(
            f"{path} is not a readable JSON lock file: {exc}.", context=str(path)
        ) from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path} is not a Pipfile.lock (not a JSON object).", context=str(path))
    imported = Imported()
    for section, packages in data.items():
        if section == "_meta" or not isinstance(packages, dict):
            continue
        for name, entry in packages.items():
            where = f"{path}: {section}.{name}"
            version = str((entry or {}).get("version", "")) if isinstance(entry, dict) else ""
            if version.startswith("=="):
                imported.pin(name, version[2:], where)
            elif isinstance(entry, dict) and any(k in entry for k in ("git", "path", "file")):
                imported.unpinned[canonicalize_name(name)] = (
                    f"{where} is not from an index; its pin is not kept."
                )
    return imported
