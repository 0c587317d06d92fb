"""The manifest of a wheel unpacked in the cache, and the data classes it describes.

:func:`~shipyard.install.unpack.unpack_wheel` leaves ``.shipyard-unpacked.json``
(:data:`MANIFEST_NAME`) beside a wheel's files: for each file its size and sha256 and
the ``stat`` values taken right after writing, plus the facts an install needs (name,
version, ``WHEEL`` tags, ``Root-Is-Purelib``, console/GUI entry points).
:func:`load_unpacked` reads it back as an :class:`UnpackedWheel`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "EntryPointGroup",
    "ScriptEntryPoint",
    "UnpackedFile",
    "UnpackedWheel",
    "b64_digest",
    "from_manifest",
    "load_unpacked",
    "record_hash",
]

EntryPointGroup = Literal["console_scripts", "gui_scripts"]
"""The entry point groups that become scripts (entry points specification)."""

MANIFEST_NAME: Final = ".shipyard-unpacked.json"
"""The manifest's file name inside an unpacked cache entry (no wheel may contain it)."""

#: The manifest's ``format``; a manifest of another format is unpacked again.
MANIFEST_FORMAT: Final = 2


def record_hash(data: bytes) -> str:
    """The RECORD form of a digest: ``sha256=<urlsafe base64 without padding>`` (PEP 376/627).

    :param data: the file's complete contents.
    """
    return "sha256=" + b64_digest(hashlib.sha256(data).digest())


def b64_digest(digest: bytes) -> str:
    """A digest in RECORD's encoding: urlsafe base64 without padding (PEP 376/627)."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackedFile:
    """One file of an unpacked wheel, as the manifest records it.

    :param path: the path inside the wheel (``/``-separated, relative), e.g.
        ``pkg/__init__.py`` or ``pkg-1.0.data/scripts/tool``.
    :param size: the size in bytes (as RECORD says; checked while unpacking).
    :param sha256: the sha256 digest, urlsafe base64 without padding (RECORD's encoding).
    :param mtime_ns: ``st_mtime_ns`` of the cached file right after it was written.
    :param st_size: ``st_size`` of the cached file right after it was written.
    """

    path: str
    size: int
    sha256: str
    mtime_ns: int
    st_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptEntryPoint:
    """A ``console_scripts`` or ``gui_scripts`` entry point (entry points specification).

    :param name: the script's file name in the environment's scripts directory.
    :param group: ``console_scripts`` or ``gui_scripts``.
    :param module: the dotted module to import.
    :param attr: the dotted attribute of that module to call (``main`` or ``Cli.run``).
    """

    name: str
    group: EntryPointGroup
    module: str
    attr: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpackedWheel:
    """A wheel unpacked in the cache, ready to be linked into environments.

    :param path: the cache entry's directory (the wheel's files and the manifest).
    :param name: the canonical project name (PEP 503).
    :param display_name: the ``Name`` from ``METADATA`` as written (for messages).
    :param version: the ``Version`` from ``METADATA``.
    :param dist_info: the ``.dist-info`` directory's name (``pkg-1.0.dist-info``).
    :param data_dir: the ``.data`` directory's name (``pkg-1.0.data``), present or not.
    :param root_is_purelib: ``Root-Is-Purelib`` from ``WHEEL``: root files go to purelib
        when true, platlib otherwise.
    :param wheel_version: ``Wheel-Version`` from ``WHEEL`` (always ``1.x``).
    :param tags: the ``Tag`` values from ``WHEEL`` (``py3-none-any``).
    :param entry_points: the console and GUI scripts from ``entry_points.txt``.
    :param files: every file of the wheel, in archive order (``__pycache__`` contents
        are skipped, as ``installer`` skips them).
    """

    path: Path
    name: str
    display_name: str
    version: str
    dist_info: str
    data_dir: str
    root_is_purelib: bool
    wheel_version: str
    tags: tuple[str, ...]
    entry_points: tuple[ScriptEntryPoint, ...]
    files: tuple[UnpackedFile, ...]


def from_manifest(path: Path, raw: Any) -> UnpackedWheel:
    """Build an :class:`UnpackedWheel` from manifest data; raises on any malformation."""
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
        raise ValueError("not a manifest of this format")
    files = tuple(
        UnpackedFile(path=p, size=int(s), sha256=str(h), mtime_ns=int(m), st_size=int(z))
        for p, s, h, m, z in raw["files"]
    )
    for item in files:
        if item.path.startswith("/") or ".." in item.path.split("/"):
            # ".." cannot appear in a name written by extract.extract (it rejects such members).
            raise ValueError("unsafe path in manifest")
    entry_points = tuple(
        ScriptEntryPoint(name=str(n), group=g, module=str(m), attr=str(a))
        for n, g, m, a in raw["entry_points"]
        if g in ("console_scripts", "gui_scripts")
    )
    return UnpackedWheel(
        path=path,
        name=str(raw["name"]),
        display_name=str(raw["display_name"]),
        version=str(raw["version"]),
        dist_info=str(raw["dist_info"]),
        data_dir=str(raw["data_dir"]),
        root_is_purelib=bool(raw["root_is_purelib"]),
        wheel_version=str(raw["wheel_version"]),
        tags=tuple(str(t) for t in raw["tags"]),
        entry_points=entry_points,
        files=files,
    )


def load_unpacked(dest: Path) -> UnpackedWheel | None:
    """The unpacked wheel at ``dest``, read from its manifest (no file is checked).

    :param dest: a cache entry directory written by
        :func:`~shipyard.install.unpack.unpack_wheel`.
    :returns: ``None`` when there is no manifest, or it is unreadable, corrupt or from
        another manifest format (callers then remove the entry and unpack again).
    """
    try:
        with open(dest / MANIFEST_NAME, "rb") as handle:
            raw = json.load(handle)
        return from_manifest(dest, raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None
