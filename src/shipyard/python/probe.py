"""Probe a Python interpreter: run it once, learn what shipyard needs, cache the answer.

:func:`probe_interpreter` runs the interpreter a single time with a small script
(:data:`PROBE_SCRIPT`) that prints one JSON object: the version, the
implementation, ``sys.prefix`` and ``sys.base_prefix``, the base interpreter a
virtual environment must point at, ``sysconfig.get_platform()``, the PEP 508
marker environment, the C library, ABI facts and the ``sysconfig`` install
scheme of a virtual environment (PEP 405). The script is written in the common
subset of Python 2.7 and 3.x so that an old interpreter answers "I am 2.7"
instead of failing with a syntax error; shipyard then refuses it clearly.

The supported wheel tags (PEP 425, PEP 600, PEP 656) are computed here, in
shipyard's own process, from the probed facts with the explicit-argument
functions of :mod:`packaging.tags`, so the probe never needs ``packaging``
inside the target interpreter.

Answers are cached as JSON in ``<cache_dir>/interpreters-v1/<sha256>.json``. An
entry is valid while the executable's real path, ``st_mtime_ns`` and ``st_size``
are unchanged (and, for an interpreter inside a virtual environment, while that
environment's ``pyvenv.cfg`` is unchanged), so a second probe of the same
interpreter reads one small file and spawns no process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InterpreterNotFoundError
from shipyard.models.interpreter import Interpreter

__all__ = [
    "MINIMUM_VERSION",
    "PROBE_SCRIPT",
    "TagInputs",
    "probe_interpreter",
    "supported_tags",
    "venv_interpreter",
]

#: The oldest Python shipyard creates environments for.
MINIMUM_VERSION: tuple[int, int] = (3, 8)

#: Bumped whenever the probe script or the cached record changes shape.
_CACHE_BUCKET = "interpreters-v1"
_RECORD_VERSION = 1

#: Seconds an interpreter may take to answer the probe (a cold start compiles .pyc files);
#: ``SHIPYARD_PROBE_TIMEOUT`` (see :mod:`shipyard.settings`) overrides it.
_PROBE_TIMEOUT = 20.0


def _probe_timeout() -> float:
    from shipyard.settings import from_environment

    configured = from_environment("probe_timeout")
    return _PROBE_TIMEOUT if configured is None else float(configured)


#: A placeholder install root handed to ``sysconfig`` and stripped from its answers.
_ROOT_PLACEHOLDER = "__SHIPYARD_ENV_ROOT__"

# The probe. Valid Python 2.7 and 3.x: no f-strings, no annotations, no keyword-only
# arguments, no print statement. Interpreters older than MINIMUM_VERSION answer with
# their version only. The first statement drops the current directory from sys.path
# (the probe runs with ``-E -s`` because Python 2.7 has no ``-I``).
PROBE_SCRIPT = r"""
import sys
sys.path[:] = [p for p in sys.path if p and p != "."]
import json
import os
import platform
import struct
import sysconfig

PLACEHOLDER = "__SHIPYARD_ENV_ROOT__"


def full_version(info):
    text = "%d.%d.%d" % (info[0], info[1], info[2])
    if info[3] != "final":
        text += info[3][0] + str(info[4])
    return text


def read_pyvenv_cfg(prefix):
    values = {}
    try:
        handle = open(os.path.join(prefix, "pyvenv.cfg"))
    except (IOError, OSError):
        return values
    try:
        for line in handle:
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip().lower()] = value.strip()
    finally:
        handle.close()
    return values


def base_executable():
    if sys.prefix == getattr(sys, "base_prefix", sys.prefix):
        return sys.executable
    cfg = read_pyvenv_cfg(sys.prefix)
    if cfg.get("executable") and os.path.exists(cfg["executable"]):
        return cfg["executable"]
    inside = os.path.join(os.path.normcase(os.path.abspath(sys.prefix)), "")
    candidate = getattr(sys, "_base_executable", None)
    if candidate and not os.path.normcase(os.path.abspath(candidate)).startswith(inside):
        return candidate
    home = cfg.get("home")
    if home:
        names = [
            os.path.basename(sys.executable),
            "python%d.%d" % sys.version_info[:2],
            "python%d" % sys.version_info[0],
            "python",
            "python.exe",
        ]
        for name in names:
            path = os.path.join(home, name)
            if os.path.isfile(path):
                return path
    return None


def libc():
    glibc = None
    musl = None
    if not sys.platform.startswith("linux"):
        return glibc, musl
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        text = None
    if text and text.startswith("glibc "):
        glibc = text.split()[1]
    multiarch = getattr(sys.implementation, "_multiarch", "") or ""
    if not glibc and "musl" in multiarch:
        import glob
        import subprocess
        for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
            try:
                proc = subprocess.Popen([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                err = proc.communicate()[1].decode("utf-8", "replace")
            except OSError:
                continue
            for line in err.splitlines():
                if line.startswith("Version "):
                    musl = line.split()[1]
                    break
            if musl:
                break
    elif not glibc:
        name, version = platform.libc_ver()
        if name == "glibc" and version:
            glibc = version
    return glibc, musl


def mac_version():
    if sys.platform != "darwin":
        return None
    version = platform.mac_ver()[0]
    if version.startswith("10.16"):
        import subprocess
        env = dict(os.environ)
        env["SYSTEM_VERSION_COMPAT"] = "0"
        proc = subprocess.Popen(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            stdout=subprocess.PIPE,
            env=env,
        )
        version = proc.communicate()[0].decode("ascii", "replace").strip() or version
    return version


def scheme_paths():
    names = sysconfig.get_scheme_names()
    if "venv" in names:
        scheme = "venv"
    elif os.name == "nt":
        scheme = "nt"
    else:
        scheme = "posix_prefix"
    variables = {
        "base": PLACEHOLDER,
        "platbase": PLACEHOLDER,
        "installed_base": PLACEHOLDER,
        "installed_platbase": PLACEHOLDER,
    }
    paths = sysconfig.get_paths(scheme=scheme, vars=variables)
    result = {}
    for key in ("purelib", "platlib", "scripts", "include", "data"):
        value = paths[key]
        if value == PLACEHOLDER:
            result[key] = ""
        elif value.startswith(PLACEHOLDER):
            result[key] = value[len(PLACEHOLDER):].lstrip("/\\")
        else:
            result[key] = None
    return scheme, result


def main():
    info = sys.version_info
    out = {
        "version_info": [info[0], info[1], info[2], info[3], info[4]],
        "executable": sys.executable,
    }
    if tuple(info[:2]) < (3, 8):
        sys.stdout.write(json.dumps(out))
        return
    from importlib.machinery import EXTENSION_SUFFIXES

    impl = sys.implementation
    out["implementation"] = impl.name
    out["prefix"] = sys.prefix
    out["base_prefix"] = sys.base_prefix
    out["base_executable"] = base_executable()
    out["platform"] = sysconfig.get_platform()
    out["markers"] = {
        "implementation_name": impl.name,
        "implementation_version": full_version(impl.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    glibc, musl = libc()
    out["glibc"] = glibc
    out["musl"] = musl
    out["mac_version"] = mac_version()
    out["pointer_size"] = struct.calcsize("P") * 8
    config = {}
    for name in ("Py_DEBUG", "Py_GIL_DISABLED", "SOABI", "EXT_SUFFIX", "py_version_nodot"):
        config[name] = sysconfig.get_config_var(name)
    out["config"] = config
    out["abiflags"] = getattr(sys, "abiflags", "")
    out["has_totalrefcount"] = hasattr(sys, "gettotalrefcount")
    out["debug_extensions"] = "_d.pyd" in EXTENSION_SUFFIXES
    out["scheme_name"], out["scheme"] = scheme_paths()
    sys.stdout.write(json.dumps(out))


main()
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Facts:
    """The probe's answer for a supported interpreter, validated and typed."""

    version: str
    implementation: str
    prefix: str
    base_prefix: str
    base_executable: str | None
    platform: str
    markers: dict[str, str]
    glibc: str | None
    musl: str | None
    mac_version: str | None
    pointer_size: int
    py_debug: bool | None
    gil_disabled: bool
    ext_suffix: str | None
    version_nodot: str | None
    has_totalrefcount: bool
    debug_extensions: bool
    scheme: dict[str, str]


# -- public API -----------------------------------------------------------------------------


def probe_interpreter(executable: Path, *, cache_dir: Path | None) -> Interpreter:
    """Learn the facts about the Python interpreter at ``executable``.

    The interpreter runs at most once: answers are cached in
    ``<cache_dir>/interpreters-v1/`` and reused while the executable (its real
    path, modification time in nanoseconds and size in bytes) and, inside a
    virtual environment, its ``pyvenv.cfg`` are unchanged.

    :param executable: the interpreter's path; kept as given (not resolved) in
        :attr:`Interpreter.executable`, made absolute. For an interpreter outside a
        virtual environment it is also the :attr:`Interpreter.base_executable`, so a
        venv made from ``~/.pyenv/versions/3.12.1/bin/python3.12`` points there.
    :param cache_dir: shipyard's cache root, or ``None`` to probe without caching.
    :returns: the :class:`Interpreter`, with its PEP 508 marker environment, its
        supported wheel tags (PEP 425) most preferred first, and its PEP 405 venv
        install scheme relative to an environment root.
    :raises InterpreterNotFoundError: when ``executable`` does not exist, cannot be
        run, is not a Python interpreter, or is older than Python 3.8.
    """
    path = Path(os.path.abspath(os.path.expanduser(executable)))
    key = _cache_key(path)
    entry_path = _entry_path(cache_dir, key) if cache_dir is not None else None
    if entry_path is not None:
        facts_and_tags = _read_entry(entry_path, key)
        if facts_and_tags is not None:
            return _build(path, *facts_and_tags)
    raw = _run_probe(path)
    facts = _parse_facts(raw, path)
    tags = supported_tags(_tag_inputs(facts))
    if entry_path is not None:
        _write_entry(entry_path, key, raw, tags)
    return _build(path, facts, tags)


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


def _tag_inputs(facts: _Facts) -> TagInputs:
    """The :class:`TagInputs` of a probed interpreter."""
    major, minor = (int(part) for part in facts.version.split(".")[:2])
    return TagInputs(
        implementation=facts.implementation,
        python_version=(major, minor),
        sys_platform=facts.markers["sys_platform"],
        platform=facts.platform,
        machine=facts.markers["platform_machine"],
        pointer_size=facts.pointer_size,
        glibc=facts.glibc,
        musl=facts.musl,
        mac_version=facts.mac_version,
        py_debug=facts.py_debug,
        gil_disabled=facts.gil_disabled,
        ext_suffix=facts.ext_suffix,
        version_nodot=facts.version_nodot,
        has_totalrefcount=facts.has_totalrefcount,
        debug_extensions=facts.debug_extensions,
    )


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


# -- running the probe ----------------------------------------------------------------------


def _run_probe(path: Path) -> dict[str, Any]:
    """Run the probe script with ``path``; return its parsed JSON answer."""
    hint = "Point --python at a Python 3.8+ interpreter, or omit it to let shipyard search."
    if not path.exists():
        raise InterpreterNotFoundError(
            f"No Python interpreter at {path}: the file does not exist.",
            hint=hint,
        )
    if path.is_dir() or not os.access(path, os.X_OK):
        raise InterpreterNotFoundError(
            f"{path} is not an executable file.",
            hint=hint,
        )
    # -E: ignore PYTHON* variables; -s: no user site-packages. (-I would also do this,
    # but Python 2.7 does not know it and would fail before it could say its version.)
    command = [str(path), "-E", "-s", "-c", PROBE_SCRIPT]
    timeout = _probe_timeout()
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=path.anchor or None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InterpreterNotFoundError(
            f"{path} did not answer within {timeout:g} seconds.",
            hint=hint,
        ) from exc
    except OSError as exc:
        raise InterpreterNotFoundError(
            f"Could not run {path}: {exc.strerror or exc}.",
            hint=hint,
        ) from exc
    try:
        data = json.loads(completed.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        data = None
    if completed.returncode != 0 or not isinstance(data, dict):
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        detail = f": {stderr.splitlines()[-1]}" if stderr else ""
        raise InterpreterNotFoundError(
            f"{path} does not look like a Python interpreter (the probe failed{detail}).",
            hint=hint,
        )
    return data


def _parse_facts(raw: Mapping[str, Any], path: Path) -> _Facts:
    """Check the probe's answer and turn it into :class:`_Facts`.

    :raises InterpreterNotFoundError: for an interpreter older than 3.8 or a malformed answer.
    """
    try:
        info = raw["version_info"]
        major, minor, micro, level, serial = (
            int(info[0]),
            int(info[1]),
            int(info[2]),
            str(info[3]),
            int(info[4]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise _malformed(path) from exc
    version = f"{major}.{minor}.{micro}"
    if level != "final":
        version += {"alpha": "a", "beta": "b", "candidate": "rc"}.get(level, level[:1]) + str(
            serial
        )
    if (major, minor) < MINIMUM_VERSION:
        raise InterpreterNotFoundError(
            f"Python {version} at {path} is not supported: shipyard needs Python "
            f"{MINIMUM_VERSION[0]}.{MINIMUM_VERSION[1]} or newer for environments.",
            hint="Install a newer Python (for example with pyenv) or choose another with --python.",
        )
    try:
        config = raw["config"]
        markers = {str(k): str(v) for k, v in raw["markers"].items()}
        scheme_raw = raw["scheme"]
        scheme: dict[str, str] = {}
        for name in ("purelib", "platlib", "scripts", "include", "data"):
            value = scheme_raw[name]
            if value is None:
                raise ValueError(f"the {name} path of the venv scheme is not under the root")
            scheme[name] = str(value)
        gil = config.get("Py_GIL_DISABLED")
        debug = config.get("Py_DEBUG")
        return _Facts(
            version=version,
            implementation=str(raw["implementation"]),
            prefix=str(raw["prefix"]),
            base_prefix=str(raw["base_prefix"]),
            base_executable=_opt_str(raw.get("base_executable")),
            platform=str(raw["platform"]),
            markers=markers,
            glibc=_opt_str(raw.get("glibc")),
            musl=_opt_str(raw.get("musl")),
            mac_version=_opt_str(raw.get("mac_version")),
            pointer_size=int(raw["pointer_size"]),
            py_debug=None if debug is None else bool(debug),
            gil_disabled=bool(gil),
            ext_suffix=_opt_str(config.get("EXT_SUFFIX")),
            version_nodot=_opt_str(config.get("py_version_nodot")),
            has_totalrefcount=bool(raw.get("has_totalrefcount")),
            debug_extensions=bool(raw.get("debug_extensions")),
            scheme=scheme,
        )
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise _malformed(path) from exc


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _malformed(path: Path) -> InterpreterNotFoundError:
    return InterpreterNotFoundError(
        f"{path} gave an answer shipyard does not understand.",
        hint="Check that it is a working CPython or PyPy interpreter.",
    )


def _build(path: Path, facts: _Facts, tags: tuple[str, ...]) -> Interpreter:
    in_venv = facts.prefix != facts.base_prefix
    base = Path(facts.base_executable) if in_venv and facts.base_executable else path
    return Interpreter(
        executable=path,
        version=facts.version,
        implementation=facts.implementation,
        prefix=Path(facts.prefix),
        base_prefix=Path(facts.base_prefix),
        base_executable=base,
        platform=facts.platform,
        markers=dict(facts.markers),
        tags=tags,
        scheme=dict(facts.scheme),
        gil_disabled=facts.gil_disabled,
        pointer_size=facts.pointer_size,
    )


def venv_interpreter(base: Interpreter, root: Path, python: Path) -> Interpreter:
    """The facts of a virtual environment's interpreter, derived from its base's without
    running it.

    A PEP 405 environment runs its base interpreter's binary: version, markers, wheel
    tags, platform and install scheme are the base's; only ``sys.prefix`` (the
    environment's root) and the executable differ. Use it for an environment shipyard
    just made from ``base`` (a fresh ``.venv`` then costs no interpreter start-up).

    :param base: the interpreter the environment was created from.
    :param root: the environment's root; :param python: its ``bin/python``.
    """
    import dataclasses

    return dataclasses.replace(
        base,
        executable=python,
        prefix=Path(os.path.abspath(root)),
        base_prefix=base.base_prefix,
        base_executable=base.base_executable,
    )


# -- the cache ------------------------------------------------------------------------------


def _cache_key(path: Path) -> dict[str, Any]:
    """What a cache entry for ``path`` is valid for.

    The real path identifies the binary (``python3`` and ``python3.12`` share an
    entry). A virtual environment's ``bin/python`` resolves to its base interpreter's
    binary but answers differently (``sys.prefix``), so the ``pyvenv.cfg`` next to or
    one level above the executable (PEP 405) is part of the key.
    """
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError:
        return {"realpath": real, "mtime_ns": None, "size": None, "venv": None}
    venv: list[Any] | None = None
    for cfg in (path.parent / "pyvenv.cfg", path.parent.parent / "pyvenv.cfg"):
        try:
            cfg_stat = os.stat(cfg)
        except OSError:
            continue
        venv = [str(cfg), cfg_stat.st_mtime_ns, cfg_stat.st_size]
        break
    return {"realpath": real, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "venv": venv}


def _entry_path(cache_dir: Path, key: Mapping[str, Any]) -> Path:
    identity = key["realpath"]
    if key["venv"]:
        identity += "\0" + key["venv"][0]
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir / _CACHE_BUCKET / f"{digest}.json"


def _packaging_version() -> str:
    import packaging

    return str(packaging.__version__)


def _read_entry(entry: Path, key: Mapping[str, Any]) -> tuple[_Facts, tuple[str, ...]] | None:
    """The cached facts and tags for ``key``, or ``None`` when absent or stale."""
    if key["mtime_ns"] is None:
        return None
    try:
        data = json.loads(entry.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("record") != _RECORD_VERSION:
        return None
    if data.get("key") != dict(key):
        return None
    try:
        facts = _parse_facts(data["probe"], Path(key["realpath"]))
    except (KeyError, InterpreterNotFoundError):
        return None
    tags = data.get("tags")
    if data.get("packaging") != _packaging_version() or not isinstance(tags, list):
        return facts, supported_tags(_tag_inputs(facts))
    return facts, tuple(str(tag) for tag in tags)


def _write_entry(
    entry: Path, key: Mapping[str, Any], raw: Mapping[str, Any], tags: tuple[str, ...]
) -> None:
    """Store a probe's answer; a cache that cannot be written is silently skipped."""
    from shipyard.atomic import atomic_write_text
    from shipyard.errors import ShipyardError

    if key["mtime_ns"] is None:
        return
    record = {
        "record": _RECORD_VERSION,
        "key": dict(key),
        "packaging": _packaging_version(),
        "probe": dict(raw),
        "tags": list(tags),
    }
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(entry, json.dumps(record, sort_keys=True), fsync=False)
    except (OSError, ShipyardError):
        pass
