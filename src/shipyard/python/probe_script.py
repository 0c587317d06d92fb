"""The script :func:`~shipyard.python.probe.probe_interpreter` runs inside an interpreter.

:data:`PROBE_SCRIPT` prints one JSON object: the version, the implementation,
``sys.prefix`` and ``sys.base_prefix``, the base interpreter a virtual environment
must point at, ``sysconfig.get_platform()``, the PEP 508 marker environment, the C
library, ABI facts and the ``sysconfig`` install scheme of a virtual environment
(PEP 405). It is written in the common subset of Python 2.7 and 3.x so that an old
interpreter answers "I am 2.7" instead of failing with a syntax error.
"""

from __future__ import annotations

__all__ = ["PROBE_SCRIPT"]

#: A placeholder install root handed to ``sysconfig`` and stripped from its answers.
_ROOT_PLACEHOLDER = "__SHIPYARD_ENV_ROOT__"

# The probe. Valid Python 2.7 and 3.x: no f-strings, no annotations, no keyword-only
# arguments, no print statement. Interpreters older than probe.MINIMUM_VERSION answer with
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
