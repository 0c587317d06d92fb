"""The facts about one Python interpreter that shipyard needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Interpreter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Interpreter:
    """One Python interpreter, as probed by running it once (results cached on disk).

    :param executable: the path it was found at (may be a symlink; kept as found so a
        venv made from a pyenv interpreter points at the pyenv path).
    :param version: the full version, e.g. ``"3.11.7"`` (``sys.version_info`` joined;
        pre-releases as ``"3.14.0rc1"``).
    :param implementation: ``sys.implementation.name`` (``"cpython"``, ``"pypy"``).
    :param prefix: ``sys.prefix``; :param base_prefix: ``sys.base_prefix`` (differs from
        ``prefix`` inside a virtual environment); :param base_executable: the interpreter
        a virtual environment made from this one must point at (``sys._base_executable``
        resolved), never itself inside a venv.
    :param platform: ``sysconfig.get_platform()``, e.g. ``"linux-x86_64"``.
    :param markers: the PEP 508 marker environment (``python_version``, ``sys_platform`` …).
    :param tags: supported wheel tags, most preferred first, as
        ``"cp311-cp311-manylinux_2_17_x86_64"``.
    :param scheme: install paths of a virtual environment made from this interpreter,
        relative to its root: keys ``purelib``, ``platlib``, ``scripts``, ``include``, ``data``
        (PEP 405 / ``sysconfig`` ``venv`` scheme).
    :param gil_disabled: True for a free-threaded build (``Py_GIL_DISABLED``).
    :param pointer_size: 32 or 64 (bits).
    """

    executable: Path
    version: str
    implementation: str
    prefix: Path
    base_prefix: Path
    base_executable: Path
    platform: str
    markers: dict[str, str] = field(hash=False, compare=False)
    tags: tuple[str, ...] = field(hash=False, compare=False)
    scheme: dict[str, str] = field(hash=False, compare=False)
    gil_disabled: bool = False
    pointer_size: int = 64

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        """``(major, minor, micro)`` as integers."""
        parts = self.markers.get("python_full_version", self.version).split(".")
        major, minor = int(parts[0]), int(parts[1])
        micro_digits = "".join(ch for ch in (parts[2] if len(parts) > 2 else "0") if ch.isdigit())
        return major, minor, int(micro_digits or 0)

    @property
    def python_version(self) -> str:
        """``"X.Y"``, as the ``python_version`` marker says."""
        return self.markers["python_version"]

    @property
    def is_virtualenv(self) -> bool:
        """True when this interpreter runs inside a virtual environment."""
        return self.prefix != self.base_prefix
