"""The ``unpack`` use case: an archive ``shipyard pack`` wrote becomes a working
environment in a directory, with no network and no cache.

The archive is read once, front to back: its first member, the manifest, is checked
first (format, operating system and machine); then every member is extracted through
``tarfile``'s ``data`` filter (no absolute paths, no ``..``, no link leaving the
directory, no device files, no set-uid bits) into a new directory beside the
target; :func:`~shipyard.project.relocation.relocate` points the files that hold the
packer's placeholder prefix at the target; and a rename makes the target appear
whole. A failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import platform as host
import secrets
import shutil
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.atomic import atomic_write_bytes, os_error
from shipyard.errors import InstallError, UnsafeArchiveError, UsageError
from shipyard.project.pack_format import open_archive
from shipyard.project.relocation import FORMAT, MANIFEST, RelocationError, relocate

__all__ = ["UnpackOutcome", "unpack_environment"]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackOutcome:
    """What ``unpack`` made.

    :param root: the environment's directory (absolute).
    :param kind: ``"venv"`` or ``"conda"``.
    :param project: the packed project's name; :param python_version: its Python's.
    :param python: the environment's interpreter (``<root>/bin/python``).
    :param relocated: how many files were rewritten for the new path.
    """

    root: Path
    kind: str
    project: str
    python_version: str
    python: Path
    relocated: int


def unpack_environment(archive: Path, target: Path) -> UnpackOutcome:
    """Unpack ``archive`` into ``target`` (which must not exist, or be empty) and fix
    its paths for ``target``.

    :raises UsageError: when ``archive`` is missing or ``target`` is not empty.
    :raises InstallError: when the archive is not a packed environment, is for another
        kind of machine, or ``target`` is too long for its binary files.
    :raises UnsafeArchiveError: when a member would land outside ``target``.
    """
    root = Path(os.path.abspath(os.path.expanduser(target)))
    _check_target(root)
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = root.parent / f".{root.name}.unpacking-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o777)  # less the umask, as the directory the user asked for
    except OSError as exc:
        raise os_error(exc, what="create the environment's directory", path=root) from exc
    try:
        with open_archive(archive) as tar:
            manifest, raw = _read_manifest(tar, archive)
            _check_machine(manifest, archive)
            _extract(tar, staging, archive, raw)
        try:
            relocated = relocate(str(staging), str(root))
        except RelocationError as exc:
            raise InstallError(
                f"The environment cannot be used at {root}: {exc}.",
                context=str(archive),
                hint="Unpack it at a shorter path.",
            ) from exc
        _move_into_place(staging, root)
    except OSError as exc:
        raise os_error(exc, what="unpack the environment", path=root) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    python = str((manifest.get("python") or {}).get("executable") or "bin/python")
    return UnpackOutcome(
        root=root,
        kind=str(manifest.get("kind", "")),
        project=str((manifest.get("project") or {}).get("name") or ""),
        python_version=str((manifest.get("python") or {}).get("version") or ""),
        python=root / python,
        relocated=relocated,
    )


def _check_target(root: Path) -> None:
    """Refuse a ``target`` that is a file or a directory with something in it."""
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise UsageError(
            f"{root} exists and is not a directory.",
            hint="Give a new directory to unpack into.",
        )
    if root.is_dir() and any(root.iterdir()):
        raise UsageError(
            f"{root} is not empty; unpack writes a whole environment there.",
            hint="Give a new (or empty) directory.",
        )


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> tuple[dict[str, Any], bytes]:
    """The first member, which must be the manifest: parsed and checked, and its bytes."""
    not_packed = InstallError(
        f"{archive.name} is not an environment `shipyard pack` wrote: it does not start "
        f"with {MANIFEST}.",
        context=str(archive),
        hint="Give the archive `shipyard pack` wrote (a conda-pack archive unpacks with "
        "`tar` and `conda-unpack`).",
    )
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise not_packed
    handle = tar.extractfile(first)
    if handle is None:
        raise not_packed
    raw = handle.read(1 << 24)
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise not_packed from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InstallError(
            f"{archive.name} was packed in a format this shipyard does not read "
            f"(format {manifest.get('format') if isinstance(manifest, dict) else '?'}).",
            context=str(archive),
            hint="Unpack it with the shipyard version that packed it (its "
            "`created_by`), or with `./unpack.sh` after `tar xf`.",
        )
    return manifest, raw


def _check_machine(manifest: dict[str, Any], archive: Path) -> None:
    """Refuse an archive packed for another operating system or machine."""
    system = str(manifest.get("system", ""))
    machine = str(manifest.get("machine", ""))
    here_system = sys.platform
    here_machine = host.machine()
    if (system and system != here_system) or (machine and machine.lower() != here_machine.lower()):
        raise InstallError(
            f"{archive.name} holds an environment for {system} {machine} "
            f"({manifest.get('platform', '')}); this machine is {here_system} {here_machine}.",
            context=str(archive),
            hint="Pack the environment on a machine of the kind it will run on.",
        )


def _extract(tar: tarfile.TarFile, staging: Path, archive: Path, manifest: bytes) -> None:
    """Every member after the manifest through the ``data`` filter, then the manifest
    (``manifest``: its bytes, read already from the stream).

    :raises UnsafeArchiveError: for a member the filter refuses.
    :raises InstallError: when the archive ends early or is damaged.
    """

    def members() -> Iterator[tarfile.TarInfo]:
        for member in tar:
            if member.name != MANIFEST:
                yield member

    try:
        tar.extractall(staging, members=members(), filter="data")
    except tarfile.FilterError as exc:
        raise UnsafeArchiveError(
            f"{archive.name} holds a member that would land outside the environment or is "
            f"unsafe ({exc}); nothing was unpacked.",
            context=str(archive),
            hint="Use an archive you trust, as `shipyard pack` wrote it.",
        ) from exc
    except (tarfile.TarError, EOFError) as exc:
        raise InstallError(
            f"{archive.name} is damaged: {exc}.",
            context=str(archive),
            hint="Copy the archive again and check it arrived whole.",
        ) from exc
    (staging / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staging / MANIFEST, manifest, fsync=False, mode=0o644)


def _move_into_place(staging: Path, root: Path) -> None:
    """Rename the unpacked directory to ``root`` (an empty ``root`` is replaced)."""
    if root.is_dir():
        root.rmdir()
    os.replace(staging, root)
