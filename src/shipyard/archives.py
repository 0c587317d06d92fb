"""Safety checks for the archives shipyard unpacks: wheels, sdists and conda packages.

Every archive is checked as a whole *before* anything of it is written, so a refused
archive leaves nothing behind:

- names: no absolute paths (``/x``, ``C:x``, ``\\\\server``), no ``..`` components, no
  NUL bytes;
- no two members with the same name after normalisation (``a/./b`` is ``a/b``), and no
  member that is both a file and a directory (``pkg`` and ``pkg/x.py``);
- only regular files, directories and — where the format allows them — symbolic and
  hard links whose targets stay inside the archive's root; device files, FIFOs and
  sockets are refused;
- decompression is bounded: the sizes the archive declares (which ``zipfile`` and
  ``tarfile`` then enforce while reading) may not add up to more than
  :data:`MAX_UNPACKED_BYTES`, and an archive that expands more than
  :data:`MAX_RATIO` times beyond :data:`RATIO_FLOOR_BYTES` is refused as a
  decompression bomb.

pip and ``installer`` check names but not sizes; tarfile's ``data`` filter
(PEP 706) checks links and devices member by member while extracting, which can leave
half an archive behind. Here it all happens before the first write.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from shipyard.errors import UnsafeArchiveError

__all__ = [
    "MAX_MEMBERS",
    "MAX_RATIO",
    "MAX_UNPACKED_BYTES",
    "RATIO_FLOOR_BYTES",
    "ArchiveMember",
    "archive_size",
    "check_members",
    "check_tar",
    "check_zip",
    "normalize_member_name",
]

#: The most an archive may unpack to, bytes (the largest CUDA wheels unpack to ~4 GiB).
MAX_UNPACKED_BYTES: Final = 32 * 2**30
#: Unpacked size / archive size above which an archive counts as a decompression bomb,
#: once it unpacks to more than :data:`RATIO_FLOOR_BYTES` (real packages stay under 30).
MAX_RATIO: Final = 250
RATIO_FLOOR_BYTES: Final = 64 * 2**20
#: The most members an archive may have.
MAX_MEMBERS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One member, as the checks see it.

    :param name: the name as stored in the archive.
    :param kind: ``"file"``, ``"dir"``, ``"symlink"``, ``"hardlink"`` or ``"special"``
        (device, FIFO, socket, anything else).
    :param size: the declared unpacked size, bytes (0 for links and directories).
    :param target: the link target for links, else ``None``.
    """

    name: str
    kind: str
    size: int = 0
    target: str | None = None


def normalize_member_name(name: str) -> str | None:
    """``name`` as a clean relative POSIX path (``./a//b/`` → ``a/b``), or ``None`` when it
    is absolute, has a drive, a ``..`` component or a NUL byte, or is empty."""
    if "\x00" in name:
        return None
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _inside(link_name: str, target: str, *, hard: bool) -> bool:
    """Whether a link at ``link_name`` pointing to ``target`` stays inside the root.

    Symbolic link targets are relative to the link's directory; hard link targets (tar)
    to the archive root.
    """
    if "\x00" in target or target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        return False
    base = "" if hard else posixpath.dirname(link_name)
    joined = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    return joined != ".." and not joined.startswith("../")


def check_members(
    members: Iterable[ArchiveMember],
    *,
    what: str,
    archive_size: int,
    allow_links: bool = True,
) -> list[ArchiveMember]:
    """Check every member of one archive; return them (names normalised).

    :param what: names the archive in messages (a file name or URL).
    :param archive_size: the archive's size on disk, bytes, for the ratio check.
    :param allow_links: whether symbolic and hard links may appear at all (wheels: no).
    :raises UnsafeArchiveError: naming the first offending member and why.
    """
    seen: dict[str, str] = {}
    parents: set[str] = set()
    total = 0
    checked: list[ArchiveMember] = []
    for count, member in enumerate(members, start=1):
        if count > MAX_MEMBERS:
            raise _unsafe(what, f"it has more than {MAX_MEMBERS:,} members")
        name = normalize_member_name(member.name)
        if name is None:
            raise _unsafe(what, f"the member {member.name!r} would land outside the target")
        if member.kind == "special":
            raise _unsafe(what, f"{member.name!r} is a device file, FIFO or socket")
        if member.kind in ("symlink", "hardlink"):
            if not allow_links:
                raise _unsafe(what, f"{member.name!r} is a link, which this format forbids")
            if not member.target or not _inside(
                name, member.target, hard=member.kind == "hardlink"
            ):
                raise _unsafe(
                    what, f"the link {member.name!r} points outside it ({member.target!r})"
                )
        previous = seen.get(name)
        if previous is not None and not (previous == "dir" and member.kind == "dir"):
            raise _unsafe(what, f"it contains {name!r} twice")
        if member.kind != "dir" and name in parents:
            raise _unsafe(what, f"{name!r} is both a file and a directory")
        seen[name] = member.kind
        parent = posixpath.dirname(name)
        while parent:
            if parent in parents:
                break
            if seen.get(parent, "dir") != "dir":
                raise _unsafe(what, f"{parent!r} is both a file and a directory")
            parents.add(parent)
            parent = posixpath.dirname(parent)
        total += max(0, member.size)
        if total > MAX_UNPACKED_BYTES:
            raise _unsafe(what, f"it would unpack to more than {MAX_UNPACKED_BYTES // 2**30} GiB")
        checked.append(
            ArchiveMember(name=name, kind=member.kind, size=member.size, target=member.target)
        )
    if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * max(archive_size, 1):
        raise _unsafe(
            what,
            f"it would unpack {archive_size:,} bytes into {total:,} "
            f"(more than {MAX_RATIO} times): a decompression bomb",
        )
    return checked


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    # No file type bits at all (``zipfile.writestr(name, ...)`` stores 0o600; zips made
    # on Windows store nothing) is an ordinary file.
    if stat.S_IFMT(mode) == 0 or stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "special"


def check_zip(
    archive: zipfile.ZipFile, *, what: str, archive_size: int, allow_links: bool = False
) -> list[zipfile.ZipInfo]:
    """Check a zip archive (a wheel, a zip sdist, a ``.conda`` container).

    The declared sizes are a real bound: ``zipfile`` never returns more bytes than a
    member declares and fails on a CRC mismatch.

    :param allow_links: accept symbolic links (their target is the member's content,
        read here to check it).
    :returns: the members' ``ZipInfo`` in archive order.
    :raises UnsafeArchiveError: see :func:`check_members`.
    """
    infos = archive.infolist()
    members = []
    for info in infos:
        kind = _zip_kind(info)
        target = None
        if kind == "symlink" and allow_links:
            if info.file_size > 4096:
                raise _unsafe(
                    what, f"the link {info.filename!r} has a {info.file_size}-byte target"
                )
            target = archive.read(info).decode("utf-8", "replace")
        members.append(
            ArchiveMember(info.filename, kind, info.file_size if kind == "file" else 0, target)
        )
    check_members(members, what=what, archive_size=archive_size, allow_links=allow_links)
    return infos


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    return "special"


def check_tar(tar: tarfile.TarFile, *, what: str, archive_size: int) -> list[tarfile.TarInfo]:
    """Check a tar archive (an sdist, a conda ``.tar.bz2`` or inner ``.tar.zst``).

    Reads every header (which decompresses the stream once) before anything is
    written; PAX/GNU long names and links are resolved by ``tarfile``.

    :returns: the members in archive order, for extraction with ``filter="data"``.
    :raises UnsafeArchiveError: see :func:`check_members`.
    """
    infos: list[tarfile.TarInfo] = []

    def members() -> Iterable[ArchiveMember]:
        for info in tar:
            infos.append(info)
            yield ArchiveMember(
                info.name,
                _tar_kind(info),
                info.size if info.isreg() else 0,
                info.linkname if info.issym() or info.islnk() else None,
            )

    check_members(members(), what=what, archive_size=archive_size)
    return infos


def archive_size(path: str | os.PathLike[str]) -> int:
    """The size of an archive file in bytes (0 when it cannot be read)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _unsafe(what: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"Refusing to unpack {what}: {why}.",
        hint="Nothing of it was written. The archive is malformed or hostile; report it to "
        "whoever publishes it, and do not install it by other means.",
    )
