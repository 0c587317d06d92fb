"""Distributions installed in an environment (PEP 376/627 ``.dist-info`` directories).

:func:`iter_installed` runs on every sync, including the no-op one, so it reads
as little as it can: one directory listing per ``site-packages`` directory, and
the name and version come from the directory name ``{name}-{version}.dist-info``
(the wheel spec writes it that way, PEP 427/491). ``METADATA`` is read only when
that name cannot be split. ``INSTALLER``, ``REQUESTED`` (PEP 376) and
``direct_url.json`` (PEP 610) are read on first use, once per object.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from shipyard.atomic import os_error
from shipyard.errors import InstallError, ShipyardError

__all__ = ["DistributionDetails", "InstalledDistribution", "iter_installed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionDetails:
    """The installation facts kept beside an installed distribution's metadata.

    :param installer: the first line of ``INSTALLER`` (the tool that installed it, PEP 376),
        or ``None`` when the file is absent or empty.
    :param requested: whether ``REQUESTED`` exists: the user asked for this distribution,
        it was not pulled in as a dependency (PEP 376).
    :param direct_url: the parsed ``direct_url.json`` (PEP 610) for installs from a URL,
        a local directory or an editable install; ``None`` for installs from an index.
    """

    installer: str | None
    requested: bool
    direct_url: dict[str, Any] | None


def _read_details(dist_info: Path) -> DistributionDetails:
    installer: str | None
    try:
        with open(dist_info / "INSTALLER", encoding="utf-8", errors="replace") as handle:
            installer = handle.readline().strip() or None
    except OSError:
        installer = None
    direct_url: dict[str, Any] | None
    try:
        with open(dist_info / "direct_url.json", encoding="utf-8") as handle:
            data = json.load(handle)
        direct_url = data if isinstance(data, dict) else None
    except (OSError, ValueError):
        direct_url = None
    return DistributionDetails(
        installer=installer,
        requested=os.path.exists(dist_info / "REQUESTED"),
        direct_url=direct_url,
    )


@dataclass(frozen=True, slots=True)
class InstalledDistribution:
    """One distribution installed in an environment, found by its ``.dist-info`` directory.

    Equality and hashing use ``name``, ``version`` and ``dist_info`` only.

    :param name: the canonical project name (PEP 503 normalised: ``typing-extensions``).
    :param version: the version as installed (the string from the directory name or
        ``METADATA``, not re-normalised).
    :param dist_info: the absolute path of its ``.dist-info`` directory; its parent is the
        ``site-packages`` directory that RECORD paths are relative to.
    """

    name: str
    version: str
    dist_info: Path
    _details: list[DistributionDetails] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    @classmethod
    def with_details(
        cls,
        name: str,
        version: str,
        dist_info: Path,
        *,
        installer: str | None,
        requested: bool,
        direct_url: Mapping[str, Any] | None,
    ) -> InstalledDistribution:
        """A distribution whose installation facts are already known (no file is read later).

        Used by the installer, which has just written those files.

        :param installer: what ``INSTALLER`` holds (``None`` when absent).
        :param requested: whether ``REQUESTED`` exists.
        :param direct_url: the PEP 610 data written to ``direct_url.json``, or ``None``.
        """
        dist = cls(name, version, dist_info)
        dist._details.append(
            DistributionDetails(
                installer=installer,
                requested=requested,
                direct_url=dict(direct_url) if direct_url is not None else None,
            )
        )
        return dist

    def details(self) -> DistributionDetails:
        """``INSTALLER``, ``REQUESTED`` and ``direct_url.json``, read on the first call only.

        Missing or unreadable files count as absent; this never raises.
        """
        if not self._details:
            self._details.append(_read_details(self.dist_info))
        return self._details[0]

    @property
    def site_packages(self) -> Path:
        """The directory holding the ``.dist-info`` directory (RECORD paths start here)."""
        return self.dist_info.parent

    @property
    def installer(self) -> str | None:
        """The tool that installed it (first line of ``INSTALLER``, PEP 376), if recorded."""
        return self.details().installer

    @property
    def requested(self) -> bool:
        """True when ``REQUESTED`` exists: installed on request, not as a dependency."""
        return self.details().requested

    @property
    def direct_url(self) -> dict[str, Any] | None:
        """The PEP 610 ``direct_url.json`` data, or ``None`` (installed from an index)."""
        return self.details().direct_url


def _name_from_metadata(dist_info: Path) -> tuple[str, str] | None:
    """(canonical name, version) from the headers of ``METADATA``, or ``None``."""
    name = version = None
    try:
        with open(dist_info / "METADATA", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.strip().lower()
                if key == "name" and name is None:
                    name = value.strip()
                elif key == "version" and version is None:
                    version = value.strip()
    except OSError:
        return None
    if name and version:
        return canonicalize_name(name), version
    return None


def iter_installed(site_packages_dirs: Sequence[Path]) -> Iterator[InstalledDistribution]:
    """Every distribution installed in the given ``site-packages`` directories (PEP 376).

    Looks at ``*.dist-info`` directories only (``.egg-info`` installs by legacy tools are
    not reported). A directory given twice (or purelib and platlib being the same
    directory) is scanned once; a missing directory yields nothing.

    :param site_packages_dirs: absolute ``site-packages`` paths (purelib, platlib).
    :returns: an iterator of :class:`InstalledDistribution`, in directory-listing order.
        ``INSTALLER``/``REQUESTED``/``direct_url.json`` are not read here (see
        :meth:`InstalledDistribution.details`).
    """
    seen: set[str] = set()
    for directory in site_packages_dirs:
        key = os.path.realpath(directory)
        if key in seen:
            continue
        seen.add(key)
        try:
            with os.scandir(directory) as listing:
                entries = [e for e in listing if e.name.endswith(".dist-info")]
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir():
                    continue
            except OSError:
                continue
            stem = entry.name[: -len(".dist-info")]
            name, sep, version = stem.partition("-")
            path = Path(entry.path)
            if sep and name and version and "-" not in version:
                yield InstalledDistribution(canonicalize_name(name), version, path)
                continue
            parsed = _name_from_metadata(path)
            if parsed is not None:
                yield InstalledDistribution(parsed[0], parsed[1], path)


def install_os_error(exc: OSError, *, what: str, path: Path | str) -> ShipyardError:
    """The error to raise when a file operation of an install or uninstall fails.

    Not part of the public API (shared by :mod:`shipyard.install.wheel` and
    :mod:`shipyard.install.uninstall`).

    :param what: the operation, completing "Could not …" (``"install numpy"``).
    :param path: the file or directory the operation failed on.
    :returns: :class:`~shipyard.errors.DiskFullError` for ``ENOSPC``/``EDQUOT``, else an
        :class:`~shipyard.errors.InstallError` naming the path and the system's reason.
    """
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return os_error(exc, what=what, path=path)
    return InstallError(
        f"Could not {what}: {exc.strerror or exc}.",
        context=str(exc.filename or path),
        hint="Check that the environment is writable and not in use by another process.",
    )
