"""One name lookup per host for the whole process, shared by every connection.

shipyard opens up to 16 connections to each index and file host at once, and urllib3
looks the host up for each of them. Some resolvers (rate-limited corporate or cloud
DNS, conntrack tables that drop one of glibc's parallel A/AAAA replies) answer a burst
of identical queries with a lost reply, which glibc waits 5 seconds to retry: a 0.7 s
lock took 5.7 s. Tools that multiplex HTTP/2 make one lookup per host and never see
it. Here the first connection to a host looks it up and the others wait for that
answer (single flight); the addresses are kept for :data:`TTL` seconds.

Nothing here changes *which* addresses are used: the same ``getaddrinfo`` call, with
urllib3's address family choice, tried in the order the system returns them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib3

__all__ = ["TTL", "HostResolver", "cached_pool_classes"]

#: Seconds a looked-up address list is reused.
TTL = 300.0


class HostResolver:
    """A thread-safe, single-flight cache of ``getaddrinfo`` answers.

    :param ttl: seconds an answer is reused.
    """

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int, int], tuple[float, list[str]]] = {}
        self._pending: dict[tuple[str, int, int], threading.Event] = {}

    def addresses(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list[str]:
        """The IP addresses of ``host`` (in the system's order), looked up at most once
        per :attr:`ttl` however many threads ask at the same time.

        :param family: ``socket.AF_INET``, ``AF_INET6`` or ``AF_UNSPEC``.
        :returns: address strings; ``[host]`` when ``host`` is already an address.
        :raises socket.gaierror: when the lookup fails (not cached: the next caller
            tries again).
        """
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]
        key = (host.lower(), port, family)
        while True:
            with self._lock:
                found = self._answers.get(key)
                if found is not None and time.monotonic() - found[0] < self.ttl:
                    return found[1]
                waiting = self._pending.get(key)
                if waiting is None:
                    done = self._pending[key] = threading.Event()
                    break
            waiting.wait()
        try:
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            answer = list(dict.fromkeys(str(info[4][0]) for info in infos))
            with self._lock:
                self._answers[key] = (time.monotonic(), answer)
            return answer
        finally:
            with self._lock:
                del self._pending[key]
            done.set()


def cached_pool_classes(resolver: HostResolver) -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 pool classes (for ``PoolManager.pool_classes_by_scheme``) whose
    connections look their host up through ``resolver``.

    Each connection tries the addresses in turn, as urllib3 itself does; TLS still
    verifies and sends SNI for the host name.
    """
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util.connection import allowed_gai_family

    def new_conn(connection: Any, connect: Any) -> socket.socket:
        host = connection._dns_host
        try:
            addresses = resolver.addresses(host, connection.port, allowed_gai_family())
        except socket.gaierror as exc:
            raise NameResolutionError(connection.host, connection, exc) from exc
        if not addresses:
            return connect()  # type: ignore[no-any-return]
        failure: Exception | None = None
        for address in addresses:
            connection._dns_host = address
            try:
                sock: socket.socket = connect()
                return sock
            except (NewConnectionError, ConnectTimeoutError) as exc:
                failure = exc
            finally:
                connection._dns_host = host
        raise failure  # type: ignore[misc]

    class _Connection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, super()._new_conn)

    class _SecureConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, super()._new_conn)

    class _Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = _Connection

    class _SecurePool(urllib3.HTTPSConnectionPool):
        ConnectionCls = _SecureConnection

    return {"http": _Pool, "https": _SecurePool}
