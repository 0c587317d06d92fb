"""The archive ``shipyard pack`` writes, and how ``shipyard unpack`` reads it.

A tar stream (gzip, zstd or none; chosen by the output's name), whose root is the
environment's root::

    .shipyard-pack/manifest.json   first member: kind, platform, Python, lock digest,
                                   the placeholder prefix and the files that hold it
    .shipyard-pack/relocate.py     :mod:`shipyard.project.relocation`, run by unpack.sh
    unpack.sh                      POSIX sh: relocate the directory it sits in
    base-python/                   a virtual environment's base interpreter (a
                                   relocatable python-build-standalone install)
    bin/ lib/ pyvenv.cfg …         the environment (a conda prefix has conda-meta/)

Members come in a fixed order (manifest, scripts, then by name), owned by root with
no user or group names, with their real modification times (a ``.pyc`` stays valid
only while its source's mtime does). Every link points inside the archive and is
relative, so ``tarfile``'s ``data`` filter and plain ``tar`` both keep it.
"""

from __future__ import annotations

import gzip
import io
import os
import secrets
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shipyard.atomic import os_error
from shipyard.errors import InstallError, UsageError

__all__ = [
    "BASE_PYTHON",
    "PLACEHOLDER_LENGTH",
    "RELOCATE_SCRIPT",
    "UNPACK_SCRIPT",
    "Entry",
    "collect_entries",
    "compression_for",
    "open_archive",
    "placeholder_prefix",
    "prefix_files",
    "unpack_script",
    "write_archive",
]

#: Length (characters) of the prefix an environment is built at before packing: the
#: longest path it can be unpacked at when it has binary files holding its path.
PLACEHOLDER_LENGTH = 200
#: Where a virtual environment's base interpreter goes inside it.
BASE_PYTHON = "base-python"
UNPACK_SCRIPT = "unpack.sh"
RELOCATE_SCRIPT = ".shipyard-pack/relocate.py"
_PAD = "_placehold"
_CHUNK = 1 << 20


def placeholder_prefix(scratch: Path) -> Path:
    """A directory name under ``scratch`` padded with ``_placehold`` so the whole path
    is :data:`PLACEHOLDER_LENGTH` characters (just ``env`` when ``scratch`` is already
    nearly that long): a path no file holds by chance, and room for the path binary
    files get at unpack."""
    room = PLACEHOLDER_LENGTH - len(str(scratch)) - 1
    if room < 16:
        return scratch / "env"
    name = ("_shipyard_pack" + _PAD * 30)[: min(room, 250)]
    return scratch / name


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One archive member.

    :param name: its path in the archive (POSIX, relative).
    :param kind: ``"file"``, ``"dir"`` or ``"symlink"``.
    :param source: the file on disk a ``file`` is read from (``None`` with ``data``).
    :param data: the bytes of a generated file.
    :param linkname: a symlink's (relative) target.
    :param mode: permission bits; :param mtime: seconds since the epoch.
    """

    name: str
    kind: str
    source: Path | None = None
    data: bytes | None = None
    linkname: str = ""
    mode: int = 0o644
    mtime: int = 0


def compression_for(output: Path) -> str:
    """``"gz"``, ``"zst"`` or ``""`` from the output file's name.

    :raises UsageError: for a name that is none of ``.tar.gz``/``.tgz``,
        ``.tar.zst``/``.tzst`` and ``.tar``.
    """
    name = output.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "gz"
    if name.endswith((".tar.zst", ".tzst")):
        return "zst"
    if name.endswith(".tar"):
        return ""
    raise UsageError(
        f"{output.name}: the archive's name must end in .tar.gz, .tar.zst or .tar.",
        hint="For example `shipyard pack -o env.tar.gz`.",
    )


def collect_entries(
    root: Path, arcname: str, *, moves: Sequence[tuple[Path, str]], top: Path
) -> list[Entry]:
    """Every directory, file and symlink under ``root``, named ``arcname/…`` (``""``:
    at the archive's root).

    :param moves: ``(directory on disk, its path in the archive)`` for every tree that
        goes into the archive; an absolute symlink into one of them becomes relative.
    :param top: the directory the archive's root stands for (for messages).
    :raises InstallError: for a link that leaves the archive, or a special file.
    """
    entries: list[Entry] = []
    pending = [(root, arcname)]
    while pending:
        directory, prefix = pending.pop()
        try:
            listing = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise os_error(exc, what="read the environment", path=directory) from exc
        for item in listing:
            name = f"{prefix}/{item.name}" if prefix else item.name
            info = item.stat(follow_symlinks=False)
            if item.is_symlink():
                target = _relative_link(Path(item.path), os.readlink(item.path), name, moves, top)
                entries.append(
                    Entry(
                        name=name,
                        kind="symlink",
                        linkname=target,
                        mode=0o777,
                        mtime=int(info.st_mtime),
                    )
                )
            elif item.is_dir(follow_symlinks=False):
                entries.append(
                    Entry(
                        name=name, kind="dir", mode=info.st_mode & 0o7777, mtime=int(info.st_mtime)
                    )
                )
                pending.append((Path(item.path), name))
            elif item.is_file(follow_symlinks=False):
                entries.append(
                    Entry(
                        name=name,
                        kind="file",
                        source=Path(item.path),
                        mode=info.st_mode & 0o7777,
                        mtime=int(info.st_mtime),
                    )
                )
            else:
                raise InstallError(
                    f"{item.path} is neither a file, a directory nor a symlink; it cannot "
                    "be packed.",
                    context=str(top),
                    hint="Remove it from the environment (or the interpreter) and pack again.",
                )
    return entries


def _relative_link(
    link: Path, target: str, name: str, moves: Sequence[tuple[Path, str]], top: Path
) -> str:
    """The target of the symlink at archive path ``name`` as a path relative to its
    directory that stays inside the archive."""
    here = "/".join(name.split("/")[:-1])
    if os.path.isabs(target):
        for directory, arcname in moves:
            try:
                inside = Path(target).relative_to(directory)
            except ValueError:
                continue
            destination = f"{arcname}/{inside.as_posix()}" if arcname else inside.as_posix()
            return os.path.relpath(destination.rstrip("/.") or ".", here or ".")
        resolved = target
    else:
        joined = os.path.normpath(os.path.join(here, target))
        if joined != ".." and not joined.startswith("../"):
            return target
        resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
    raise InstallError(
        f"The link {name} points outside the environment (to {resolved}); the packed "
        "environment would not work elsewhere.",
        context=str(top),
        hint="Make it a relative link inside the environment (or a copy), then pack again.",
    )


def prefix_files(
    entries: Sequence[Entry], prefix: str, *, conda_modes: Mapping[str, str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The files of ``entries`` that hold ``prefix``, with their relocation mode.

    ``.pyc`` files are left out: Python takes a module's file name from where it loads
    the source, not from the ``.pyc``. A file holding a NUL byte is ``binary``, else
    ``text``; ``conda_modes`` (conda's ``file_mode`` per path, from ``conda-meta``)
    overrides that for the files conda placed.

    :returns: ``[{"path", "mode"}]`` sorted by path, and the binary files that are not
        conda's (shipyard pads them like conda's, but cannot know their format).
    """
    needle = os.fsencode(prefix)
    found: list[dict[str, str]] = []
    unknown_binary: list[str] = []
    for entry in entries:
        if entry.kind != "file" or entry.source is None or entry.name.endswith(".pyc"):
            continue
        holds, binary = _scan(entry.source, needle)
        if not holds:
            continue
        mode = conda_modes.get(entry.name) or ("binary" if binary else "text")
        if mode == "binary" and entry.name not in conda_modes:
            unknown_binary.append(entry.name)
        found.append({"path": entry.name, "mode": mode})
    return sorted(found, key=lambda f: f["path"]), unknown_binary


def _scan(path: Path, needle: bytes) -> tuple[bool, bool]:
    """Whether the file holds ``needle``, and whether it holds a NUL byte (read in
    1 MiB chunks that overlap by the needle's length)."""
    holds = binary = False
    tail = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                window = tail + chunk
                holds = holds or needle in window
                binary = binary or b"\0" in chunk
                tail = window[-len(needle) :]
    except OSError as exc:
        raise os_error(exc, what="read a file of the environment", path=path) from exc
    return holds, binary


def unpack_script(runner: str) -> bytes:
    """``unpack.sh``: relocate the directory the script sits in, with the interpreter
    at ``runner`` (relative to it) running ``.shipyard-pack/relocate.py``."""
    return (
        "#!/bin/sh\n"
        "# Written by `shipyard pack`. After `tar xf` into a directory, run this script\n"
        "# (from anywhere) to point the environment's scripts and files at that directory.\n"
        "# Running it again after moving the directory points them at the new place.\n"
        "set -eu\n"
        'here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)\n'
        f'exec "$here/{runner}" -I -S "$here/{RELOCATE_SCRIPT}" "$here"\n'
    ).encode()


def write_archive(output: Path, entries: Sequence[Entry], compression: str) -> int:
    """Write ``entries`` in order as a tar stream to ``output``, atomically (a
    temporary file beside it, then a rename).

    :param compression: ``"gz"`` (level 6, no name or time in the header), ``"zst"``
        (level 10) or ``""``.
    :returns: the archive's size in bytes.
    :raises DiskFullError, ShipyardError: when it cannot be written.
    """
    temporary = str(output.parent / f".{output.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 less the umask, as any new file: the archive is for other people too
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise os_error(exc, what="write the archive", path=output) from exc
    try:
        with os.fdopen(descriptor, "wb") as raw:
            stream: Any = raw
            if compression == "gz":
                stream = gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
                )
            elif compression == "zst":
                import zstandard

                stream = zstandard.ZstdCompressor(level=10, threads=-1).stream_writer(
                    raw, closefd=False
                )
            with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for entry in entries:
                    _add(tar, entry)
            if stream is not raw:
                stream.close()
            raw.flush()
            os.fsync(raw.fileno())
        size = os.path.getsize(temporary)
        os.replace(temporary, output)
    except OSError as exc:
        _unlink(temporary)
        raise os_error(exc, what="write the archive", path=output) from exc
    except BaseException:
        _unlink(temporary)
        raise
    return size


def _add(tar: tarfile.TarFile, entry: Entry) -> None:
    info = tarfile.TarInfo(entry.name)
    info.mode, info.mtime = entry.mode, entry.mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif entry.kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, entry.linkname
        tar.addfile(info)
    elif entry.data is not None:
        info.size = len(entry.data)
        tar.addfile(info, io.BytesIO(entry.data))
    else:
        assert entry.source is not None
        with open(entry.source, "rb") as handle:
            info.size = os.fstat(handle.fileno()).st_size
            tar.addfile(info, handle)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@contextmanager
def open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    """``path`` opened as a tar stream (read once, front to back), decompressed by its
    first bytes: gzip, zstd or none.

    :raises UsageError: when ``path`` does not exist.
    :raises InstallError: when it is not a tar archive.
    """
    try:
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file.", hint="Give the archive `shipyard pack` wrote."
        ) from None
    except OSError as exc:
        raise os_error(exc, what="read the archive", path=path) from exc
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        stream: Any = raw
        if magic[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif magic == b"\x28\xb5\x2f\xfd":
            import zstandard

            stream = zstandard.ZstdDecompressor().stream_reader(raw, closefd=False)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                yield tar
        except (tarfile.ReadError, EOFError, gzip.BadGzipFile) as exc:
            raise InstallError(
                f"{path.name} is not an archive `shipyard pack` wrote, or it is damaged: {exc}.",
                context=str(path),
                hint="Copy the archive again and check it arrived whole.",
            ) from exc
