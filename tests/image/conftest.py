"""Fixtures for the image tests: Debian base images as OCI layouts, a local registry.

Debian bookworm for amd64, arm64 and armhf (32-bit ARM). Needs root, Debian and
deb.debian.org (no Docker engine, Docker Hub or GitHub):
``debian_tools`` installs docker-registry, skopeo, umoci and debootstrap with apt-get
when they are missing; the root filesystems are built once with debootstrap and cached
under ``~/.cache/shipyard-tests/`` (see ``tests/support/oci_tools.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.oci_tools import (
    Registry,
    debian_rootfs,
    ensure_debian_tools,
    make_base_image,
    make_multiarch_layout,
    start_registry,
)

BASE_TAG = "bookworm"


@pytest.fixture(scope="session")
def debian_tools() -> dict[str, Path]:
    """docker-registry, skopeo, umoci and debootstrap, installed if needed: tool -> path."""
    return ensure_debian_tools()


def _base_image(tmp_path_factory: pytest.TempPathFactory, arch: str) -> tuple[Path, str]:
    layout = tmp_path_factory.mktemp(f"base-{arch}") / "layout"
    make_base_image(debian_rootfs(arch), layout, BASE_TAG, arch=arch)
    return layout, BASE_TAG


@pytest.fixture(scope="session")
def amd64_base(
    debian_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """(OCI layout, tag) of a one-layer Debian bookworm amd64 image with python3 (read-only)."""
    return _base_image(tmp_path_factory, "amd64")


@pytest.fixture(scope="session")
def arm64_base(
    debian_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """(OCI layout, tag) of the arm64 counterpart (unpacked with debootstrap --foreign: its
    packages are not configured; read-only)."""
    return _base_image(tmp_path_factory, "arm64")


@pytest.fixture(scope="session")
def armhf_base(
    debian_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """(OCI layout, tag) of the 32-bit ARM counterpart (Debian armhf, config
    ``arm``/``v7``; unpacked with debootstrap --foreign like arm64; read-only)."""
    return _base_image(tmp_path_factory, "armhf")


@pytest.fixture(scope="session")
def multiarch_base(
    amd64_base: tuple[Path, str],
    arm64_base: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str]:
    """(OCI layout, tag) whose tag is an image index of the amd64 and arm64 bases (read-only)."""
    layout = tmp_path_factory.mktemp("base-multiarch") / "layout"
    make_multiarch_layout({"amd64": amd64_base, "arm64": arm64_base}, layout, BASE_TAG)
    return layout, BASE_TAG


@pytest.fixture
def registry(debian_tools: dict[str, Path], tmp_path: Path) -> Iterator[Registry]:
    """An empty docker-registry on 127.0.0.1 (plain HTTP, no auth), stopped after the test."""
    with start_registry(tmp_path / "registry") as running:
        yield running


#: (user, password) of the ``auth_registry`` fixture
REGISTRY_AUTH = ("shipyard", "not-a-secret")


@pytest.fixture
def auth_registry(debian_tools: dict[str, Path], tmp_path: Path) -> Iterator[Registry]:
    """Like ``registry``, over HTTPS (``.certificate`` is its self-signed certificate)
    with htpasswd basic auth; ``.creds`` is "user:password"."""
    with start_registry(tmp_path / "auth-registry", auth=REGISTRY_AUTH, tls=True) as running:
        yield running
