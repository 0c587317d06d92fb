"""Whether a lock still matches its inputs: cheap to import (no resolver, no index),
so ``sync`` of an up-to-date lock never loads the resolution machinery."""

from __future__ import annotations

from typing import Any

from shipyard.models import LockFile
from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = ["current_lock", "lock_is_fresh", "settings_inputs"]


def settings_inputs(services: Services) -> dict[str, Any]:
    """The settings that change what a resolution can see (part of the input hash)."""
    from shipyard.index.credentials import public_url

    s = services.settings
    # Without credentials: rotating a token changes nothing a resolution sees.
    inputs: dict[str, Any] = {
        "indexes": [public_url(url) for url in s.index_urls()],
        "find-links": [public_url(link) for link in s.find_links],
        "no-binary": sorted(s.no_binary),
        "only-binary": sorted(s.only_binary),
    }
    if s.indexes:  # only when given: existing locks keep their hash
        inputs["named-indexes"] = [public_url(value) for value in s.indexes]
    return inputs


def lock_is_fresh(project: Project, services: Services, lock: LockFile | None) -> bool:
    """Whether ``lock`` was made from the current manifest and settings (its recorded
    input hash is the manifest's now)."""
    if lock is None:
        return False
    return lock.input_hash == project.input_hash(settings_inputs(services))


def current_lock(project: Project, services: Services, *, frozen: bool) -> tuple[LockFile, bool]:
    """The project's lock, written anew first when it is missing or stale (unless
    ``frozen``: then it is used as it is).

    :returns: the parsed lock and whether it was just written.
    :raises LockError: when it is missing (``frozen``), invalid, or cannot be made.
    """
    from shipyard.errors import LockError
    from shipyard.lock.pylock import LOCK_FILENAME, read_lock

    path = project.root / LOCK_FILENAME
    try:
        lock: LockFile | None = read_lock(path, services.cache)
    except LockError:
        if frozen:
            raise
        lock = None
    if frozen or lock_is_fresh(project, services, lock):
        assert lock is not None
        return lock, False
    from shipyard.project.locking import lock_project

    lock_project(project, services)
    return read_lock(path, services.cache), True
