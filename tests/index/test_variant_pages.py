"""Wheel variants (PEP 825 draft) on index pages: variant wheels and the version's
``-variants.json`` are kept, the JSON file stands beside the version's files (never
among them), and the repository fetches, checks and caches it — against real served
indexes in both dialects and a find-links directory."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.version import Version

from shipyard.cache import Cache
from shipyard.index.http import HttpClient
from shipyard.index.pages import parse_html_page, parse_json_page, version_text
from shipyard.index.repository import IndexRepository
from shipyard.index.simple import group_rows
from shipyard.index.variant_files import variant_label
from shipyard.models import ProjectVersion
from shipyard.specs.variants import VariantMetadataError
from support import IndexServer, pkg
from support.variant_wheels import Variant, publish_variants

VARIANTS = [
    Variant("cu126", ["nvidia :: cuda_version_lower_bound :: 12.6"]),
    Variant("null"),
]
PLAIN = "gpu_kernels-1.0-py3-none-any.whl"
CU126 = "gpu_kernels-1.0-py3-none-any-cu126.whl"
NULL = "gpu_kernels-1.0-py3-none-any-null.whl"
JSON_NAME = "gpu_kernels-1.0-variants.json"


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _repository(
    index: IndexServer, pool: ThreadPoolExecutor, cache: Cache | None = None
) -> IndexRepository:
    return IndexRepository(
        client=HttpClient(), cache=cache, executor=pool, index_urls=[index.index_url]
    )


@pytest.mark.parametrize(
    ("filename", "version", "label"),
    [
        ("gpu_kernels-1.0-py3-none-any-cu126.whl", "1.0", "cu126"),
        ("gpu_kernels-1.0-2-py3-none-any-cu126.whl", "1.0", "cu126"),  # a build tag too
        ("gpu_kernels-1.0-2-py3-none-any.whl", "1.0", None),  # a build tag alone
        ("gpu_kernels-1.0-py3-none-any.whl", "1.0", None),
        ("gpu_kernels-1.0-variants.json", "1.0", None),
    ],
)
def test_filenames_give_their_version_and_label(
    filename: str, version: str, label: str | None
) -> None:
    assert version_text("gpu-kernels", filename) == version
    assert version_text("other", filename) is None
    assert variant_label(filename) == label


def test_both_page_dialects_keep_variant_wheels_and_the_variants_json() -> None:
    html = (
        b'<a href="../../files/gpu_kernels-1.0-py3-none-any-cu126.whl#sha256=aa">w</a>'
        b'<a href="../../files/gpu_kernels-1.0-variants.json#sha256=bb">j</a>'
        b'<a href="../../files/notes.json">n</a>'
    )
    files = parse_html_page(html, "https://example.org/simple/gpu-kernels/")
    assert [(f.filename, f.hashes) for f in files] == [
        (CU126, (("sha256", "aa"),)),
        (JSON_NAME, (("sha256", "bb"),)),
    ]
    page = {
        "meta": {"api-version": "1.1"},
        "name": "gpu-kernels",
        "files": [
            {"filename": JSON_NAME, "url": "j.json", "hashes": {"sha256": "bb"}},
            {"filename": "notes.json", "url": "n.json", "hashes": {}},
        ],
    }
    parsed = parse_json_page(json.dumps(page).encode(), "https://example.org/simple/gpu-kernels/")
    assert [f.filename for f in parsed] == [JSON_NAME]


def test_the_json_joins_its_version_but_not_its_flags() -> None:
    def row(filename: str, yanked: str | None = None, python: str | None = None) -> tuple:  # type: ignore[type-arg]
        return (filename, f"https://x/{filename}", (), None, None, python, yanked, None)

    groups = group_rows(
        "gpu-kernels",
        [
            row(JSON_NAME),
            row(CU126, yanked="broken", python=">=3.10"),
            row(PLAIN, yanked="broken", python=">=3.10"),
            row("gpu_kernels-2.0-variants.json"),  # a version with nothing else: dropped
        ],
    )
    assert [(g[0], g[1], g[2]) for g in groups] == [("1.0", True, (">=3.10",))]
    version = ProjectVersion(Version("1.0"), group=groups[0])
    assert [f.filename for f in version.files] == [CU126, PLAIN]
    assert version.variants_json is not None and version.variants_json.filename == JSON_NAME


@pytest.mark.parametrize("dialect", ["json", "html"])
def test_the_repository_fetches_checks_and_caches_the_metadata(
    make_index, pool: ThreadPoolExecutor, tmp_path: Path, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    index: IndexServer = make_index([pkg("plain-only", "1.0")], dialect=dialect)
    publish_variants(index.root, "gpu-kernels", "1.0", VARIANTS, namespaces=["nvidia"])
    cache = Cache(tmp_path / "cache")
    (version,) = _repository(index, pool, cache).versions("gpu-kernels")
    assert sorted(f.filename for f in version.files) == [CU126, NULL, PLAIN]
    assert version.variants_json is not None
    assert version.variants_json.filename == JSON_NAME and version.variants_json.sha256
    repository = _repository(index, pool, cache)
    # the plain wheel's metadata stands for the version, whatever the page's order
    assert repository.metadata_file(repository.versions("gpu-kernels")[0]).filename == PLAIN
    metadata = repository.variant_metadata(repository.versions("gpu-kernels")[0])
    assert metadata is not None and set(metadata.variants) == {"cu126", "null"}
    assert repository.variant_metadata(repository.versions("plain-only")[0]) is None
    # a second lock reads it from the cache, by the sha256 the page lists
    index.clear_requests()
    again = _repository(index, pool, cache)
    assert again.variant_metadata(again.versions("gpu-kernels")[0]) == metadata
    assert index.requests_for("/files/") == []


def test_metadata_that_changed_since_the_page_was_read_is_refused(
    make_index, pool: ThreadPoolExecutor
) -> None:  # type: ignore[no-untyped-def]
    index: IndexServer = make_index([])
    publish_variants(index.root, "gpu-kernels", "1.0", VARIANTS, namespaces=["nvidia"])
    repository = _repository(index, pool)
    (version,) = repository.versions("gpu-kernels")
    (index.root / JSON_NAME).write_text('{"tampered": true}')
    with pytest.raises(VariantMetadataError, match="does not match the sha256"):
        repository.variant_metadata(version)


def test_a_find_links_directory_lists_the_variants_json_too(
    make_index, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    index: IndexServer = make_index([])
    publish_variants(index.root, "gpu-kernels", "1.0", VARIANTS, namespaces=["nvidia"])
    folder = tmp_path / "wheels"
    shutil.copytree(index.root, folder)
    repository = IndexRepository(
        client=HttpClient(), cache=None, executor=pool, index_urls=[], find_links=[str(folder)]
    )
    (version,) = repository.versions("gpu-kernels")
    assert sorted(f.filename for f in version.files) == [CU126, NULL, PLAIN]
    metadata = repository.variant_metadata(version)
    assert metadata is not None and set(metadata.variants) == {"cu126", "null"}
