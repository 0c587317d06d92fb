"""How big is examples/ml-service as an image, next to the same environment packed
conda-pack style (the whole environment and its interpreter copied into one tarball)?

Usage (from the repository root, as root on Debian, with shipyard installed)::

    python3 bench/image_size.py            # writes bench/results/image-size.json

It builds the example's image from its committed lock on a debootstrap Debian
bookworm base (``tests/support/oci_tools.py``; minbase + python3, no Docker Hub),
twice, and reports each layer's compressed and unpacked size and whether the
dependency layer's digest repeated. For comparison it syncs the same lock into a
fresh environment with ``--link-mode copy`` and packs that environment together with
the interpreter's own installation (what conda-pack ships for a conda environment:
the prefix, interpreter and standard library included), gzip level 6, and reports
that tarball's size and unpacked size. Conda itself is not used (no conda channel is
reachable here); the comparison is about copying a whole environment versus layering
it on a shared base.

This is a measurement, not a test: nothing here asserts a size.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _run(argv: list[str], cwd: Path, **env: str) -> str:
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
    return result.stderr


def _tree_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            item = Path(folder, name)
            if not item.is_symlink():
                total += item.stat().st_size
    return total


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":")[1]


def _uncompressed(path: Path) -> int:
    import gzip

    total = 0
    with gzip.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            total += len(chunk)
    return total


def main() -> None:
    from support.oci_tools import debian_rootfs, ensure_debian_tools, make_base_image

    ensure_debian_tools()
    shipyard = [sys.executable, "-m", "shipyard"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="image-size-") as tmp:
        work = Path(tmp)
        base = work / "base"
        make_base_image(debian_rootfs("amd64"), base, "bookworm", arch="amd64")
        project = work / "ml-service"
        shutil.copytree(
            ROOT / "examples" / "ml-service",
            project,
            ignore=shutil.ignore_patterns(".venv", "*.egg-info", "build"),
        )
        digests = []
        for attempt in ("first", "second"):
            out = work / f"image-{attempt}"
            _run(
                [
                    *shipyard,
                    "image",
                    "build",
                    "--frozen",
                    "--base",
                    f"oci:{base}:bookworm",
                    "--output",
                    f"oci:{out}:1",
                ],
                project,
            )
            index = json.loads((out / "index.json").read_text())
            manifest = json.loads(_blob(out, index["manifests"][0]["digest"]).read_bytes())
            digests.append([layer["digest"] for layer in manifest["layers"]])
            if attempt == "first":
                layers = []
                roles = ["base"] * (len(manifest["layers"]) - 2) + ["dependencies", "project"]
                for role, layer in zip(roles, manifest["layers"], strict=True):
                    path = _blob(out, layer["digest"])
                    layers.append(
                        {
                            "role": role,
                            "digest": layer["digest"],
                            "compressed": layer["size"],
                            "unpacked": _uncompressed(path),
                        }
                    )
                results["image_layers"] = layers
        results["dependency_layer_stable"] = digests[0][-2] == digests[1][-2]
        results["image_stable"] = digests[0] == digests[1]

        # conda-pack style: the environment, copied, plus the interpreter it runs on
        env_project = work / "packed"
        shutil.copytree(project, env_project)
        _run(
            [
                *shipyard,
                "sync",
                "--frozen",
                "--no-default-groups",
                "--no-editable",
                "--link-mode",
                "copy",
            ],
            env_project,
        )
        venv = env_project / ".venv"
        # the interpreter's own files: its executable, libpython and the standard
        # library (without site-packages/dist-packages: a conda prefix has only its own)
        facts = json.loads(
            subprocess.run(
                [str(venv / "bin" / "python"), "-c", _INTERPRETER_FILES],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        packed = work / "packed.tar.gz"
        interpreter_size = 0
        with tarfile.open(packed, "w:gz", compresslevel=6) as archive:
            archive.add(venv, arcname="env", filter=_no_pycache)
            for item in facts["files"]:
                path = Path(item)
                archive.add(path, arcname="python/" + path.name, filter=_no_pycache)
                interpreter_size += path.stat().st_size
            stdlib = Path(facts["stdlib"])
            archive.add(stdlib, arcname="python/lib", filter=_stdlib_only)
            for folder, dirs, files in os.walk(stdlib):
                dirs[:] = [d for d in dirs if d not in _SKIPPED]
                interpreter_size += sum(
                    Path(folder, f).stat().st_size
                    for f in files
                    if not Path(folder, f).is_symlink()
                )
        results["conda_pack_style"] = {
            "interpreter": facts,
            "compressed": packed.stat().st_size,
            "unpacked": _tree_size(venv) + interpreter_size,
            "environment_unpacked": _tree_size(venv),
        }
    (ROOT / "bench" / "results" / "image-size.json").write_text(json.dumps(results, indent=2))
    print(_table(results))


_SKIPPED = {"__pycache__", "site-packages", "dist-packages"}
_INTERPRETER_FILES = """
import json, os, sys, sysconfig
files = [os.path.realpath(sys._base_executable)]
var = sysconfig.get_config_var
library = os.path.join(var("LIBDIR") or "", var("LDLIBRARY") or "")
if os.path.isfile(library) and (library.endswith(".so") or ".so." in library):
    files.append(os.path.realpath(library))
print(json.dumps({"files": files, "stdlib": sysconfig.get_paths()["stdlib"]}))
"""


def _no_pycache(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in info.name.split("/") else info


def _stdlib_only(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if _SKIPPED & set(info.name.split("/")) else info


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f} MB" if value >= 100_000 else f"{value / 1e3:.1f} kB"


def _table(results: dict[str, Any]) -> str:
    rows = ["| what | compressed | unpacked |", "|---|---|---|"]
    base = [layer for layer in results["image_layers"] if layer["role"] == "base"]
    rows.append(
        f"| image: base (Debian bookworm minbase + python3) | "
        f"{_mb(sum(b['compressed'] for b in base))} | {_mb(sum(b['unpacked'] for b in base))} |"
    )
    for layer in results["image_layers"]:
        if layer["role"] != "base":
            rows.append(
                f"| image: {layer['role']} layer | {_mb(layer['compressed'])} | "
                f"{_mb(layer['unpacked'])} |"
            )
    total_c = sum(layer["compressed"] for layer in results["image_layers"])
    total_u = sum(layer["unpacked"] for layer in results["image_layers"])
    rows.append(f"| image: all layers | {_mb(total_c)} | {_mb(total_u)} |")
    packed = results["conda_pack_style"]
    rows.append(
        f"| conda-pack style: environment + interpreter copied | {_mb(packed['compressed'])} | "
        f"{_mb(packed['unpacked'])} |"
    )
    rows.append(
        f"\ndependency layer digest stable across rebuilds: {results['dependency_layer_stable']}; "
        f"whole image identical: {results['image_stable']}"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
