"""Index pages are cached with their validators; failures are retried, then explained."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.cache import Cache
from shipyard.errors import NetworkError
from shipyard.index.credentials import public_url
from shipyard.index.http import HttpClient
from shipyard.index.repository import IndexRepository
from shipyard.index.simple import SimpleIndex
from support import build_package, pkg


def test_fresh_page_needs_no_request(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")], max_age=600)
    simple = SimpleIndex(index.index_url, HttpClient(), Cache(tmp_path / "cache"))
    assert simple.get_page("alpha") is not None
    index.clear_requests()
    page = SimpleIndex(index.index_url, HttpClient(), Cache(tmp_path / "cache")).get_page("alpha")
    assert page is not None and [f.filename for f in page.files] == ["alpha-1.0-py3-none-any.whl"]
    assert index.requests == []


def test_stale_page_is_revalidated_with_etag(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")], max_age=0)
    cache = Cache(tmp_path / "cache")
    SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha")
    index.clear_requests()
    page = SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha")
    assert page is not None
    (request,) = index.requests_for("/simple/alpha/")
    assert request.header("If-None-Match")


def test_upgrade_refresh_revalidates_fresh_pages(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")], max_age=600)
    cache = Cache(tmp_path / "cache")
    SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha")
    index.clear_requests()
    SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha", refresh=True)
    assert len(index.requests_for("/simple/alpha/")) == 1


def test_server_errors_are_retried(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")])
    index.fail["/simple/alpha/"] = 503
    index.fail_times["/simple/alpha/"] = 2
    page = SimpleIndex(index.index_url, HttpClient(retries=3), None).get_page("alpha")
    assert page is not None
    assert len(index.requests_for("/simple/alpha/")) == 3


@pytest.mark.parametrize(
    ("status", "fragment"), [(401, "credentials"), (403, "credentials"), (500, "HTTP 500")]
)
def test_http_errors_explain(make_index, status: int, fragment: str) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")])
    index.fail["/simple/alpha/"] = status
    with pytest.raises(NetworkError) as info:
        SimpleIndex(index.index_url, HttpClient(retries=1), None).get_page("alpha")
    assert fragment in str(info.value)
    assert "/simple/alpha/" in str(info.value)


def test_unknown_project_is_none(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("alpha", "1.0")])
    assert SimpleIndex(index.index_url, HttpClient(), None).get_page("nope") is None


def test_first_index_with_the_project_wins(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    extra = make_index([pkg("alpha", "1.0")])
    main = make_index([pkg("alpha", "9.0"), pkg("beta", "2.0")])
    with ThreadPoolExecutor(4) as pool:
        repo = IndexRepository(
            client=HttpClient(),
            cache=None,
            executor=pool,
            index_urls=[extra.index_url, main.index_url],
        )
        assert [str(v.version) for v in repo.versions("alpha")] == ["1.0"]
        assert [str(v.version) for v in repo.versions("beta")] == ["2.0"]


def test_find_links_directory_merges_with_the_index(make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from support import build_package

    index = make_index([pkg("alpha", "1.0")])
    local = tmp_path / "wheels"
    local.mkdir()
    build_package(local, pkg("alpha", "1.5"))
    with ThreadPoolExecutor(4) as pool:
        repo = IndexRepository(
            client=HttpClient(),
            cache=None,
            executor=pool,
            index_urls=[index.index_url],
            find_links=[str(local)],
        )
        versions = repo.versions("alpha")
        assert [str(v.version) for v in versions] == ["1.5", "1.0"]
        digested = repo.file_digest(versions[0].files[0])
        assert digested.sha256 and digested.size


def test_unchanged_page_without_validators_is_not_parsed_again(  # type: ignore[no-untyped-def]
    make_index, tmp_path: Path
) -> None:
    """A mirror that sends no ETag, Last-Modified or Cache-Control is downloaded on
    every run; the cache recognises an unchanged body by its sha256 and reuses what it
    parsed before. A changed body is parsed again."""
    from shipyard.index.simple import _files_to_rows, _load_entry, _store_entry, group_rows

    index = make_index([pkg("alpha", "1.0")], validators=False, dialect="html")
    cache = Cache(tmp_path / "cache")
    simple = SimpleIndex(index.index_url, HttpClient(), cache)
    first = simple.get_page("alpha")
    assert first is not None
    assert [f.filename for f in first.files] == ["alpha-1.0-py3-none-any.whl"]
    path = simple._cache_path("alpha")
    entry = _load_entry(path)
    assert entry is not None and entry.body_sha256 and entry.max_age == 0.0
    # Mark the cached parse: if the unchanged body were parsed again, the mark would go.
    marked = replace(first.files[0], requires_python=">=3.99")
    entry.groups = group_rows("alpha", _files_to_rows((marked,)))
    _store_entry(path, entry)

    index.clear_requests()
    again = SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha")
    assert len(index.requests_for("/simple/alpha/")) == 1  # downloaded: nothing says fresh
    assert again is not None and again.files == (marked,)

    build_package(index.root, pkg("alpha", "2.0"))
    changed = SimpleIndex(index.index_url, HttpClient(), cache).get_page("alpha")
    assert changed is not None
    assert sorted(f.filename for f in changed.files) == [
        "alpha-1.0-py3-none-any.whl",
        "alpha-2.0-py3-none-any.whl",
    ]
    assert all(f.requires_python is None for f in changed.files)


def test_versions_from_the_page_cache_equal_a_fresh_parse(  # type: ignore[no-untyped-def]
    make_index, tmp_path: Path
) -> None:
    """A cached page is kept as rows and its files are built lazily per version; what
    the resolver sees must not differ from a freshly parsed page (yanks, sdists,
    requires-python, upload times, order)."""
    index = make_index(
        [
            pkg("alpha", "1.0", sdist=True),
            pkg("alpha", "2.0", sdist=True, requires_python=">=3.8"),
            pkg("alpha", "3.0"),
        ],
        yanked={"alpha-3.0-py3-none-any.whl": "broken"},
        dialect="html",
    )
    cache = Cache(tmp_path / "cache")

    def versions() -> list[tuple[str, bool, tuple[object, ...]]]:
        with ThreadPoolExecutor(2) as pool:
            repo = IndexRepository(
                client=HttpClient(), cache=cache, executor=pool, index_urls=[index.index_url]
            )
            return [(str(v.version), v.yanked, v.files) for v in repo.versions("alpha")]

    fresh = versions()
    index.clear_requests()
    cached = versions()
    assert index.requests_for("/simple/alpha/") == []  # served from the cache
    assert cached == fresh
    assert [(v, y) for v, y, _ in fresh] == [("3.0", True), ("2.0", False), ("1.0", False)]
    assert [f.filename for f in fresh[2][2]] == ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]


def test_a_malformed_index_url_is_one_clear_error_without_the_password() -> None:
    client = HttpClient(retries=3)
    with pytest.raises(NetworkError) as caught:
        client.request("http://user:s3cret@127.0.0.1:99999/simple/x/")
    text = str(caught.value)
    assert "not valid" in text and "user:****@127.0.0.1:99999" in text
    assert "s3cret" not in text
    assert (
        public_url("http://user:s3cret@127.0.0.1:99999/simple") == "http://127.0.0.1:99999/simple"
    )
