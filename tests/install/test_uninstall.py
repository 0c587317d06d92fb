"""Uninstalling through RECORD: every file, its bytecode, empty directories, nothing else."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from installer import install as installer_install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from shipyard.errors import InstallError
from shipyard.install.installed import InstalledDistribution, iter_installed
from shipyard.install.uninstall import uninstall
from shipyard.install.unpack import unpack_wheel
from shipyard.install.wheel import install_unpacked

from ._wheels import build_wheel, demo_wheel
from .conftest import Venv

MakeVenv = Callable[[str], Venv]


def _installed(venv: Venv, name: str) -> InstalledDistribution:
    (dist,) = [d for d in iter_installed([venv.site_packages]) if d.name == name]
    return dist


def _other_wheel(tmp_path: Path) -> Path:
    # Shares share/ (data files) and bin/ (a console script) with the demo wheel.
    return build_wheel(
        tmp_path,
        "other",
        "1.0",
        {
            "other/__init__.py": "OTHER = 1\n",
            "other-1.0.data/data/share/other/notes.txt": "notes\n",
        },
        entry_points="[console_scripts]\nother-cli = other:OTHER\n",
    )


def test_uninstall_removes_files_bytecode_and_empty_directories(
    tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    files_before, dirs_before = venv.files(), venv.directories()
    install_unpacked(unpack_wheel(_other_wheel(tmp_path), tmp_path / "cache/other"), venv.scheme())
    files_with_other, dirs_with_other = venv.files(), venv.directories()

    demo = demo_wheel(tmp_path)
    install_unpacked(unpack_wheel(demo, tmp_path / "cache/demo"), venv.scheme())
    result = venv.run("-c", "import demo_pkg.cli, demo_pkg.sub.mod, demo_top, demo_extra, other")
    assert result.returncode == 0, result.stderr
    assert list((venv.site_packages / "demo_pkg/sub/__pycache__").glob("mod.*.pyc"))
    assert list((venv.site_packages / "__pycache__").glob("demo_top.*.pyc"))
    assert list((venv.site_packages / "__pycache__").glob("other.*.pyc")) == []  # a package
    (venv.site_packages / "demo_pkg/__pycache__/cli.cpython-27.opt-1.pyc").write_bytes(b"")

    removed = uninstall(_installed(venv, "demo-pkg"), site_packages=venv.site_packages)

    assert removed >= 17
    pycache = {p for p in venv.files() if "__pycache__" in p}
    assert all("other" in p for p in pycache), pycache
    assert venv.files() - pycache == files_with_other
    assert venv.directories() - {d for d in venv.directories() if "__pycache__" in d} == (
        dirs_with_other
    )
    assert [d.name for d in iter_installed([venv.site_packages])] == ["other"]
    assert venv.run("-c", "import other").returncode == 0

    # And the other one, installed before: back to the stock environment.
    uninstall(_installed(venv, "other"), site_packages=venv.site_packages)
    assert venv.files() == files_before
    pycache_dir = os.path.relpath(venv.site_packages / "__pycache__", venv.root)
    assert venv.directories() - {pycache_dir} == dirs_before


def test_uninstall_what_installer_installed(tmp_path: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    files_before = venv.files()
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
    with WheelFile.open(demo_wheel(tmp_path)) as source:
        installer_install(source, destination, {"INSTALLER": b"installer\n"})
    uninstall(_installed(venv, "demo-pkg"), site_packages=venv.site_packages)
    assert venv.files() == files_before


def test_missing_files_are_fine(tmp_path: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    files_before = venv.files()
    install_unpacked(unpack_wheel(demo_wheel(tmp_path), tmp_path / "cache/demo"), venv.scheme())
    (venv.site_packages / "demo_pkg/cli.py").unlink()
    (venv.scripts / "demo-cli").unlink()
    uninstall(_installed(venv, "demo-pkg"), site_packages=venv.site_packages)
    assert venv.files() == files_before


def test_no_record_is_an_error_unless_replacing(tmp_path: Path, make_venv: MakeVenv) -> None:
    venv = make_venv("v")
    install_unpacked(unpack_wheel(demo_wheel(tmp_path), tmp_path / "cache/demo"), venv.scheme())
    dist = _installed(venv, "demo-pkg")
    (dist.dist_info / "RECORD").unlink()
    with pytest.raises(InstallError) as caught:
        uninstall(dist, site_packages=venv.site_packages)
    assert "RECORD" in caught.value.message and caught.value.hint
    assert dist.dist_info.is_dir()
    assert uninstall(dist, site_packages=venv.site_packages, replacing=True) == 0
    assert not dist.dist_info.exists()


def test_egg_info_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "env/lib/python3.11/site-packages"
    egg = site / "legacy-1.0-py3.11.egg-info"
    egg.mkdir(parents=True)
    with pytest.raises(InstallError, match="PEP 376"):
        uninstall(InstalledDistribution("legacy", "1.0", egg), site_packages=site)
    assert egg.is_dir()


def test_record_pointing_outside_the_environment_removes_nothing(
    tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    install_unpacked(unpack_wheel(demo_wheel(tmp_path), tmp_path / "cache/demo"), venv.scheme())
    dist = _installed(venv, "demo-pkg")
    with open(dist.dist_info / "RECORD", "a") as handle:
        handle.write("../../../../precious.txt,,\n")
    files = venv.files()
    with pytest.raises(InstallError, match="outside the environment"):
        uninstall(dist, site_packages=venv.site_packages)
    assert victim.read_text() == "keep me"
    assert venv.files() == files


def test_record_reaching_out_through_a_symlink_removes_nothing(
    tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    install_unpacked(unpack_wheel(demo_wheel(tmp_path), tmp_path / "cache/demo"), venv.scheme())
    os.symlink(outside, venv.site_packages / "escape")
    dist = _installed(venv, "demo-pkg")
    with open(dist.dist_info / "RECORD", "a") as handle:
        handle.write("escape/precious.txt,,\n")
    with pytest.raises(InstallError, match="outside the environment"):
        uninstall(dist, site_packages=venv.site_packages)
    assert (outside / "precious.txt").read_text() == "keep me"


def test_symlink_installs_uninstall_without_touching_the_cache(
    tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    files_before = venv.files()
    unpacked = unpack_wheel(demo_wheel(tmp_path), tmp_path / "cache/demo")
    install_unpacked(unpacked, venv.scheme(), link_mode="symlink")
    uninstall(_installed(venv, "demo-pkg"), site_packages=venv.site_packages)
    assert venv.files() == files_before
    assert (unpacked.path / "demo_pkg/cli.py").is_file()
