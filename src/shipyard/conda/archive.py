"""Check a conda package (``.tar.bz2`` or ``.conda``) before anything unpacks it.

py-rattler refuses tar members that leave the extraction directory, but trusts
``info/paths.json``: a path there with ``..`` makes it link (and, on failure, delete)
files outside the prefix, and an absolute path aborts the whole process. So every
package is checked here first, with the rules of :mod:`shipyard.archives` for the tar
members (names, links, device files, duplicates, sizes) and these for the paths the
package declares (``info/paths.json``, else ``info/files``):

- each is a clean relative path (no ``..``, not absolute, no ``./`` or ``//``);
- none appears twice and none lies below a path declared as a ``softlink``;
- each names a member of the package of the matching kind (``hardlink`` → a file,
  ``softlink`` → a symbolic link, ``directory`` → a directory).

Symbolic links whose target leaves the package are refused too (conda itself allows
them; no package we know of needs one, and a link into ``/etc`` is how a later file
escapes).
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import IO, Any

from shipyard.archives import (
    MAX_UNPACKED_BYTES,
    ArchiveMember,
    archive_size,
    check_members,
    check_tar,
    check_zip,
    normalize_member_name,
)
from shipyard.errors import UnsafeArchiveError

__all__ = ["check_conda_package", "check_declared_paths", "check_extracted_package"]

#: The most ``info/`` may unpack to, bytes: it is metadata (recipes, licenses, tests).
_MAX_INFO_BYTES = 512 * 2**20


def check_conda_package(path: Path) -> None:
    """Check one conda package file completely; return quietly when it is safe.

    :param path: a ``.tar.bz2`` or ``.conda`` file (already checked against its sha256).
    :raises UnsafeArchiveError: naming what is wrong; nothing was unpacked.
    """
    name = path.name
    try:
        if name.endswith(".tar.bz2"):
            with tarfile.open(path, "r:bz2") as tar:
                members = check_tar(tar, what=name, archive_size=archive_size(path))
                declared = _declared_paths(tar, members, name)
            payload = [m for m in members if not _under_info(m.name)]
        elif name.endswith(".conda"):
            payload, declared = _check_conda_v2(path)
        else:
            raise _unsafe(name, "it is neither a .tar.bz2 nor a .conda package")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise UnsafeArchiveError(
            f"The conda package {name} cannot be read: {exc}.",
            hint="The file is corrupt or not a conda package; nothing of it was installed.",
        ) from exc
    check_declared_paths(name, _kinds_of_members(name, payload), declared)


def _under_info(member: str) -> bool:
    normalized = normalize_member_name(member) or member
    return normalized == "info" or normalized.startswith("info/")


def _check_conda_v2(path: Path) -> tuple[list[tarfile.TarInfo], list[dict[str, Any]]]:
    """The ``.conda`` format: a zip holding ``info-*.tar.zst`` and ``pkg-*.tar.zst``."""
    import zstandard

    name = path.name
    with zipfile.ZipFile(path) as outer:
        check_zip(outer, what=name, archive_size=archive_size(path))
        inner = {i.filename: i for i in outer.infolist()}
        info_names = [n for n in inner if n.startswith("info-") and n.endswith(".tar.zst")]
        pkg_names = [n for n in inner if n.startswith("pkg-") and n.endswith(".tar.zst")]
        if len(info_names) != 1 or len(pkg_names) != 1:
            raise _unsafe(name, "it does not hold exactly one info and one pkg tar")
        # Large single-segment frames need a window as big as their content.
        decompressor = zstandard.ZstdDecompressor(max_window_size=2**31)
        with outer.open(inner[info_names[0]]) as raw:
            reader = decompressor.stream_reader(raw)
            data = reader.read(_MAX_INFO_BYTES + 1)
            if len(data) > _MAX_INFO_BYTES:
                raise _unsafe(name, "its info/ section would unpack to more than 512 MiB")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as info_tar:
            info_members = check_tar(
                info_tar, what=f"{name} ({info_names[0]})", archive_size=len(data)
            )
            declared = _declared_paths(info_tar, info_members, name, prefix="")
        with outer.open(inner[pkg_names[0]]) as raw:
            stream: IO[bytes] = decompressor.stream_reader(raw)
            with tarfile.open(fileobj=stream, mode="r|") as pkg_tar:
                payload = check_tar(
                    pkg_tar,
                    what=f"{name} ({pkg_names[0]})",
                    archive_size=inner[pkg_names[0]].compress_size,
                )
    return payload, declared


def _declared_paths(
    tar: tarfile.TarFile, members: list[tarfile.TarInfo], name: str, prefix: str = ""
) -> list[dict[str, Any]]:
    """The package's declared paths: ``info/paths.json`` entries, else ``info/files``
    lines as hardlinks; ``[]`` when it has neither."""
    by_name = {normalize_member_name(m.name): m for m in members}
    paths_json = by_name.get("info/paths.json")
    if paths_json is not None and paths_json.isreg():
        handle = tar.extractfile(paths_json)
        assert handle is not None
        document = json.loads(handle.read(_MAX_INFO_BYTES))
        entries = document.get("paths") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise _unsafe(name, "info/paths.json has no list of paths")
        return entries
    files = by_name.get("info/files")
    if files is not None and files.isreg():
        handle = tar.extractfile(files)
        assert handle is not None
        lines = handle.read(_MAX_INFO_BYTES).decode("utf-8", "replace").splitlines()
        return [{"_path": line, "path_type": "hardlink"} for line in lines if line.strip()]
    return []


def _kinds_of_members(name: str, payload: list[tarfile.TarInfo]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for member in payload:
        normalized = normalize_member_name(member.name)
        if normalized is None:  # check_tar refused these already
            raise _unsafe(name, f"the member {member.name!r} would land outside the target")
        if member.isreg() or member.islnk():
            kinds[normalized] = "file"
        elif member.issym():
            kinds[normalized] = "symlink"
        else:
            kinds[normalized] = "dir"
    return kinds


def check_declared_paths(name: str, kinds: dict[str, str], declared: list[dict[str, Any]]) -> None:
    """Check the paths a package declares against what it holds.

    :param name: the package, for messages.
    :param kinds: member path -> ``"file"``, ``"symlink"`` or ``"dir"``.
    :param declared: ``info/paths.json``'s ``paths`` (``_path``, ``path_type``, …).
    :raises UnsafeArchiveError: see the module docstring.
    """
    expected = {"hardlink": "file", "softlink": "symlink", "directory": "dir"}
    as_members = []
    total = 0
    for entry in declared:
        path = entry.get("_path")
        path_type = entry.get("path_type", "hardlink")
        if not isinstance(path, str) or normalize_member_name(path) != path:
            raise _unsafe(
                name, f"info/paths.json names {path!r}, not a plain path inside the prefix"
            )
        kind = expected.get(path_type) if isinstance(path_type, str) else None
        if kind is None:
            raise _unsafe(name, f"info/paths.json gives {path!r} the unknown type {path_type!r}")
        found = kinds.get(path)
        if found is None and kind != "dir":
            raise _unsafe(name, f"info/paths.json lists {path!r}, which the package lacks")
        if found is not None and found != kind:
            raise _unsafe(
                name, f"info/paths.json says {path!r} is a {path_type}, but it is a {found}"
            )
        size = entry.get("size_in_bytes")
        total += size if isinstance(size, int) and size > 0 else 0
        if total > MAX_UNPACKED_BYTES:
            raise _unsafe(name, "info/paths.json declares more than the size limit")
        # Links count as files here: nothing may be declared below one.
        as_members.append(ArchiveMember(path, "dir" if kind == "dir" else "file"))
    check_members(as_members, what=f"{name} (info/paths.json)", archive_size=1)


def check_extracted_package(directory: Path) -> None:
    """Check a package already unpacked in the package cache (by py-rattler, or by an
    older shipyard) the same way: its declared paths, and symbolic links that leave it.

    :raises UnsafeArchiveError: when it is unsafe to link into a prefix.
    """
    import os

    name = directory.name
    kinds: dict[str, str] = {}
    root = str(directory)
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root).replace(os.sep, "/")
        for entry in [*dirs, *files]:
            rel = entry if rel_dir == "." else f"{rel_dir}/{entry}"
            full = os.path.join(current, entry)
            if os.path.islink(full):
                target = os.readlink(full)
                members = [ArchiveMember(rel, "symlink", target=target)]
                check_members(members, what=name, archive_size=1)
                kinds[rel] = "symlink"
            elif os.path.isdir(full):
                kinds[rel] = "dir"
            else:
                kinds[rel] = "file"
    paths_json = directory / "info" / "paths.json"
    declared: list[dict[str, Any]] = []
    try:
        document = json.loads(paths_json.read_bytes())
    except FileNotFoundError:
        document = None
    except (OSError, ValueError) as exc:
        raise _unsafe(name, f"info/paths.json cannot be read ({exc})") from exc
    if isinstance(document, dict) and isinstance(document.get("paths"), list):
        declared = [e for e in document["paths"] if isinstance(e, dict)]
        if len(declared) != len(document["paths"]):
            raise _unsafe(name, "info/paths.json has entries that are not tables")
    check_declared_paths(name, kinds, declared)


def _unsafe(name: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"Refusing to install the conda package {name}: {why}.",
        hint="Nothing of it was unpacked or linked. The package is malformed or hostile; "
        "report it to the channel that publishes it.",
    )
