"""What the lock holds for one package, as selected for one environment (PEP 751)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LockedDistribution"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedDistribution:
    """What :func:`select_from_lock` picked for one package.

    :param name: canonical name; :param version: version string (``None`` for a directory).
    :param url: the file URL (``None`` for a directory); :param sha256: its digest.
    :param size: bytes, when recorded; :param is_wheel: False for an sdist.
    :param directory: for a PEP 751 ``directory`` package, its path (relative to the lock).
    :param editable: install the directory editable (PEP 660).
    :param direct: a direct reference (PEP 751 ``archive`` or ``vcs``): recorded in
        ``direct_url.json`` (PEP 610) when installed.
    :param vcs: a PEP 751 ``vcs`` package: ``url`` is
        ``git+<repository>@<commit>[#subdirectory=<path>]``, built from that commit.
    """

    name: str
    version: str | None
    url: str | None
    filename: str | None
    sha256: str | None
    size: int | None
    is_wheel: bool
    directory: str | None = None
    editable: bool = False
    direct: bool = False
    vcs: bool = False
