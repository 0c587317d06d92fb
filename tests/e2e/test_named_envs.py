"""Named environments: `env create` from anywhere, `run --env` from anywhere else,
`env list`, `env export`, `env remove`; an environment.yml (pip-only, and with conda
packages from a hermetic channel) becoming a named environment in one command.

The index is private to the test, so its `numpy` and `pandas` are small stand-ins."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from e2e.test_local_index import shipyard
from support import pkg
from support.conda_channel import CondaPackage, build_channel, conda_python_package

PACKAGES = [
    pkg("numpy", "1.26.4", files={"numpy/__init__.py": "__version__ = '1.26.4'\n"}),
    pkg("pandas", "2.1.0", ["numpy>=1.22"], files={"pandas/__init__.py": "v = '2.1.0'\n"}),
    pkg(
        "pandas",
        "2.2.0",
        ["numpy>=1.26"],
        files={"pandas/__init__.py": "import numpy\n__version__ = '2.2.0'\n"},
    ),
]


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((result.stdout + result.stderr).split())


def _dirs(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """The environment variables pointing the named environments into ``tmp_path``, a
    scratch directory and another one (neither a project)."""
    scratch, elsewhere = tmp_path / "scratch", tmp_path / "elsewhere"
    scratch.mkdir()
    elsewhere.mkdir()
    return {"SHIPYARD_ENV_DIR": str(tmp_path / "envs")}, scratch, elsewhere


def test_create_run_list_export_remove(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    env, scratch, elsewhere = _dirs(tmp_path)
    created = shipyard(
        scratch, "env", "create", "sci", "numpy", "pandas", "--index-url", index.index_url, **env
    )
    root = tmp_path / "envs" / "sci"
    assert f"Created named environment sci at {root}" in _said(created)
    assert "+ pandas==2.2.0" in created.stderr
    assert list(scratch.iterdir()) == []  # nothing written where it ran
    manifest = tomllib.loads((root / "pyproject.toml").read_text())
    assert manifest["project"]["dependencies"] == ["numpy>=1.26.4", "pandas>=2.2.0"]
    assert manifest["tool"]["shipyard"]["index-url"] == index.index_url
    assert (root / "pylock.toml").is_file()

    # From another directory, with no index given: the environment remembers its own.
    code = "import sys, pandas; print(pandas.__version__, sys.prefix)"
    ran = shipyard(elsewhere, "run", "--env", "sci", "python", "-c", code, **env)
    assert ran.stdout.split() == ["2.2.0", str(root / ".venv")]
    assert list(elsewhere.iterdir()) == []

    rows = json.loads(shipyard(elsewhere, "env", "list", "--json", **env).stdout)
    assert len(rows) == 1
    assert rows[0]["name"] == "sci" and rows[0]["packages"] == 2
    assert rows[0]["path"] == str(root) and rows[0]["python"].startswith("3.")
    table = shipyard(elsewhere, "env", "list", **env).stdout.splitlines()
    assert table[0].split() == ["NAME", "PYTHON", "PACKAGES", "PATH"]
    assert table[1].split() == ["sci", rows[0]["python"], "2", str(root)]

    exported = shipyard(
        elsewhere, "env", "export", "sci", "--format", "requirements-txt", "-o", "req.txt", **env
    )
    assert "Wrote requirements-txt" in _said(exported)
    text = (elsewhere / "req.txt").read_text()
    assert "numpy==1.26.4" in text and "pandas==2.2.0" in text and "--hash=sha256:" in text
    pylock = shipyard(elsewhere, "env", "export", "sci", "--format", "pylock", **env).stdout
    assert {p["name"] for p in tomllib.loads(pylock)["packages"]} == {"numpy", "pandas"}

    # `activate --env` (and `shell --env`) enter it from anywhere too
    import subprocess

    script = shipyard(elsewhere, "activate", "--env", "sci", "--shell", "bash", **env).stdout
    entered = subprocess.run(
        ["bash", "-c", script + '\necho "$VIRTUAL_ENV"; python -c "import pandas"'],
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert entered.stdout.strip() == str(root / ".venv"), entered.stderr

    removed = shipyard(elsewhere, "env", "remove", "sci", **env)
    assert f"Removed named environment sci ({root})" in _said(removed)
    assert not root.exists()
    assert json.loads(shipyard(elsewhere, "env", "list", "--json", **env).stdout) == []
    gone = shipyard(elsewhere, "run", "--env", "sci", "python", "-V", check=False, **env)
    assert gone.returncode == 1
    assert "There is no named environment 'sci'" in _said(gone)
    assert "Traceback" not in gone.stderr


def test_an_environment_yml_becomes_a_named_environment(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    env, scratch, elsewhere = _dirs(tmp_path)
    (scratch / "environment.yml").write_text(
        "name: analysis\n"
        "channels:\n  - nodefaults\n"
        "dependencies:\n"
        "  - pip\n"
        "  - pip:\n"
        f"    - --index-url {index.index_url}\n"
        "    - pandas==2.1.0\n"
    )
    created = shipyard(scratch, "env", "create", "--file", "environment.yml", **env)
    root = tmp_path / "envs" / "analysis"  # the file's name
    assert f"Created named environment analysis at {root}" in _said(created)
    assert sorted(p.name for p in scratch.iterdir()) == ["environment.yml"]
    code = "import pandas, numpy; print(pandas.v, numpy.__version__)"
    ran = shipyard(elsewhere, "run", "--env", "analysis", "python", "-c", code, **env)
    assert ran.stdout.split() == ["2.1.0", "1.26.4"]
    # A script file runs with the environment's python, not as a PEP 723 script.
    (elsewhere / "show.py").write_text("import pandas\nprint(pandas.v)\n")
    assert shipyard(elsewhere, "run", "--env", "analysis", "show.py", **env).stdout == "2.1.0\n"
    # Back to an environment.yml: the pip section holds the locked packages.
    exported = shipyard(
        elsewhere, "env", "export", "analysis", "--format", "environment-yml", **env
    ).stdout
    assert "pandas==2.1.0" in exported and "numpy==1.26.4" in exported

    # An explicit name wins over the file's.
    shipyard(scratch, "env", "create", "other", "--file", "environment.yml", **env)
    names = [
        r["name"] for r in json.loads(shipyard(scratch, "env", "list", "--json", **env).stdout)
    ]
    assert names == ["analysis", "other"]


def test_bad_names_duplicates_and_failures_leave_nothing(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    env, scratch, _ = _dirs(tmp_path)
    env["SHIPYARD_INDEX_URL"] = index.index_url
    envs = tmp_path / "envs"
    for bad in ("../escape", "dash-", "a b", "x" * 65):
        result = shipyard(scratch, "env", "create", bad, "numpy", check=False, **env)
        assert result.returncode == 2, bad
        assert f"{bad!r} is not a valid environment name" in _said(result)
        assert "Traceback" not in result.stderr
    assert not envs.exists() or list(envs.iterdir()) == []

    shipyard(scratch, "env", "create", "sci", "numpy", **env)
    manifest = (envs / "sci" / "pyproject.toml").read_bytes()
    again = shipyard(scratch, "env", "create", "sci", "pandas", check=False, **env)
    assert again.returncode == 1
    said = _said(again)
    assert "A named environment 'sci' exists already" in said
    assert "--force" in said and "shipyard env remove sci" in said
    assert (envs / "sci" / "pyproject.toml").read_bytes() == manifest

    # A failed creation removes its directory; with --force the old one comes back.
    missing = shipyard(scratch, "env", "create", "broken", "no-such-package", check=False, **env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert not (envs / "broken").exists()
    failed = shipyard(
        scratch, "env", "create", "sci", "no-such-package", "--force", check=False, **env
    )
    assert failed.returncode == 1
    assert (envs / "sci" / "pyproject.toml").read_bytes() == manifest
    assert sorted(p.name for p in envs.iterdir()) == ["sci"]
    shipyard(envs / "sci", "run", "--env", "sci", "python", "-c", "import numpy", **env)

    replaced = shipyard(
        scratch, "env", "create", "sci", "pandas", "--force", "--python", "3.12", **env
    )
    assert "Created named environment sci" in _said(replaced)
    manifest_text = (envs / "sci" / "pyproject.toml").read_text()
    assert "pandas" in manifest_text and 'requires-python = ">=3.12"' in manifest_text
    assert (envs / "sci" / ".python-version").read_text() == "3.12\n"
    version = "import sys; print(*sys.version_info[:2])"
    assert shipyard(scratch, "run", "--env", "sci", "python", "-c", version, **env).stdout == (
        "3 12\n"
    )
    assert sorted(p.name for p in envs.iterdir()) == ["sci"]

    typo = shipyard(scratch, "env", "remove", "scii", check=False, **env)
    assert typo.returncode == 1 and "Did you mean 'sci'?" in _said(typo)
    assert (envs / "sci").is_dir()
    usage = shipyard(scratch, "env", check=False, **env)
    assert usage.returncode == 2 and "create, list, remove or export" in _said(usage)


LIBGEO = {"lib/libgeo.so": b"not really a library\n", "share/geo/README": b"geo data\n"}


@pytest.mark.slow
def test_an_environment_yml_with_conda_packages(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    """A conda ``python`` (a real CPython 3.12) and a conda library from a channel built
    here, plus PyPI packages: the named environment is a conda prefix."""
    import glob
    import os

    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12.*")))
    if not found:
        pytest.fail("this test needs a CPython 3.12 under ~/.pyenv/versions")
    install = Path(found[-1])
    channel = build_channel(
        tmp_path / "channel",
        [
            conda_python_package(install, install.name),
            CondaPackage("libgeo", "3.8", "h0_0", subdir="linux-64", files=LIBGEO),
        ],
    )
    index = make_index(PACKAGES)
    env, scratch, elsewhere = _dirs(tmp_path)
    (scratch / "environment.yml").write_text(
        "name: geo\n"
        f"channels:\n  - {channel.as_uri()}\n"
        "dependencies:\n"
        "  - python=3.12\n"
        "  - libgeo >=3.8\n"
        "  - pip:\n"
        f"    - --index-url {index.index_url}\n"
        "    - pandas\n"
    )
    created = shipyard(scratch, "env", "create", "-f", "environment.yml", **env)
    prefix = tmp_path / "envs" / "geo" / ".venv"
    assert "Created conda environment" in created.stderr
    assert (prefix / "conda-meta").is_dir() and (prefix / "lib" / "libgeo.so").is_file()
    code = "import sys, pandas; print(pandas.__version__, sys.prefix, sys.version_info[:2])"
    ran = shipyard(elsewhere, "run", "--env", "geo", "python", "-c", code, **env)
    assert ran.stdout.split() == ["2.2.0", str(prefix), "(3,", "12)"]
    (row,) = json.loads(shipyard(elsewhere, "env", "list", "--json", **env).stdout)
    assert row["python"] == install.name
    assert row["packages"] == 4  # python, libgeo, pandas, numpy

    # The same from the command line: --conda with a channel, PyPI requirements first.
    shipyard(
        scratch,
        "env",
        "create",
        "geo2",
        "numpy",
        "--conda",
        "libgeo",
        "python 3.12.*",
        "-c",
        channel.as_uri(),
        "--index-url",
        index.index_url,
        **env,
    )
    conda = tomllib.loads((tmp_path / "envs" / "geo2" / "pyproject.toml").read_text())["tool"][
        "shipyard"
    ]["conda"]
    assert conda["dependencies"] == ["libgeo", "python 3.12.*"]
    assert conda["channels"] == [channel.as_uri()]
    assert (tmp_path / "envs" / "geo2" / ".venv" / "lib" / "libgeo.so").is_file()
    ran = shipyard(elsewhere, "run", "--env", "geo2", "python", "-c", "import numpy", **env)
    assert ran.returncode == 0


def test_the_default_directory_is_under_the_user_data_directory() -> None:
    from platformdirs import user_data_dir

    from shipyard.project.named_envs import named_envs_dir
    from shipyard.settings import load_settings

    default = named_envs_dir(load_settings(project_table=None, cli={}, environ={}))
    assert default == Path(user_data_dir("shipyard", appauthor=False)) / "envs"
    chosen = load_settings(project_table=None, cli={}, environ={"SHIPYARD_ENV_DIR": "~/e"})
    assert named_envs_dir(chosen) == Path.home() / "e"
