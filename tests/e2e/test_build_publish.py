"""`shipyard build` and `shipyard publish` against a real upload-capable index:
pypiserver, started here on 127.0.0.1 with basic authentication for uploads, and pip
installing what was published from it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.metadata import Metadata

from e2e.test_local_index import shipyard
from support import BACKEND_SRC_DIR, IndexServer, build_wheel
from support.venvs import venv_with_runner_pip

USER, PASSWORD = "alice", "s3cret-Pa55"
TOKEN = "pypi-test-token-0123456789"
BACKEND = (
    '[build-system]\nrequires = ["shipyard-test-backend"]\n'
    'build-backend = "shipyard_test_backend"\n\n'
)


@dataclass
class PyPIServer:
    """A running pypiserver: uploads to :attr:`upload_url` need basic authentication;
    :attr:`packages` is the folder it stores them in."""

    process: subprocess.Popen[bytes]
    port: int
    packages: Path
    log: Path

    @property
    def upload_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def simple_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def stored(self) -> list[str]:
        return sorted(p.name for p in self.packages.iterdir())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_pypiserver(root: Path) -> PyPIServer:
    import warnings

    with warnings.catch_warnings():  # passlib imports the deprecated crypt module
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile

    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(USER, PASSWORD)
    htpasswd.set_password("__token__", TOKEN)
    htpasswd.save()
    packages = root / "packages"
    packages.mkdir()
    log = root / "pypiserver.log"
    for _attempt in range(3):  # another process may take the free port first
        port = _free_port()
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pypiserver",
                    "run",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--passwords",
                    str(root / "htpasswd"),
                    "--authenticate",
                    "update",
                    "--disable-fallback",
                    str(packages),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    return PyPIServer(process, port, packages, log)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)  # polling for readiness, not waiting a fixed time
        process.kill()
        process.wait()
    raise RuntimeError(f"pypiserver did not start:\n{log.read_text()}")


@pytest.fixture
def pypiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyPIServer]:
    server = _start_pypiserver(tmp_path_factory.mktemp("pypiserver"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory: no ~/.pypirc or ~/.netrc of the machine's user."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def publish_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        **extra,
    }


def new_package(parent: Path, index: IndexServer, name: str = "demo-pkg") -> Path:
    """A project with a [build-system] on the test backend (served by ``index``)."""
    project = parent / name
    module = name.replace("-", "_")
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text("GREETING = 'hello from the index'\n")
    (project / "pyproject.toml").write_text(
        BACKEND + f'[project]\nname = "{name}"\nversion = "0.3.0"\n'
        'description = "A package to publish"\nrequires-python = ">=3.11"\n\n'
        f'[tool.shipyard]\nindex-url = "{index.index_url}"\n'
    )
    return project


def said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_build_writes_an_sdist_and_a_wheel_into_dist(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_package(tmp_path, make_index())
    result = shipyard(project, "build")
    assert "Built dist/demo_pkg-0.3.0.tar.gz" in result.stderr
    assert "Built dist/demo_pkg-0.3.0-py3-none-any.whl" in result.stderr
    dist = project / "dist"
    assert sorted(p.name for p in dist.iterdir()) == [
        "demo_pkg-0.3.0-py3-none-any.whl",
        "demo_pkg-0.3.0.tar.gz",
    ]
    with tarfile.open(dist / "demo_pkg-0.3.0.tar.gz") as sdist:
        names = sdist.getnames()
        assert "demo_pkg-0.3.0/pyproject.toml" in names
        assert "demo_pkg-0.3.0/demo_pkg/__init__.py" in names
        pkg_info = sdist.extractfile("demo_pkg-0.3.0/PKG-INFO")
        assert pkg_info is not None
        metadata = Metadata.from_email(pkg_info.read(), validate=True)
    assert (metadata.name, str(metadata.version)) == ("demo-pkg", "0.3.0")
    with zipfile.ZipFile(dist / "demo_pkg-0.3.0-py3-none-any.whl") as wheel:
        assert "demo_pkg/__init__.py" in wheel.namelist()
        assert "demo_pkg-0.3.0.dist-info/RECORD" in wheel.namelist()
        metadata = Metadata.from_email(
            wheel.read("demo_pkg-0.3.0.dist-info/METADATA"), validate=True
        )
    assert metadata.summary == "A package to publish"
    # Only what was asked for, and where it was asked for.
    out = tmp_path / "out"
    result = shipyard(project, "build", "--wheel", "-o", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["demo_pkg-0.3.0-py3-none-any.whl"]


def test_the_default_build_makes_the_wheel_from_the_sdist(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project = new_package(tmp_path, make_index())
    broken_sdist = {"SHIPYARD_TEST_BACKEND_FAIL": "build_sdist"}
    result = shipyard(project, "build", check=False, **broken_sdist)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (project / "dist").exists() or not list((project / "dist").iterdir())
    shipyard(project, "build", "--wheel", **broken_sdist)  # straight from the tree
    assert [p.name for p in (project / "dist").iterdir()] == ["demo_pkg-0.3.0-py3-none-any.whl"]


def test_a_workspace_member_is_built_by_name_or_from_its_directory(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index()
    root = tmp_path / "monorepo"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "monorepo"\nversion = "0.1"\n\n'
        f'[tool.shipyard]\nindex-url = "{index.index_url}"\n\n'
        '[tool.shipyard.workspace]\nmembers = ["packages/*"]\n'
    )
    for name in ("core", "app"):
        new_package(root / "packages", index, name)
    result = shipyard(root, "build", "--package", "core")
    assert "Built packages/core/dist/core-0.3.0.tar.gz" in result.stderr
    assert not (root / "packages" / "app" / "dist").exists()
    result = shipyard(root / "packages" / "app", "build", "--wheel")
    assert "Built dist/app-0.3.0-py3-none-any.whl" in result.stderr
    unknown = shipyard(root, "build", "--package", "nope", check=False)
    assert unknown.returncode == 2 and "Use one of: app, core, monorepo" in said(unknown)


def test_a_project_without_a_build_system_is_told_how_to_add_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.0"\n')
    result = shipyard(tmp_path, "build", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no build system" in said(result) and "[build-system]" in said(result)
    assert not (tmp_path / "dist").exists()


def test_build_publish_and_pip_install(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    pypiserver: PyPIServer,
    home: Path,
) -> None:
    project = new_package(tmp_path, make_index())
    shipyard(project, "build")
    env = publish_env(home)
    credentials = ["--username", USER, "--password", PASSWORD]
    result = shipyard(
        project, "publish", "--publish-url", pypiserver.upload_url, *credentials, **env
    )
    assert "Uploaded demo_pkg-0.3.0.tar.gz" in result.stderr
    assert "Uploaded demo_pkg-0.3.0-py3-none-any.whl" in result.stderr
    assert f"as {USER} (from --username)" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert pypiserver.stored() == ["demo_pkg-0.3.0-py3-none-any.whl", "demo_pkg-0.3.0.tar.gz"]
    for name in pypiserver.stored():  # stored byte for byte
        assert (pypiserver.packages / name).read_bytes() == (project / "dist" / name).read_bytes()

    venv = venv_with_runner_pip(tmp_path / "consumer")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    environ["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--index-url",
            pypiserver.simple_url,
            "demo-pkg",
        ],
        check=True,
        env=environ,
        capture_output=True,
    )
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import demo_pkg; print(demo_pkg.GREETING)"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == "hello from the index"

    # Publishing again skips what the index has: from the upload's answer...
    again = shipyard(
        project, "publish", "--publish-url", pypiserver.upload_url, *credentials, **env
    )
    assert "Skipped demo_pkg-0.3.0.tar.gz (already on the index)" in again.stderr
    assert "Skipped demo_pkg-0.3.0-py3-none-any.whl (already on the index)" in again.stderr
    # ... and, with a check URL, before uploading anything.
    check = ["--check-url", pypiserver.simple_url]
    dry = shipyard(
        project, "publish", "--publish-url", pypiserver.upload_url, *check, "--dry-run", **env
    )
    assert "Would skip demo_pkg-0.3.0.tar.gz (already on the index)" in dry.stderr
    checked = shipyard(
        project, "publish", "--publish-url", pypiserver.upload_url, *check, *credentials, **env
    )
    assert checked.stderr.count("(already on the index)") == 2


def test_a_wrong_password_is_refused_clearly(
    tmp_path: Path, pypiserver: PyPIServer, home: Path
) -> None:
    (tmp_path / "dist").mkdir()
    build_wheel(tmp_path / "dist", "tokpkg", "1.0")
    result = shipyard(
        tmp_path,
        "publish",
        "--publish-url",
        pypiserver.upload_url,
        "--username",
        USER,
        "--password",
        "not-the-password",
        check=False,
        **publish_env(home),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    text = said(result)
    assert f"The index refused the credentials for user '{USER}' from --username" in text
    assert "not-the-password" not in text
    assert pypiserver.stored() == []


def test_credentials_from_a_token_a_pypirc_and_the_keyring(
    tmp_path: Path, pypiserver: PyPIServer, home: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    url = ["--publish-url", pypiserver.upload_url]

    build_wheel(dist, "tokpkg", "1.0")
    result = shipyard(tmp_path, "publish", *url, **publish_env(home, SHIPYARD_PUBLISH_TOKEN=TOKEN))
    assert "as __token__ (from SHIPYARD_PUBLISH_TOKEN)" in result.stderr
    assert "Uploaded tokpkg-1.0-py3-none-any.whl" in result.stderr
    assert TOKEN not in result.stdout + result.stderr

    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    local\n\n"
        f"[local]\nrepository = {pypiserver.upload_url}\nusername = {USER}\n"
        f"password = {PASSWORD}\n"
    )
    build_wheel(dist, "tokpkg", "2.0")
    result = shipyard(tmp_path, "publish", "-r", "local", "dist/*2.0*", **publish_env(home))
    assert f"as {USER} (from ~/.pypirc [local])" in result.stderr
    assert "Uploaded tokpkg-2.0-py3-none-any.whl" in result.stderr
    build_wheel(dist, "tokpkg", "3.0")  # the section whose repository is the URL
    result = shipyard(tmp_path, "publish", *url, "dist/*3.0*", **publish_env(home))
    assert f"as {USER} (from ~/.pypirc [local])" in result.stderr
    assert "Uploaded tokpkg-3.0-py3-none-any.whl" in result.stderr
    build_wheel(dist, "tokpkg", "3.1")  # --index NAME is --repository NAME here
    result = shipyard(tmp_path, "publish", "--index", "local", "dist/*3.1*", **publish_env(home))
    assert "Uploaded tokpkg-3.1-py3-none-any.whl" in result.stderr
    unknown = shipyard(tmp_path, "publish", "-r", "nope", check=False, **publish_env(home))
    assert unknown.returncode == 1
    assert "~/.pypirc has no repository named 'nope' (it has: local)" in said(unknown)
    (home / ".pypirc").unlink()

    keyring_file = tmp_path / "keyring.json"
    keyring_file.write_text(json.dumps({pypiserver.upload_url: [USER, PASSWORD]}))
    build_wheel(dist, "tokpkg", "4.0")
    keyring_env = publish_env(
        home,
        PYTHON_KEYRING_BACKEND="keyring_backend.FileKeyring",
        PYTHONPATH=str(BACKEND_SRC_DIR.parent),
        SHIPYARD_TEST_KEYRING=str(keyring_file),
    )
    result = shipyard(tmp_path, "publish", *url, "dist/*4.0*", **keyring_env)
    assert f"as {USER} (from the keyring" in result.stderr
    assert "Uploaded tokpkg-4.0-py3-none-any.whl" in result.stderr
    assert pypiserver.stored() == [
        f"tokpkg-{v}-py3-none-any.whl" for v in ("1.0", "2.0", "3.0", "3.1", "4.0")
    ]

    build_wheel(dist, "tokpkg", "5.0")
    result = shipyard(tmp_path, "publish", *url, "dist/*5.0*", check=False, **publish_env(home))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    text = said(result)
    assert "No credentials for uploading" in text
    for way in ("--token", "SHIPYARD_PUBLISH_TOKEN", "--username", "~/.pypirc", "keyring"):
        assert way in text


def test_a_file_with_broken_metadata_is_refused_before_any_upload(
    tmp_path: Path, pypiserver: PyPIServer, home: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (tmp_path / "other").mkdir()
    build_wheel(dist, "goodpkg", "1.0")
    build_wheel(dist, "badpkg", "1.0", metadata_extra="Description-Content-Type: text/html\n")
    (dist / "notes.txt").write_text("not a distribution")
    mismatched = build_wheel(tmp_path / "other", "realname", "1.0")
    (dist / "fakename-1.0-py3-none-any.whl").write_bytes(mismatched.read_bytes())
    result = shipyard(
        tmp_path,
        "publish",
        "--publish-url",
        pypiserver.upload_url,
        "--username",
        USER,
        "--password",
        PASSWORD,
        check=False,
        **publish_env(home),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    text = said(result)
    assert "Nothing was uploaded" in text
    assert "badpkg-1.0-py3-none-any.whl: its metadata is invalid" in text
    assert "text/html" in text
    assert "notes.txt: neither a wheel (.whl) nor an sdist" in text
    assert "fakename-1.0-py3-none-any.whl: its metadata names the project 'realname'" in text
    assert "goodpkg" not in text
    assert pypiserver.stored() == []


def test_a_different_file_under_a_published_name_is_refused_with_a_check_url(
    tmp_path: Path, pypiserver: PyPIServer, home: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    build_wheel(dist, "samename", "1.0")
    upload = ["--publish-url", pypiserver.upload_url, "--username", USER, "--password", PASSWORD]
    shipyard(tmp_path, "publish", *upload, **publish_env(home))
    published = (pypiserver.packages / "samename-1.0-py3-none-any.whl").read_bytes()
    build_wheel(dist, "samename", "1.0", files={"samename/__init__.py": "CHANGED = True\n"})
    result = shipyard(
        tmp_path,
        "publish",
        *upload,
        "--check-url",
        pypiserver.simple_url,
        check=False,
        **publish_env(home),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "already has a different file named samename-1.0-py3-none-any.whl" in said(result)
    assert "raise the version" in said(result)
    assert (pypiserver.packages / "samename-1.0-py3-none-any.whl").read_bytes() == published
