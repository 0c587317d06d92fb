"""The table of CPython builds shipyard offers, and archive names it understands."""

from __future__ import annotations

import pytest

from shipyard.errors import InterpreterNotFoundError, UsageError
from shipyard.python.downloads import _archive_facts, available_downloads, find_download
from shipyard.python.requests import parse_python_request


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        (
            "cpython-3.12.1+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz",
            ("3.12.1", False, "x86_64-unknown-linux-gnu"),
        ),
        (
            "cpython-3.13.0+20241016-aarch64-apple-darwin-install_only_stripped.tar.gz",
            ("3.13.0", False, "aarch64-apple-darwin"),
        ),
        (
            "cpython-3.15.1+20261021-aarch64-apple-darwin-freethreaded-install_only.tar.gz",
            ("3.15.1", True, "aarch64-apple-darwin"),
        ),
        (
            "cpython-3.14.0rc1+20250723-x86_64-pc-windows-msvc-install_only.tar.gz",
            ("3.14.0rc1", False, "x86_64-pc-windows-msvc"),
        ),
    ],
)
def test_archive_names_parse(name: str, facts: tuple[str, bool, str]) -> None:
    assert _archive_facts(name) == facts


def test_other_archives_are_refused_by_name() -> None:
    with pytest.raises(UsageError):
        _archive_facts("cpython-3.13.1+20241205-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst")


def test_the_bundled_table_offers_every_supported_minor_newest_first() -> None:
    downloads = available_downloads(platform="linux", arch="x86_64")
    minors = {tuple(int(p) for p in d.version.split(".")[:2]) for d in downloads}
    assert {(3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14)} <= minors
    assert any(d.free_threaded for d in downloads)
    assert all("musl" not in d.filename and d.sha256 for d in downloads)
    assert [d.version_tuple for d in downloads] == sorted(
        (d.version_tuple for d in downloads), reverse=True
    )
    newest_312 = find_download(parse_python_request("3.12"), platform="linux", arch="x86_64")
    assert newest_312.version.startswith("3.12.") and not newest_312.free_threaded
    assert newest_312.version_tuple == max(
        d.version_tuple for d in downloads if d.version.startswith("3.12.")
    )
    threaded = find_download(parse_python_request("3.13t"), platform="linux", arch="x86_64")
    assert threaded.free_threaded and threaded.key.endswith("+freethreaded-linux-x86_64")
    mirrored = newest_312.mirrored("http://127.0.0.1:9/pbs/")
    assert mirrored.startswith("http://127.0.0.1:9/pbs/") and mirrored.endswith(
        newest_312.url.rsplit("/", 2)[-2] + "/" + newest_312.url.rsplit("/", 1)[-1]
    )


def test_no_build_fits_names_what_there_is() -> None:
    with pytest.raises(InterpreterNotFoundError) as raised:
        find_download(parse_python_request("3.2"), platform="linux", arch="x86_64")
    assert "3.12" in raised.value.message
    with pytest.raises(InterpreterNotFoundError):
        find_download(parse_python_request("pypy3.10"))
