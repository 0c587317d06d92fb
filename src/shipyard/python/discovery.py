"""Find a Python interpreter on this machine that fits a request.

Requests (what the user wrote for ``--python``, ``.python-version`` or
``[tool.shipyard] python``) are parsed by :mod:`shipyard.python.requests`.

Candidates come from ``PATH`` (``python3.X``, ``python3``, ``python``, and the
PyPy equivalents; pyenv's ``shims`` directory is skipped because its shims are
slow shell scripts), then from the directories that hold one installation per
version: shipyard's own (:func:`managed_python_dir`), pyenv's
(``$PYENV_ROOT/versions``), uv's (``UV_PYTHON_INSTALL_DIR`` or
``~/.local/share/uv/python``), mise's and asdf's (``installs/python``), and
finally conda environments (``~/.conda/environments.txt``, ``CONDA_PREFIX`` and
the usual install roots). Directories are read; no version manager is ever run.
The version written in a file or directory name rules a candidate out before
it is probed, so a search usually runs at most one interpreter, and usually none
at all thanks to the probe cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import InterpreterNotFoundError
from shipyard.models.interpreter import Interpreter
from shipyard.python.probe import MINIMUM_VERSION, probe_interpreter
from shipyard.python.requests import (
    NameHint,
    PythonRequest,
    could_contain,
    int_parts,
    parse_python_request,
    read_python_pin,
)

if TYPE_CHECKING:
    # imported where a specifier is parsed: `python list` never needs one (~30 ms)
    from packaging.specifiers import SpecifierSet

__all__ = [
    "PythonRequest",
    "find_interpreter",
    "iter_candidate_executables",
    "list_interpreters",
    "parse_python_request",
    "read_python_pin",
]

#: Where a candidate was found.
SOURCE_PATH = "PATH"
SOURCE_MANAGED = "shipyard"
SOURCE_PYENV = "pyenv"
SOURCE_UV = "uv"
SOURCE_MISE = "mise"
SOURCE_ASDF = "asdf"
SOURCE_CONDA = "conda"

_EXECUTABLE_NAME = re.compile(r"^(?P<impl>python|pypy)(?P<version>\d+(?:\.\d+)?)?(?P<t>t)?$")
_PYENV_DIR = re.compile(
    r"^(?:(?P<impl>pypy|cpython)-?)?(?P<version>\d+(?:\.\d+){1,2})(?P<pre>(?:a|b|rc)\d+)?"
    r"(?P<t>t)?(?:$|[-+])"
)


def iter_candidate_executables() -> Iterator[tuple[Path, str]]:
    """Python executables on this machine, in the order a search considers them.

    First every ``PATH`` directory in order (within one: ``python3.X`` newest first,
    ``python3``, ``python``, then ``pypy3.X``, ``pypy3``, ``pypy``), skipping pyenv's
    ``shims`` directory; then each version directory newest first: shipyard-managed,
    pyenv, uv, mise, asdf; then conda environments. Nothing is run. Paths naming the
    same file (by real path) are yielded once, the first time they are seen.

    :returns: ``(path, source)`` pairs; ``source`` is one of ``"PATH"``, ``"shipyard"``,
        ``"pyenv"``, ``"uv"``, ``"mise"``, ``"asdf"``, ``"conda"``; the path is kept as
        found (not resolved).
    """
    seen: set[str] = set()
    for path, source in _iter_raw_candidates():
        try:
            real = os.path.realpath(path)
        except OSError:
            continue
        if real in seen:
            continue
        seen.add(real)
        yield path, source


def find_interpreter(
    request: PythonRequest,
    *,
    requires_python: SpecifierSet | None,
    cache_dir: Path | None,
) -> Interpreter:
    """The best interpreter on this machine for ``request`` and ``requires_python``.

    For a path request, the interpreter at that path (an environment directory is
    searched for ``bin/python3``, ``bin/python`` or ``Scripts/python.exe``). Otherwise
    the first interpreter on ``PATH`` that fits wins; failing that, the newest fitting
    pyenv version. An interpreter inside a virtual environment is replaced by its base
    interpreter. Candidates whose name shows a non-fitting version are never run.

    :param request: from :func:`parse_python_request`.
    :param requires_python: the project's ``requires-python`` (PEP 440), compared with
        the interpreter's full version; ``None`` for no constraint.
    :param cache_dir: shipyard's cache root for :func:`probe_interpreter`, or ``None``.
    :returns: the chosen :class:`Interpreter`.
    :raises InterpreterNotFoundError: when nothing fits; the message lists what was found.
    """
    if request.path is not None:
        return _find_by_path(request.path, requires_python, cache_dir)
    found: list[str] = []
    probed: set[str] = set()
    for path, source in iter_candidate_executables():
        hint = _name_hint(path, source)
        if hint.version and hint.version[:2] < MINIMUM_VERSION[: len(hint.version[:2])]:
            found.append(f"{hint.text()} ({source}, unsupported)")
            continue
        if not request.could_be(hint) or (
            requires_python is not None and not could_contain(requires_python, hint.version)
        ):
            found.append(f"{hint.text()} ({source})")
            continue
        interpreter = _probe_base(path, cache_dir, probed)
        if interpreter is None:
            continue
        found.append(f"{interpreter.version} ({source})")
        if request.satisfied_by(interpreter) and _allowed(interpreter, requires_python):
            return interpreter
    wanted = request.describe()
    if requires_python is not None:
        wanted += f" with requires-python {requires_python}"
    listing = ", ".join(found) if found else "no interpreters"
    raise InterpreterNotFoundError(
        f"No interpreter found for {wanted}: found {listing}.",
        hint="Install one with `shipyard python install VERSION` (or pyenv), or set --python to "
        "an interpreter.",
    )


def list_interpreters(
    cache_dir: Path | None, *, skipped: list[str] | None = None
) -> list[tuple[Interpreter, str]]:
    """Every usable (Python 3.8+) interpreter on this machine, in search order.

    Interpreters inside virtual environments are replaced by their base interpreter;
    unusable candidates (too old, broken, hanging past the probe's time limit) are left
    out. This probes every candidate (once; later calls read the cache).

    :param cache_dir: shipyard's cache root, or ``None`` to probe without caching.
    :param skipped: receives one sentence per candidate left out and why (for ``-v``).
    :returns: ``(interpreter, source)`` pairs; sources as in
        :func:`iter_candidate_executables`.
    """
    result: list[tuple[Interpreter, str]] = []
    probed: set[str] = set()
    for path, source in iter_candidate_executables():
        hint = _name_hint(path, source)
        if hint.version and hint.version[:2] < MINIMUM_VERSION[: len(hint.version[:2])]:
            if skipped is not None:
                skipped.append(f"{path} ({source}): Python {hint.text()} is older than 3.8.")
            continue
        interpreter = _probe_base(path, cache_dir, probed, skipped)
        if interpreter is not None:
            result.append((interpreter, source))
    return result


# -- candidates -----------------------------------------------------------------------------


def _pyenv_root() -> Path:
    root = os.environ.get("PYENV_ROOT")
    return Path(root) if root else Path.home() / ".pyenv"


def _is_pyenv_shims(directory: Path, pyenv: Path) -> bool:
    """True for pyenv's (or a pyenv plugin's) ``shims`` directory: slow shell scripts."""
    return directory.name == "shims" and str(directory).startswith(str(pyenv) + os.sep)


def _executable_file(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:
        return False


def _version_sort_key(text: str) -> tuple[int, ...]:
    return int_parts(re.sub(r"^[a-z]+-?", "", text.lower().removesuffix("t")))


def _iter_path_dir(directory: Path) -> Iterator[Path]:
    """Python executables in one ``PATH`` directory, most specific name first."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    by_impl: dict[str, list[tuple[tuple[int, ...], str]]] = {"python": [], "pypy": []}
    for name in names:
        stem = name[:-4] if name.lower().endswith(".exe") else name
        match = _EXECUTABLE_NAME.match(stem)
        if match is None:
            continue
        version = int_parts(match.group("version") or "")
        # python3.12 before python3 before python; free-threaded after the GIL build.
        rank = (len(version), *version, 0 if match.group("t") else 1)
        by_impl[match.group("impl")].append((rank, name))
    for impl in ("python", "pypy"):
        for _, name in sorted(by_impl[impl], reverse=True):
            path = directory / name
            if _executable_file(path):
                yield path


def _iter_raw_candidates() -> Iterator[tuple[Path, str]]:
    pyenv = _pyenv_root()
    shims = os.path.normcase(os.path.abspath(pyenv / "shims"))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        directory = Path(os.path.abspath(os.path.expanduser(entry)))
        if os.path.normcase(str(directory)) == shims or _is_pyenv_shims(directory, pyenv):
            continue
        for path in _iter_path_dir(directory):
            yield path, SOURCE_PATH
    for source, root in _version_roots(pyenv):
        try:
            names = sorted(os.listdir(root), key=lambda n: (_version_sort_key(n), n), reverse=True)
        except OSError:
            continue
        for name in names:
            if name.startswith("."):
                continue  # a managed install being made or removed
            found = _interpreter_in(root / name)
            if found is not None:
                yield found, source
    for prefix in _conda_prefixes():
        found = _interpreter_in(prefix)
        if found is not None:
            yield found, SOURCE_CONDA


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def managed_python_dir() -> Path:
    """Where shipyard installs interpreters (``SHIPYARD_PYTHON_INSTALL_DIR``, see
    :mod:`shipyard.settings`; else ``$XDG_DATA_HOME/shipyard/python``, else
    ``~/.local/share/shipyard/python``)."""
    from shipyard.settings import from_environment

    configured = from_environment("python_install_dir")
    return Path(configured).expanduser() if configured else _data_home() / "shipyard" / "python"


def _version_roots(pyenv: Path) -> list[tuple[str, Path]]:
    """Directories holding one interpreter per version directory, in search order."""
    uv = os.environ.get("UV_PYTHON_INSTALL_DIR")
    mise = os.environ.get("MISE_DATA_DIR")
    asdf = os.environ.get("ASDF_DATA_DIR")
    return [
        (SOURCE_MANAGED, managed_python_dir()),
        (SOURCE_PYENV, pyenv / "versions"),
        (SOURCE_UV, Path(uv).expanduser() if uv else _data_home() / "uv" / "python"),
        (
            SOURCE_MISE,
            (Path(mise).expanduser() if mise else _data_home() / "mise") / "installs" / "python",
        ),
        (
            SOURCE_ASDF,
            (Path(asdf).expanduser() if asdf else Path.home() / ".asdf") / "installs" / "python",
        ),
    ]


def _interpreter_in(prefix: Path) -> Path | None:
    """The interpreter of an installation or environment prefix, or ``None``."""
    for relative in ("bin/python3", "bin/python", "bin/pypy3", "bin/pypy", "python.exe"):
        if _executable_file(prefix / relative):
            return prefix / relative
    return None


#: Where conda, mamba and micromamba are usually installed, relative to the home directory.
_CONDA_ROOTS = (
    "miniconda3",
    "anaconda3",
    "miniforge3",
    "mambaforge",
    "micromamba",
    ".micromamba",
    "opt/miniconda3",
)


def _conda_prefixes() -> list[Path]:
    """Conda environments: those listed in ``~/.conda/environments.txt``, the active one
    (``CONDA_PREFIX``), and the base and ``envs/*`` of the usual install roots."""
    found: list[Path] = []
    home = Path.home()
    try:
        listed = (home / ".conda" / "environments.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        listed = []
    found.extend(Path(line.strip()) for line in listed if line.strip())
    if os.environ.get("CONDA_PREFIX"):
        found.append(Path(os.environ["CONDA_PREFIX"]))
    roots = [home / name for name in _CONDA_ROOTS] + [Path("/opt/conda")]
    if os.environ.get("MAMBA_ROOT_PREFIX"):
        roots.append(Path(os.environ["MAMBA_ROOT_PREFIX"]))
    for root in roots:
        if not root.is_dir():
            continue
        found.append(root)
        try:
            found.extend(sorted(p for p in (root / "envs").iterdir() if p.is_dir()))
        except OSError:
            pass
    unique: dict[str, Path] = {}
    for prefix in found:
        unique.setdefault(os.path.normcase(os.path.abspath(prefix)), prefix)
    return list(unique.values())


def _name_hint(path: Path, source: str) -> NameHint:
    """What the file name (on PATH) or version directory (pyenv) says about a candidate."""
    if source != SOURCE_PATH:
        # a version directory (pyenv's 3.12.1, uv's cpython-3.12.1-linux-x86_64-gnu);
        # conda environments are named by their users and say nothing
        match = _PYENV_DIR.match(path.parent.parent.name.lower())
        if match is None:
            return NameHint()
        impl = match.group("impl")
        return NameHint(
            implementation=("pypy" if impl == "pypy" else "cpython") if impl else None,
            version=int_parts(match.group("version")),
            free_threaded=True if match.group("t") else None,
        )
    stem = path.name[:-4] if path.name.lower().endswith(".exe") else path.name
    match = _EXECUTABLE_NAME.match(stem)
    if match is None:
        return NameHint()
    threaded = bool(match.group("t"))
    return NameHint(
        implementation="pypy" if match.group("impl") == "pypy" else None,
        version=int_parts(match.group("version") or ""),
        free_threaded=True if threaded else None,
    )


def _probe_base(
    path: Path, cache_dir: Path | None, probed: set[str], skipped: list[str] | None = None
) -> Interpreter | None:
    """Probe ``path``; for a virtual environment's interpreter, probe its base instead.

    Returns ``None`` for a candidate that cannot be used (broken, too old) or whose
    base interpreter was already probed in this search (``probed`` holds real paths).
    """
    try:
        interpreter = probe_interpreter(path, cache_dir=cache_dir)
        if interpreter.is_virtualenv:
            base = interpreter.base_executable
            real = os.path.realpath(base)
            if real in probed:
                return None
            probed.add(real)
            interpreter = probe_interpreter(base, cache_dir=cache_dir)
            if interpreter.is_virtualenv:
                return None
        else:
            probed.add(os.path.realpath(path))
    except InterpreterNotFoundError as exc:
        if skipped is not None:
            skipped.append(exc.message)
        return None
    return interpreter


def _allowed(interpreter: Interpreter, requires_python: SpecifierSet | None) -> bool:
    if requires_python is None:
        return True
    full = interpreter.markers.get("python_full_version", interpreter.version)
    return requires_python.contains(full, prereleases=True)


def _find_by_path(
    path: Path, requires_python: SpecifierSet | None, cache_dir: Path | None
) -> Interpreter:
    executable = path
    if path.is_dir():
        for relative in ("bin/python3", "bin/python", "Scripts/python.exe", "python.exe"):
            if _executable_file(path / relative):
                executable = path / relative
                break
        else:
            raise InterpreterNotFoundError(
                f"{path} is a directory without a Python interpreter in it.",
                hint="Point --python at an interpreter, or at an environment with bin/python.",
            )
    interpreter = probe_interpreter(executable, cache_dir=cache_dir)
    if not _allowed(interpreter, requires_python):
        raise InterpreterNotFoundError(
            f"The Python at {executable} is {interpreter.version}, which does not satisfy "
            f"requires-python {requires_python}.",
            hint="Choose another interpreter with --python, or relax requires-python.",
        )
    return interpreter
