"""The main job on the real PyPI: init, add, run, remove, lock --upgrade-package, sync --frozen.

Marked ``network``: runs in CI (``CI=true``) or with ``SHIPYARD_NETWORK_TESTS=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from shipyard.specs.targets import default_targets
from support.venvs import venv_with_runner_pip

pytestmark = pytest.mark.network

#: Real-world requirement files (copies of ../shared/workloads; each names its source).
DATA = Path(__file__).resolve().parents[1] / "data"


def shipyard(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would (a separate process)."""
    result = subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"shipyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def installed(project: Path) -> set[str]:
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    return {p.name.split("-")[0].lower().replace("_", "-") for p in site.glob("*.dist-info")}


def test_main_job_on_pypi(tmp_path: Path) -> None:
    shipyard(tmp_path, "init", "demo", "--python", "3.11")
    project = tmp_path / "demo"
    shipyard(project, "add", "pandas>=2.2", "requests", "rich")
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    deps = manifest["project"]["dependencies"]
    assert deps[0] == "pandas>=2.2" and deps[1].startswith("requests>=")

    document = tomllib.loads((project / "pylock.toml").read_text())
    lock = Pylock.from_dict(document)
    lock.validate()
    names = {p.name for p in lock.packages}
    assert {"pandas", "numpy", "requests", "rich", "pygments", "markdown-it-py", "mdurl"} <= names
    metadata = _lock_metadata(document)
    for target in default_targets(SpecifierSet(">=3.11"), ()):
        if target.python > (3, 13):
            continue
        picked = {
            p.name: p.version
            for p, _dist in lock.select(
                environment=dict(target.markers),  # type: ignore[arg-type]
                tags=_tags_for(target),
            )
        }
        assert {"pandas", "numpy", "requests", "rich", "idna", "urllib3"} <= set(picked), (
            target.name
        )
        # Complete and consistent: every selected package's requirements for this target
        # are selected too, at versions they allow.
        for name, version in picked.items():
            for text in metadata[(name, str(version))]:
                dep = Requirement(text)
                if dep.marker is not None and not dep.marker.evaluate(
                    {**target.markers, "extra": ""}
                ):
                    continue
                dep_name = canonicalize_name(dep.name)
                assert dep_name in picked, f"{name} needs {dep} on {target.name}"
                assert dep.specifier.contains(picked[dep_name], prereleases=True), (name, dep)

    run = shipyard(project, "run", "python", "-c", "import pandas, requests, rich; print('ok')")
    assert run.stdout.strip() == "ok"

    shipyard(project, "remove", "rich")
    left = installed(project)
    assert not {"rich", "pygments", "markdown-it-py", "mdurl"} & left
    assert {"pandas", "requests"} <= left

    shipyard(project, "lock", "--upgrade-package", "requests")
    second = shipyard(project, "sync")
    assert "Audited" in second.stderr
    frozen = shipyard(project, "sync", "--frozen")
    assert frozen.returncode == 0


def _lock_metadata(document: dict) -> dict[tuple[str, str], tuple[str, ...]]:  # type: ignore[type-arg]
    """Requires-Dist of every locked package, fetched from the index with shipyard's fetcher."""
    from shipyard.index.http import HttpClient
    from shipyard.index.metadata import MetadataFetcher
    from shipyard.models import DistFile

    fetcher = MetadataFetcher(HttpClient(), None)
    result = {}
    for package in document["packages"]:
        if "wheels" not in package:
            continue
        wheel = package["wheels"][0]
        dist = DistFile(
            filename=wheel["url"].rsplit("/", 1)[-1],
            url=wheel["url"],
            hashes=(("sha256", wheel["hashes"]["sha256"]),),
        )
        result[(package["name"], package["version"])] = fetcher.fetch(dist).requires_dist
    return result


def _tags_for(target):  # type: ignore[no-untyped-def]
    from packaging.tags import compatible_tags, cpython_tags

    platforms = {
        ("linux", "x86_64"): [
            "manylinux_2_28_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
        ],
        ("linux", "aarch64"): [
            "manylinux_2_28_aarch64",
            "manylinux_2_17_aarch64",
            "manylinux2014_aarch64",
        ],
        ("macos", "x86_64"): [
            "macosx_14_0_x86_64",
            "macosx_11_0_x86_64",
            "macosx_10_9_x86_64",
            "macosx_10_9_universal2",
        ],
        ("macos", "arm64"): ["macosx_14_0_arm64", "macosx_11_0_arm64", "macosx_10_9_universal2"],
        ("windows", "AMD64"): ["win_amd64"],
    }[(target.platform, target.machine)]
    version = target.python
    return [
        *cpython_tags(version, platforms=platforms),
        *compatible_tags(version, platforms=platforms),
    ]


def test_pip_compile_of_a_real_file_is_accepted_by_pip_sync(tmp_path: Path) -> None:
    """trio's docs-requirements.in (its source is noted in the file itself), compiled with
    hashes, installs with pip-tools' pip-sync and gives the same set as ``shipyard pip sync``."""
    workload = DATA / "trio-docs.in"
    (tmp_path / "requirements.in").write_text(workload.read_text())
    shipyard(tmp_path, "pip", "compile", "--generate-hashes", "--python", sys.executable)
    text = (tmp_path / "requirements.txt").read_text()
    assert "sphinx==" in text and "    # via -r requirements.in" in text

    def venv(name: str) -> Path:
        path = tmp_path / name
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        return path

    by_pip_sync = venv_with_runner_pip(tmp_path / "by-pip-sync")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "piptools",
            "sync",
            "--python-executable",
            str(by_pip_sync / "bin" / "python"),
            "requirements.txt",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
            "PIP_CONFIG_FILE": os.devnull,
        },
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    by_shipyard = venv("by-shipyard")
    shipyard(tmp_path, "pip", "sync", "--python", str(by_shipyard))
    assert _venv_dists(by_shipyard) == _venv_dists(by_pip_sync)
    assert len(_venv_dists(by_shipyard)) >= 20


def test_sentry_requirements_import_sync_and_export_for_pip(tmp_path: Path) -> None:
    """Sentry's requirements-base.txt (tests/data; its source is noted in the
    file): ``init --from`` imports, locks and syncs it; the exported requirements.txt
    installs with ``pip --require-hashes --no-deps`` into a fresh venv and gives the same
    distributions as the synced .venv."""
    workload = DATA / "sentry-base.in"
    project = tmp_path / "sentry"
    project.mkdir()
    (project / "requirements.txt").write_text(workload.read_text())
    python310 = Path.home() / ".pyenv" / "versions"
    interpreter = next(iter(sorted(python310.glob("3.10*/bin/python3"))), None)
    assert interpreter is not None, "the pyenv 3.10 interpreter this machine has"
    # pyuwsgi==2.0.20.0 builds on 3.10 only (no tool installs it on 3.11)
    shipyard(project, "init", "--python", str(interpreter), "--from", "requirements.txt")
    synced = _venv_dists(project / ".venv")
    assert len(synced) > 100
    shipyard(project, "export", "--format", "requirements-txt", "-o", "exported.txt")
    fresh = tmp_path / "fresh"
    subprocess.run([str(interpreter), "-m", "venv", str(fresh)], check=True)
    pip = subprocess.run(
        [
            str(fresh / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--require-hashes",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
            str(project / "exported.txt"),
        ],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
            "PIP_CONFIG_FILE": os.devnull,
        },
        timeout=1800,
    )
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    assert set(_venv_dists(fresh).items()) == set(synced.items())


def _venv_dists(venv: Path) -> dict[str, str]:
    """name → version of every distribution in ``venv`` but pip and setuptools (both
    ``.dist-info`` and the ``.egg-info`` pip writes for some sdists)."""
    site = next((venv / "lib").glob("python3.*/site-packages"))
    found = {}
    for info in [*site.glob("*.dist-info"), *site.glob("*.egg-info")]:
        stem = info.name.rsplit(".", 1)[0]
        name, version = stem.split("-", 2)[:2]
        found[canonicalize_name(name)] = version
    return {k: v for k, v in found.items() if k not in ("pip", "setuptools")}


def test_a_project_on_python_39(tmp_path: Path) -> None:
    """Issue 6's check as a new user types it: init --python 3.9, add requests, run."""
    shipyard(tmp_path, "init", "legacy", "--python", "3.9")
    project = tmp_path / "legacy"
    shipyard(project, "add", "requests")
    version = shipyard(project, "run", "python", "-V").stdout.strip()
    assert version.startswith("Python 3.9."), version
    imported = shipyard(project, "run", "python", "-c", "import requests; print('ok')")
    assert imported.stdout.strip() == "ok"
