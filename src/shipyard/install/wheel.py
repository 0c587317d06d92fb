"""Install an unpacked wheel into an environment: the writing half of installing.

:func:`install_unpacked` places the files of a cache entry made by
:func:`~shipyard.install.unpack.unpack_wheel` into an environment the way the
``installer`` library and pip do — root files into purelib or platlib,
``<name>-<version>.data/<scheme>/`` files into that scheme path, ``#!python`` scripts
rewritten for the environment's interpreter, a launcher for each console and GUI entry
point — but links each file (hard link, reflink or symbolic link) instead of copying
it, and writes a fresh ``RECORD``, ``INSTALLER``, ``REQUESTED`` and
``direct_url.json`` (PEP 610).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from shipyard.errors import InstallError
from shipyard.install.installed import InstalledDistribution, install_os_error
from shipyard.install.manifest import ScriptEntryPoint, UnpackedFile, UnpackedWheel, record_hash
from shipyard.models.scheme import InstallScheme

__all__ = [
    "LinkMode",
    "install_unpacked",
]

LinkMode = Literal["hardlink", "copy", "symlink", "clone"]
"""How :func:`install_unpacked` places a cached file into an environment."""

# Errors after which a hard link cannot work for this install: another file system,
# a file system without hard links, or the inode's link limit.
_HARDLINK_FALLBACK: Final = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
)
# Errors after which FICLONE cannot work: not supported here, or across file systems.
_CLONE_FALLBACK: Final = frozenset(
    {
        errno.EXDEV,
        errno.EOPNOTSUPP,
        errno.ENOTSUP,
        errno.EINVAL,
        errno.ENOTTY,
        errno.ENOSYS,
        errno.EPERM,
        errno.EBADF,
    }
)
_FICLONE: Final = 0x40049409  # _IOW(0x94, 9, int) on Linux


def _create_new(path: str, mode: int) -> int:
    """Open a new file for writing, replacing (unlinking) whatever is at ``path``.

    Never truncates in place: an existing file may be a hard link into the cache.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, mode)
    except FileExistsError:
        os.unlink(path)
        return os.open(path, flags, mode)


def _write_new(path: str, data: bytes, mode: int = 0o666) -> None:
    fd = _create_new(path, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _Linker:
    """Places cached files into an environment with one link mode, falling back to copy.

    A fallback (no hard links or reflinks possible here) lasts for the rest of the
    install, so each later file costs one system call again.
    """

    __slots__ = ("mode",)

    def __init__(self, mode: LinkMode) -> None:
        if mode not in ("hardlink", "copy", "symlink", "clone"):
            raise InstallError(
                f"Unknown link mode {mode!r}.",
                hint="Use one of hardlink, copy, symlink or clone.",
            )
        if mode == "clone" and sys.platform != "linux":
            mode = "copy"
        self.mode: LinkMode = mode

    def place(self, source: str, target: str) -> None:
        """Make ``target`` a link to (or a copy of) ``source``, replacing what is there."""
        mode = self.mode
        if mode == "hardlink":
            try:
                try:
                    os.link(source, target)
                except FileExistsError:
                    os.unlink(target)
                    os.link(source, target)
                return
            except OSError as exc:
                if exc.errno not in _HARDLINK_FALLBACK:
                    raise
                self.mode = "copy"
        elif mode == "symlink":
            try:
                os.symlink(source, target)
            except FileExistsError:
                os.unlink(target)
                os.symlink(source, target)
            return
        elif mode == "clone":
            if self._clone(source, target):
                return
            self.mode = "copy"
        self._copy(source, target)

    @staticmethod
    def _copy(source: str, target: str) -> None:
        try:
            os.unlink(target)  # never write through an old hard link into the cache
        except FileNotFoundError:
            pass
        shutil.copyfile(source, target)
        shutil.copymode(source, target)

    @staticmethod
    def _clone(source: str, target: str) -> bool:
        import fcntl  # POSIX only; clone mode is Linux only (see __init__)

        src = os.open(source, os.O_RDONLY)
        try:
            dst = _create_new(target, 0o600)
            try:
                fcntl.ioctl(dst, _FICLONE, src)
                os.fchmod(dst, os.fstat(src).st_mode & 0o7777)
            except OSError as exc:
                os.close(dst)
                os.unlink(target)
                if exc.errno in _CLONE_FALLBACK:
                    return False
                raise
            os.close(dst)
            return True
        finally:
            os.close(src)


def _shebang(python: str) -> bytes:
    """``#!<python>``, or a ``/bin/sh`` exec line when the kernel could not run that.

    Linux reads at most 127 bytes of a ``#!`` line and splits it at spaces; a longer path
    or one with a space goes through ``sh``, which Python then reads as a string literal.
    """
    executable = os.fsencode(python)
    if b" " not in executable and len(executable) + 3 <= 127:
        return b"#!" + executable
    quoted = shlex.quote(python).encode()
    return b"#!/bin/sh\n'''exec' " + quoted + b' "$0" "$@"\n' + b"' '''"


def _launcher(shebang: bytes, entry_point: ScriptEntryPoint) -> bytes:
    """A POSIX launcher script for a console or GUI entry point."""
    head = entry_point.attr.split(".", 1)[0]
    kind = "console" if entry_point.group == "console_scripts" else "GUI"
    body = (
        f"# The {kind} script {entry_point.name!r}, written by shipyard from an entry point.\n"
        "import sys\n"
        f"from {entry_point.module} import {head}\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    for _ending in ('-script.pyw', '.exe'):\n"
        "        if sys.argv[0].endswith(_ending):\n"
        "            sys.argv[0] = sys.argv[0][: -len(_ending)]\n"
        "            break\n"
        f"    sys.exit({entry_point.attr}())\n"
    )
    return shebang + b"\n" + body.encode("utf-8")


def _record_prefix(directory: str, root: str) -> str:
    """How RECORD spells ``directory`` relative to ``root`` (``""``, ``../../../bin/``)."""
    relative = os.path.relpath(directory, root)
    if relative == ".":
        return ""
    return relative.replace(os.sep, "/") + "/"


def _same_interpreter(python: str) -> bool:
    try:
        return os.path.realpath(python) == os.path.realpath(sys.executable)
    except OSError:
        return False


def _compile(paths: list[str], python: str) -> None:
    """Write ``__pycache__`` bytecode for ``paths`` for the environment's interpreter.

    Files that do not compile (a syntax error, Python 2 code) are skipped, as pip does.
    """
    if not paths:
        return
    if _same_interpreter(python):
        import py_compile

        for path in paths:
            try:
                py_compile.compile(path, doraise=True)
            except (py_compile.PyCompileError, OSError, ValueError, SyntaxError):
                continue
        return
    try:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-i", "-"],
            input=os.fsencode("\n".join(paths)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise InstallError(
            f"Could not run {python} to compile bytecode: {exc.strerror or exc}.",
            context=python,
            hint="Install without bytecode compilation, or repair the environment.",
        ) from exc


class _Placement:
    """The writing of one unpacked wheel into one scheme, step by step; collects the
    ``RECORD`` entries (path → digest, size) of what it places besides the root files,
    whose lines unpacking prepared."""

    def __init__(
        self,
        unpacked: UnpackedWheel,
        scheme: InstallScheme,
        linker: _Linker,
        compile_bytecode: bool,
    ) -> None:
        self.unpacked = unpacked
        self.linker = linker
        self.root = os.fspath(scheme.purelib if unpacked.root_is_purelib else scheme.platlib)
        self.python = os.fspath(scheme.python)
        self.targets = {
            "purelib": os.fspath(scheme.purelib),
            "platlib": os.fspath(scheme.platlib),
            "scripts": os.fspath(scheme.scripts),
            "data": os.fspath(scheme.data),
            "headers": os.fspath(scheme.headers / unpacked.name),
        }
        self.prefixes = {
            key: _record_prefix(directory, self.root) for key, directory in self.targets.items()
        }
        self.source_root = os.fspath(unpacked.path)
        self.record: dict[str, tuple[str, str]] = {}
        self.to_compile: list[str] | None = [] if compile_bytecode else None
        self._made: set[str] = set()
        self._shebang: bytes | None = None

    def _ensure_dir(self, directory: str) -> None:
        if directory not in self._made:
            os.makedirs(directory, exist_ok=True)
            self._made.add(directory)

    def _shebang_line(self) -> bytes:
        if self._shebang is None:
            self._shebang = _shebang(self.python)
        return self._shebang

    def link_root_files(self) -> None:
        """The root files, from what unpacking worked out: their directories, then one
        link each (their RECORD lines were written at unpack time)."""
        unpacked, linker, root = self.unpacked, self.linker, self.root
        join = os.path.join
        self._ensure_dir(root)
        mkdir = os.mkdir
        for directory in unpacked.root_dirs:
            try:
                mkdir(join(root, directory))
            except FileExistsError:
                pass
        source_root = self.source_root
        to_compile = self.to_compile
        link = os.link if linker.mode == "hardlink" else None
        for item in unpacked.files[: unpacked.root_count]:
            name = item.path
            source = join(source_root, name)
            target = join(root, name)
            if to_compile is not None and name.endswith(".py"):
                to_compile.append(target)
            if link is not None:
                try:
                    link(source, target)
                    continue
                except FileExistsError:
                    pass  # an old file in the way: place() replaces it
                except OSError as exc:
                    if exc.errno not in _HARDLINK_FALLBACK:
                        raise
                    linker.mode, link = "copy", None  # for the rest of the install
            linker.place(source, target)

    def place_other_files(self) -> list[UnpackedFile]:
        """The ``.data`` files into their scheme paths (``#!python`` scripts rewritten
        for the environment's interpreter); returns the ``.dist-info`` files, which
        :meth:`write_dist_info` places last.

        :raises InstallError: for a ``.data`` directory of an unknown scheme.
        """
        unpacked = self.unpacked
        join, dirname = os.path.join, os.path.dirname
        dist_info_prefix = unpacked.dist_info + "/"
        data_prefix = unpacked.data_dir + "/"
        generated = {
            f"{unpacked.dist_info}/{name}"
            for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
        }
        metadata_files = []
        for item in unpacked.files[unpacked.root_count :]:
            name = item.path
            if name.startswith(dist_info_prefix):
                if name not in generated:
                    metadata_files.append(item)
                continue
            source = join(self.source_root, name)
            if not name.startswith(data_prefix):  # unreachable: root files come first
                target, entry, compilable = join(self.root, name), name, True
            else:
                key, _, rest = name[len(data_prefix) :].partition("/")
                base = self.targets.get(key)
                if base is None or not rest:
                    raise InstallError(
                        f"{name!r} is not inside a known .data directory.",
                        context=str(unpacked.path),
                        hint="The wheel is not valid (PEP 427).",
                    )
                target, entry = join(base, rest), self.prefixes[key] + rest
                if key == "scripts" and self._rewrite_script(source, target, entry):
                    continue
                compilable = key in ("purelib", "platlib")
            if compilable and self.to_compile is not None and name.endswith(".py"):
                self.to_compile.append(target)
            self._ensure_dir(dirname(target))
            self.linker.place(source, target)
            self.record[entry] = ("sha256=" + item.sha256, str(item.size))
        return metadata_files

    def _rewrite_script(self, source: str, target: str, entry: str) -> bool:
        """Write a ``#!python`` script with the environment's shebang; ``False`` for
        any other script (linked as it is)."""
        with open(source, "rb") as handle:
            content = handle.read()
        if not content.startswith(b"#!python"):
            return False
        _newline, _, body = content.partition(b"\n")
        content = self._shebang_line() + b"\n" + body
        self._ensure_dir(os.path.dirname(target))
        _write_new(target, content, os.stat(source).st_mode & 0o7777)
        self.record[entry] = (record_hash(content), str(len(content)))
        return True

    def write_launchers(self) -> None:
        """A launcher in the scripts directory for each console and GUI entry point."""
        if not self.unpacked.entry_points:
            return
        scripts = self.targets["scripts"]
        self._ensure_dir(scripts)
        for entry_point in self.unpacked.entry_points:
            content = _launcher(self._shebang_line(), entry_point)
            target = os.path.join(scripts, entry_point.name)
            _write_new(target, content, 0o777)
            current = os.stat(target).st_mode & 0o777
            os.chmod(target, current | 0o111 | ((current & 0o444) >> 2))
            self.record[self.prefixes["scripts"] + entry_point.name] = (
                record_hash(content),
                str(len(content)),
            )

    def write_dist_info(self, metadata_files: list[UnpackedFile], extra: dict[str, bytes]) -> None:
        """Assemble the ``.dist-info`` under a name no metadata reader recognises
        (``.<name>.dist-info.partial``) and rename it into place last: until then the
        distribution is not installed for anyone (importlib.metadata, pip, the next
        sync), whatever was placed so far.

        :param extra: files written fresh (``INSTALLER``, ``REQUESTED``,
            ``direct_url.json``) by name.
        """
        join = os.path.join
        dist_info = self.unpacked.dist_info
        final_info = join(self.root, dist_info)
        staging = join(self.root, f".{dist_info}.partial")
        if os.path.lexists(staging):
            shutil.rmtree(staging)  # left by an install that was killed
        self._ensure_dir(staging)
        prefix_length = len(dist_info) + 1
        for item in metadata_files:
            target = join(staging, item.path[prefix_length:])
            self._ensure_dir(os.path.dirname(target))  # e.g. .dist-info/licenses/ (PEP 639)
            self.linker.place(join(self.source_root, item.path), target)
            self.record[item.path] = ("sha256=" + item.sha256, str(item.size))
        for file_name, content in extra.items():
            _write_new(join(staging, file_name), content)
            self.record[f"{dist_info}/{file_name}"] = (record_hash(content), str(len(content)))
        record_path = f"{dist_info}/RECORD"
        buffer = io.StringIO()
        buffer.write(self.unpacked.root_record)
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(
            (path, digest, size) for path, (digest, size) in sorted(self.record.items())
        )
        writer.writerow((record_path, "", ""))
        _write_new(join(staging, "RECORD"), buffer.getvalue().encode("utf-8"))
        if os.path.lexists(final_info):
            shutil.rmtree(final_info)  # the same version, cut short by an older installer
        os.rename(staging, final_info)


def install_unpacked(
    unpacked: UnpackedWheel,
    scheme: InstallScheme,
    *,
    link_mode: LinkMode = "hardlink",
    requested: bool = False,
    direct_url: Mapping[str, Any] | None = None,
    installer_name: str = "shipyard",
    compile_bytecode: bool = False,
) -> InstalledDistribution:
    """Install an unpacked wheel into an environment (PEP 427, 376, 610, 627).

    Files go where ``installer`` and pip put them: the wheel's root into
    ``scheme.purelib`` when ``Root-Is-Purelib`` is true, else ``scheme.platlib``;
    ``<name>-<version>.data/<key>/`` into the scheme path of that key, with ``headers``
    into ``scheme.headers / <canonical name>``. Scripts from ``.data/scripts`` whose first
    line starts with ``#!python`` (``#!pythonw`` too) get that line replaced by a shebang
    for ``scheme.python`` and are written as new files; every other file is linked from
    the cache per ``link_mode``. Each ``console_scripts``/``gui_scripts`` entry point
    becomes a launcher in ``scheme.scripts`` (``#!<python>``, or a ``/bin/sh`` exec
    line when the path has a space or the line would pass 127 bytes; mode ``0o755``
    under the usual umask). Existing files are replaced (unlinked first, never written
    through, since they may be links into the cache).

    The ``.dist-info`` directory is assembled last under a hidden name
    (``.<name>.dist-info.partial``) and renamed into place as the very last step, so an
    interrupted install is never reported as installed: its files may be present, but no
    metadata reader sees the distribution, and the next sync places them again.
    ``RECORD`` lists every installed file relative to the ``site-packages`` directory holding the
    ``.dist-info`` (``../../../bin/tool`` for scripts) with ``sha256=…,size``, and
    itself with empty fields. ``INSTALLER`` (``installer_name``), ``REQUESTED`` (when
    ``requested``) and ``direct_url.json`` (when ``direct_url`` is given) are written
    fresh; copies of those files inside the wheel are ignored.

    Link modes: ``hardlink`` (one ``link`` call per file; falls back to copying for the
    rest of the install on ``EXDEV``, ``EPERM`` or ``EMLINK``), ``copy``, ``symlink``
    (absolute links into the cache entry), ``clone`` (Linux ``FICLONE`` reflink, falling
    back to copying where unsupported).

    :param unpacked: the cache entry (:func:`unpack_wheel`); verify it first
        (:func:`verify_unpacked`).
    :param scheme: the environment's absolute install paths.
    :param link_mode: how to place files, see above.
    :param requested: write ``REQUESTED``: the user asked for this distribution (PEP 376).
    :param direct_url: PEP 610 data for ``direct_url.json`` (installs from a URL, a path,
        editable installs); ``None`` for installs from an index. Must have a ``url`` string.
    :param installer_name: what ``INSTALLER`` says installed the distribution.
    :param compile_bytecode: also write ``__pycache__/*.pyc`` for the installed ``.py``
        files of purelib and platlib, for the environment's interpreter (in this process
        when it is the same interpreter, else by one ``python -m compileall`` run). The
        bytecode is not listed in RECORD; :func:`~shipyard.install.uninstall.uninstall`
        removes it anyway.
    :returns: the installed distribution, with its ``INSTALLER``/``REQUESTED``/
        ``direct_url`` facts already known.
    :raises InstallError: for an unknown link mode, an invalid ``direct_url``, a ``.data``
        directory of an unknown scheme, or a file that cannot be placed.
    :raises DiskFullError: when the disk fills up.
    """
    if direct_url is not None and not isinstance(direct_url.get("url"), str):
        raise InstallError(
            f"The direct URL data for {unpacked.name} has no 'url' (PEP 610).",
            context=unpacked.dist_info,
            hint="This is a bug in the caller; please report it.",
        )
    placement = _Placement(unpacked, scheme, _Linker(link_mode), compile_bytecode)
    root = placement.root
    dist_info = unpacked.dist_info
    extra: dict[str, bytes] = {"INSTALLER": f"{installer_name}\n".encode()}
    if requested:
        extra["REQUESTED"] = b""
    if direct_url is not None:
        extra["direct_url.json"] = json.dumps(dict(direct_url), sort_keys=True).encode()
    try:
        placement.link_root_files()
        metadata_files = placement.place_other_files()
        placement.write_launchers()
        if placement.to_compile:
            _compile(placement.to_compile, placement.python)
        placement.write_dist_info(metadata_files, extra)
    except OSError as exc:
        raise install_os_error(
            exc, what=f"install {unpacked.display_name} {unpacked.version}", path=root
        ) from exc
    return InstalledDistribution.with_details(
        unpacked.name,
        unpacked.version,
        Path(root) / dist_info,
        installer=installer_name,
        requested=requested,
        direct_url=direct_url,
    )
