"""``shipyard image build --platform linux/arm/v7``: an image for a 32-bit Raspberry Pi
OS on a Debian armhf base (debootstrap --foreign, nothing of it executed), with the
``linux_armv7l`` wheel of a piwheels-style index scoped to that platform."""

from __future__ import annotations

import gzip
import io
import tarfile
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from e2e.test_local_index import shipyard
from e2e.test_platform_indexes import LINUX_ARMV7, LINUX_X86, MAIN, PIWHEELS, arm_project
from support.oci_tools import (
    Registry,
    check_image_layout,
    elf_machine,
    read_blob,
    resolve_in_root,
    skopeo_copy,
    skopeo_inspect_raw,
    umoci_unpack,
)

pytestmark = pytest.mark.slow

SITE = "app/.venv/lib/python3.11/site-packages"


def _layer(layout: Path, descriptor: dict[str, str]) -> dict[str, bytes]:
    """The regular files of a gzip layer: path → content."""
    data = gzip.decompress(read_blob(layout, descriptor))
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name] = handle.read()
    return files


def test_an_armv7_image_holds_the_piwheels_wheel(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    armhf_base: tuple[Path, str],
    amd64_base: tuple[Path, str],
    registry: Registry,
) -> None:
    main, piwheels = make_index(MAIN), make_index(PIWHEELS)
    project = arm_project(tmp_path, main, piwheels, [LINUX_X86, LINUX_ARMV7])
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()

    base_layout, base_tag = armhf_base
    target = f"{registry.host}/team/pi-app:1.0"
    out = tmp_path / "out"
    built = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--platform",
        "linux/arm/v7",
        "--push",
        target,
        "--output",
        f"oci:{out}:1.0",
    )
    assert "linux/arm/v7: Python 3.11" in built.stderr, built.stderr
    assert f"Pushed {target}" in built.stderr

    # the layout, its digests and its config: linux/arm/v7
    manifest, config = check_image_layout(out, "1.0")
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm", "v7")
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])
    assert config["config"]["Cmd"] == ["python", "-c", "import fastpkg"]

    # the dependency layer holds piwheels' armv7l wheel, and the armv7l-only package
    dependencies = _layer(out, manifest["layers"][-1])
    assert dependencies[f"{SITE}/fastpkg/__init__.py"] == b"A = 'armv7l'\n"
    wheel = dependencies[f"{SITE}/fastpkg-1.0.dist-info/WHEEL"].decode()
    assert "Tag: cp311-cp311-linux_armv7l" in wheel
    assert f"{SITE}/armonly-2.0.dist-info/METADATA" in dependencies
    pyvenv = dependencies["app/.venv/pyvenv.cfg"].decode()
    assert "home = /usr/bin" in pyvenv and "version = 3.11." in pyvenv

    # an independent client reads it back from the registry as linux/arm/v7
    raw = skopeo_inspect_raw(registry.ref("team/pi-app:1.0"))
    assert raw["config"]["digest"] == manifest["config"]["digest"]
    pulled = tmp_path / "pulled"
    skopeo_copy(registry.ref("team/pi-app:1.0"), f"oci:{pulled}:1.0")
    _manifest, pulled_config = check_image_layout(pulled, "1.0")
    assert (pulled_config["architecture"], pulled_config["variant"]) == ("arm", "v7")

    # unpacked with umoci (never run: no ARM emulation here): the wheel in the right
    # site-packages, next to the base's 32-bit ARM interpreter
    rootfs = umoci_unpack(pulled, "1.0", tmp_path / "bundle")
    assert (rootfs / SITE / "fastpkg" / "__init__.py").read_text() == "A = 'armv7l'\n"
    python = resolve_in_root(rootfs, "app/.venv/bin/python")
    with python.open("rb") as binary:
        assert elf_machine(binary.read(64)) == 40  # EM_ARM
    assert not list((rootfs / SITE).glob("*x86_64*"))

    # the same lock gives an x86_64 image the main index's wheel
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{amd64_base[0]}:{amd64_base[1]}",
        "--platform",
        "linux/amd64",
        "--output",
        f"oci:{tmp_path / 'x86'}:1.0",
    )
    x86_manifest, _config = check_image_layout(tmp_path / "x86", "1.0")
    x86 = _layer(tmp_path / "x86", x86_manifest["layers"][-1])
    assert x86[f"{SITE}/fastpkg/__init__.py"] == b"A = 'x86'\n"
    assert not [name for name in x86 if "armonly" in name]
