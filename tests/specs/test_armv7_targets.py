"""32-bit ARM (Linux armv7l): a lock target only when ``environments`` asks for it,
the wheels that serve it, and the OCI platform names that stand for it."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.tags import parse_tag

from shipyard.errors import UsageError
from shipyard.image.oci import Platform
from shipyard.python.tags import TagInputs, supported_tags
from shipyard.specs.targets import (
    default_targets,
    oci_platform_target,
    target_for,
    wheel_for_platforms,
    wheel_tags_match_target,
)

PY311 = SpecifierSet(">=3.11,<3.12")


def _names(environments: list[str]) -> list[str]:
    return [t.name for t in default_targets(PY311, environments)]


def test_armv7l_is_locked_only_when_an_environment_marker_asks_for_it() -> None:
    assert "cp311-linux-armv7l" not in _names([])
    # true on any Linux machine: not a request for 32-bit ARM
    assert _names(["sys_platform == 'linux'"]) == ["cp311-linux-x86_64", "cp311-linux-aarch64"]
    assert _names(["platform_machine != 'x86_64'"]) == [
        "cp311-linux-aarch64",
        "cp311-macos-arm64",
        "cp311-windows-amd64",
    ]
    assert _names(["platform_machine == 'armv7l'"]) == ["cp311-linux-armv7l"]
    assert _names(
        ["sys_platform == 'linux' and platform_machine == 'x86_64'", "'arm' in platform_machine"]
    ) == ["cp311-linux-x86_64", "cp311-macos-arm64", "cp311-linux-armv7l"]
    target = default_targets(PY311, ["platform_machine == 'armv7l'"])[0]
    assert target.markers["platform_machine"] == "armv7l"
    assert target.markers["sys_platform"] == "linux"


@pytest.mark.parametrize(
    ("filename", "serves"),
    [
        ("numpy-1.26.4-cp311-cp311-linux_armv7l.whl", True),  # piwheels
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_armv7l.manylinux2014_armv7l.whl", True),
        ("numpy-1.26.4-cp311-cp311-manylinux_2_31_armv7l.whl", True),
        ("six-1.16.0-py2.py3-none-any.whl", True),
        ("cffi-1.16.0-cp38-abi3-linux_armv7l.whl", True),
        ("numpy-1.26.4-cp312-cp312-linux_armv7l.whl", False),
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl", False),
        ("numpy-1.26.4-cp311-cp311-linux_armv6l.whl", False),
        ("numpy-1.26.4-cp311-cp311-musllinux_1_1_armv7l.whl", False),
    ],
)
def test_the_wheels_of_an_armv7l_target(filename: str, serves: bool) -> None:
    from packaging.utils import parse_wheel_filename

    target = target_for((3, 11), "linux", "armv7l")
    assert wheel_tags_match_target(parse_wheel_filename(filename)[3], target) is serves


def test_wheels_for_a_platform_index() -> None:
    armv7 = (("linux", "armv7l"),)
    assert wheel_for_platforms("a-1-cp311-cp311-linux_armv7l.whl", armv7)
    assert wheel_for_platforms("a-1-cp311-cp311-manylinux2014_armv7l.whl", armv7)
    assert not wheel_for_platforms("a-1-py3-none-any.whl", armv7)
    assert not wheel_for_platforms("a-1.tar.gz", armv7)
    assert not wheel_for_platforms("a-1-cp311-cp311-manylinux_2_17_x86_64.whl", armv7)


def test_the_image_interpreter_of_armhf_takes_piwheels_and_manylinux_wheels() -> None:
    tags = supported_tags(
        TagInputs(
            implementation="cpython",
            python_version=(3, 11),
            sys_platform="linux",
            platform="linux-armv7l",
            machine="armv7l",
            pointer_size=32,
            glibc="2.36",
        )
    )
    assert tags[0] == "cp311-cp311-linux_armv7l"
    for tag in (
        "cp311-cp311-manylinux_2_36_armv7l",
        "cp311-cp311-manylinux2014_armv7l",
        "cp311-abi3-linux_armv7l",
        "py3-none-any",
    ):
        assert tag in tags
    assert "cp311-cp311-manylinux_2_16_armv7l" not in tags
    assert not [t for t in tags if "aarch64" in t or "x86_64" in t]
    assert all(parse_tag(t) for t in tags)


@pytest.mark.parametrize("text", ["linux/arm/v7", "linux/arm", "arm", "armv7l", "linux/armv7l"])
def test_the_names_of_linux_arm_v7(text: str) -> None:
    platform = Platform.parse(text)
    assert str(platform) == "linux/arm/v7"
    assert platform.machine == "armv7l" and platform.pointer_size == 32
    assert platform.to_json() == {"os": "linux", "architecture": "arm", "variant": "v7"}
    # an index entry or base config without a variant is v7, as Docker reads it
    assert platform.matches({"os": "linux", "architecture": "arm"})
    assert not platform.matches({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert oci_platform_target(text) == ("linux", "armv7l")


def test_other_platforms_keep_their_names() -> None:
    assert Platform.parse("aarch64") == Platform("linux", "arm64")
    assert Platform.parse("linux/arm64/v8").matches({"os": "linux", "architecture": "arm64"})
    assert Platform.parse("x86_64").machine == "x86_64"
    assert oci_platform_target("linux/arm64") == ("linux", "aarch64")
    assert oci_platform_target("windows/amd64") == ("windows", "AMD64")
    for text in ("linux/arm/v6", "linux/s390x", "linux/arm/v8"):
        with pytest.raises(UsageError, match="linux/arm/v7"):
            Platform.parse(text)
    assert oci_platform_target("linux/arm/v6") is None
