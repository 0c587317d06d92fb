"""Wheel variants (PEP 825 draft) end to end: an index serving CUDA variant wheels of one
version (labels ``cu126``, ``cu124``, ``null``) with its ``-variants.json`` and a plain
fallback wheel; ``shipyard lock`` writes a lock packaging validates, ``shipyard sync``
installs the variant the (faked) CUDA driver supports and switches when it changes."""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from packaging.pylock import Pylock

from e2e.test_local_index import installed, new_project, shipyard
from support import IndexServer, build_wheel
from support.uv_install import uv_install_lock
from support.variant_wheels import Variant, publish_variants

#: the reference NVIDIA provider's properties: a wheel needs a driver at least this new
CUDA_VARIANTS = [
    Variant("cu126", ["nvidia :: cuda_version_lower_bound :: 12.6"]),
    Variant("cu124", ["nvidia :: cuda_version_lower_bound :: 12.4"]),
    Variant("null"),
]
#: as the variant metadata names the provider (the plugin shipyard reimplements)
NVIDIA = {"nvidia": {"requires": ["nvidia-variant-provider>=0.0.2,<1"]}}


def _index(make_index, variants=CUDA_VARIANTS, **options: Any) -> IndexServer:  # type: ignore[no-untyped-def]
    """An index with gpu-kernels 1.0's variant wheels (see :func:`publish_variants` for
    ``options``) besides the plain one; ``dialect`` picks HTML or JSON pages."""
    index: IndexServer = make_index([], dialect=options.pop("dialect", "json"))
    publish_variants(
        index.root,
        "gpu-kernels",
        "1.0",
        variants,
        namespaces=["nvidia"],
        providers=NVIDIA,
        **options,
    )
    return index


def _variant(project: Path) -> str:
    """The label of the gpu-kernels wheel in .venv (``''``: the plain wheel)."""
    python = project / ".venv" / "bin" / "python"
    code = "import gpu_kernels; print(gpu_kernels.VARIANT)"
    ran = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return ran.stdout.strip()


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _lock(project: Path) -> dict[str, Any]:
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    return document


def _package(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in document["packages"] if p["name"] == name)


def test_sync_installs_the_variant_the_driver_supports_and_switches(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index)
    project = new_project(tmp_path, index, ["gpu-kernels"])
    document = _lock(project)
    entry = _package(document, "gpu-kernels")
    assert [w["url"].rsplit("/", 1)[1] for w in entry["wheels"]] == [
        "gpu_kernels-1.0-py3-none-any.whl"
    ]
    table = entry["tool"]["shipyard"]
    assert sorted(w["url"].rsplit("/", 1)[1] for w in table["variant-wheels"]) == [
        "gpu_kernels-1.0-py3-none-any-cu124.whl",
        "gpu_kernels-1.0-py3-none-any-cu126.whl",
        "gpu_kernels-1.0-py3-none-any-null.whl",
    ]
    assert all(w["hashes"]["sha256"] and w["size"] for w in table["variant-wheels"])
    assert table["variants-json"]["variants"]["cu124"] == {
        "nvidia": {"cuda_version_lower_bound": ["12.4"]}
    }
    assert table["variants-json"]["default-priorities"]["namespace"] == ["nvidia"]
    text = (project / "pylock.toml").read_text()
    assert "[packages.tool.shipyard]\nvariant-wheels = [\n" in text
    assert "[packages.tool.shipyard.variants-json.variants]\n" in text
    assert _lock(project) == document  # the same inputs: the same lock

    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.4")
    assert _variant(project) == "cu124"
    assert installed(project) == {"gpu-kernels": "1.0"}
    again = shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.4")
    assert "Audited 1 package" in _said(again)  # the stamp's no-op path
    # a newer driver: the stamp notices, and the same version is replaced by its cu126 build
    dry = shipyard(project, "sync", "--dry-run", CONDA_OVERRIDE_CUDA="12.8")
    assert "+ gpu-kernels==1.0 (variant cu126) - gpu-kernels==1.0 (variant cu124)" in _said(dry)
    assert _variant(project) == "cu124"
    newer = shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.8")
    assert "+ gpu-kernels==1.0 (variant cu126) - gpu-kernels==1.0 (variant cu124)" in _said(newer)
    assert _variant(project) == "cu126"
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="")  # no CUDA driver at all
    assert _variant(project) == "null"
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.2")  # older than every CUDA build
    assert _variant(project) == "null"
    # SHIPYARD_ACCELERATOR and --accelerator replace detection
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.8", SHIPYARD_ACCELERATOR="cpu")
    assert _variant(project) == "null"
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="", SHIPYARD_ACCELERATOR="cuda12.6")
    assert _variant(project) == "cu126"
    shipyard(project, "sync", "--accelerator", "cuda12.4", CONDA_OVERRIDE_CUDA="")
    assert _variant(project) == "cu124"
    bad = shipyard(project, "sync", CONDA_OVERRIDE_CUDA="twelve", check=False)
    assert bad.returncode == 2 and "Invalid CONDA_OVERRIDE_CUDA 'twelve'" in _said(bad)


def test_without_a_null_variant_no_driver_gets_the_plain_wheel(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index, CUDA_VARIANTS[:2], dialect="html")
    project = new_project(tmp_path, index, ["gpu-kernels"])
    document = _lock(project)
    variants = _package(document, "gpu-kernels")["tool"]["shipyard"]["variants-json"]
    assert sorted(variants["variants"]) == ["cu124", "cu126"]
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="")
    assert _variant(project) == ""
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.6")
    assert _variant(project) == "cu126"
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="11.8")
    assert _variant(project) == ""


def test_other_tools_read_the_lock_and_install_the_plain_wheel(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index)
    project = new_project(tmp_path, index, ["gpu-kernels"])
    _lock(project)
    python = uv_install_lock(project / "pylock.toml", tmp_path / "uv-env")
    code = "import gpu_kernels; print(repr(gpu_kernels.VARIANT))"
    ran = subprocess.run([str(python), "-c", code], capture_output=True)
    assert ran.stdout.strip() == b"''", ran.stderr
    # export lists every file's hash; tree and outdated read the lock as any other
    exported = shipyard(project, "export", "--format", "requirements-txt").stdout
    for wheel in index.root.glob("gpu_kernels-*.whl"):
        assert f"sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" in exported
    assert "gpu-kernels" in shipyard(project, "tree").stdout
    shipyard(project, "outdated")


def test_variants_serve_a_platform_the_plain_wheels_do_not(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index, non_variant=False)
    build_wheel(index.root, "gpu-kernels", "1.0", tag="py3-none-win_amd64")
    project = new_project(tmp_path, index, ["gpu-kernels"])
    document = _lock(project)
    assert [w["url"].rsplit("/", 1)[1] for w in _package(document, "gpu-kernels")["wheels"]] == [
        "gpu_kernels-1.0-py3-none-win_amd64.whl"
    ]
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="")
    assert _variant(project) == "null"
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.4")
    assert _variant(project) == "cu124"


def test_variant_wheels_without_their_metadata_are_skipped_with_a_warning(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index, index_json=False)
    project = new_project(tmp_path, index, ["gpu-kernels"])
    result = shipyard(project, "lock")
    assert "Skipping the wheel variants of gpu-kernels 1.0" in _said(result)
    assert "gpu_kernels-1.0-variants.json" in _said(result)
    document = tomllib.loads((project / "pylock.toml").read_text())
    assert "tool" not in _package(document, "gpu-kernels")
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.8")
    assert _variant(project) == ""


def test_invalid_variant_metadata_is_named_and_its_variants_skipped(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index)
    (index.root / "gpu_kernels-1.0-variants.json").write_text('{"variants": []}')
    project = new_project(tmp_path, index, ["gpu-kernels"])
    result = shipyard(project, "lock")
    said = _said(result)
    assert "Skipping the wheel variants of gpu-kernels 1.0" in said
    assert "Invalid wheel variant metadata in" in said and "default-priorities" in said
    shipyard(project, "sync", CONDA_OVERRIDE_CUDA="12.8")
    assert _variant(project) == ""


def test_a_version_with_only_variant_wheels_is_refused_clearly(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = _index(make_index, non_variant=False)
    project = new_project(tmp_path, index, ["gpu-kernels"])
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    said = _said(result)
    assert "gpu-kernels 1.0 has only wheel variants (PEP 825 draft)" in said
    assert "pypa/packaging#1148" in said and "Traceback" not in said
