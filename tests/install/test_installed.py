"""Finding installed distributions: by directory name, lazily reading the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from installer import install as installer_install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from shipyard.install.installed import InstalledDistribution, iter_installed
from shipyard.install.unpack import unpack_wheel
from shipyard.install.wheel import install_unpacked

from ._wheels import build_wheel
from .conftest import Venv

MakeVenv = Callable[[str], Venv]


def _installer_install(wheel: Path, venv: Venv) -> None:
    scheme = venv.scheme()
    destination = SchemeDictionaryDestination(
        scheme_dict={
            "purelib": str(scheme.purelib),
            "platlib": str(scheme.platlib),
            "scripts": str(scheme.scripts),
            "data": str(scheme.data),
            "headers": str(scheme.headers),
        },
        interpreter=str(venv.python),
        script_kind="posix",
    )
    with WheelFile.open(wheel) as source:
        installer_install(source, destination, {"INSTALLER": b"installer\n"})


def test_finds_distributions_installed_by_shipyard_and_by_installer(
    tmp_path: Path, make_venv: MakeVenv
) -> None:
    venv = make_venv("v")
    ours = build_wheel(tmp_path, "Ours.Pkg", "1.0", {"ours_pkg/__init__.py": ""})
    theirs = build_wheel(tmp_path, "theirs", "2.0.post1", {"theirs/__init__.py": ""})
    install_unpacked(unpack_wheel(ours, tmp_path / "cache" / "ours"), venv.scheme(), requested=True)
    _installer_install(theirs, venv)

    found = {d.name: d for d in iter_installed([venv.site_packages])}
    assert set(found) == {"ours-pkg", "theirs"}
    assert found["ours-pkg"].version == "1.0"
    assert found["theirs"].version == "2.0.post1"
    assert found["ours-pkg"].dist_info == venv.site_packages / "Ours_Pkg-1.0.dist-info"
    assert (found["ours-pkg"].installer, found["ours-pkg"].requested) == ("shipyard", True)
    assert (found["theirs"].installer, found["theirs"].requested) == ("installer", False)
    assert found["theirs"].direct_url is None


def test_scanning_reads_nothing_inside_dist_info(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    dist_info = site / "pkg-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "INSTALLER").write_text("pip\n")
    dist = next(iter_installed([site]))
    # Changed after the scan but before the first use: the first use sees the change ...
    (dist_info / "INSTALLER").write_text("uv\n")
    assert dist.installer == "uv"
    # ... and later uses see what the first one read (read once per object).
    (dist_info / "INSTALLER").write_text("poetry\n")
    assert dist.installer == "uv"
    assert dist.details().requested is False


def test_falls_back_to_metadata_for_names_it_cannot_split(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    legacy = site / "Old-Style-Name-3.1.dist-info"
    legacy.mkdir(parents=True)
    (legacy / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Old-Style-Name\nVersion: 3.1\n\nVersion: 9\n"
    )
    broken = site / "no-metadata-here-x.dist-info"
    broken.mkdir()
    (site / "plain_dir").mkdir()
    (site / "file-1.0.dist-info").write_text("a file, not a directory")
    assert [(d.name, d.version) for d in iter_installed([site])] == [("old-style-name", "3.1")]


def test_each_directory_is_scanned_once_and_missing_ones_are_skipped(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "a_b-1.0.dist-info").mkdir(parents=True)
    (site / "c.egg-info").mkdir()
    dists = list(iter_installed([site, site, tmp_path / "missing", tmp_path / "site-packages/"]))
    assert dists == [InstalledDistribution("a-b", "1.0", site / "a_b-1.0.dist-info")]


def test_direct_url_and_details_are_read_lazily(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    dist_info = site / "pkg-1.0.dist-info"
    dist_info.mkdir(parents=True)
    data = {"url": "file:///src/pkg", "dir_info": {"editable": True}}
    (dist_info / "direct_url.json").write_text(json.dumps(data))
    (dist_info / "REQUESTED").touch()
    (dist,) = iter_installed([site])
    details = dist.details()
    assert (details.installer, details.requested, details.direct_url) == (None, True, data)


def test_with_details_never_reads_files(tmp_path: Path) -> None:
    dist = InstalledDistribution.with_details(
        "pkg", "1.0", tmp_path / "absent.dist-info", installer="x", requested=True, direct_url=None
    )
    assert (dist.installer, dist.requested, dist.direct_url) == ("x", True, None)
    assert dist == InstalledDistribution("pkg", "1.0", tmp_path / "absent.dist-info")
    assert dist.site_packages == tmp_path
