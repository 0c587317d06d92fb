"""What changed between two locks, as ``lock``, ``add`` and ``sync`` print it."""

from __future__ import annotations

from shipyard.models import LockFile

__all__ = ["lock_changes"]


def _versions(lock: LockFile | None) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in lock.packages if lock is not None else ():
        if package.get("version"):
            found.setdefault(str(package["name"]), set()).add(str(package["version"]))
    return found


def lock_changes(
    old: LockFile | None, new: LockFile
) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
    """The packages ``new`` adds and removes (``name==version``) and those whose one
    version changed (``(name, old, new)``), sorted by name; a package locked at several
    versions is listed as the versions added and removed.
    """
    added: list[str] = []
    removed: list[str] = []
    changed: list[tuple[str, str, str]] = []
    before, after = _versions(old), _versions(new)
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, set()), after.get(name, set())
        if a == b:
            continue
        if a and b and len(a) == 1 and len(b) == 1:
            changed.append((name, next(iter(a)), next(iter(b))))
            continue
        removed.extend(f"{name}=={v}" for v in sorted(a - b))
        added.extend(f"{name}=={v}" for v in sorted(b - a))
    return added, removed, changed
