"""Find interpreters on this machine: PATH, then pyenv's versions directory.

pyenv's shims are skipped (each is a bash script costing ~150 ms, and they can
point anywhere); its ``versions/*`` directories are read directly. A version
is inferred from the file or directory name first, so only plausible
interpreters are probed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from shipyard.errors import InterpreterNotFoundError, ShipyardError, UsageError
from shipyard.models import Interpreter
from shipyard.python.probe import probe_interpreter

__all__ = [
    "PythonRequest",
    "find_interpreter",
    "iter_candidate_executables",
    "list_interpreters",
    "parse_python_request",
]

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(t)?$")


@dataclass(frozen=True, slots=True)
class PythonRequest:
    """What the user asked for: any, a version prefix, a specifier set, an
    implementation, free-threaded, or a path."""

    implementation: str | None = None
    version: tuple[int, ...] = ()
    specifier: SpecifierSet | None = None
    free_threaded: bool | None = None
    path: Path | None = None
    text: str = ""

    def satisfied_by(self, interpreter: Interpreter) -> bool:
        """Whether ``interpreter`` fits this request."""
        if self.path is not None:
            return Path(os.path.abspath(interpreter.executable)) == self.path or (
                interpreter.prefix == self.path
            )
        if self.implementation and interpreter.implementation != self.implementation:
            return False
        if self.free_threaded is not None and interpreter.gil_disabled != self.free_threaded:
            return False
        actual = interpreter.version_tuple
        if self.version and tuple(actual[: len(self.version)]) != self.version:
            return False
        return self.specifier is None or self.specifier.contains(
            interpreter.markers["python_full_version"], prereleases=True
        )

    def minimum_version(self) -> str | None:
        """``"X.Y"`` when the request names a minor version (for ``init``'s requires-python)."""
        if len(self.version) >= 2:
            return f"{self.version[0]}.{self.version[1]}"
        return None


def parse_python_request(text: str | None) -> PythonRequest:
    """Parse ``--python`` / ``.python-version`` text.

    Accepts ``3``, ``3.12``, ``3.12.1``, ``3.13t``, ``>=3.10,<3.12``, ``cpython3.12``,
    ``cp312``, ``python3.12``, ``pypy3.10``, or a path to an interpreter or an environment.

    :raises UsageError: for anything else.
    """
    if text is None or not text.strip():
        return PythonRequest()
    raw = text.strip()
    if "/" in raw or raw.startswith(".") or os.sep in raw:
        path = Path(raw).expanduser()
        if path.is_dir():
            for candidate in (path / "bin" / "python3", path / "bin" / "python"):
                if candidate.exists():
                    path = candidate
                    break
        return PythonRequest(path=Path(os.path.abspath(path)), text=raw)
    lowered = raw.lower()
    implementation = None
    for prefix, name in (
        ("cpython", "cpython"),
        ("python", "cpython"),
        ("pypy", "pypy"),
        ("cp", "cpython"),
        ("pp", "pypy"),
    ):
        if lowered.startswith(prefix):
            implementation = name
            lowered = lowered[len(prefix) :].lstrip("@-")
            if prefix in ("cp", "pp") and lowered.isdigit() and len(lowered) >= 2:
                lowered = f"{lowered[0]}.{lowered[1:]}"
            break
    if not lowered:
        return PythonRequest(implementation=implementation, text=raw)
    match = _VERSION.match(lowered)
    if match:
        parts = tuple(int(g) for g in match.groups()[:3] if g is not None)
        return PythonRequest(
            implementation=implementation,
            version=parts,
            free_threaded=True if match.group(4) else None,
            text=raw,
        )
    try:
        return PythonRequest(
            implementation=implementation, specifier=SpecifierSet(lowered), text=raw
        )
    except InvalidSpecifier as exc:
        raise UsageError(
            f"Invalid Python request {text!r}.",
            hint="Use a version (3.12), a range (>=3.10,<3.13), an implementation "
            "(pypy3.10) or a path to an interpreter.",
        ) from exc


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def iter_candidate_executables() -> Iterator[tuple[Path, str]]:
    """``(path, source)`` for every plausible interpreter: PATH first, then pyenv.

    Deduplicated by real path; pyenv's shims directory is skipped.
    """
    seen: set[str] = set()
    shims = str(_pyenv_root() / "shims")
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.abspath(directory) == shims:
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not re.fullmatch(r"python(3(\.\d+)?t?)?", name):
                continue
            path = Path(directory) / name
            try:
                real = os.path.realpath(path)
            except OSError:
                continue
            if real in seen or not os.access(path, os.X_OK):
                continue
            seen.add(real)
            yield path, "PATH"
    versions = _pyenv_root() / "versions"
    try:
        entries = sorted(versions.iterdir(), key=lambda p: _version_key(p.name), reverse=True)
    except OSError:
        entries = []
    for entry in entries:
        for name in ("python3", "python"):
            path = entry / "bin" / name
            if path.exists():
                real = os.path.realpath(path)
                if real not in seen:
                    seen.add(real)
                    yield path, "pyenv"
                break


def _version_key(name: str) -> tuple[int, ...]:
    digits = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", name)
    if not digits:
        return (0,)
    return tuple(int(g) for g in digits.groups() if g is not None)


def _guess_version(path: Path, source: str) -> tuple[int, ...] | None:
    if source == "pyenv":
        guessed = _version_key(path.parent.parent.name)
        return guessed if guessed != (0,) else None
    match = re.fullmatch(r"python(\d)\.(\d+)t?", path.name)
    if match:
        return (int(match.group(1)), int(match.group(2)))
    return None


def _plausible(
    request: PythonRequest, requires_python: SpecifierSet | None, guess: tuple[int, ...] | None
) -> bool:
    if guess is None:
        return True
    if request.version and tuple(guess[: len(request.version)]) != request.version[: len(guess)]:
        return False
    for spec in (request.specifier, requires_python):
        if spec is None or len(guess) < 2:
            continue
        minor = f"{guess[0]}.{guess[1]}"
        patches = [f"{minor}.{p}" for p in range(0, 40)]
        if not any(spec.contains(v, prereleases=True) for v in patches):
            return False
    return True


def find_interpreter(
    request: PythonRequest, *, requires_python: SpecifierSet | None, cache_dir: Path | None
) -> Interpreter:
    """The best interpreter for ``request`` that also satisfies ``requires_python``.

    An exact path is probed as is. Otherwise the first fitting interpreter on PATH
    wins, then the highest fitting pyenv version. A virtual environment's
    interpreter is replaced by its base interpreter.

    :raises InterpreterNotFoundError: listing what was found.
    """
    if request.path is not None:
        return probe_interpreter(request.path, cache_dir=cache_dir)
    found: list[str] = []
    for path, source in iter_candidate_executables():
        guess = _guess_version(path, source)
        if not _plausible(request, requires_python, guess):
            if guess:
                found.append(f"{'.'.join(map(str, guess))} ({source})")
            continue
        try:
            interpreter = probe_interpreter(path, cache_dir=cache_dir)
        except ShipyardError:
            continue
        if interpreter.is_virtualenv:
            try:
                interpreter = probe_interpreter(interpreter.base_executable, cache_dir=cache_dir)
            except ShipyardError:
                continue
        found.append(f"{interpreter.version} ({source})")
        if not request.satisfied_by(interpreter):
            continue
        if requires_python is not None and not requires_python.contains(
            interpreter.markers["python_full_version"], prereleases=True
        ):
            continue
        return interpreter
    wanted = request.text or "any Python"
    if requires_python is not None:
        wanted += f" (requires-python {requires_python})"
    listing = ", ".join(dict.fromkeys(found)) or "none"
    raise InterpreterNotFoundError(
        f"No interpreter on this machine satisfies {wanted}; found: {listing}.",
        hint="Install that Python (for example with pyenv) or pass --python with another version.",
    )


def list_interpreters(cache_dir: Path | None) -> list[tuple[Interpreter, str]]:
    """Every usable interpreter found, with its source."""
    result = []
    for path, source in iter_candidate_executables():
        try:
            result.append((probe_interpreter(path, cache_dir=cache_dir), source))
        except ShipyardError:
            continue
    return result
