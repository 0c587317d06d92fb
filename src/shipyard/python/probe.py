"""Learn an interpreter's facts by running it once; cache them on disk.

The probe script is valid Python 2.7 and 3.x, so an old interpreter is reported
as unsupported instead of crashing. It prints the PEP 508 marker environment,
prefixes, the ``venv`` install scheme, glibc/musl and build flags as JSON;
supported wheel tags are then computed in shipyard's own process with
``packaging.tags`` from those facts. Results are cached per (real path, mtime,
size) of the executable, so a second probe spawns nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from shipyard.atomic import atomic_write_text
from shipyard.errors import InterpreterNotFoundError
from shipyard.models import Interpreter

__all__ = ["PROBE_SCRIPT", "compute_tags", "probe_interpreter"]

_CACHE_FORMAT = 1

PROBE_SCRIPT = r"""
import json, os, platform, sys, sysconfig

def fmt(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        level = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(info.releaselevel, "")
        version += level + str(info.serial)
    return version

impl = getattr(sys, "implementation", None)
impl_name = impl.name if impl else "cpython"
impl_version = fmt(impl.version) if impl else "0"
markers = {
    "implementation_name": impl_name,
    "implementation_version": impl_version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
scheme_names = sysconfig.get_scheme_names()
if "venv" in scheme_names:
    scheme = "venv"
elif os.name == "nt":
    scheme = "nt"
else:
    scheme = "posix_prefix"
placeholder = "/__SHIPYARD_ROOT__"
paths = sysconfig.get_paths(scheme=scheme, vars={
    "base": placeholder, "platbase": placeholder, "installed_base": placeholder,
    "installed_platbase": placeholder})
scheme_paths = {}
for key in ("purelib", "platlib", "scripts", "include", "data"):
    value = paths.get(key, "")
    if value.startswith(placeholder):
        value = value[len(placeholder):].lstrip("/\\")
    scheme_paths[key] = value
libc = ""
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except Exception:
    pass
base_executable = getattr(sys, "_base_executable", None) or sys.executable
print(json.dumps({
    "executable": sys.executable,
    "version": fmt(sys.version_info),
    "implementation": impl_name,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "base_executable": base_executable,
    "platform": sysconfig.get_platform(),
    "markers": markers,
    "scheme": scheme_paths,
    "libc": libc,
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "pointer_size": 64 if sys.maxsize > 2 ** 32 else 32,
    "macos": platform.mac_ver()[0] if sys.platform == "darwin" else "",
}))
"""


def _linux_platforms(machine: str, libc: str) -> list[str]:
    """PEP 600 manylinux tags (plus legacy aliases) from newest to oldest, after the
    plain ``linux_<arch>`` tag, in the order ``packaging.tags`` uses."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    platforms = [f"linux_{arch}"]
    if libc.startswith("glibc "):
        major, _, minor = libc.split()[1].partition(".")
        glibc_minor = int("".join(ch for ch in minor if ch.isdigit()) or 0)
        oldest = 5 if arch in ("x86_64", "i686") else 17
        if major == "2":
            for m in range(glibc_minor, oldest - 1, -1):
                platforms.append(f"manylinux_2_{m}_{arch}")
                legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(m)
                if legacy:
                    platforms.append(f"{legacy}_{arch}")
    return platforms


def compute_tags(facts: dict[str, Any]) -> tuple[str, ...]:
    """Supported wheel tags, most preferred first, from the probe's facts (PEP 425/600).

    :raises InterpreterNotFoundError: for an implementation shipyard cannot tag.
    """
    from packaging import tags

    markers = facts["markers"]
    major, minor = (int(p) for p in markers["python_version"].split(".")[:2])
    system = markers["platform_system"]
    machine = markers["platform_machine"]
    if system == "Linux":
        platforms = _linux_platforms(machine, facts.get("libc", ""))
    elif system == "Darwin":
        version = facts.get("macos") or "11.0"
        parts = version.split(".")
        mac = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
        platforms = list(tags.mac_platforms(mac, machine))
    elif system == "Windows":
        platforms = ["win_amd64" if facts.get("pointer_size") == 64 else "win32"]
        if machine.lower() == "arm64":
            platforms = ["win_arm64"]
    else:
        platforms = [facts["platform"].replace("-", "_").replace(".", "_")]
    implementation = facts["implementation"]
    result: list[tags.Tag] = []
    if implementation == "cpython":
        abis = []
        soabi = facts.get("soabi", "")
        if facts.get("gil_disabled"):
            abis.append(f"cp{major}{minor}t")
        elif (major, minor) < (3, 8) and "cpython" in soabi and soabi.split("-")[1].endswith("m"):
            abis.append(f"cp{major}{minor}m")
        else:
            abis.append(f"cp{major}{minor}")
        result.extend(tags.cpython_tags((major, minor), abis=abis, platforms=platforms))
        interpreter = f"cp{major}{minor}"
    elif implementation == "pypy":
        soabi = facts.get("soabi", "")
        abi = soabi.replace(".", "_").replace("-", "_") if soabi else f"pypy{major}{minor}"
        interpreter = f"pp{major}{minor}"
        result.extend(tags.generic_tags(interpreter, [abi], platforms))
    else:
        raise InterpreterNotFoundError(
            f"Unsupported Python implementation {implementation!r}.",
            hint="Use CPython or PyPy.",
        )
    result.extend(tags.compatible_tags((major, minor), interpreter, platforms))
    seen: dict[str, None] = {}
    for tag in result:
        seen.setdefault(str(tag), None)
    return tuple(seen)


def _from_facts(executable: Path, facts: dict[str, Any]) -> Interpreter:
    return Interpreter(
        executable=executable,
        version=facts["version"],
        implementation=facts["implementation"],
        prefix=Path(facts["prefix"]),
        base_prefix=Path(facts["base_prefix"]),
        base_executable=Path(facts["base_executable"]),
        platform=facts["platform"],
        markers=dict(facts["markers"]),
        tags=tuple(facts["tags"]),
        scheme=dict(facts["scheme"]),
        gil_disabled=bool(facts.get("gil_disabled")),
        pointer_size=int(facts.get("pointer_size", 64)),
    )


def probe_interpreter(executable: Path, *, cache_dir: Path | None) -> Interpreter:
    """The facts of the interpreter at ``executable`` (probed once, then cached).

    :param cache_dir: the cache root; ``None`` disables the on-disk cache.
    :raises InterpreterNotFoundError: when it is missing, not runnable, not Python,
        or older than 3.8.
    """
    executable = Path(os.path.abspath(executable))
    try:
        real = executable.resolve(strict=True)
        info = real.stat()
    except OSError as exc:
        raise InterpreterNotFoundError(
            f"No Python interpreter at {executable}.",
            hint="Check the path, or pass --python with a version instead.",
        ) from exc
    key_text = f"{executable}\0{real}\0{info.st_mtime_ns}\0{info.st_size}\0{_CACHE_FORMAT}"
    cache_file = None
    if cache_dir is not None:
        bucket = cache_dir / "interpreters-v1"
        cache_file = bucket / (hashlib.sha256(str(executable).encode()).hexdigest()[:32] + ".json")
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("key") == key_text:
                return _from_facts(executable, cached["facts"])
        except (OSError, ValueError, KeyError):
            pass
    try:
        result = subprocess.run(
            [str(executable), "-I", "-c", PROBE_SCRIPT],
            capture_output=True,
            timeout=30,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterNotFoundError(
            f"Could not run {executable}: {exc}.", hint="Check that it is a working Python."
        ) from exc
    try:
        facts = json.loads(result.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise InterpreterNotFoundError(
            f"{executable} did not answer like a Python interpreter.",
            hint="Check that it is a working Python 3.8 or newer.",
        ) from exc
    major, minor = (int(p) for p in facts["markers"]["python_version"].split(".")[:2])
    if (major, minor) < (3, 8):
        raise InterpreterNotFoundError(
            f"Python {facts['version']} at {executable} is too old; shipyard manages "
            "environments for Python 3.8 and newer.",
            hint="Choose a newer interpreter with --python.",
        )
    facts["tags"] = list(compute_tags(facts))
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                cache_file, json.dumps({"key": key_text, "facts": facts}), fsync=False
            )
        except Exception:
            pass
    return _from_facts(executable, facts)
