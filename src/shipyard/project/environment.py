"""The project's environment: which interpreter, and a ``.venv`` made from it.

The interpreter request comes from, highest first: ``--python``,
``.python-version`` in the project (or a parent), ``SHIPYARD_PYTHON`` /
``[tool.shipyard] python``, and finally ``requires-python`` alone. An existing
``.venv`` is kept when its interpreter still satisfies the request; otherwise
it is rebuilt and the reporter says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet

from shipyard.models import Interpreter
from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = [
    "ProjectEnvironment",
    "ensure_environment",
    "find_project_interpreter",
    "python_request_text",
]

VENV_DIRNAME = ".venv"


def python_request_text(project: Project, services: Services) -> tuple[str | None, str]:
    """The interpreter request and where it came from (for messages)."""
    if services.cli_python:
        return services.cli_python, "--python"
    for directory in (project.root, *project.root.parents):
        pin = directory / ".python-version"
        if pin.is_file():
            for line in pin.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    return line, str(pin)
            break
    if services.settings.python:
        return services.settings.python, "[tool.shipyard] python / SHIPYARD_PYTHON"
    return None, "requires-python"


def find_project_interpreter(project: Project, services: Services) -> Interpreter:
    """The interpreter the project's environment should use.

    :raises InterpreterNotFoundError: when nothing on the machine fits.
    """
    from shipyard.python.discovery import find_interpreter, parse_python_request

    text, _source = python_request_text(project, services)
    request = parse_python_request(text)
    return find_interpreter(
        request, requires_python=project.requires_python, cache_dir=services.cache.root
    )


@dataclass(frozen=True, slots=True)
class ProjectEnvironment:
    """The project's virtual environment and the probed facts of its interpreter."""

    root: Path
    interpreter: Interpreter
    created: bool


def _satisfies(
    interpreter: Interpreter, request: str | None, requires_python: SpecifierSet | None
) -> bool:
    from shipyard.python.discovery import parse_python_request

    if requires_python is not None and not requires_python.contains(
        interpreter.markers["python_full_version"], prereleases=True
    ):
        return False
    return parse_python_request(request).satisfied_by(interpreter)


def ensure_environment(project: Project, services: Services) -> ProjectEnvironment:
    """Make sure ``.venv`` exists and uses a fitting interpreter; create or rebuild it.

    :raises InterpreterNotFoundError: when no interpreter fits.
    :raises InstallError: when ``.venv`` exists but is not a virtual environment.
    """
    from shipyard.python.probe import probe_interpreter
    from shipyard.venv import create_venv, inspect_venv

    root = project.root / VENV_DIRNAME
    request, source = python_request_text(project, services)
    existing = inspect_venv(root)
    if existing is not None and existing.python.exists():
        try:
            interpreter = probe_interpreter(existing.python, cache_dir=services.cache.root)
        except Exception:  # a broken environment (its base interpreter was removed)
            interpreter = None
        if interpreter is not None and _satisfies(interpreter, request, project.requires_python):
            return ProjectEnvironment(root, interpreter, created=False)
        services.reporter.warning(
            f"Rebuilding .venv: its Python {existing.version} does not satisfy "
            f"{request or project.requires_python} (from {source})."
        )
    base = find_project_interpreter(project, services)
    create_venv(root, base, prompt=project.name, clear=existing is not None)
    env = inspect_venv(root)
    assert env is not None
    interpreter = probe_interpreter(env.python, cache_dir=services.cache.root)
    return ProjectEnvironment(root, interpreter, created=True)
