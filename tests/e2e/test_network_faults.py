"""A hostile network: the test index resets connections, stalls, cuts bodies short, lies
about ``Content-Length``, rate-limits, fails with 5xx, drips bytes and flips them.

Transient faults on every kind of request (project page, PEP 658 metadata, wheel) must
be absorbed by retries; a fault that never stops must end the command with exit 1, a
message naming the URL and the reason, a bounded number of attempts, nothing of the
package installed and nothing of the bad body cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from support import IndexServer, pkg
from support.index_server import Fault

from .test_local_index import installed, new_project, shipyard, site_packages

PACKAGES = [
    pkg("alpha", "1.0", ["beta"], files={"alpha/data.py": "X = 1\n" * 400}),
    pkg("beta", "2.0", files={"beta/data.py": "Y = 2\n" * 400}),
]
ALPHA_WHEEL = "/files/alpha-1.0-py3-none-any.whl"
BETA_WHEEL = "/files/beta-2.0-py3-none-any.whl"
#: Every fault the test index can inflict.
TRANSIENT = list(get_args(Fault))
#: Client settings for every run here: a stall is noticed after 1 s; 3 retries.
FAST = {"SHIPYARD_HTTP_TIMEOUT": "1", "SHIPYARD_HTTP_RETRIES": "3"}


def _requests_to(index: IndexServer, path: str) -> int:
    return sum(1 for r in index.requests if r.path == path)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_faults_are_retried(tmp_path: Path, make_index, fault: str) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["alpha"])
    # Resolution: the project page and a metadata file misbehave once each.
    index.faults = {"/simple/alpha/": [fault], f"{BETA_WHEEL}.metadata": [fault]}
    shipyard(project, "lock", **FAST)
    assert [f for _p, f in index.injected] == [fault, fault]
    # Installation: one wheel misbehaves twice in a row, the other once.
    index.faults = {ALPHA_WHEEL: [fault, fault], BETA_WHEEL: [fault]}
    shipyard(project, "sync", "--frozen", **FAST)
    # A drip is slow but whole: the first attempt succeeds and the second fault stays unused.
    assert len(index.injected) == (4 if fault == "drip" else 5)
    assert installed(project) == {"alpha": "1.0", "beta": "2.0"}
    assert (site_packages(project) / "alpha" / "data.py").read_text() == "X = 1\n" * 400


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("reset", "broke during the transfer"),
        ("stall", "Timed out after 1 s"),
        ("truncate", "broke during the transfer"),
        ("long-length", "broke during the transfer"),
        ("503", "HTTP 503"),
        ("429", "HTTP 429"),
        ("corrupt", "sha256"),
    ],
)
def test_a_fault_that_persists_fails_cleanly(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, isolated_env: Path, fault: str, reason: str
) -> None:
    index = make_index(PACKAGES, retry_after="0")
    project = new_project(tmp_path, index, ["alpha"])
    shipyard(project, "lock")
    index.faults = {ALPHA_WHEEL: [fault, "*"]}
    result = shipyard(project, "sync", "--frozen", check=False, **FAST)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert reason in result.stderr
    assert f"{index.url}{ALPHA_WHEEL}" in result.stderr
    # Bounded: the first attempt and three retries, no more.
    assert _requests_to(index, ALPHA_WHEEL) == 4
    # Nothing of alpha is installed or cached; no partial download is left behind.
    assert "alpha" not in installed(project)
    cache = isolated_env
    assert not [p for p in cache.rglob("*") if p.is_file() and "alpha-1.0" in p.name]
    assert not list(cache.rglob("*.part"))
    # The index recovers: the next sync needs nothing but that one wheel.
    index.faults = {}
    shipyard(project, "sync", "--frozen", **FAST)
    assert installed(project)["alpha"] == "1.0"


def test_retry_after_is_honoured(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES, retry_after="1")
    project = new_project(tmp_path, index, ["alpha"])
    shipyard(project, "lock")
    index.faults = {ALPHA_WHEEL: ["429"]}
    shipyard(project, "sync", "--frozen", **FAST)
    arrivals = [r.at for r in index.requests if r.path == ALPHA_WHEEL]
    assert len(arrivals) == 2
    # The client waited the second the server asked for, not its own 0.25 s backoff.
    assert arrivals[1] - arrivals[0] >= 0.95


def test_a_retry_after_beyond_the_limit_fails_at_once(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES, retry_after="3600")
    project = new_project(tmp_path, index, ["alpha"])
    index.faults = {"/simple/alpha/": ["429", "*"]}
    result = shipyard(project, "lock", check=False, **FAST)
    assert result.returncode == 1
    assert "come back in 3600 s" in result.stderr and "Traceback" not in result.stderr
    assert _requests_to(index, "/simple/alpha/") == 1
    assert not (project / "pylock.toml").exists()


def test_a_garbled_page_is_fetched_again_and_never_cached(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, isolated_env: Path
) -> None:
    index = make_index(PACKAGES, dialect="json")
    project = new_project(tmp_path, index, ["alpha"])
    index.faults = {"/simple/alpha/": ["short-length", "*"]}
    result = shipyard(project, "lock", check=False, **FAST)
    assert result.returncode == 1
    assert "not a valid simple API page" in result.stderr
    assert f"{index.url}/simple/alpha/" in result.stderr
    assert _requests_to(index, "/simple/alpha/") == 2  # fetched whole once more, then refused
    assert not list((isolated_env).rglob("alpha.marshal"))
    index.faults = {}
    shipyard(project, "lock", **FAST)
    assert list((isolated_env).rglob("alpha.marshal"))


def test_offline_names_what_the_cache_lacks(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["alpha"])
    shipyard(project, "lock")
    result = shipyard(project, "--offline", "sync", "--frozen", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--offline" in result.stderr
    assert "/files/alpha-1.0-py3-none-any.whl" in result.stderr or BETA_WHEEL in result.stderr
    assert _requests_to(index, ALPHA_WHEEL) == _requests_to(index, BETA_WHEEL) == 0
    # With the network once, then offline from the cache alone into a new environment.
    shipyard(project, "sync", "--frozen")
    index.stop()
    other = tmp_path / "copy"
    other.mkdir()
    for name in ("pyproject.toml", "pylock.toml"):
        (other / name).write_bytes((project / name).read_bytes())
    shipyard(other, "--offline", "sync", "--frozen")
    assert installed(other) == {"alpha": "1.0", "beta": "2.0"}
