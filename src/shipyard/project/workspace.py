"""Workspaces: several projects in one repository, one lock and one environment.

The root ``pyproject.toml`` names its members::

    [tool.shipyard.workspace]
    members = ["packages/*"]
    exclude = ["packages/legacy"]

Every member is a project of its own (``[project]`` with a name). The root's lock
resolves the root's requirements and every member's together, each member as an
editable local directory (PEP 660, a PEP 751 ``directory`` entry relative to the
root), so one member requiring another gets the workspace's copy, never an index's
(``{ workspace = true }`` in ``[tool.shipyard.sources]`` says so explicitly). The
lock's ``requires-python`` is the intersection of the root's and the members'.
Commands run from a member's directory act on the workspace root.
"""

from __future__ import annotations

import glob
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet

from shipyard.errors import ManifestError

if TYPE_CHECKING:
    from shipyard.project.manifest import Project

__all__ = [
    "find_workspace_root",
    "join_workspace",
    "member_directories",
    "workspace_members",
    "workspace_requires_python",
]


def _patterns(table: Any, key: str, pyproject: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(
            f"[tool.shipyard.workspace] {key} must be an array of path patterns.",
            context=str(pyproject),
            hint=f'Write e.g. {key} = ["packages/*"].',
        )
    for pattern in value:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ManifestError(
                f"The workspace pattern {pattern!r} must stay inside the workspace.",
                context=str(pyproject),
                hint="Write member paths relative to the workspace root.",
            )
    return value


def member_directories(root: Path, tool: Any) -> list[Path]:
    """The member directories ``[tool.shipyard.workspace]`` of the project at ``root``
    names (``members`` globs minus ``exclude`` globs, each holding a pyproject.toml),
    sorted; empty when it is not a workspace.

    :raises ManifestError: for a malformed table, or a member pattern that matches
        a directory without pyproject.toml.
    """
    table = tool.get("workspace") if isinstance(tool, dict) else None
    if table is None:
        return []
    pyproject = root / "pyproject.toml"
    if not isinstance(table, dict):
        raise ManifestError(
            "[tool.shipyard.workspace] must be a table.",
            context=str(pyproject),
            hint='Write [tool.shipyard.workspace] with members = ["packages/*"].',
        )
    excluded = {
        Path(match).resolve()
        for pattern in _patterns(table, "exclude", pyproject)
        for match in glob.glob(str(root / pattern))
    }
    found: set[Path] = set()
    for pattern in _patterns(table, "members", pyproject):
        for match in sorted(glob.glob(str(root / pattern))):
            directory = Path(match).resolve()
            if not directory.is_dir() or directory in excluded or directory == root.resolve():
                continue
            if not (directory / "pyproject.toml").is_file():
                raise ManifestError(
                    f"The workspace member {directory.relative_to(root.resolve())} has no "
                    "pyproject.toml.",
                    context=str(pyproject),
                    hint="Add one (`shipyard init` there), or list it under exclude.",
                )
            found.add(directory)
    return sorted(found)


def workspace_members(project: Project) -> tuple[Project, ...]:
    """The members of the workspace rooted at ``project`` (none when it is not one).

    :raises ManifestError: for a member that is not a valid project, or two members
        (or a member and the root) with the same name.
    """
    from shipyard.project.manifest import load_project

    members = tuple(load_project(d) for d in member_directories(project.root, project.tool))
    seen = {project.canonical_name: project.root}
    for member in members:
        other = seen.get(member.canonical_name)
        if other is not None:
            raise ManifestError(
                f"Two workspace projects are named {member.name!r}: {other} and {member.root}.",
                context=str(project.pyproject),
                hint="Give each member its own [project] name.",
            )
        seen[member.canonical_name] = member.root
    return members


def workspace_requires_python(project: Project, members: Sequence[Project]) -> SpecifierSet | None:
    """The intersection of the root's and the members' ``requires-python``."""
    combined = project.requires_python
    for member in members:
        if member.requires_python is not None:
            combined = (
                member.requires_python if combined is None else combined & member.requires_python
            )
    return combined


def find_workspace_root(directory: Path) -> Path | None:
    """The root of the workspace whose members include ``directory`` (a project
    directory), looking in the directories above it; ``None`` when there is none."""
    directory = directory.resolve()
    for parent in directory.parents:
        pyproject = parent / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            continue
        if "workspace" not in text:
            continue
        try:
            tool = tomllib.loads(text).get("tool", {}).get("shipyard", {})
            if directory in member_directories(parent, tool):
                return parent
        except (tomllib.TOMLDecodeError, ManifestError, AttributeError):
            continue
    return None


def join_workspace(directory: Path) -> Path | None:
    """Make the new project at ``directory`` a member of the workspace it lies in: add
    its path to the nearest enclosing workspace's ``members`` unless a pattern there
    already matches it (an ``exclude`` keeps it out, as written).

    :returns: the workspace root, or ``None`` when no workspace encloses ``directory``.
    :raises ManifestError: when the workspace's pyproject.toml cannot be read.
    """
    import tomlkit

    from shipyard.atomic import atomic_write_text

    directory = directory.resolve()
    for parent in directory.parents:
        pyproject = parent / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            continue
        try:
            tool = tomllib.loads(text).get("tool", {}).get("shipyard", {})
        except tomllib.TOMLDecodeError as exc:
            raise ManifestError(
                f"pyproject.toml is not valid TOML: {exc}.", context=str(pyproject)
            ) from exc
        if not isinstance(tool, dict) or not isinstance(tool.get("workspace"), dict):
            continue
        excluded = {
            Path(match).resolve()
            for pattern in _patterns(tool["workspace"], "exclude", pyproject)
            for match in glob.glob(str(parent / pattern))
        }
        if directory in member_directories(parent, tool) or directory in excluded:
            return parent
        document = tomlkit.parse(text)
        workspace: Any = document["tool"]["shipyard"]["workspace"]
        if "members" not in workspace:
            workspace["members"] = tomlkit.array()
        workspace["members"].append(directory.relative_to(parent).as_posix())
        atomic_write_text(pyproject, tomlkit.dumps(document))
        return parent
    return None
