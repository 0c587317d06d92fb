"""PDM projects: ``[tool.pdm]`` (dev-dependencies, sources) and ``pdm.lock``.

PDM 2 keeps the project in PEP 621 ``[project]``; what it adds is
``[tool.pdm.dev-dependencies]`` (groups of requirement strings, which may be
``-e`` paths), ``[[tool.pdm.source]]`` (``type = "index"`` or ``"find_links"``; a
source named ``pypi`` replaces PyPI) and ``[tool.pdm.resolution]``.

A requirement from elsewhere becomes a plain name and a source
(:mod:`shipyard.formats.references`): ``name @ git+URL@rev#subdirectory=…`` a git
source, ``name @ file:///${PROJECT_ROOT}/../lib`` a path source (``${PROJECT_ROOT}`` is
the directory of the pyproject.toml), ``-e file:///…#egg=name`` or ``-e ./lib`` an
editable one, as is a ``{ path = "…", editable = true }`` table (named by ``name =``,
``#egg=`` or the directory's own metadata).
"""

from __future__ import annotations

from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shipyard.formats.imported import Imported, ImportedRequirement, structure_checked
from shipyard.formats.references import direct_reference, location
from shipyard.formats.tomlfiles import TomlFile

__all__ = ["read_pdm", "read_pdm_lock"]


def _dev_requirement(
    toml: TomlFile, entry: Any, where: str, imported: Imported
) -> ImportedRequirement | None:
    """One ``[tool.pdm.dev-dependencies]`` entry: a requirement string (``-e`` paths and
    URLs included) or a ``{ path = "…", editable = true }`` table."""
    base = toml.path.parent
    if isinstance(entry, dict):
        if not isinstance(entry.get("path"), str):
            imported.problems.append(
                f"{where}: {entry!r} is neither a requirement nor a {{ path = … }} table; left out."
            )
            return None
        name = entry.get("name")
        text = entry["path"] + (f"#egg={name}" if isinstance(name, str) and name else "")
        return location(imported, text, where, base, editable=entry.get("editable") is True)
    text = str(entry).strip()
    if text.startswith("-e"):
        return location(imported, text[2:].strip(), where, base, editable=True)
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        if text.startswith((".", "/", "file:", "git+")) or "://" in text:
            return location(imported, text, where, base, editable=False)
        return imported.requirement(text, where)  # reports it
    return direct_reference(imported, requirement, where, base)


@structure_checked("PDM")
def read_pdm(toml: TomlFile) -> Imported:
    """Read a pyproject.toml's ``[tool.pdm]`` table; problems as ``file:line: what and why``."""
    pdm = toml.data.get("tool", {}).get("pdm", {}) or {}
    imported = Imported()
    groups = pdm.get("dev-dependencies", {}) or {}
    for group, texts in groups.items():
        where_group = "tool.pdm.dev-dependencies"
        items = imported.groups.setdefault(canonicalize_name(group), [])
        for text in texts:
            item = _dev_requirement(toml, text, toml.where(where_group, group), imported)
            if item is not None:
                items.append(item)
    if groups:
        # PDM installs every dev group unless told otherwise
        names = sorted(str(canonicalize_name(g)) for g in groups)
        if names != ["dev"]:
            imported.default_groups = names
    for source in pdm.get("source", []) or []:
        url, name = source.get("url"), str(source.get("name", ""))
        where = toml.where("tool.pdm.source", "url")
        if not url:
            continue
        if source.get("type") == "find_links":
            imported.find_links.append(url)
        elif name.lower() == "pypi":
            imported.index_url = url
        else:
            imported.extra_index_urls.append(url)
        if source.get("verify_ssl") is False:
            imported.problems.append(f"{where}: verify_ssl = false is not carried over.")
    resolution = pdm.get("resolution", {}) or {}
    for key in ("overrides", "excludes"):
        if resolution.get(key):
            imported.problems.append(
                f"{toml.where('tool.pdm.resolution', key)}: [tool.pdm.resolution] {key} are "
                "not carried over; shipyard has constraint-dependencies, not overrides."
            )
    if pdm.get("scripts"):
        imported.problems.append(
            f"{toml.where('tool.pdm.scripts')}: PDM scripts are commands, not entry points; "
            "run them with `shipyard run`."
        )
    return imported


@structure_checked("PDM")
def read_pdm_lock(toml: TomlFile) -> Imported:
    """The pins of a ``pdm.lock`` (every ``[[package]]``'s version); packages from git, a
    path or a URL are in ``unpinned``."""
    imported = Imported()
    for package in toml.data.get("package", []) or []:
        name, version = package.get("name"), package.get("version")
        where = f"{toml.path}: [[package]] {name}"
        if not name:
            continue
        if not version or package.get("git") or package.get("path") or package.get("url"):
            imported.unpinned[canonicalize_name(str(name))] = (
                f"{where} is not from an index; its pin is not kept."
            )
            continue
        imported.pin(name, str(version), where)
    return imported
