"""Credentials for index requests: in URLs, per host, and in ``~/.netrc``.

A URL may carry ``user:password@``; :func:`host_credentials` extends those (and
``SHIPYARD_INDEX_USERNAME``/``_PASSWORD``) to every URL on the same host, and
:class:`NetrcCredentials` reads ``~/.netrc`` (or ``$NETRC``) once. Credentials never
appear in messages (:func:`redact_url`) nor in files meant for others
(:func:`public_url`).
"""

from __future__ import annotations

import netrc
import os
import threading
import urllib.parse
from collections.abc import Sequence

__all__ = [
    "KeyringCredentials",
    "NetrcCredentials",
    "host_credentials",
    "host_key",
    "host_part",
    "public_url",
    "redact_url",
]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``****`` (for messages and logs)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:****@{host_part(parts.netloc)}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def host_key(url: str) -> str:
    """``host`` or ``host:port`` of ``url`` (lowercase, no credentials): the key of
    :class:`~shipyard.index.http.HttpClient`'s ``credentials``; ``""`` for a URL without
    a host."""
    return host_part(urllib.parse.urlsplit(url).netloc).lower()


def host_part(netloc: str) -> str:
    """``netloc`` without ``user:password@`` — as written, so a malformed port stays for
    the request to report instead of failing here."""
    return netloc.rpartition("@")[2]


def host_credentials(
    urls: list[str],
    *,
    index_url: str,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, tuple[str, str]]:
    """Credentials per host, for :class:`~shipyard.index.http.HttpClient`'s ``credentials``.

    Files on an index host carry no credentials of their own (relative links, and the
    lock keeps only public URLs), so — as pip does — the user name and password of an
    index URL apply to every URL on its ``host[:port]``.

    :param urls: the configured index and find-links URLs; those with ``user:password@``
        contribute their host.
    :param index_url: the main index; ``username``/``password``
        (``SHIPYARD_INDEX_USERNAME``/``_PASSWORD``) apply to its host and win.
    :returns: ``host[:port]`` -> (user name, password), unquoted.
    """
    found: dict[str, tuple[str, str]] = {}
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        key = host_key(url)
        if key and parts.username is not None and key not in found:
            found[key] = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
    if username is not None or password is not None:
        key = host_key(index_url)
        if key:
            found[key] = (username or "", password or "")
    return found


def public_url(url: str) -> str:
    """``url`` without its user name and password, for files other people read (exports):
    pip and uv find the credentials again in ``~/.netrc`` or a keyring."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=host_part(parts.netloc)))


class NetrcCredentials:
    """The logins in ``~/.netrc`` (or the file ``$NETRC`` names), read on first use."""

    def __init__(self) -> None:
        self._netrc: netrc.netrc | bool | None = False

    def lookup(self, host: str) -> tuple[str, str] | None:
        """``(login, password)`` for ``host``, or ``None`` when the file has no entry for
        it, or is missing or unreadable."""
        if self._netrc is False:
            path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
            try:
                self._netrc = netrc.netrc(path) if os.path.isfile(path) else None
            except (OSError, netrc.NetrcParseError):
                self._netrc = None
        if not isinstance(self._netrc, netrc.netrc):
            return None
        entry = self._netrc.authenticators(host)
        if not entry:
            return None
        login, _account, password = entry
        return login, password or ""


#: Hosts whose credentials are never looked up in a keyring (public PyPI).
_PUBLIC_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})


class KeyringCredentials:
    """Credentials from the ``keyring`` library, for the hosts of the configured indexes.

    Asked only for those hosts (never for public PyPI), after one of them answered 401,
    once per host, and only when ``keyring`` is installed; a backend that fails or has
    nothing gives ``None``. As pip does, the index URL is the keyring's service name,
    then its host.

    :param urls: the configured index URLs (credentials, if any, are ignored).
    """

    def __init__(self, urls: Sequence[str] = ()) -> None:
        self._services: dict[str, list[str]] = {}
        for url in urls:
            parts = urllib.parse.urlsplit(url)
            key = host_key(url)
            if not key or parts.hostname in _PUBLIC_HOSTS:
                continue
            service = public_url(url).rstrip("/")
            self._services.setdefault(key, []).extend([service, parts.hostname or key])
        self._found: dict[str, tuple[str, str] | None] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str) -> tuple[str, str] | None:
        """``(user name, password)`` for ``host[:port]`` ``key``, or ``None``."""
        services = self._services.get(key)
        if not services:
            return None
        with self._lock:
            if key not in self._found:
                self._found[key] = self._ask(services)
            return self._found[key]

    @staticmethod
    def _ask(services: list[str]) -> tuple[str, str] | None:
        try:
            import keyring
        except ImportError:
            return None
        for service in services:
            try:
                credential = keyring.get_credential(service, None)
            except Exception:  # a locked or broken backend is not an error here
                return None
            if credential is not None and credential.password:
                return credential.username or "", credential.password
        return None
