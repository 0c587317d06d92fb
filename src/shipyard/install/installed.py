"""Distributions installed in an environment (PEP 376 ``.dist-info`` directories).

Scanning reads directory names only (``{name}-{version}.dist-info``); METADATA
is read only when a name cannot be parsed. This runs on every sync.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

__all__ = ["InstalledDistribution", "iter_installed"]


@dataclass(frozen=True, slots=True)
class InstalledDistribution:
    """One installed distribution.

    :param name: canonical project name; :param version: as installed;
    :param dist_info: its ``.dist-info`` directory.
    """

    name: str
    version: str
    dist_info: Path

    @property
    def installer(self) -> str | None:
        """Contents of ``INSTALLER`` (who installed it), if present."""
        try:
            return (self.dist_info / "INSTALLER").read_text().strip() or None
        except OSError:
            return None

    @property
    def requested(self) -> bool:
        """True when ``REQUESTED`` exists (installed on purpose, not as a dependency)."""
        return (self.dist_info / "REQUESTED").exists()

    @property
    def direct_url(self) -> dict[str, Any] | None:
        """The PEP 610 ``direct_url.json`` data, if present."""
        try:
            data = json.loads((self.dist_info / "direct_url.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _from_metadata(path: Path) -> tuple[str, str] | None:
    try:
        with open(path / "METADATA", encoding="utf-8", errors="replace") as handle:
            name = version = None
            for line in handle:
                if not line.strip():
                    break
                if line.startswith("Name:"):
                    name = line.partition(":")[2].strip()
                elif line.startswith("Version:"):
                    version = line.partition(":")[2].strip()
    except OSError:
        return None
    if name and version:
        return canonicalize_name(name), version
    return None


def iter_installed(site_packages_dirs: Sequence[Path]) -> Iterator[InstalledDistribution]:
    """Every ``*.dist-info`` distribution in the given directories (each directory once)."""
    seen: set[str] = set()
    for directory in site_packages_dirs:
        key = os.path.realpath(directory)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info") or not entry.is_dir():
                continue
            stem = entry.name[: -len(".dist-info")]
            name, sep, version = stem.partition("-")
            path = Path(entry.path)
            if sep and version and "-" not in version:
                yield InstalledDistribution(canonicalize_name(name), version, path)
                continue
            parsed = _from_metadata(path)
            if parsed is not None:
                yield InstalledDistribution(parsed[0], parsed[1], path)
