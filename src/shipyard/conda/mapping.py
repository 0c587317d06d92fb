"""Which PyPI project a conda package is: from the package itself, or a published mapping.

Best first:

1. ``[tool.shipyard.conda] pypi-mapping`` in the manifest;
2. the package's own ``*.dist-info`` when the package is at hand (extracted in
   the package cache by an earlier sync): its ``METADATA`` ``Name``;
3. a published conda→PyPI name mapping for conda-forge (prefix.dev's
   "parselmouth" ``compressed_mapping.json``: ``{"pytorch": "torch",
   "libblas": null, …}``), fetched once a day at most and cached; the
   ``conda-pypi-mapping-url`` setting points elsewhere (a mirror, a file);
4. otherwise a package that depends on ``python`` is taken to carry the PyPI
   project of its own name (see :mod:`shipyard.conda.pypi`).

Without a package at hand (``import --prefer-pypi`` reads only names from an
``environment.yml``), :func:`pypi_name` asks the manifest's ``pypi-mapping``, the
published mapping (fetched, or the cached copy, however old), then the short list
shipped with shipyard (:data:`~shipyard.conda.bundled_mapping.BUNDLED_MAPPING`), so
the common names work offline; the caller decides what an unknown name is.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import canonicalize_name

from shipyard.cache import Cache
from shipyard.conda.bundled_mapping import BUNDLED_MAPPING
from shipyard.conda.records import CondaRecord
from shipyard.errors import NetworkError
from shipyard.index.http import HttpClient

__all__ = [
    "DEFAULT_MAPPING_URL",
    "MAPPING_MAX_AGE",
    "PyPIName",
    "at_hand",
    "dist_info_names",
    "published_mapping",
    "pypi_name",
]

DEFAULT_MAPPING_URL = (
    "https://raw.githubusercontent.com/prefix-dev/parselmouth/main/files/compressed_mapping.json"
)
#: seconds a fetched mapping is used before it is revalidated
MAPPING_MAX_AGE = 24 * 3600


def dist_info_names(package_dir: Path) -> list[tuple[str, str | None]]:
    """The distributions whose ``*.dist-info`` directories an extracted conda package
    holds (in ``site-packages/`` for ``noarch: python``, else ``lib/pythonX.Y/
    site-packages/`` or ``Lib/site-packages/``).

    :returns: ``(canonical name, version or None)`` from each ``METADATA`` (the
        directory name when it is unreadable); empty when there is none.
    """
    found: list[tuple[str, str | None]] = []
    candidates = [package_dir / "site-packages", package_dir / "Lib" / "site-packages"]
    candidates.extend(sorted((package_dir / "lib").glob("python*/site-packages")))
    for site in candidates:
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            stem = entry[: -len(".dist-info")]
            name, _, version = stem.partition("-")
            try:
                with open(site / entry / "METADATA", encoding="utf-8", errors="replace") as handle:
                    headers = HeaderParser().parse(handle, headersonly=True)
                name = headers.get("Name") or name
                version = headers.get("Version") or version
            except OSError:
                pass
            found.append((canonicalize_name(name), version or None))
    return found


def at_hand(
    records: Iterable[CondaRecord], package_cache: Path
) -> dict[str, list[tuple[str, str | None]]]:
    """conda name → the distributions it carries (:func:`dist_info_names`), for the
    records whose package is extracted in ``package_cache`` (py-rattler's layout:
    ``<name>-<version>-<build>/``)."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for record in records:
        directory = package_cache / record.dist
        if directory.is_dir():
            found[record.name] = dist_info_names(directory)
    return found


def published_mapping(
    client: HttpClient, cache: Cache, url: str, *, now: float | None = None
) -> Mapping[str, str | None] | None:
    """The published conda→PyPI mapping at ``url`` (``null`` values: not a Python
    distribution), from the cache while younger than :data:`MAPPING_MAX_AGE`.

    :returns: the mapping, a stale cached copy when the fetch fails, or ``None`` when
        neither is available (the caller falls back to the naming rule and says so).
    """
    now = time.time() if now is None else now
    entry = cache.bucket("conda-mapping") / (hashlib.sha256(url.encode()).hexdigest() + ".json")
    cached: dict[str, object] | None = None
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = None
    if isinstance(cached, dict) and isinstance(cached.get("mapping"), dict):
        fetched = cached.get("fetched")
        if isinstance(fetched, int | float) and now - fetched < MAPPING_MAX_AGE:
            return _clean(cached["mapping"])
    else:
        cached = None
    try:
        response = client.request(url)
        data = json.loads(response.body)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (NetworkError, ValueError):
        return _clean(cached["mapping"]) if cached is not None else None
    from shipyard.atomic import atomic_write_text

    atomic_write_text(entry, json.dumps({"fetched": now, "url": url, "mapping": data}), fsync=False)
    return _clean(data)


def _clean(raw: object) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str) and (value is None or isinstance(value, str)):
                result[key.lower()] = canonicalize_name(value) if value else None
    return result


@dataclass(frozen=True, slots=True)
class PyPIName:
    """What a mapping says of one conda package name.

    :param project: the canonical PyPI project name, or ``None``: the package is not a
        Python distribution.
    :param source: which mapping said so, in words (for messages).
    """

    project: str | None
    source: str


def pypi_name(
    name: str,
    *,
    overrides: Mapping[str, str] | None = None,
    published: Mapping[str, str | None] | None = None,
) -> PyPIName | None:
    """The PyPI project conda package ``name`` carries, by name alone.

    :param overrides: ``[tool.shipyard.conda] pypi-mapping`` (conda name → PyPI name).
    :param published: the published mapping (:func:`published_mapping`), or ``None``.
    :returns: the answer of the first mapping that knows ``name`` — overrides, the
        published mapping, then :data:`~shipyard.conda.bundled_mapping.BUNDLED_MAPPING`
        — or ``None`` when none does.
    """
    key = name.lower()
    for source, table in (
        ("[tool.shipyard.conda] pypi-mapping", overrides),
        ("the published conda-to-PyPI mapping", published),
        ("shipyard's list of common conda packages", BUNDLED_MAPPING),
    ):
        if table is not None and key in table:
            value = table[key]
            return PyPIName(canonicalize_name(value) if value else None, source)
    return None
