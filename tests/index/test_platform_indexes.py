"""Platform-scoped indexes (piwheels for ``linux/arm/v7``): their wheels for their
platforms join the files the other indexes offer, against real served indexes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

from shipyard.index.http import HttpClient
from shipyard.index.repository import IndexRepository
from shipyard.specs.targets import wheel_for_platforms
from support import pkg

ARMV7 = "cp311-cp311-linux_armv7l"
X86 = "cp311-cp311-manylinux_2_17_x86_64"
ONLY_ARMV7 = partial(wheel_for_platforms, platforms=(("linux", "armv7l"),))


def _names(files: object) -> list[str]:
    return sorted(f.filename for f in files)  # type: ignore[attr-defined]


def test_a_platform_index_adds_its_wheels_to_the_versions_of_the_others(make_index) -> None:  # type: ignore[no-untyped-def]
    main = make_index(
        [
            pkg("fastpkg", "1.0", tags=(X86,), sdist=True),
            pkg("fastpkg", "2.0", wheel=False, sdist=True),
            pkg("plain", "1.0"),
        ]
    )
    piwheels = make_index(
        [
            pkg("fastpkg", "1.0", tags=(ARMV7,)),
            pkg("fastpkg", "2.0", tags=(ARMV7, "cp311-cp311-manylinux_2_17_x86_64")),
            # a version the other indexes do not have, and files for other platforms
            pkg("fastpkg", "9.0", tags=(ARMV7,)),
            pkg("plain", "1.0", sdist=True),
            pkg("armonly", "0.5", tags=(ARMV7,), sdist=True),
        ]
    )
    with ThreadPoolExecutor(4) as pool:
        repo = IndexRepository(
            client=HttpClient(),
            cache=None,
            executor=pool,
            index_urls=[main.index_url],
            joined=[(piwheels.index_url, ONLY_ARMV7)],
        )
        versions = {str(v.version): v for v in repo.versions("fastpkg")}
        # 9.0 only on piwheels: no version appears from it (the first index answers)
        assert sorted(versions) == ["1.0", "2.0"]
        assert _names(versions["1.0"].files) == [
            "fastpkg-1.0-cp311-cp311-linux_armv7l.whl",
            "fastpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "fastpkg-1.0.tar.gz",
        ]
        # wheels first; the main index's x86 wheel and sdist come from the main index
        assert versions["1.0"].files[-1].filename.endswith(".tar.gz")
        x86 = next(f for f in versions["1.0"].files if "x86_64" in f.filename)
        assert x86.url.startswith(main.url)
        arm = next(f for f in versions["1.0"].files if "armv7l" in f.filename)
        assert arm.url.startswith(piwheels.url)
        assert versions["1.0"].index == main.index_url.rstrip("/")
        # a piwheels wheel that is not for armv7l alone is not taken
        assert _names(versions["2.0"].files) == [
            "fastpkg-2.0-cp311-cp311-linux_armv7l.whl",
            "fastpkg-2.0.tar.gz",
        ]
        # pure wheels and sdists stay with the other indexes
        assert _names(repo.versions("plain")[0].files) == ["plain-1.0-py3-none-any.whl"]
        # a project no other index has: the platform index's wheels alone
        only = repo.versions("armonly")
        assert [str(v.version) for v in only] == ["0.5"]
        assert _names(only[0].files) == ["armonly-0.5-cp311-cp311-linux_armv7l.whl"]
        assert repo.versions("nothing") == []


def test_a_pinned_name_never_asks_the_platform_index(make_index) -> None:  # type: ignore[no-untyped-def]
    main = make_index([pkg("fastpkg", "1.0", tags=(X86,))])
    piwheels = make_index([pkg("fastpkg", "1.0", tags=(ARMV7,))])
    with ThreadPoolExecutor(4) as pool:
        repo = IndexRepository(
            client=HttpClient(),
            cache=None,
            executor=pool,
            index_urls=[main.index_url],
            pinned={"fastpkg": main.index_url},
            joined=[(piwheels.index_url, ONLY_ARMV7)],
        )
        assert _names(repo.versions("fastpkg")[0].files) == [
            "fastpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        ]
    assert not [r for r in piwheels.requests if "fastpkg" in r.path]


def test_the_first_index_keeps_a_file_both_offer(make_index) -> None:  # type: ignore[no-untyped-def]
    main = make_index([pkg("fastpkg", "1.0", tags=(ARMV7,))])
    mirror = make_index([pkg("fastpkg", "1.0", tags=(ARMV7,))])
    with ThreadPoolExecutor(4) as pool:
        repo = IndexRepository(
            client=HttpClient(),
            cache=None,
            executor=pool,
            index_urls=[main.index_url],
            joined=[(mirror.index_url, ONLY_ARMV7)],
        )
        (file,) = repo.versions("fastpkg")[0].files
        assert file.url.startswith(main.url)
