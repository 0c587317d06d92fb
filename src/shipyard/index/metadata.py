"""Core metadata of a distribution file, fetched as cheaply as the index allows.

For a wheel, in order: the PEP 658/714 ``.metadata`` file when the index
advertises it; ``<wheel-url>.metadata`` when it does not (many mirrors serve it
anyway; a host that answers 404 once is not asked again); HTTP range requests
into the wheel's zip central directory (PEP 427 wheels are zip files); the whole
wheel. For an sdist, a PEP 517 ``prepare_metadata_for_build_wheel`` call through
the builder the caller supplies. Parsed results are cached per file.
"""

from __future__ import annotations

import hashlib
import io
import threading
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path

from shipyard.atomic import atomic_write_bytes
from shipyard.cache import Cache
from shipyard.errors import NetworkError, ShipyardError
from shipyard.index.credentials import redact_url
from shipyard.index.http import HttpClient
from shipyard.models import CoreMetadata, DistFile, parse_core_metadata

__all__ = ["MetadataFetcher", "metadata_from_wheel_zip"]

_TAIL_BYTES = 64 * 1024


def metadata_from_wheel_zip(archive: zipfile.ZipFile, filename: str) -> bytes:
    """Read ``*.dist-info/METADATA`` from an open wheel.

    :param filename: the wheel's filename, to find its ``.dist-info`` directory.
    :raises ShipyardError: when the wheel has no (unique) METADATA.
    """
    candidates = [
        n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
    ]
    if len(candidates) > 1:
        prefix = [*filename.split("-", 2), ""]
        expected = f"{prefix[0]}-{prefix[1]}.dist-info/METADATA".lower()
        candidates = [n for n in candidates if n.lower() == expected] or candidates[:1]
    if not candidates:
        raise ShipyardError(
            "The wheel has no .dist-info/METADATA file.",
            context=filename,
            hint="The wheel is invalid; report it to the package's maintainers.",
        )
    return archive.read(candidates[0])


class _RangeFile(io.RawIOBase):
    """A read-only file over HTTP range requests, fetching only what is read."""

    def __init__(self, client: HttpClient, url: str, tail: bytes, total: int) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.total = total
        self.position = 0
        self.segments: list[tuple[int, bytes]] = [(total - len(tail), tail)]

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.position = offset
        elif whence == 1:
            self.position += offset
        else:
            self.position = self.total + offset
        return self.position

    def _find(self, start: int, end: int) -> bytes | None:
        for seg_start, data in self.segments:
            if seg_start <= start and end <= seg_start + len(data):
                return data[start - seg_start : end - seg_start]
        return None

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.total - self.position
        start, end = self.position, min(self.position + size, self.total)
        if start >= end:
            return b""
        data = self._find(start, end)
        if data is None:
            fetch_end = max(end, min(start + _TAIL_BYTES, self.total))
            response = self.client.request(
                self.url,
                headers={"Range": f"bytes={start}-{fetch_end - 1}"},
                ok_statuses=frozenset({206}),
            )
            self.segments.append((start, response.body))
            data = response.body[: end - start]
        self.position = start + len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class MetadataFetcher:
    """Fetch and cache :class:`CoreMetadata` for distribution files.

    :param client: the shared HTTP client.
    :param cache: the cache (``metadata`` and ``downloads`` buckets), or ``None``.
    :param build_metadata: called for sdists (and wheels that cannot be read) with
        the file; returns its metadata via a PEP 517 build. ``None`` makes sdists an error.
    """

    def __init__(
        self,
        client: HttpClient,
        cache: Cache | None,
        build_metadata: Callable[[DistFile], CoreMetadata] | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.build_metadata = build_metadata
        self._no_metadata_hosts: set[str] = set()
        self._no_range_hosts: set[str] = set()
        self._lock = threading.Lock()

    def _cache_path(self, dist: DistFile) -> Path | None:
        if self.cache is None:
            return None
        key = dist.sha256 or hashlib.sha256(redact_url(dist.url).encode()).hexdigest()
        return self.cache.bucket("metadata") / f"{key}.json"

    def cached(self, dist: DistFile) -> CoreMetadata | None:
        """The cached metadata of ``dist``, without any network access, or ``None``."""
        path = self._cache_path(dist)
        if path is None:
            return None
        try:
            return CoreMetadata.from_json(path.read_bytes())
        except (OSError, ValueError, KeyError):
            return None

    def fetch(self, dist: DistFile, *, use_cache: bool = True) -> CoreMetadata:
        """The metadata of ``dist`` (cache, PEP 658, range requests, download, or build).

        :raises NetworkError: when every way of getting it failed on the network.
        :raises HashMismatchError: when a PEP 658 file does not match its advertised hash.
        :raises BuildError: (from the builder) when an sdist's metadata cannot be built.
        :param use_cache: read and write the metadata cache (off for direct references to
            local files and directories, which may change between runs).
        """
        found = self.cached(dist) if use_cache else None
        if found is not None:
            return found
        if dist.is_wheel:
            metadata = parse_core_metadata(self._wheel_metadata(dist), source=dist.filename)
        else:
            if self.build_metadata is None:
                raise ShipyardError(
                    "This project has only a source distribution and building is disabled.",
                    context=dist.filename,
                    hint="Allow source builds (remove it from --only-binary).",
                )
            metadata = self.build_metadata(dist)
        path = self._cache_path(dist) if use_cache else None
        if path is not None:
            try:
                atomic_write_bytes(path, metadata.to_json(), fsync=False)
            except ShipyardError:
                pass
        return metadata

    def _wheel_metadata(self, dist: DistFile) -> bytes:
        url = dist.url
        is_http = url.startswith(("http://", "https://"))
        host = urllib.parse.urlsplit(url).netloc
        if dist.metadata is not None or (is_http and host not in self._no_metadata_hosts):
            try:
                response = self.client.request(
                    url + ".metadata",
                    ok_statuses=frozenset({200, 404, 403}),
                    expected_sha256=dist.metadata or None,
                )
            except NetworkError:
                if dist.metadata is not None:
                    raise
                response = None
            if response is not None and response.status == 200:
                return response.body
            if dist.metadata is None:
                with self._lock:
                    self._no_metadata_hosts.add(host)
        if is_http and host not in self._no_range_hosts:
            data = self._range_metadata(dist)
            if data is not None:
                return data
        return self._download_metadata(dist)

    def _range_metadata(self, dist: DistFile) -> bytes | None:
        host = urllib.parse.urlsplit(dist.url).netloc
        response = self.client.request(
            dist.url,
            headers={"Range": f"bytes=-{_TAIL_BYTES}", "Accept-Encoding": "identity"},
            ok_statuses=frozenset({200, 206}),
            expected_sha256=dist.sha256,  # checked when the whole file comes back (200)
        )
        if response.status == 200:
            # The server ignores ranges: we already have the whole file.
            with self._lock:
                self._no_range_hosts.add(host)
            with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
                return metadata_from_wheel_zip(archive, dist.filename)
        content_range = response.headers.get("content-range", "")
        total_text = content_range.rpartition("/")[2]
        if not total_text.isdigit():
            with self._lock:
                self._no_range_hosts.add(host)
            return None
        remote = _RangeFile(self.client, dist.url, response.body, int(total_text))
        try:
            with zipfile.ZipFile(remote) as archive:
                return metadata_from_wheel_zip(archive, dist.filename)
        except zipfile.BadZipFile:
            return None

    def _download_metadata(self, dist: DistFile) -> bytes:
        response = self.client.request(dist.url, expected_sha256=dist.sha256)
        try:
            with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
                return metadata_from_wheel_zip(archive, dist.filename)
        except zipfile.BadZipFile as exc:
            raise ShipyardError(
                "The wheel is not a valid zip file.",
                context=redact_url(dist.url),
                hint="The file on the index is corrupt; report it to the maintainers.",
            ) from exc
