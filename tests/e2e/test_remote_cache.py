"""The team cache of built wheels in a real registry (Debian's ``docker-registry`` on
127.0.0.1, plain HTTP, or HTTPS with basic auth): runner A builds and pushes, runner B
(an empty cache, the same lock) builds nothing; a tampered blob is refused and built;
a registry that dies or stalls costs one warning, never the command; eight runners
pushing at once leave one consistent tag per artifact."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import pkg
from support.git_server import make_repository
from support.oci_tools import Registry, ensure_debian_tools, start_registry

from .test_local_index import installed, new_project, shipyard

PACKAGES = [
    pkg("srcone", "1.0", wheel=False, sdist=True, files={"srcone/__init__.py": "ONE = 1\n"}),
    pkg("srctwo", "2.0", wheel=False, sdist=True, files={"srctwo/__init__.py": "TWO = 2\n"}),
]
BACKEND = (
    '[build-system]\nrequires = ["shipyard-test-backend"]\n'
    'build-backend = "shipyard_test_backend"\n\n'
)
REPOSITORY = "team/shipyard-cache"
AUTH = ("shipyard", "not-a-secret")
EXPECTED = {"srcone": "1.0", "srctwo": "2.0", "gitpkg": "1.5"}


@pytest.fixture(scope="session")
def _registry_tool() -> None:
    ensure_debian_tools()


@pytest.fixture
def registry(_registry_tool: None, tmp_path: Path) -> Iterator[Registry]:
    """An empty docker-registry on 127.0.0.1 (plain HTTP, no auth)."""
    with start_registry(tmp_path / "registry") as running:
        yield running


@pytest.fixture
def auth_registry(_registry_tool: None, tmp_path: Path) -> Iterator[Registry]:
    """An empty docker-registry over HTTPS with htpasswd basic auth."""
    with start_registry(tmp_path / "auth-registry", auth=AUTH, tls=True) as running:
        yield running


def _env(registry: Registry, cache: Path, **more: str) -> dict[str, str]:
    """The settings of one runner: its own cache directory, the shared remote cache
    (with the credentials and trusted certificate when the registry wants them)."""
    env = {
        "SHIPYARD_CACHE_DIR": str(cache),
        "SHIPYARD_REMOTE_CACHE": f"oci://{registry.host}/{REPOSITORY}",
        **more,
    }
    if registry.creds:
        env["SHIPYARD_REGISTRY_USERNAME"], env["SHIPYARD_REGISTRY_PASSWORD"] = AUTH
    if registry.certificate is not None:
        env["REQUESTS_CA_BUNDLE"] = str(registry.certificate)
    return env


def _project(tmp_path: Path, make_index) -> Path:  # type: ignore[no-untyped-def]
    """A locked project needing two sdist-only packages and one git source."""
    bare, _clone = make_repository(
        tmp_path / "git",
        "gitpkg",
        {
            "pyproject.toml": BACKEND + '[project]\nname = "gitpkg"\nversion = "1.5"\n',
            "gitpkg/__init__.py": "VALUE = 5\n",
        },
    )
    sources = (
        f'\n[tool.shipyard.sources]\ngitpkg = {{ git = "{bare.as_uri()}", branch = "main" }}\n'
    )
    project = new_project(
        tmp_path, make_index(PACKAGES), ["srcone", "srctwo", "gitpkg"], name="a", extra=sources
    )
    shipyard(project, "lock", SHIPYARD_CACHE_DIR=str(tmp_path / "lock-cache"))
    return project


def _runner(tmp_path: Path, project: Path, name: str) -> Path:
    """Another checkout of ``project`` (the same manifest and lock), no environment."""
    other = tmp_path / name
    other.mkdir()
    for file in ("pyproject.toml", "pylock.toml"):
        shutil.copy(project / file, other / file)
    return other


def _registry_get(registry: Registry, path: str) -> tuple[bytes, dict[str, str]]:
    """GET ``/v2/<path>`` from the registry (with its credentials), accepting OCI
    manifests; the body and headers."""
    scheme = "https" if registry.certificate else "http"
    request = urllib.request.Request(f"{scheme}://{registry.host}/v2/{path}")
    request.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
    if registry.creds:
        request.add_header("Authorization", "Basic " + b64encode(registry.creds.encode()).decode())
    context = (
        ssl.create_default_context(cafile=str(registry.certificate))
        if registry.certificate
        else None
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.read(), dict(response.headers)


def _artifacts(registry: Registry) -> dict[str, dict]:  # type: ignore[type-arg]
    """Tag → manifest of every artifact in the cache repository."""
    try:
        body, _headers = _registry_get(registry, f"{REPOSITORY}/tags/list")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # nothing was ever pushed
            return {}
        raise
    tags = json.loads(body).get("tags") or []
    return {
        tag: json.loads(_registry_get(registry, f"{REPOSITORY}/manifests/{tag}")[0]) for tag in tags
    }


def _blob_data(registry: Registry, digest: str) -> Path:
    """The file the registry stores blob ``digest`` in."""
    hexdigest = digest.removeprefix("sha256:")
    return registry.root / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


@pytest.mark.parametrize("secured", [False, True], ids=["plain-http", "https-basic-auth"])
def test_runner_b_installs_what_runner_a_built_without_building(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    request: pytest.FixtureRequest,
    secured: bool,
) -> None:
    registry: Registry = request.getfixturevalue("auth_registry" if secured else "registry")
    project = _project(tmp_path, make_index)

    a = shipyard(project, "sync", "--remote-cache-push", **_env(registry, tmp_path / "cache-a"))
    assert a.stderr.count("Building wheel for") == 3, a.stderr
    assert a.stderr.count("Pushed ") == 3
    assert installed(project) == EXPECTED

    artifacts = _artifacts(registry)
    assert len(artifacts) == 3
    for tag, manifest in artifacts.items():
        assert manifest["artifactType"] == "application/vnd.shipyard.wheel.v1"
        assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
        (layer,) = manifest["layers"]
        assert layer["mediaType"] == "application/vnd.shipyard.wheel.v1+zip"
        notes = manifest["annotations"]
        assert notes["org.opencontainers.image.title"].endswith("-py3-none-any.whl")
        assert tag.startswith(f"{notes['dev.shipyard.name']}-{notes['dev.shipyard.version']}-")
        assert notes["dev.shipyard.tags"].startswith("cp3")
    assert {m["annotations"]["dev.shipyard.name"] for m in artifacts.values()} == set(EXPECTED)

    b = _runner(tmp_path, project, "b")
    pulled = shipyard(b, "sync", **_env(registry, tmp_path / "cache-b"))
    assert "Building" not in pulled.stderr, pulled.stderr
    assert pulled.stderr.count("Fetched ") == 3 and "warning" not in pulled.stderr
    assert installed(b) == EXPECTED
    ran = shipyard(
        b, "run", "python", "-c", "import srcone, gitpkg; print(srcone.ONE + gitpkg.VALUE)"
    )
    assert ran.stdout.strip() == "6"

    stats = shipyard(b, "cache", "stats", **_env(registry, tmp_path / "cache-b")).stdout
    assert "Remote cache: 3 hits, 0 misses, 0 pushed, 0 refused" in stats
    assert "0 built here" in stats
    # Runner A's own cache: its builds, and the three misses before them.
    stats_a = shipyard(project, "cache", "stats", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-a"))
    assert "3 built here" in stats_a.stdout and "3 misses, 3 pushed" in stats_a.stdout
    if secured:
        for result in (a, pulled):
            assert AUTH[1] not in result.stdout + result.stderr


def test_without_push_a_laptop_only_reads(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    project = _project(tmp_path, make_index)
    result = shipyard(project, "sync", **_env(registry, tmp_path / "cache"))
    assert "Pushed" not in result.stderr and "warning" not in result.stderr
    assert installed(project) == EXPECTED
    assert _artifacts(registry) == {}


def test_a_tampered_blob_is_refused_and_built_here(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    project = _project(tmp_path, make_index)
    shipyard(project, "sync", "--remote-cache-push", **_env(registry, tmp_path / "cache-a"))
    artifacts = _artifacts(registry)
    (srcone,) = [m for m in artifacts.values() if m["annotations"]["dev.shipyard.name"] == "srcone"]
    data = _blob_data(registry, srcone["layers"][0]["digest"])
    original = data.read_bytes()
    data.write_bytes(original[:100] + bytes(b ^ 0xFF for b in original[100:110]) + original[110:])

    b = _runner(tmp_path, project, "b")
    result = shipyard(b, "sync", **_env(registry, tmp_path / "cache-b"))
    assert result.stderr.count("was refused") == 1, result.stderr
    assert "wheel of srcone 1.0 was refused" in result.stderr
    assert "Building srcone 1.0" in result.stderr and "Building srctwo" not in result.stderr
    assert result.stderr.count("Fetched ") == 2
    ran = shipyard(b, "run", "python", "-c", "import srcone; print(srcone.ONE)")
    assert ran.stdout.strip() == "1"
    stats = shipyard(b, "cache", "stats", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-b")).stdout
    assert "2 hits" in stats and "1 refused" in stats and "1 built here" in stats


class _DyingProxy:
    """A plain-HTTP front for a registry that forwards GET and HEAD requests and stops
    the registry behind it right after serving the first artifact manifest."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                upstream = urllib.request.Request(
                    f"http://{proxy.registry.host}{self.path}", method=method
                )
                for header in ("Accept", "Range"):
                    if self.headers.get(header):
                        upstream.add_header(header, self.headers[header])
                try:
                    with urllib.request.urlopen(upstream, timeout=30) as response:
                        status, headers, body = response.status, response.headers, response.read()
                except urllib.error.HTTPError as exc:
                    status, headers, body = exc.code, exc.headers, exc.read()
                except OSError:
                    self.send_error(502)
                    return
                self.send_response(status)
                for name in ("Content-Type", "Docker-Content-Digest"):
                    if headers.get(name):
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)
                self.wfile.flush()
                if status == 200 and "/manifests/" in self.path:
                    proxy.registry.stop()  # the registry goes away mid-sync

            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_registry_that_stops_mid_sync_costs_one_warning(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    project = _project(tmp_path, make_index)
    shipyard(project, "sync", "--remote-cache-push", **_env(registry, tmp_path / "cache-a"))
    proxy = _DyingProxy(registry)
    try:
        b = _runner(tmp_path, project, "b")
        env = _env(registry, tmp_path / "cache-b")
        env["SHIPYARD_REMOTE_CACHE"] = f"oci://{proxy.host}/{REPOSITORY}"
        result = shipyard(b, "sync", **env)
    finally:
        proxy.close()
    assert result.stderr.count("warning") == 1, result.stderr
    assert "is skipped for this command" in result.stderr
    assert "Fetched" not in result.stderr  # the first pull died with its blob
    assert "Building srcone" in result.stderr and "Building srctwo" in result.stderr
    assert installed(b) == EXPECTED
    assert "skipped in 1 commands" in shipyard(b, "cache", "stats", **env).stdout


def test_a_registry_that_never_answers_is_skipped_after_the_timeout(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    project = _project(tmp_path, make_index)
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        result = shipyard(
            project,
            "sync",
            "--remote-cache-push",
            SHIPYARD_CACHE_DIR=str(tmp_path / "cache"),
            SHIPYARD_REMOTE_CACHE=f"oci://{host}/{REPOSITORY}",
            SHIPYARD_REMOTE_CACHE_TIMEOUT="0.5",
        )
    assert result.stderr.count("warning") == 1, result.stderr
    assert "is skipped for this command" in result.stderr
    assert installed(project) == EXPECTED


def test_eight_runners_pushing_at_once_leave_one_consistent_tag_each(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    project = _project(tmp_path, make_index)
    runners = [_runner(tmp_path, project, f"runner-{i}") for i in range(8)]
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "shipyard", "sync", "--remote-cache-push"],
            cwd=runner,
            env={**os.environ, **_env(registry, tmp_path / f"cache-{i}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, runner in enumerate(runners)
    ]
    for process in running:
        _out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        assert "warning" not in err, err
    for runner in runners:
        assert installed(runner) == EXPECTED

    artifacts = _artifacts(registry)
    assert len(artifacts) == 3  # one tag per artifact
    for manifest in artifacts.values():
        digest = manifest["layers"][0]["digest"]
        blob, _headers = _registry_get(registry, f"{REPOSITORY}/blobs/{digest}")
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == digest
        assert len(blob) == manifest["layers"][0]["size"]

    late = _runner(tmp_path, project, "late")
    result = shipyard(late, "sync", **_env(registry, tmp_path / "cache-late"))
    assert "Building" not in result.stderr and result.stderr.count("Fetched ") == 3


def test_a_remote_cache_that_is_not_an_oci_repository_is_a_clear_error(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    project = _project(tmp_path, make_index)
    result = shipyard(
        project,
        "sync",
        check=False,
        SHIPYARD_CACHE_DIR=str(tmp_path / "cache"),
        SHIPYARD_REMOTE_CACHE="https://registry.example.com/team/cache",
    )
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert "is not a registry repository: it must start with oci://" in text
    assert "oci://registry.example.com/team/shipyard-cache" in text
