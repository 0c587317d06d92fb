"""Fixtures for the install tests: real virtual environments made with ``python -m venv``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.models.scheme import InstallScheme

DEV_PYTHON = Path(sys.executable)


@dataclass(frozen=True)
class Venv:
    """A virtual environment made for one test."""

    root: Path
    python: Path
    site_packages: Path
    scripts: Path

    def scheme(self) -> InstallScheme:
        """Its install paths, as shipyard's venv layer computes them."""
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        return InstallScheme(
            purelib=self.site_packages,
            platlib=self.site_packages,
            scripts=self.scripts,
            data=self.root,
            headers=self.root / "include" / "site" / version,
            python=self.python,
        )

    def run(self, *args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the venv's python (or one of its scripts) with a clean environment."""
        command = [str(self.scripts / script)] if script else [str(self.python)]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, env=env, check=False, timeout=60
        )

    def files(self) -> set[str]:
        """Every file and symlink below the root, relative, ``/``-separated."""
        found = set()
        for directory, dirs, names in os.walk(self.root):
            for name in names + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
                found.add(os.path.relpath(os.path.join(directory, name), self.root))
        return found

    def directories(self) -> set[str]:
        """Every directory below the root, relative."""
        return {
            os.path.relpath(os.path.join(directory, d), self.root)
            for directory, dirs, _names in os.walk(self.root)
            for d in dirs
        }


@pytest.fixture
def make_venv(tmp_path: Path) -> Callable[[str], Venv]:
    """``make_venv(name)`` creates ``tmp_path/name`` with ``python -m venv --without-pip``."""

    def make(name: str) -> Venv:
        root = tmp_path / name
        subprocess.run(
            [str(DEV_PYTHON), "-m", "venv", "--without-pip", str(root)], check=True, timeout=60
        )
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        return Venv(
            root=root,
            python=root / "bin" / "python",
            site_packages=root / "lib" / version / "site-packages",
            scripts=root / "bin",
        )

    return make
