"""``image build`` shares its dependency layer through the remote cache: runner A packs
it and pushes it to Debian's docker-registry on 127.0.0.1; runner B (an empty cache,
the same lock) pulls that very blob instead of installing anything, and its image
runs; a tampered artifact is refused and the layer packed here again."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from e2e.test_local_index import new_project, shipyard
from support import IndexServer, pkg
from support.oci_tools import Registry, run_in_chroot, umoci_unpack

pytestmark = pytest.mark.slow

REPOSITORY = "team/shipyard-cache"
PACKAGES = [
    pkg("greet", "1.0", files={"greet/__init__.py": "WORD = 'hello'\n"}),
    pkg(
        "tool",
        "1.0",
        files={"tool/__init__.py": "def main():\n    print('tool ran')\n"},
        entry_points={"console_scripts": {"tool": "tool:main"}},
    ),
]
DEPENDENCY_FILES = ("/files/greet-", "/files/tool-")


def _app(tmp_path: Path, index: IndexServer) -> Path:
    project = new_project(
        tmp_path,
        index,
        ["greet", "tool"],
        name="hello-app",
        extra='\n[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n',
    )
    package = project / "src" / "hello_app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import greet\nprint(greet.WORD, 'from the image')\n")
    return project


def _runner(tmp_path: Path, project: Path, name: str) -> Path:
    """Another checkout of ``project``: the same manifest, lock and sources."""
    other = tmp_path / name
    shutil.copytree(project, other, ignore=shutil.ignore_patterns(".venv", "build"))
    return other


def _build(project: Path, base: tuple[Path, str], out: Path, cache: Path, **env: str) -> Any:
    layout, tag = base
    return shipyard(
        project,
        "image",
        "build",
        "--frozen",
        "--base",
        f"oci:{layout}:{tag}",
        "--platform",
        "linux/amd64",
        "--output",
        f"oci:{out}:1.0",
        SHIPYARD_CACHE_DIR=str(cache),
        **env,
    )


def _remote(registry: Registry, **more: str) -> dict[str, str]:
    return {"SHIPYARD_REMOTE_CACHE": f"oci://{registry.host}/{REPOSITORY}", **more}


def said(result: Any) -> str:
    """A command's stderr with the line wrapping undone."""
    return " ".join(result.stderr.split())


def _manifest(out: Path) -> dict[str, Any]:
    top = json.loads((out / "index.json").read_text())["manifests"][0]
    data: dict[str, Any] = json.loads((out / "blobs/sha256" / top["digest"][7:]).read_bytes())
    return data


def _dependency_layer(out: Path) -> str:
    """The digest of the image's dependency layer (the one before the project's)."""
    digest: str = _manifest(out)["layers"][-2]["digest"]
    return digest


def _layer_artifacts(registry: Registry) -> dict[str, dict[str, Any]]:
    """Tag → manifest of the ``layer-*`` artifacts in the cache repository."""

    def get(path: str) -> bytes:
        request = urllib.request.Request(f"http://{registry.host}/v2/{REPOSITORY}/{path}")
        request.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body

    tags = json.loads(get("tags/list")).get("tags") or []
    return {t: json.loads(get(f"manifests/{t}")) for t in tags if t.startswith("layer-")}


def test_runner_b_reuses_runner_as_dependency_layer(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
    registry: Registry,
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "lock")

    a = _build(
        project,
        amd64_base,
        tmp_path / "out-a",
        tmp_path / "cache-a",
        **_remote(registry, SHIPYARD_REMOTE_CACHE_PUSH="1"),
    )
    assert "Pushed the dependencies (linux/amd64) layer to the remote cache" in said(a)
    layer_a = _dependency_layer(tmp_path / "out-a")
    (artifact,) = _layer_artifacts(registry).values()
    assert artifact["artifactType"] == "application/vnd.shipyard.image-layer.v1"
    (described,) = artifact["layers"]
    assert described["digest"] == layer_a
    assert described["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    config_a = json.loads(
        (
            tmp_path / "out-a/blobs/sha256" / _manifest(tmp_path / "out-a")["config"]["digest"][7:]
        ).read_bytes()
    )
    assert described["annotations"]["dev.shipyard.diff-id"] == config_a["rootfs"]["diff_ids"][-2]

    # Runner B: an empty cache, the same lock, pulling only.
    b = _runner(tmp_path, project, "b")
    index.clear_requests()
    pulled = _build(b, amd64_base, tmp_path / "out-b", tmp_path / "cache-b", **_remote(registry))
    assert (
        "Reused the dependencies (linux/amd64) layer from the remote cache "
        f"{registry.host}/{REPOSITORY}" in said(pulled)
    )
    assert "nothing installed" in said(pulled) and "warning" not in pulled.stderr
    assert "Pushed" not in pulled.stderr
    assert _dependency_layer(tmp_path / "out-b") == layer_a
    # nothing of the dependencies was downloaded, so nothing was installed
    assert [r.path for r in index.requests if r.path.startswith(DEPENDENCY_FILES)] == []
    stats = shipyard(b, "cache", "stats", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-b")).stdout
    assert "Image dependency layers: 0 reused from this cache, 1 from the remote cache" in stats
    assert "0 misses, 0 pushed" in stats
    stats_a = shipyard(project, "cache", "stats", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-a"))
    assert "1 misses, 1 pushed" in stats_a.stdout

    # B's image, with A's layer, runs
    rootfs = umoci_unpack(tmp_path / "out-b", "1.0", tmp_path / "bundle")
    env = {"PATH": "/app/.venv/bin:/usr/local/bin:/usr/bin:/bin"}
    ran = run_in_chroot(rootfs, ["python", "-m", "hello_app"], env=env, timeout=60, cwd="/app")
    assert ran.stdout == "hello from the image\n", ran.stderr
    tool = run_in_chroot(rootfs, ["tool"], env=env, timeout=60)
    assert tool.stdout == "tool ran\n", tool.stderr

    # B again: the layer is in its own cache now; the registry is not needed for it
    again = _build(b, amd64_base, tmp_path / "out-b2", tmp_path / "cache-b")
    assert "Reused the dependencies (linux/amd64) layer from the cache" in said(again)
    assert _dependency_layer(tmp_path / "out-b2") == layer_a
    # another lock (a dependency dropped) is another key: packed, not reused
    (b / "pyproject.toml").write_text(
        (b / "pyproject.toml").read_text().replace('"greet", "tool"', '"tool"')
    )
    shipyard(b, "lock", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-b"))
    smaller = _build(b, amd64_base, tmp_path / "out-b3", tmp_path / "cache-b", **_remote(registry))
    assert "Reused" not in smaller.stderr
    assert _dependency_layer(tmp_path / "out-b3") != layer_a


def _rewrite_diff_id(registry: Registry, tag: str, manifest: dict[str, Any]) -> None:
    """Put ``manifest`` back under ``tag`` with another diff_id in its annotations."""
    manifest["layers"][0]["annotations"]["dev.shipyard.diff-id"] = "sha256:" + "0" * 64
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{REPOSITORY}/manifests/{tag}",
        data=json.dumps(manifest).encode(),
        method="PUT",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@pytest.mark.parametrize("tampered", ["blob", "diff-id"])
def test_a_tampered_layer_is_refused_and_packed_here(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
    registry: Registry,
    tampered: str,
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "lock")
    push = _remote(registry, SHIPYARD_REMOTE_CACHE_PUSH="1")
    _build(project, amd64_base, tmp_path / "out-a", tmp_path / "cache-a", **push)
    layer_a = _dependency_layer(tmp_path / "out-a")
    if tampered == "blob":
        hexdigest = layer_a.removeprefix("sha256:")
        data = registry.root / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest
        (data / "data").write_bytes(b"not the layer" + (data / "data").read_bytes()[13:])
    else:  # the blob is right, but the manifest lies about what it unpacks to
        ((tag, manifest),) = _layer_artifacts(registry).items()
        _rewrite_diff_id(registry, tag, manifest)

    b = _runner(tmp_path, project, "b")
    built = _build(b, amd64_base, tmp_path / "out-b", tmp_path / "cache-b", **push)
    text = said(built)
    assert "The remote cache's dependencies (linux/amd64) layer was refused" in text, text
    assert "It is packed here instead." in text
    if tampered == "diff-id":
        assert "differ from the diff_id its manifest names" in text
    assert "Reused" not in text and "Pushed" not in text  # A's tag is never overwritten
    # packed here, reproducibly: the same digest as A's
    assert _dependency_layer(tmp_path / "out-b") == layer_a
    stats = shipyard(b, "cache", "stats", SHIPYARD_CACHE_DIR=str(tmp_path / "cache-b")).stdout
    assert "1 refused" in stats and "0 from the remote cache" in stats


def test_an_unreachable_remote_cache_costs_one_warning(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "lock")
    built = _build(
        project,
        amd64_base,
        tmp_path / "out",
        tmp_path / "cache",
        SHIPYARD_REMOTE_CACHE=f"oci://127.0.0.1:{port}/{REPOSITORY}",
        SHIPYARD_REMOTE_CACHE_PUSH="1",
    )
    assert built.stderr.count("warning") == 1, built.stderr
    assert "is skipped for this command" in said(built)
    assert len(_manifest(tmp_path / "out")["layers"]) >= 3
