"""Distribution files as an index lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DistFile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DistFile:
    """One distribution file (wheel or sdist) offered by an index or a find-links location.

    Follows the file fields of the simple repository API (PEP 503, 592, 658, 691, 700, 714).

    :param filename: the file's name, e.g. ``"requests-2.32.3-py3-none-any.whl"``.
    :param url: an absolute URL (``https://``, ``http://`` or ``file://``).
    :param hashes: ``(algorithm, hex digest)`` pairs, sorted by algorithm.
    :param size: in bytes, when the index says.
    :param upload_time: when the index says (PEP 700), timezone-aware UTC.
    :param requires_python: the file's ``Requires-Python`` as the index reports it.
    :param yanked: ``None`` when not yanked, else the reason (``""`` when none was given).
    :param metadata: PEP 658/714 core metadata availability: ``None`` when the index does
        not advertise it, ``""`` when advertised without a hash, else its sha256 hex digest.
    """

    filename: str
    url: str
    hashes: tuple[tuple[str, str], ...] = ()
    size: int | None = None
    upload_time: datetime | None = None
    requires_python: str | None = None
    yanked: str | None = None
    metadata: str | None = None

    @property
    def sha256(self) -> str | None:
        """The sha256 hex digest, when known."""
        for algorithm, digest in self.hashes:
            if algorithm == "sha256":
                return digest
        return None

    @property
    def is_wheel(self) -> bool:
        """True for a ``.whl`` file."""
        return self.filename.endswith(".whl")
