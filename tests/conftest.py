"""Shared fixtures: isolation from the user's configuration and a local package index.

- every test runs with ``SHIPYARD_CACHE_DIR`` in its own temp folder, no ``PIP_*`` or
  ``SHIPYARD_*`` variables from the outside, ``PIP_CONFIG_FILE=/dev/null`` and ``NO_COLOR=1``;
- ``make_index([...])`` builds packages and serves them (see ``tests/support``);
- tests marked ``network`` run only with ``SHIPYARD_NETWORK_TESTS=1`` or ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from support import (
    IndexServer,
    MakeIndex,
    PackageSpec,
    build_package,
    build_test_backend_wheel,
)


def _network_allowed() -> bool:
    return os.environ.get("SHIPYARD_NETWORK_TESTS") == "1" or os.environ.get("CI") == "true"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``network`` marker (also declared in pyproject.toml)."""
    config.addinivalue_line("markers", "network: uses the real PyPI (runs in CI)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``network`` unless SHIPYARD_NETWORK_TESTS=1 or CI=true."""
    if _network_allowed():
        return
    skip = pytest.mark.skip(reason="network test: set SHIPYARD_NETWORK_TESTS=1 (or CI=true)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Isolate the test from user configuration; return its private cache folder."""
    for key in list(os.environ):
        if key.startswith(("PIP_", "SHIPYARD_")):
            monkeypatch.delenv(key)
    # The environment the tests run in may be an activated venv: a test's `pip sync`
    # must never take it for its target (and sync the test runner away).
    for key in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    cache = tmp_path_factory.mktemp("shipyard-cache")
    monkeypatch.setenv("SHIPYARD_CACHE_DIR", str(cache))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("NO_COLOR", "1")
    return cache


@pytest.fixture
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder for wheels and sdists a test builds."""
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="session")
def backend_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test build backend's wheel, built once per session (read-only)."""
    return build_test_backend_wheel(tmp_path_factory.mktemp("backend"))


@pytest.fixture
def make_index(
    tmp_path_factory: pytest.TempPathFactory, backend_wheel: Path
) -> Iterator[MakeIndex]:
    """Factory: ``make_index(packages, **IndexServer options) -> running IndexServer``.

    Each call builds ``packages`` (plus the test backend wheel) into a fresh folder
    (``server.root``; add files there at any time) and starts a server on
    127.0.0.1. All servers stop at teardown.
    """
    servers: list[IndexServer] = []

    def make(packages: Sequence[PackageSpec] | None = None, **server_options: Any) -> IndexServer:
        root = tmp_path_factory.mktemp("index")
        (root / backend_wheel.name).write_bytes(backend_wheel.read_bytes())
        for spec in packages or ():
            build_package(root, spec)
        server = IndexServer(root, **server_options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
