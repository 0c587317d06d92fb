"""The ``init`` use case: write a new project's pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import canonicalize_name

from shipyard.atomic import atomic_write_text
from shipyard.errors import ManifestError, UsageError

__all__ = ["init_project"]

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def init_project(
    path: Path,
    *,
    name: str | None = None,
    requires_python: str,
    python_pin: str | None = None,
    lib: bool = False,
    bare: bool = False,
) -> Path:
    """Create a project at ``path`` (created if missing).

    :param requires_python: written as ``requires-python``, e.g. ``">=3.11"``.
    :param python_pin: when given, written to ``.python-version``.
    :param lib: add a ``[build-system]`` (hatchling) and a ``src/<package>`` layout, so
        the project is installed editable into its environment; otherwise an
        application with no build system.
    :param bare: write pyproject.toml (and ``.gitignore``) only, no sample code or README
        (``init --from``: the project's code already exists).
    :returns: the path of the new pyproject.toml.
    :raises ManifestError: when a pyproject.toml already exists there.
    :raises UsageError: when the name is not a valid project name (PEP 508).
    """
    path = path.resolve()
    pyproject = path / "pyproject.toml"
    if pyproject.exists():
        raise ManifestError(
            "A project already exists here; shipyard will not overwrite it.",
            context=str(pyproject),
            hint="Use `shipyard add` to change it, or choose another directory.",
        )
    project_name = name or path.name
    if not _NAME.match(project_name):
        raise UsageError(
            f"{project_name!r} is not a valid project name.",
            hint="Use letters, digits, '-', '_' and '.', starting and ending with a letter "
            "or digit; pass --name.",
        )
    path.mkdir(parents=True, exist_ok=True)
    package = canonicalize_name(project_name).replace("-", "_")
    lines = [
        "[project]",
        f'name = "{project_name}"',
        'version = "0.1.0"',
        'description = ""',
        *([] if bare else ['readme = "README.md"']),
        f'requires-python = "{requires_python}"',
        "dependencies = []",
        "",
    ]
    if lib and not bare:
        lines += [
            "[build-system]",
            'requires = ["hatchling"]',
            'build-backend = "hatchling.build"',
            "",
        ]
        init = path / "src" / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""The {project_name} package."""\n\n__version__ = "0.1.0"\n')
    elif not bare:
        main = path / "main.py"
        if not main.exists():
            main.write_text(
                "def main() -> None:\n"
                f'    print("Hello from {project_name}!")\n\n\n'
                'if __name__ == "__main__":\n    main()\n'
            )
    readme = path / "README.md"
    if not readme.exists() and not bare:
        readme.write_text(f"# {project_name}\n")
    gitignore = path / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".venv/\n__pycache__/\n")
    if python_pin:
        atomic_write_text(path / ".python-version", python_pin + "\n")
    atomic_write_text(pyproject, "\n".join(lines))
    return pyproject
