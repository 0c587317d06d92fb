"""Poetry projects: ``[tool.poetry]`` tables and ``poetry.lock``.

Poetry's version constraints are translated into PEP 440 specifiers the way
poetry-core reads them:

* ``^1.2.3`` → ``>=1.2.3,<2.0.0``; ``^0.2.3`` → ``>=0.2.3,<0.3.0``; ``^0.0.3`` →
  ``>=0.0.3,<0.0.4`` (the first non-zero part is kept, or the last given one);
* ``~1.2.3`` → ``>=1.2.3,<1.3.0``; ``~1`` → ``>=1,<2``;
* ``*`` or empty → any version; ``1.2.*`` → ``==1.2.*``; a bare ``1.2.3`` → ``==1.2.3``;
* ``>=1.2 <2`` and ``>=1.2,<2`` are both "and"; PEP 440 operators stay as written;
* ``A || B`` is "or", which PEP 440 cannot say: the specifier becomes the smallest
  range holding every alternative (reported when that admits more versions), and a
  ``python`` union becomes an ``or`` marker, which PEP 508 can say.

Dependency tables map to PEP 508: ``extras``, ``markers``, ``python`` (a marker on
``python_version``/``python_full_version``), ``platform`` (``sys_platform``), ``url``
(a direct reference; a ``file:`` URL becomes a path source). A dependency from
elsewhere becomes a plain name and a ``[tool.shipyard.sources]`` entry
(:mod:`shipyard.formats.references`): ``{ git = URL, tag|branch|rev = …, subdirectory
= … }`` a git source, ``{ path = "…", develop = true }`` a path source (``develop``
is ``editable``; without it Poetry installs a directory non-editable, so the source
says ``editable = false``), ``{ file = "…" }`` a path source to the archive. With a
``[project]`` table (Poetry 2) those tables only add the source for a name that
``[project]`` requires. Per-package ``source`` (index) pins are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.formats.imported import Imported, ImportedRequirement, structure_checked
from shipyard.formats.references import direct_reference, git_source, path_source
from shipyard.formats.tomlfiles import TomlFile

__all__ = ["PoetryConstraint", "poetry_constraint", "read_poetry", "read_poetry_lock"]

_TOKEN = re.compile(r"(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*([0-9A-Za-z*][0-9A-Za-z.*+!_-]*)")


@dataclass(frozen=True, slots=True)
class PoetryConstraint:
    """A Poetry constraint in PEP 440 terms.

    :param specifier: the specifier text (``""`` for any version).
    :param alternatives: each ``||`` alternative's specifier clauses (for markers).
    :param widened: True when ``specifier`` admits versions the constraint did not
        (a union with a gap).
    """

    specifier: str
    alternatives: tuple[tuple[str, ...], ...]
    widened: bool = False


def _bump(release: tuple[int, ...], index: int) -> str:
    """The version after ``release`` at part ``index`` (0: major), as Poetry writes it."""
    parts = list(release[: index + 1]) + [0] * max(0, index + 1 - len(release))
    parts[index] += 1
    width = max(len(release), 1)
    parts += [0] * (width - len(parts))
    return ".".join(str(p) for p in parts[:width])


def _clauses(operator: str, text: str) -> list[str]:
    if text in ("*", "x", "X"):
        return []
    if operator in ("", "=", "==") and re.search(r"\.[*xX]$", text):
        return [f"=={re.sub(r'[xX]$', '*', text)}"]
    if operator in ("^", "~"):
        version = Version(text)
        precision = len(re.split(r"[^0-9.]", text, maxsplit=1)[0].strip(".").split("."))
        release = version.release[:precision]
        if operator == "^":
            index = next((i for i, part in enumerate(release) if part), len(release) - 1)
            if precision == 1:
                index = 0
        else:
            index = 0 if precision == 1 else 1
        return [f">={text}", f"<{_bump(release, index)}"]
    if operator in ("", "="):
        operator = "=="
    Specifier(f"{operator}{text}")  # raises InvalidSpecifier for nonsense
    return [f"{operator}{text}"]


def _bounds(clauses: tuple[str, ...]) -> tuple[Version | None, Version | None]:
    """(lowest admitted, first excluded above) of an alternative; ``None``: unbounded."""
    low: Version | None = None
    high: Version | None = None
    for clause in clauses:
        spec = Specifier(clause)
        text = spec.version.removesuffix(".*")
        version = Version(text)
        if spec.operator in (">=", ">", "~=", "==", "==="):
            low = version if low is None else max(low, version)
        if spec.operator in ("<", "<=", "==", "==="):
            top = version
            if spec.operator in ("<=", "==", "===") or spec.version.endswith(".*"):
                wildcard = spec.version.endswith(".*")
                top = (
                    Version(_bump(version.release, len(version.release) - 1))
                    if wildcard
                    else (Version(f"{version.public}.post999999"))
                )
            high = top if high is None else min(high, top)
    return low, high


def poetry_constraint(text: str) -> PoetryConstraint:
    """Translate a Poetry version constraint into PEP 440.

    :param text: e.g. ``"^1.2"``, ``"~2.0 || ^3"``, ``">= 1.0, < 2"``, ``"*"``.
    :raises ValueError: for text that is not a Poetry constraint (the message says why).
    """
    alternatives: list[tuple[str, ...]] = []
    for alternative in re.split(r"\s*\|\|?\s*", text.strip()):
        clauses: list[str] = []
        rest = alternative.replace(",", " ").strip()
        position = 0
        while position < len(rest):
            if rest[position].isspace():
                position += 1
                continue
            match = _TOKEN.match(rest, position)
            if match is None:
                raise ValueError(f"cannot read {rest[position:]!r}")
            try:
                clauses.extend(_clauses(match.group(1) or "", match.group(2)))
            except (InvalidVersion, InvalidSpecifier) as exc:
                raise ValueError(f"{match.group(0).strip()!r} is not a version constraint") from exc
            position = match.end()
        if not clauses:
            return PoetryConstraint("", ((),))
        alternatives.append(tuple(clauses))
    if len(alternatives) == 1:
        return PoetryConstraint(",".join(alternatives[0]), tuple(alternatives))
    bounds = sorted(
        (_bounds(a) for a in alternatives), key=lambda b: (b[0] is not None, b[0] or Version("0"))
    )
    low = bounds[0][0]
    high: Version | None = bounds[0][1]
    widened = False
    for start, end in bounds[1:]:
        if high is not None and (start is None or start > high):
            widened = True
        high = None if high is None or end is None else max(high, end)
    # exclusions (!=) inside an alternative are also lost by the hull
    widened = widened or any(c.startswith("!=") for a in alternatives for c in a)
    parts = ([f">={low}"] if low is not None else []) + ([f"<{high}"] if high is not None else [])
    return PoetryConstraint(",".join(parts), tuple(alternatives), widened)


def python_marker(text: str) -> str:
    """A PEP 508 marker for a Poetry ``python`` constraint (``^3.8`` →
    ``python_version >= "3.8" and python_version < "4.0"``).

    :raises ValueError: when ``text`` is not a Poetry constraint.
    """
    constraint = poetry_constraint(text)
    ors = []
    for alternative in constraint.alternatives:
        ands = []
        for clause in alternative:
            spec = Specifier(clause)
            version = spec.version
            if version.endswith(".*"):
                op = "==" if spec.operator == "==" else "!="
                ands.append(f'python_version {op} "{version.removesuffix(".*")}"')
                continue
            variable = "python_full_version" if version.count(".") >= 2 else "python_version"
            ands.append(f'{variable} {spec.operator} "{version}"')
        if not ands:
            return ""
        ors.append(" and ".join(ands))
    if len(ors) == 1:
        return ors[0]
    return " or ".join(f"({o})" if " and " in o else o for o in ors)


def _place(
    item: ImportedRequirement, table: Mapping[str, Any], imported: Imported, base: Path
) -> ImportedRequirement | None:
    """``item`` (a plain requirement) with the source its ``git``, ``path`` or ``file``
    key gives; ``item`` itself when the table has none of them."""
    where = item.origin
    if "git" in table:
        revision = next(
            ((key, str(table[key])) for key in ("tag", "branch", "rev") if table.get(key)), None
        )
        subdirectory = table.get("subdirectory")
        return git_source(
            imported,
            item.requirement,
            where,
            str(table["git"]),
            revision=revision,
            subdirectory=str(subdirectory) if subdirectory else None,
        )
    if "path" in table or "file" in table:
        target = str(table["path"] if "path" in table else table["file"])
        editable = table.get("develop") is True
        return path_source(imported, item.requirement, where, base, target, editable=editable)
    if item.requirement.url is not None:
        return direct_reference(imported, item.requirement, where, base)
    return item


def _requirement(
    name: str, value: Any, where: str, imported: Imported, base: Path
) -> list[tuple[ImportedRequirement, bool]]:
    """PEP 508 requirements for one Poetry dependency; (requirement, optional) pairs."""
    if isinstance(value, list):
        found = []
        for item in value:
            found.extend(_requirement(name, item, where, imported, base))
        return found
    table: Mapping[str, Any] = value if isinstance(value, dict) else {"version": value}
    placed = any(key in table for key in ("git", "path", "file"))
    if "source" in table and not placed:
        imported.problems.append(
            f"{where}: {name} is pinned to the source {table['source']!r}; shipyard searches "
            "every index for every package, so that pin is not kept."
        )
    extras = table.get("extras") or []
    head = f"{name}[{','.join(extras)}]" if extras else name
    if placed:
        text = head  # the source decides the version
    elif "url" in table:
        text = f"{head} @ {table['url']}"
    else:
        try:
            constraint = poetry_constraint(str(table.get("version", "*")))
        except ValueError as exc:
            imported.problems.append(
                f"{where}: {name}'s version {table.get('version')!r}: {exc}; left out."
            )
            return []
        if constraint.widened:
            imported.problems.append(
                f"{where}: {name} {table.get('version')!r} is a union PEP 440 cannot write; "
                f"it became {constraint.specifier or 'any version'}, which admits versions "
                "in between (the imported lock's pin is kept)."
            )
        text = head + constraint.specifier
    markers = []
    if table.get("python"):
        try:
            marker = python_marker(str(table["python"]))
        except ValueError as exc:
            imported.problems.append(
                f"{where}: {name}'s python {table['python']!r}: {exc}; ignored."
            )
            marker = ""
        if marker:
            markers.append(f"({marker})" if " or " in marker else marker)
    if table.get("platform"):
        markers.append(f'sys_platform == "{table["platform"]}"')
    if table.get("markers"):
        markers.append(f"({table['markers']})")
    if markers:
        text += " ; " + " and ".join(markers)
    if table.get("allow-prereleases"):
        imported.problems.append(
            f"{where}: {name} allows pre-releases; shipyard allows them per project only "
            "when a specifier names one (or with --prerelease allow)."
        )
    item = imported.requirement(text, where)
    if item is not None:
        item = _place(item, table, imported, base)
    return [] if item is None else [(item, bool(table.get("optional")))]


def _dependencies(
    toml: TomlFile, table_name: str, table: Any, imported: Imported
) -> list[tuple[ImportedRequirement, bool]]:
    found: list[tuple[ImportedRequirement, bool]] = []
    if not isinstance(table, dict):
        return found
    for name, value in table.items():
        if canonicalize_name(name) == "python":
            continue
        found.extend(
            _requirement(name, value, toml.where(table_name, name), imported, toml.path.parent)
        )
    return found


def _sources_only(toml: TomlFile, table: Any, imported: Imported) -> None:
    """Poetry 2: ``[tool.poetry.dependencies]`` only says where a name that ``[project]``
    requires comes from; record those sources (the requirements stay as written)."""
    if not isinstance(table, dict):
        return
    for name, value in table.items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict) and any(k in entry for k in ("git", "path", "file")):
                where = toml.where("tool.poetry.dependencies", name)
                item = imported.requirement(name, where)
                if item is not None:
                    _place(item, entry, imported, toml.path.parent)


@structure_checked("Poetry")
def read_poetry(toml: TomlFile) -> Imported:
    """Read a pyproject.toml's ``[tool.poetry]`` table (Poetry 1 and 2).

    With a ``[project]`` table (Poetry 2) the project's own dependencies are already
    PEP 621 and ``[tool.poetry.dependencies]`` only adds to them; the groups, extras
    and sources still come from ``[tool.poetry]``.

    :returns: what the table says; problems as ``file:line: what and why``.
    """
    data = toml.data
    poetry = data.get("tool", {}).get("poetry", {})
    imported = Imported()
    has_project = isinstance(data.get("project"), dict)
    imported.name = poetry.get("name")
    imported.version = poetry.get("version")
    imported.description = poetry.get("description")
    dependencies = poetry.get("dependencies", {}) or {}
    python = dependencies.get("python") if isinstance(dependencies, dict) else None
    if python and not has_project:
        try:
            constraint = poetry_constraint(str(python))
            imported.requires_python = constraint.specifier or None
        except ValueError as exc:
            imported.problems.append(
                f"{toml.where('tool.poetry.dependencies', 'python')}: python {python!r}: {exc}."
            )
    optional_names: dict[str, ImportedRequirement] = {}
    if has_project:
        _sources_only(toml, dependencies, imported)
    else:
        for item, optional in _dependencies(
            toml, "tool.poetry.dependencies", dependencies, imported
        ):
            if optional:
                optional_names[canonicalize_name(item.requirement.name)] = item
            else:
                imported.dependencies.append(item)
    extras = poetry.get("extras", {}) or {}
    for extra, names in extras.items():
        for name in names:
            chosen = optional_names.get(canonicalize_name(name))
            if chosen is None:
                imported.problems.append(
                    f"{toml.where('tool.poetry.extras', extra)}: the extra {extra} lists "
                    f"{name}, which is not an optional dependency; left out."
                )
                continue
            imported.optional.setdefault(extra, []).append(chosen)
    listed = {canonicalize_name(n) for names in extras.values() for n in names}
    for name, item in optional_names.items():
        if name not in listed:
            imported.problems.append(
                f"{item.origin}: {name} is optional but in no extra, so nothing installs it; "
                "left out."
            )
    defaults: list[str] = []
    legacy = poetry.get("dev-dependencies")
    if legacy:
        imported.groups["dev"] = [
            i for i, _ in _dependencies(toml, "tool.poetry.dev-dependencies", legacy, imported)
        ]
        defaults.append("dev")
    for group, table in (poetry.get("group", {}) or {}).items():
        items = _dependencies(
            toml, f"tool.poetry.group.{group}.dependencies", table.get("dependencies"), imported
        )
        imported.groups.setdefault(canonicalize_name(group), []).extend(i for i, _ in items)
        if table.get("optional"):
            imported.optional_groups.add(canonicalize_name(group))
        elif canonicalize_name(group) not in defaults:
            defaults.append(canonicalize_name(group))
    if sorted(defaults) != (["dev"] if "dev" in imported.groups else []):
        imported.default_groups = sorted(defaults)
    for script, target in (poetry.get("scripts", {}) or {}).items():
        if isinstance(target, str):
            imported.scripts[script] = target
        elif isinstance(target, dict) and target.get("callable"):
            imported.scripts[script] = str(target["callable"])
        else:
            imported.problems.append(
                f"{toml.where('tool.poetry.scripts', script)}: the script {script} is not a "
                "module:function entry point; left out."
            )
    _sources(toml, poetry.get("source", []) or [], imported)
    return imported


def _sources(toml: TomlFile, sources: list[Any], imported: Imported) -> None:
    primary: list[str] = []
    for source in sources:
        name = str(source.get("name", ""))
        url = source.get("url")
        priority = source.get("priority") or (
            "default"
            if source.get("default")
            else "supplemental"
            if source.get("secondary")
            else "primary"
        )
        where = toml.where("tool.poetry.source", "name")
        if name.lower() == "pypi" and not url:
            url = "https://pypi.org/simple"
        if not url:
            imported.problems.append(f"{where}: the source {name!r} has no url; left out.")
            continue
        if priority in ("default", "primary"):
            primary.append(url)
        elif priority == "supplemental":
            imported.extra_index_urls.append(url)
        else:
            imported.problems.append(
                f"{where}: the {priority} source {name!r} ({url}) is used only by packages "
                "pinned to it; shipyard has no per-package indexes, so it is not added."
            )
    if primary:
        # Poetry searches primary sources before PyPI and drops PyPI once any is given
        imported.index_url = primary[0]
        imported.extra_index_urls[:0] = primary[1:]


@structure_checked("Poetry")
def read_poetry_lock(toml: TomlFile) -> Imported:
    """The pins of a ``poetry.lock`` (every ``[[package]]``'s version).

    Packages from a ``git``/``directory``/``file`` source are not pinned: they are in
    ``unpinned``, reported unless the project's dependency carries the source over.
    """
    imported = Imported()
    for package in toml.data.get("package", []) or []:
        name, version = package.get("name"), package.get("version")
        if not name or not version:
            continue
        kind = (package.get("source") or {}).get("type")
        where = f"{toml.path}: [[package]] {name}"
        if kind in ("git", "directory", "file"):
            imported.unpinned[canonicalize_name(str(name))] = (
                f"{where} comes from a {kind} source; its pin is not kept."
            )
            continue
        imported.pin(name, str(version), where)
    return imported
