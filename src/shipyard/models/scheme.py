"""Where an installed distribution's files go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["InstallScheme"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallScheme:
    """Absolute install paths of one environment (the ``sysconfig`` scheme keys).

    :param purelib: pure-Python ``site-packages``.
    :param platlib: platform ``site-packages`` (the same directory in a venv on most systems).
    :param scripts: ``bin`` (``Scripts`` on Windows).
    :param data: the environment's root (wheel ``.data/data`` files go here).
    :param headers: the headers directory of the environment; the installer puts a
        distribution's ``.data/headers`` files in ``<headers>/<distribution name>``.
    :param python: the environment's interpreter, written into script shebangs.
    """

    purelib: Path
    platlib: Path
    scripts: Path
    data: Path
    headers: Path
    python: Path
