"""Hostile conda packages, in both formats, are refused before py-rattler sees them.

py-rattler 0.28 itself skips ``..`` tar members but trusts ``info/paths.json``: a
``../`` path there linked a file outside the prefix (and deleted one when linking
failed), and an absolute one aborted the process. Each package here differs from a
benign one by one hostile entry in its tar or in its ``info/paths.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from shipyard.conda.archive import check_conda_package
from shipyard.conda.prefix import install_records
from shipyard.conda.records import CondaRecord
from shipyard.errors import NetworkError, UnsafeArchiveError
from support.conda_channel import ChannelServer

DIST = "evil-1.0-0"
BOMB_BYTES = 200 * 2**20


def _member(name: str, data: bytes = b"", **fields: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    info.mode = 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    info.size = len(data) if info.type == tarfile.REGTYPE else 0
    return info, data


def _tar(members: list[tuple[tarfile.TarInfo, bytes]], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return buffer.getvalue()


def _package(
    directory: Path,
    fmt: str,
    payload: list[tuple[tarfile.TarInfo, bytes]],
    paths: list[dict[str, object]] | None = None,
) -> Path:
    """A conda package with ``share/ok.txt`` plus ``payload``; ``paths`` replaces the
    ``info/paths.json`` entries derived from the payload."""
    members = [_member("share/ok.txt", b"ok\n"), *payload]
    if paths is None:
        paths = [
            {"_path": info.name, "path_type": "softlink" if info.issym() else "hardlink"}
            for info, _ in members
            if info.isreg() or info.issym()
        ]
    index = {"name": "evil", "version": "1.0", "build": "0", "build_number": 0,
             "subdir": "noarch", "noarch": "generic", "depends": []}  # fmt: skip
    info_members = [
        _member("info/index.json", json.dumps(index).encode()),
        _member("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode()),
    ]
    if fmt == "tar.bz2":
        path = directory / f"{DIST}.tar.bz2"
        path.write_bytes(_tar([*info_members, *members], "w:bz2"))
        return path
    path = directory / f"{DIST}.conda"
    compress = zstandard.ZstdCompressor(level=3).compress
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        archive.writestr(f"pkg-{DIST}.tar.zst", compress(_tar(members, "w")))
        archive.writestr(f"info-{DIST}.tar.zst", compress(_tar(info_members, "w")))
    return path


PAYLOAD_CASES: dict[str, list[tuple[tarfile.TarInfo, bytes]]] = {
    "dotdot": [_member("../escape.txt", b"x")],
    "dotdot-nested": [_member("lib/../../escape.txt", b"x")],
    "absolute": [_member("/tmp/abs-escape.txt", b"x")],
    "symlink-out-absolute": [_member("bin/passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd")],
    "symlink-out-relative": [_member("bin/up", type=tarfile.SYMTYPE, linkname="../../../etc")],
    "write-through-symlink": [
        _member("lib/evil", type=tarfile.SYMTYPE, linkname="."),
        _member("lib/evil/pwned", b"x"),
    ],
    "hardlink-out": [_member("lib/hl", type=tarfile.LNKTYPE, linkname="../../x")],
    "char-device": [_member("dev/null", type=tarfile.CHRTYPE)],
    "fifo": [_member("run/pipe", type=tarfile.FIFOTYPE)],
    "duplicate": [_member("share/a.txt", b"1"), _member("share/a.txt", b"2")],
    "bomb": [_member("share/zeros.bin", bytes(BOMB_BYTES))],
}

PATHS_CASES: dict[str, list[dict[str, object]]] = {
    "paths-dotdot": [{"_path": "../victim.txt", "path_type": "hardlink"}],
    "paths-absolute": [{"_path": "/tmp/victim.txt", "path_type": "hardlink"}],
    "paths-dot-segment": [{"_path": "share/./ok.txt", "path_type": "hardlink"}],
    "paths-missing-file": [
        {"_path": "share/ok.txt", "path_type": "hardlink"},
        {"_path": "etc/shadow", "path_type": "hardlink"},
    ],
    "paths-duplicate": [
        {"_path": "share/ok.txt", "path_type": "hardlink"},
        {"_path": "share/ok.txt", "path_type": "hardlink"},
    ],
    "paths-wrong-type": [{"_path": "share/ok.txt", "path_type": "softlink"}],
    "paths-below-softlink": [
        {"_path": "share/ok.txt", "path_type": "softlink"},
        {"_path": "share/ok.txt/victim", "path_type": "hardlink"},
    ],
    "paths-unknown-type": [{"_path": "share/ok.txt", "path_type": "device"}],
}


@pytest.mark.parametrize("fmt", ["tar.bz2", "conda"])
@pytest.mark.parametrize("case", sorted(PAYLOAD_CASES) + sorted(PATHS_CASES))
def test_hostile_conda_package_is_refused(tmp_path: Path, fmt: str, case: str) -> None:
    if case in PAYLOAD_CASES:
        package = _package(tmp_path, fmt, PAYLOAD_CASES[case])
    else:
        package = _package(tmp_path, fmt, [], paths=PATHS_CASES[case])
    with pytest.raises(UnsafeArchiveError) as info:
        check_conda_package(package)
    assert package.name in str(info.value)


@pytest.mark.parametrize("fmt", ["tar.bz2", "conda"])
def test_a_benign_package_with_inner_links_passes(tmp_path: Path, fmt: str) -> None:
    payload = [
        _member("lib/libfoo.so.1", b"\x7fELF"),
        _member("lib/libfoo.so", type=tarfile.SYMTYPE, linkname="libfoo.so.1"),
        _member("share/same.txt", type=tarfile.LNKTYPE, linkname="share/ok.txt"),
    ]
    check_conda_package(_package(tmp_path, fmt, payload))


def _record(url: str, package: Path) -> CondaRecord:
    return CondaRecord(
        name="evil",
        version="1.0",
        build="0",
        build_number=0,
        subdir="noarch",
        channel=url.rsplit("/noarch/", 1)[0],
        url=url,
        sha256=hashlib.sha256(package.read_bytes()).hexdigest(),
        noarch="generic",
    )


@pytest.mark.parametrize("fmt", ["tar.bz2", "conda"])
def test_install_over_http_refuses_before_anything_is_linked(tmp_path: Path, fmt: str) -> None:
    """The case py-rattler turned into a write outside the prefix: a paths.json entry
    ``../victim.txt`` for a file the package does contain at that name."""
    channel = tmp_path / "channel"
    (channel / "noarch").mkdir(parents=True)
    base = tmp_path / "base"
    base.mkdir()
    victim = base / "victim.txt"
    victim.write_text("precious\n")
    package = _package(
        channel / "noarch", fmt, [], paths=[{"_path": "../victim.txt", "path_type": "hardlink"}]
    )
    prefix, cache = base / "prefix", tmp_path / "pkgs"
    with ChannelServer(channel) as server:
        record = _record(f"{server.url}/noarch/{package.name}", package)
        with pytest.raises(UnsafeArchiveError):
            install_records([record], prefix, config=None, cache_dir=cache)
    assert victim.read_text() == "precious\n"
    assert not (prefix / "conda-meta").exists()
    assert not (cache / DIST).exists() and not list(cache.glob(f"{DIST}*"))


def test_a_good_package_installs_and_offline_names_what_is_missing(tmp_path: Path) -> None:
    channel = tmp_path / "channel"
    (channel / "noarch").mkdir(parents=True)
    package = _package(channel / "noarch", "conda", [_member("share/more.txt", b"more\n")])
    prefix, cache = tmp_path / "prefix", tmp_path / "pkgs"
    with ChannelServer(channel) as server:
        record = _record(f"{server.url}/noarch/{package.name}", package)
        with pytest.raises(NetworkError) as info:
            install_records([record], prefix, config=None, cache_dir=cache, offline=True)
        assert "lacks these conda packages: evil-1.0-0" in str(info.value)
        assert install_records([record], prefix, config=None, cache_dir=cache)
    assert (prefix / "share" / "more.txt").read_text() == "more\n"
    assert (cache / f"{DIST}.shipyard-checked").read_text() == record.sha256
    # From the checked cache alone, into a new prefix, with the server gone.
    other = tmp_path / "other"
    assert install_records([record], other, config=None, cache_dir=cache, offline=True)
    assert (other / "share" / "ok.txt").read_text() == "ok\n"
