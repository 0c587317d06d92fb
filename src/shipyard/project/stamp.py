"""The environment stamp: how a no-op ``sync`` finishes without importing anything heavy.

After a successful sync, ``.venv/.shipyard-sync.json`` records the sha256 of
pyproject.toml and pylock.toml as they were, the interpreter request
(``.python-version``, ``SHIPYARD_PYTHON``), the selection asked for (groups,
extras, exactness), ``pyvenv.cfg``'s digest (for a conda prefix: the mtime of
``conda-meta``), and the ``site-packages``
directory's modification time. If all of them still match, the environment is
exactly what a sync would produce, and nothing else needs reading: adding or
removing a distribution changes ``site-packages``' mtime, editing the manifest
or the lock changes their digests. Only the standard library is imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["STAMP_NAME", "read_fresh_stamp", "write_stamp"]

STAMP_NAME = ".shipyard-sync.json"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _site_packages_mtime(env_root: Path) -> int | None:
    lib = env_root / "lib"
    try:
        for entry in os.scandir(lib):
            if entry.name.startswith(("python", "pypy")):
                return os.stat(os.path.join(entry.path, "site-packages")).st_mtime_ns
    except OSError:
        pass
    try:
        return os.stat(env_root / "Lib" / "site-packages").st_mtime_ns
    except OSError:
        return None


def _environment_identity(env_root: Path) -> str | None:
    """``pyvenv.cfg``'s digest for a virtual environment; for a conda prefix the
    modification time of ``conda-meta`` (a conda package added or removed changes it)."""
    digest = _digest(env_root / "pyvenv.cfg")
    if digest is not None:
        return digest
    try:
        return f"conda-meta:{os.stat(env_root / 'conda-meta').st_mtime_ns}"
    except OSError:
        return None


def _python_request(project_root: Path) -> str:
    """What picks the interpreter besides pyproject.toml: the nearest ``.python-version``
    and ``SHIPYARD_PYTHON`` (a changed pin must rebuild ``.venv``, never be audited)."""
    pin = ""
    for directory in (project_root, *project_root.parents):
        try:
            pin = (directory / ".python-version").read_text(encoding="utf-8", errors="replace")
            break
        except OSError:
            continue
    from shipyard.settings import from_environment

    return f"{pin.strip()}|{from_environment('python') or ''}"


def _current(project_root: Path, env_root: Path, selection: dict[str, Any]) -> dict[str, Any]:
    return {
        "python-request": _python_request(project_root),
        "pyproject": _digest(project_root / "pyproject.toml"),
        "lock": _digest(project_root / "pylock.toml"),
        "pyvenv": _environment_identity(env_root),
        "site-packages": _site_packages_mtime(env_root),
        "selection": selection,
    }


def read_fresh_stamp(
    project_root: Path, env_root: Path, selection: dict[str, Any]
) -> dict[str, Any] | None:
    """The stamp's contents when the environment is provably in sync, else ``None``.

    :param selection: what this sync asks for (JSON-serializable; compared as is).
    """
    try:
        stamp = json.loads((env_root / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    current = _current(project_root, env_root, selection)
    if any(stamp.get(key) != value for key, value in current.items()) or None in current.values():
        return None
    accelerator = stamp.get("accelerator")
    if accelerator is not None and not _same_accelerator(accelerator):
        return None
    wheel_variants = stamp.get("wheel-variants")
    if wheel_variants is not None and not _same_variant_host(wheel_variants):
        return None
    watched = stamp.get("watched", {})
    if not isinstance(watched, dict) or any(
        _digest(Path(path)) != digest for path, digest in watched.items()
    ):
        return None
    return dict(stamp)


def _same_accelerator(recorded: Any) -> bool:
    """Whether this machine (its detection and ``SHIPYARD_ACCELERATOR`` now) still
    gets the accelerator variant the stamp's sync installed."""
    try:
        from shipyard.accelerators import choose_locked_variant

        variants = [(str(k), str(a), g) for k, a, g in recorded["variants"]]
        return bool(choose_locked_variant(variants)[0] == recorded["chosen"])
    except Exception:  # an unreadable record, an invalid override: the slow path says
        return False


def _same_variant_host(recorded: Any) -> bool:
    """Whether this machine (detection, ``SHIPYARD_ACCELERATOR``,
    ``CONDA_OVERRIDE_CUDA`` now) still reports what the stamp's sync chose wheel
    variants (PEP 825 draft) for."""
    try:
        from shipyard.accelerators import detect_host
        from shipyard.lock.variant_selection import host_key

        return bool(host_key(detect_host()) == recorded)
    except Exception:  # an invalid override: the slow path says
        return False


def write_stamp(
    project_root: Path,
    env_root: Path,
    selection: dict[str, Any],
    *,
    packages: int,
    watched: Sequence[Path] = (),
    accelerator: dict[str, Any] | None = None,
    wheel_variants: str | None = None,
) -> None:
    """Record that the environment now matches the lock for ``selection``.

    Written after the sync's last change to ``site-packages``; best effort (a stamp
    that cannot be written only costs the next sync its shortcut).

    :param watched: more files whose change makes the next sync do its work (the
        ``pyproject.toml`` of path sources: their requirements are in the lock).
    :param accelerator: for a lock with accelerator variants, ``{"variants": […],
        "chosen": key}``: a machine that would now get another variant is not in sync.
    :param wheel_variants: for a lock with wheel variants, what of the machine they were
        chosen for (``lock.variant_selection.host_key``): a machine that reports
        something else is not in sync.
    """
    data = _current(project_root, env_root, selection)
    data["packages"] = packages
    if watched:
        data["watched"] = {str(path): _digest(path) for path in watched}
    if accelerator is not None:
        data["accelerator"] = accelerator
    if wheel_variants is not None:
        data["wheel-variants"] = wheel_variants
    tmp = env_root / f".{STAMP_NAME}.tmp"
    try:
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, env_root / STAMP_NAME)
    except OSError:
        pass


def clear_stamp(env_root: Path) -> None:
    """Forget the stamp (before changing the environment)."""
    try:
        os.unlink(env_root / STAMP_NAME)
    except OSError:
        pass
