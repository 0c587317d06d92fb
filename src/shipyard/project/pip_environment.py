"""Where the ``shipyard pip`` commands work: the virtual environment ``pip sync``
changes and the interpreter ``pip compile`` resolves for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import UsageError
from shipyard.models import Interpreter
from shipyard.project.services import Services

if TYPE_CHECKING:
    from shipyard.venv import VirtualEnvironment

__all__ = ["find_environment", "find_target_interpreter"]


def _venv_from_path(path: Path) -> VirtualEnvironment | None:
    """The virtual environment at ``path`` (its root, or its interpreter), if any."""
    from shipyard.venv import inspect_venv

    path = Path(os.path.abspath(path))
    if path.is_dir():
        return inspect_venv(path)
    # <root>/bin/python or <root>\Scripts\python.exe
    return inspect_venv(path.parent.parent)


def find_environment(
    python: str | None, services: Services, *, cwd: Path | None = None
) -> tuple[VirtualEnvironment, Interpreter]:
    """The virtual environment ``pip sync`` works on, and its interpreter.

    In order: ``python`` (an environment directory or its interpreter), the active
    environment (``VIRTUAL_ENV``), then ``.venv`` in ``cwd`` or a parent.

    :param python: the ``--python`` value, or ``None``.
    :raises UsageError: when ``python`` is not a virtual environment, or none is found.
    :raises InterpreterNotFoundError: when the environment's interpreter cannot run.
    """
    from shipyard.python.probe import probe_interpreter

    cwd = cwd or Path.cwd()
    venv: VirtualEnvironment | None = None
    if python is not None:
        venv = _venv_from_path(cwd / python)
        if venv is None:
            raise UsageError(
                f"--python {python} is not a virtual environment; shipyard pip sync only "
                "changes virtual environments.",
                hint="Create one (`python3 -m venv .venv`) and pass its directory or its "
                "bin/python.",
            )
    elif os.environ.get("VIRTUAL_ENV"):
        venv = _venv_from_path(Path(os.environ["VIRTUAL_ENV"]))
    if venv is None:
        for directory in (cwd, *cwd.parents):
            venv = _venv_from_path(directory / ".venv")
            if venv is not None:
                break
    if venv is None:
        raise UsageError(
            "No virtual environment to sync: none is active (VIRTUAL_ENV) and there is no "
            ".venv in this directory or its parents.",
            hint="Create one with `python3 -m venv .venv`, activate it, or pass --python.",
        )
    return venv, probe_interpreter(venv.python, cache_dir=services.cache.root)


def find_target_interpreter(
    python: str | None, services: Services, *, cwd: Path | None = None
) -> Interpreter:
    """The interpreter ``pip compile`` resolves for: ``python`` (a version request or a
    path), else the active or nearest ``.venv``'s, else the first Python on ``PATH``.

    :raises InterpreterNotFoundError: when nothing fits ``python``.
    """
    from shipyard.python.discovery import find_interpreter, parse_python_request

    if python is None:
        try:
            _venv, interpreter = find_environment(None, services, cwd=cwd)
        except UsageError:
            pass
        else:
            return interpreter
    return find_interpreter(
        parse_python_request(python), requires_python=None, cache_dir=services.cache.root
    )
