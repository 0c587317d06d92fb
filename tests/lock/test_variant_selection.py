"""Wheel variants in pylock.toml (PEP 825 draft): the lock lists them under
``[packages.tool.shipyard]`` so packaging still validates it, the writer renders that
table as sub-tables that read back equal, and selection picks the variant the machine
supports — by PEP 825's order, static lists only, never a plugin."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.pylock import Pylock
from packaging.version import Version

from shipyard.accelerators import HostAccelerator
from shipyard.cache import Cache
from shipyard.errors import LockError
from shipyard.lock.pylock import render_lock, select_from_lock
from shipyard.models import LockFile

TAGS = ["cp312-cp312-manylinux_2_28_x86_64", "py3-none-manylinux_2_28_x86_64", "py3-none-any"]
LINUX = {
    "python_full_version": "3.12.1",
    "python_version": "3.12",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
CUDA = "nvidia :: cuda_version_lower_bound"


def _file(filename: str) -> dict[str, Any]:
    return {"url": f"https://files.example/{filename}", "hashes": {"sha256": filename[:8]}}


def _lock(
    variants: dict[str, dict[str, Any]],
    wheels: list[str],
    *,
    plain: tuple[str, ...] = ("gpu-1.0-py3-none-any.whl",),
    providers: dict[str, Any] | None = None,
    namespaces: tuple[str, ...] = ("nvidia",),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": list(namespaces)},
        "variants": variants,
    }
    if providers:
        metadata["providers"] = providers
    package: dict[str, Any] = {
        "name": "gpu",
        "version": "1.0",
        "index": "https://index.example/simple",
        **(extra or {}),
    }
    if plain:
        package["wheels"] = [_file(name) for name in plain]
    package["tool"] = {
        "shipyard": {"variant-wheels": [_file(w) for w in wheels], "variants-json": metadata}
    }
    return {"lock-version": "1.0", "created-by": "test", "packages": [package]}


CUDA_LOCK = _lock(
    {
        "cu126": {"nvidia": {"cuda_version_lower_bound": ["12.6"]}},
        "cu124": {"nvidia": {"cuda_version_lower_bound": ["12.4"]}},
        "null": {},
    },
    [
        "gpu-1.0-py3-none-any-cu124.whl",
        "gpu-1.0-py3-none-any-cu126.whl",
        "gpu-1.0-py3-none-manylinux_2_28_x86_64-cu126.whl",
        "gpu-1.0-py3-none-any-null.whl",
    ],
)


def _chosen(
    document: dict[str, Any],
    cuda: str | None,
    tmp_path: Path,
    *,
    environment: dict[str, str] = LINUX,
    cache: Cache | None = None,
    no_binary: frozenset[str] = frozenset(),
) -> str | None:
    lock = LockFile.from_document(document, tmp_path / "pylock.toml", sha256="0" * 64)
    host = HostAccelerator(cuda=Version(cuda) if cuda else None, rocm=None, source="test")
    (selected,) = select_from_lock(
        lock,
        environment=environment,
        tags=TAGS,
        extras=(),
        dependency_groups=(),
        no_binary=no_binary,
        cache=cache,
        variant_host=host,
    )
    return selected.filename


def test_the_lock_stays_valid_pep_751_and_reads_back_equal() -> None:
    Pylock.from_dict(CUDA_LOCK).validate()
    assert tomllib.loads(render_lock({**CUDA_LOCK, "tool": {"shipyard": {}}})) == {
        **CUDA_LOCK,
        "tool": {"shipyard": {}},
    }


_text = st.text(max_size=12)
_tables = st.recursive(
    st.one_of(_text, st.integers(), st.booleans(), st.lists(_text, max_size=3)),
    lambda inner: st.one_of(
        st.dictionaries(_text, inner, max_size=3),
        st.lists(st.dictionaries(_text, inner, min_size=1, max_size=2), min_size=1, max_size=2),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(tool=st.dictionaries(_text, _tables, min_size=1, max_size=3))
def test_any_package_tool_table_reads_back_equal(tool: dict[str, Any]) -> None:
    package = {"name": "a", "version": "1", "tool": tool}
    document = {
        "lock-version": "1.0",
        "packages": [package, dict(package)],
        "tool": {"shipyard": {}},
    }
    assert tomllib.loads(render_lock(document)) == document


@pytest.mark.parametrize(
    ("cuda", "expected"),
    [
        ("12.4", "gpu-1.0-py3-none-any-cu124.whl"),
        ("12.5", "gpu-1.0-py3-none-any-cu124.whl"),
        # the best variant, then its wheel with the most preferred tag
        ("12.8", "gpu-1.0-py3-none-manylinux_2_28_x86_64-cu126.whl"),
        ("12.2", "gpu-1.0-py3-none-any-null.whl"),
        (None, "gpu-1.0-py3-none-any-null.whl"),
    ],
)
def test_the_driver_picks_the_variant(cuda: str | None, expected: str, tmp_path: Path) -> None:
    assert _chosen(CUDA_LOCK, cuda, tmp_path) == expected


def test_no_binary_installs_the_sdist_and_no_fitting_wheel_is_an_error(tmp_path: Path) -> None:
    with_sdist = _lock(
        {"cu124": {"nvidia": {"cuda_version_lower_bound": ["12.4"]}}},
        ["gpu-1.0-py3-none-any-cu124.whl"],
        plain=("gpu-1.0-py3-none-win_amd64.whl",),
        extra={"sdist": _file("gpu-1.0.tar.gz")},
    )
    assert _chosen(with_sdist, "12.4", tmp_path, no_binary=frozenset({"gpu"})) == "gpu-1.0.tar.gz"
    assert _chosen(with_sdist, "12.4", tmp_path) == "gpu-1.0-py3-none-any-cu124.whl"
    assert _chosen(with_sdist, None, tmp_path) == "gpu-1.0.tar.gz"
    without = _lock(
        {"cu124": {"nvidia": {"cuda_version_lower_bound": ["12.4"]}}},
        ["gpu-1.0-py3-none-any-cu124.whl"],
        plain=("gpu-1.0-py3-none-win_amd64.whl",),
    )
    with pytest.raises(LockError, match=r"no wheel of gpu 1\.0 that fits this environment"):
        _chosen(without, None, tmp_path)


def test_markers_and_python_still_go_through_packaging(tmp_path: Path) -> None:
    elsewhere = _lock(
        {"null": {}},
        ["gpu-1.0-py3-none-any-null.whl"],
        extra={"marker": "sys_platform == 'win32'"},
    )
    lock = LockFile.from_document(elsewhere, tmp_path / "pylock.toml")
    kwargs: dict[str, Any] = {"tags": TAGS, "extras": (), "dependency_groups": ()}
    assert select_from_lock(lock, environment=LINUX, **kwargs) == []
    too_new = _lock({"null": {}}, [], extra={"requires-python": ">=3.13"})
    lock = LockFile.from_document(too_new, tmp_path / "pylock.toml")
    with pytest.raises(LockError, match="does not satisfy the Python version"):
        select_from_lock(lock, environment=LINUX, **kwargs)


def test_static_lists_are_used_and_plugins_never_run(tmp_path: Path) -> None:
    # an ahead-of-time provider lists its properties; a plugin-only one supports nothing
    document = _lock(
        {
            "openblas": {"blas": {"library": ["openblas"]}},
            "fast": {"x86_64": {"level": ["v3"]}},
        },
        ["gpu-1.0-py3-none-any-fast.whl", "gpu-1.0-py3-none-any-openblas.whl"],
        namespaces=("x86_64", "blas"),
        providers={
            "blas": {"static-properties": {"library": ["openblas"]}},
            "x86_64": {"requires": ["provider-variant-x86-64"]},
        },
    )
    assert _chosen(document, None, tmp_path) == "gpu-1.0-py3-none-any-openblas.whl"


def test_an_enable_if_marker_that_fails_here_disables_its_provider(tmp_path: Path) -> None:
    providers = {
        "nvidia": {
            "requires": ["nvidia-variant-provider"],
            "enable-if": "sys_platform == 'win32'",
        }
    }
    document = _lock(
        {"cu124": {"nvidia": {"cuda_version_lower_bound": ["12.4"]}}},
        ["gpu-1.0-py3-none-any-cu124.whl"],
        providers=providers,
    )
    assert _chosen(document, "12.4", tmp_path) == "gpu-1.0-py3-none-any.whl"


def test_cached_selections_follow_the_machine(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    assert _chosen(CUDA_LOCK, "12.4", tmp_path, cache=cache).endswith("-cu124.whl")  # type: ignore[union-attr]
    assert _chosen(CUDA_LOCK, None, tmp_path, cache=cache).endswith("-null.whl")  # type: ignore[union-attr]
    assert _chosen(CUDA_LOCK, "12.4", tmp_path, cache=cache).endswith("-cu124.whl")  # type: ignore[union-attr]
