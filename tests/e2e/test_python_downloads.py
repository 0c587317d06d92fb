"""Managed interpreters, hermetically: an archive in python-build-standalone's
``install_only`` layout made here from this machine's pyenv 3.10, served by a mirror
on 127.0.0.1 and listed in a downloads table of our own. Install, list, use for a
project (downloaded on demand), refuse a tampered archive, uninstall."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_dry_run import _listing
from .test_local_index import new_project, shipyard

PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
RELEASE = "20990101"  # not a real release: the bundled table never names this file
_SKIP = {"test", "site-packages", "__pycache__", "idlelib", "tkinter", "turtledemo", "lib2to3"}


def _source() -> Path:
    found = sorted((PYENV / "versions").glob("3.10.*"))
    assert found, "this machine's pyenv 3.10"
    return found[-1]


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cpython-3.10.X+20990101-x86_64-unknown-linux-gnu-install_only.tar.gz``: the
    interpreter, its shared library and standard library under ``python/``."""
    source = _source()
    version = source.name
    out = tmp_path_factory.mktemp("pbs") / (
        f"cpython-{version}+{RELEASE}-x86_64-unknown-linux-gnu-install_only.tar.gz"
    )

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = info.name.split("/")
        if any(p in _SKIP or p.startswith("config-3.") for p in parts):
            return None
        return info

    with tarfile.open(out, "w:gz", compresslevel=1) as tar:
        tar.add(source / "bin" / "python3.10", "python/bin/python3.10")
        link = tarfile.TarInfo("python/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, "python3.10"
        tar.addfile(link)
        for lib in sorted((source / "lib").glob("libpython3*.so*")):
            tar.add(lib, f"python/lib/{lib.name}")
        tar.add(source / "lib" / "python3.10", "python/lib/python3.10", filter=keep)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Mirror:
    def __init__(self, root: Path) -> None:
        root_text = str(root)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=root_text, **kwargs)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def mirror(tmp_path: Path, archive: Path) -> Iterator[tuple[str, Path, Path]]:
    """A mirror serving ``/<release>/<archive>``, and a downloads table naming the
    archive at its GitHub URL with its sha256: ``(mirror URL, table, served file)``."""
    root = tmp_path / "mirror"
    (root / RELEASE).mkdir(parents=True)
    served = root / RELEASE / archive.name
    shutil.copyfile(archive, served)
    version = _source().name
    major, minor, micro = (int(p) for p in version.split("."))
    table = tmp_path / "versions.json"
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
                            f"releases/download/{RELEASE}/{archive.name.replace('+', '%2B')}",
                            "sha256": _sha256(archive),
                        }
                    ],
                }
            ]
        )
    )
    server = _Mirror(root)
    yield server.url, table, served
    server.server.shutdown()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A machine whose only other Python is Debian's (no pyenv, uv, conda)."""
    return {
        "SHIPYARD_PYTHON_INSTALL_DIR": str(tmp_path / "managed"),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "HOME": str(tmp_path / "home"),
        "PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}",
        **extra,
    }


def test_install_from_a_mirror_then_list_find_and_uninstall(
    tmp_path: Path, mirror: tuple[str, Path, Path]
) -> None:
    url, table, _served = mirror
    env = _env(tmp_path, SHIPYARD_PYTHON_DOWNLOADS_JSON=str(table))
    version = _source().name
    offered = json.loads(
        shipyard(tmp_path, "python", "list", "--only-downloads", "--json", **env).stdout
    )
    assert [row["version"] for row in offered] == [version]
    result = shipyard(tmp_path, "python", "install", "3.10", "--mirror", url, **env)
    assert f"Installed Python {version}" in result.stderr + result.stdout
    managed = tmp_path / "managed"
    assert [p.name for p in managed.iterdir() if not p.name.endswith(".lock")] == [
        f"cpython-{version}-linux-x86_64"
    ]
    rows = json.loads(shipyard(tmp_path, "python", "list", "--json", **env).stdout)
    mine = [row for row in rows if row["source"] == "shipyard"]
    assert len(mine) == 1 and mine[0]["version"] == version
    assert not any(row["source"] == "download" and row["version"] == version for row in rows)
    found = shipyard(tmp_path, "python", "find", "3.10", **env).stdout.strip()
    assert found.startswith(str(managed))
    again = shipyard(tmp_path, "python", "install", "3.10", "--mirror", url, **env)
    assert "Already installed" in again.stderr + again.stdout
    shipyard(tmp_path, "python", "uninstall", "3.10", **env)
    assert not [p for p in managed.iterdir() if not p.name.endswith(".lock")]
    gone = shipyard(tmp_path, "python", "uninstall", "3.10", check=False, **env)
    assert gone.returncode == 1 and "No shipyard-managed interpreter" in gone.stderr
    # without SPEC: the version .python-version asks for
    (tmp_path / ".python-version").write_text("3.10\n")
    shipyard(tmp_path, "python", "install", "--mirror", url, **env)
    assert (managed / f"cpython-{version}-linux-x86_64" / "bin" / "python3").exists()


def test_a_tampered_archive_is_refused_and_leaves_nothing(
    tmp_path: Path, mirror: tuple[str, Path, Path]
) -> None:
    url, table, served = mirror
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))
    env = _env(tmp_path, SHIPYARD_PYTHON_DOWNLOADS_JSON=str(table), SHIPYARD_PYTHON_MIRROR=url)
    result = shipyard(tmp_path, "python", "install", "3.10", check=False, **env)
    assert result.returncode == 1 and "sha256" in result.stderr
    assert "Traceback" not in result.stderr
    managed = tmp_path / "managed"
    assert not managed.exists() or not [
        p for p in managed.iterdir() if not p.name.endswith(".lock")
    ]
    # the same bytes given with --from under the published name are refused too
    tampered = tmp_path / served.name
    tampered.write_bytes(bytes(data))
    local = shipyard(tmp_path, "python", "install", "--from", str(tampered), check=False, **env)
    assert local.returncode == 1


def test_install_from_a_local_archive(tmp_path: Path, archive: Path) -> None:
    env = _env(tmp_path)
    shipyard(tmp_path, "python", "install", "--from", str(archive), **env)
    rows = json.loads(
        shipyard(tmp_path, "python", "list", "--only-installed", "--json", **env).stdout
    )
    assert any(row["source"] == "shipyard" and row["version"] == _source().name for row in rows)


def test_a_project_downloads_the_python_it_needs(
    tmp_path: Path,
    mirror: tuple[str, Path, Path],
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    url, table, _served = mirror
    index = make_index([])
    project = new_project(tmp_path, index, [])
    text = (project / "pyproject.toml").read_text().replace(">=3.11", ">=3.10")
    (project / "pyproject.toml").write_text(text)
    (project / ".python-version").write_text("3.10\n")
    env = _env(tmp_path, SHIPYARD_PYTHON_DOWNLOADS_JSON=str(table), SHIPYARD_PYTHON_MIRROR=url)
    refused = shipyard(project, "sync", "--no-python-downloads", check=False, **env)
    assert refused.returncode == 1 and "No interpreter found for Python 3.10" in refused.stderr
    managed = tmp_path / "managed"
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run", **env)
    assert f"Would download Python cpython-{_source().name}" in dry.stderr
    assert "Would create virtual environment" in dry.stderr
    assert _listing(project) == before  # no .venv
    assert not managed.exists() or not any(managed.iterdir())  # nothing downloaded
    synced = shipyard(project, "sync", **env)
    assert f"Installed Python {_source().name}" in synced.stderr
    run = shipyard(project, "run", "python", "-c", "import sys; print(sys.version)", **env)
    assert run.stdout.startswith(_source().name)


def test_an_unwritable_install_directory_is_a_clear_error(tmp_path: Path, archive: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be\n")
    env = _env(tmp_path, SHIPYARD_PYTHON_INSTALL_DIR=str(blocked / "python"))
    result = shipyard(tmp_path, "python", "install", "--from", str(archive), check=False, **env)
    assert result.returncode == 1 and "Cannot write to the managed-interpreters" in result.stderr
    assert "Traceback" not in result.stderr
