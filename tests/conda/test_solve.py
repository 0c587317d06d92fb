"""Solving conda dependencies per platform against hermetic channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.conda.config import conda_config
from shipyard.conda.records import CondaRecord, records_from_lock, records_to_lock
from shipyard.conda.solve import solve_platforms
from shipyard.errors import ResolutionError
from support.conda_channel import ChannelServer, CondaPackage, build_channel


def _channel(root: Path, *, shards: bool = False) -> Path:
    packages = [
        CondaPackage("leaf", "1.0", files={"share/leaf/VERSION": b"1.0\n"}),
        CondaPackage("leaf", "2.0", files={"share/leaf/VERSION": b"2.0\n"}, fmt="conda"),
        CondaPackage(
            "libfoo",
            "1.2",
            "h0_0",
            subdir="linux-64",
            depends=["leaf >=1", "__glibc >=2.17"],
            files={"lib/libfoo.so": b"\x7fELF linux"},
        ),
        CondaPackage(
            "libfoo",
            "1.2",
            "h1_0",
            subdir="osx-arm64",
            depends=["leaf >=1", "__osx >=11.0"],
            files={"lib/libfoo.dylib": b"macho"},
            fmt="conda",
        ),
        CondaPackage(
            "needs-new-glibc",
            "1.0",
            subdir="linux-64",
            depends=["__glibc >=99"],
            files={"share/x": b"x"},
        ),
        CondaPackage("cuda-thing", "1.0", subdir="linux-64", depends=["__cuda >=12"]),
    ]
    return build_channel(root / "channel", packages, shards=shards)


def _config(channel: str, deps: list[str], tmp_path: Path, **extra: object):  # type: ignore[no-untyped-def]
    config = conda_config(
        {"conda": {"channels": [channel], "dependencies": deps, **extra}}, tmp_path
    )
    assert config is not None
    return config


def test_solves_each_platform_with_its_own_builds(tmp_path: Path) -> None:
    channel = _channel(tmp_path)
    config = _config(channel.as_uri(), ["libfoo"], tmp_path)
    platforms = ["linux-64", "osx-arm64"]
    solved = solve_platforms(
        config, platforms, {p: config.specs_for(p) for p in platforms}, cache_dir=tmp_path / "c"
    )
    linux = {r.name: r for r in solved["linux-64"]}
    mac = {r.name: r for r in solved["osx-arm64"]}
    assert (linux["libfoo"].build, linux["libfoo"].subdir) == ("h0_0", "linux-64")
    assert (mac["libfoo"].build, mac["libfoo"].subdir) == ("h1_0", "osx-arm64")
    assert linux["leaf"].version == mac["leaf"].version == "2.0"
    assert linux["leaf"].url.endswith("/noarch/leaf-2.0-0.conda")
    assert len(linux["leaf"].sha256) == 64 and linux["leaf"].md5 and linux["leaf"].size

    # One lock table per file: the noarch leaf serves both platforms.
    tables = records_to_lock(solved)
    leaf_tables = [t for t in tables if t["name"] == "leaf"]
    assert len(leaf_tables) == 1 and leaf_tables[0]["platforms"] == platforms
    again = records_from_lock(tables, "osx-arm64")
    assert {r.dist for r in again} == {r.dist for r in solved["osx-arm64"]}
    # A record read back from the lock converts to the same py-rattler record.
    back = CondaRecord.from_rattler(again[0].to_rattler())
    assert back.to_table() == {**again[0].to_table(), "platforms": []}


def test_locked_records_are_kept(tmp_path: Path) -> None:
    channel = _channel(tmp_path)
    config = _config(channel.as_uri(), ["leaf"], tmp_path)
    first = solve_platforms(
        config, ["linux-64"], {"linux-64": ["leaf <2"]}, cache_dir=tmp_path / "c"
    )
    assert [r.version for r in first["linux-64"]] == ["1.0"]
    kept = solve_platforms(
        config, ["linux-64"], {"linux-64": ["leaf"]}, cache_dir=tmp_path / "c", locked=first
    )
    assert [r.version for r in kept["linux-64"]] == ["1.0"]
    fresh = solve_platforms(config, ["linux-64"], {"linux-64": ["leaf"]}, cache_dir=tmp_path / "c")
    assert [r.version for r in fresh["linux-64"]] == ["2.0"]


def test_unsatisfiable_names_platform_and_cause(tmp_path: Path) -> None:
    channel = _channel(tmp_path)
    config = _config(channel.as_uri(), ["needs-new-glibc"], tmp_path)
    with pytest.raises(ResolutionError) as info:
        solve_platforms(
            config, ["linux-64"], {"linux-64": ["needs-new-glibc"]}, cache_dir=tmp_path / "c"
        )
    assert "on linux-64" in info.value.message
    assert "__glibc" in info.value.message
    with pytest.raises(ResolutionError) as info:
        solve_platforms(config, ["linux-64"], {"linux-64": ["nosuchpkg"]}, cache_dir=tmp_path / "c")
    assert "nosuchpkg" in info.value.message


def test_virtual_package_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = _channel(tmp_path)
    specs = {"linux-64": ["cuda-thing"]}
    # Another platform than this machine's gets defaults (no CUDA), unless the manifest says.
    config = _config(channel.as_uri(), ["cuda-thing"], tmp_path)
    monkeypatch.setattr("shipyard.conda.solve.host_platform", lambda: "osx-arm64")
    with pytest.raises(ResolutionError):
        solve_platforms(config, ["linux-64"], specs, cache_dir=tmp_path / "c")
    config = _config(
        channel.as_uri(),
        ["cuda-thing"],
        tmp_path,
        **{"virtual-packages": {"linux-64": {"__cuda": "12.4"}}},
    )
    solved = solve_platforms(config, ["linux-64"], specs, cache_dir=tmp_path / "c")
    assert [r.name for r in solved["linux-64"]] == ["cuda-thing"]
    # On this machine's platform, CONDA_OVERRIDE_CUDA declares a driver (as with conda).
    monkeypatch.setattr("shipyard.conda.solve.host_platform", lambda: "linux-64")
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.2")
    config = _config(channel.as_uri(), ["cuda-thing"], tmp_path)
    solved = solve_platforms(config, ["linux-64"], specs, cache_dir=tmp_path / "c")
    assert [r.name for r in solved["linux-64"]] == ["cuda-thing"]
    # SHIPYARD_ACCELERATOR speaks for the machine on the conda side too
    monkeypatch.setenv("SHIPYARD_ACCELERATOR", "cpu")
    with pytest.raises(ResolutionError):
        solve_platforms(config, ["linux-64"], specs, cache_dir=tmp_path / "c")
    monkeypatch.delenv("CONDA_OVERRIDE_CUDA")
    monkeypatch.setenv("SHIPYARD_ACCELERATOR", "cuda12.4")
    solved = solve_platforms(config, ["linux-64"], specs, cache_dir=tmp_path / "c")
    assert [r.name for r in solved["linux-64"]] == ["cuda-thing"]


def test_http_channel_with_sharded_repodata(tmp_path: Path) -> None:
    channel = _channel(tmp_path, shards=True)
    with ChannelServer(channel) as server:
        config = _config(server.url, ["libfoo"], tmp_path)
        solved = solve_platforms(
            config, ["linux-64"], {"linux-64": ["libfoo"]}, cache_dir=tmp_path / "c"
        )
        assert any("repodata_shards.msgpack.zst" in p for p in server.requests)
    assert {r.name for r in solved["linux-64"]} == {"leaf", "libfoo"}
    assert all(r.url.startswith(server.url + "/") for r in solved["linux-64"])
    assert all(r.channel == server.url for r in solved["linux-64"])


def test_mirrors_replace_the_channel_url(tmp_path: Path) -> None:
    channel = _channel(tmp_path)
    with ChannelServer(channel) as server:
        config = _config(
            "https://conda.invalid/private",
            ["libfoo"],
            tmp_path,
            mirrors={"https://conda.invalid/private": [server.url]},
        )
        solved = solve_platforms(
            config, ["linux-64"], {"linux-64": ["libfoo"]}, cache_dir=tmp_path / "c"
        )
        assert server.requests
    # The lock keeps the canonical channel URL, not the mirror's.
    assert all(r.url.startswith("https://conda.invalid/private/") for r in solved["linux-64"])
