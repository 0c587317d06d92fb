"""Concurrent requests to one host look it up once (shipyard.index.dns)."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shipyard.index.dns import HostResolver
from shipyard.index.http import HttpClient
from support import pkg


def test_concurrent_requests_to_a_named_host_make_one_lookup(
    make_index, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg(f"p{n}", "1.0") for n in range(24)])
    lookups: list[str] = []
    lock = threading.Lock()
    system = socket.getaddrinfo
    release = threading.Event()

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":
            with lock:
                lookups.append(host)
            release.wait(5)  # every connection is waiting for an address by now
        return system(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    monkeypatch.setattr("shipyard.index.http.HOST_RESOLVER", HostResolver())
    client = HttpClient(max_connections=16)
    base = index.index_url.replace("127.0.0.1", "localhost")

    def fetch(n: int) -> int:
        return client.request(f"{base}/p{n}/").status

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(fetch, n) for n in range(24)]
        release.set()
        statuses = [future.result() for future in futures]
    assert statuses == [200] * 24
    assert lookups == ["localhost"]
    # the server saw every request: caching the address did not skip any
    assert all(index.requests_for(f"/simple/p{n}/") for n in range(24))


def test_an_address_that_refuses_is_skipped_for_the_next(
    make_index, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A host with several addresses (``localhost``: ::1 then 127.0.0.1) whose first
    refuses connections is still reached on the next, as urllib3 alone would."""
    index = make_index([pkg("alpha", "1.0")])
    system = socket.getaddrinfo

    def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "index.test":
            # nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only)
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            ]
        return system(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    monkeypatch.setattr("shipyard.index.http.HOST_RESOLVER", HostResolver())
    url = index.index_url.replace("127.0.0.1", "index.test")
    assert HttpClient(retries=0).request(f"{url}/alpha/").status == 200


def test_a_failed_lookup_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(host: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    resolver = HostResolver()
    for _ in range(2):
        with pytest.raises(socket.gaierror):
            resolver.addresses("index.invalid", 443)
    assert calls == ["index.invalid", "index.invalid"]
