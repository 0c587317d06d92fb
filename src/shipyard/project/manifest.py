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
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from shipyard.atomic import atomic_write_bytes
from shipyard.errors import ManifestError, RequirementError

__all__ = [
    "LOCK_FORMAT",
    "ManifestEditor",
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
        sources = self.tool.get("sources")
        path_manifests: dict[str, str] = {}
        for name, entry in sorted(sources.items() if isinstance(sources, dict) else ()):
            # A path source's own requirements are part of what the lock resolves.
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                try:
                    text = (self.root / entry["path"] / PYPROJECT).read_bytes()
                except OSError:
                    continue
                path_manifests[name] = hashlib.sha256(text).hexdigest()
        from shipyard.project.workspace import member_directories

        for member in member_directories(self.root, self.tool):
            text = (member / PYPROJECT).read_bytes()
            relative = member.relative_to(self.root.resolve()).as_posix()
            path_manifests[f"workspace:{relative}"] = hashlib.sha256(text).hexdigest()
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


class ManifestEditor:
    """Edits pyproject.toml with tomlkit, keeping comments and layout.

    The original bytes are kept: :meth:`restore` writes them back byte for byte.
    """

    def __init__(self, path: Path) -> None:
        import tomlkit

        self.path = path
        self.original = path.read_bytes()
        try:
            self.document = tomlkit.parse(self.original.decode("utf-8"))
        except Exception as exc:
            raise ManifestError(
                f"pyproject.toml is not valid TOML: {exc}.", context=str(path)
            ) from exc

    def _list(self, group: str | None, optional: str | None, create: bool) -> Any:
        """The tomlkit array holding that list (created when ``create``), or ``None``."""
        import tomlkit

        doc = self.document
        if group is not None:
            if "dependency-groups" not in doc:
                if not create:
                    return None
                doc.add(tomlkit.nl())
                doc["dependency-groups"] = tomlkit.table()
            return _named_array(doc["dependency-groups"], group, create)
        project = doc.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        if optional is not None:
            if "optional-dependencies" not in project:
                if not create:
                    return None
                project["optional-dependencies"] = tomlkit.table()
            return _named_array(project["optional-dependencies"], optional, create)
        return _named_array(project, "dependencies", create, normalize=False)

    def add(
        self, requirement: Requirement, *, group: str | None = None, optional: str | None = None
    ) -> None:
        """Add ``requirement``, replacing an existing entry for the same project in that list."""
        array = self._list(group, optional, create=True)
        _put(array, str(requirement), canonicalize_name(requirement.name), _entry_name)

    def remove(self, name: str, *, group: str | None = None, optional: str | None = None) -> bool:
        """Remove every entry for ``name`` from that list; returns False when none was there."""
        array = self._list(group, optional, create=False)
        return array is not None and _drop(array, canonicalize_name(name), _entry_name)

    def set_requirement_text(
        self, name: str, text: str, *, group: str | None = None, optional: str | None = None
    ) -> None:
        """Replace the entry for ``name`` in that list with ``text`` (after ``add``)."""
        array = self._list(group, optional, create=False)
        if array is None:
            return
        wanted = canonicalize_name(name)
        for index, item in enumerate(list(array)):
            if isinstance(item, str) and _entry_name(item) == wanted:
                array[index] = text

    def _conda_specs(self, platform: str | None, create: bool) -> Any:
        """The tomlkit array of ``[tool.shipyard.conda] dependencies`` (or of
        ``[tool.shipyard.conda.target.<platform>]``), created when ``create``."""
        import tomlkit

        table: Any = self.document
        path = ["tool", "shipyard", "conda"] + (["target", platform] if platform else [])
        for index, key in enumerate(path):
            if key not in table:
                if not create:
                    return None
                if index == 0:
                    self.document.add(tomlkit.nl())
                # tool, tool.shipyard and …conda.target hold only tables: no empty headers.
                table[key] = tomlkit.table(is_super_table=index < 2 or key == "target")
            table = table[key]
        if "dependencies" not in table:
            if not create:
                return None
            array = tomlkit.array()
            array.multiline(True)
            table["dependencies"] = array
        return table["dependencies"]

    def add_conda(self, spec: str, *, platform: str | None = None) -> None:
        """Add a conda MatchSpec, replacing the existing spec for the same package."""
        from shipyard.conda.config import spec_name

        _put(self._conda_specs(platform, create=True), spec, spec_name(spec), spec_name)

    def remove_conda(self, name: str, *, platform: str | None = None) -> bool:
        """Remove the conda specs for package ``name``; returns False when there was none."""
        from shipyard.conda.config import spec_name

        array = self._conda_specs(platform, create=False)
        return array is not None and _drop(array, spec_name(name), spec_name)

    def set_tool_value(self, key: str, value: Any, *, conda: bool = False) -> None:
        """Set ``[tool.shipyard] key`` (or ``[tool.shipyard.conda] key``) to ``value``."""
        import tomlkit

        table: Any = self.document
        for index, name in enumerate(["tool", "shipyard"] + (["conda"] if conda else [])):
            if name not in table:
                table[name] = tomlkit.table(is_super_table=index == 0)
            table = table[name]
        if isinstance(value, list):
            array = tomlkit.array()
            array.extend(value)
            if len(value) > 2:
                array.multiline(True)
            value = array
        table[key] = value

    def set_source(self, name: str, entry: Mapping[str, Any]) -> None:
        """Set ``[tool.shipyard.sources] name`` to the inline table ``entry``."""
        import tomlkit

        table: Any = self.document
        for index, key in enumerate(["tool", "shipyard", "sources"]):
            if key not in table:
                table[key] = tomlkit.table(is_super_table=index == 0)
            table = table[key]
        inline = tomlkit.inline_table()
        inline.update(entry)
        table[name] = inline

    def has_project_table(self) -> bool:
        """Whether the document has a ``[project]`` table."""
        return "project" in self.document

    def ensure_project(
        self, name: str, *, version: str | None = None, description: str | None = None
    ) -> bool:
        """Create ``[project]`` (name, version, description, empty dependencies) at the top
        when it is missing; returns True when it was created."""
        import tomlkit

        if "project" in self.document:
            return False
        table = tomlkit.table()
        table["name"] = name
        table["version"] = version or "0.1.0"
        if description:
            table["description"] = description
        table["dependencies"] = tomlkit.array()
        # [project] first, as PEP 621 projects are written
        body = list(self.document.body)
        leading = 0  # comments at the top stay there
        while leading < len(body) and body[leading][0] is None:
            leading += 1
        new = tomlkit.document()
        for _, item in body[:leading]:
            new.add(item)
        new["project"] = table
        new.add(tomlkit.nl())
        for key, item in body[leading:]:
            if key is None:
                new.add(item)
            else:
                new.append(key, item)
        self.document = new
        return True

    def set_project_value(self, key: str, value: Any) -> None:
        """Set ``[project] key`` (``scripts`` takes a table of name → entry point)."""
        import tomlkit

        project = self.document.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        if isinstance(value, dict):
            table = project.get(key)
            if table is None:
                table = tomlkit.table()
                project[key] = table
            for name, item in value.items():
                table[name] = item
            return
        project[key] = value

    def remove_build_system(self) -> None:
        """Drop ``[build-system]`` (a Poetry project in non-package mode has nothing to build)."""
        if "build-system" in self.document:
            del self.document["build-system"]

    def set_requires_python(self, text: str) -> None:
        """Set ``[project] requires-python``."""
        project = self.document.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        project["requires-python"] = text

    def text(self) -> str:
        """The edited document."""
        import tomlkit

        return tomlkit.dumps(self.document)

    def write(self) -> None:
        """Write the edited document atomically."""
        atomic_write_bytes(self.path, self.text().encode("utf-8"))

    def restore(self) -> None:
        """Put the original bytes back (atomically)."""
        atomic_write_bytes(self.path, self.original)


def _put(array: Any, text: str, key: str, key_of: Callable[[str], str | None]) -> None:
    """Replace the entry of ``array`` whose ``key_of`` is ``key`` with ``text``, or append."""
    for index, item in enumerate(list(array)):
        if isinstance(item, str) and key_of(item) == key:
            array[index] = text
            return
    array.append(text)
    if hasattr(array, "multiline"):
        array.multiline(True)


def _drop(array: Any, key: str, key_of: Callable[[str], str | None]) -> bool:
    """Remove every entry whose ``key_of`` is ``key``; returns whether any was there."""
    indexes = [
        i for i, item in enumerate(list(array)) if isinstance(item, str) and key_of(item) == key
    ]
    for index in reversed(indexes):
        del array[index]
    return bool(indexes)


def _named_array(table: Any, name: str, create: bool, *, normalize: bool = True) -> Any:
    """``table[name]`` (matching PEP 503-normalized keys when ``normalize``), created as an
    empty multi-line array when missing and ``create``; ``None`` when missing otherwise."""
    wanted = canonicalize_name(name) if normalize else name
    key = next((k for k in table if (canonicalize_name(k) if normalize else k) == wanted), None)
    if key is None:
        if not create:
            return None
        import tomlkit

        array = tomlkit.array()
        array.multiline(True)
        table[name] = array
        key = name
    return table[key]


def _entry_name(text: str) -> str | None:
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None


def group_names(project: Project, requested: Sequence[str]) -> list[str]:
    """Validate requested group names against the project's groups.

    :raises ManifestError: naming the unknown group and listing the known ones.
    """
    known = set(project.dependency_groups)
    result: list[str] = []
    for name in requested:
        canonical = canonicalize_name(name)
        if canonical not in known:
            listing = ", ".join(sorted(known)) or "none"
            raise ManifestError(
                f"The project has no dependency group {name!r} (it has: {listing}).",
                context=str(project.pyproject),
                hint="Add it with `shipyard add --group NAME REQ`, or check the spelling.",
            )
        result.append(canonical)
    return result
