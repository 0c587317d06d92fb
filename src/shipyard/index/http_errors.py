"""What a failed HTTP request means for the user: a :class:`NetworkError` with a hint.

:func:`connection_error` explains a transport failure (DNS, connection, timeout, a
transfer cut short, TLS), :func:`status_error` an HTTP status outside what the caller
accepts. URLs in both are redacted (:func:`~shipyard.index.credentials.redact_url`).
"""

from __future__ import annotations

import urllib.parse

from shipyard.errors import NetworkError
from shipyard.index.credentials import redact_url

__all__ = ["RETRY_STATUSES", "connection_error", "status_error"]

#: Statuses another attempt may fix (after a backoff).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def connection_error(url: str, exc: BaseException, *, timeout: float) -> NetworkError:
    """The :class:`NetworkError` for a request to ``url`` that failed with ``exc``.

    :param timeout: the client's timeout, seconds (named when the request timed out).
    """
    import urllib3.exceptions as ue

    shown = redact_url(url)
    host = urllib.parse.urlsplit(url).hostname or shown
    reason: BaseException = exc
    if isinstance(exc, ue.MaxRetryError) and exc.reason is not None:
        reason = exc.reason
    if isinstance(reason, ue.LocationValueError):
        return NetworkError(
            f"The URL is not valid ({reason}).",
            url=shown,
            hint="Check the index URL (--index-url, index-url or SHIPYARD_INDEX_URL).",
        )
    if isinstance(reason, ue.NameResolutionError):
        return NetworkError(
            f"Could not resolve host {host}.",
            url=shown,
            hint="Check the index URL and your network or DNS settings, or use --offline.",
        )
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: test it first.
    if isinstance(reason, ue.NewConnectionError | ConnectionError):
        return NetworkError(
            f"Could not connect to {host}.",
            url=shown,
            hint="Check that the index is reachable from this machine, or use --offline.",
        )
    if isinstance(reason, ue.ConnectTimeoutError | ue.ReadTimeoutError | TimeoutError):
        return NetworkError(
            f"Timed out after {timeout:g} s talking to {host}.",
            url=shown,
            hint="The server is slow or unreachable; retry, or raise SHIPYARD_HTTP_TIMEOUT.",
        )
    if isinstance(reason, ue.ProtocolError | ue.DecodeError):
        # ProtocolError("Connection aborted.", ConnectionResetError(...)) and the like.
        parts = [str(a).rstrip(".") for a in reason.args if not isinstance(a, OSError)]
        parts += [(a.strerror or str(a)).lower() for a in reason.args if isinstance(a, OSError)]
        kept: list[str] = []
        for part in parts:
            if part and not any(part in earlier for earlier in kept):
                kept.append(part)
        detail = ": ".join(kept) or type(reason).__name__
        return NetworkError(
            f"The connection to {host} broke during the transfer ({detail}).",
            url=shown,
            hint="Retry; if it keeps happening, a proxy or the server cuts transfers short.",
        )
    if isinstance(reason, ue.SSLError):
        return NetworkError(
            f"TLS verification failed for {host}: {reason}.",
            url=shown,
            hint="Set SSL_CERT_FILE to your organisation's CA bundle if it intercepts TLS.",
        )
    return NetworkError(f"Request to {host} failed: {reason}.", url=shown)


def status_error(url: str, status: int, *, retries: int) -> NetworkError:
    """The :class:`NetworkError` for a response to ``url`` with an unexpected ``status``.

    :param retries: how many times the client retried (named for 429 and 5xx).
    """
    shown = redact_url(url)
    if status in (401, 403):
        hint = (
            "The index needs credentials: put them in the URL "
            "(https://user:token@host/simple) or in ~/.netrc."
        )
        what = "Access denied" if status == 403 else "Authentication required"
        return NetworkError(f"{what} (HTTP {status}).", url=shown, status=status, hint=hint)
    if status == 404:
        return NetworkError(
            "Not found (HTTP 404).",
            url=shown,
            status=status,
            hint="Check the URL; the file may have been removed from the index.",
        )
    if status == 429:
        return NetworkError(
            f"The server is rate-limiting requests (HTTP 429) and still was after "
            f"{retries} retries.",
            url=shown,
            status=status,
            hint="Wait a few minutes, or use a mirror (--index-url) that allows more requests.",
        )
    if status >= 500:
        tried = f" after {retries} retries" if status in RETRY_STATUSES else ""
        return NetworkError(
            f"The server failed (HTTP {status}){tried}.",
            url=shown,
            status=status,
            hint="The index is having trouble; try again later.",
        )
    return NetworkError(f"Unexpected HTTP status {status}.", url=shown, status=status)
