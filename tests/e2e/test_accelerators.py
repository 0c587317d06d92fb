"""Accelerator variants in one lock: two PyTorch-shaped indexes (the same project at
``X+cpu`` and ``X+cu124``, the CUDA build requiring runtime wheels from a third index),
locked together, selected at sync from the (faked) driver, and read by uv."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from packaging.pylock import Pylock

from e2e.test_local_index import installed, shipyard
from support import pkg
from support.uv_install import uv_install_lock


def _torch(local: str, deps: list[str]) -> object:
    return pkg(
        "torchy",
        f"2.5.1+{local}",
        deps,
        files={"torchy/__init__.py": f"BUILD = '{local}'\n"},
    )


def _project(tmp_path: Path, make_index) -> tuple[Path, object]:  # type: ignore[no-untyped-def]
    main = make_index(
        [
            pkg("nvidia-rt-cu12", "12.4.5", files={"nvidia_rt/__init__.py": ""}),
            pkg("commonlib", "1.0", files={"commonlib/__init__.py": ""}),
        ]
    )
    cpu = make_index([_torch("cpu", ["commonlib"])])
    cuda = make_index([_torch("cu124", ["commonlib", "nvidia-rt-cu12==12.4.5"])])
    project = tmp_path / "trainer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "trainer"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["torchy==2.5.1"]\n\n'
        f'[tool.shipyard]\nindex-url = "{main.index_url}"\n\n'
        "[[tool.shipyard.index]]\n"
        f'name = "torch-cu124"\nurl = "{cuda.index_url}"\nexplicit = true\n'
        'accelerator = "cuda>=12.4"\n\n'
        "[[tool.shipyard.index]]\n"
        f'name = "torch-cpu"\nurl = "{cpu.index_url}"\nexplicit = true\naccelerator = "cpu"\n\n'
        "[tool.shipyard.sources]\n"
        'torchy = [{ index = "torch-cu124" }, { index = "torch-cpu" }]\n'
    )
    return project, main


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((result.stdout + result.stderr).split())


def _build(project: Path, **env: str) -> str:
    code = "import torchy; print(torchy.BUILD)"
    return shipyard(project, "run", "python", "-c", code, **env).stdout.strip()


def test_one_lock_holds_both_variants_and_uv_installs_the_default(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    project, _main = _project(tmp_path, make_index)
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    entries = {(p["name"], p["version"]): p.get("marker") for p in document["packages"]}
    assert entries == {
        ("commonlib", "1.0"): None,
        ("nvidia-rt-cu12", "12.4.5"): '"accelerator-cuda12-4" in dependency_groups',
        ("torchy", "2.5.1+cpu"): '"accelerator-cuda12-4" not in dependency_groups',
        ("torchy", "2.5.1+cu124"): '"accelerator-cuda12-4" in dependency_groups',
    }
    assert "accelerator-cuda12-4" in document["dependency-groups"]
    record = document["tool"]["shipyard"]["accelerators"]
    assert record["default"] == "cpu"
    assert [v["accelerator"] for v in record["variants"]] == ["cpu", "cuda>=12.4"]

    python = uv_install_lock(project / "pylock.toml", tmp_path / "uv-env")
    code = "import torchy, importlib.util as u; print(torchy.BUILD, u.find_spec('nvidia_rt'))"
    ran = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert ran.stdout.strip() == "cpu None", ran.stderr
    # the variant's group gives uv the CUDA build and its runtime wheels
    gpu = uv_install_lock(
        project / "pylock.toml", tmp_path / "uv-gpu", "--group", "accelerator-cuda12-4"
    )
    ran = subprocess.run([str(gpu), "-c", code], capture_output=True, text=True)
    assert ran.stdout.startswith("cu124 ModuleSpec(name='nvidia_rt'"), ran.stderr


def test_sync_installs_the_variant_the_machine_has_and_switches(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project, _main = _project(tmp_path, make_index)
    no_gpu = {"CONDA_OVERRIDE_CUDA": ""}
    cuda = {"CONDA_OVERRIDE_CUDA": "12.4"}
    assert _build(project, SHIPYARD_ACCELERATOR="cpu") == "cpu"
    assert set(installed(project)) == {"torchy", "commonlib"}

    dry = shipyard(project, "sync", "--dry-run", **cuda)
    assert "Accelerator variant cuda12.4: CUDA 12.4 (CONDA_OVERRIDE_CUDA) satisfies cuda>=12.4" in (
        _said(dry)
    )
    assert "torchy==2.5.1+cu124" in _said(dry)
    synced = shipyard(project, "sync", **cuda)
    assert "- torchy==2.5.1+cpu" in _said(synced) and "+ nvidia-rt-cu12==12.4.5" in _said(synced)
    assert installed(project) == {
        "torchy": "2.5.1+cu124",
        "commonlib": "1.0",
        "nvidia-rt-cu12": "12.4.5",
    }
    # the no-op fast path notices the machine changed (here: the override)
    assert _build(project, **cuda) == "cu124"
    assert _build(project, **no_gpu) == "cpu"
    assert set(installed(project)) == {"torchy", "commonlib"}  # the runtime wheels left
    # an older driver cannot run the CUDA 12.4 build: the CPU one it is
    old = shipyard(project, "sync", "--dry-run", CONDA_OVERRIDE_CUDA="11.8")
    assert "Accelerator variant cpu: CUDA 11.8 (CONDA_OVERRIDE_CUDA): no GPU variant fits" in (
        _said(old)
    )
    assert "Audited 2 packages" in _said(old)
    assert _build(project, CONDA_OVERRIDE_CUDA="11.8") == "cpu"
    verbose = shipyard(project, "-v", "sync", SHIPYARD_ACCELERATOR="cpu")
    assert "Accelerator variant cpu: no CUDA or ROCm (SHIPYARD_ACCELERATOR)" in _said(verbose)
    # --accelerator wins over detection
    switched = shipyard(project, "sync", "--accelerator", "cuda12.6", **no_gpu)
    assert "Accelerator variant cuda12.4: CUDA 12.6 (--accelerator)" in _said(switched)
    bad = shipyard(project, "sync", "--accelerator", "tpu", check=False)
    assert bad.returncode == 2 and "Invalid accelerator 'tpu'" in _said(bad)


def test_a_list_source_needs_accelerator_indexes(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project, _main = _project(tmp_path, make_index)
    text = (project / "pyproject.toml").read_text().replace('accelerator = "cpu"\n', "")
    (project / "pyproject.toml").write_text(text)
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    assert "lists the index 'torch-cpu', which has no accelerator" in _said(result)


def test_docker_init_writes_the_chosen_variant(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    project, _main = _project(tmp_path, make_index)
    entry = ("--entrypoint", "python -m torchy")
    shipyard(project, "docker", "init", "--installer", "pip", *entry)
    requirements = (project / "requirements.lock.txt").read_text()
    assert "torchy==2.5.1+cpu" in requirements and "nvidia-rt-cu12" not in requirements
    shipyard(project, "docker", "init", "--installer", "pip", "--accelerator", "cuda12.4", *entry)
    requirements = (project / "requirements.lock.txt").read_text()
    assert "torchy==2.5.1+cu124" in requirements and "nvidia-rt-cu12==12.4.5" in requirements
    assert "torchy==2.5.1+cpu" not in requirements
    shipyard(project, "docker", "init", "--installer", "shipyard", "--force", *entry)
    assert "--accelerator cpu" in (project / "Dockerfile").read_text()
