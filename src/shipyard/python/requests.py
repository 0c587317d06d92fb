"""Parse what the user asked for as a Python interpreter, and match interpreters to it.

A *request* is what the user wrote for ``--python``, ``.python-version`` or
``[tool.shipyard] python``: nothing (any interpreter), a version prefix
(``3``, ``3.11``, ``3.11.7``), a PEP 440 specifier set (``>=3.10,<3.12``), an
implementation with or without a version (``cpython3.12``, ``cp312``,
``python3.12``, ``pypy3.10``), a free-threaded build (``3.13t``), or the path of
an interpreter or of an environment directory. :mod:`shipyard.python.discovery`
finds an interpreter that fits one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import UsageError
from shipyard.models.interpreter import Interpreter

if TYPE_CHECKING:
    # imported where a specifier is parsed: `python list` never needs one (~30 ms)
    from packaging.specifiers import SpecifierSet

__all__ = [
    "NameHint",
    "PythonRequest",
    "could_contain",
    "int_parts",
    "parse_python_request",
    "read_python_pin",
]

_IMPLEMENTATIONS = {
    "python": None,
    "cpython": "cpython",
    "cp": "cpython",
    "pypy": "pypy",
    "pp": "pypy",
}
_REQUEST = re.compile(
    r"^(?P<impl>cpython|python|pypy|cp|pp)?"
    r"(?P<version>\d+(?:\.\d+){0,2})?"
    r"(?P<threaded>t)?$"
)
_SPECIFIER_CHARS = ("<", ">", "=", "!", "~", ",")


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonRequest:
    """Which interpreter the user asked for.

    At most one of ``version``, ``specifier`` and ``path`` is set; all unset means
    "any interpreter".

    :param text: the request as written (``""`` for none).
    :param implementation: ``"cpython"`` or ``"pypy"``, or ``None`` for any.
    :param version: a version prefix as integers: ``(3,)``, ``(3, 11)`` or ``(3, 11, 7)``;
        empty when not given.
    :param specifier: a PEP 440 specifier set compared with the full version.
    :param free_threaded: True for ``3.13t`` (only ``Py_GIL_DISABLED`` builds fit); False
        otherwise, so a version request never silently picks a free-threaded build.
    :param path: an interpreter or environment directory, absolute; the request then
        matches only that interpreter.
    """

    text: str = ""
    implementation: str | None = None
    version: tuple[int, ...] = ()
    specifier: SpecifierSet | None = None
    free_threaded: bool = False
    path: Path | None = None

    @property
    def is_any(self) -> bool:
        """True when nothing was asked for beyond the defaults."""
        return (
            self.path is None
            and self.implementation is None
            and not self.version
            and self.specifier is None
            and not self.free_threaded
        )

    def satisfied_by(self, interpreter: Interpreter) -> bool:
        """Whether ``interpreter`` fits this request.

        A path request fits the interpreter at that path (compared by real path, also
        through a virtual environment's base interpreter) or the one whose ``sys.prefix``
        is that directory. A version prefix compares component by component with the
        interpreter's version; a specifier set (PEP 440) contains its full version,
        pre-releases allowed.
        """
        if self.path is not None:
            return _path_matches(self.path, interpreter)
        if self.implementation is not None and interpreter.implementation != self.implementation:
            return False
        if interpreter.gil_disabled != self.free_threaded:
            return False
        actual = interpreter.version_tuple
        if self.version and actual[: len(self.version)] != self.version:
            return False
        full = interpreter.markers.get("python_full_version", interpreter.version)
        return self.specifier is None or self.specifier.contains(full, prereleases=True)

    def satisfied_by_version(self, version: str, *, free_threaded: bool = False) -> bool:
        """Whether a CPython of ``version`` (``"3.12.1"``) fits, without an interpreter
        to ask (a download); path requests never do."""
        if self.path is not None or self.implementation not in (None, "cpython"):
            return False
        if free_threaded != self.free_threaded:
            return False
        parts = int_parts(re.sub(r"(a|b|rc)\d+$", "", version))
        if self.version and parts[: len(self.version)] != self.version:
            return False
        return self.specifier is None or self.specifier.contains(version, prereleases=True)

    def minimum_version(self) -> str | None:
        """The lowest ``"X.Y"`` (or ``"X"``) this request allows, for ``requires-python``.

        ``"3.11.7"`` gives ``"3.11"``; ``">=3.10,<3.12"`` gives ``"3.10"``; ``None`` when the
        request sets no lower bound (any, a path, ``<3.12``).
        """
        if self.version:
            return ".".join(str(part) for part in self.version[:2])
        if self.specifier is not None:
            lows: list[tuple[int, ...]] = []
            for spec in self.specifier:
                if spec.operator in (">=", ">", "==", "~=", "==="):
                    parts = int_parts(spec.version.rstrip(".*"))
                    if parts:
                        lows.append(parts[:2])
            if lows:
                return ".".join(str(part) for part in max(lows))
        return None

    def describe(self) -> str:
        """The request in words, for error messages (``"Python 3.12"``, ``"PyPy >=3.10"``)."""
        if self.path is not None:
            return f"the Python at {self.path}"
        name = {"cpython": "CPython", "pypy": "PyPy"}.get(self.implementation or "", "Python")
        if self.version:
            text = f"{name} {'.'.join(str(p) for p in self.version)}"
        elif self.specifier is not None:
            text = f"{name} {self.specifier}"
        else:
            text = f"any {name}" if name == "Python" else name
        return text + (" (free-threaded)" if self.free_threaded else "")

    def could_be(self, hint: NameHint) -> bool:
        """False when a candidate's file or directory name rules it out without probing."""
        if self.path is not None:
            return True
        implementations = (hint.implementation, self.implementation)
        if None not in implementations and implementations[0] != implementations[1]:
            return False
        if hint.free_threaded is not None and hint.free_threaded != self.free_threaded:
            return False
        if self.version and hint.version:
            common = min(len(self.version), len(hint.version))
            if self.version[:common] != hint.version[:common]:
                return False
        return self.specifier is None or could_contain(self.specifier, hint.version)


@dataclass(frozen=True, slots=True)
class NameHint:
    """What a candidate's name says about it: ``python3.12`` → ``(3, 12)``."""

    implementation: str | None = None
    version: tuple[int, ...] = ()
    free_threaded: bool | None = None

    def text(self) -> str:
        """The version as written (``"3.12"``), or ``"unknown version"``."""
        return ".".join(str(p) for p in self.version) if self.version else "unknown version"


def parse_python_request(text: str | None) -> PythonRequest:
    """Parse a ``--python`` value (see the module docstring for the accepted forms).

    :param text: the request; ``None`` or ``""`` means any interpreter. A value
        containing a path separator, or starting with ``~`` or ``.``, or naming an
        existing file or directory that is not also a version, is a path.
    :returns: the :class:`PythonRequest`.
    :raises UsageError: when ``text`` is none of the accepted forms, or an invalid
        PEP 440 specifier set.
    """
    raw = (text or "").strip()
    if not raw or raw.lower() == "any":
        return PythonRequest(text=raw)
    if "\x00" in raw:
        raise UsageError(f"The Python request {raw!r} contains a NUL byte.")
    lowered = raw.lower()
    match = _REQUEST.match(lowered)
    if match and (match.group("impl") or match.group("version")):
        return _from_match(raw, match)
    if _looks_like_path(raw):
        return PythonRequest(text=raw, path=Path(os.path.abspath(os.path.expanduser(raw))))
    if any(ch in raw for ch in _SPECIFIER_CHARS):
        implementation: str | None = None
        spec_text = lowered
        impl_prefix = re.match(r"^(cpython|pypy)\s*", lowered)
        if impl_prefix:
            implementation = impl_prefix.group(1)
            spec_text = lowered[impl_prefix.end() :]
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            specifier = SpecifierSet(spec_text)
        except InvalidSpecifier as exc:
            raise _bad_request(raw) from exc
        if not len(specifier):
            raise _bad_request(raw)
        return PythonRequest(text=raw, implementation=implementation, specifier=specifier)
    raise _bad_request(raw)


def read_python_pin(start: Path) -> tuple[str, Path] | None:
    """The request in the nearest ``.python-version`` at or above ``start`` (its first
    line that is neither blank nor a comment) and that file; ``None`` when there is none."""
    for directory in (start, *start.parents):
        pin = directory / ".python-version"
        if pin.is_file():
            for line in pin.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    return line, pin
            return None
    return None


# -- parsing helpers ------------------------------------------------------------------------


def _bad_request(raw: str) -> UsageError:
    return UsageError(
        f"{raw!r} is not a Python request.",
        hint=(
            "Use a version (3.12, 3.12.1), a specifier set ('>=3.10,<3.13'), an implementation "
            "(cpython3.12, cp312, pypy3.10), a free-threaded build (3.13t), "
            "or a path to an interpreter or environment."
        ),
    )


def _looks_like_path(raw: str) -> bool:
    if os.sep in raw or (os.altsep and os.altsep in raw) or raw.startswith(("~", ".")):
        return True
    return os.path.exists(raw)


def _from_match(raw: str, match: re.Match[str]) -> PythonRequest:
    impl_word = match.group("impl")
    implementation = _IMPLEMENTATIONS[impl_word] if impl_word else None
    version_text = match.group("version") or ""
    if version_text and "." not in version_text and len(version_text) >= 2:
        # "cp312", "pypy310", "312": the first digit is the major version.
        version_text = f"{version_text[0]}.{version_text[1:]}"
    version = int_parts(version_text)
    threaded = bool(match.group("threaded"))
    if threaded and len(version) < 2:
        raise _bad_request(raw)
    if version and version[0] < 2:
        raise _bad_request(raw)
    return PythonRequest(
        text=raw, implementation=implementation, version=version, free_threaded=threaded
    )


def int_parts(text: str) -> tuple[int, ...]:
    """The leading numeric components of a dotted version: ``"3.12.1rc1"`` → ``(3, 12)``."""
    parts: list[int] = []
    for piece in text.split("."):
        # No version part has more than 9 digits; int() refuses past 4300.
        if not (piece.isascii() and piece.isdigit()) or len(piece) > 9:
            break
        parts.append(int(piece))
    return tuple(parts)


def could_contain(specifier: SpecifierSet, version: tuple[int, ...]) -> bool:
    """Whether some release ``version.*`` could be in ``specifier`` (a cheap upper bound)."""
    if len(version) >= 3:
        return specifier.contains(".".join(str(p) for p in version[:3]), prereleases=True)
    if len(version) == 2:
        head = f"{version[0]}.{version[1]}"
        return any(specifier.contains(f"{head}.{micro}", prereleases=True) for micro in range(40))
    return True


def _path_matches(path: Path, interpreter: Interpreter) -> bool:
    real = os.path.realpath(path)
    if os.path.isdir(real):
        return real in (
            os.path.realpath(interpreter.prefix),
            os.path.realpath(interpreter.base_prefix),
        )
    return real in (
        os.path.realpath(interpreter.executable),
        os.path.realpath(interpreter.base_executable),
    )
