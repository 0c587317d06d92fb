"""Parsing simple-API pages: PEP 503 HTML (as PyPI and its mirrors write it) and PEP 691 JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shipyard.index.pages import parse_html_page, parse_json_page, project_of_filename

PAGE_URL = "https://mirror.example/simple/demo/"


def test_html_page_with_pep_592_658_700_attributes() -> None:
    body = b"""<!DOCTYPE html><html><body>
    <a href="../../files/demo-1.0-py3-none-any.whl#sha256=AAAA" data-requires-python="&gt;=3.8"
       data-core-metadata="sha256=bbbb" data-upload-time="2024-05-01T10:00:00.5Z">demo-1.0-py3-none-any.whl</a>
    <a href='https://cdn.example/demo-1.0.tar.gz#sha256=cccc' data-yanked="">demo-1.0.tar.gz</a>
    <a href="https://cdn.example/demo-0.9.tar.gz" data-yanked="security &amp; data loss">demo-0.9.tar.gz</a>
    <a href="https://cdn.example/demo-0.1.win32.exe">old installer</a>
    <a href="https://cdn.example/demo-0.8-py3-none-any.whl" data-dist-info-metadata="true">x</a>
    </body></html>"""
    files = parse_html_page(body, PAGE_URL)
    names = [f.filename for f in files]
    assert names == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
        "demo-0.9.tar.gz",
        "demo-0.8-py3-none-any.whl",
    ]
    wheel, sdist, yanked, old = files
    assert wheel.url == "https://mirror.example/files/demo-1.0-py3-none-any.whl"
    assert wheel.sha256 == "aaaa"
    assert wheel.requires_python == ">=3.8"
    assert wheel.metadata == "bbbb"
    assert wheel.upload_time == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert sdist.yanked == "" and sdist.sha256 == "cccc"
    assert yanked.yanked == "security & data loss"
    assert old.metadata == ""
    assert wheel.yanked is None


def test_html_base_href_is_honoured() -> None:
    body = (
        b'<html><head><base href="https://files.example/pkgs/"></head>'
        b'<a href="demo-1.0.tar.gz">demo</a></html>'
    )
    (dist,) = parse_html_page(body, PAGE_URL)
    assert dist.url == "https://files.example/pkgs/demo-1.0.tar.gz"


def test_json_page() -> None:
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "demo",
            "files": [
                {
                    "filename": "demo-1.0-py3-none-any.whl",
                    "url": "../../files/demo-1.0-py3-none-any.whl",
                    "hashes": {"sha256": "ABC"},
                    "requires-python": ">=3.9",
                    "core-metadata": {"sha256": "def"},
                    "size": 1234,
                    "upload-time": "2024-01-02T03:04:05.000000Z",
                    "yanked": False,
                },
                {
                    "filename": "demo-0.5.zip",
                    "url": "https://x/demo-0.5.zip",
                    "hashes": {},
                    "yanked": "broken",
                },
                {"filename": "demo-0.4.egg", "url": "https://x/demo-0.4.egg", "hashes": {}},
            ],
        }
    ).encode()
    wheel, zipped = parse_json_page(body, PAGE_URL)
    assert wheel.url == "https://mirror.example/files/demo-1.0-py3-none-any.whl"
    assert wheel.hashes == (("sha256", "abc"),)
    assert wheel.size == 1234 and wheel.metadata == "def"
    assert wheel.upload_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert zipped.yanked == "broken"


def test_project_of_filename() -> None:
    assert (
        project_of_filename("Zope.Interface-5.0-cp311-cp311-manylinux_2_17_x86_64.whl")
        == "zope-interface"
    )
    assert project_of_filename("python-dateutil-2.9.0.tar.gz") == "python-dateutil"
    assert project_of_filename("readme.txt") is None
