"""32-bit ARM locks: ``environments`` asking for ``platform_machine == 'armv7l'`` and a
piwheels-style index scoped to ``linux/arm/v7`` whose ``linux_armv7l`` wheels join
the main index's files; the index is left alone when the lock does not target it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.tags import Tag

from shipyard.specs.targets import target_for
from support import IndexServer, pkg

from .test_local_index import new_project, shipyard

ARMV7 = "cp311-cp311-linux_armv7l"
X86 = "cp311-cp311-manylinux_2_17_x86_64"
MAIN = [
    pkg("fastpkg", "1.0", tags=(X86,), sdist=True, files={"fastpkg/__init__.py": "A = 'x86'\n"}),
    pkg("helper", "1.0"),
]
PIWHEELS = [
    pkg("fastpkg", "1.0", tags=(ARMV7,), files={"fastpkg/__init__.py": "A = 'armv7l'\n"}),
    pkg("armonly", "2.0", tags=(ARMV7,), files={"armonly/__init__.py": ""}),
]
LINUX_X86 = "sys_platform == 'linux' and platform_machine == 'x86_64'"
LINUX_ARMV7 = "sys_platform == 'linux' and platform_machine == 'armv7l'"


def arm_project(
    tmp_path: Path,
    main: IndexServer,
    piwheels: IndexServer,
    environments: list[str],
    platforms: str = '["linux/arm/v7"]',
) -> Path:
    """A project on ``main`` needing fastpkg everywhere and armonly on armv7l, with
    ``piwheels`` as an index for ``platforms``."""
    listed = ", ".join(f'"{e}"' for e in environments)
    return new_project(
        tmp_path,
        main,
        ["fastpkg", "armonly; platform_machine == 'armv7l'"],
        extra=f"environments = [{listed}]\n\n"
        f'[[tool.shipyard.index]]\nname = "piwheels"\nurl = "{piwheels.index_url}"\n'
        f"platforms = {platforms}\n\n"
        '[tool.shipyard.docker]\ncmd = ["python", "-c", "import fastpkg"]\n',
    )


def _name(file: dict[str, str]) -> str:
    """A lock file entry's filename (``name``, else the last part of its ``url``)."""
    return file.get("name") or file["url"].rsplit("/", 1)[-1]


def _armv7_selection(document: dict[str, object]) -> dict[str, str]:
    """What a CPython 3.11 on Raspberry Pi OS (armhf) installs from the lock: name → file."""
    target = target_for((3, 11), "linux", "armv7l", "3.11.2")
    tags = [Tag("cp311", "cp311", "linux_armv7l"), Tag("py3", "none", "any")]
    chosen = {}
    for package, dist in Pylock.from_dict(document).select(
        environment=dict(target.markers),  # type: ignore[arg-type]
        tags=tags,
    ):
        chosen[str(package.name)] = Path(str(getattr(dist, "url", "") or "")).name
    return chosen


def test_a_lock_for_armv7l_takes_the_platform_index_wheels(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    main, piwheels = make_index(MAIN), make_index(PIWHEELS)
    project = arm_project(tmp_path, main, piwheels, [LINUX_X86, LINUX_ARMV7])
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    targets = document["tool"]["shipyard"]["targets"]
    assert "cp311-linux-armv7l" in targets and "cp311-linux-x86_64" in targets
    assert not [t for t in targets if "aarch64" in t or "macos" in t]
    entries = {p["name"]: p for p in document["packages"]}
    fast = entries["fastpkg"]
    assert "marker" not in fast
    assert sorted(_name(w) for w in fast["wheels"]) == [
        "fastpkg-1.0-cp311-cp311-linux_armv7l.whl",
        "fastpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]
    arm_wheel = next(w for w in fast["wheels"] if "armv7l" in _name(w))
    assert arm_wheel["url"].startswith(piwheels.url) and arm_wheel["hashes"]["sha256"]
    assert _name(fast["sdist"]) == "fastpkg-1.0.tar.gz"
    assert fast["index"] == main.index_url
    armonly = entries["armonly"]
    assert Marker(armonly["marker"]) == Marker("platform_machine == 'armv7l'")
    assert [_name(w) for w in armonly["wheels"]] == ["armonly-2.0-cp311-cp311-linux_armv7l.whl"]
    assert _armv7_selection(document) == {
        "fastpkg": "fastpkg-1.0-cp311-cp311-linux_armv7l.whl",
        "armonly": "armonly-2.0-cp311-cp311-linux_armv7l.whl",
    }


def test_the_platform_index_is_not_asked_without_an_armv7l_target(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    main, piwheels = make_index(MAIN), make_index(PIWHEELS)
    project = arm_project(tmp_path, main, piwheels, [LINUX_X86])
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    assert [p["name"] for p in document["packages"]] == ["fastpkg"]
    assert [_name(w) for w in document["packages"][0]["wheels"]] == [
        "fastpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    ]
    assert piwheels.requests == []

    # an image for 32-bit ARM needs a lock made for it: said before any base is opened
    built = shipyard(
        project,
        "image",
        "build",
        "--platform",
        "linux/arm/v7",
        "--base",
        "oci:nowhere",
        check=False,
    )
    said = " ".join(built.stderr.split())
    assert built.returncode == 1, built.stderr
    assert "The lock was not made for linux/arm/v7" in said
    assert "platform_machine == 'armv7l'" in said and "Traceback" not in said


def test_an_index_platform_shipyard_cannot_lock_for_is_refused(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    main, piwheels = make_index(MAIN), make_index(PIWHEELS)
    project = arm_project(tmp_path, main, piwheels, [LINUX_X86], platforms='["linux/arm/v6"]')
    result = shipyard(project, "lock", check=False)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "The index 'piwheels' names the platform 'linux/arm/v6'" in said
    assert "linux/arm/v7" in said and "Traceback" not in said
