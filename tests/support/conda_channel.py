"""Hermetic conda channels: packages written with the standard library, indexed with
py-rattler's indexer, served from ``file://`` or from 127.0.0.1.

Both package formats are written:

* ``.tar.bz2`` — one bzip2 tar holding ``info/`` and the payload;
* ``.conda`` — an uncompressed zip of ``metadata.json``, ``pkg-<dist>.tar.zst`` and
  ``info-<dist>.tar.zst``. Python 3.11 has no zstd module, so the inner tars are
  stored in zstd frames made of raw (uncompressed) blocks (RFC 8878 §3.1.1.2),
  which every zstd decoder reads.

``conda_python_package`` turns a local CPython installation (a pyenv version)
into a conda ``python`` package, so tests can build a real conda prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import struct
import tarfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: conda-build's classic placeholder prefix; text files containing it are relocated
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
_MTIME = 1_700_000_000
_ARCH = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}


def zstd_raw_frame(data: bytes) -> bytes:
    """A zstd frame that stores ``data`` in raw blocks (no compression)."""
    out = bytearray(b"\x28\xb5\x2f\xfd")  # magic number, little-endian
    # 8-byte content size, no checksum, no dictionary, and not single-segment: a
    # single-segment frame's window is its whole content, which decoders refuse past
    # 128 MiB (rattler: "Frame requires too much memory"); raw blocks need only 1 MiB.
    out.append(0xC0)
    out.append(10 << 3)  # window descriptor: 2 ** (10 + 10) bytes
    out += struct.pack("<Q", len(data))
    size = 128 * 1024
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    for index, chunk in enumerate(chunks):
        header = (index == len(chunks) - 1) | (len(chunk) << 3)  # block type 0: raw
        out += header.to_bytes(3, "little") + chunk
    return bytes(out)


@dataclass
class CondaPackage:
    """A conda package to build.

    :param files: payload path (relative to the prefix) → bytes.
    :param prefix_files: payload text files in which :data:`PLACEHOLDER` is replaced by
        the install prefix.
    :param executables: payload paths written with mode 0755.
    :param noarch: ``"generic"`` (default for subdir ``noarch``) or ``"python"``.
    :param link_json: ``info/link.json`` content (noarch python entry points).
    :param fmt: ``"tar.bz2"`` or ``"conda"``.
    """

    name: str
    version: str
    build: str = "0"
    build_number: int = 0
    subdir: str = "noarch"
    depends: Sequence[str] = ()
    constrains: Sequence[str] = ()
    files: Mapping[str, bytes] = field(default_factory=dict)
    prefix_files: Mapping[str, bytes] = field(default_factory=dict)
    executables: frozenset[str] = frozenset()
    noarch: str | None = None
    link_json: Mapping[str, object] | None = None
    fmt: str = "tar.bz2"
    tree: Path | None = None  # a directory copied into the payload (large packages)
    tree_exclude: Sequence[str] = ()
    #: payload files (from ``files`` or ``tree``) in which ``binary_placeholder`` is
    #: replaced by the install prefix, NUL-padded (conda's ``file_mode: binary``)
    binary_prefix_files: frozenset[str] = frozenset()
    binary_placeholder: str = ""

    @property
    def dist(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"

    @property
    def file_name(self) -> str:
        return f"{self.dist}.{self.fmt}"


def _tarinfo(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tar(entries: Mapping[str, tuple[bytes, int]], mode: str, links: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for name in sorted(set(entries) | set(links)):
            if name in links:
                info = _tarinfo(name, 0, 0o777)
                info.type = tarfile.SYMTYPE
                info.linkname = links[name]
                archive.addfile(info)
                continue
            data, file_mode = entries[name]
            archive.addfile(_tarinfo(name, len(data), file_mode), io.BytesIO(data))
    return buffer.getvalue()


def _tree_entries(
    package: CondaPackage,
) -> tuple[dict[str, tuple[bytes, int]], dict[str, str]]:
    files: dict[str, tuple[bytes, int]] = {}
    links: dict[str, str] = {}
    if package.tree is None:
        return files, links
    root = package.tree
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirnames[:] = [
            d
            for d in dirnames
            if not any(
                os.path.normpath(os.path.join(rel_dir, d)).startswith(x)
                for x in package.tree_exclude
            )
            and d != "__pycache__"
        ]
        for filename in filenames:
            path = os.path.join(directory, filename)
            rel = os.path.normpath(os.path.join(rel_dir, filename))
            if any(rel.startswith(x) for x in package.tree_exclude):
                continue
            if os.path.islink(path):
                links[rel] = os.readlink(path)
                continue
            with open(path, "rb") as handle:
                files[rel] = (handle.read(), os.stat(path).st_mode & 0o777)
    return files, links


def package_archive(package: CondaPackage) -> bytes:
    """The bytes of the package file in its format."""
    payload, links = _tree_entries(package)
    for rel, data in {**package.files, **package.prefix_files}.items():
        payload[rel] = (data, 0o755 if rel in package.executables else 0o644)
    noarch = package.noarch or ("generic" if package.subdir == "noarch" else None)
    index: dict[str, object] = {
        "name": package.name,
        "version": package.version,
        "build": package.build,
        "build_number": package.build_number,
        "depends": list(package.depends),
        "subdir": package.subdir,
        "license": "MIT",
        "timestamp": _MTIME * 1000,
    }
    if package.subdir != "noarch":
        system, _, arch = package.subdir.partition("-")
        index["platform"], index["arch"] = system, _ARCH.get(arch, arch)
    if package.constrains:
        index["constrains"] = list(package.constrains)
    if noarch:
        index["noarch"] = noarch
    paths = []
    for rel in sorted(set(payload) | set(links)):
        if rel in links:
            paths.append({"_path": rel, "path_type": "softlink"})
            continue
        data = payload[rel][0]
        entry: dict[str, object] = {
            "_path": rel,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data),
        }
        if rel in package.prefix_files:
            entry["file_mode"] = "text"
            entry["prefix_placeholder"] = PLACEHOLDER
        elif rel in package.binary_prefix_files:
            entry["file_mode"] = "binary"
            entry["prefix_placeholder"] = package.binary_placeholder
        paths.append(entry)
    info = {
        "info/index.json": (json.dumps(index, indent=2, sort_keys=True).encode(), 0o644),
        "info/paths.json": (json.dumps({"paths": paths, "paths_version": 1}).encode(), 0o644),
        "info/files": (("\n".join(sorted(set(payload) | set(links))) + "\n").encode(), 0o644),
    }
    if package.link_json is not None:
        info["info/link.json"] = (json.dumps(package.link_json).encode(), 0o644)
    if package.fmt == "tar.bz2":
        return _tar({**info, **payload}, "w:bz2", links)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in (
            ("metadata.json", json.dumps({"conda_pkg_format_version": 2}).encode()),
            (f"pkg-{package.dist}.tar.zst", zstd_raw_frame(_tar(payload, "w", links))),
            (f"info-{package.dist}.tar.zst", zstd_raw_frame(_tar(info, "w", {}))),
        ):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20)), data)
    return buffer.getvalue()


def index_channel(root: Path, *, shards: bool = False) -> None:
    """Write ``repodata.json`` for every subdir of ``root`` (and ``noarch``) with
    py-rattler's indexer; ``shards`` also writes sharded repodata (CEP 16) and ``.zst``."""
    from rattler.index import index_fs

    (root / "noarch").mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        await index_fs(root, write_zst=shards, write_shards=shards, force=True)
        await asyncio.sleep(0.05)  # let py-rattler's runtime settle (pyo3-async-runtimes#40)

    asyncio.run(run())


def build_channel(root: Path, packages: Sequence[CondaPackage], *, shards: bool = False) -> Path:
    """Write ``packages`` into the channel directory ``root`` and index it."""
    for package in packages:
        target = root / package.subdir / package.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(package_archive(package))
    index_channel(root, shards=shards)
    return root


class _Handler(SimpleHTTPRequestHandler):
    """Static files; conditional requests always get the full body, because py-rattler
    cannot handle a 304 without validators on sharded repodata (conda/rattler#2719)."""

    requests: list[str]

    def send_head(self):  # type: ignore[no-untyped-def]
        del self.headers["If-Modified-Since"]
        del self.headers["If-None-Match"]
        self.requests.append(self.path)
        return super().send_head()

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if code == 200:
            self.send_header("Last-Modified", formatdate(_MTIME, usegmt=True))

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients (py-rattler) closing connections early are not test failures


class ChannelServer:
    """Serves a channel directory over HTTP on 127.0.0.1 (a context manager).

    :ivar url: the channel's base URL; :ivar requests: paths requested so far.
    """

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"requests": self.requests})
        self._server = _QuietServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ChannelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def conda_python_package(
    install: Path, version: str, *, build: str = "h0_0_cpython", fmt: str = "conda"
) -> CondaPackage:
    """A linux-64 conda ``python`` package made from the CPython installation at
    ``install`` (e.g. ``~/.pyenv/versions/3.12.1``), without its tests, headers, IDLE,
    Tk and site-packages. Its ``python3.X`` finds its standard library relative to
    itself, so installed into a prefix it reports that prefix as ``sys.prefix``."""
    major_minor = ".".join(version.split(".")[:2])
    lib = f"lib/python{major_minor}"
    exclude = [
        "include",
        "share",
        "lib/pkgconfig",
        f"{lib}/test",
        f"{lib}/site-packages",
        f"{lib}/idlelib",
        f"{lib}/tkinter",
        f"{lib}/lib2to3",
        f"{lib}/ensurepip",
        f"{lib}/turtledemo",
        f"{lib}/config-{major_minor}-x86_64-linux-gnu",
        "lib/libpython",
        "bin/2to3",
        "bin/idle",
        "bin/pydoc",
        "bin/pip",
        "bin/python3-config",
        "bin/python-config",
        f"bin/python{major_minor}-config",
    ]
    return CondaPackage(
        name="python",
        version=version,
        build=build,
        subdir="linux-64",
        depends=["__glibc >=2.17"],
        tree=install,
        tree_exclude=exclude,
        files={f"{lib}/site-packages/README.txt": b"conda site-packages\n"},
        fmt=fmt,
    )


def iter_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (for assertions on a prefix)."""
    for directory, _dirs, files in os.walk(root):
        for name in files:
            yield Path(directory) / name
