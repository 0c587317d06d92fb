"""Projects shipyard writes for itself: the environment of a script or of a tool.

A PEP 723 script and a tool (``shipyard x ruff``, ``tool install black``) each get a
small project of their own — a ``pyproject.toml`` made from their requirements, a
``pylock.toml`` and a ``.venv`` — in a directory shipyard owns (the cache for
scripts and one-off tools, the tool directory for installed tools). They are then
locked and synced by the same code as any project, and the environment stamp lets
the second run start at no-op speed.

Unless the lock is meant to travel (``lock --script``), the lock targets only the
interpreter found for it, as ``uv run`` and ``uvx`` resolve for the interpreter they
run on: a tool needs no fork per Python minor and platform.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from shipyard.models import Interpreter
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = ["EphemeralSpec", "ephemeral_key", "prepare_ephemeral_project"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EphemeralSpec:
    """What an ephemeral project holds.

    :param name: its ``[project] name`` (``script`` for scripts, the tool's name).
    :param dependencies: PEP 508 requirement strings, in order.
    :param requires_python: a PEP 440 specifier or ``None``.
    :param tool: the ``[tool.shipyard]`` table (indexes, sources …) to write.
    :param universal: lock for every default target (a lock that travels, such as
        ``script.py.lock``); otherwise only for the interpreter found.
    """

    name: str
    dependencies: tuple[str, ...]
    requires_python: str | None = None
    tool: Mapping[str, Any] = field(default_factory=dict)
    universal: bool = False


def ephemeral_key(*parts: str) -> str:
    """A directory name for the ephemeral project made from ``parts`` (24 hex digits of
    their sha256, the parts separated by NUL)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _marker_for(interpreter: Interpreter) -> str:
    """A marker that holds only where ``interpreter`` runs (its minor, OS and machine)."""
    markers = interpreter.markers
    return (
        f"python_version == '{markers['python_version']}' and "
        f"sys_platform == '{markers['sys_platform']}' and "
        f"platform_machine == '{markers['platform_machine']}'"
    )


def _document(spec: EphemeralSpec, environments: Sequence[str]) -> dict[str, Any]:
    project: dict[str, Any] = {"name": spec.name, "version": "0"}
    if spec.requires_python:
        project["requires-python"] = spec.requires_python
    project["dependencies"] = list(spec.dependencies)
    document: dict[str, Any] = {"project": project}
    tool = dict(spec.tool)
    if environments:
        tool["environments"] = list(environments)
    if tool:
        document["tool"] = {"shipyard": tool}
    return document


def _stand_in(root: Path, requires_python: SpecifierSet | None) -> Project:
    from shipyard.project.manifest import Project

    return Project(
        root=root,
        name="ephemeral",
        version="0",
        requires_python=requires_python,
        dependencies=(),
        optional_dependencies={},
        dependency_groups={},
    )


def prepare_ephemeral_project(root: Path, spec: EphemeralSpec, services: Services) -> Project:
    """Write (when it differs) ``root/pyproject.toml`` for ``spec`` and read it back.

    Unless ``spec.universal``, the interpreter the environment will use is found first
    (downloaded when allowed and nothing on the machine fits) and the lock targets it
    alone through ``[tool.shipyard] environments``. An existing manifest with the same
    requirements keeps its target, so a second run finds nothing to do.

    :param root: the project's directory (created when missing).
    :returns: the project, ready for :func:`~shipyard.project.syncing.sync_project`.
    :raises InterpreterNotFoundError: when no interpreter fits ``requires-python`` and
        the ``--python`` request.
    :raises ManifestError: when a requirement or ``requires-python`` is invalid.
    """
    import tomllib

    import tomlkit
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from shipyard.atomic import atomic_write_bytes
    from shipyard.errors import ManifestError
    from shipyard.project.manifest import PYPROJECT, load_project

    root.mkdir(parents=True, exist_ok=True)
    path = root / PYPROJECT
    try:
        requires_python = SpecifierSet(spec.requires_python) if spec.requires_python else None
    except InvalidSpecifier as exc:
        raise ManifestError(
            f"Invalid requires-python {spec.requires_python!r}: {exc}.",
            hint='Write it like ">=3.10".',
        ) from exc
    environments: list[str] = []
    if not spec.universal:
        try:
            existing = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = {}
        previous = existing.get("tool", {}).get("shipyard", {}).get("environments", [])
        if (
            previous
            and not services.cli_python
            and _document(spec, previous) == existing
            and _python_unchanged(root)
        ):
            environments = list(previous)
        else:
            from shipyard.project.environment import find_project_interpreter

            interpreter = find_project_interpreter(_stand_in(root, requires_python), services)
            environments = [_marker_for(interpreter)]
    text = tomlkit.dumps(_document(spec, environments)).encode()
    try:
        current = path.read_bytes()
    except OSError:
        current = None
    if current != text:
        atomic_write_bytes(path, text)
    return load_project(root)


def _python_unchanged(root: Path) -> bool:
    """True when the environment made last time still has its interpreter (a managed
    Python removed since then asks for the target to be found again)."""
    from shipyard.venv import inspect_venv

    env = inspect_venv(root / ".venv")
    return env is not None and env.python.exists()


def spec_digest(spec: EphemeralSpec) -> str:
    """A stable digest of ``spec`` (JSON, sorted keys), for keys and receipts."""
    data = {
        "name": spec.name,
        "dependencies": list(spec.dependencies),
        "requires-python": spec.requires_python,
        "tool": spec.tool,
        "universal": spec.universal,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
