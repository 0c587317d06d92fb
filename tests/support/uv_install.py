"""Install a lock with uv into a fresh virtual environment: the second reader of the
PEP 751 locks shipyard writes (compatibility tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["uv_install_lock"]


def uv_install_lock(lock: Path, target: Path, *options: str) -> Path:
    """Make a virtual environment at ``target`` and ``uv pip install -r lock`` into it
    (with ``options`` such as ``--group NAME``); uv's configuration and cache are kept
    out (a cache beside ``target``).

    :returns: the environment's ``python``.
    :raises AssertionError: with uv's output when the install fails.
    """
    import uv

    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    environment.update(
        VIRTUAL_ENV=str(target), UV_CACHE_DIR=str(target.parent / f"{target.name}-uv-cache")
    )
    result = subprocess.run(
        [uv.find_uv_bin(), "pip", "install", "--no-config", "-r", str(lock), *options],
        cwd=lock.parent,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return target / "bin" / "python"
