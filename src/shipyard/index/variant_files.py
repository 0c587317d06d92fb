"""Wheel variant files on an index (PEP 825 draft): tell variant wheels from plain ones,
and fetch a version's ``{name}-{version}-variants.json``.

The index lists that file next to the version's wheels (an HTML link or a PEP 691 file
entry, with its sha256). It is fetched when a lock needs it, checked against that
sha256, parsed by :mod:`shipyard.specs.variants`, and kept in the ``metadata`` cache
bucket under its sha256 (``<sha256>.variants.json``), so a warm cache needs no network
for it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from shipyard.atomic import atomic_write_bytes
from shipyard.errors import HashMismatchError, ShipyardError
from shipyard.index.credentials import redact_url
from shipyard.index.http import HttpClient
from shipyard.models import DistFile

if TYPE_CHECKING:
    from shipyard.cache import Cache
    from shipyard.specs.variants import VariantMetadata

__all__ = ["fetch_variant_metadata", "is_variant_wheel", "variant_label"]


def variant_label(filename: str) -> str | None:
    """The variant label of a wheel filename (``gpu-1.0-py3-none-any-cu126.whl`` →
    ``"cu126"``), ``None`` for a plain wheel or any other file. String splitting only, as
    PEP 825 puts it: six parts whose third does not start with a digit (a Python tag,
    not a build tag), or seven."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit()):
        return parts[-1]
    return None


def is_variant_wheel(dist: DistFile) -> bool:
    """Whether ``dist`` is a wheel variant (its name has a label, PEP 825 draft)."""
    # most names have four dashes or five (a build tag): no split needed for those
    return dist.filename.count("-") >= 5 and variant_label(dist.filename) is not None


def fetch_variant_metadata(
    client: HttpClient, cache: Cache | None, dist: DistFile
) -> VariantMetadata:
    """Fetch and parse one ``-variants.json`` listed by an index.

    :param dist: the file as the page lists it (its sha256, when given, is checked).
    :raises VariantMetadataError: when the index answers 404/410 for it, its bytes do not
        match the listed sha256, or it is not valid variant metadata.
    :raises NetworkError: when the index cannot be reached.
    """
    from shipyard.specs.variants import VariantMetadataError, parse_variant_metadata

    where = redact_url(dist.url)
    path = None
    if cache is not None and dist.sha256:
        path = cache.bucket("metadata") / f"{dist.sha256}.variants.json"
        try:
            return parse_variant_metadata(path.read_bytes(), where=where)
        except (OSError, VariantMetadataError):
            pass
    try:
        response = client.request(
            dist.url,
            ok_statuses=frozenset({200, 404, 410}),
            expected_sha256=dist.sha256,
        )
    except HashMismatchError as exc:
        raise VariantMetadataError(
            f"The wheel variant metadata {where} does not match the sha256 its index lists.",
            hint="Its variant wheels are skipped; try again later, or ask the index's maintainers.",
        ) from exc
    if response.status != 200:
        raise VariantMetadataError(
            f"The index lists the wheel variant metadata {where}, but answers "
            f"{response.status} for it.",
            hint="Its variant wheels are skipped until the index serves the file.",
        )
    metadata = parse_variant_metadata(response.body, where=where)
    if path is not None and hashlib.sha256(response.body).hexdigest() == dist.sha256:
        try:
            atomic_write_bytes(path, response.body, fsync=False)
        except ShipyardError:  # a cache that cannot be written is not an error
            pass
    return metadata
