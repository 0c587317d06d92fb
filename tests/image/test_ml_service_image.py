"""The example project's production image, built from its committed lock with wheels
from the real PyPI: pushed, pulled with skopeo, unpacked with umoci, run with chroot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from e2e.test_local_index import shipyard
from support.oci_tools import (
    Registry,
    read_blob,
    run_in_chroot,
    skopeo_copy,
    skopeo_inspect_raw,
    umoci_unpack,
)

pytestmark = [pytest.mark.slow, pytest.mark.network]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-service"


def test_ml_service_image_runs_and_its_dependency_layer_is_stable(
    tmp_path: Path, amd64_base: tuple[Path, str], registry: Registry
) -> None:
    project = tmp_path / "ml-service"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".venv", "*.egg-info", "build"))
    base_layout, base_tag = amd64_base
    target = f"{registry.host}/examples/ml-service:0.1.0"
    first = shipyard(
        project,
        "image",
        "build",
        "--frozen",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--push",
        target,
    )
    said = " ".join(first.stderr.split())
    assert "linux/amd64: Python 3.11" in said and f"Pushed {target}" in said

    pulled = tmp_path / "pulled"
    skopeo_copy(registry.ref("examples/ml-service:0.1.0"), f"oci:{pulled}:0.1.0")
    manifest = skopeo_inspect_raw(f"oci:{pulled}:0.1.0")
    config = json.loads(read_blob(pulled, manifest["config"]))["config"]
    rootfs = umoci_unpack(pulled, "0.1.0", tmp_path / "bundle")
    env = dict(item.split("=", 1) for item in config["Env"])
    ran = run_in_chroot(
        rootfs, config["Cmd"], env=env, timeout=120, cwd=config["WorkingDir"], user=config["User"]
    )
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert answer["regions"]["east"] == {"mean": 180.5, "sum": 361.0}
    assert not (rootfs / "app/.venv/lib/python3.11/site-packages/pytest").exists(), (
        "the dev group stays out of the production image"
    )

    # the same lock, built again (after a code change), keeps its dependency layer
    (project / "src" / "ml_service" / "__init__.py").write_text(
        (project / "src" / "ml_service" / "__init__.py").read_text() + "\n# changed\n"
    )
    shipyard(
        project,
        "image",
        "build",
        "--frozen",
        "--base",
        f"oci:{base_layout}:{base_tag}",
        "--output",
        f"oci:{tmp_path / 'again'}:0.1.0",
    )
    again = skopeo_inspect_raw(f"oci:{tmp_path / 'again'}:0.1.0")
    assert again["layers"][-2]["digest"] == manifest["layers"][-2]["digest"]
    assert again["layers"][-1]["digest"] != manifest["layers"][-1]["digest"]
