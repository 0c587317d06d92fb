"""setuptools' ``setup.cfg``: ``[metadata]`` name/version/description,
``[options]`` ``install_requires`` and ``python_requires``,
``[options.extras_require]`` and ``[options.entry_points]`` console scripts. A direct
reference to git or a local path becomes a plain name and a source
(:mod:`shipyard.formats.references`)."""

from __future__ import annotations

import configparser
from pathlib import Path

from shipyard.errors import ManifestError
from shipyard.formats.imported import Imported, ImportedRequirement
from shipyard.formats.references import direct_reference

__all__ = ["read_setup_cfg"]


def _line_of(text: str, value: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == value or line.strip().endswith("= " + value):
            return number
    return None


def _requirements(path: Path, text: str, raw: str, imported: Imported) -> list[ImportedRequirement]:
    found = []
    for line in raw.splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        number = _line_of(text, line.strip())
        where = f"{path}:{number}" if number else str(path)
        if entry.startswith(("file:", "attr:")):
            imported.problems.append(f"{where}: {entry!r} is computed by setuptools; left out.")
            continue
        item = imported.requirement(entry, where)
        if item is not None:
            item = direct_reference(imported, item.requirement, where, path.parent)
        if item is not None:
            found.append(item)
    return found


def read_setup_cfg(path: Path) -> Imported:
    """Read ``setup.cfg``.

    :raises ManifestError: when the file cannot be read or is not INI.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        text = path.read_text(encoding="utf-8")
        parser.read_string(text, source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ManifestError(f"Cannot read {path}: {exc}.", context=str(path)) from exc
    imported = Imported()
    if parser.has_section("metadata"):
        metadata = parser["metadata"]
        imported.name = metadata.get("name")
        version = metadata.get("version")
        if version and not version.startswith(("attr:", "file:")):
            imported.version = version
        imported.description = metadata.get("description")
    if parser.has_section("options"):
        options = parser["options"]
        imported.dependencies = _requirements(
            path, text, options.get("install_requires", ""), imported
        )
        if options.get("python_requires"):
            imported.requires_python = options["python_requires"].strip()
    if parser.has_section("options.extras_require"):
        for extra, raw in parser["options.extras_require"].items():
            imported.optional[extra] = _requirements(path, text, raw, imported)
    if parser.has_section("options.entry_points"):
        for line in parser["options.entry_points"].get("console_scripts", "").splitlines():
            name, _, target = line.partition("=")
            if name.strip() and target.strip():
                imported.scripts[name.strip()] = target.strip()
    return imported
