"""Wheel tags an interpreter supports (PEP 425, PEP 600, PEP 656), from probed facts.

The tags are computed in shipyard's own process, from the facts
:mod:`shipyard.python.probe` learnt, with the explicit-argument functions of
:mod:`packaging.tags`, so the probe never needs ``packaging`` inside the target
interpreter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["TagInputs", "supported_tags"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TagInputs:
    """What :func:`supported_tags` needs to know about an interpreter.

    :param implementation: ``sys.implementation.name`` (``"cpython"``, ``"pypy"``).
    :param python_version: ``(major, minor)``.
    :param sys_platform: the ``sys_platform`` marker (``"linux"``, ``"darwin"``, ``"win32"``).
    :param platform: ``sysconfig.get_platform()``, e.g. ``"linux-x86_64"``.
    :param machine: the ``platform_machine`` marker.
    :param pointer_size: 32 or 64 (bits).
    :param glibc: the glibc version (``"2.36"``) on glibc Linux, else ``None``.
    :param musl: the musl version (``"1.2.4"``) on musl Linux, else ``None``.
    :param mac_version: the macOS version (``"14.2"``) on macOS, else ``None``.
    :param py_debug: ``sysconfig`` ``Py_DEBUG`` (``None`` when unset).
    :param gil_disabled: ``Py_GIL_DISABLED`` (free-threaded build).
    :param ext_suffix: ``sysconfig`` ``EXT_SUFFIX`` (``".cpython-311-x86_64-linux-gnu.so"``).
    :param version_nodot: ``sysconfig`` ``py_version_nodot``, or ``None``.
    :param has_totalrefcount: ``hasattr(sys, "gettotalrefcount")`` (debug build).
    :param debug_extensions: ``"_d.pyd"`` is an extension suffix (Windows debug build).
    """

    implementation: str
    python_version: tuple[int, int]
    sys_platform: str
    platform: str
    machine: str
    pointer_size: int
    glibc: str | None = None
    musl: str | None = None
    mac_version: str | None = None
    py_debug: bool | None = None
    gil_disabled: bool = False
    ext_suffix: str | None = None
    version_nodot: str | None = None
    has_totalrefcount: bool = False
    debug_extensions: bool = False


def supported_tags(inputs: TagInputs) -> tuple[str, ...]:
    """The wheel tags an interpreter supports, most preferred first (PEP 425).

    Mirrors the order of ``packaging.tags.sys_tags()`` run inside that interpreter,
    but is computed from explicit facts with ``cpython_tags``, ``generic_tags``,
    ``compatible_tags`` and ``mac_platforms`` of :mod:`packaging.tags`. Platform
    tags follow PEP 600 (``manylinux_2_X`` from the interpreter's glibc down to 2.17,
    or 2.5 on x86; with the ``manylinux2014``/``2010``/``1`` aliases of PEP 599, 571
    and 513) and PEP 656 (``musllinux_1_X``).

    :param inputs: the probed facts.
    :returns: tags as strings, e.g. ``"cp311-cp311-manylinux_2_17_x86_64"``.
    """
    from packaging import tags as ptags

    platforms = list(_platform_tags(inputs))
    version = inputs.python_version
    result: list[ptags.Tag] = []
    if inputs.implementation == "cpython":
        result.extend(ptags.cpython_tags(version, _cpython_abis(inputs), platforms))
        interpreter: str | None = "cp" + (inputs.version_nodot or f"{version[0]}{version[1]}")
    else:
        short = {"pypy": "pp", "ironpython": "ip", "jython": "jy"}.get(inputs.implementation)
        name = short or inputs.implementation
        nodot = inputs.version_nodot or f"{version[0]}{version[1]}"
        result.extend(ptags.generic_tags(f"{name}{nodot}", _generic_abis(inputs), platforms))
        interpreter = "pp3" if name == "pp" else None
    result.extend(ptags.compatible_tags(version, interpreter, platforms))
    return tuple(str(tag) for tag in result)


# -- tags -----------------------------------------------------------------------------------

#: glibc versions at which a legacy manylinux name exists (PEP 599, 571, 513).
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
#: Architectures manylinux wheels are built for.
_MANYLINUX_ARCHS = {
    "x86_64",
    "i686",
    "aarch64",
    "armv7l",
    "ppc64",
    "ppc64le",
    "s390x",
    "loongarch64",
    "riscv64",
}


def _normalize(text: str) -> str:
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")


def _version_pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _platform_tags(inputs: TagInputs) -> Iterator[str]:
    """Platform tags, most specific first, as ``packaging.tags.platform_tags()`` orders them."""
    from packaging import tags as ptags

    system = inputs.sys_platform
    if system == "darwin":
        mac = _version_pair(inputs.mac_version)
        arch = inputs.machine
        if inputs.pointer_size == 32:
            arch = "ppc" if arch.startswith("ppc") else "i386"
        yield from ptags.mac_platforms(mac, arch)
        return
    if not system.startswith("linux"):
        yield _normalize(inputs.platform)
        return
    linux = _normalize(inputs.platform)
    if not linux.startswith("linux_"):
        yield linux
        return
    if inputs.pointer_size == 32:
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    for each in archs:
        yield f"linux_{each}"
    glibc = _version_pair(inputs.glibc)
    if glibc is not None and glibc[0] == 2 and any(a in _MANYLINUX_ARCHS for a in archs):
        oldest_minor = 5 if set(archs) & {"x86_64", "i686"} else 17
        for each in archs:
            if each not in _MANYLINUX_ARCHS:
                continue
            for minor in range(glibc[1], oldest_minor - 1, -1):
                yield f"manylinux_2_{minor}_{each}"
                legacy = _LEGACY_MANYLINUX.get((2, minor))
                if legacy is not None:
                    yield f"{legacy}_{each}"
    musl = _version_pair(inputs.musl)
    if musl is not None:
        for each in archs:
            for minor in range(musl[1], -1, -1):
                yield f"musllinux_{musl[0]}_{minor}_{each}"


def _cpython_abis(inputs: TagInputs) -> list[str]:
    """CPython's ABI tags: ``cp311``; ``cp313t`` free-threaded; ``cp311d`` + ``cp311`` debug."""
    nodot = f"{inputs.python_version[0]}{inputs.python_version[1]}"
    threading = "t" if inputs.python_version >= (3, 13) and inputs.gil_disabled else ""
    debug = ""
    if inputs.py_debug or (
        inputs.py_debug is None and (inputs.has_totalrefcount or inputs.debug_extensions)
    ):
        debug = "d"
    abis = [f"cp{nodot}{threading}{debug}"]
    if debug:
        abis.append(f"cp{nodot}{threading}")
    return abis


def _generic_abis(inputs: TagInputs) -> list[str]:
    """The ABI tag of a non-CPython interpreter, read from its extension-module suffix."""
    parts = (inputs.ext_suffix or "").split(".")
    if len(parts) < 3 or not parts[1]:
        return []
    soabi = parts[1]
    if soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    elif soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1] if "-" in soabi else soabi
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    else:
        abi = soabi
    return [_normalize(abi)]
