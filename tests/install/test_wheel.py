"""Unpacking wheels into the cache and linking them into environments.

The reference is the ``installer`` library: the same wheel installed by it and by
shipyard must give the same files with the same contents and modes, and a RECORD
naming exactly those files.
"""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from installer import install as installer_install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from shipyard.errors import DiskFullError, HashMismatchError, InstallError
from shipyard.install import unpack as unpack_module
from shipyard.install import wheel as wheel_module
from shipyard.install.installed import iter_installed
from shipyard.install.unpack import (
    MANIFEST_NAME,
    ScriptEntryPoint,
    UnpackedWheel,
    load_unpacked,
    record_hash,
    unpack_wheel,
    verify_unpacked,
    verify_unpacked_deep,
)
from shipyard.install.wheel import install_unpacked
from shipyard.models.scheme import InstallScheme

from ._wheels import DEMO_FILES, build_wheel, demo_wheel
from .conftest import Venv

MakeVenv = Callable[[str], Venv]
GENERATED = {"bin/demo-cli", "bin/demo-nested", "bin/demo-gui"}


def _sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _install_with_installer(wheel: Path, venv: Venv) -> None:
    scheme = venv.scheme()
    destination = SchemeDictionaryDestination(
        scheme_dict={
            "purelib": str(scheme.purelib),
            "platlib": str(scheme.platlib),
            "scripts": str(scheme.scripts),
            "data": str(scheme.data),
            "headers": str(scheme.headers / "demo-pkg"),
        },
        interpreter=str(venv.python),
        script_kind="posix",
    )
    with WheelFile.open(wheel) as source:
        installer_install(source, destination, {"INSTALLER": b"installer\n"})


def _record(site_packages: Path, dist_info: str) -> list[list[str]]:
    with open(site_packages / dist_info / "RECORD", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "wheels").mkdir()
    return demo_wheel(tmp_path / "wheels")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    path = tmp_path / "cache"
    path.mkdir()
    return path


# --------------------------------------------------------------------------- parity with installer


def test_same_files_contents_and_modes_as_installer(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    by_installer, by_us = make_venv("a"), make_venv("b")
    stock = by_us.files()
    _install_with_installer(demo, by_installer)
    install_unpacked(unpack_wheel(demo, cache / "demo"), by_us.scheme())

    theirs = by_installer.files() - stock
    ours = by_us.files() - stock
    assert ours == theirs
    version = "{}.{}".format(*sys.version_info[:2])
    assert f"include/site/python{version}/demo-pkg/demo.h" in ours
    assert "share/demo_pkg/readme.txt" in ours
    assert "bin/demo-tool" in ours and ours >= GENERATED

    for relative in sorted(ours):
        mine, reference = by_us.root / relative, by_installer.root / relative
        assert stat.S_IMODE(mine.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode), relative
        if relative in GENERATED or relative.endswith(("/RECORD", "/INSTALLER")):
            continue
        expected = reference.read_bytes().replace(
            str(by_installer.root).encode(), str(by_us.root).encode()
        )
        assert mine.read_bytes() == expected, relative


def test_record_names_the_same_paths_as_installer(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    by_installer, by_us = make_venv("a"), make_venv("b")
    _install_with_installer(demo, by_installer)
    install_unpacked(unpack_wheel(demo, cache / "demo"), by_us.scheme())
    theirs = {row[0] for row in _record(by_installer.site_packages, "demo_pkg-1.0.dist-info")}
    ours = {row[0] for row in _record(by_us.site_packages, "demo_pkg-1.0.dist-info")}
    assert ours == theirs
    assert "../../../bin/demo-cli" in ours


def test_record_lists_exactly_the_installed_files_with_their_hashes(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    stock = venv.files()
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme())
    rows = _record(venv.site_packages, "demo_pkg-1.0.dist-info")
    listed = set()
    for path, digest, size in rows:
        target = os.path.normpath(venv.site_packages / path)
        listed.add(os.path.relpath(target, venv.root))
        if path.endswith("/RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = Path(target).read_bytes()
        assert digest == record_hash(data), path
        assert size == str(len(data)), path
    assert listed == venv.files() - stock
    assert len(rows) == len(listed)


def test_scripts_run_with_the_environment_python(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme())

    result = venv.run("x", "--y", script="demo-cli")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "demo-cli demo-cli ['x', '--y']\n"
    result = venv.run(script="demo-nested")
    assert (result.returncode, result.stdout) == (3, "demo-nested\n")
    assert venv.run(script="demo-gui").stdout == "demo-gui\n"
    assert venv.run(script="demo-tool").stdout == "demo-tool 42\n"
    assert venv.run(script="demo-plain").stdout == "demo-plain\n"
    first_line = (venv.scripts / "demo-tool").read_bytes().split(b"\n", 1)[0]
    assert first_line == b"#!" + bytes(venv.python)
    assert (venv.scripts / "demo-cli").stat().st_mode & 0o111 == 0o111


def test_argv0_suffixes_are_stripped_like_pip(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme())
    for name in ("demo-cli-script.pyw", "demo-cli.exe"):
        shutil.copy2(venv.scripts / "demo-cli", venv.scripts / name)
        assert venv.run(script=name).stdout.startswith("demo-cli demo-cli ")


def test_long_or_spaced_interpreter_paths_use_the_sh_trick(
    demo: Path, tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("with space " + "x" * 120)
    install_unpacked(unpack_wheel(demo, tmp_path / "cache" / "demo"), venv.scheme())
    launcher = (venv.scripts / "demo-cli").read_bytes()
    assert launcher.startswith(b"#!/bin/sh\n")
    assert venv.run(script="demo-cli").stdout == "demo-cli demo-cli []\n"
    assert venv.run(script="demo-tool").stdout == "demo-tool 42\n"


# --------------------------------------------------------------------------- link modes


def test_hardlink_mode_shares_inodes_with_the_cache(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    cached = unpacked.path / "demo_pkg/cli.py"
    installed = venv.site_packages / "demo_pkg/cli.py"
    assert installed.stat().st_ino == cached.stat().st_ino
    metadata = venv.site_packages / "demo_pkg-1.0.dist-info/METADATA"
    assert (
        metadata.stat().st_ino == (unpacked.path / "demo_pkg-1.0.dist-info/METADATA").stat().st_ino
    )
    # The rewritten #!python script is a new file, never a link.
    tool = venv.scripts / "demo-tool"
    assert (
        tool.stat().st_ino != (unpacked.path / "demo_pkg-1.0.data/scripts/demo-tool").stat().st_ino
    )
    assert verify_unpacked_deep(unpacked) == []


def test_copy_mode_makes_independent_files(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="copy")
    cached = unpacked.path / "demo_pkg/cli.py"
    installed = venv.site_packages / "demo_pkg/cli.py"
    assert installed.stat().st_ino != cached.stat().st_ino
    assert installed.read_bytes() == cached.read_bytes()
    assert venv.run(script="demo-cli").returncode == 0


def test_symlink_mode_points_into_the_cache(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="symlink")
    installed = venv.site_packages / "demo_pkg/cli.py"
    assert installed.is_symlink()
    assert os.readlink(installed) == str(unpacked.path / "demo_pkg/cli.py")
    assert venv.run("-c", "import demo_pkg.cli").returncode == 0


def test_clone_mode_gives_independent_files_even_without_reflink_support(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="clone")
    installed = venv.site_packages / "demo_pkg/cli.py"
    assert installed.stat().st_ino != (unpacked.path / "demo_pkg/cli.py").stat().st_ino
    assert installed.read_bytes() == DEMO_FILES["demo_pkg/cli.py"].encode()
    assert venv.run(script="demo-cli").returncode == 0


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A directory on another file system than ``tmp_path`` (``/dev/shm``)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to link across")
    path = shm / f"shipyard-test-{uuid.uuid4().hex}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_hardlink_falls_back_to_copy_across_file_systems(
    demo: Path, other_filesystem: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, other_filesystem / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    installed = venv.site_packages / "demo_pkg/cli.py"
    assert installed.stat().st_dev != (unpacked.path / "demo_pkg/cli.py").stat().st_dev
    assert installed.read_bytes() == DEMO_FILES["demo_pkg/cli.py"].encode()
    assert venv.run(script="demo-cli").returncode == 0


def test_hardlink_fallback_lasts_for_the_rest_of_the_install(
    demo: Path, cache: Path, make_venv: MakeVenv, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    calls = []

    def refuse(source: str, target: str) -> None:
        calls.append(target)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    assert len(calls) == 1
    assert (venv.site_packages / "demo_pkg/cli.py").read_text() == DEMO_FILES["demo_pkg/cli.py"]


def test_a_full_disk_is_reported_as_such(
    demo: Path, cache: Path, make_venv: MakeVenv, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")

    def full(source: str, target: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", target)

    monkeypatch.setattr(os, "link", full)
    with pytest.raises(DiskFullError) as caught:
        install_unpacked(unpacked, venv.scheme())
    assert caught.value.hint


def test_reinstall_in_copy_mode_does_not_write_through_old_hard_links(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    install_unpacked(unpacked, venv.scheme(), link_mode="copy")
    install_unpacked(unpacked, venv.scheme(), link_mode="clone")
    install_unpacked(unpacked, venv.scheme(), link_mode="symlink")
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    assert verify_unpacked(unpacked) == []
    assert verify_unpacked_deep(unpacked) == []
    assert venv.run(script="demo-cli").returncode == 0


def test_unknown_link_mode_is_refused(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    with pytest.raises(InstallError):
        install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme(), link_mode="move")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- metadata files


def test_installer_requested_and_direct_url(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    direct_url = {"url": "file:///src/demo", "dir_info": {"editable": True}}
    dist = install_unpacked(
        unpack_wheel(demo, cache / "demo"),
        venv.scheme(),
        requested=True,
        direct_url=direct_url,
        installer_name="shipyard-test",
    )
    dist_info = venv.site_packages / "demo_pkg-1.0.dist-info"
    assert dist.dist_info == dist_info
    assert (dist.name, dist.version) == ("demo-pkg", "1.0")
    assert (dist_info / "INSTALLER").read_text() == "shipyard-test\n"
    assert (dist_info / "REQUESTED").read_bytes() == b""
    assert json.loads((dist_info / "direct_url.json").read_text()) == direct_url
    assert (dist.installer, dist.requested, dist.direct_url) == ("shipyard-test", True, direct_url)

    # Reinstalled as a dependency from an index: the old markers go.
    again = install_unpacked(load_unpacked(cache / "demo") or pytest.fail(), venv.scheme())
    assert not (dist_info / "REQUESTED").exists()
    assert not (dist_info / "direct_url.json").exists()
    assert (again.installer, again.requested, again.direct_url) == ("shipyard", False, None)
    listed = {row[0] for row in _record(venv.site_packages, "demo_pkg-1.0.dist-info")}
    assert "demo_pkg-1.0.dist-info/REQUESTED" not in listed
    assert "demo_pkg-1.0.dist-info/INSTALLER" in listed


def test_direct_url_without_url_is_refused(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    with pytest.raises(InstallError):
        install_unpacked(
            unpack_wheel(demo, cache / "demo"), venv.scheme(), direct_url={"dir_info": {}}
        )


def test_platlib_wheel_root_goes_to_platlib(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "native",
        "2.0",
        {"native/__init__.py": "X = 1\n", "native-2.0.data/purelib/pure.py": "P = 1\n"},
        root_is_purelib=False,
        tag="cp311-cp311-linux_x86_64",
    )
    unpacked = unpack_wheel(wheel, tmp_path / "cache" / "native")
    assert not unpacked.root_is_purelib
    assert unpacked.tags == ("cp311-cp311-linux_x86_64",)
    root = tmp_path / "env"
    scheme = InstallScheme(
        purelib=root / "pure",
        platlib=root / "plat",
        scripts=root / "bin",
        data=root,
        headers=root / "include",
        python=Path(sys.executable),
    )
    install_unpacked(unpacked, scheme)
    assert (root / "plat/native/__init__.py").is_file()
    assert (root / "pure/pure.py").is_file()
    rows = {row[0] for row in _record(root / "plat", "native-2.0.dist-info")}
    assert rows == {
        "native/__init__.py",
        "../pure/pure.py",
        "native-2.0.dist-info/METADATA",
        "native-2.0.dist-info/WHEEL",
        "native-2.0.dist-info/INSTALLER",
        "native-2.0.dist-info/RECORD",
    }


def test_compile_bytecode_in_process(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme(), compile_bytecode=True)
    tag = sys.implementation.cache_tag
    assert (venv.site_packages / f"demo_pkg/__pycache__/cli.{tag}.pyc").is_file()
    assert (venv.site_packages / f"__pycache__/demo_extra.{tag}.pyc").is_file()


def test_compile_bytecode_with_another_interpreter(
    demo: Path, cache: Path, make_venv: MakeVenv, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = make_venv("v")
    monkeypatch.setattr(wheel_module, "_same_interpreter", lambda python: False)
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme(), compile_bytecode=True)
    tag = sys.implementation.cache_tag
    assert (venv.site_packages / f"demo_pkg/sub/__pycache__/mod.{tag}.pyc").is_file()


def test_no_bytecode_by_default(demo: Path, cache: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    install_unpacked(unpack_wheel(demo, cache / "demo"), venv.scheme())
    assert not list(venv.site_packages.rglob("*.pyc"))


# --------------------------------------------------------------------------- the unpacked cache entry


def test_unpack_records_the_manifest(demo: Path, cache: Path) -> None:
    unpacked = unpack_wheel(demo, cache / "demo", expected_sha256=_sha256_hex(demo))
    assert isinstance(unpacked, UnpackedWheel)
    assert (unpacked.name, unpacked.display_name, unpacked.version) == (
        "demo-pkg",
        "demo_pkg",
        "1.0",
    )
    assert unpacked.dist_info == "demo_pkg-1.0.dist-info"
    assert unpacked.data_dir == "demo_pkg-1.0.data"
    assert unpacked.root_is_purelib and unpacked.wheel_version == "1.0"
    assert unpacked.tags == ("py3-none-any",)
    assert set(unpacked.entry_points) == {
        ScriptEntryPoint(
            name="demo-cli", group="console_scripts", module="demo_pkg.cli", attr="main"
        ),
        ScriptEntryPoint(
            name="demo-nested", group="console_scripts", module="demo_pkg.cli", attr="Runner.run"
        ),
        ScriptEntryPoint(name="demo-gui", group="gui_scripts", module="demo_pkg.cli", attr="gui"),
    }
    with zipfile.ZipFile(demo) as archive:
        assert {f.path for f in unpacked.files} == set(archive.namelist())
    for item in unpacked.files:
        path = unpacked.path / item.path
        data = path.read_bytes()
        assert item.size == item.st_size == len(data)
        assert "sha256=" + item.sha256 == record_hash(data)
        assert item.mtime_ns == path.stat().st_mtime_ns
    assert os.access(unpacked.path / "demo_pkg-1.0.data/scripts/demo-tool", os.X_OK)
    assert not os.access(unpacked.path / "demo_pkg/cli.py", os.X_OK)
    manifest = json.loads((cache / "demo" / MANIFEST_NAME).read_text())
    assert manifest["name"] == "demo-pkg"
    assert load_unpacked(cache / "demo") == unpacked
    assert not [p for p in cache.iterdir() if p.name != "demo"]  # no temporary directory left


def test_load_unpacked_is_none_for_absent_or_corrupt_manifests(demo: Path, cache: Path) -> None:
    assert load_unpacked(cache / "nothing") is None
    unpack_wheel(demo, cache / "demo")
    (cache / "demo" / MANIFEST_NAME).write_text("{not json")
    assert load_unpacked(cache / "demo") is None
    (cache / "demo" / MANIFEST_NAME).write_text(json.dumps({"format": 2, "files": [["a"]]}))
    assert load_unpacked(cache / "demo") is None


def test_unpacking_works_out_the_links_and_a_tampered_plan_is_refused(
    demo: Path, cache: Path
) -> None:
    unpacked = unpack_wheel(demo, cache / "demo")
    root = [f.path for f in unpacked.files[: unpacked.root_count]]
    # exactly the files outside .dist-info/.data, and every directory they need
    assert root == sorted(p for p in DEMO_FILES if not p.startswith("demo_pkg-1.0.data/"))
    assert unpacked.root_dirs == ("demo_pkg", "demo_pkg/data", "demo_pkg/sub")
    assert unpacked.root_record.splitlines() == [
        f"{f.path},sha256={f.sha256},{f.size}" for f in unpacked.files[: unpacked.root_count]
    ]
    manifest_path = cache / "demo" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    for bad in ({"root_dirs": ["../outside"]}, {"root_count": 10_000}, {"root_record": 3}):
        manifest_path.write_text(json.dumps({**manifest, **bad}))
        assert load_unpacked(cache / "demo") is None  # unpacked again from the wheel


def test_unpack_replaces_a_broken_entry(demo: Path, cache: Path) -> None:
    (cache / "demo" / "junk").mkdir(parents=True)
    unpacked = unpack_wheel(demo, cache / "demo")
    assert not (cache / "demo" / "junk").exists()
    assert load_unpacked(cache / "demo") == unpacked
    assert sorted(p.name for p in cache.iterdir()) == ["demo"]


def test_an_entry_unpacked_meanwhile_by_another_process_is_kept(
    demo: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_extract = unpack_module._extract
    theirs: list[UnpackedWheel] = []

    def racing_extract(wheel: Path, tmp: Path) -> dict[str, object]:
        result = real_extract(wheel, tmp)
        monkeypatch.setattr(unpack_module, "_extract", real_extract)
        theirs.append(unpack_wheel(wheel, cache / "demo"))  # the other process wins
        return result

    monkeypatch.setattr(unpack_module, "_extract", racing_extract)
    unpacked = unpack_wheel(demo, cache / "demo")
    assert unpacked == theirs[0]
    assert sorted(p.name for p in cache.iterdir()) == ["demo"]


def test_existing_entry_is_reused(demo: Path, cache: Path) -> None:
    first = unpack_wheel(demo, cache / "demo")
    second = unpack_wheel(demo, cache / "demo", expected_sha256=_sha256_hex(demo))
    assert first == second


def test_verify_detects_an_edit_through_a_hard_link(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="hardlink")
    assert verify_unpacked(unpacked) == []
    with open(venv.site_packages / "demo_pkg/cli.py", "a") as handle:
        handle.write("print('patched by the user')\n")
    assert verify_unpacked(unpacked) == ["demo_pkg/cli.py"]
    assert verify_unpacked_deep(unpacked) == ["demo_pkg/cli.py"]


def test_verify_detects_a_same_size_edit_by_its_mtime(
    demo: Path, cache: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    unpacked = unpack_wheel(demo, cache / "demo")
    install_unpacked(unpacked, venv.scheme())
    time.sleep(0.05)  # past the file system's timestamp granularity
    target = venv.site_packages / "demo_pkg/__init__.py"
    target.write_text("VALUE = 43\n")  # same size as "VALUE = 42\n"
    assert verify_unpacked(unpacked) == ["demo_pkg/__init__.py"]
    assert verify_unpacked_deep(unpacked) == ["demo_pkg/__init__.py"]


def test_verify_detects_removed_files(demo: Path, cache: Path) -> None:
    unpacked = unpack_wheel(demo, cache / "demo")
    (unpacked.path / "demo_top.py").unlink()
    assert verify_unpacked(unpacked) == ["demo_top.py"]
    assert verify_unpacked_deep(unpacked) == ["demo_top.py"]


# --------------------------------------------------------------------------- refused wheels


def test_hash_mismatch_names_both_digests(demo: Path, cache: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(HashMismatchError) as caught:
        unpack_wheel(demo, cache / "demo", expected_sha256=wrong)
    assert wrong in caught.value.message and _sha256_hex(demo) in caught.value.message
    assert caught.value.hint
    assert not (cache / "demo").exists()


def _refused(wheel: Path, cache: Path, fragment: str) -> None:
    with pytest.raises(InstallError) as caught:
        unpack_wheel(wheel, cache / "entry")
    assert fragment in caught.value.message
    assert caught.value.hint
    assert list(cache.iterdir()) == []  # nothing left behind, not even a temporary dir


# Hostile names, links, devices, duplicates and bombs: tests/install/test_hostile_archives.py


def test_content_that_disagrees_with_record_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "liar",
        "1.0",
        {"liar/__init__.py": "print('not what RECORD says')\n"},
        record_overrides={"liar/__init__.py": ("liar/__init__.py", "sha256=AAAA", "31")},
    )
    _refused(wheel, cache, "does not match its RECORD")


def test_wrong_size_in_record_is_refused(tmp_path: Path, cache: Path) -> None:
    data = b"X = 1\n"
    wheel = build_wheel(
        tmp_path,
        "liar",
        "1.0",
        {"liar/__init__.py": data},
        record_overrides={"liar/__init__.py": ("liar/__init__.py", record_hash(data), "999")},
    )
    _refused(wheel, cache, "does not match its RECORD")


def test_files_missing_from_record_are_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "sneaky",
        "1.0",
        {"sneaky/__init__.py": ""},
        extra_members=[(zipfile.ZipInfo("sneaky/extra.py"), b"x")],
    )
    _refused(wheel, cache, "not in its RECORD")


def test_record_with_sha512_is_accepted(tmp_path: Path, cache: Path) -> None:
    data = b"X = 1\n"
    digest = base64.urlsafe_b64encode(hashlib.sha512(data).digest()).rstrip(b"=").decode()
    wheel = build_wheel(
        tmp_path,
        "strong",
        "1.0",
        {"strong/__init__.py": data},
        record_overrides={"strong/__init__.py": ("strong/__init__.py", f"sha512={digest}", "6")},
    )
    unpacked = unpack_wheel(wheel, cache / "strong")
    (item,) = [f for f in unpacked.files if f.path == "strong/__init__.py"]
    assert "sha256=" + item.sha256 == record_hash(data)


def test_md5_in_record_is_refused(tmp_path: Path, cache: Path) -> None:
    data = b"X = 1\n"
    digest = base64.urlsafe_b64encode(hashlib.md5(data).digest()).rstrip(b"=").decode()
    wheel = build_wheel(
        tmp_path,
        "weak",
        "1.0",
        {"weak/__init__.py": data},
        record_overrides={"weak/__init__.py": ("weak/__init__.py", f"md5={digest}", "6")},
    )
    _refused(wheel, cache, "sha256 or stronger")


def test_unknown_data_directory_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(tmp_path, "odd", "1.0", {"odd-1.0.data/elsewhere/x.txt": "x"})
    _refused(wheel, cache, "known .data directory")


def test_two_dist_info_directories_are_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(tmp_path, "two", "1.0", {"other-1.0.dist-info/METADATA": "x"})
    _refused(wheel, cache, ".dist-info directories")


def test_wheel_version_2_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(tmp_path, "future", "1.0", {"future/__init__.py": ""})
    rebuilt = tmp_path / "rebuilt.whl"
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(rebuilt, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/WHEEL"):
                data = data.replace(b"Wheel-Version: 1.0", b"Wheel-Version: 2.0")
            elif info.filename.endswith("/RECORD"):
                continue
            target.writestr(info, data)
        target.writestr("future-1.0.dist-info/RECORD", "")
    _refused(rebuilt, cache, "Wheel-Version 2.0")


def test_not_a_zip_is_refused(tmp_path: Path, cache: Path) -> None:
    bogus = tmp_path / "bogus-1.0-py3-none-any.whl"
    bogus.write_bytes(b"not a zip")
    _refused(bogus, cache, "not a valid zip archive")


def test_bad_entry_point_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "ep",
        "1.0",
        {"ep/__init__.py": ""},
        entry_points="[console_scripts]\nbad = not valid!\n",
    )
    _refused(wheel, cache, "not 'module:attribute'")


def test_entry_point_with_a_path_in_its_name_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "ep",
        "1.0",
        {"ep/__init__.py": ""},
        entry_points="[console_scripts]\n../../evil = ep:main\n",
    )
    _refused(wheel, cache, "unsafe name")


def test_bytecode_shipped_in_a_wheel_is_skipped(tmp_path: Path, cache: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "pyc",
        "1.0",
        {"pyc/__init__.py": "", "pyc/__pycache__/__init__.cpython-311.pyc": b"junk"},
    )
    unpacked = unpack_wheel(wheel, cache / "pyc")
    assert [f.path for f in unpacked.files if "__pycache__" in f.path] == []


# --------------------------------------------------------------------------- many files


def test_a_wheel_with_two_thousand_files(tmp_path: Path, make_venv: MakeVenv) -> None:
    files = {f"big/sub{i // 100}/mod{i}.py": f"N = {i}\n" for i in range(2000)}
    files["big/__init__.py"] = ""
    wheel = build_wheel(tmp_path, "big", "1.0", files)
    venv = make_venv("v")
    unpacked = unpack_wheel(wheel, tmp_path / "cache" / "big")
    install_unpacked(unpacked, venv.scheme())
    rows = _record(venv.site_packages, "big-1.0.dist-info")
    assert len(rows) == 2001 + 4  # the files, METADATA, WHEEL, INSTALLER and RECORD
    assert venv.run("-c", "import big.sub19.mod1999 as m; print(m.N)").stdout == "1999\n"
    assert [d.name for d in iter_installed([venv.site_packages])] == ["big"]
