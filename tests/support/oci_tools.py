"""OCI images without a Docker engine: Debian tools driven from the tests.

Everything here runs as root on Debian and needs only the Debian archive
(``deb.debian.org``); nothing comes from Docker Hub or GitHub.

* :func:`ensure_debian_tools` installs ``docker-registry``, ``skopeo``, ``umoci`` and
  ``debootstrap`` with apt-get when one is missing (once, under a file lock);
* :func:`debian_rootfs` builds a bookworm root filesystem with debootstrap (``minbase``
  plus ``python3`` and ``ca-certificates``) and caches it as a tarball under
  ``~/.cache/shipyard-tests/``; a foreign architecture (arm64 or armhf on an amd64
  machine) is unpacked only, never executed;
* :func:`make_base_image` turns a root filesystem into a one-layer OCI image layout
  with umoci, :func:`make_multiarch_layout` merges single-platform layouts into one
  layout whose tag names an OCI image index;
* :func:`start_registry` runs Debian's ``docker-registry`` on 127.0.0.1 (optionally
  with htpasswd basic auth);
* :func:`skopeo_copy`, :func:`skopeo_inspect_raw`, :func:`umoci_unpack` and
  :func:`run_in_chroot` move images around and run programs in an unpacked one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock

#: Debian package that provides each tool the helpers run
DEBIAN_TOOLS: dict[str, str] = {
    "docker-registry": "docker-registry",
    "skopeo": "skopeo",
    "umoci": "umoci",
    "debootstrap": "debootstrap",
}
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: bump when the root filesystem recipe changes: it is part of the cache key
ROOTFS_VERSION = "1"
#: PATH of the base images (Debian's default for root)
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

#: ELF ``e_machine`` of each Debian architecture the helpers build (armhf: 32-bit ARM)
ELF_MACHINE = {"amd64": 62, "arm64": 183, "armhf": 40}
#: the dynamic loader each architecture's binaries ask for
_LOADER = {
    "amd64": "lib64/ld-linux-x86-64.so.2",
    "arm64": "lib/ld-linux-aarch64.so.1",
    "armhf": "lib/ld-linux-armhf.so.3",
}
#: the multiarch folder of each architecture's libc
_LIBC_DIR = {
    "amd64": "x86_64-linux-gnu",
    "arm64": "aarch64-linux-gnu",
    "armhf": "arm-linux-gnueabihf",
}
#: the OCI (architecture, variant) of each Debian architecture, as Docker Hub's images say
OCI_PLATFORM = {"amd64": ("amd64", ""), "arm64": ("arm64", ""), "armhf": ("arm", "v7")}

_APT_TIMEOUT = 1800.0
_DEBOOTSTRAP_TIMEOUT = 3600.0
_LOCK_TIMEOUT = 3600.0
_TOOL_TIMEOUT = 900.0
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/shipyard-tests`` (default ``~/.cache/shipyard-tests``), created."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "shipyard-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _which(tool: str) -> str | None:
    """``tool`` on PATH or in the sbin folders (debootstrap lives in /usr/sbin)."""
    search = os.pathsep.join(filter(None, [os.environ.get("PATH"), _SBIN_PATH]))
    return shutil.which(tool, path=search)


def _tool(tool: str) -> str:
    """The absolute path of ``tool``, or a RuntimeError naming its Debian package."""
    found = _which(tool)
    if found is None:
        package = DEBIAN_TOOLS.get(tool, tool)
        raise RuntimeError(f"{tool} is not installed: run `apt-get install {package}` as root")
    return found


def _run(
    argv: Sequence[str | Path],
    *,
    timeout: float = _TOOL_TIMEOUT,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv``, capturing output; a failure raises RuntimeError with both streams."""
    args = [str(arg) for arg in argv]
    proc = subprocess.run(
        args,
        capture_output=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        input=input,
        check=False,
    )
    if proc.returncode != 0:
        out = proc.stdout.decode(errors="replace")[-4000:]
        err = proc.stderr.decode(errors="replace")[-4000:]
        raise RuntimeError(
            f"{' '.join(args)} exited with {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        )
    return proc


def _missing_tools() -> list[str]:
    return [tool for tool in DEBIAN_TOOLS if _which(tool) is None]


def ensure_debian_tools() -> dict[str, Path]:
    """Make sure docker-registry, skopeo, umoci and debootstrap are installed; return their paths.

    A missing tool is installed with ``apt-get install --no-install-recommends`` (after
    ``apt-get update``) when we are root on a system with apt-get; the install runs at
    most once at a time across processes (pytest-xdist workers), under a file lock in
    :func:`cache_dir`. Without root or apt-get, a RuntimeError names the packages to install.
    """
    if _missing_tools():
        apt_get = _which("apt-get")
        if os.geteuid() != 0 or apt_get is None:
            packages = " ".join(DEBIAN_TOOLS[tool] for tool in _missing_tools())
            raise RuntimeError(
                f"missing tools for the image tests: {', '.join(_missing_tools())}; "
                f"install them as root with `apt-get install {packages}`"
            )
        with FileLock(cache_dir() / "apt-get.lock", timeout=_LOCK_TIMEOUT):
            missing = _missing_tools()  # another worker may have installed them meanwhile
            if missing:
                env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH"), _SBIN_PATH]))
                _run([apt_get, "update"], env=env, timeout=_APT_TIMEOUT)
                _run(
                    [apt_get, "install", "-y", "--no-install-recommends", *DEBIAN_TOOLS.values()],
                    env=env,
                    timeout=_APT_TIMEOUT,
                )
        if still := _missing_tools():
            raise RuntimeError(f"apt-get install did not provide {', '.join(still)}")
    return {tool: Path(_tool(tool)) for tool in DEBIAN_TOOLS}


# --------------------------------------------------------------------------- root filesystems


def host_debian_arch() -> str:
    """The Debian architecture of this machine (``dpkg --print-architecture``)."""
    return _run(["dpkg", "--print-architecture"]).stdout.decode().strip()


def resolve_in_root(root: Path, path: str) -> Path:
    """``path`` inside the tree ``root``, following symlinks as if ``root`` were ``/``.

    Absolute link targets (``/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...``)
    stay inside ``root``. The result may not exist.
    """
    parts = [part for part in path.split("/") if part not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise RuntimeError(f"too many symlinks resolving {path} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        else:
            resolved.append(part)
    return root.joinpath(*resolved)


def elf_machine(header: bytes) -> int:
    """The ``e_machine`` field of an ELF header (62 x86-64, 183 aarch64)."""
    if header[:4] != b"\x7fELF" or len(header) < 20:
        raise ValueError("not an ELF file")
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def _unmount_under(path: Path) -> None:
    """Unmount (lazily, deepest first) every mount point at or below ``path``."""
    prefix = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _remove_tree(path: Path) -> None:
    """Remove a (possibly half-built, possibly mounted-into) root filesystem."""
    if path.exists():
        _unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)


def _extract_debs(target: Path, debs: Sequence[Path]) -> None:
    """Unpack ``debs`` into ``target`` as debootstrap does; no maintainer script runs.

    ``dpkg-deb --fsys-tarfile DEB | tar -x --keep-directory-symlink`` (rather than
    ``dpkg-deb -x``) keeps the merged-/usr symlinks (/lib -> usr/lib) of the tree.
    """
    for deb in debs:
        fsys = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(deb)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert fsys.stdout is not None
        tar = subprocess.run(
            ["tar", "-C", str(target), "--keep-directory-symlink", "-xf", "-"],
            stdin=fsys.stdout,
            capture_output=True,
            timeout=_TOOL_TIMEOUT,
            check=False,
        )
        fsys.stdout.close()
        fsys_err = fsys.stderr.read() if fsys.stderr else b""
        if fsys.wait(timeout=_TOOL_TIMEOUT) != 0 or tar.returncode != 0:
            raise RuntimeError(
                f"unpacking {deb.name} failed: {fsys_err.decode(errors='replace')}"
                f"{tar.stderr.decode(errors='replace')}"
            )


def _foreign_base_debs(target: Path) -> list[Path]:
    """The .deb files of the ``base`` packages a ``--foreign`` first stage left packed.

    The first stage extracts the ``required`` packages; the ``base`` ones (here
    ``--include=python3,ca-certificates`` and their dependencies) wait in
    /var/cache/apt/archives for the second stage, which would run the target's binaries.
    """
    base = (target / "debootstrap" / "base").read_text().split()
    debpaths = {}
    for line in (target / "debootstrap" / "debpaths").read_text().splitlines():
        name, _, deb = line.partition(" ")
        debpaths[name] = target / deb.strip().lstrip("/")
    missing = [name for name in base if name not in debpaths]
    if missing:
        raise RuntimeError(f"debootstrap --foreign did not download {missing}")
    return [debpaths[name] for name in base]


def _check_rootfs(root: Path, arch: str) -> None:
    """Raise unless ``root`` has python3.11 for ``arch``, its stdlib, libc and the loader."""
    python = resolve_in_root(root, "usr/bin/python3.11")
    needed = {
        "usr/bin/python3.11": python,
        "usr/bin/python3": resolve_in_root(root, "usr/bin/python3"),
        "usr/lib/python3.11/ssl.py": resolve_in_root(root, "usr/lib/python3.11/ssl.py"),
        "usr/lib/python3.11/json/__init__.py": resolve_in_root(
            root, "usr/lib/python3.11/json/__init__.py"
        ),
        _LOADER[arch]: resolve_in_root(root, _LOADER[arch]),
        "etc/ssl/certs/ca-certificates.crt (or the certificates folder)": resolve_in_root(
            root, "usr/share/ca-certificates"
        ),
    }
    absent = [name for name, path in needed.items() if not path.exists()]
    if absent:
        raise RuntimeError(f"the {arch} root filesystem lacks {', '.join(absent)}")
    with python.open("rb") as binary:
        machine = elf_machine(binary.read(64))
    if machine != ELF_MACHINE[arch]:
        raise RuntimeError(f"{python} is for ELF machine {machine}, not {arch}")
    if not resolve_in_root(root, f"usr/lib/{_LIBC_DIR[arch]}/libc.so.6").exists():
        raise RuntimeError(f"the {arch} root filesystem lacks libc.so.6")


def _build_rootfs(arch: str, target: Path) -> None:
    """debootstrap ``minbase`` + python3 + ca-certificates for ``arch`` into ``target``."""
    foreign = arch != host_debian_arch()
    argv = [
        _tool("debootstrap"),
        "--variant=minbase",
        "--include=python3,ca-certificates",
        f"--arch={arch}",
    ]
    if foreign:
        argv.append("--foreign")
    argv += [DEBIAN_SUITE, str(target), DEBIAN_MIRROR]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
    env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH"), _SBIN_PATH]))
    try:
        _run(argv, env=env, timeout=_DEBOOTSTRAP_TIMEOUT)
    except RuntimeError as exc:
        log = target / "debootstrap" / "debootstrap.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(f"{exc}\ndebootstrap.log:\n{tail}") from None
    finally:
        _unmount_under(target)  # the second stage mounts /proc and /sys in the target
    if foreign:
        _extract_debs(target, _foreign_base_debs(target))
        shutil.rmtree(target / "debootstrap")
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for entry in (target / "var/lib/apt/lists").glob("*"):
        if entry.is_file():
            entry.unlink()
    _check_rootfs(target, arch)


def debian_rootfs(arch: str) -> Path:
    """A Debian bookworm root filesystem for ``arch`` (``amd64``, ``arm64`` or ``armhf``),
    as a tarball.

    Built once with ``debootstrap --variant=minbase --include=python3,ca-certificates``
    and cached in :func:`cache_dir` under a name holding ``arch`` and
    :data:`ROOTFS_VERSION`. The host's architecture gets a full debootstrap; another
    one gets ``--foreign`` (first stage only: nothing of it is executed) and its
    ``base`` packages unpacked with dpkg-deb, so the tree has /usr/bin/python3.11, the
    standard library, libc and the dynamic loader but no configured packages.

    The build holds a file lock (concurrent sessions and xdist workers wait for it),
    happens in a temporary folder next to the cache entry and is renamed into place,
    so an interrupted build leaves no cache entry. The tarball keeps numeric owners,
    has empty /dev, /proc, /sys and /run, and is uncompressed.
    """
    if arch not in ELF_MACHINE:
        raise ValueError(f"unsupported architecture {arch!r} (amd64, arm64 or armhf)")
    cache = cache_dir()
    key = f"debian-{DEBIAN_SUITE}-{arch}-minbase-python3-v{ROOTFS_VERSION}"
    tarball = cache / f"{key}.tar"
    if tarball.exists():
        return tarball
    ensure_debian_tools()
    with FileLock(cache / f"{key}.lock", timeout=_LOCK_TIMEOUT):
        if tarball.exists():
            return tarball
        for stale in cache.glob(f".build-{key}-*"):  # left by a killed build
            _remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache))
        try:
            target = work / "rootfs"
            _build_rootfs(arch, target)
            partial = work / f"{key}.tar"
            _run(
                [
                    "tar",
                    "--numeric-owner",
                    "--xattrs",
                    "--exclude=./dev/*",
                    "--exclude=./proc/*",
                    "--exclude=./sys/*",
                    "--exclude=./run/*",
                    "-C",
                    target,
                    "-cf",
                    partial,
                    ".",
                ]
            )
            os.replace(partial, tarball)
        finally:
            _remove_tree(work)
    return tarball


# --------------------------------------------------------------------------- OCI layouts


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def blob_path(layout: Path, digest: str) -> Path:
    """Where the blob ``digest`` (``sha256:...``) lives in the OCI layout ``layout``."""
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def read_blob(layout: Path, descriptor: Mapping[str, Any]) -> bytes:
    """The blob a descriptor points at, checked against its digest and size."""
    data = blob_path(layout, descriptor["digest"]).read_bytes()
    if len(data) != descriptor["size"]:
        raise RuntimeError(f"{descriptor['digest']}: {len(data)} bytes, not {descriptor['size']}")
    if "sha256:" + hashlib.sha256(data).hexdigest() != descriptor["digest"]:
        raise RuntimeError(f"blob {descriptor['digest']} does not match its digest")
    return data


def _tagged_descriptor(layout: Path, tag: str) -> dict[str, Any]:
    if json.loads((layout / "oci-layout").read_text())["imageLayoutVersion"] != "1.0.0":
        raise RuntimeError(f"{layout}: unknown imageLayoutVersion")
    index = json.loads((layout / "index.json").read_text())
    if index.get("schemaVersion") != 2:
        raise RuntimeError(f"{layout}/index.json: schemaVersion is not 2")
    found = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag]
    if len(found) != 1:
        raise RuntimeError(f"{layout}/index.json: {len(found)} manifests tagged {tag!r}")
    descriptor: dict[str, Any] = found[0]
    return descriptor


def check_image_layout(layout: Path, tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate the single-platform image ``tag`` of an OCI layout; return (manifest, config).

    Checks the layout version, the index entry, the media types, every blob's digest
    and size, one ``diff_id`` per layer, and a config for ``linux`` on ``amd64``,
    ``arm64`` or ``arm`` (variant ``v7``).
    """
    descriptor = _tagged_descriptor(layout, tag)
    if descriptor["mediaType"] != OCI_MANIFEST:
        raise RuntimeError(f"{tag}: index entry is {descriptor['mediaType']}, not a manifest")
    manifest: dict[str, Any] = json.loads(read_blob(layout, descriptor))
    if manifest.get("schemaVersion") != 2 or manifest["config"]["mediaType"] != OCI_CONFIG:
        raise RuntimeError(f"{tag}: not an OCI image manifest: {manifest}")
    config: dict[str, Any] = json.loads(read_blob(layout, manifest["config"]))
    for layer in manifest["layers"]:
        if layer["mediaType"] != OCI_LAYER_GZIP:
            raise RuntimeError(f"{tag}: unexpected layer type {layer['mediaType']}")
        if _sha256_file(blob_path(layout, layer["digest"])) != layer["digest"]:
            raise RuntimeError(f"{tag}: layer {layer['digest']} does not match its digest")
    platform = (config["architecture"], config.get("variant", ""))
    if config["os"] != "linux" or platform not in OCI_PLATFORM.values():
        raise RuntimeError(f"{tag}: config is for {config['os']}/{'/'.join(platform)}")
    if len(config["rootfs"]["diff_ids"]) != len(manifest["layers"]):
        raise RuntimeError(f"{tag}: {len(manifest['layers'])} layers but other diff_ids")
    return manifest, config


def make_base_image(rootfs: Path, layout: Path, tag: str, *, arch: str) -> None:
    """Write ``rootfs`` as the one-layer image ``tag`` of the OCI layout ``layout``.

    ``rootfs`` is a directory or a tarball (such as :func:`debian_rootfs` returns);
    ``arch`` is its Debian architecture. ``layout`` is created if needed (``umoci
    init``). The image is made with umoci: ``new``, ``config`` (``PATH``, the OCI
    architecture, ``linux``), ``unpack`` of the empty image, the tree copied in,
    ``repack`` (one gzip layer) and ``gc``; armhf's config then gets the variant
    ``v7`` umoci cannot write (:func:`_set_variant`). The result is checked with
    :func:`check_image_layout`.
    """
    if arch not in ELF_MACHINE:
        raise ValueError(f"unsupported architecture {arch!r} (amd64, arm64 or armhf)")
    umoci = _tool("umoci")
    if not (layout / "index.json").exists():
        layout.parent.mkdir(parents=True, exist_ok=True)
        _run([umoci, "init", "--layout", layout])
    image = f"{layout}:{tag}"
    _run([umoci, "new", "--image", image])
    _run(
        [
            umoci,
            "config",
            "--image",
            image,
            "--config.env",
            f"PATH={IMAGE_PATH}",
            "--architecture",
            OCI_PLATFORM[arch][0],
            "--os",
            "linux",
            "--no-history",
        ]
    )
    with tempfile.TemporaryDirectory(prefix=".bundle-", dir=layout.parent) as tmp:
        bundle = Path(tmp) / "bundle"
        _run([umoci, "unpack", "--image", image, bundle])
        tree = bundle / "rootfs"
        if rootfs.is_dir():
            _run(["cp", "-a", "--", f"{rootfs}/.", f"{tree}/"])
        else:
            _run(["tar", "--numeric-owner", "--xattrs", "-C", tree, "-xpf", rootfs])
        _run([umoci, "repack", "--image", image, "--history.created_by", "shipyard tests", bundle])
    if OCI_PLATFORM[arch][1]:
        _set_variant(layout, tag, OCI_PLATFORM[arch][1])
    _run([umoci, "gc", "--layout", layout])
    _manifest, config = check_image_layout(layout, tag)
    if (config["architecture"], config.get("variant", "")) != OCI_PLATFORM[arch] or config.get(
        "config", {}
    ).get("Env") != [f"PATH={IMAGE_PATH}"]:
        raise RuntimeError(f"umoci wrote an unexpected config: {config}")


def _set_variant(layout: Path, tag: str, variant: str) -> None:
    """Write ``variant`` into the config of image ``tag`` (a new config blob, a new
    manifest pointing at it, ``index.json`` pointing at that); the old blobs are left
    for ``umoci gc``."""
    index = json.loads((layout / "index.json").read_text())
    entry = next(d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag)
    manifest = json.loads(read_blob(layout, entry))
    config = json.loads(read_blob(layout, manifest["config"]))
    config["variant"] = variant
    manifest["config"].update(_put_blob(layout, json.dumps(config).encode()))
    entry.update(_put_blob(layout, json.dumps(manifest).encode()))
    (layout / "index.json").write_text(json.dumps(index))


def _put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _copy_blob(src: Path, dest: Path, digest: str) -> None:
    source, target = blob_path(src, digest), blob_path(dest, digest)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def make_multiarch_layout(layouts: Mapping[str, tuple[Path, str]], out: Path, tag: str) -> None:
    """Merge single-platform images into one OCI layout whose ``tag`` is an image index.

    ``layouts`` maps a Debian architecture to ``(layout, tag)`` of a one-platform image
    (its config must say that architecture, in OCI's words). The blobs are hard-linked (or copied) into
    ``out``; the nested image index, listing each manifest with its ``platform``, is
    written as a blob, and ``out/index.json`` points at it with the ``ref.name``
    annotation ``tag``. ``skopeo inspect --raw`` must read it back as that index.
    """
    (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    entries = []
    for arch, (layout, single_tag) in layouts.items():
        manifest, config = check_image_layout(layout, single_tag)
        if (config["architecture"], config.get("variant", "")) != OCI_PLATFORM[arch]:
            raise RuntimeError(f"{layout}:{single_tag} is for {config['architecture']}")
        descriptor = _tagged_descriptor(layout, single_tag)
        for digest in [
            descriptor["digest"],
            manifest["config"]["digest"],
            *(layer["digest"] for layer in manifest["layers"]),
        ]:
            _copy_blob(layout, out, digest)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": descriptor["digest"],
                "size": descriptor["size"],
                "platform": {
                    "architecture": config["architecture"],
                    "os": config["os"],
                    **({"variant": config["variant"]} if config.get("variant") else {}),
                },
            }
        )
    nested = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    nested_descriptor = {
        "mediaType": OCI_INDEX,
        **_put_blob(out, json.dumps(nested, indent=2).encode()),
        "annotations": {REF_NAME: tag},
    }
    top = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [nested_descriptor]}
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
    (out / "index.json").write_text(json.dumps(top, indent=2))
    raw = skopeo_inspect_raw(f"oci:{out}:{tag}")
    if raw.get("mediaType") != OCI_INDEX or [m["digest"] for m in raw["manifests"]] != [
        e["digest"] for e in entries
    ]:
        raise RuntimeError(f"skopeo reads {out}:{tag} as {raw}")


# --------------------------------------------------------------------------- skopeo and umoci


def _skopeo_transport_flags(ref: str, side: str) -> list[str]:
    return [f"--{side}tls-verify=false"] if ref.startswith("docker://") else []


def skopeo_copy(
    src: str,
    dest: str,
    *,
    all_platforms: bool = False,
    src_creds: str | None = None,
    dest_creds: str | None = None,
) -> None:
    """``skopeo copy src dest`` (``--all`` with ``all_platforms``).

    References are skopeo's (``oci:DIR:TAG``, ``docker://HOST/REPO:TAG``); a
    ``docker://`` side gets ``--*-tls-verify=false`` (plain HTTP to a local registry).
    Credentials are ``user:password``. The host's signature policy is not consulted
    (``--insecure-policy``).
    """
    argv = [_tool("skopeo"), "--insecure-policy", "copy"]
    argv += _skopeo_transport_flags(src, "src-") + _skopeo_transport_flags(dest, "dest-")
    if src_creds:
        argv += ["--src-creds", src_creds]
    if dest_creds:
        argv += ["--dest-creds", dest_creds]
    if all_platforms:
        argv.append("--all")
    _run([*argv, src, dest])


def skopeo_inspect_raw(ref: str, *, creds: str | None = None) -> dict[str, Any]:
    """The raw manifest or index of ``ref`` (``skopeo inspect --raw``), parsed."""
    argv = [_tool("skopeo"), "--insecure-policy", "inspect", "--raw"]
    argv += _skopeo_transport_flags(ref, "")
    if creds:
        argv += ["--creds", creds]
    raw: dict[str, Any] = json.loads(_run([*argv, ref]).stdout)
    return raw


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """Unpack image ``tag`` of ``layout`` into the new runtime bundle ``bundle``; return its rootfs."""
    _run([_tool("umoci"), "unpack", "--image", f"{layout}:{tag}", bundle])
    return bundle / "rootfs"


# --------------------------------------------------------------------------- chroot


def run_in_chroot(
    rootfs: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: str = "/",
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``rootfs`` as its root, /proc mounted and the host's /dev bound in.

    ``user`` (``"uid:gid"``) runs it as that user, through the host's ``chroot
    --userspec`` and the image's ``env --chdir``, as a container runtime would.

    Runs ``unshare --mount --propagation private --kill-child``: the mounts live in a
    private mount namespace and vanish with it, so the host never sees them. ``env`` is
    the program's whole environment; ``cwd`` is inside the root. Output is captured as
    text; the exit status is not checked. After ``timeout`` seconds the process group is
    killed and ``subprocess.TimeoutExpired`` raised. Root only.
    """
    root = rootfs.resolve()
    for mount_point in ("proc", "dev"):
        (root / mount_point).mkdir(exist_ok=True)
    unshare, mount = _tool("unshare"), _tool("mount")
    script = (
        "set -e\n"
        f'{mount} -t proc proc "$1/proc"\n'
        f'{mount} --rbind /dev "$1/dev"\n'
        "root=$1 wd=$2\nshift 2\n"
        + (
            f'exec {_tool("chroot")} --userspec="{user}" "$root" /usr/bin/env --chdir="$wd" "$@"\n'
            if user
            else f'exec {unshare} --root="$root" --wd="$wd" -- "$@"\n'
        )
    )
    command = [unshare, "--mount", "--propagation", "private", "--kill-child", "--"]
    command += ["/bin/sh", "-c", script, "sh", str(root), cwd, *argv]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        text=True,
        start_new_session=True,
    )
    try:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr) from None
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _unmount_under(root)  # nothing should be left: the namespace held the mounts
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


# --------------------------------------------------------------------------- registry


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str:
    """A ``user:$2b$...`` htpasswd entry (bcrypt: the only scheme docker-registry accepts).

    Uses the ``bcrypt`` module when importable, else crypt(3) of the C library
    (libxcrypt's ``libcrypt.so.1`` on Debian 12 does bcrypt; called through ctypes, as
    Python's ``crypt`` module is deprecated and gone in 3.13), else ``htpasswd -nbB``
    from apache2-utils.
    """
    try:
        import bcrypt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        return f"{user}:{hashed}"
    hashed = _libcrypt_bcrypt(password)
    if hashed is not None:
        return f"{user}:{hashed}"
    htpasswd = _which("htpasswd")
    if htpasswd is None:
        raise RuntimeError("no bcrypt for htpasswd: install python3-bcrypt or apache2-utils")
    return _run([htpasswd, "-nbB", "-C", "5", user, password]).stdout.decode().strip()


def _libcrypt_bcrypt(password: str) -> str | None:
    """bcrypt of ``password`` by libxcrypt (``crypt_gensalt("$2b$")`` + ``crypt``), or None."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    try:
        libcrypt = ctypes.CDLL(name)
        gensalt, crypt = libcrypt.crypt_gensalt, libcrypt.crypt
    except (OSError, AttributeError):
        return None
    gensalt.restype = ctypes.c_char_p
    gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    crypt.restype = ctypes.c_char_p
    crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = gensalt(b"$2b$", 5, None, 0)  # no random bytes given: libxcrypt reads the OS's
    hashed = crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2b$"):
        return None
    result: str = hashed.decode()
    return result


class Registry:
    """A ``docker-registry`` serving plain HTTP (or HTTPS with ``tls``) on 127.0.0.1; a
    context manager.

    :ivar host: ``127.0.0.1:PORT``, for ``docker://{host}/repo:tag`` references.
    :ivar root: the storage folder.
    :ivar creds: ``user:password`` when basic auth is on, else None.
    :ivar certificate: with ``tls``, the self-signed certificate (PEM) clients must trust.
    """

    def __init__(
        self, workdir: Path, *, auth: tuple[str, str] | None = None, tls: bool = False
    ) -> None:
        self.workdir = workdir
        self.tls = tls
        self.certificate = workdir / "registry-cert.pem" if tls else None
        self.root = workdir / "storage"
        self.log_path = workdir / "registry.log"
        self.creds = f"{auth[0]}:{auth[1]}" if auth else None
        self._auth = auth
        self.port = 0
        self.host = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def ref(self, name: str) -> str:
        """``docker://HOST/name`` (``name`` is ``repo:tag`` or ``repo@digest``)."""
        return f"docker://{self.host}/{name}"

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: shipyard-tests-not-secret",
        ]
        if self.certificate is not None:
            key = self.workdir / "registry-key.pem"
            if not self.certificate.is_file():
                _run(
                    [
                        _tool("openssl"),
                        "req",
                        "-x509",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-days",
                        "2",
                        "-subj",
                        "/CN=127.0.0.1",
                        "-addext",
                        "subjectAltName=IP:127.0.0.1",
                        "-keyout",
                        str(key),
                        "-out",
                        str(self.certificate),
                    ]
                )
            lines += ["  tls:", f"    certificate: {self.certificate}", f"    key: {key}"]
        if self._auth:
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text(htpasswd_line(*self._auth) + "\n")
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: shipyard-tests",
                f"    path: {htpasswd}",
            ]
        return "\n".join(lines) + "\n"

    def _ping(self) -> int | None:
        import ssl

        scheme = "https" if self.tls else "http"
        request = urllib.request.Request(f"{scheme}://{self.host}/v2/")
        if self.creds:
            token = b64encode(self.creds.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = (
            ssl.create_default_context(cafile=str(self.certificate)) if self.certificate else None
        )
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def start(self, *, deadline: float = 30.0) -> Registry:
        """Start the registry and wait until ``GET /v2/`` answers 200 (a few tries for a port)."""
        binary = _tool("docker-registry")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        for _attempt in range(5):
            self.port = _free_port()
            self.host = f"127.0.0.1:{self.port}"
            config = self.workdir / "config.yml"
            config.write_text(self._config())
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    [binary, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            end = time.monotonic() + deadline
            status = None
            while time.monotonic() < end:
                status = self._ping()
                if status == 200:
                    return self
                if self._proc.poll() is not None:
                    break
                try:
                    self._proc.wait(timeout=0.05)  # a poll interval that ends if it dies
                except subprocess.TimeoutExpired:
                    pass
            log_text = self.log_path.read_text(errors="replace")
            if self._proc.poll() is not None and "address already in use" in log_text:
                continue  # lost the port to someone else: take another
            self.stop()
            raise RuntimeError(
                f"docker-registry did not answer 200 on /v2/ (last status {status}):\n"
                f"{log_text[-4000:]}"
            )
        raise RuntimeError("docker-registry could not get a free port")

    def stop(self) -> None:
        """Terminate the registry (then kill it if it does not exit within 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_registry(
    tmp: Path, *, auth: tuple[str, str] | None = None, tls: bool = False
) -> Registry:
    """A started :class:`Registry` storing under ``tmp``; use it as ``with start_registry(tmp) as r:``.

    ``auth=(user, password)`` turns on htpasswd basic auth; ``tls`` serves HTTPS with a
    fresh self-signed certificate for 127.0.0.1 (``registry.certificate``).
    """
    return Registry(tmp, auth=auth, tls=tls).start()
