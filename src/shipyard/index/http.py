"""The HTTP client every network request goes through.

One pooled, thread-safe ``urllib3`` client with the system trust store
(``truststore`` on macOS and Windows; on Linux OpenSSL's own default paths,
which is what truststore would load there, once instead of per connection),
retries with exponential backoff on connection errors, 429 and
5xx, credentials from the URL or ``~/.netrc``, and ``file://`` URLs read from
disk. Failures become :class:`~shipyard.errors.NetworkError` with a hint; nothing
here prints. Credentials are handled in :mod:`shipyard.index.credentials`, failures
explained in :mod:`shipyard.index.http_errors`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipyard import __version__
from shipyard.atomic import os_error
from shipyard.errors import HashMismatchError, NetworkError, ShipyardError
from shipyard.index.credentials import (
    KeyringCredentials,
    NetrcCredentials,
    host_credentials,
    host_key,
    host_part,
    public_url,
    redact_url,
)
from shipyard.index.dns import HostResolver, cached_pool_classes
from shipyard.index.http_errors import RETRY_STATUSES, connection_error, status_error

if TYPE_CHECKING:
    import urllib3

__all__ = [
    "MAX_RETRY_AFTER",
    "HttpClient",
    "Response",
    "host_credentials",
    "host_key",
    "public_url",
    "redact_url",
]

_T = TypeVar("_T")

USER_AGENT = f"shipyard/{__version__}"
#: The process's host lookups, shared by every client.
HOST_RESOLVER = HostResolver()
#: The longest ``Retry-After`` shipyard waits for, seconds; a server asking for more
#: fails the request at once (with the wait it asked for) instead of hanging the run.
MAX_RETRY_AFTER = 60.0


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix.

    :param error: what to raise when no attempt is left.
    :param retry_after: the server's ``Retry-After``, seconds, when it sent one.
    """

    def __init__(self, error: ShipyardError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3): a number of
    seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(slots=True)
class Response:
    """A complete HTTP response.

    :param url: the final URL after redirects (used to resolve relative links).
    :param status: the status code (``200``, ``206``, ``304`` …; ``200`` for ``file://``).
    :param headers: header names lowercased.
    :param body: the whole body, bytes.
    """

    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _system_ssl_context() -> Any:
    """An ``ssl.SSLContext`` that trusts the system's certificate authorities.

    On Linux, truststore verifies with OpenSSL against the distribution's CA bundle,
    but re-loads that bundle for every new connection (about 20 per lock, each
    parsing ~150 certificates while holding the GIL); loading OpenSSL's default
    paths once is the same trust at a fraction of the cost. Where no default CA
    file or directory exists, and on macOS and Windows (native verification), it
    uses truststore.
    """
    import ssl
    import sys

    if sys.platform.startswith("linux"):
        paths = ssl.get_default_verify_paths()
        if (paths.cafile and os.path.isfile(paths.cafile)) or (
            paths.capath and os.path.isdir(paths.capath) and os.listdir(paths.capath)
        ):
            return ssl.create_default_context()
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HttpClient:
    """A pooled HTTP client shared by all threads of one shipyard run.

    :param offline: when true every network request raises :class:`NetworkError`;
        ``file://`` URLs still work.
    :param timeout: connect and read timeout, seconds.
    :param retries: how many times a failed request is retried (connection errors,
        read timeouts, 429 and 5xx), with exponential backoff starting at 0.25 s.
    :param max_connections: connections kept per host.
    :param credentials: ``host[:port]`` (see :func:`host_key`) -> (user name, password)
        for requests to that host whose URL carries none (``SHIPYARD_INDEX_USERNAME`` /
        ``SHIPYARD_INDEX_PASSWORD``); asked before ``~/.netrc``.
    :param keyring: asked after a 401 to a request sent without credentials, for the
        hosts it was given (``keyring`` library); the request is then made again.

    Credentials go into an ``Authorization`` header only; URLs in errors are redacted
    (:func:`redact_url`) and files meant for others use :func:`public_url`.
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        timeout: float = 30.0,
        retries: int = 3,
        max_connections: int = 16,
        credentials: Mapping[str, tuple[str, str]] | None = None,
        keyring: KeyringCredentials | None = None,
    ) -> None:
        self.offline = offline
        self._keyring = keyring
        self.credentials = dict(credentials or {})
        self.timeout = timeout
        self.retries = retries
        self.max_connections = max_connections
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()
        self._netrc = NetrcCredentials()

    # -- plumbing -------------------------------------------------------------------

    def _manager(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                import urllib3

                context = _system_ssl_context()
                cafile = os.environ.get("SSL_CERT_FILE")
                if cafile:
                    context.load_verify_locations(cafile)
                self._pool = urllib3.PoolManager(
                    num_pools=32,
                    maxsize=self.max_connections,
                    ssl_context=context,
                    headers={"User-Agent": USER_AGENT},
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                )
                # One lookup per host, not one per connection (shipyard.index.dns).
                self._pool.pool_classes_by_scheme = cached_pool_classes(HOST_RESOLVER)
            return self._pool

    def _auth_headers(self, url: str) -> tuple[str, dict[str, str]]:
        """Strip credentials from ``url`` and return them as an Authorization header."""
        parts = urllib.parse.urlsplit(url)
        headers: dict[str, str] = {}
        username, password = parts.username, parts.password
        if username is not None:
            url = urllib.parse.urlunsplit(parts._replace(netloc=host_part(parts.netloc)))
            username = urllib.parse.unquote(username)
            password = urllib.parse.unquote(password or "")
            # Later requests to this host (its files, redirects) carry none themselves.
            self.credentials.setdefault(host_key(url), (username, password))
        elif parts.hostname:
            found = self.credentials.get(host_key(url)) or self._netrc.lookup(parts.hostname)
            if found:
                username, password = found
        if username is not None:
            import base64

            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return url, headers

    def _check_online(self, url: str) -> None:
        if self.offline:
            raise NetworkError(
                "Network access is disabled (--offline) and this is not in the cache.",
                url=redact_url(url),
                hint="Run once without --offline to fill the cache.",
            )

    def _error(self, url: str, exc: BaseException) -> NetworkError:
        return connection_error(url, exc, timeout=self.timeout)

    def _status_error(self, url: str, status: int) -> NetworkError:
        return status_error(url, status, retries=self.retries)

    # -- requests --------------------------------------------------------------------

    def request(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        ok_statuses: frozenset[int] = frozenset({200}),
        expected_sha256: str | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Perform one request and read the whole body.

        :param url: ``http(s)://`` or ``file://``.
        :param body: bytes to send (a ``POST`` upload; ``headers`` give its type).
        :param ok_statuses: statuses returned rather than raised; 4xx/5xx outside it
            raise :class:`NetworkError` (after retries for 429/5xx).
        :param expected_sha256: the sha256 (hex) a ``200`` body must have; a different
            body is fetched again (corruption in transit), then refused.
        :raises NetworkError: on DNS, connection, timeout or status failures, or offline.
        :raises HashMismatchError: when every ``200`` body differs from ``expected_sha256``.
        """
        if url.startswith("file:"):
            found = self._read_file_url(url)
            if expected_sha256 is not None:
                _check_body(url, found.body, expected_sha256)
            return found
        self._check_online(url)
        clean_url, auth = self._auth_headers(url)
        all_headers = {**auth, **(headers or {})}
        manager = self._manager()

        def attempt() -> Response:
            import urllib3.exceptions as ue

            try:
                response = manager.request(
                    method,
                    clean_url,
                    body=body,
                    headers=all_headers,
                    retries=False,
                    redirect=True,
                    preload_content=True,
                    decode_content=True,
                )
            except ue.LocationValueError as exc:  # no retry fixes a malformed URL
                raise self._error(url, exc) from exc
            except (ue.HTTPError, OSError) as exc:
                raise _Retry(self._error(url, exc)) from exc
            status = response.status
            if status in ok_statuses:
                final_url = getattr(response, "url", None) or clean_url
                if status == 200 and expected_sha256 is not None:
                    try:
                        _check_body(url, response.data, expected_sha256)
                    except HashMismatchError as exc:
                        raise _Retry(exc) from None
                return Response(
                    url=_join_redirect(clean_url, final_url),
                    status=status,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=response.data,
                )
            error = self._status_error(url, status)
            if status in RETRY_STATUSES:
                raise _Retry(error, _retry_after(response.headers.get("Retry-After")))
            raise error

        try:
            return self._with_retries(url, attempt)
        except NetworkError as error:
            if "Authorization" in auth or not self._credentials_from_keyring(url, error):
                raise
        return self.request(
            url,
            method=method,
            headers=headers,
            ok_statuses=ok_statuses,
            expected_sha256=expected_sha256,
            body=body,
        )

    def _credentials_from_keyring(self, url: str, error: NetworkError) -> bool:
        """After a 401 to a request sent without credentials, ask the keyring for the
        host's; ``True`` when it had some (they are then used for the host)."""
        if error.status != 401 or self._keyring is None:
            return False
        key = host_key(url)
        found = self._keyring.lookup(key)
        if found is None or key in self.credentials:
            return False
        self.credentials[key] = found
        return True

    def _with_retries(self, url: str, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` until it returns, retrying :class:`_Retry` failures up to
        ``retries`` times with exponential backoff (0.25 s, doubling) or the server's
        ``Retry-After`` when longer; a ``Retry-After`` above :data:`MAX_RETRY_AFTER`
        fails at once."""
        delay = 0.25
        tries = 0
        while True:
            try:
                return attempt()
            except _Retry as failure:
                if tries >= self.retries:
                    raise failure.error from failure.__cause__
                wait = delay
                if failure.retry_after is not None:
                    if failure.retry_after > MAX_RETRY_AFTER:
                        raise NetworkError(
                            f"The server asked shipyard to come back in "
                            f"{failure.retry_after:.0f} s (HTTP "
                            f"{getattr(failure.error, 'status', None) or 'Retry-After'}).",
                            url=redact_url(url),
                            status=getattr(failure.error, "status", None),
                            hint="Try again later, or use a mirror (--index-url).",
                        ) from failure.__cause__
                    wait = max(wait, failure.retry_after)
            tries += 1
            time.sleep(wait)
            delay *= 2

    def _read_file_url(self, url: str) -> Response:
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            if path.is_dir():
                index = path / "index.html"
                if index.is_file():
                    return Response(url=url, status=200, body=index.read_bytes())
                raise NetworkError(
                    "This directory has no index.html.", url=url, hint="Use a find-links directory."
                )
            return Response(url=url, status=200, body=path.read_bytes())
        except FileNotFoundError as exc:
            raise NetworkError(
                "No such file.", url=url, status=404, hint="Check the path in the URL."
            ) from exc
        except OSError as exc:
            raise NetworkError(f"Could not read the file: {exc.strerror}.", url=url) from exc

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> str:
        """Stream ``url`` to ``dest`` (atomically: temp file + rename), hashing on the way.

        :param dest: the final path; its directory must exist.
        :param expected_sha256: when given, a different digest raises and nothing is kept.
        :param on_progress: called with the byte count of each chunk received.
        :returns: the sha256 hex digest of the bytes written.
        :raises HashMismatchError: when the digest differs from ``expected_sha256``.
        :raises NetworkError: when the transfer fails after retries.
        """
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")

        def attempt() -> str:
            try:
                digest = self._download_once(url, tmp, on_progress)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if expected_sha256 is not None and digest != expected_sha256:
                tmp.unlink(missing_ok=True)
                # Corruption in transit (a proxy, a wrong Content-Length) goes away on a
                # second try; a file that really differs fails every time.
                mismatch = HashMismatchError(
                    f"The downloaded file's sha256 is {digest}, but {expected_sha256} "
                    "was expected.",
                    context=redact_url(url),
                    hint=(
                        "The file changed on the index or was corrupted in transit; "
                        "nothing was installed. If the index legitimately replaced it, "
                        "run `shipyard lock --upgrade-package` for it."
                    ),
                )
                # A local file reads the same every time: only a transfer is retried.
                if url.startswith("file:"):
                    raise mismatch
                raise _Retry(mismatch)
            return digest

        try:
            digest = self._with_retries(url, attempt)
        except NetworkError as error:
            if self._auth_headers(url)[1] or not self._credentials_from_keyring(url, error):
                raise
            digest = self._with_retries(url, attempt)
        except OSError as exc:
            raise os_error(exc, what="save a download", path=dest) from exc
        os.replace(tmp, dest)
        return digest

    def _download_once(self, url: str, tmp: Path, on_progress: Callable[[int], None] | None) -> str:
        hasher = hashlib.sha256()
        if url.startswith("file:"):
            data = self._read_file_url(url).body
            hasher.update(data)
            tmp.write_bytes(data)
            if on_progress:
                on_progress(len(data))
            return hasher.hexdigest()
        self._check_online(url)
        clean_url, auth = self._auth_headers(url)
        import urllib3.exceptions as ue

        try:
            response = self._manager().request(
                "GET", clean_url, headers=auth, preload_content=False, retries=False
            )
        except (ue.HTTPError, OSError) as exc:
            raise _Retry(self._error(url, exc)) from exc
        try:
            if response.status != 200:
                error = self._status_error(url, response.status)
                if response.status in RETRY_STATUSES:
                    raise _Retry(error, _retry_after(response.headers.get("Retry-After")))
                raise error
            expected = response.headers.get("Content-Length")
            received = 0
            with open(tmp, "wb") as handle:
                for chunk in response.stream(1 << 18):
                    hasher.update(chunk)
                    handle.write(chunk)
                    received += len(chunk)
                    if on_progress:
                        on_progress(len(chunk))
            if expected is not None and expected.isdigit() and int(expected) != received:
                raise _Retry(
                    NetworkError(
                        f"The transfer was cut short ({received} of {expected} bytes).",
                        url=redact_url(url),
                        hint="Retry; if it keeps happening the server or a proxy truncates files.",
                    )
                )
        except (ue.HTTPError, ConnectionError, TimeoutError) as exc:
            response.close()  # a connection that broke mid-body is not reused
            raise _Retry(self._error(url, exc)) from exc
        except BaseException:
            response.close()
            raise
        response.release_conn()
        return hasher.hexdigest()


def _check_body(url: str, body: bytes, expected_sha256: str) -> None:
    digest = hashlib.sha256(body).hexdigest()
    if digest != expected_sha256.lower():
        raise HashMismatchError(
            f"The response's sha256 is {digest}, but the index advertised {expected_sha256}.",
            context=redact_url(url),
            hint="The index or a proxy serves different bytes than it lists; nothing was used. "
            "Try again later or use another index.",
        )


def _join_redirect(original: str, final: str) -> str:
    if final.startswith(("http://", "https://")):
        return final
    return urllib.parse.urljoin(original, final)
