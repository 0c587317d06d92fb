"""Probe a Python interpreter: run it once, learn what shipyard needs, cache the answer.

:func:`probe_interpreter` runs the interpreter a single time with a small script
(:data:`~shipyard.python.probe_script.PROBE_SCRIPT`) that prints one JSON object: the
version, the implementation, ``sys.prefix`` and ``sys.base_prefix``, the base
interpreter a virtual environment must point at, ``sysconfig.get_platform()``, the
PEP 508 marker environment, the C library, ABI facts and the ``sysconfig`` install
scheme of a virtual environment (PEP 405). The script is written in the common
subset of Python 2.7 and 3.x so that an old interpreter answers "I am 2.7"
instead of failing with a syntax error; shipyard then refuses it clearly.

The supported wheel tags (PEP 425, PEP 600, PEP 656) are computed in shipyard's own
process, from the probed facts, by :mod:`shipyard.python.tags`, so the probe never
needs ``packaging`` inside the target interpreter.

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
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InterpreterNotFoundError
from shipyard.models.interpreter import Interpreter
from shipyard.python.probe_script import PROBE_SCRIPT
from shipyard.python.tags import TagInputs, supported_tags

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
