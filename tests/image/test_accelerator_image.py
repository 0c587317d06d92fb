"""``image build --accelerator``: the image gets the lock's variant asked for (the CUDA
build and its runtime wheels), or the default (CPU) one, whatever the build machine has."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from e2e.test_accelerators import _project
from e2e.test_local_index import shipyard
from support.oci_tools import check_image_layout, read_blob

pytestmark = pytest.mark.slow


def _dist_infos(layout: Path, manifest: dict[str, object]) -> set[str]:
    """The ``*.dist-info`` directory names in every layer of the image."""
    found = set()
    for descriptor in manifest["layers"]:  # type: ignore[attr-defined]
        data = gzip.decompress(read_blob(layout, descriptor))
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for name in archive.getnames():
                for part in name.split("/"):
                    if part.endswith(".dist-info"):
                        found.add(part)
    return found


def test_the_image_gets_the_variant_asked_for(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    amd64_base: tuple[Path, str],
) -> None:
    project, _main = _project(tmp_path, make_index)
    with (project / "pyproject.toml").open("a") as manifest:
        manifest.write('\n[tool.shipyard.docker]\ncmd = ["python", "-m", "torchy"]\n')
    base_layout, base_tag = amd64_base
    base = ("--base", f"oci:{base_layout}:{base_tag}", "--platform", "linux/amd64")
    gpu = tmp_path / "gpu"
    built = shipyard(
        project,
        "image",
        "build",
        *base,
        "--accelerator",
        "cuda12.4",
        "--output",
        f"oci:{gpu}:1.0",
        CONDA_OVERRIDE_CUDA="",  # the build machine has no GPU: it does not matter
    )
    assert "Accelerator variant cuda12.4" in built.stderr, built.stderr
    manifest, _config = check_image_layout(gpu, "1.0")
    names = _dist_infos(gpu, manifest)
    assert "torchy-2.5.1+cu124.dist-info" in names
    assert "nvidia_rt_cu12-12.4.5.dist-info" in names
    cpu = tmp_path / "cpu"
    shipyard(
        project, "image", "build", *base, "--output", f"oci:{cpu}:1.0", CONDA_OVERRIDE_CUDA="12.4"
    )
    manifest, _config = check_image_layout(cpu, "1.0")
    names = _dist_infos(cpu, manifest)
    assert "torchy-2.5.1+cpu.dist-info" in names
    assert not any(n.startswith("nvidia_rt") for n in names)
