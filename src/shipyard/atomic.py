"""Atomic file writes: a reader sees the old file or the new one, never a mix.

Every file shipyard writes for a user (``pyproject.toml``, ``pylock.toml``) and
every cache entry goes through here: the bytes go to a temporary file in the
same directory, are flushed to disk, and replace the target with ``os.replace``.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from shipyard.errors import DiskFullError, ShipyardError

__all__ = ["atomic_write_bytes", "atomic_write_text", "os_error"]


def os_error(exc: OSError, *, what: str, path: Path | str) -> ShipyardError:
    """Turn an ``OSError`` into the :class:`ShipyardError` a user should see.

    :param what: the operation, e.g. ``"write the lock file"``.
    :param path: the file or directory involved.
    :returns: a :class:`DiskFullError` for ``ENOSPC``/``EDQUOT``, else a plain
        :class:`ShipyardError` naming the path and the system's reason.
    """
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return DiskFullError(
            f"Could not {what}: the disk is full.",
            context=str(path),
            hint="Free some space (`shipyard cache prune` may help) and run the command again.",
        )
    return ShipyardError(
        f"Could not {what}: {exc.strerror or exc}.",
        context=str(path),
        hint="Check the path's permissions and that its directory exists.",
    )


def _current_umask() -> int:
    # os.umask can only be read by setting it, which races with threads creating files:
    # read it once, at import, before shipyard starts any.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _current_umask()


def atomic_write_bytes(
    path: Path, data: bytes, *, fsync: bool = True, mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory + rename).

    :param path: the destination; its parent directory must exist.
    :param data: the complete new contents.
    :param fsync: flush the file to disk before the rename (skip for cache entries that
        can be rebuilt, where speed matters more than durability).
    :param mode: permission bits for the new file; by default those of the file being
        replaced, or ``0o666`` minus the umask for a new file.
    :raises DiskFullError: when the disk is full; the old file is left untouched.
    :raises ShipyardError: for other OS errors.
    """
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise os_error(exc, what=f"write {path.name}", path=path) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~_UMASK
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise os_error(exc, what=f"write {path.name}", path=path) from exc
        raise


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
