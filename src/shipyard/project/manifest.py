"""The manifest: ``[project]``, ``[dependency-groups]`` and ``[tool.shipyard]`` of pyproject.toml.

Reading uses ``tomllib`` and validates what shipyard relies on (PEP 621 name,
requirement strings, requires-python, PEP 735 groups with ``include-group``),
reporting the key that is wrong. Editing uses ``tomlkit`` so comments and
layout survive ``add``/``remove``; :class:`ManifestEditor` keeps the original
bytes so a failed operation puts them back exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError, RequirementError

__all__ = [
    "LOCK_FORMAT",
    "Project",
    "find_project",
    "load_project",
    "parse_requirement",
]

#: Bump when the lock's content for the same inputs changes (forces a re-lock).
LOCK_FORMAT = 1
PYPROJECT = "pyproject.toml"


def parse_requirement(text: str, *, where: str = "the command line") -> Requirement:
    """Parse a PEP 508 requirement string.

    :param where: where it was written, for the error message.
    :raises RequirementError: naming the string, the place and the parser's complaint.
    """
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        import re

        detail = str(exc).splitlines()[0]
        hint = (
            "Write it as PEP 508 says, e.g. 'pandas>=2.2' or "
            "'uvicorn[standard]; python_version >= \"3.10\"'."
        )
        single = re.match(
            r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?)\s*=\s*([^=<>~!\s]+)\s*$", text
        )
        if single:  # Poetry's and conda's habit: name=version
            hint = f"Did you mean '{single.group(1)}=={single.group(3)}'? PEP 508 pins with '=='."
        raise RequirementError(
            f"Invalid requirement {text!r} in {where}: {detail}.", hint=hint
        ) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A project: a directory with a pyproject.toml.

    :param root: the directory; :param name: ``[project].name`` as written
        (canonical form: :attr:`canonical_name`).
    :param dependency_groups: group → requirements, ``include-group`` expanded (PEP 735).
    :param tool: the ``[tool.shipyard]`` table (empty when absent).
    :param has_build_system: True when ``[build-system]`` exists: the project is then
        installed into its environment, editable.
    :param constraint_dependencies: ``[tool.shipyard] constraint-dependencies``: version
        limits applied whenever those projects are installed, never requiring them.
    """

    root: Path
    name: str
    version: str | None
    requires_python: SpecifierSet | None
    dependencies: tuple[Requirement, ...]
    optional_dependencies: Mapping[str, tuple[Requirement, ...]]
    dependency_groups: Mapping[str, tuple[Requirement, ...]]
    tool: Mapping[str, Any] = field(default_factory=dict)
    has_build_system: bool = False
    constraint_dependencies: tuple[Requirement, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pyproject(self) -> Path:
        """Path of pyproject.toml."""
        return self.root / PYPROJECT

    @property
    def canonical_name(self) -> str:
        """The PEP 503 normalized name."""
        return canonicalize_name(self.name)

    @property
    def default_groups(self) -> tuple[str, ...]:
        """Groups ``sync`` installs unless told otherwise: ``[tool.shipyard] default-groups``,
        else ``dev`` when the project has it (as uv does)."""
        configured = self.tool.get("default-groups")
        if isinstance(configured, list):
            return tuple(canonicalize_name(g) for g in configured)
        return ("dev",) if "dev" in self.dependency_groups else ()

    def input_hash(self, settings_inputs: Mapping[str, Any]) -> str:
        """A digest of everything that decides the lock's content.

        :param settings_inputs: effective settings that change the resolution (indexes,
            find-links, binary choices, environments …).
        :returns: ``"sha256:<hex>"``.
        """
        data = {
            "format": LOCK_FORMAT,
            "name": self.canonical_name,
            "requires-python": str(self.requires_python) if self.requires_python else None,
            "dependencies": sorted(str(r) for r in self.dependencies),
            "optional-dependencies": {
                k: sorted(str(r) for r in v) for k, v in sorted(self.optional_dependencies.items())
            },
            "dependency-groups": {
                k: sorted(str(r) for r in v) for k, v in sorted(self.dependency_groups.items())
            },
            "build-system": self.has_build_system,
            "default-groups": list(self.default_groups),
            "environments": list(self.tool.get("environments", []) or []),
            "constraint-dependencies": sorted(str(r) for r in self.constraint_dependencies),
            "settings": dict(sorted(settings_inputs.items())),
        }
        if self.tool.get("conda") is not None:
            data["conda"] = self.tool["conda"]
        for key in ("sources", "index"):  # where packages come from
            if self.tool.get(key) is not None:
                data[key] = self.tool[key]
        from shipyard.project.sources import path_source_manifests

        # The requirements of path sources and workspace members are part of what the
        # lock resolves: their manifests count as inputs.
        path_manifests: dict[str, str] = {}
        for manifest in path_source_manifests(self):
            relative = os.path.relpath(manifest, self.root.resolve())
            path_manifests[Path(relative).as_posix()] = hashlib.sha256(
                manifest.read_bytes()
            ).hexdigest()
        if path_manifests:
            data["path-manifests"] = path_manifests
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return f"sha256:{digest}"


def find_project(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a pyproject.toml, or the
    root of the workspace it is a member of.

    :raises ManifestError: when there is none.
    """
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / PYPROJECT).is_file():
            from shipyard.project.workspace import find_workspace_root

            # A workspace member is worked on from its workspace: one lock, one .venv.
            return find_workspace_root(directory) or directory
    raise ManifestError(
        "No pyproject.toml found in this directory or any parent.",
        context=str(start),
        hint="Run `shipyard init` to create a project, or cd into one.",
    )


def _requirements(values: Any, where: str) -> tuple[Requirement, ...]:
    if not isinstance(values, list):
        raise ManifestError(f"{where} must be a list of requirement strings.", context=PYPROJECT)
    result = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ManifestError(
                f"{where}[{index}] must be a string, not {type(value).__name__}.",
                context=PYPROJECT,
            )
        try:
            result.append(Requirement(value))
        except InvalidRequirement as exc:
            raise ManifestError(
                f"Invalid requirement {value!r} in {where}: {str(exc).splitlines()[0]}.",
                context=PYPROJECT,
                hint="Fix it as PEP 508 says, e.g. 'pandas>=2.2'.",
            ) from exc
    return tuple(result)


def _groups(table: Any) -> dict[str, tuple[Requirement, ...]]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ManifestError("[dependency-groups] must be a table.", context=PYPROJECT)
    from packaging.dependency_groups import (
        CyclicDependencyGroup,
        DependencyGroupInclude,
        DependencyGroupResolver,
        DuplicateGroupNames,
        InvalidDependencyGroupObject,
    )

    try:
        resolver = DependencyGroupResolver(table)
        groups: dict[str, tuple[Requirement, ...]] = {}
        for name in table:
            items = resolver.resolve(name)
            groups[canonicalize_name(name)] = tuple(
                r for r in items if not isinstance(r, DependencyGroupInclude)
            )
        return groups
    except (CyclicDependencyGroup, DuplicateGroupNames, InvalidDependencyGroupObject) as exc:
        raise ManifestError(f"Invalid [dependency-groups]: {exc}.", context=PYPROJECT) from exc
    except (LookupError, ValueError, TypeError, InvalidRequirement, ExceptionGroup) as exc:
        # packaging reports several problems at once as an ExceptionGroup: show the first.
        first: BaseException = exc
        while isinstance(first, BaseExceptionGroup) and first.exceptions:
            first = first.exceptions[0]
        raise ManifestError(
            f"Invalid [dependency-groups]: {first}.",
            context=PYPROJECT,
            hint="Each group is a list of requirement strings or "
            '{include-group = "name"} (PEP 735).',
        ) from exc


def _toml_error(path: Path, exc: Exception) -> ManifestError:
    """A TOML syntax error as ``path:line`` with the line itself in the message
    (``tomllib`` says "at end of document" for an unclosed array or table: the last
    line is shown then)."""
    import re

    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines() or [""]
    found = re.search(r"at line (\d+)", str(exc))
    number = int(found.group(1)) if found else len(lines)
    number = min(max(number, 1), len(lines))
    shown = lines[number - 1].strip()
    reason = re.sub(r"\s*\(at [^)]*\)", "", str(exc))
    return ManifestError(
        f"pyproject.toml is not valid TOML: {reason} (line {number}: {shown!r}).",
        context=f"{path}:{number}",
        hint="Fix the syntax on that line (an unclosed bracket or quote may start earlier).",
    )


def load_project(root: Path) -> Project:
    """Read and validate ``root/pyproject.toml``.

    :raises ManifestError: when it is missing, not TOML, or has invalid values.
    """
    path = root / PYPROJECT
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(
            "There is no pyproject.toml here.",
            context=str(root),
            hint="Run `shipyard init` first.",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError("pyproject.toml is not UTF-8 text.", context=str(path)) from exc
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise _toml_error(path, exc) from exc
    project = data.get("project")
    if not isinstance(project, dict):
        raise ManifestError(
            "pyproject.toml has no [project] table.",
            context=str(path),
            hint='Add [project] with at least name = "..." (PEP 621), or run `shipyard init`.',
        )
    name = project.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ManifestError(
            "[project] has no name.",
            context=str(path),
            hint='Add name = "my-project" under [project].',
        )
    requires_python = None
    if "requires-python" in project:
        try:
            requires_python = SpecifierSet(str(project["requires-python"]))
        except InvalidSpecifier as exc:
            raise ManifestError(
                f"Invalid requires-python {project['requires-python']!r}: {exc}.",
                context=str(path),
                hint='Write it like ">=3.10".',
            ) from exc
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise ManifestError("[project.optional-dependencies] must be a table.", context=str(path))
    tools = data.get("tool", {})
    if not isinstance(tools, dict):
        raise ManifestError("[tool] must be a table.", context=str(path))
    tool = tools.get("shipyard", {})
    if not isinstance(tool, dict):
        raise ManifestError("[tool.shipyard] must be a table.", context=str(path))
    constraints = _requirements(
        tool.get("constraint-dependencies", []), "[tool.shipyard] constraint-dependencies"
    )
    for requirement in constraints:
        if requirement.url or requirement.extras:
            raise ManifestError(
                f"The constraint {str(requirement)!r} has "
                f"{'a URL' if requirement.url else 'extras'}; constraints only limit versions.",
                context=str(path),
                hint="Write it as 'name<specifier>' with an optional '; marker'.",
            )
    return Project(
        root=root,
        name=name,
        version=str(project["version"]) if "version" in project else None,
        requires_python=requires_python,
        dependencies=_requirements(project.get("dependencies", []), "[project].dependencies"),
        optional_dependencies={
            canonicalize_name(k): _requirements(v, f"[project.optional-dependencies].{k}")
            for k, v in optional.items()
        },
        dependency_groups=_groups(data.get("dependency-groups")),
        tool=tool,
        has_build_system=isinstance(data.get("build-system"), dict),
        constraint_dependencies=constraints,
        raw=data,
    )


def group_names(project: Project, requested: Sequence[str]) -> list[str]:
    """Validate requested group names against the project's groups.

    :raises ManifestError: naming the unknown group, listing the known ones, and
        suggesting the closest when one is close (a misspelling).
    """
    known = set(project.dependency_groups)
    result: list[str] = []
    for name in requested:
        canonical = canonicalize_name(name)
        if canonical not in known:
            import difflib

            listing = ", ".join(sorted(known)) or "none"
            close = difflib.get_close_matches(canonical, sorted(known), n=1, cutoff=0.6)
            guess = f"Did you mean {close[0]!r}? " if close else ""
            raise ManifestError(
                f"The project has no dependency group {name!r} (it has: {listing}).",
                context=str(project.pyproject),
                hint=f"{guess}Add it with `shipyard add --group NAME REQ`, or check the spelling.",
            )
        result.append(canonical)
    return result
