"""``shipyard image build``: real images, checked with independent tools.

A Debian bookworm base (debootstrap, amd64 and arm64) as an OCI layout; the image is
pushed to Debian's docker-registry on 127.0.0.1, pulled back with skopeo, unpacked
with umoci and run with chroot as the image's user. No Docker engine anywhere.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from e2e.test_local_index import new_project, shipyard
from support import IndexServer, pkg
from support.oci_tools import (
    Registry,
    read_blob,
    run_in_chroot,
    skopeo_copy,
    skopeo_inspect_raw,
    umoci_unpack,
)

pytestmark = pytest.mark.slow

X86 = "cp311-cp311-manylinux_2_17_x86_64"
ARM = "cp311-cp311-manylinux_2_17_aarch64"
PACKAGES = [
    pkg("greet", "1.0", files={"greet/__init__.py": "WORD = 'hello'\n"}),
    pkg("fastlib", "2.0", tags=(X86,), files={"fastlib/__init__.py": "ARCH = 'x86_64'\n"}),
    pkg("fastlib", "2.0", tags=(ARM,), files={"fastlib/__init__.py": "ARCH = 'aarch64'\n"}),
    pkg(
        "tool",
        "1.0",
        files={"tool/__init__.py": "def main():\n    print('tool ran')\n"},
        entry_points={"console_scripts": {"tool": "tool:main"}},
    ),
]
MAIN = (
    "import os, sys\nimport fastlib, greet\n"
    "print(greet.WORD, fastlib.ARCH, os.getuid(), os.getcwd(), sys.prefix, "
    "os.environ.get('GREETING'))\n"
)


def _app(tmp_path: Path, index: IndexServer) -> Path:
    project = new_project(
        tmp_path,
        index,
        ["greet", "fastlib", "tool"],
        name="hello-app",
        extra='\n[tool.shipyard.docker]\nport = 8080\nenv = {GREETING = "hi there"}\n'
        '\n[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n',
    )
    package = project / "src" / "hello_app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(MAIN)
    return project


def said(result: Any) -> str:
    """A command's stderr with the line wrapping undone."""
    return " ".join(result.stderr.split())


def _layout_json(layout: Path, digest: str) -> Any:
    return json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def _layer_files(layout: Path, digest: str) -> dict[str, tarfile.TarInfo]:
    data = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
        return {member.name: member for member in archive}


def _layer_text(layout: Path, digest: str, name: str) -> str:
    data = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read().decode()


def test_multi_platform_image_is_pushed_pulled_and_runs(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    multiarch_base: tuple[Path, str],
    registry: Registry,
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "lock")
    base_layout, base_tag = multiarch_base
    target = f"{registry.host}/team/hello-app:1.0"
    built = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--platform",
        "linux/amd64,linux/arm64",
        "--push",
        target,
        "--output",
        f"oci:{tmp_path / 'out'}:1.0",
    )
    assert "linux/amd64: Python 3.11" in built.stderr and "linux/arm64" in built.stderr
    assert f"Pushed {target}" in built.stderr

    # an independent client sees an index with both platforms
    index_json = skopeo_inspect_raw(registry.ref("team/hello-app:1.0"))
    platforms = {
        (m["platform"]["os"], m["platform"]["architecture"]) for m in index_json["manifests"]
    }
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}

    # each platform got its own wheel of fastlib, in its own dependency layer
    out = tmp_path / "out"
    top = json.loads((out / "index.json").read_text())["manifests"][0]
    assert top["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    image_index = _layout_json(out, top["digest"])
    dependency_layers = {}
    for entry in image_index["manifests"]:
        manifest = _layout_json(out, entry["digest"])
        config = _layout_json(out, manifest["config"]["digest"])
        assert config["architecture"] == entry["platform"]["architecture"]
        assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])
        dependency = manifest["layers"][-2]["digest"]
        dependency_layers[entry["platform"]["architecture"]] = dependency
        wheel = _layer_text(
            out, dependency, "app/.venv/lib/python3.11/site-packages/fastlib-2.0.dist-info/WHEEL"
        )
        assert (ARM if config["architecture"] == "arm64" else X86) in wheel
    assert dependency_layers["amd64"] != dependency_layers["arm64"]

    # pulled back with skopeo, unpacked with umoci, run with chroot as the image's user
    pulled = tmp_path / "pulled"
    skopeo_copy(registry.ref("team/hello-app:1.0"), f"oci:{pulled}:1.0")
    rootfs = umoci_unpack(pulled, "1.0", tmp_path / "bundle")
    config = json.loads(read_blob(pulled, skopeo_inspect_raw(f"oci:{pulled}:1.0")["config"]))
    settings = config["config"]
    assert settings["User"] == "10001:10001" and settings["WorkingDir"] == "/app"
    assert settings["Cmd"] == ["python", "-m", "hello_app"]
    assert "8080/tcp" in settings["ExposedPorts"]
    env = dict(item.split("=", 1) for item in settings["Env"])
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    lock_sha = __import__("hashlib").sha256((project / "pylock.toml").read_bytes()).hexdigest()
    assert settings["Labels"]["dev.shipyard.lock.sha256"] == lock_sha
    ran = run_in_chroot(
        rootfs,
        [*settings["Cmd"]],
        env=env,
        timeout=60,
        cwd=settings["WorkingDir"],
        user=settings["User"],
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [
        "hello",
        "x86_64",
        "10001",
        "/app",
        "/app/.venv",
        "hi",
        "there",
    ]
    tool = run_in_chroot(rootfs, ["tool"], env=env, timeout=60, user=settings["User"])
    assert tool.stdout == "tool ran\n", tool.stderr
    # the app user cannot change the environment
    denied = run_in_chroot(
        rootfs,
        ["python", "-c", "open('/app/.venv/pyvenv.cfg', 'a')"],
        env=env,
        timeout=60,
        user=settings["User"],
    )
    assert denied.returncode != 0 and "Permission denied" in denied.stderr

    # the same lock builds the same layers, manifests and index again
    again = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--platform",
        "linux/amd64,linux/arm64",
        "--output",
        f"oci:{tmp_path / 'again'}:1.0",
    )
    second_top = json.loads((tmp_path / "again" / "index.json").read_text())["manifests"][0]
    assert second_top["digest"] == top["digest"], again.stderr

    # a code change rebuilds only the project layer
    (project / "src" / "hello_app" / "__main__.py").write_text(MAIN + "print('changed')\n")
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--platform",
        "linux/amd64",
        "--output",
        f"oci:{tmp_path / 'changed'}:1.0",
    )
    changed_top = json.loads((tmp_path / "changed" / "index.json").read_text())["manifests"][0]
    changed = _layout_json(tmp_path / "changed", changed_top["digest"])
    assert changed["layers"][-2]["digest"] == dependency_layers["amd64"]
    first_amd64 = next(
        _layout_json(out, e["digest"])
        for e in image_index["manifests"]
        if e["platform"]["architecture"] == "amd64"
    )
    assert changed["layers"][-1]["digest"] != first_amd64["layers"][-1]["digest"]


def test_layers_are_reproducible_tars(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    base_layout, base_tag = amd64_base
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--output",
        f"oci:{tmp_path / 'out'}",
        "--tag",
        "hello:2",
    )
    out = tmp_path / "out"
    top = json.loads((out / "index.json").read_text())["manifests"][0]
    assert top["annotations"]["org.opencontainers.image.ref.name"] == "2"
    manifest = _layout_json(out, top["digest"])
    for descriptor in manifest["layers"][-2:]:
        members = _layer_files(out, descriptor["digest"])
        names = list(members)
        assert names == sorted(names, key=lambda n: n.encode()) or all(
            # parents come before their children, siblings in byte order
            not b.startswith(a + "/") or names.index(a) < names.index(b)
            for a in names
            for b in names
        )
        for member in members.values():
            assert member.mtime == 0 and member.uid == 0 and member.gid == 0
            assert member.uname == "" and member.gname == ""
            assert not member.islnk(), "no hard links"
            if member.isfile():
                assert member.mode in (0o644, 0o755)
        raw = (out / "blobs" / "sha256" / descriptor["digest"].split(":")[1]).read_bytes()
        assert raw[4:8] == b"\0\0\0\0", "gzip header without a timestamp"
    scripts = _layer_files(out, manifest["layers"][-2]["digest"])
    assert scripts["app/.venv/bin/tool"].mode == 0o755
    assert scripts["app/.venv/bin/python"].linkname == "/usr/bin/python3.11"
    launcher = _layer_text(out, manifest["layers"][-2]["digest"], "app/.venv/bin/tool")
    assert launcher.startswith("#!/app/.venv/bin/python\n")


def test_docker_archive_output_and_clear_errors(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
    multiarch_base: tuple[Path, str],
) -> None:
    index = make_index(
        [*PACKAGES, pkg("srconly", "1.0", sdist=True, wheel=False)],
    )
    project = _app(tmp_path, index)
    base_layout, base_tag = amd64_base
    archive = tmp_path / "hello.tar"
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--output",
        f"docker-archive:{archive}",
        "--tag",
        "hello:3",
    )
    # skopeo reads what `docker load` would
    loaded = tmp_path / "loaded"
    skopeo_copy(f"docker-archive:{archive}", f"oci:{loaded}:3")
    rootfs = umoci_unpack(loaded, "3", tmp_path / "bundle")
    assert (rootfs / "app/.venv/lib/python3.11/site-packages/greet/__init__.py").is_file()
    with tarfile.open(archive) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["hello:3"]
    # and a docker-archive serves as a base: its layers stay, two new ones go on top
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"docker-archive:{archive}",
        "--output",
        f"oci:{tmp_path / 'on-archive'}:4",
    )
    stacked = skopeo_inspect_raw(f"oci:{tmp_path / 'on-archive'}:4")
    assert len(stacked["layers"]) == len(manifest[0]["Layers"]) + 2

    multi_layout, multi_tag = multiarch_base
    several = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{multi_layout}:{multi_tag}",
        "--platform",
        "linux/amd64,linux/arm64",
        "--output",
        f"docker-archive:{tmp_path / 'x.tar'}",
        check=False,
    )
    assert several.returncode == 2 and "one platform" in said(several)
    assert "Traceback" not in said(several)

    bad_push = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--push",
        "Bad Name:x",
        "--output",
        f"oci:{tmp_path / 'never'}",
        check=False,
    )
    assert bad_push.returncode == 1 and "is not an image reference" in said(bad_push)
    assert not (tmp_path / "never").exists(), "refused before anything was built"
    offline = shipyard(
        project, "image", "build", "--offline", "--base", "python:3.11-slim", check=False
    )
    assert offline.returncode == 1 and "--offline forbids pulling" in said(offline)

    (tmp_path / "broken.tar").write_bytes(b"garbage")
    broken = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"docker-archive:{tmp_path / 'broken.tar'}",
        check=False,
    )
    assert broken.returncode == 1 and "docker-archive tarball: not a tar file" in said(broken)
    assert "ReadError" not in said(broken)

    missing = shipyard(project, "image", "build", "--base", f"oci:{base_layout}:nope", check=False)
    assert missing.returncode == 1 and "no image tagged 'nope'" in said(missing)
    assert "bookworm" in said(missing), "it lists the tags there are"

    wrong = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--platform",
        "linux/arm64",
        check=False,
    )
    assert wrong.returncode == 1 and "is linux/amd64, not linux/arm64" in said(wrong)

    # an sdist-only dependency cannot be built for another platform
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('"tool"]', '"tool", "srconly"]'))
    foreign = shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{multi_layout}:{multi_tag}",
        "--platform",
        "linux/arm64",
        check=False,
    )
    assert foreign.returncode == 1, foreign.stderr
    assert "srconly 1.0 has no wheel for linux/arm64" in said(foreign)
    assert "Traceback" not in said(foreign)


def debian_without_python(layout: Path) -> None:
    """An OCI layout (tag ``bookworm``) of the Debian test rootfs with its python3
    removed: glibc and the libraries, no interpreter."""
    import shutil

    from support.oci_tools import debian_rootfs, make_base_image

    tree = layout.with_name(layout.name + "-tree")
    tree.mkdir(parents=True)
    with tarfile.open(debian_rootfs("amd64")) as rootfs:
        rootfs.extractall(tree, filter="fully_trusted")
    for path in [*tree.glob("usr/bin/python3*"), *tree.glob("usr/lib/python3*")]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    make_base_image(tree, layout, "bookworm", arch="amd64")
    shutil.rmtree(tree)


def _python_archive(rootfs_tar: Path, out: Path) -> tuple[Path, str]:
    """A python-build-standalone style ``install_only`` archive of the Debian rootfs's
    own CPython (statically linked, so it runs from any prefix): ``(archive, version)``."""
    import re

    with tarfile.open(rootfs_tar) as rootfs:
        binary = rootfs.extractfile("./usr/bin/python3.11") or rootfs.extractfile(
            "usr/bin/python3.11"
        )
        assert binary is not None
        data = binary.read()
        found = re.search(rb"(?<![\d.])3\.11\.(\d+)(?![\d.])", data)
        assert found is not None
        version = f"3.11.{int(found.group(1))}"
        archive = out / f"cpython-{version}+20990101-x86_64-unknown-linux-gnu-install_only.tar.gz"
        with tarfile.open(archive, "w:gz", compresslevel=1) as packed:
            info = tarfile.TarInfo("python/bin/python3.11")
            info.size, info.mode = len(data), 0o755
            packed.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("python/bin/python3")
            link.type, link.linkname = tarfile.SYMTYPE, "python3.11"
            packed.addfile(link)
            for member in rootfs:
                name = member.name.removeprefix("./")
                if not name.startswith("usr/lib/python3.11/"):
                    continue
                parts = name.split("/")
                if {"test", "dist-packages", "site-packages", "__pycache__"} & set(parts):
                    continue
                if member.issym() and member.linkname.startswith("/"):
                    continue  # Debian's sitecustomize.py -> /etc/python3.11/...
                member.name = "python/lib/" + name[len("usr/lib/") :]
                handle = rootfs.extractfile(member) if member.isfile() else None
                packed.addfile(member, handle)
    return archive, version


def test_a_base_without_python_gets_an_interpreter_layer(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    debian_tools: dict[str, Path],
) -> None:
    """No Python in the base: a python-build-standalone build (here: a stand-in made
    from Debian's CPython, served by a mirror on 127.0.0.1) becomes its own layer."""
    import hashlib

    from e2e.test_python_downloads import _Mirror
    from support.oci_tools import debian_rootfs, make_base_image

    index = make_index(PACKAGES)
    project = _app(tmp_path, index)

    # a base without any libc is refused outright
    bare = tmp_path / "bare"
    (bare / "etc").mkdir(parents=True)
    (bare / "etc" / "os-release").write_text("ID=empty\n")
    make_base_image(bare, tmp_path / "bare-base", "empty", arch="amd64")
    refused = shipyard(
        project, "image", "build", "--base", f"oci:{tmp_path / 'bare-base'}:empty", check=False
    )
    assert refused.returncode == 1
    assert "has no Python and no glibc" in said(refused) and "Traceback" not in said(refused)

    # Debian without its python3: glibc, no interpreter
    rootfs_tar = debian_rootfs("amd64")
    debian_without_python(tmp_path / "no-python-base")

    mirror_root = tmp_path / "mirror" / "20990101"
    mirror_root.mkdir(parents=True)
    archive, version = _python_archive(rootfs_tar, mirror_root)
    table = tmp_path / "versions.json"
    major, minor, micro = (int(part) for part in version.split("."))
    table.write_text(
        json.dumps(
            [
                {
                    "python_version": {
                        "implementation": "cpython",
                        "major": major,
                        "minor": minor,
                        "micro": micro,
                        "freethreaded": False,
                    },
                    "files": [
                        {
                            "platform": "linux",
                            "arch": "x86_64",
                            "install_only": True,
                            "filename": archive.name,
                            "url": "https://github.com/astral-sh/python-build-standalone/"
                            f"releases/download/20990101/{archive.name.replace('+', '%2B')}",
                            "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                        }
                    ],
                }
            ]
        )
    )
    mirror = _Mirror(tmp_path / "mirror")
    try:
        env = {
            "SHIPYARD_PYTHON_DOWNLOADS_JSON": str(table),
            "SHIPYARD_PYTHON_MIRROR": mirror.url,
        }
        built = shipyard(
            project,
            "image",
            "build",
            "--base",
            f"oci:{tmp_path / 'no-python-base'}:bookworm",
            "--output",
            f"oci:{tmp_path / 'out'}:1",
            **env,
        )
        assert f"Python {version} added" in said(built)
        again = shipyard(
            project,
            "image",
            "build",
            "--base",
            f"oci:{tmp_path / 'no-python-base'}:bookworm",
            "--output",
            f"oci:{tmp_path / 'again'}:1",
            **env,
        )
    finally:
        mirror.server.shutdown()
    first = skopeo_inspect_raw(f"oci:{tmp_path / 'out'}:1")
    second = skopeo_inspect_raw(f"oci:{tmp_path / 'again'}:1")
    assert [layer["digest"] for layer in first["layers"]] == [
        layer["digest"] for layer in second["layers"]
    ], again.stderr
    interpreter = _layer_files(tmp_path / "out", first["layers"][-3]["digest"])
    key = f"cpython-{version}-linux-x86_64"
    assert f"opt/python/{key}/bin/python3.11" in interpreter

    rootfs = umoci_unpack(tmp_path / "out", "1", tmp_path / "bundle")
    config = json.loads(
        read_blob(tmp_path / "out", skopeo_inspect_raw(f"oci:{tmp_path / 'out'}:1")["config"])
    )["config"]
    assert (
        (rootfs / "app/.venv/pyvenv.cfg").read_text().startswith(f"home = /opt/python/{key}/bin\n")
    )
    ran = run_in_chroot(
        rootfs,
        config["Cmd"],
        env=dict(item.split("=", 1) for item in config["Env"]),
        timeout=60,
        cwd="/app",
        user=config["User"],
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[:3] == ["hello", "x86_64", "10001"]


def test_a_registry_that_needs_credentials(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
    auth_registry: Registry,
) -> None:
    """HTTPS with basic auth: refused without credentials, pushed with Docker's
    config.json, pulled as a base with SHIPYARD_REGISTRY_*; the password never shows."""
    import base64

    from image.conftest import REGISTRY_AUTH

    user, password = REGISTRY_AUTH
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    base_layout, base_tag = amd64_base
    target = f"{auth_registry.host}/private/hello:1"
    trust = {"REQUESTS_CA_BUNDLE": str(auth_registry.certificate)}
    build = ["image", "build", "--base", f"oci:{base_layout}:{base_tag}", "--push", target]

    anonymous = shipyard(project, *build, check=False, **trust)
    assert anonymous.returncode == 1, anonymous.stderr
    assert "answered 401" in said(anonymous) and "docker login" in said(anonymous)

    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": token}}})
    )
    pushed = shipyard(project, *build, DOCKER_CONFIG=str(docker_config), **trust)
    assert f"Pushed {target}" in said(pushed)
    manifest = skopeo_inspect_raw(auth_registry.ref("private/hello:1"), creds=auth_registry.creds)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"

    rebuilt = shipyard(
        project,
        "image",
        "build",
        "--base",
        target,
        "--output",
        f"oci:{tmp_path / 'from-private'}",
        SHIPYARD_REGISTRY_USERNAME=user,
        SHIPYARD_REGISTRY_PASSWORD=password,
        **trust,
    )
    for result in (anonymous, pushed, rebuilt):
        assert password not in result.stdout + result.stderr
    layout = tmp_path / "from-private"
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    rebuilt_manifest = _layout_json(layout, top["digest"])
    assert rebuilt_manifest["annotations"]["org.opencontainers.image.base.name"] == target
    assert len(rebuilt_manifest["layers"]) == len(manifest["layers"]) + 2


def test_git_and_path_sources_go_into_the_image(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
) -> None:
    from support.git_server import make_repository

    backend = (
        '[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n\n'
    )
    bare, _clone = make_repository(
        tmp_path / "git" / "served",
        "gitpkg",
        {
            "pyproject.toml": backend + '[project]\nname = "gitpkg"\nversion = "1.5"\n',
            "gitpkg/__init__.py": "FROM = 'git'\n",
        },
    )
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace('"greet", "fastlib", "tool"', '"greet", "fastlib", "tool", "gitpkg", "core"')
    )
    text += (
        "\n[tool.shipyard.sources]\n"
        f'gitpkg = {{ git = "{bare.as_uri()}", branch = "main" }}\n'
        'core = { path = "libs/core" }\n'
    )
    (project / "pyproject.toml").write_text(text)
    (project / "libs" / "core" / "core").mkdir(parents=True)
    (project / "libs" / "core" / "core" / "__init__.py").write_text("FROM = 'path'\n")
    (project / "libs" / "core" / "pyproject.toml").write_text(
        backend + '[project]\nname = "core"\nversion = "0.2"\n'
    )
    base_layout, base_tag = amd64_base
    out = tmp_path / "out"
    shipyard(
        project,
        "image",
        "build",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--output",
        f"oci:{out}",
    )
    top = json.loads((out / "index.json").read_text())["manifests"][0]
    manifest = _layout_json(out, top["digest"])
    site = "app/.venv/lib/python3.11/site-packages"
    dependencies = _layer_files(out, manifest["layers"][-2]["digest"])
    project_layer = _layer_files(out, manifest["layers"][-1]["digest"])
    assert _layer_text(out, manifest["layers"][-2]["digest"], f"{site}/gitpkg/__init__.py") == (
        "FROM = 'git'\n"
    )
    assert f"{site}/gitpkg-1.5.dist-info/RECORD" in dependencies
    # The path source is built as an ordinary wheel into the project layer, with no
    # direct_url.json pointing at this machine's directories.
    assert f"{site}/core/__init__.py" in project_layer
    assert not [name for name in project_layer if name.endswith("direct_url.json")]
