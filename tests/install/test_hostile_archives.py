"""Hostile wheels and sdists: every one is refused before anything of it is written.

Each archive is otherwise valid (a wheel has its dist-info and a RECORD that lists the
hostile member with its right hash) so that the refusal comes from the one hostile
member. After a refusal the target does not exist, no temporary directory is left
beside it, and nothing appeared outside it.
"""

from __future__ import annotations

import io
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.build.frontend import unpack_sdist
from shipyard.errors import InstallError, UnsafeArchiveError
from shipyard.install.unpack import record_hash, unpack_wheel

#: A member: (name, content, unix mode) — mode 0 means a plain file with no mode bits.
Member = tuple[str, bytes, int]
REG = stat.S_IFREG | 0o644
BOMB_BYTES = 80 * 2**20  # zeros: deflate/gzip shrink them ~1000 times


def _wheel(path: Path, hostile: list[Member], *, record_hostile: bool = True) -> Path:
    dist_info = "evil-1.0.dist-info"
    members: list[Member] = [
        ("evil/__init__.py", b"", REG),
        (f"{dist_info}/METADATA", b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n", REG),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            REG,
        ),
        *hostile,
    ]
    record = []
    for name, data, _mode in members:
        if record_hostile or (name, data, _mode) not in hostile:
            record.append(f"{name},{record_hash(data)},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    members.append((f"{dist_info}/RECORD", "\n".join(record).encode() + b"\n", REG))
    return _write_zip(path, members)


def _write_zip(path: Path, members: list[Member]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


WHEELS: dict[str, list[Member]] = {
    "dotdot": [("../evil.py", b"x", REG)],
    "dotdot-nested": [("evil/../../evil.py", b"x", REG)],
    "backslash-dotdot": [("evil\\..\\..\\evil.py", b"x", REG)],
    "absolute": [("/tmp/evil.py", b"x", REG)],
    "drive": [("C:/evil.py", b"x", REG)],
    "symlink-out": [("evil/passwd", b"/etc/passwd", stat.S_IFLNK | 0o777)],
    "symlink-in": [("evil/alias.py", b"__init__.py", stat.S_IFLNK | 0o777)],
    "char-device": [("evil/null", b"", stat.S_IFCHR | 0o666)],
    "block-device": [("evil/sda", b"", stat.S_IFBLK | 0o666)],
    "fifo": [("evil/pipe", b"", stat.S_IFIFO | 0o666)],
    "socket": [("evil/sock", b"", stat.S_IFSOCK | 0o666)],
    "duplicate": [("evil/a.py", b"one", REG), ("evil/a.py", b"two", REG)],
    "duplicate-normalised": [("evil/a.py", b"one", REG), ("evil/./a.py", b"two", REG)],
    "file-and-directory": [("evil/sub", b"file", REG), ("evil/sub/x.py", b"", REG)],
    "bomb": [("evil/zeros.bin", bytes(BOMB_BYTES), REG)],
    "not-in-record": [("evil/extra.py", b"x", REG)],
}


@pytest.mark.parametrize("case", sorted(WHEELS))
def test_hostile_wheel_is_refused(tmp_path: Path, case: str) -> None:
    hostile = WHEELS[case]
    wheel = _wheel(
        tmp_path / "evil-1.0-py3-none-any.whl", hostile, record_hostile=case != "not-in-record"
    )
    dest = tmp_path / "cache" / "entry"
    with pytest.raises(InstallError) as info:
        unpack_wheel(wheel, dest)
    message = str(info.value)
    assert "evil-1.0-py3-none-any.whl" in message
    if case not in ("not-in-record",):
        assert (
            isinstance(info.value, UnsafeArchiveError)
            or "absolute path" in message
            or ("outside its root" in message)
        ), message
    assert not dest.exists()
    assert not (dest.parent.exists() and list(dest.parent.iterdir()))
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data) if fields.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
    info.mtime = 1_700_000_000
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.size else None)


def _sdist_tar(path: Path, hostile: Callable[[tarfile.TarFile], None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _tar_member(tar, "evil-1.0/PKG-INFO", b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")
        _tar_member(tar, "evil-1.0/pyproject.toml", b"[project]\nname='evil'\nversion='1.0'\n")
        hostile(tar)
    return path


SDISTS: dict[str, Callable[[tarfile.TarFile], None]] = {
    "dotdot": lambda t: _tar_member(t, "evil-1.0/../../evil.py", b"x"),
    "absolute": lambda t: _tar_member(t, "/tmp/evil.py", b"x"),
    "symlink-absolute": lambda t: _tar_member(
        t, "evil-1.0/etc", type=tarfile.SYMTYPE, linkname="/etc"
    ),
    "symlink-relative-out": lambda t: _tar_member(
        t, "evil-1.0/up", type=tarfile.SYMTYPE, linkname="../../.."
    ),
    "write-through-symlink": lambda t: (
        _tar_member(t, "evil-1.0/here", type=tarfile.SYMTYPE, linkname="."),
        _tar_member(t, "evil-1.0/here/evil.py", b"x"),
    ),
    "hardlink-out": lambda t: _tar_member(
        t, "evil-1.0/shadow", type=tarfile.LNKTYPE, linkname="../etc/shadow"
    ),
    "char-device": lambda t: _tar_member(
        t, "evil-1.0/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3
    ),
    "block-device": lambda t: _tar_member(t, "evil-1.0/sda", type=tarfile.BLKTYPE),
    "fifo": lambda t: _tar_member(t, "evil-1.0/pipe", type=tarfile.FIFOTYPE),
    "duplicate": lambda t: (
        _tar_member(t, "evil-1.0/setup.py", b"one"),
        _tar_member(t, "evil-1.0/setup.py", b"two"),
    ),
    "file-and-directory": lambda t: (
        _tar_member(t, "evil-1.0/src", b"file"),
        _tar_member(t, "evil-1.0/src/x.py", b""),
    ),
    "bomb": lambda t: _tar_member(t, "evil-1.0/zeros.bin", bytes(BOMB_BYTES)),
}


@pytest.mark.parametrize("case", sorted(SDISTS))
def test_hostile_sdist_is_refused(tmp_path: Path, case: str) -> None:
    sdist = _sdist_tar(tmp_path / "evil-1.0.tar.gz", SDISTS[case])
    dest = tmp_path / "unpacked"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError) as info:
        unpack_sdist(sdist, dest)
    assert "evil-1.0.tar.gz" in str(info.value)
    assert list(dest.iterdir()) == []  # refused before the first write
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()


def _sdist_zip(path: Path, hostile: list[Member]) -> Path:
    pkg_info = b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"
    return _write_zip(path, [("evil-1.0/PKG-INFO", pkg_info, REG), *hostile])


ZIP_SDISTS: dict[str, list[Member]] = {
    "dotdot": [("evil-1.0/../../evil.py", b"x", REG)],
    "absolute": [("/tmp/evil.py", b"x", REG)],
    "symlink-out": [("evil-1.0/etc", b"/etc", stat.S_IFLNK | 0o777)],
    "duplicate": [("evil-1.0/a.py", b"1", REG), ("evil-1.0/a.py", b"2", REG)],
    "bomb": [("evil-1.0/zeros.bin", bytes(BOMB_BYTES), REG)],
}


@pytest.mark.parametrize("case", sorted(ZIP_SDISTS))
def test_hostile_zip_sdist_is_refused(tmp_path: Path, case: str) -> None:
    sdist = _sdist_zip(tmp_path / "evil-1.0.zip", ZIP_SDISTS[case])
    dest = tmp_path / "unpacked"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError):
        unpack_sdist(sdist, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_an_ordinary_sdist_with_an_inner_symlink_unpacks(tmp_path: Path) -> None:
    """Links that stay inside (README.md -> docs/README.md) are fine in sdists."""

    def inner(tar: tarfile.TarFile) -> None:
        _tar_member(tar, "evil-1.0/docs/README.md", b"hello\n")
        _tar_member(tar, "evil-1.0/README.md", type=tarfile.SYMTYPE, linkname="docs/README.md")

    sdist = _sdist_tar(tmp_path / "evil-1.0.tar.gz", inner)
    dest = tmp_path / "unpacked"
    dest.mkdir()
    root = unpack_sdist(sdist, dest)
    assert (root / "README.md").read_text() == "hello\n"


@pytest.mark.parametrize("mode", [0, 0o600, 0o644, REG, stat.S_IFREG | 0o755])
def test_files_without_type_bits_are_ordinary(tmp_path: Path, mode: int) -> None:
    """zipfile.writestr(name, data) stores 0o600 without S_IFREG and Windows tools store
    nothing: such members are plain files, not devices."""
    wheel = _wheel(tmp_path / "evil-1.0-py3-none-any.whl", [("evil/ok.py", b"OK = 1\n", mode)])
    unpacked = unpack_wheel(wheel, tmp_path / "entry")
    assert (unpacked.path / "evil" / "ok.py").read_bytes() == b"OK = 1\n"
