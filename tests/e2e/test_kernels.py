"""``shipyard kernel``: the project's environment as a Jupyter kernel, seen by real Jupyter.

The hermetic tests give the project a stand-in ``ipykernel`` from the local index whose
``ipykernel_launcher`` writes down where it runs into the "connection file": that runs
the kernelspec's own ``argv`` as Jupyter would. The last test runs real ipykernel (from
PyPI, so marked ``network``) under ``jupyter nbconvert --execute``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.test_local_index import new_project, shipyard
from support import IndexServer, pkg

#: Stands in for ipykernel's launcher: records the interpreter's prefix, the activation
#: variables, the working directory and whether ``helper`` is importable, as JSON, into
#: the file given with ``-f`` (where Jupyter passes the connection file).
LAUNCHER = """\
import importlib.util, json, os, sys
with open(sys.argv[sys.argv.index("-f") + 1], "w") as out:
    json.dump({
        "prefix": sys.prefix,
        "virtual_env": os.environ.get("VIRTUAL_ENV"),
        "conda_prefix": os.environ.get("CONDA_PREFIX"),
        "cwd": os.getcwd(),
        "helper": importlib.util.find_spec("helper") is not None,
    }, out)
"""

PACKAGES = [
    pkg(
        "ipykernel",
        "6.29.5",
        files={
            "ipykernel/__init__.py": "",
            "ipykernel/resources/logo-64x64.png": b"\x89PNG\r\n\x1a\nnot really",
            "ipykernel_launcher.py": LAUNCHER,
        },
    ),
    pkg("helper", "1.0"),
]

GROUPS = '\n[dependency-groups]\ndev = ["ipykernel"]\n'


def _jupyter(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Real Jupyter (``python -m jupyter``) looking at ``data_dir`` for kernels."""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir), "JUPYTER_PLATFORM_DIRS": "1"}
    env["JUPYTER_CONFIG_DIR"] = str(data_dir.parent / "jupyter-config")
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


def _jupyter_kernels(data_dir: Path) -> dict[str, str]:
    """``jupyter kernelspec list``: name -> directory."""
    listed = json.loads(_jupyter(data_dir, "kernelspec", "list", "--json").stdout)
    return {name: entry["resource_dir"] for name, entry in listed["kernelspecs"].items()}


def _start(kernel_json: Path, cwd: Path) -> dict[str, object]:
    """Run the kernelspec's argv as Jupyter does (its own working directory, the
    connection file filled in) and return what the stand-in launcher wrote."""
    spec = json.loads(kernel_json.read_text())
    connection = cwd / "connection.json"
    argv = [str(connection) if a == "{connection_file}" else a for a in spec["argv"]]
    started = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    result: dict[str, object] = json.loads(connection.read_text())
    return result


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.fixture
def index(make_index) -> IndexServer:  # type: ignore[no-untyped-def]
    server: IndexServer = make_index(PACKAGES)
    return server


def test_install_list_and_remove_a_kernel_jupyter_sees(tmp_path: Path, index: IndexServer) -> None:
    project = new_project(tmp_path, index, [], name="Data-Proj", extra=GROUPS)
    data = tmp_path / "jupyter"
    jupyter = {"JUPYTER_DATA_DIR": str(data)}

    result = shipyard(project, "kernel", "install", **jupyter)
    assert "Installed Jupyter kernel 'data-proj' (Python (Data-Proj))" in _said(result)
    spec_dir = data / "kernels" / "data-proj"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    root = str(project.resolve())
    assert spec["argv"][:6] == [sys.executable, "-m", "shipyard", "run", "--project", root]
    assert "--frozen" in spec["argv"]
    assert spec["argv"][-5:] == ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["display_name"] == "Python (Data-Proj)"
    assert spec["language"] == "python"
    assert spec["metadata"]["shipyard"] == {"project": root}
    assert (spec_dir / "logo-64x64.png").read_bytes().startswith(b"\x89PNG")
    assert _jupyter_kernels(data)["data-proj"] == str(spec_dir)

    # Jupyter starts it from the notebook's folder: it runs in the project's .venv
    notebooks = tmp_path / "elsewhere"
    notebooks.mkdir()
    ran = _start(spec_dir / "kernel.json", notebooks)
    venv = project / ".venv"
    assert Path(str(ran["prefix"])).resolve() == venv.resolve()
    assert ran["virtual_env"] == str(venv) and ran["cwd"] == str(notebooks)

    # a lock changed after install (pulled, or `add --no-sync`): the next start syncs to it
    shipyard(project, "add", "--no-sync", "helper")
    assert ran["helper"] is False
    assert _start(spec_dir / "kernel.json", notebooks)["helper"] is True

    named = shipyard(
        project, "kernel", "install", "--name", "Analysis", "--display-name", "Lab env", **jupyter
    )
    assert "'analysis' (Lab env)" in _said(named)
    listing = shipyard(project, "kernel", "list", **jupyter).stdout
    assert "data-proj" in listing and "analysis" in listing and root in listing
    rows = json.loads(shipyard(project, "kernel", "list", "--json", **jupyter).stdout)
    assert {r["name"]: r["shipyard"] for r in rows} == {"analysis": True, "data-proj": True}

    again = shipyard(project, "kernel", "install", **jupyter)
    assert "Updated Jupyter kernel 'data-proj'" in _said(again)

    removed = shipyard(project, "kernel", "remove", "analysis", **jupyter)
    assert "Removed Jupyter kernel 'analysis' (Lab env)" in _said(removed)
    assert set(_jupyter_kernels(data)) >= {"data-proj"}
    assert "analysis" not in _jupyter_kernels(data)
    shipyard(project, "kernel", "remove", **jupyter)  # without a name: this project's
    assert not (data / "kernels" / "data-proj").exists()
    gone = shipyard(project, "kernel", "remove", "data-proj", check=False, **jupyter)
    assert gone.returncode == 1 and "no Jupyter kernel named 'data-proj'" in _said(gone)


def test_kernels_shipyard_did_not_install_are_left_alone(
    tmp_path: Path, index: IndexServer
) -> None:
    project = new_project(tmp_path, index, [], extra=GROUPS)
    data = tmp_path / "jupyter"
    theirs = data / "kernels" / "python3"
    theirs.mkdir(parents=True)
    (theirs / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        )
    )
    jupyter = {"JUPYTER_DATA_DIR": str(data)}
    listing = shipyard(project, "kernel", "list", **jupyter).stdout
    assert "python3" in listing and "not shipyard's" in listing

    refused = shipyard(project, "kernel", "remove", "python3", check=False, **jupyter)
    assert refused.returncode == 2
    assert "was not installed by shipyard" in _said(refused) and "--force" in _said(refused)
    assert (theirs / "kernel.json").is_file()

    clash = shipyard(project, "kernel", "install", "--name", "python3", check=False, **jupyter)
    assert clash.returncode == 2 and "already exists" in _said(clash)
    assert json.loads((theirs / "kernel.json").read_text())["display_name"].startswith("Python 3")

    shipyard(project, "kernel", "remove", "python3", "--force", **jupyter)
    assert not theirs.exists()

    bad = shipyard(project, "kernel", "install", "--name", "../up", check=False, **jupyter)
    assert bad.returncode == 2 and "not a valid Jupyter kernel name" in _said(bad)
    assert not (data / "up").exists() and not (data / "kernels" / "up").exists()


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"JUPYTER_DATA_DIR": "/srv/jupyter-data"},
        {"XDG_DATA_HOME": "/srv/xdg"},
        {"JUPYTER_PLATFORM_DIRS": "1", "XDG_DATA_HOME": "/srv/xdg"},
        {"JUPYTER_PLATFORM_DIRS": "no"},
    ],
)
def test_the_kernel_directory_is_where_jupyter_looks(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    from jupyter_core.paths import jupyter_data_dir as jupyters

    from shipyard.project.kernels import jupyter_data_dir, kernels_dir

    for key in ("JUPYTER_DATA_DIR", "XDG_DATA_HOME", "JUPYTER_PLATFORM_DIRS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    assert jupyter_data_dir() == Path(jupyters())
    assert kernels_dir() == Path(jupyters()) / "kernels"
    assert kernels_dir(Path("/opt/conda")) == Path("/opt/conda/share/jupyter/kernels")
    home = Path("~").expanduser().resolve()
    assert jupyter_data_dir({}, platform="darwin") == home / "Library" / "Jupyter"
    assert jupyter_data_dir({"APPDATA": "/appdata"}, platform="win32").parts[-2:] == (
        "appdata",
        "jupyter",
    )


def test_an_environment_without_ipykernel_is_refused_with_the_fix(
    tmp_path: Path, index: IndexServer
) -> None:
    data = tmp_path / "jupyter"
    bare = new_project(tmp_path, index, [], name="bare")
    refused = shipyard(bare, "kernel", "install", check=False, JUPYTER_DATA_DIR=str(data))
    assert refused.returncode == 1
    assert "has no ipykernel" in _said(refused)
    assert "shipyard add --group dev ipykernel" in _said(refused)
    assert not (data / "kernels").exists()

    # ipykernel in a group sync leaves out: the hint names it, and the kernel keeps it
    grouped = new_project(
        tmp_path, index, [], name="grouped", extra='\n[dependency-groups]\nnb = ["ipykernel"]\n'
    )
    hinted = shipyard(grouped, "kernel", "install", check=False, JUPYTER_DATA_DIR=str(data))
    assert hinted.returncode == 1 and "pass --group nb" in _said(hinted)
    shipyard(grouped, "kernel", "install", "--group", "nb", JUPYTER_DATA_DIR=str(data))
    spec = json.loads((data / "kernels" / "grouped" / "kernel.json").read_text())
    assert "--group=nb" in spec["argv"]
    ran = _start(data / "kernels" / "grouped" / "kernel.json", tmp_path)
    assert Path(str(ran["prefix"])).resolve() == (grouped / ".venv").resolve()


def test_sync_suggests_a_kernel_once(tmp_path: Path, index: IndexServer) -> None:
    hint = "To use this environment in Jupyter: shipyard kernel install"
    jupyter = {"JUPYTER_DATA_DIR": str(tmp_path / "jupyter")}
    project = new_project(tmp_path, index, [], extra=GROUPS)
    assert hint in shipyard(project, "sync", **jupyter).stderr
    assert hint not in shipyard(project, "sync", "--frozen", **jupyter).stderr
    (project / ".venv" / "pyvenv.cfg").unlink()  # rebuilt: still not said again
    assert hint not in shipyard(project, "sync", **jupyter).stderr

    plain = new_project(tmp_path, index, ["helper"], name="plain")
    assert hint not in shipyard(plain, "sync", **jupyter).stderr

    # a project that has its kernel already is not told
    ready = new_project(tmp_path, index, [], name="ready", extra=GROUPS)
    shipyard(ready, "kernel", "install", **jupyter)
    assert hint not in shipyard(ready, "sync", "--frozen", **jupyter).stderr


@pytest.mark.slow
def test_a_conda_project_kernel_runs_in_the_prefix(
    tmp_path: Path, index: IndexServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from support.conda_channel import build_channel, conda_python_package

    found = sorted(Path("~/.pyenv/versions").expanduser().glob("3.12.*"))
    assert found, "this test needs a CPython 3.12 under ~/.pyenv/versions"
    channel = build_channel(
        tmp_path_factory.mktemp("conda") / "channel",
        [conda_python_package(found[-1], found[-1].name)],
    )
    project = new_project(
        tmp_path,
        index,
        [],
        name="condaproj",
        extra=f'\n[tool.shipyard.conda]\nchannels = ["{channel.as_uri()}"]\n'
        'dependencies = ["python 3.12.*"]\nplatforms = ["linux-64"]\n' + GROUPS,
    )
    data = tmp_path / "jupyter"
    shipyard(project, "kernel", "install", JUPYTER_DATA_DIR=str(data))
    prefix = project / ".venv"
    assert (prefix / "conda-meta").is_dir()
    ran = _start(data / "kernels" / "condaproj" / "kernel.json", tmp_path)
    assert Path(str(ran["prefix"])).resolve() == prefix.resolve()
    assert ran["conda_prefix"] == str(prefix) and ran["virtual_env"] is None


@pytest.mark.network
def test_nbconvert_executes_a_notebook_in_the_project_environment(tmp_path: Path) -> None:
    import nbformat

    project = tmp_path / "nbproj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "nbproj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = []\n\n[dependency-groups]\ndev = ["ipykernel>=6.29"]\n\n'
        "[tool.shipyard]\nenvironments = [\"sys_platform == 'linux'\"]\n"
    )
    data = tmp_path / "jupyter"
    shipyard(project, "kernel", "install", JUPYTER_DATA_DIR=str(data))
    assert "nbproj" in _jupyter(data, "kernelspec", "list").stdout

    notebook = tmp_path / "notebooks" / "nb.ipynb"
    notebook.parent.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import os, sys\nprint(sys.prefix)"))
    nbformat.write(nb, notebook)
    _jupyter(
        data,
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        str(notebook),
        "--ExecutePreprocessor.kernel_name=nbproj",
        "--output",
        "executed.ipynb",
    )
    executed = nbformat.read(notebook.parent / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs).strip()
    assert Path(printed).resolve() == (project / ".venv").resolve()
