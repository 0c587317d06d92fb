"""``shipyard export`` to the formats pip reads: requirements files that pip installs
with ``--require-hashes`` into a fresh venv, constraints, PEP 751 locks per selection."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from support import pkg

from .test_local_index import installed, new_project, shipyard

PACKAGES = [
    pkg("app-core", "2.0", ["helper>=2", "util[fast]", "winonly; sys_platform == 'win32'"]),
    pkg("helper", "2.1"),
    pkg("util", "1.0", extras={"fast": ["speedup"]}),
    pkg("speedup", "0.3"),
    pkg("winonly", "1.0"),
    pkg("devtool", "1.0", ["helper"]),
    pkg("plotting", "3.0"),
]

GROUPS = '\n[dependency-groups]\ndev = ["devtool"]\n'
EXTRAS = '[project.optional-dependencies]\nplots = ["plotting"]\n'


def _project(tmp_path: Path, index) -> Path:  # type: ignore[no-untyped-def]
    project = new_project(tmp_path, index, ["app-core"])
    text = (project / "pyproject.toml").read_text()
    head, tool = text.split("\n[tool.shipyard]")
    (project / "pyproject.toml").write_text(
        head + "\n" + EXTRAS + GROUPS + "\n[tool.shipyard]" + tool
    )
    return project


def _pip_installed(venv: Path) -> dict[str, str]:
    site = next((venv / "lib").glob("python3.*/site-packages"))
    found = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].split("-", 1)
        found[name.replace("_", "-").lower()] = version
    for tool in ("pip", "setuptools"):
        found.pop(tool, None)
    return found


def test_requirements_txt_installs_with_pip_require_hashes(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "sync")
    shipyard(project, "export", "--format", "requirements-txt", "-o", "requirements.txt")
    text = (project / "requirements.txt").read_text()
    assert f"--index-url {index.index_url}" in text
    assert 'winonly==1.0 ; sys_platform == "win32" \\' in text
    assert "    # via util" in text.split("speedup==0.3")[1].split("\n==")[0]
    assert "    # via proj (group: dev)" in text
    # the same lock and options give the same bytes
    again = shipyard(project, "export", "--format", "requirements-txt", "-o", "requirements.txt")
    assert "Wrote" in again.stderr + again.stdout
    assert (project / "requirements.txt").read_text() == text

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--require-hashes",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
            str(project / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert _pip_installed(venv) == installed(project)


def test_tampered_hash_is_refused_by_pip(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "lock")
    text = shipyard(project, "export", "--format", "requirements-txt").stdout
    digest = text.split("helper==2.1 \\\n    --hash=sha256:")[1][:64]
    tampered = text.replace(digest, "0" * 64)
    (project / "bad.txt").write_text(tampered)
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--require-hashes",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
            str(project / "bad.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode != 0 and "DO NOT MATCH THE HASHES" in pip.stderr


def test_selection_and_environment_collapse_markers(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "lock")
    linux = shipyard(
        project,
        "export",
        "--format",
        "requirements-txt",
        "--no-hashes",
        "--extra",
        "plots",
        "--for-environment",
        "sys_platform == 'linux' and python_version == '3.11'",
    ).stdout
    lines = [line for line in linux.splitlines() if line and not line.startswith(("#", " ", "-"))]
    assert lines == [
        "app-core==2.0",
        "devtool==1.0",
        "helper==2.1",
        "plotting==3.0",
        "speedup==0.3",
        "util==1.0",
    ]
    windows = shipyard(
        project,
        "export",
        "--format",
        "constraints",
        "--no-default-groups",
        "--for-environment",
        "sys_platform == 'win32'",
    ).stdout
    assert "winonly==1.0\n" in windows and "devtool" not in windows and "--hash" not in windows
    bad = shipyard(
        project,
        "export",
        "--format",
        "requirements-txt",
        "--for-environment",
        "sys_platform != 'linux'",
        check=False,
    )
    assert bad.returncode == 2 and "only ==" in bad.stderr
    unknown = shipyard(
        project, "export", "--format", "requirements-txt", "--group", "docs", check=False
    )
    assert unknown.returncode == 2 and "no dependency group docs" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), {"app-core", "helper", "util", "speedup", "winonly", "devtool"}),
        (
            ("--no-default-groups", "--extra", "plots"),
            {"app-core", "helper", "util", "speedup", "winonly", "plotting"},
        ),
    ],
)
def test_pylock_export_for_a_selection(
    tmp_path: Path,
    make_index,
    args: tuple[str, ...],  # type: ignore[no-untyped-def]
    expected: set[str],
) -> None:
    index = make_index(PACKAGES)
    project = _project(tmp_path, index)
    shipyard(project, "lock")
    shipyard(project, "export", "--format", "pylock", *args, "-o", "pylock.prod.toml")
    document = tomllib.loads((project / "pylock.prod.toml").read_text())
    Pylock.from_dict(document).validate()
    assert {p["name"] for p in document["packages"]} == expected
    assert all("dependency_groups" not in p.get("marker", "") for p in document["packages"])
    assert "input-hash" not in document["tool"]["shipyard"]
    wrong = shipyard(project, "export", "--format", "pylock", "-o", "locked.toml", check=False)
    assert wrong.returncode == 2 and "pylock.<name>.toml" in wrong.stderr
