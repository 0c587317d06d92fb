"""A local package index over HTTP for hermetic tests.

:class:`IndexServer` serves a folder of wheels and sdists on ``127.0.0.1`` as a
simple repository: PEP 503 HTML and PEP 691 JSON (content negotiation or a
fixed dialect), PEP 592 yanking, PEP 658/714 ``.metadata`` files, PEP 700
``versions``/``size``/``upload-time``, HTTP range requests, and conditional
requests (``ETag``/``Last-Modified`` with 304). It records every request and can
be told to fail given paths, or to misbehave at the transport level
(:data:`Fault`: connection resets, stalls, truncated bodies, wrong
``Content-Length``, 429 with ``Retry-After``, slow drips, corrupted bytes), so
tests can check caching, retries and integrity checks.

Layout::

    /simple/                      project list
    /simple/<normalized-name>/    project page (other spellings: 301 to this)
    /files/<filename>             distribution files
    /files/<filename>.metadata    core metadata of wheels (PEP 658)
    /links/                       flat find-links page of every file
"""

from __future__ import annotations

import email.parser
import email.utils
import hashlib
import html
import json
import os
import socket
import struct
import tarfile
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

__all__ = [
    "DEFAULT_UPLOAD_TIME",
    "HTML_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "Dialect",
    "Fault",
    "IndexServer",
    "RecordedRequest",
    "ServedFile",
    "find_links_html",
    "serve_find_links_html",
]

Dialect = Literal["json", "html", "both"]

#: What :attr:`IndexServer.faults` can do to one response:
#:
#: - ``reset``: close the connection with a TCP RST before answering;
#: - ``stall``: answer nothing until :attr:`IndexServer.stall_seconds` pass, then close;
#: - ``truncate``: send the full ``Content-Length`` but only half the body, then close;
#: - ``long-length``: announce 100 bytes more than the body, send the body, close;
#: - ``short-length``: announce 10 bytes fewer than the body, send all of it, close;
#: - ``429``: ``429 Too Many Requests`` with ``Retry-After`` :attr:`IndexServer.retry_after`;
#: - ``500``/``503``: that status with a short text body;
#: - ``drip``: the right response, written 64 bytes at a time, 5 ms apart;
#: - ``corrupt``: the right headers and length, one byte of the body flipped.
Fault = Literal[
    "reset",
    "stall",
    "truncate",
    "long-length",
    "short-length",
    "429",
    "500",
    "503",
    "drip",
    "corrupt",
]

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
#: Upload time reported for files without an entry in ``upload_times``.
DEFAULT_UPLOAD_TIME = datetime(2024, 1, 1, tzinfo=UTC)

_JSON_TYPES = (JSON_CONTENT_TYPE, "application/vnd.pypi.simple.latest+json")
_HTML_TYPES = (HTML_CONTENT_TYPE, "application/vnd.pypi.simple.latest+html", "text/html")
_FILE_CACHE_CONTROL = "max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received.

    :param path: the raw request target, query string included.
    :param headers: request headers with lower-case names.
    """

    method: str
    path: str
    headers: dict[str, str] = field(hash=False)
    at: float = field(default=0.0, compare=False)  # time.monotonic() on arrival

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class ServedFile:
    """A distribution file in the served folder, as the index describes it."""

    filename: str
    project: str  # canonical name
    version: str
    is_wheel: bool
    size: int
    mtime: float
    sha256: str
    metadata: bytes | None  # METADATA of wheels, PKG-INFO of sdists
    requires_python: str | None

    @property
    def metadata_sha256(self) -> str | None:
        """sha256 (hex) of the core metadata, or None when the file has none."""
        return hashlib.sha256(self.metadata).hexdigest() if self.metadata is not None else None


def _read_metadata(path: Path, is_wheel: bool) -> bytes | None:
    try:
        if is_wheel:
            with zipfile.ZipFile(path) as archive:
                names = [
                    n
                    for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
                ]
                return archive.read(names[0]) if names else None
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                names = [
                    n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")
                ]
                return archive.read(names[0]) if names else None
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                top_level = member.name.count("/") == 1
                if member.isfile() and top_level and member.name.endswith("/PKG-INFO"):
                    extracted = archive.extractfile(member)
                    return extracted.read() if extracted else None
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return None
    return None


def _requires_python(metadata: bytes | None) -> str | None:
    if metadata is None:
        return None
    message = email.parser.BytesHeaderParser().parsebytes(metadata)
    value = message.get("Requires-Python")
    return str(value).strip() if value else None


def _without_variant_label(filename: str) -> str:
    """A wheel name without its PEP 825 variant label (a part after the platform tag:
    six parts whose third does not start with a digit, or seven)."""
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit()):
        return "-".join(parts[:-1]) + ".whl"
    return filename


def _parse_filename(filename: str) -> tuple[str, str, bool] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(_without_variant_label(filename))
            return name, str(version), True
        if filename.endswith("-variants.json"):  # PEP 825 index-level variant metadata
            project, _, text = filename.removesuffix("-variants.json").rpartition("-")
            return (canonicalize_name(project), str(Version(text)), False) if project else None
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return name, str(version), False
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _iso_time(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def _quality(ranges: list[tuple[str, float]], types: tuple[str, ...]) -> tuple[float, bool]:
    """Return (q, named explicitly) for the best of ``types`` under ``ranges``."""
    best, explicit = 0.0, False
    for media, q in ranges:
        if media in types:
            if not explicit or q > best:
                best, explicit = q, True
        elif not explicit and (
            media == "*/*"
            or (media.endswith("/*") and any(t.startswith(media[:-1]) for t in types))
        ):
            best = max(best, q)
    return best, explicit


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def find_links_html(filenames: list[str], base_url: str = "") -> str:
    """Render a flat find-links page: one ``<a>`` per file, ``href`` = base_url + quoted name."""
    links = "\n".join(
        f'<a href="{html.escape(base_url + urllib.parse.quote(name))}">{html.escape(name)}</a><br>'
        for name in filenames
    )
    return (
        "<!DOCTYPE html>\n<html><head><title>Links</title></head>\n"
        f"<body>\n<h1>Links</h1>\n{links}\n</body></html>\n"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: IndexServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet about connections a fault (or the client) cut; report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError | ValueError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle keep-alive connection may stay open
    server_version = "shipyard-test-index/1.0"

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Answer GET requests."""
        self.server.owner._handle(self, head=False)

    def do_HEAD(self) -> None:
        """Answer HEAD requests."""
        self.server.owner._handle(self, head=True)


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: float | None = None
    conditional: bool = True  # add ETag/Last-Modified and honour If-* headers
    etag: str | None = None  # validator of the whole representation (set for 206)


class IndexServer:
    """A PEP 503/691 simple repository serving the distribution files in ``root``.

    Use as a context manager (or call :meth:`start`/:meth:`stop`). ``root`` is
    rescanned on every request, so tests may add files while it runs; parsed
    metadata is cached per file name, size and mtime. Options are plain
    attributes and may be changed while the server runs.

    :param root: folder of ``.whl``, ``.tar.gz`` and ``.zip`` files (not recursive); PEP 825
        variant wheels and ``{name}-{version}-variants.json`` files are listed too.
    :param dialect: ``"json"`` or ``"html"`` always; ``"both"`` negotiates on ``Accept``
        (PEP 691), HTML when nothing better is asked for.
    :param metadata: serve and advertise PEP 658 ``<wheel>.metadata`` files.
    :param metadata_unadvertised: serve ``.metadata`` files without advertising them.
    :param range_requests: honour ``Range: bytes=a-b``/``bytes=a-``/``bytes=-n`` on
        files (206); when false, ignore ``Range`` and answer 200 with the full body.
    :param max_age: ``Cache-Control: max-age`` of index pages, seconds.
    :param validators: send ``ETag``/``Last-Modified``/``Cache-Control`` with index
        pages; false serves them bare, as some PyPI mirrors do.
    :param yanked: filename -> yank reason (``""`` for no reason), PEP 592.
    :param upload_times: filename -> upload time (default :data:`DEFAULT_UPLOAD_TIME`).
    :param absolute_urls: absolute file URLs instead of ``../../files/<name>``.
    :param fail: path prefix -> HTTP status to answer instead (checked before anything).
    :param fail_times: path prefix -> how many more times to fail; a prefix in ``fail``
        but not here fails forever. Decremented as requests fail.
    :param faults: path prefix -> the transport :data:`Fault` to inflict on each of the
        next requests under it, one per request, first first; a list ending in ``"*"``
        repeats its last fault forever. Every inflicted fault is appended to
        :attr:`injected` as ``(path, fault)``.
    :param stall_seconds: how long a ``stall`` keeps the client waiting.
    :param retry_after: the ``Retry-After`` value a ``429`` fault sends.
    :param auth: ``(user name, password)`` every request must send as HTTP Basic
        credentials; others get ``401`` with ``WWW-Authenticate``.
    """

    def __init__(
        self,
        root: Path,
        *,
        dialect: Dialect = "both",
        metadata: bool = True,
        metadata_unadvertised: bool = False,
        range_requests: bool = True,
        max_age: int = 600,
        validators: bool = True,
        yanked: Mapping[str, str] | None = None,
        upload_times: Mapping[str, datetime] | None = None,
        absolute_urls: bool = False,
        fail: Mapping[str, int] | None = None,
        fail_times: Mapping[str, int] | None = None,
        faults: Mapping[str, list[str]] | None = None,
        stall_seconds: float = 10.0,
        retry_after: str = "1",
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.dialect: Dialect = dialect
        self.metadata = metadata
        self.metadata_unadvertised = metadata_unadvertised
        self.range_requests = range_requests
        self.max_age = max_age
        self.validators = validators
        self.yanked: dict[str, str] = dict(yanked or {})
        self.upload_times: dict[str, datetime] = dict(upload_times or {})
        self.absolute_urls = absolute_urls
        self.fail: dict[str, int] = dict(fail or {})
        self.fail_times: dict[str, int] = dict(fail_times or {})
        self.faults: dict[str, list[str]] = {k: list(v) for k, v in (faults or {}).items()}
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.auth = auth
        self.injected: list[tuple[str, str]] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._cache: dict[str, tuple[tuple[int, int], ServedFile]] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread; return self."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._stopping.clear()
        self._started_at = float(int(datetime.now(UTC).timestamp()))
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"IndexServer:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wake stalled handlers
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port.

        :raises RuntimeError: if the server is not running.
        """
        if self._server is None:
            raise RuntimeError("IndexServer is not running; call start() or use `with`")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        """The simple index root, ``<url>/simple`` (no trailing slash, like PyPI's)."""
        return f"{self.url}/simple"

    @property
    def files_url(self) -> str:
        """Where distribution files live: ``<url>/files/``."""
        return f"{self.url}/files/"

    @property
    def links_url(self) -> str:
        """The flat find-links page, ``<url>/links/``."""
        return f"{self.url}/links/"

    def project_url(self, name: str) -> str:
        """The project page of ``name``: ``<url>/simple/<normalized>/``."""
        return f"{self.index_url}/{canonicalize_name(name)}/"

    # -- recorded requests -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def requests_for(self, prefix: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path starts with ``prefix`` (and of ``method`` if given)."""
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (method is None or r.method == method)
        ]

    # -- files -------------------------------------------------------------------------------

    def scan(self) -> list[ServedFile]:
        """Return what ``root`` holds now, sorted by file name (cached per size and mtime)."""
        infos = []
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.is_file():
                continue
            info = self._file_info(entry)
            if info is not None:
                infos.append(info)
        return infos

    def _file_info(self, entry: os.DirEntry[str]) -> ServedFile | None:
        parsed = _parse_filename(entry.name)
        if parsed is None:
            return None
        stat = entry.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(entry.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        project, version, is_wheel = parsed
        path = Path(entry.path)
        data = path.read_bytes()
        metadata = _read_metadata(path, is_wheel)
        info = ServedFile(
            filename=entry.name,
            project=project,
            version=version,
            is_wheel=is_wheel,
            size=len(data),
            mtime=stat.st_mtime,
            sha256=hashlib.sha256(data).hexdigest(),
            metadata=metadata,
            requires_python=_requires_python(metadata),
        )
        with self._lock:
            self._cache[entry.name] = (key, info)
        return info

    def _advertises_metadata(self, info: ServedFile) -> bool:
        return (
            self.metadata
            and not self.metadata_unadvertised
            and info.is_wheel
            and info.metadata is not None
        )

    def _file_href(self, filename: str) -> str:
        quoted = urllib.parse.quote(filename)
        return self.files_url + quoted if self.absolute_urls else f"../../files/{quoted}"

    # -- pages -------------------------------------------------------------------------------

    def _wants_json(self, accept: str | None) -> bool:
        if self.dialect != "both":
            return self.dialect == "json"
        ranges = _media_ranges(accept or "")
        q_json, json_named = _quality(ranges, _JSON_TYPES)
        q_html, _ = _quality(ranges, _HTML_TYPES)
        return q_json > q_html or (q_json == q_html and q_json > 0 and json_named)

    def _html_content_type(self, accept: str | None) -> str:
        ranges = _media_ranges(accept or "")
        q_v1, named = _quality(ranges, (HTML_CONTENT_TYPE,))
        q_text, _ = _quality(ranges, ("text/html",))
        if named and q_v1 >= q_text:
            return HTML_CONTENT_TYPE
        return "text/html; charset=utf-8"

    def _last_modified(self, infos: list[ServedFile]) -> float:
        return max((i.mtime for i in infos), default=self._started_at)

    def _root_page(self, as_json: bool, accept: str | None) -> _Response:
        infos = self.scan()
        names = sorted({i.project for i in infos})
        if as_json:
            body = json.dumps(
                {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]},
                indent=1,
            ).encode()
            content_type = JSON_CONTENT_TYPE
        else:
            links = "\n".join(
                f'<a href="{html.escape(n)}/">{html.escape(n)}</a><br>' for n in names
            )
            body = (
                "<!DOCTYPE html>\n<html><head>"
                '<meta name="pypi:repository-version" content="1.1">'
                "<title>Simple index</title></head>\n"
                f"<body>\n{links}\n</body></html>\n"
            ).encode()
            content_type = self._html_content_type(accept)
        return self._page(body, content_type, self._last_modified(infos))

    def _project_page(self, project: str, as_json: bool, accept: str | None) -> _Response:
        infos = [i for i in self.scan() if i.project == project]
        if not infos:
            return _Response(404, b"no such project\n", {"Content-Type": "text/plain"})
        if as_json:
            files = []
            for info in infos:
                entry: dict[str, object] = {
                    "filename": info.filename,
                    "url": self._file_href(info.filename),
                    "hashes": {"sha256": info.sha256},
                }
                if info.requires_python is not None:
                    entry["requires-python"] = info.requires_python
                reason = self.yanked.get(info.filename)
                entry["yanked"] = (reason or True) if reason is not None else False
                entry["size"] = info.size
                entry["upload-time"] = _iso_time(
                    self.upload_times.get(info.filename, DEFAULT_UPLOAD_TIME)
                )
                if self._advertises_metadata(info):
                    digest = {"sha256": info.metadata_sha256}
                    entry["core-metadata"] = digest
                    entry["dist-info-metadata"] = digest
                files.append(entry)
            versions = sorted({i.version for i in infos}, key=Version)
            body = json.dumps(
                {
                    "meta": {"api-version": "1.1"},
                    "name": project,
                    "versions": versions,
                    "files": files,
                },
                indent=1,
            ).encode()
            content_type = JSON_CONTENT_TYPE
        else:
            links = []
            for info in infos:
                href = f"{self._file_href(info.filename)}#sha256={info.sha256}"
                attrs = [f'href="{html.escape(href)}"']
                if info.requires_python is not None:
                    attrs.append(f'data-requires-python="{html.escape(info.requires_python)}"')
                if info.filename in self.yanked:
                    attrs.append(f'data-yanked="{html.escape(self.yanked[info.filename])}"')
                if self._advertises_metadata(info):
                    value = f"sha256={info.metadata_sha256}"
                    attrs.append(f'data-core-metadata="{value}"')
                    attrs.append(f'data-dist-info-metadata="{value}"')
                links.append(f"<a {' '.join(attrs)}>{html.escape(info.filename)}</a><br>")
            body = (
                "<!DOCTYPE html>\n<html><head>"
                '<meta name="pypi:repository-version" content="1.1">'
                f"<title>Links for {html.escape(project)}</title></head>\n"
                f"<body>\n<h1>Links for {html.escape(project)}</h1>\n"
                + "\n".join(links)
                + "\n</body></html>\n"
            ).encode()
            content_type = self._html_content_type(accept)
        return self._page(body, content_type, self._last_modified(infos))

    def _page(self, body: bytes, content_type: str, last_modified: float) -> _Response:
        if not self.validators:
            return _Response(200, body, {"Content-Type": content_type}, conditional=False)
        headers = {
            "Content-Type": content_type,
            "Cache-Control": f"max-age={self.max_age}",
            "Vary": "Accept",
        }
        return _Response(200, body, headers, last_modified)

    def _links_page(self) -> _Response:
        infos = self.scan()
        base = self.files_url if self.absolute_urls else "../files/"
        body = find_links_html([i.filename for i in infos], base).encode()
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=0"}
        return _Response(200, body, headers, self._last_modified(infos))

    def _file(self, filename: str, range_header: str | None, if_range: str | None) -> _Response:
        want_metadata = filename.endswith(".metadata")
        target = filename.removesuffix(".metadata") if want_metadata else filename
        if "/" in target or target.startswith("."):
            return _Response(404, b"not found\n", {"Content-Type": "text/plain"})
        info = next((i for i in self.scan() if i.filename == target), None)
        if info is None:
            return _Response(404, b"not found\n", {"Content-Type": "text/plain"})
        if want_metadata:
            served = self.metadata or self.metadata_unadvertised
            if not (served and info.is_wheel and info.metadata is not None):
                return _Response(404, b"no metadata file\n", {"Content-Type": "text/plain"})
            data = info.metadata
            content_type = "text/plain; charset=utf-8"
        else:
            data = (self.root / target).read_bytes()
            content_type = "application/octet-stream"
        headers = {
            "Content-Type": content_type,
            "Cache-Control": _FILE_CACHE_CONTROL,
            "Accept-Ranges": "bytes" if self.range_requests else "none",
        }
        response = _Response(200, data, headers, info.mtime)
        if self.range_requests and range_header and not want_metadata:
            etag = f'"{hashlib.sha256(data).hexdigest()}"'
            if if_range is None or if_range.strip() == etag:
                return _apply_range(response, range_header)
        return response

    # -- dispatch ----------------------------------------------------------------------------

    def _forced_failure(self, path: str) -> int | None:
        with self._lock:
            for prefix, status in self.fail.items():
                if not path.startswith(prefix):
                    continue
                remaining = self.fail_times.get(prefix)
                if remaining is None:
                    return status
                if remaining > 0:
                    self.fail_times[prefix] = remaining - 1
                    return status
        return None

    def _route(self, handler: _Handler) -> _Response:
        raw_path = urllib.parse.urlsplit(handler.path).path
        path = urllib.parse.unquote(raw_path)
        accept = handler.headers.get("Accept")
        if self.auth is not None:
            import base64

            token = base64.b64encode(":".join(self.auth).encode()).decode()
            if handler.headers.get("Authorization") != f"Basic {token}":
                return _Response(
                    401,
                    b"credentials required\n",
                    {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="test"'},
                    conditional=False,
                )
        status = self._forced_failure(raw_path)
        if status is not None:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            body = f"forced failure: {status} {phrase}\n".encode()
            return _Response(status, body, {"Content-Type": "text/plain"}, conditional=False)
        if path in ("/simple", "/links"):
            return _redirect(raw_path + "/")
        if path == "/simple/":
            return self._root_page(self._wants_json(accept), accept)
        if path.startswith("/simple/"):
            name = path.removeprefix("/simple/")
            bare = name.rstrip("/")
            if not bare or "/" in bare:
                return _Response(404, b"not found\n", {"Content-Type": "text/plain"})
            normalized = canonicalize_name(bare)
            if bare != normalized or not name.endswith("/"):
                return _redirect(f"/simple/{urllib.parse.quote(normalized)}/")
            return self._project_page(normalized, self._wants_json(accept), accept)
        if path == "/links/":
            return self._links_page()
        if path.startswith("/files/"):
            return self._file(
                path.removeprefix("/files/"),
                handler.headers.get("Range"),
                handler.headers.get("If-Range"),
            )
        return _Response(404, b"not found\n", {"Content-Type": "text/plain"})

    def _handle(self, handler: _Handler, *, head: bool) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self._requests.append(
                RecordedRequest(handler.command, handler.path, headers, time.monotonic())
            )
        fault = self._next_fault(urllib.parse.urlsplit(handler.path).path)
        if fault in ("reset", "stall"):
            if fault == "stall":
                self._stopping.wait(self.stall_seconds)
            _abort(handler, reset=fault == "reset")
            return
        try:
            response = self._route(handler)
        except Exception as exc:  # a bug here must show up as a 500, not a hung client
            response = _Response(500, f"server error: {exc!r}\n".encode(), conditional=False)
        if fault in ("429", "500", "503"):
            status = int(fault)
            response = _Response(
                status,
                f"injected fault: {status}\n".encode(),
                {
                    "Content-Type": "text/plain",
                    **({"Retry-After": self.retry_after} if status == 429 else {}),
                },
                conditional=False,
            )
        if response.conditional and response.status in (200, 206):
            _make_conditional(response, handler)
        body = b"" if head or response.status == 304 else response.body
        length = len(response.body)
        if fault == "long-length":
            length += 100
        elif fault == "short-length":
            length = max(0, length - 10)
        elif fault == "truncate":
            body = body[: len(body) // 2]
        elif fault == "corrupt" and body:
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        try:
            handler.send_response(response.status)
            for key, value in response.headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(length))
            handler.end_headers()
            if fault == "drip":
                handler.wfile.flush()
                for start in range(0, len(body), 64):
                    handler.wfile.write(body[start : start + 64])
                    handler.wfile.flush()
                    self._stopping.wait(0.005)
            else:
                handler.wfile.write(body)
            if fault in ("truncate", "long-length", "short-length"):
                handler.wfile.flush()
                _abort(handler, reset=False)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _next_fault(self, path: str) -> str | None:
        """Pop the fault for ``path`` (see ``faults``) and record it; ``None`` for none."""
        with self._lock:
            for prefix, pending in self.faults.items():
                if not path.startswith(prefix) or not pending:
                    continue
                fault = pending[0]
                if fault == "*":
                    return None
                if len(pending) > 1 and pending[1] == "*":
                    pass  # the last fault before "*" repeats forever
                else:
                    pending.pop(0)
                self.injected.append((path, fault))
                return fault
        return None


def _abort(handler: _Handler, *, reset: bool) -> None:
    """Close the client connection now: with a TCP RST (``SO_LINGER`` 0) or a plain FIN."""
    handler.close_connection = True
    conn = handler.connection
    try:
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    if reset:
        conn.close()


def _redirect(location: str) -> _Response:
    return _Response(
        301,
        f"moved to {location}\n".encode(),
        {"Location": location, "Content-Type": "text/plain"},
        conditional=False,
    )


def _make_conditional(response: _Response, handler: _Handler) -> None:
    """Add ETag/Last-Modified; turn ``response`` into a 304 when the client's copy is fresh."""
    full_etag = response.etag or f'"{hashlib.sha256(response.body).hexdigest()}"'
    response.headers["ETag"] = full_etag
    modified = int(response.last_modified or 0)
    response.headers["Last-Modified"] = _http_date(modified)
    if_none_match = handler.headers.get("If-None-Match")
    if_modified_since = handler.headers.get("If-Modified-Since")
    fresh = False
    if if_none_match is not None:
        fresh = _etag_matches(if_none_match, full_etag)
    elif if_modified_since is not None:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            since = None
        if since is not None:
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            fresh = modified <= since.timestamp()
    if fresh:
        response.status = 304
        response.body = b""
        for key in ("Content-Range", "Content-Type"):
            response.headers.pop(key, None)


def _apply_range(response: _Response, header: str) -> _Response:
    """Serve one ``bytes=`` range of ``response`` (RFC 9110 §14); other forms get the full body."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return response
    first, dash, last = spec.strip().partition("-")
    size = len(response.body)
    try:
        if not dash:
            return response
        if first == "":  # suffix: the last N bytes
            length = int(last)
            if length <= 0:
                raise _Unsatisfiable
            start, end = max(0, size - length), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                return response  # invalid range: ignore it
            if start >= size:
                raise _Unsatisfiable
            end = min(end, size - 1)
    except ValueError:
        return response
    except _Unsatisfiable:
        response.status = 416
        response.headers["Content-Range"] = f"bytes */{size}"
        response.body = b""
        response.conditional = False
        return response
    full_etag = f'"{hashlib.sha256(response.body).hexdigest()}"'
    response.status = 206
    response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response.etag = full_etag
    response.body = response.body[start : end + 1]
    return response


class _Unsatisfiable(Exception):
    pass


def serve_find_links_html(root: Path, **options: Any) -> IndexServer:
    """Start an :class:`IndexServer` for ``root`` and return it; its find-links page is
    :attr:`IndexServer.links_url`. The caller stops it (or uses it in ``with``).

    :param options: keyword options of :class:`IndexServer`.
    """
    server = IndexServer(root, **options)
    return server.start()
