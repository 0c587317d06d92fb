"""``image build`` for a project with conda packages: the conda prefix is the image's
environment (and brings its Python), made for /app/.venv without running anything,
with the PyPI packages on top; no conda or mamba in the image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from e2e.test_conda import BINDINGS, LIBFOO_C, PYPI, TINYNUM_DIST_INFO
from e2e.test_local_index import shipyard
from image.test_image_build import debian_without_python, said
from support.conda_channel import PLACEHOLDER, CondaPackage, build_channel
from support.oci_tools import (
    read_blob,
    run_in_chroot,
    skopeo_inspect_raw,
    umoci_unpack,
)

pytestmark = pytest.mark.slow

assert BINDINGS  # the PyPI foo-bindings loads $prefix/lib/libfoo.so with ctypes


def _relocatable_python() -> CondaPackage:
    """This machine's pyenv CPython 3.11 as conda-forge packages CPython: the binary and
    ``libpython`` carry the build prefix, which conda rewrites (``file_mode: binary``)
    into the install prefix, so the run path and the compiled-in prefix follow it."""
    import glob
    import os

    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11.*")))
    if not found:
        pytest.fail("this test needs a CPython 3.11 under ~/.pyenv/versions")
    install = Path(found[-1])
    lib = "lib/python3.11"
    skipped = ("test", "site-packages", "idlelib", "tkinter", "lib2to3", "ensurepip")
    return CondaPackage(
        name="python",
        version=install.name,
        build="h0_0_cpython",
        subdir="linux-64",
        depends=["__glibc >=2.17"],
        tree=install,
        tree_exclude=[
            "include",
            "share",
            "lib/pkgconfig",
            "lib/libpython3.so",
            f"{lib}/config-3.11-x86_64-linux-gnu",
            *(f"{lib}/{name}" for name in skipped),
            *(f"bin/{name}" for name in ("2to3", "idle", "pydoc", "pip", "python3-config")),
            "bin/python-config",
            "bin/python3.11-config",
            "bin/2to3-3.11",
            "bin/idle3",
            "bin/pydoc3",
            "bin/pip3",
        ],
        files={f"{lib}/site-packages/README.txt": b"conda site-packages\n"},
        binary_prefix_files=frozenset({"bin/python3.11", "lib/libpython3.11.so.1.0"}),
        binary_placeholder=str(install),
        fmt="conda",
    )


def _channel(work: Path) -> Path:
    """python 3.11 (relocatable), libfoo (a real shared library with a prefix
    placeholder in its config) and tinynum (noarch: python), all linux-64."""
    source = work / "foo.c"
    work.mkdir(parents=True, exist_ok=True)
    source.write_bytes(LIBFOO_C)
    library = work / "libfoo.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    packages = [
        _relocatable_python(),
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


def test_conda_prefix_image_runs_without_conda(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    debian_tools: dict[str, Path],
) -> None:
    channel = _channel(tmp_path / "conda-build")
    index = make_index(PYPI)
    project = tmp_path / "mixed"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "mixed"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["uses-tinynum", "foo-bindings"]\n\n'
        f'[tool.shipyard]\nindex-url = "{index.index_url}"\n\n'
        f'[tool.shipyard.conda]\nchannels = ["{channel.as_uri()}"]\n'
        'dependencies = ["libfoo", "python 3.11.*", "tinynum"]\nplatforms = ["linux-64"]\n\n'
        "[tool.shipyard.docker]\n"
        'cmd = ["python", "-c", "import foo_bindings, sys, tinynum, uses_tinynum; '
        'print(foo_bindings.answer(), tinynum.__version__, sys.prefix)"]\n'
    )
    shipyard(project, "lock")
    base = tmp_path / "no-python-base"
    debian_without_python(base)
    out = tmp_path / "out"
    built = shipyard(
        project, "image", "build", "--base", f"oci:{base}:bookworm", "--output", f"oci:{out}:1"
    )
    assert "linux/amd64: Python 3.11" in said(built)
    manifest = skopeo_inspect_raw(f"oci:{out}:1")
    config = json.loads(read_blob(out, manifest["config"]))["config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["CONDA_PREFIX"] == "/app/.venv" and "VIRTUAL_ENV" not in env

    rootfs = umoci_unpack(out, "1", tmp_path / "bundle")
    prefix = rootfs / "app" / ".venv"
    assert (prefix / "conda-meta").is_dir() and not (prefix / "pyvenv.cfg").exists()
    # the placeholder names where the prefix lives in the image, not where it was made
    assert (prefix / "etc" / "libfoo.conf").read_text() == "prefix=/app/.venv\n"
    assert not list(prefix.glob("bin/conda*")) and not list(prefix.glob("bin/mamba*"))
    site = prefix / "lib" / "python3.11" / "site-packages"
    assert (site / "tinynum-1.5.dist-info" / "INSTALLER").read_text() == "conda\n"
    assert not list(site.glob("tinynum-2*")), "conda's tinynum is not installed twice"
    ran = run_in_chroot(rootfs, config["Cmd"], env=env, timeout=60, cwd="/app", user=config["User"])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["42", "1.5", "/app/.venv"]

    again = tmp_path / "again"
    shipyard(
        project, "image", "build", "--base", f"oci:{base}:bookworm", "--output", f"oci:{again}:1"
    )
    second = skopeo_inspect_raw(f"oci:{again}:1")
    assert second["layers"][-2]["digest"] == manifest["layers"][-2]["digest"]
