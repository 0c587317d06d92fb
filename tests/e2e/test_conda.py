"""A project with conda and PyPI dependencies: one lock, one prefix, nothing twice.

The conda channel is built here: a real CPython 3.12 (from pyenv) as the conda
``python`` package, a C shared library compiled with gcc, a ``noarch: python``
package that carries its own ``.dist-info`` (as conda-forge's do), and tiny
stand-ins for osx-arm64 so the lock covers a second platform.
"""

from __future__ import annotations

import glob
import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from support import IndexServer, pkg
from support.conda_channel import (
    PLACEHOLDER,
    CondaPackage,
    build_channel,
    conda_python_package,
)

from .test_local_index import shipyard

pytestmark = pytest.mark.slow

LIBFOO_C = b"int foo_answer(void) { return 42; }\n"
BINDINGS = (
    "import ctypes, os, sys\n"
    "_lib = ctypes.CDLL(os.path.join(sys.prefix, 'lib', 'libfoo.so'))\n"
    "def answer():\n    return _lib.foo_answer()\n"
)
TINYNUM_DIST_INFO = {
    "site-packages/tinynum/__init__.py": b"__version__ = '1.5'\n",
    "site-packages/tinynum-1.5.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: tinynum\nVersion: 1.5\n"
    ),
    "site-packages/tinynum-1.5.dist-info/INSTALLER": b"conda\n",
    "site-packages/tinynum-1.5.dist-info/RECORD": b"",
}


def _pyenv_python(minor: str) -> Path:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*")))
    if not found:
        pytest.fail(f"this test needs a CPython {minor} under ~/.pyenv/versions")
    return Path(found[-1])


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A channel with python 3.12 (linux-64 real, osx-arm64 stand-in), libfoo and tinynum."""
    work = tmp_path_factory.mktemp("conda-build")
    source = work / "foo.c"
    source.write_bytes(LIBFOO_C)
    library = work / "libfoo.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    install = _pyenv_python("3.12")
    version = install.name
    older = _pyenv_python("3.11")
    packages = [
        conda_python_package(install, version),
        conda_python_package(older, older.name),
        CondaPackage(
            "python",
            version,
            "h0_0_cpython",
            subdir="osx-arm64",
            depends=["__osx >=11.0"],
            files={"bin/python3.12": b"#!/bin/sh\n"},
            fmt="conda",
        ),
        CondaPackage(
            "libfoo",
            "1.0",
            "h0_0",
            subdir="linux-64",
            depends=["__glibc >=2.17"],
            files={"lib/libfoo.so": library.read_bytes()},
            prefix_files={"etc/libfoo.conf": f"prefix={PLACEHOLDER}\n".encode()},
        ),
        CondaPackage(
            "libfoo",
            "1.0",
            "h1_0",
            subdir="osx-arm64",
            depends=["__osx >=11.0"],
            files={"lib/libfoo.dylib": b"not really"},
            fmt="conda",
        ),
        CondaPackage(
            "tinynum",
            "1.5",
            "pyh0_0",
            noarch="python",
            depends=["python >=3.8"],
            files=TINYNUM_DIST_INFO,
            fmt="conda",
        ),
    ]
    return build_channel(work / "channel", packages)


PYPI = [
    pkg("foo-bindings", "1.0", files={"foo_bindings/__init__.py": BINDINGS}),
    pkg("tinynum", "1.5", files={"tinynum/__init__.py": "__version__ = '1.5 from PyPI'\n"}),
    pkg("tinynum", "2.0", files={"tinynum/__init__.py": "__version__ = '2.0 from PyPI'\n"}),
    pkg(
        "uses-tinynum",
        "1.0",
        ["tinynum>=1"],
        files={"uses_tinynum/__init__.py": "import tinynum\n"},
    ),
]


def _project(tmp_path: Path, index: IndexServer, channel: Path, conda_deps: str) -> Path:
    project = tmp_path / "mixed"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "mixed"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["uses-tinynum", "foo-bindings"]\n\n'
        f'[tool.shipyard]\nindex-url = "{index.index_url}"\n\n'
        f'[tool.shipyard.conda]\nchannels = ["{channel.as_uri()}"]\n'
        f"dependencies = [{conda_deps}]\n"
        'platforms = ["linux-64", "osx-arm64"]\n'
    )
    return project


def test_lock_sync_run_with_conda_and_pypi(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo", "python 3.12.*", "tinynum"')

    shipyard(project, "lock")
    text = (project / "pylock.toml").read_text()
    lock = tomllib.loads(text)
    Pylock.from_dict(lock)  # still a valid PEP 751 lock
    names = {p["name"] for p in lock["packages"]}
    assert {"uses-tinynum", "foo-bindings"} <= names
    assert "tinynum" not in names  # conda provides it on every platform
    conda = lock["tool"]["shipyard"]["conda"]
    assert conda["platforms"] == ["linux-64", "osx-arm64"]
    by_platform: dict[str, set[str]] = {}
    for record in conda["packages"]:
        assert len(record["sha256"]) == 64 and record["url"].startswith("file://")
        for platform in record["platforms"]:
            by_platform.setdefault(platform, set()).add(f"{record['name']}-{record['subdir']}")
    assert by_platform["linux-64"] == {"python-linux-64", "libfoo-linux-64", "tinynum-noarch"}
    assert by_platform["osx-arm64"] == {"python-osx-arm64", "libfoo-osx-arm64", "tinynum-noarch"}
    # One PyPI target per conda platform, at the conda Python's version.
    assert lock["tool"]["shipyard"]["targets"] == ["cp312-linux-x86_64", "cp312-macos-arm64"]

    shipyard(project, "lock")
    assert (project / "pylock.toml").read_text() == text  # deterministic, nothing to do

    dry = shipyard(project, "sync", "--dry-run")
    assert "Would create conda environment" in dry.stderr
    assert "Would install 3 conda packages" in dry.stderr
    assert "+ foo-bindings==1.0" in dry.stderr and "+ tinynum" not in dry.stderr
    assert not (project / ".venv").exists()

    result = shipyard(project, "sync")
    prefix = project / ".venv"
    assert (prefix / "conda-meta").is_dir() and not (prefix / "pyvenv.cfg").exists()
    site = prefix / "lib" / "python3.12" / "site-packages"
    infos = sorted(p.name for p in site.glob("*.dist-info"))
    assert infos == [
        "foo_bindings-1.0.dist-info",
        "tinynum-1.5.dist-info",
        "uses_tinynum-1.0.dist-info",
    ]
    assert (site / "tinynum-1.5.dist-info" / "INSTALLER").read_text() == "conda\n"
    assert (prefix / "etc" / "libfoo.conf").read_text() == f"prefix={prefix}\n"
    for meta in (prefix / "conda-meta").glob("*.json"):  # readable, as conda writes them
        assert meta.stat().st_mode & 0o044 == 0o044
    assert "Created conda environment at" in result.stderr
    assert "Installed 3 conda packages" in result.stderr
    assert "+ tinynum" not in result.stderr  # conda's copy is the one

    run = shipyard(
        project,
        "run",
        "python",
        "-c",
        "import sys, foo_bindings, tinynum, uses_tinynum; "
        "print(foo_bindings.answer(), tinynum.__version__, sys.prefix, sys.version_info[:2])",
    )
    assert run.stdout.split() == ["42", "1.5", str(prefix), "(3,", "12)"]

    again = shipyard(project, "sync")
    assert "Installed" not in again.stdout + again.stderr
    # The no-op is the stamp's fast path for a prefix too: nothing heavy is imported.
    import sys

    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shipyard", "sync"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "shipyard.project.syncing" not in timed.stderr and "rattler" not in timed.stderr

    # A PyPI-only sync never touches conda's files, and removing a PyPI dependency
    # removes only it.
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('"uses-tinynum", ', ""))
    shipyard(project, "sync")
    infos = sorted(p.name for p in site.glob("*.dist-info"))
    assert infos == ["foo_bindings-1.0.dist-info", "tinynum-1.5.dist-info"]


def test_existing_venv_becomes_a_conda_prefix(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo", "python 3.12.*"')
    text = (project / "pyproject.toml").read_text()
    plain = text.split("[tool.shipyard.conda]")[0]
    (project / "pyproject.toml").write_text(plain)
    shipyard(project, "sync")
    assert (project / ".venv" / "pyvenv.cfg").is_file()

    (project / "pyproject.toml").write_text(text)
    result = shipyard(project, "sync")
    assert "Rebuilding .venv as a conda prefix" in result.stderr
    assert (project / ".venv" / "conda-meta").is_dir()
    assert not (project / ".venv" / "pyvenv.cfg").exists()
    # Without conda providing tinynum, PyPI installs it (exactly once).
    site = project / ".venv" / "lib" / "python3.12" / "site-packages"
    assert len(list(site.glob("tinynum-*.dist-info"))) == 1


def test_unsatisfiable_conda_dependency_is_a_clear_error(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo >=2", "python 3.12.*"')
    before = (project / "pyproject.toml").read_bytes()
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    assert "cannot be satisfied on linux-64" in result.stderr
    assert "libfoo >=2" in result.stderr
    assert "Traceback" not in result.stderr
    assert (project / "pyproject.toml").read_bytes() == before
    assert not (project / "pylock.toml").exists()


def test_fifty_cli_runs_using_py_rattler_exit_cleanly(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    """py-rattler's runtime can crash an exiting interpreter (pyo3-async-runtimes#40);
    the CLI must exit 0 every time, not segfault now and then."""
    index = make_index(PYPI)
    project = tmp_path / "small"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "small"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = []\n\n[tool.shipyard]\nindex-url = "{index.index_url}"\n\n'
        f'[tool.shipyard.conda]\nchannels = ["{conda_channel.as_uri()}"]\n'
        'dependencies = ["libfoo", "python 3.12.*"]\nplatforms = ["linux-64"]\n'
    )
    codes = [
        shipyard(project, "-q", "lock", "--upgrade", check=False).returncode for _ in range(50)
    ]
    assert codes == [0] * 50


def test_add_and_remove_conda_dependencies(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"python 3.12.*"')
    shipyard(project, "sync")
    site = project / ".venv" / "lib" / "python3.12" / "site-packages"
    assert (site / "tinynum").is_dir()  # from PyPI: conda does not provide it yet
    assert not (project / ".venv" / "lib" / "libfoo.so").exists()

    shipyard(project, "add", "--conda", "libfoo >=1", "tinynum")
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["tool"]["shipyard"]["conda"]["dependencies"] == [
        "python 3.12.*",
        "libfoo >=1",
        "tinynum",
    ]
    assert (project / ".venv" / "lib" / "libfoo.so").is_file()
    infos = sorted(p.name for p in site.glob("tinynum*.dist-info"))
    assert infos == ["tinynum-1.5.dist-info"]  # the PyPI copy made way for conda's
    assert (site / "tinynum-1.5.dist-info" / "INSTALLER").read_text() == "conda\n"
    lock = tomllib.loads((project / "pylock.toml").read_text())
    assert "tinynum" not in {p["name"] for p in lock["packages"]}

    before = (project / "pyproject.toml").read_bytes()
    lock_before = (project / "pylock.toml").read_bytes()
    failed = shipyard(project, "add", "--conda", "libfoo >=9", check=False)
    assert failed.returncode == 1 and "cannot be satisfied" in failed.stderr
    assert (project / "pyproject.toml").read_bytes() == before
    assert (project / "pylock.toml").read_bytes() == lock_before
    conflict = shipyard(project, "add", "tinynum>=2", check=False)
    assert conflict.returncode == 1
    assert "tinynum 1.5 is provided by the conda packages" in conflict.stderr
    assert (project / "pyproject.toml").read_bytes() == before
    bad = shipyard(project, "add", "--conda", "libfoo >=>1", check=False)
    assert bad.returncode == 1 and "Invalid conda MatchSpec" in bad.stderr

    shipyard(project, "remove", "--conda", "libfoo")
    assert not (project / ".venv" / "lib" / "libfoo.so").exists()
    missing = shipyard(project, "remove", "--conda", "libfoo", check=False)
    assert missing.returncode == 1
    assert "[tool.shipyard.conda] dependencies" in missing.stderr


def test_export_environment_yml_and_conda_explicit(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    import yaml
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo", "python 3.12.*", "tinynum"')
    shipyard(project, "lock")
    linux = shipyard(project, "export", "--format", "environment-yml").stdout
    again = shipyard(project, "export", "--format", "environment-yml", "--frozen").stdout
    assert linux == again  # deterministic
    data = yaml.safe_load(linux)
    assert data["name"] == "mixed"
    assert data["channels"] == [conda_channel.as_uri(), "nodefaults"]
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    assert conda == [
        "libfoo=1.0=h0_0",
        f"python={_pyenv_python('3.12').name}=h0_0_cpython",
        "tinynum=1.5=pyh0_0",
        "pip",
    ]
    pip = next(d["pip"] for d in data["dependencies"] if isinstance(d, dict))
    assert pip == [f"--index-url {index.index_url}", "foo-bindings==1.0", "uses-tinynum==1.0"]

    mac = yaml.safe_load(
        shipyard(project, "export", "--format", "environment-yml", "--platform", "osx-arm64").stdout
    )
    assert "libfoo=1.0=h1_0" in mac["dependencies"]
    missing = shipyard(
        project, "export", "--format", "environment-yml", "--platform", "win-64", check=False
    )
    assert missing.returncode == 1 and "not for win-64" in missing.stderr

    out = project / "linux-64.txt"
    shipyard(project, "export", "--format", "conda-explicit", "-o", str(out))
    spec = ExplicitEnvironmentSpec.from_str(out.read_text())
    urls = [entry.url for entry in spec.packages]
    files = [u.rsplit("/", 1)[-1].split("#")[0] for u in urls]
    # Dependencies first (tinynum needs python), otherwise by name.
    assert files == [
        "libfoo-1.0-h0_0.tar.bz2",
        f"python-{_pyenv_python('3.12').name}-h0_0_cpython.conda",
        "tinynum-1.5-pyh0_0.conda",
    ]
    assert str(spec.platform) == "linux-64"
    lock = tomllib.loads((project / "pylock.toml").read_text())
    md5 = {r["url"]: r["md5"] for r in lock["tool"]["shipyard"]["conda"]["packages"]}
    assert all(
        line.split("#")[1] == md5[line.split("#")[0]]
        for line in out.read_text().splitlines()
        if line.startswith("file://")
    )


def test_environment_yml_round_trips_through_import_and_export(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    source = tmp_path / "environment.yml"
    source.write_text(
        "name: analysis\n"
        f"channels:\n  - {conda_channel.as_uri()}\n  - nodefaults\n"
        "dependencies:\n"
        "  - python=3.12\n"
        "  - libfoo >=1\n"
        "  - tinynum\n"
        "  - pip\n"
        "  - pip:\n"
        f"    - --index-url {index.index_url}\n"
        "    - foo-bindings==1.0\n"
        "    - uses-tinynum   # comment kept out\n"
        "    - -e .\n"
        "    - --trusted-host example.com\n"
    )

    def roundtrip(name: str, environment: Path) -> tuple[Path, str]:
        project = tmp_path / name
        shipyard(tmp_path, "init", name, "--python", "3.12")
        result = shipyard(project, "import", str(environment), "--no-sync")
        assert "--trusted-host example.com is not carried over" in result.stderr or name != "first"
        text = (project / "pyproject.toml").read_text()
        manifest = tomllib.loads(text)
        assert manifest["project"]["requires-python"] == ">=3.12"
        assert (
            set(manifest["project"]["dependencies"]) >= {"foo-bindings==1.0", "uses-tinynum"}
            or name != "first"
        )
        conda = manifest["tool"]["shipyard"]["conda"]
        assert conda["channels"] == [conda_channel.as_uri()]
        assert conda["platforms"] == ["linux-64"]
        assert "locked for linux-64 only" in result.stderr
        exported = shipyard(project, "export", "--format", "environment-yml").stdout
        return project, exported

    first, exported = roundtrip("first", source)
    first_manifest = tomllib.loads((first / "pyproject.toml").read_text())
    assert first_manifest["tool"]["shipyard"]["conda"]["dependencies"] == [
        "python=3.12",
        "libfoo >=1",
        "tinynum",
    ]
    assert first_manifest["tool"]["shipyard"]["index-url"] == index.index_url
    copy = tmp_path / "exported.yml"
    copy.write_text(exported)
    second, exported_again = roundtrip("second", copy)
    # The exported file describes the same environment: importing it and exporting
    # again gives the same file (the project name aside).
    assert exported_again.replace("name: second", "name: first") == exported
    shipyard(second, "sync")
    run = shipyard(
        second,
        "run",
        "python",
        "-c",
        "import foo_bindings, tinynum; print(foo_bindings.answer(), tinynum.__version__)",
    )
    assert run.stdout.split() == ["42", "1.5"]


def _forge_project(
    tmp_path: Path, conda_channel: Path, package: CondaPackage, index_url: str, pypi_dep: str
) -> Path:
    """A channel named conda-forge (the published mapping applies to it) holding the
    session's linux-64 python and ``package``, and a project asking conda for both and
    PyPI for ``pypi_dep``."""
    import shutil

    from support.conda_channel import index_channel, package_archive

    forge = tmp_path / "conda-forge"
    (forge / "linux-64").mkdir(parents=True)
    (forge / "noarch").mkdir()
    for python in (conda_channel / "linux-64").glob("python-*.conda"):
        shutil.copy(python, forge / "linux-64" / python.name)
    (forge / "noarch" / package.file_name).write_bytes(package_archive(package))
    index_channel(forge)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "project"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["{pypi_dep}"]\n\n[tool.shipyard]\nindex-url = "{index_url}"\n\n'
        f'[tool.shipyard.conda]\nchannels = ["{forge.as_uri()}"]\n'
        f'dependencies = ["python 3.12.*", "{package.name}"]\nplatforms = ["linux-64"]\n'
    )
    return project


def test_conda_forge_names_mapped_to_pypi(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    """conda-forge's pytorchish carries PyPI's torchish: the published mapping says so
    before the package is at hand, the package's own .dist-info once it is."""
    import json

    from support.conda_channel import ChannelServer

    torch = CondaPackage(
        "pytorchish",
        "2.0",
        "pyh0_0",
        noarch="python",
        depends=["python >=3.8"],
        fmt="conda",
        files={
            "site-packages/torchish/__init__.py": b"SOURCE = 'conda'\n",
            "site-packages/torchish-2.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: torchish\nVersion: 2.0\n",
            "site-packages/torchish-2.0.dist-info/INSTALLER": b"conda\n",
        },
    )
    index = make_index(
        [pkg("torchish", "2.0", files={"torchish/__init__.py": "SOURCE = 'pypi'\n"})]
    )
    project = _forge_project(tmp_path, conda_channel, torch, index.index_url, "torchish>=2")
    served = tmp_path / "mapping"
    served.mkdir()
    (served / "compressed_mapping.json").write_text(json.dumps({"pytorchish": "torchish"}))
    with ChannelServer(served) as server:
        url = f"{server.url}/compressed_mapping.json"
        shipyard(project, "lock", SHIPYARD_CONDA_PYPI_MAPPING_URL=url)
        assert server.requests == ["/compressed_mapping.json"]
    lock = tomllib.loads((project / "pylock.toml").read_text())
    assert "torchish" not in {p["name"] for p in lock["packages"]}
    shipyard(project, "sync")
    run = shipyard(project, "run", "python", "-c", "import torchish; print(torchish.SOURCE)")
    assert run.stdout.strip() == "conda"

    # Now the package is at hand: its .dist-info answers, no mapping is needed.
    nowhere = "http://127.0.0.1:9/compressed_mapping.json"
    relock = shipyard(project, "lock", "--upgrade", SHIPYARD_CONDA_PYPI_MAPPING_URL=nowhere)
    assert "mapping" not in relock.stderr
    lock = tomllib.loads((project / "pylock.toml").read_text())
    assert "torchish" not in {p["name"] for p in lock["packages"]}


def test_unreachable_mapping_falls_back_to_the_naming_rule(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    numpyish = CondaPackage(
        "numpyish",
        "1.0",
        "pyh0_0",
        noarch="python",
        depends=["python"],
        files={"site-packages/numpyish.py": b""},
    )
    index = make_index([pkg("numpyish", "1.0"), pkg("numpyish", "2.0")])
    project = _forge_project(tmp_path, conda_channel, numpyish, index.index_url, "numpyish")
    result = shipyard(
        project,
        "lock",
        SHIPYARD_CONDA_PYPI_MAPPING_URL="http://127.0.0.1:9/mapping.json",
        SHIPYARD_HTTP_RETRIES="0",
    )
    assert "Could not fetch the conda-forge→PyPI name mapping" in result.stderr
    lock = tomllib.loads((project / "pylock.toml").read_text())
    assert "numpyish" not in {p["name"] for p in lock["packages"]}


def test_frozen_sync_works_from_the_package_cache_alone(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    import shutil

    channel = tmp_path / "channel-copy"
    shutil.copytree(conda_channel, channel)
    index = make_index(PYPI)
    project = _project(tmp_path, index, channel, '"libfoo", "python 3.12.*"')
    shipyard(project, "sync")
    cold_cache = tmp_path / "other-cache"
    offline = shipyard(
        project, "sync", "--offline", SHIPYARD_CACHE_DIR=str(cold_cache), check=False
    )
    assert offline.returncode == 0  # already in sync: nothing to fetch
    shutil.rmtree(project / ".venv")
    offline = shipyard(
        project, "sync", "--offline", "--frozen", SHIPYARD_CACHE_DIR=str(cold_cache), check=False
    )
    # A file:// channel needs no network: its packages come straight from disk; what
    # the empty cache lacks is the PyPI wheel, and the error names it.
    assert offline.returncode == 1
    assert "--offline" in offline.stderr and "foo_bindings-1.0-py3-none-any.whl" in offline.stderr
    assert "Traceback" not in offline.stderr

    shutil.rmtree(channel)  # the channel is gone; the cache still has every package
    shipyard(project, "sync", "--frozen", "--offline")
    run = shipyard(
        project,
        "run",
        "--frozen",
        "python",
        "-c",
        "import foo_bindings; print(foo_bindings.answer())",
    )
    assert run.stdout.strip() == "42"


@pytest.mark.parametrize("served", [False, True], ids=["file", "http"])
def test_tampered_package_is_refused(
    tmp_path: Path,
    make_index,
    conda_channel: Path,
    served: bool,  # type: ignore[no-untyped-def]
) -> None:
    import contextlib
    import shutil

    from support.conda_channel import ChannelServer

    channel = tmp_path / "channel-copy"
    shutil.copytree(conda_channel, channel)
    index = make_index(PYPI)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(ChannelServer(channel)).url if served else channel.as_uri()
        project = _project(tmp_path, index, channel, '"libfoo", "python 3.12.*"')
        text = (project / "pyproject.toml").read_text()
        (project / "pyproject.toml").write_text(text.replace(channel.as_uri(), url))
        shipyard(project, "lock")
        archive = channel / "linux-64" / "libfoo-1.0-h0_0.tar.bz2"
        archive.write_bytes(archive.read_bytes() + b"tampered")
        result = shipyard(project, "sync", "--frozen", check=False)
    assert result.returncode == 1
    assert "does not match the lock's sha256" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / ".venv" / "lib" / "libfoo.so").exists()


def test_exporter_formats_match_the_command_line() -> None:
    import argparse

    from shipyard.cli.cmd_export import configure
    from shipyard.project.exporting import EXPORT_FORMATS

    parser = argparse.ArgumentParser()
    configure(parser)
    action = next(a for a in parser._actions if a.dest == "format")
    assert tuple(action.choices or ()) == EXPORT_FORMATS


def test_python_minor_change_moves_the_pypi_packages(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"python 3.11.*"')
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('"linux-64", "osx-arm64"', '"linux-64"'))
    shipyard(project, "sync")
    lib = project / ".venv" / "lib"
    assert (lib / "python3.11" / "site-packages" / "uses_tinynum").is_dir()

    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace("python 3.11.*", "python 3.12.*"))
    shipyard(project, "sync")
    assert not (lib / "python3.11").exists()  # the old minor's leftovers are gone
    assert (lib / "python3.12" / "site-packages" / "uses_tinynum").is_dir()
    run = shipyard(
        project,
        "run",
        "python",
        "-c",
        "import sys, uses_tinynum; print(sys.version_info[:2] == (3, 12))",
    )
    assert run.stdout.strip() == "True"


def test_prefer_pypi_moves_mapped_conda_packages_with_a_table(
    tmp_path: Path,
    make_index,
    conda_channel: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A Stable-Diffusion-style environment.yml: python and a C library from conda, a
    Python package that is also on PyPI, and a pip: section. With --prefer-pypi nothing
    comes from conda: python becomes requires-python, the Python package moves to PyPI
    (per the published mapping) and the move is listed, the C library is left out and
    named with its line."""
    import json

    index = make_index(PYPI)
    mapping = tmp_path / "compressed_mapping.json"
    mapping.write_text(json.dumps({"tinynum": "tinynum", "libfoo": None}))
    source = tmp_path / "environment.yaml"
    source.write_text(
        "name: ldm\n"
        f"channels:\n  - {conda_channel.as_uri()}\n"
        "dependencies:\n  - python=3.12\n  - libfoo>=1\n  - tinynum=1.5\n  - pip\n"
        f"  - pip:\n    - --index-url {index.index_url}\n    - foo-bindings==1.0\n"
    )
    shipyard(tmp_path, "init", "ldm", "--python", "3.12")
    project = tmp_path / "ldm"
    result = shipyard(
        project,
        "import",
        str(source),
        "--prefer-pypi",
        SHIPYARD_CONDA_PYPI_MAPPING_URL=mapping.as_uri(),
    )
    out = result.stdout + result.stderr
    assert "Moved from conda to PyPI (--prefer-pypi):" in out
    assert "tinynum=1.5  ->  tinynum==1.5.*" in out
    assert f"{source}:6: 'libfoo>=1' is not a Python distribution" in " ".join(out.split())
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert "conda" not in manifest["tool"]["shipyard"]
    assert manifest["project"]["requires-python"] == ">=3.12"
    assert manifest["project"]["dependencies"] == ["foo-bindings==1.0", "tinynum==1.5.*"]
    run = shipyard(project, "run", "python", "-c", "import tinynum; print(tinynum.__version__)")
    assert run.stdout.split() == ["1.5", "from", "PyPI"]


def test_docker_init_for_a_conda_project_copies_the_prefix(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    conda_channel: Path,
) -> None:
    """The conda prefix is the environment: shipyard installs it in the builder, the
    runtime base needs no Python of its own, and pip is refused."""
    from .test_docker_init import _instructions, hadolint

    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo", "python 3.12.*"')
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.shipyard.docker]\ncmd = ["python", "-c", "import foo_bindings"]\n')
    refused = shipyard(project, "docker", "init", "--installer", "pip", check=False)
    assert refused.returncode == 2 and "conda packages, which pip cannot install" in refused.stderr
    assert not (project / "Dockerfile").exists()
    shipyard(project, "docker", "init")
    dockerfile = project / "Dockerfile"
    assert hadolint(dockerfile) == []
    steps = _instructions(dockerfile.read_text())
    assert "ARG RUNTIME_IMAGE=debian:bookworm-slim" in steps
    assert any(
        "shipyard sync --frozen --no-default-groups --no-install-project" in s for s in steps
    )
    assert "COPY --from=builder /app/.venv /app/.venv" in steps
    assert not (project / "requirements.lock.txt").exists()
    assert steps[-1] == 'CMD ["python", "-c", "import foo_bindings"]'


def test_dry_run_of_a_conda_project_changes_nothing_and_names_what_sync_does(
    tmp_path: Path, make_index, conda_channel: Path
) -> None:  # type: ignore[no-untyped-def]
    from .test_dry_run import _listing, _planned

    index = make_index(PYPI)
    project = _project(tmp_path, index, conda_channel, '"libfoo", "python 3.12.*", "tinynum"')
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run")
    assert _listing(project) == before  # no pylock.toml, no prefix
    said = " ".join(dry.stderr.split())
    assert "Would write pylock.toml" in said
    assert "Would create conda environment" in said
    assert "Would install 3 conda packages" in said
    planned = _planned(dry.stderr)
    assert planned == {"foo-bindings==1.0", "uses-tinynum==1.0"}

    real = shipyard(project, "sync")
    assert "Installed 3 conda packages" in real.stderr
    assert _planned(real.stderr) == planned

    # With the prefix in place, a dry run of a changed manifest leaves prefix and lock.
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('"foo-bindings"', ""))
    before = _listing(project)
    dry = shipyard(project, "sync", "--dry-run")
    assert _listing(project) == before
    assert "Would write pylock.toml" in dry.stderr
    assert " - foo-bindings==1.0" in dry.stderr
    shipyard(project, "sync")
    site = project / ".venv" / "lib" / "python3.12" / "site-packages"
    assert not list(site.glob("foo_bindings-*.dist-info"))
