"""Virtual environments for tests that hand them to pip-tools.

pip-sync refuses a target whose pip is older than the one pip-tools requires (pip-tools
7.7 wants pip >= 26.2.2), and ``python -m venv`` seeds the pip bundled with the
interpreter. Upgrading it would need an index; copying the test runner's own pip (which
satisfies pip-tools, being installed beside it) keeps the test hermetic.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def venv_with_runner_pip(path: Path) -> Path:
    """A venv at ``path`` for the running interpreter, holding this interpreter's pip.

    :returns: ``path``.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python3.*/site-packages"))
    pip = metadata.distribution("pip")
    root = Path(str(pip.locate_file("")))
    tops = {Path(str(file)).parts[0] for file in pip.files or ()}
    for top in sorted(tops):
        source = root / top
        if source.is_dir() and top not in ("..", "__pycache__"):
            shutil.copytree(source, site / top, ignore=shutil.ignore_patterns("__pycache__"))
    return path
