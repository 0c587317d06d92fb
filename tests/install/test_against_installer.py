"""shipyard's linking installer places the same files as pypa/installer, and uninstalls cleanly."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from installer import install as reference_install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from shipyard.install.installed import iter_installed
from shipyard.install.uninstall import uninstall
from shipyard.install.unpack import record_hash, unpack_wheel, verify_unpacked
from shipyard.install.wheel import install_unpacked
from shipyard.models import InstallScheme
from support import build_wheel

PYTHON = Path(sys.executable)


def make_wheel(tmp_path: Path) -> Path:
    return build_wheel(
        tmp_path,
        "Demo.Pkg",
        "1.2",
        files={
            "demo_pkg/__init__.py": "def main():\n    print('demo main')\n",
            "demo_pkg/sub/data.txt": "payload\n",
            "top_module.py": "X = 1\n",
            "demo_pkg-1.2.dist-info/licenses/LICENSE": "MIT\n",
        },
        entry_points={
            "console_scripts": {"demo-cli": "demo_pkg:main"},
            "gui_scripts": {"demo-gui": "demo_pkg:main"},
        },
        data={
            "scripts": {"demo-script": "#!python\nprint('script ran')\n"},
            "data": {"share/demo/readme.txt": "shared\n"},
            "headers": {"demo.h": "#define DEMO 1\n"},
        },
    )


def scheme_for(root: Path) -> InstallScheme:
    site = root / "lib" / "site-packages"
    return InstallScheme(
        purelib=site,
        platlib=site,
        scripts=root / "bin",
        data=root,
        headers=root / "include",
        python=PYTHON,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_same_files_as_installer(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    ref_root, our_root = tmp_path / "ref", tmp_path / "ours"
    ref_scheme = scheme_for(ref_root)
    destination = SchemeDictionaryDestination(
        {
            "purelib": str(ref_scheme.purelib),
            "platlib": str(ref_scheme.platlib),
            "scripts": str(ref_scheme.scripts),
            "data": str(ref_scheme.data),
            "headers": str(ref_scheme.headers / "demo-pkg"),
        },
        interpreter=str(PYTHON),
        script_kind="posix",
    )
    with WheelFile.open(wheel) as source:
        reference_install(source, destination, {"INSTALLER": b"shipyard\n"})
    unpacked = unpack_wheel(wheel, tmp_path / "cache" / "entry")
    install_unpacked(unpacked, scheme_for(our_root))
    ref, ours = tree(ref_root), tree(our_root)
    assert sorted(ref) == sorted(ours)
    generated = {"bin/demo-cli", "bin/demo-gui", "lib/site-packages/demo_pkg-1.2.dist-info/RECORD"}
    for path in ref:
        if path not in generated:
            assert ref[path] == ours[path], path
    # Every file is in RECORD with its real hash; RECORD itself has none.
    site = our_root / "lib" / "site-packages"
    rows = list(csv.reader((site / "demo_pkg-1.2.dist-info" / "RECORD").read_text().splitlines()))
    listed = {os.path.normpath(site / r[0]) for r in rows}
    assert listed == {str(our_root / p) for p in ours}
    for path, digest, size in rows:
        if path.endswith("RECORD"):
            assert digest == size == ""
            continue
        data = (site / path).read_bytes()
        assert digest == record_hash(data) and int(size) == len(data), path
    # Scripts run with the environment's interpreter.
    for script in ("demo-cli", "demo-script"):
        result = subprocess.run(
            [str(our_root / "bin" / script)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(site)},
        )
        assert result.returncode == 0, result.stderr
    assert (our_root / "bin" / "demo-script").read_text().startswith(f"#!{PYTHON}\n")


def test_hardlinks_share_the_cache_and_copy_does_not(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    unpacked = unpack_wheel(wheel, tmp_path / "cache" / "entry")
    cached = unpacked.path / "demo_pkg" / "__init__.py"
    install_unpacked(unpacked, scheme_for(tmp_path / "linked"), link_mode="hardlink")
    install_unpacked(unpacked, scheme_for(tmp_path / "copied"), link_mode="copy")
    linked = tmp_path / "linked" / "lib" / "site-packages" / "demo_pkg" / "__init__.py"
    copied = tmp_path / "copied" / "lib" / "site-packages" / "demo_pkg" / "__init__.py"
    assert linked.stat().st_ino == cached.stat().st_ino
    assert copied.stat().st_ino != cached.stat().st_ino
    assert verify_unpacked(unpacked) == []
    with open(linked, "r+") as handle:
        handle.write("#")
    assert verify_unpacked(unpacked) == ["demo_pkg/__init__.py"]


def test_hardlink_falls_back_to_copy_across_filesystems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    assert shm.is_dir(), "this machine has a tmpfs at /dev/shm"
    wheel = make_wheel(tmp_path)
    unpacked = unpack_wheel(wheel, tmp_path / "cache" / "entry")
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as other:
        root = Path(other)
        install_unpacked(unpacked, scheme_for(root), link_mode="hardlink")
        assert (
            (root / "lib" / "site-packages" / "demo_pkg" / "__init__.py")
            .read_text()
            .startswith("def main")
        )


def test_uninstall_removes_files_bytecode_and_empty_dirs(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    root = tmp_path / "env"
    other = build_wheel(tmp_path, "other", "1.0")
    for w in (wheel, other):
        install_unpacked(unpack_wheel(w, tmp_path / "cache" / w.name), scheme_for(root))
    site = root / "lib" / "site-packages"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-c", "import demo_pkg, top_module"],
        check=True,
        env={**env, "PYTHONPATH": str(site)},
    )
    assert list((site / "demo_pkg" / "__pycache__").glob("*.pyc"))
    (dist,) = [d for d in iter_installed([site]) if d.name == "demo-pkg"]
    uninstall(dist, site_packages=site, env_root=root)
    left = {str(p.relative_to(root)) for p in root.rglob("*")}
    assert not any("demo" in p or "top_module" in p for p in left), left
    assert {d.name for d in iter_installed([site])} == {"other"}
    assert (site / "other" / "__init__.py").exists()


def test_tampered_wheel_is_refused(tmp_path: Path) -> None:
    import zipfile

    wheel = make_wheel(tmp_path)
    tampered = tmp_path / "t" / wheel.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "top_module.py":
                data = b"X = 2\n"
            dst.writestr(info, data)
    import pytest

    from shipyard.errors import InstallError

    with pytest.raises(InstallError, match="does not match its RECORD"):
        unpack_wheel(tampered, tmp_path / "cache" / "bad")
    assert not (tmp_path / "cache" / "bad").exists()
