"""``shipyard pack`` and ``shipyard unpack``: an environment carried to a machine without
network as one archive, unpacked at another path, and working there.

The interpreter is a python-build-standalone-style build made here from this machine's
pyenv 3.11 (as test_python_downloads.py does with 3.10), with its library path made relative
(``$ORIGIN/../lib``, as python-build-standalone's are), installed as a shipyard-managed
Python. After packing, the project, the cache and the managed Python are deleted and
the index is stopped: the unpacked environment has only itself.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support import IndexServer, pkg

from .test_local_index import new_project, shipyard
from .test_python_downloads import _SKIP, PYENV, RELEASE

MINOR = "3.11"


def _source() -> Path:
    found = sorted((PYENV / "versions").glob(f"{MINOR}.*"))
    assert found, f"this machine's pyenv {MINOR}"
    return found[-1]


PACKAGES = [
    pkg(
        "pandas",
        "2.2.0",
        ["tinynumpy>=1"],
        entry_points={"console_scripts": {"pandas-info": "pandas:info"}},
        files={
            "pandas/__init__.py": (
                "import sys, tinynumpy\n__version__ = '2.2.0'\n"
                "def info():\n    print('pandas', __version__, 'on', sys.prefix)\n"
            )
        },
    ),
    pkg("tinynumpy", "1.0", files={"tinynumpy/__init__.py": "ANSWER = 42\n"}),
]
BACKEND = (
    '\n[build-system]\nrequires = ["shipyard-test-backend"]\n'
    'build-backend = "shipyard_test_backend"\n'
)


def _relative_runpath(binary: bytes, library_dir: Path) -> bytes:
    """The interpreter with its absolute RUNPATH (pyenv's ``lib``) replaced by
    ``$ORIGIN/../lib`` in the same bytes, NUL-padded."""
    old = os.fsencode(library_dir) + b"\0"
    assert binary.count(old) == 1, "one RUNPATH string"
    new = b"$ORIGIN/../lib"
    return binary.replace(old, new + b"\0" * (len(old) - len(new)))


@pytest.fixture(scope="session")
def relocatable_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cpython-3.11.X+20990101-x86_64-unknown-linux-gnu-install_only.tar.gz`` whose
    interpreter finds its shared library relative to itself."""
    source = _source()
    out = tmp_path_factory.mktemp("pbs-relocatable") / (
        f"cpython-{source.name}+{RELEASE}-x86_64-unknown-linux-gnu-install_only.tar.gz"
    )

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = info.name.split("/")
        if any(p in _SKIP or p.startswith("config-3.") for p in parts):
            return None
        return info

    binary = _relative_runpath((source / "bin" / f"python{MINOR}").read_bytes(), source / "lib")
    with tarfile.open(out, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo(f"python/bin/python{MINOR}")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
        for name in ("python3", "python"):
            link = tarfile.TarInfo(f"python/bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, f"python{MINOR}"
            tar.addfile(link)
        for lib in sorted((source / "lib").glob("libpython3*.so*")):
            tar.add(lib, f"python/lib/{lib.name}")
        tar.add(source / "lib" / f"python{MINOR}", f"python/lib/python{MINOR}", filter=keep)
    return out


def _machine(tmp_path: Path) -> dict[str, str]:
    """A machine whose only relocatable Python is the managed one installed here."""
    return {
        "SHIPYARD_PYTHON_INSTALL_DIR": str(tmp_path / "managed"),
        "SHIPYARD_PYTHON_DOWNLOADS": "never",
        "HOME": str(tmp_path / "home"),
    }


def _project(tmp_path: Path, index: IndexServer) -> Path:
    project = new_project(tmp_path, index, ["pandas>=2"], name="proj", extra=BACKEND)
    (project / ".python-version").write_text(f"{MINOR}\n")
    package = project / "src" / "proj"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import pandas\nNAME = 'proj on ' + pandas.__version__\n")
    return project


def _run(python: Path, code: str) -> str:
    """``python -c code`` with nothing of this machine's Python settings."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(python.parent)}
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _check_environment(root: Path) -> None:
    """The unpacked environment at ``root`` imports pandas and the project with its own
    interpreter and shared library, and its console script runs with a fixed ``#!``."""
    python = root / "bin" / "python"
    code = (
        "import sys, pandas, tinynumpy, proj\n"
        "maps = open('/proc/self/maps').read().split()\n"
        "libpython = [p for p in maps if 'libpython3.11' in p][0]\n"
        "for value in (pandas.__version__, tinynumpy.ANSWER, proj.NAME, sys.prefix,\n"
        "              sys.base_prefix, libpython):\n"
        "    print(value)\n"
    )
    *facts, library = _run(python, code).splitlines()
    assert facts == ["2.2.0", "42", "proj on 2.2.0", str(root), str(root / "base-python")]
    assert library.startswith(str(root / "base-python" / "lib") + "/")
    script = root / "bin" / "pandas-info"
    assert script.read_text().splitlines()[0] == f"#!{root}/bin/python"
    ran = subprocess.run([str(script)], capture_output=True, text=True, env={"PATH": "/bin"})
    assert ran.stdout.strip() == f"pandas 2.2.0 on {root}", ran.stderr
    assert str(root) in (root / "bin" / "activate").read_text()
    assert not list((root / "lib").glob("python3.*/site-packages/*.pth"))  # not editable


def test_pack_then_unpack_offline_in_another_directory(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    relocatable_archive: Path,
    isolated_env: Path,
) -> None:
    machine = _machine(tmp_path)
    shipyard(tmp_path, "python", "install", "--from", str(relocatable_archive), **machine)
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "sync", **machine)  # a .venv the archive must not depend on

    packed = shipyard(project, "pack", "-o", str(tmp_path / "env.tar.gz"), **machine)
    said = packed.stderr
    assert "Packed proj for linux-x86_64: Python 3.11" in said and "3 packages" in said
    assert "shipyard unpack" in said and "unpack.sh" in said
    archive = tmp_path / "env.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(names[0]).read())  # type: ignore[union-attr]
    assert names[:3] == [".shipyard-pack/manifest.json", ".shipyard-pack/relocate.py", "unpack.sh"]
    assert f"base-python/bin/python{MINOR}" in names and "bin/pandas-info" in names
    assert manifest["kind"] == "venv" and manifest["python"]["version"] == _source().name
    assert {"path": "bin/pandas-info", "mode": "text"} in manifest["files"]
    assert {"path": "pyvenv.cfg", "mode": "text"} in manifest["files"]

    # The network and everything the archive came from go away.
    index.stop()
    shutil.rmtree(project)
    shutil.rmtree(isolated_env)
    shutil.rmtree(tmp_path / "managed")

    target = tmp_path / "deployed" / "my env"  # a space: scripts go through /bin/sh
    unpacked = shipyard(tmp_path, "--offline", "unpack", str(archive), str(target), **machine)
    assert f"into {target}" in unpacked.stderr
    python = target / "bin" / "python"
    out = _run(python, "import sys, pandas; print(pandas.__version__, sys.prefix)")
    assert out == f"2.2.0 {target}"
    script = target / "bin" / "pandas-info"
    assert script.read_text().startswith(f"#!/bin/sh\n'''exec' '{target}/bin/python'")
    ran = subprocess.run([str(script)], capture_output=True, text=True, env={"PATH": "/bin"})
    assert ran.stdout.strip() == f"pandas 2.2.0 on {target}", ran.stderr
    assert not any(p.name.startswith(".my env.unpacking") for p in target.parent.iterdir())

    # Without shipyard: tar and the archive's own script, and again after a move.
    other = tmp_path / "by-hand"
    other.mkdir()
    subprocess.run(["tar", "xf", str(archive), "-C", str(other)], check=True)
    fixed = subprocess.run(
        ["sh", str(other / "unpack.sh")], capture_output=True, text=True, env={"PATH": "/bin"}
    )
    assert fixed.returncode == 0, fixed.stderr
    assert f"Relocated the environment to {other}" in fixed.stdout
    _check_environment(other)
    moved = tmp_path / "moved"
    other.rename(moved)
    subprocess.run([str(moved / "unpack.sh")], check=True, capture_output=True)
    _check_environment(moved)


def test_pack_refuses_an_interpreter_that_cannot_move(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    pyenv_python = _source() / "bin" / f"python{MINOR}"
    machine = _machine(tmp_path)
    result = shipyard(project, "pack", "--python", str(pyenv_python), check=False, **machine)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not a shipyard-managed interpreter" in result.stderr
    assert "shipyard python install" in result.stderr
    none = shipyard(project, "pack", check=False, **machine)  # no managed Python at all
    assert none.returncode == 1 and "No shipyard-managed interpreter fits" in none.stderr
    assert not list(tmp_path.glob("*.tar.gz")) and not list(project.glob("*.tar.gz"))
    bad = shipyard(project, "pack", "-o", "env.zip", check=False, **machine)
    assert bad.returncode == 2 and ".tar.gz" in bad.stderr


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _manifest_member() -> tuple[tarfile.TarInfo, bytes]:
    import platform
    import sys

    data = json.dumps(
        {
            "format": 1,
            "kind": "venv",
            "prefix": "/nowhere/placeholder",
            "placeholder_length": 20,
            "system": sys.platform,
            "machine": platform.machine(),
            "files": [],
        }
    ).encode()
    return tarfile.TarInfo(".shipyard-pack/manifest.json"), data


def test_unpack_refuses_unsafe_or_foreign_archives(tmp_path: Path) -> None:
    escape = tarfile.TarInfo("bin/evil")
    escape.type, escape.linkname = tarfile.SYMTYPE, "../../../outside"
    unsafe = _tar(tmp_path / "unsafe.tar.gz", [_manifest_member(), (escape, b"")])
    target = tmp_path / "env"
    result = shipyard(tmp_path, "unpack", str(unsafe), str(target), check=False)
    assert result.returncode == 1 and "outside the environment" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["unsafe.tar.gz"]

    plain = _tar(tmp_path / "plain.tar.gz", [(tarfile.TarInfo("hello.txt"), b"hi\n")])
    result = shipyard(tmp_path, "unpack", str(plain), str(target), check=False)
    assert result.returncode == 1 and "not an environment `shipyard pack` wrote" in result.stderr

    info, data = _manifest_member()
    foreign = json.loads(data) | {"system": "darwin", "machine": "arm64"}
    other = _tar(tmp_path / "mac.tar.gz", [(info, json.dumps(foreign).encode())])
    result = shipyard(tmp_path, "unpack", str(other), str(target), check=False)
    assert result.returncode == 1 and "holds an environment for darwin arm64" in result.stderr

    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    result = shipyard(tmp_path, "unpack", str(unsafe), str(target), check=False)
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert (target / "keep.txt").read_text() == "mine\n"
    missing = shipyard(tmp_path, "unpack", str(tmp_path / "nope.tar.gz"), "x", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr


#: A conda-build style binary placeholder: 255 characters, padded with ``_placehold``.
BINARY_PLACEHOLDER = ("/opt/conda-bld/libbar_" + "_placehold" * 30)[:255]
LIBBAR_DATA = b"\x7fDAT\x00" + BINARY_PLACEHOLDER.encode() + b"/share/bar\x00tail\x00"


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A channel with CPython 3.12 (from pyenv) as conda's python, and ``libbar`` with a
    text (``etc/libbar.conf``) and a binary (``lib/libbar.dat``) prefix placeholder."""
    from support.conda_channel import (
        PLACEHOLDER,
        CondaPackage,
        build_channel,
        conda_python_package,
    )

    work = tmp_path_factory.mktemp("conda-pack-channel")
    install = sorted((PYENV / "versions").glob("3.12.*"))[-1]
    packages = [
        conda_python_package(install, install.name),
        CondaPackage(
            "libbar",
            "1.0",
            "h0_0",
            subdir="linux-64",
            depends=["__glibc >=2.17"],
            files={"lib/libbar.dat": LIBBAR_DATA},
            binary_prefix_files=frozenset({"lib/libbar.dat"}),
            binary_placeholder=BINARY_PLACEHOLDER,
            prefix_files={"etc/libbar.conf": f"prefix={PLACEHOLDER}\n".encode()},
            fmt="conda",
        ),
    ]
    return build_channel(work / "channel", packages)


def _check_conda_environment(root: Path) -> None:
    """``root`` is a conda prefix that runs: prefix placeholders point at it."""
    assert (root / "etc" / "libbar.conf").read_text() == f"prefix={root}\n"
    data = (root / "lib" / "libbar.dat").read_bytes()
    assert len(data) == len(LIBBAR_DATA)  # binary: rewritten in place, NUL-padded
    string = data[5:].split(b"\0", 1)[0]
    assert string == os.fsencode(root) + b"/share/bar"
    assert data.endswith(b"\0tail\0")
    out = _run(root / "bin" / "python", "import sys, pandas; print(pandas.__version__, sys.prefix)")
    assert out == f"2.2.0 {root}"
    ran = subprocess.run(
        [str(root / "bin" / "pandas-info")], capture_output=True, text=True, env={"PATH": "/bin"}
    )
    assert ran.stdout.strip() == f"pandas 2.2.0 on {root}", ran.stderr


@pytest.mark.slow
def test_pack_a_conda_environment_with_prefix_placeholders(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    conda_channel: Path,
    isolated_env: Path,
) -> None:
    index = make_index(PACKAGES)
    project = new_project(
        tmp_path,
        index,
        ["pandas>=2"],
        name="mixed",
        extra=f'\n[tool.shipyard.conda]\nchannels = ["{conda_channel.as_uri()}"]\n'
        'dependencies = ["python 3.12.*", "libbar"]\nplatforms = ["linux-64"]\n',
    )
    archive = tmp_path / "env.tar.zst"
    packed = shipyard(project, "pack", "-o", str(archive))
    assert "2 conda packages" in packed.stderr
    with open(archive, "rb") as handle:
        assert handle.read(4) == b"\x28\xb5\x2f\xfd"  # zstd, as the name asks
    shutil.rmtree(project)
    shutil.rmtree(isolated_env)

    target = tmp_path / "srv" / "mixed"
    shipyard(tmp_path, "--offline", "unpack", str(archive), str(target))
    assert (target / "conda-meta").is_dir() and not (target / "pyvenv.cfg").exists()
    _check_conda_environment(target)

    other = tmp_path / "by-hand"
    other.mkdir()
    subprocess.run(["tar", "xf", str(archive), "-C", str(other)], check=True)
    subprocess.run([str(other / "unpack.sh")], check=True, capture_output=True)
    _check_conda_environment(other)
