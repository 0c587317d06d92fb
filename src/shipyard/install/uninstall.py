"""Remove an installed distribution through its RECORD (PEP 376, PEP 627).

Every file RECORD lists goes, with the bytecode an interpreter wrote for each
``.py`` file (``__pycache__/<stem>.*.pyc``); then the directories those files
leave empty, walking up but never removing ``site-packages``, its parents, or
the environment's top-level directories (``bin``, ``include``, ``lib``…); and
last the ``.dist-info`` directory. Before the first file goes, the ``.dist-info`` is
renamed to ``.<name>.dist-info.removing`` (a journal no metadata reader recognises),
so a half-removed distribution is never reported as installed, and
:func:`finish_interrupted` completes the removal after a crash. Nothing outside the
environment is ever touched: a RECORD that points outside it (or through a symbolic
link out of it) is refused before anything is deleted.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
from pathlib import Path

from shipyard.errors import InstallError
from shipyard.install.installed import InstalledDistribution, install_os_error

__all__ = ["finish_interrupted", "uninstall"]

#: Suffixes of the hidden directories an interrupted install or uninstall leaves.
_REMOVING = ".removing"
_PARTIAL = ".partial"

# Directories directly under an environment's root that a venv has from the start.
_KEPT_TOP_LEVEL = ("bin", "Scripts", "include", "Include", "lib", "lib64", "Lib")


def _default_env_root(site_packages: Path) -> Path:
    """``<root>/lib/pythonX.Y/site-packages`` on POSIX, ``<root>/Lib/site-packages`` on Windows."""
    return site_packages.parents[1] if os.name == "nt" else site_packages.parents[2]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _read_record(dist: InstalledDistribution) -> list[str]:
    try:
        with open(dist.dist_info / "RECORD", encoding="utf-8", newline="") as handle:
            return [row[0] for row in csv.reader(handle) if row and row[0]]
    except FileNotFoundError as exc:
        raise InstallError(
            f"Cannot uninstall {dist.name} {dist.version}: its .dist-info has no RECORD file, "
            "so the files it installed are unknown.",
            context=str(dist.dist_info),
            hint="It was installed by a tool that does not follow PEP 376, or the install was "
            "interrupted. Delete the environment and sync again.",
        ) from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InstallError(
            f"Cannot uninstall {dist.name} {dist.version}: its RECORD cannot be read ({exc}).",
            context=str(dist.dist_info / "RECORD"),
            hint="Delete the environment and sync again.",
        ) from exc


def uninstall(
    dist: InstalledDistribution,
    *,
    site_packages: Path,
    env_root: Path | None = None,
    replacing: bool = False,
) -> int:
    """Remove an installed distribution, file by file from its RECORD (PEP 376/627).

    RECORD paths are relative to ``site_packages`` (``../../../bin/tool`` for scripts) or
    absolute. Files already gone are skipped. For each removed ``.py`` file, the
    ``__pycache__/<stem>.*.pyc`` files beside it are removed too. Directories left empty
    are removed walking upwards, stopping at ``site_packages``, its parents, the root of
    the environment and the root's standard directories (``bin``, ``include``, ``lib``…).
    The ``.dist-info`` directory goes last, with any file in it that RECORD omits.

    :param dist: the distribution, from :func:`~shipyard.install.installed.iter_installed`.
    :param site_packages: the directory holding ``dist.dist_info``.
    :param env_root: the environment's root; nothing outside it is deleted. Default:
        ``site_packages.parents[2]`` (``<root>/lib/pythonX.Y/site-packages``;
        ``parents[1]`` on Windows).
    :param replacing: the same project is about to be installed over it. A ``.dist-info``
        without RECORD (an install cut short) is then removed instead of refused: the new
        install replaces whatever files it had placed.
    :returns: the number of files removed (RECORD files and bytecode; not counting the
        ``.dist-info`` directory's unlisted files).
    :raises InstallError: for an ``.egg-info`` distribution, a missing (unless
        ``replacing``) or unreadable RECORD, a RECORD naming a path outside the
        environment (then nothing is removed), or a file that cannot be removed.
    """
    if dist.dist_info.name.endswith(".egg-info"):
        raise InstallError(
            f"Cannot uninstall {dist.name} {dist.version}: it was not installed by a PEP 376 "
            "installer (it has .egg-info metadata, not .dist-info).",
            context=str(dist.dist_info),
            hint="Delete the environment and sync again, or remove it with the tool that "
            "installed it.",
        )
    base = os.path.abspath(site_packages)
    root = os.path.abspath(env_root if env_root is not None else _default_env_root(site_packages))
    real_root = os.path.realpath(root)
    dist_info = os.path.abspath(dist.dist_info)
    if os.path.dirname(dist_info) != base:
        raise InstallError(
            f"Cannot uninstall {dist.name} {dist.version}: its .dist-info is not in {base}.",
            context=dist_info,
            hint="This is a bug in the caller; please report it.",
        )

    if replacing and not os.path.isfile(os.path.join(dist_info, "RECORD")):
        try:
            shutil.rmtree(dist_info)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise install_os_error(
                exc, what=f"remove the incomplete install of {dist.name}", path=dist_info
            ) from exc
        return 0

    # Resolve and check every path before deleting anything.
    paths: list[str] = []
    real_parents: dict[str, bool] = {}
    for entry in _read_record(dist):
        path = os.path.normpath(os.path.join(base, entry))
        parent = os.path.dirname(path)
        inside = real_parents.get(parent)
        if inside is None:
            inside = _inside(path, root) and _inside(os.path.realpath(parent), real_root)
            real_parents[parent] = inside
        if not inside or path == root:
            raise InstallError(
                f"Cannot uninstall {dist.name} {dist.version}: its RECORD lists {entry!r}, "
                f"which is outside the environment {root}. Nothing was removed.",
                context=str(dist.dist_info / "RECORD"),
                hint="The RECORD file was altered or written by another tool; delete the "
                "environment and sync again.",
            )
        if _inside(path, dist_info):
            continue  # removed with the directory at the end
        paths.append(path)

    # The journal: the .dist-info is renamed aside before the first file goes, so the
    # distribution stops being installed for every reader at once; a sync killed from
    # here on finds the journal (finish_interrupted) and completes the removal.
    journal = dist_info
    if not os.path.basename(dist_info).endswith(_REMOVING):
        journal = os.path.join(base, f".{os.path.basename(dist_info)}{_REMOVING}")
        try:
            if os.path.lexists(journal):
                shutil.rmtree(journal)
            os.rename(dist_info, journal)
        except OSError as exc:
            raise install_os_error(
                exc, what=f"uninstall {dist.name} {dist.version}", path=dist_info
            ) from exc

    removed = 0
    directories: set[str] = set()
    listings: dict[str, list[str]] = {}
    try:
        for path in paths:
            parent = os.path.dirname(path)
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                # A directory in RECORD is not ours to delete wholesale; leave it.
                if exc.errno not in (errno.EISDIR, errno.EPERM) or not os.path.isdir(path):
                    raise
            directories.add(parent)
            if path.endswith(".py"):
                cache = os.path.join(parent, "__pycache__")
                listing = listings.get(cache)
                if listing is None:
                    try:
                        listing = os.listdir(cache)
                    except OSError:
                        listing = []
                    listings[cache] = listing
                    if listing:
                        directories.add(cache)
                prefix = os.path.basename(path)[:-3] + "."
                for name in listing:
                    if name.startswith(prefix) and name.endswith(".pyc"):
                        try:
                            os.unlink(os.path.join(cache, name))
                            removed += 1
                        except FileNotFoundError:
                            pass
        shutil.rmtree(journal)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise install_os_error(
            exc, what=f"uninstall {dist.name} {dist.version}", path=dist_info
        ) from exc

    stops = {root, base, *(os.path.join(root, name) for name in _KEPT_TOP_LEVEL)}
    ancestor = base
    while _inside(ancestor, root) and ancestor != root:
        stops.add(ancestor)
        ancestor = os.path.dirname(ancestor)
    for directory in sorted(directories, key=len, reverse=True):
        current = directory
        while current not in stops and _inside(current, root):
            try:
                os.rmdir(current)
            except FileNotFoundError:
                pass  # already gone; its parent may still be empty
            except OSError:
                break  # not empty: neither are its parents
            current = os.path.dirname(current)
    return removed


def finish_interrupted(site_packages: Path, *, env_root: Path | None = None) -> list[str]:
    """Complete what a killed install or uninstall left in ``site_packages``.

    ``.<name>.dist-info.removing`` journals are removed through their RECORD (as
    :func:`uninstall` would have finished); ``.<name>.dist-info.partial`` directories (an
    install stopped before its metadata was published) are deleted. Call it before
    reading what is installed: a journal left unfinished until after a new install of
    the same project would delete that install's files.

    :returns: the names of the directories dealt with.
    :raises InstallError: as :func:`uninstall`.
    """
    done: list[str] = []
    try:
        with os.scandir(site_packages) as listing:
            leftovers = sorted(
                entry.name
                for entry in listing
                if entry.name.startswith(".")
                and entry.name.endswith((".dist-info" + _REMOVING, ".dist-info" + _PARTIAL))
            )
    except OSError:
        return done
    for name in leftovers:
        path = site_packages / name
        if name.endswith(_PARTIAL) or not (path / "RECORD").is_file():
            # a half-made install; or a journal whose RECORD is gone, which happens only
            # in its final deletion, after every file it listed was removed
            shutil.rmtree(path, ignore_errors=True)
        else:
            stem = name[1 : -len(".dist-info" + _REMOVING)]
            project, _, version = stem.partition("-")
            dist = InstalledDistribution(name=project, version=version, dist_info=path)
            uninstall(dist, site_packages=site_packages, env_root=env_root)
        done.append(name)
    return done
