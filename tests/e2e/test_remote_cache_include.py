"""``remote-cache-include``: managed interpreters and conda packages shared through the
team cache (a real ``docker-registry`` on 127.0.0.1). Runner A downloads from the
origin and pushes; runner B, with an empty cache and the origin gone, gets the same
archive from the registry; a tampered blob is refused and the origin asked instead."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from support import IndexServer
from support.conda_channel import ChannelServer
from support.oci_tools import Registry

from .test_conda import PYPI, _project
from .test_conda import conda_channel as conda_channel  # fixture
from .test_local_index import new_project, shipyard
from .test_python_downloads import _env as _python_env
from .test_python_downloads import _source
from .test_python_downloads import archive as archive  # fixture
from .test_python_downloads import mirror as mirror  # fixture
from .test_remote_cache import _artifacts, _blob_data
from .test_remote_cache import _env as _cache_env
from .test_remote_cache import _registry_tool as _registry_tool  # fixture
from .test_remote_cache import registry as registry  # fixture


def _python_project(tmp_path: Path, index: IndexServer, name: str) -> Path:
    """A project without dependencies that needs Python 3.10 (only downloads have it)."""
    project = new_project(tmp_path, index, [], name=name)
    text = (project / "pyproject.toml").read_text().replace(">=3.11", ">=3.10")
    (project / "pyproject.toml").write_text(text)
    (project / ".python-version").write_text("3.10\n")
    return project


def _runner_env(
    tmp_path: Path, registry: Registry, name: str, table: Path, url: str, **more: str
) -> dict[str, str]:
    """One runner: its own managed-interpreter directory and cache, the shared remote
    cache with interpreters included, the downloads table and mirror."""
    return {
        **_python_env(tmp_path / name),
        **_cache_env(registry, tmp_path / name / "cache"),
        "SHIPYARD_PYTHON_DOWNLOADS_JSON": str(table),
        "SHIPYARD_PYTHON_MIRROR": url,
        "SHIPYARD_REMOTE_CACHE_INCLUDE": "interpreters",
        **more,
    }


def _blob_artifacts(registry: Registry) -> dict[str, dict]:  # type: ignore[type-arg]
    return {tag: m for tag, m in _artifacts(registry).items() if tag.startswith("blob-sha256-")}


def test_runner_b_gets_the_interpreter_from_the_registry(
    tmp_path: Path,
    mirror: tuple[str, Path, Path],
    registry: Registry,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    url, table, served = mirror
    sha256 = hashlib.sha256(served.read_bytes()).hexdigest()
    version = _source().name
    index = make_index([])
    a = _python_project(tmp_path, index, "project-a")
    # Without the include, pushing shares wheels only: no interpreter goes up.
    plain = _runner_env(tmp_path, registry, "plain", table, url, SHIPYARD_REMOTE_CACHE_PUSH="1")
    plain["SHIPYARD_REMOTE_CACHE_INCLUDE"] = ""
    shipyard(tmp_path, "python", "install", "3.10", **plain)
    assert _blob_artifacts(registry) == {}

    env_a = _runner_env(tmp_path, registry, "a", table, url, SHIPYARD_REMOTE_CACHE_PUSH="1")
    synced = shipyard(a, "sync", **env_a)
    assert f"Installed Python {version}" in synced.stderr
    assert f"Pushed {served.name} to the remote cache" in synced.stderr, synced.stderr
    artifacts = _blob_artifacts(registry)
    assert list(artifacts) == [f"blob-sha256-{sha256}"]
    (manifest,) = artifacts.values()
    assert manifest["artifactType"] == "application/vnd.shipyard.blob.v1"
    (layer,) = manifest["layers"]
    assert layer["digest"] == f"sha256:{sha256}"
    assert layer["annotations"]["org.opencontainers.image.title"] == served.name

    served.unlink()  # the mirror has nothing any more: only the registry can help
    b = _python_project(tmp_path, index, "project-b")
    env_b = _runner_env(tmp_path, registry, "b", table, url)
    pulled = shipyard(b, "sync", **env_b)
    assert f"Fetched Python {version} ({served.name}" in pulled.stderr, pulled.stderr
    assert "warning" not in pulled.stderr.lower()
    ran = shipyard(b, "run", "python", "-c", "import sys; print(sys.version)", **env_b)
    assert ran.stdout.startswith(version)
    # `python install` asks the registry the same way
    installed = shipyard(
        tmp_path, "python", "install", "3.10", **_runner_env(tmp_path, registry, "c", table, url)
    )
    assert "Fetched Python" in installed.stderr and f"Installed Python {version}" in (
        installed.stdout + installed.stderr
    )


def test_a_tampered_interpreter_blob_is_refused_and_the_mirror_asked(
    tmp_path: Path,
    mirror: tuple[str, Path, Path],
    registry: Registry,
) -> None:
    url, table, _served = mirror
    env_a = _runner_env(tmp_path, registry, "a", table, url, SHIPYARD_REMOTE_CACHE_PUSH="1")
    shipyard(tmp_path, "python", "install", "3.10", **env_a)
    (manifest,) = _blob_artifacts(registry).values()
    data = _blob_data(registry, manifest["layers"][0]["digest"])
    original = data.read_bytes()
    data.write_bytes(original[:100] + bytes(b ^ 0xFF for b in original[100:110]) + original[110:])

    env_b = _runner_env(tmp_path, registry, "b", table, url)
    result = shipyard(tmp_path, "python", "install", "3.10", **env_b)
    assert "copy of Python" in result.stderr and "was refused" in result.stderr, result.stderr
    assert "Fetched" not in result.stderr
    assert f"Installed Python {_source().name}" in result.stdout + result.stderr
    found = shipyard(tmp_path, "python", "find", "3.10", **env_b).stdout.strip()
    assert found.startswith(str(tmp_path / "b" / "managed"))


def test_an_unknown_include_is_a_clear_error(tmp_path: Path) -> None:
    result = shipyard(
        tmp_path,
        "python",
        "install",
        "3.10",
        check=False,
        SHIPYARD_REMOTE_CACHE_INCLUDE="interpreters,wheels",
    )
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "SHIPYARD_REMOTE_CACHE_INCLUDE" in result.stderr and "'wheels'" in result.stderr


@pytest.mark.slow
def test_runner_b_gets_conda_packages_from_the_registry(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    conda_channel: Path,
    registry: Registry,
) -> None:
    channel = tmp_path / "channel-copy"
    shutil.copytree(conda_channel, channel)
    index = make_index(PYPI)
    include = {"SHIPYARD_REMOTE_CACHE_INCLUDE": "conda-packages"}
    with ChannelServer(channel) as server:
        project = _project(tmp_path, index, channel, '"libfoo", "python 3.12.*"')
        text = (project / "pyproject.toml").read_text()
        (project / "pyproject.toml").write_text(text.replace(channel.as_uri(), server.url))
        shipyard(project, "lock", SHIPYARD_CACHE_DIR=str(tmp_path / "lock-cache"))
        a = shipyard(
            project,
            "sync",
            "--remote-cache-push",
            **_cache_env(registry, tmp_path / "cache-a", **include),
        )
    assert "Pushed libfoo-1.0-h0_0.tar.bz2 to the remote cache" in a.stderr, a.stderr
    assert "Pushed python-3.12" in a.stderr
    blobs = _blob_artifacts(registry)
    titles = {
        m["layers"][0]["annotations"]["org.opencontainers.image.title"] for m in blobs.values()
    }
    assert "libfoo-1.0-h0_0.tar.bz2" in titles

    # The channel server is gone: runner B's packages can only come from the registry.
    b = tmp_path / "b"
    b.mkdir()
    for file in ("pyproject.toml", "pylock.toml"):
        shutil.copy(project / file, b / file)
    env_b = _cache_env(registry, tmp_path / "cache-b", **include)
    pulled = shipyard(b, "sync", "--frozen", **env_b)
    assert "Fetched the conda package libfoo-1.0-h0_0.tar.bz2" in pulled.stderr, pulled.stderr
    assert "warning" not in pulled.stderr.lower()
    ran = shipyard(
        b, "run", "--frozen", "python", "-c", "import foo_bindings; print(foo_bindings.answer())"
    )
    assert ran.stdout.strip() == "42"
