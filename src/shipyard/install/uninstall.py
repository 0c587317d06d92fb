"""Remove an installed distribution through its RECORD (PEP 376/627).

Every file RECORD lists goes, with the bytecode the interpreter wrote for
``.py`` files (``__pycache__/<stem>.*.pyc``), then directories left empty, then
the ``.dist-info`` directory. Nothing outside the environment is touched.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from shipyard.errors import InstallError
from shipyard.install.installed import InstalledDistribution

__all__ = ["uninstall"]


def uninstall(
    dist: InstalledDistribution,
    *,
    site_packages: Path,
    env_root: Path | None = None,
    replacing: bool = False,
) -> int:
    """Uninstall ``dist``; returns the number of files removed.

    :param site_packages: the directory holding ``dist.dist_info``.
    :param env_root: files outside it are never removed (default: three levels above
        ``site_packages``, the root of a POSIX virtual environment).
    :param replacing: the same package is about to be installed over it: a RECORD-less
        ``.dist-info`` (an install cut short) is then simply removed, since the new
        install overwrites its files.
    :raises InstallError: when the distribution has no RECORD (and is not being replaced).
    """
    root = Path(env_root or site_packages.parents[2]).resolve()
    record = dist.dist_info / "RECORD"
    try:
        rows = list(csv.reader(record.read_text(encoding="utf-8").splitlines()))
    except FileNotFoundError as exc:
        if replacing:
            shutil.rmtree(dist.dist_info, ignore_errors=True)
            return 0
        raise InstallError(
            f"Cannot uninstall {dist.name} {dist.version}: it has no RECORD file.",
            context=str(dist.dist_info),
            hint="It was not installed by a PEP 376 installer; "
            "remove the environment and sync again.",
        ) from exc
    removed = 0
    directories: set[str] = set()
    base = str(site_packages)
    for row in rows:
        if not row:
            continue
        path = os.path.normpath(os.path.join(base, row[0]))
        if not (path == str(root) or path.startswith(str(root) + os.sep)):
            continue
        targets = [path]
        if path.endswith(".py"):
            cache = os.path.join(os.path.dirname(path), "__pycache__")
            stem = os.path.basename(path)[:-3] + "."
            try:
                targets += [
                    os.path.join(cache, n)
                    for n in os.listdir(cache)
                    if n.startswith(stem) and n.endswith(".pyc")
                ]
            except OSError:
                pass
            directories.add(cache)
        for target in targets:
            try:
                os.unlink(target)
                removed += 1
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                shutil.rmtree(target, ignore_errors=True)
        directories.add(os.path.dirname(path))
    shutil.rmtree(dist.dist_info, ignore_errors=True)
    stops = {os.path.normpath(base), str(root)}
    for directory in sorted(directories, key=len, reverse=True):
        current = directory
        while current not in stops and current.startswith(str(root)):
            try:
                os.rmdir(current)
            except OSError:
                break
            current = os.path.dirname(current)
    return removed
