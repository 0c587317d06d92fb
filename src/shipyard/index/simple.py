"""Simple repository API pages: fetch and cache.

Implements the client side of PEP 503 (HTML) and PEP 691 (JSON, negotiated with
``Accept``) over HTTP, and find-links locations (a directory or a flat HTML page);
pages are parsed by :mod:`shipyard.index.pages`.

Parsed pages are cached with their HTTP validators (``ETag``, ``Last-Modified``)
and freshness (``Cache-Control: max-age``): a fresh page is read from disk
without re-parsing HTML or touching the network, a stale one is revalidated
with a conditional request. Indexes that send no validators (some mirrors) make
every run download the page again; the cache keeps the body's sha256, so an
unchanged page is still not parsed twice.

Cache entries are ``marshal`` data (plain tuples and strings), which loads about
ten times faster than pickled objects; files are rebuilt as :class:`DistFile`.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from shipyard.atomic import atomic_write_bytes
from shipyard.cache import Cache
from shipyard.errors import NetworkError
from shipyard.index.credentials import public_url, redact_url
from shipyard.index.http import HttpClient, Response
from shipyard.index.pages import (
    LISTED_SUFFIXES,
    VARIANTS_JSON_SUFFIX,
    parse_html_page,
    parse_json_page,
    parse_json_rows,
    project_of_filename,
    version_text,
)
from shipyard.models import DistFile, Row, VersionGroup, rows_to_files

__all__ = [
    "ACCEPT",
    "FindLinks",
    "ProjectPage",
    "SimpleIndex",
    "group_rows",
    "parse_html_page",
    "parse_json_page",
    "parse_json_rows",
    "project_of_filename",
    "version_text",
]

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_DEFAULT_MAX_AGE = 600.0


class ProjectPage:
    """The files an index offers for one project.

    :param name: the canonical project name (PEP 503 normalized).
    :param files: every wheel and sdist, in the index's order.
    :param groups: instead of ``files``, the files grouped per version and packed
        (:func:`group_rows`), as the page cache keeps them: a page with 15,000 files
        loads as a few hundred objects, and a version's files are built only when used.
    """

    __slots__ = ("_files", "groups", "name")

    def __init__(
        self,
        name: str,
        files: tuple[DistFile, ...] | None = None,
        *,
        groups: list[VersionGroup] | None = None,
    ) -> None:
        self.name = name
        self._files = files
        self.groups = groups if files is None else None

    @property
    def files(self) -> tuple[DistFile, ...]:
        """Every wheel and sdist (grouped per version when the page came packed)."""
        if self._files is None:
            rows: list[tuple[Any, ...]] = []
            for *_info, packed in self.groups or []:
                rows.extend(marshal.loads(packed))
            self._files = rows_to_files(rows)
        return self._files

    def __repr__(self) -> str:
        return f"ProjectPage({self.name!r}, {len(self.files)} files)"


def group_rows(name: str, rows: list[tuple[Any, ...]]) -> list[VersionGroup]:
    """Group a page's rows per version (files of another project, or with no version
    in their name, are dropped), wheels first, each group packed with ``marshal``.

    A version's ``-variants.json`` (PEP 825 draft) joins its group, last; it takes no
    part in the group's yanked flag and Requires-Python values, and a version with no
    archive besides it is dropped."""
    by_version: dict[str, list[tuple[Any, ...]]] = {}
    with_json: set[str] = set()
    for row in rows:
        text = version_text(name, row[0])
        if text is not None:
            by_version.setdefault(text, []).append(row)
            if row[0].endswith(VARIANTS_JSON_SUFFIX):
                with_json.add(text)
    groups: list[VersionGroup] = []
    for text, group in by_version.items():
        group.sort(key=lambda row: not row[0].endswith(".whl"))
        archives = group
        if text in with_json:
            archives = [row for row in group if not row[0].endswith(VARIANTS_JSON_SUFFIX)]
            if not archives:
                continue
            group = archives + [row for row in group if row[0].endswith(VARIANTS_JSON_SUFFIX)][:1]
        yanked = all(row[6] is not None for row in archives)
        python = tuple(dict.fromkeys(row[5] or None for row in archives))
        groups.append((text, yanked, python, marshal.dumps(group)))
    return groups


def _parse_response(response: Response) -> list[Row]:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == _JSON_TYPE or (
        content_type == "application/json" and response.body.lstrip()[:1] == b"{"
    ):
        return parse_json_rows(response.body, response.url)
    return _files_to_rows(parse_html_page(response.body, response.url))


def _max_age(headers: dict[str, str]) -> float:
    control = headers.get("cache-control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return 0.0
    match = re.search(r"max-age=(\d+)", control)
    if match:
        return float(match.group(1))
    return _DEFAULT_MAX_AGE if ("etag" in headers or "last-modified" in headers) else 0.0


@dataclass(slots=True)
class _CacheEntry:
    url: str
    stored_at: float
    max_age: float
    etag: str | None
    last_modified: str | None
    groups: list[VersionGroup] | None  # None: the index answered 404
    body_sha256: str | None = None

    @property
    def absent(self) -> bool:
        return self.groups is None

    def page(self, name: str) -> ProjectPage | None:
        if self.groups is None:
            return None
        return ProjectPage(name, groups=self.groups)


#: 3: with ``-variants.json`` files; 2: versions grouped and packed (1 kept every file
#: as a row)
_ENTRY_FORMAT = 3


def _files_to_rows(files: tuple[DistFile, ...]) -> list[Row]:
    return [
        (
            f.filename,
            f.url,
            f.hashes,
            f.size,
            f.upload_time.isoformat() if f.upload_time is not None else None,
            f.requires_python,
            f.yanked,
            f.metadata,
        )
        for f in files
    ]


class SimpleIndex:
    """One simple repository (PEP 503/691) with an on-disk page cache.

    :param url: the index root, e.g. ``"https://pypi.org/simple"``.
    :param client: the shared HTTP client.
    :param cache: the cache, or ``None`` to keep nothing on disk.
    """

    def __init__(self, url: str, client: HttpClient, cache: Cache | None) -> None:
        self.url = url.rstrip("/") + "/"
        self.client = client
        self.cache = cache
        self._dir: Path | None = None

    def _cache_path(self, name: str) -> Path | None:
        if self.cache is None:
            return None
        if self._dir is None:
            key = hashlib.sha256(redact_url(self.url).encode()).hexdigest()[:16]
            self._dir = self.cache.bucket("simple") / key
            self._dir.mkdir(exist_ok=True)
        return self._dir / f"{name}.marshal"

    def project_url(self, name: str) -> str:
        """The project page URL for canonical ``name``."""
        return urllib.parse.urljoin(self.url, f"{name}/")

    def local_names(self) -> list[str]:
        """The canonical project names of a local (``file://``) index: its folders. Empty
        for an index on a server, whose root page (PyPI's: tens of megabytes) is never
        fetched for this."""
        if not self.url.startswith("file:"):
            return []
        root = Path(urllib.request.url2pathname(urllib.parse.urlsplit(self.url).path))
        try:
            return sorted(
                canonicalize_name(entry.name) for entry in os.scandir(root) if entry.is_dir()
            )
        except OSError:
            return []

    def get_page(self, name: str, *, refresh: bool = False) -> ProjectPage | None:
        """The project's page, from the cache when fresh, else from the index.

        :param name: a canonical project name.
        :param refresh: revalidate even a fresh cached page (``lock --upgrade``).
        :returns: ``None`` when the index does not know the project (HTTP 404).
        :raises NetworkError: when the index cannot be reached and nothing usable is cached.
        """
        path = self._cache_path(name)
        entry = _load_entry(path)
        now = time.time()
        if entry is not None:
            fresh = now - entry.stored_at < entry.max_age
            if self.client.offline or (fresh and not refresh):
                return entry.page(name)
        headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
        if entry is not None and not entry.absent:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        url = self.project_url(name)
        for attempt in range(2):
            try:
                response = self.client.request(
                    url, headers=headers, ok_statuses=frozenset({200, 304, 404, 410})
                )
            except NetworkError:
                if entry is not None and self.client.offline:
                    return entry.page(name)
                raise
            if response.status == 304 and entry is not None:
                entry.stored_at = now
                entry.max_age = _max_age(response.headers) or entry.max_age
                _store_entry(path, entry)
                return entry.page(name)
            if response.status in (404, 410):
                _store_entry(path, _CacheEntry(url, now, 60.0, None, None, None))
                return None
            body_sha256 = hashlib.sha256(response.body).hexdigest()
            reused = entry is not None and not entry.absent and entry.body_sha256 == body_sha256
            try:
                # The same bytes as last time: no need to parse again.
                rows = None if reused else _parse_response(response)
                break
            except (ValueError, KeyError, TypeError) as exc:
                if attempt == 0:
                    # A body cut short or garbled on the way (a proxy, a wrong
                    # Content-Length) parses on a second try; fetch it whole once more.
                    headers.pop("If-None-Match", None)
                    headers.pop("If-Modified-Since", None)
                    continue
                raise NetworkError(
                    f"The index returned a page that is not a valid simple API page ({exc}).",
                    url=redact_url(url),
                    hint="Check that --index-url points at a PEP 503 simple index "
                    "(ending in /simple).",
                ) from exc
        max_age = _max_age(response.headers)
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        if reused and entry is not None:
            if max_age == 0.0 and (entry.max_age, entry.etag, entry.last_modified) == (
                0.0,
                etag,
                last_modified,
            ):
                return entry.page(name)  # nothing new to keep: leave the entry as it is
            groups = entry.groups
        else:
            assert rows is not None
            groups = group_rows(name, rows)
        new = _CacheEntry(
            url=response.url,
            stored_at=now,
            max_age=max_age,
            etag=etag,
            last_modified=last_modified,
            groups=groups,
            body_sha256=body_sha256,
        )
        _store_entry(path, new)
        return new.page(name)


def _load_entry(path: Path | None) -> _CacheEntry | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            data = marshal.load(handle)
        if data[0] != _ENTRY_FORMAT:
            return None
        _format, url, stored_at, max_age, etag, last_modified, body_sha256, groups = data
    except (OSError, EOFError, ValueError, TypeError, IndexError):
        return None
    return _CacheEntry(url, stored_at, max_age, etag, last_modified, groups, body_sha256)


def _store_entry(path: Path | None, entry: _CacheEntry) -> None:
    if path is None:
        return
    data = (
        _ENTRY_FORMAT,
        public_url(entry.url),  # never a credential on disk
        entry.stored_at,
        entry.max_age,
        entry.etag,
        entry.last_modified,
        entry.body_sha256,
        entry.groups,
    )
    try:
        atomic_write_bytes(path, marshal.dumps(data), fsync=False)
    except Exception:  # a cache that cannot be written is not an error for the user
        pass


class FindLinks:
    """A find-links location: a local directory of archives or a flat HTML page of links.

    :param location: a directory path, a ``file://`` URL, or an ``http(s)://`` page URL.
    """

    def __init__(self, location: str, client: HttpClient) -> None:
        self.location = location
        self.client = client
        self._by_project: dict[str, list[DistFile]] | None = None

    def _load(self) -> dict[str, list[DistFile]]:
        if self._by_project is not None:
            return self._by_project
        files: Iterable[DistFile]
        location = self.location
        if location.startswith("file:"):
            location = urllib.request.url2pathname(urllib.parse.urlsplit(location).path)
        if not location.startswith(("http://", "https://")):
            directory = Path(location).expanduser()
            if not directory.is_dir():
                raise NetworkError(
                    "The find-links directory does not exist.",
                    url=str(directory),
                    hint="Fix --find-links or [tool.shipyard] find-links.",
                )
            files = [
                DistFile(filename=entry.name, url=Path(entry.path).resolve().as_uri())
                for entry in sorted(os.scandir(directory), key=lambda e: e.name)
                if entry.is_file() and entry.name.endswith(LISTED_SUFFIXES)
            ]
        else:
            response = self.client.request(location, headers={"Accept": "text/html"})
            files = parse_html_page(response.body, response.url)
        grouped: dict[str, list[DistFile]] = {}
        for dist in files:
            project = project_of_filename(dist.filename)
            if project:
                grouped.setdefault(project, []).append(dist)
        self._by_project = grouped
        return grouped

    def get_page(self, name: str, *, refresh: bool = False) -> ProjectPage | None:
        """The archives in this location that belong to canonical ``name``, or ``None``."""
        found = self._load().get(name)
        return ProjectPage(name, tuple(found)) if found else None

    def listed_names(self) -> list[str]:
        """The canonical project names this location lists, once it has been read
        (empty before: this reads nothing)."""
        return sorted(self._by_project or ())
