"""Parse simple repository API pages: PEP 503 HTML and PEP 691 JSON, and archive names.

Honours PEP 592 (yanked), PEP 658/714 (core metadata files) and PEP 700 (size,
upload-time). Wheel variants (PEP 825 draft) are kept: a variant wheel's name has a
label after its platform tag, and the version's ``{name}-{version}-variants.json`` is
listed like a file. :mod:`shipyard.index.simple` fetches and caches the pages; the functions
here only read bytes and filenames.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import urllib.parse
from datetime import datetime
from functools import lru_cache

from packaging.utils import canonicalize_name

from shipyard.models import DistFile, Row, rows_to_files
from shipyard.models.versions import VARIANTS_JSON_SUFFIX

__all__ = [
    "ARCHIVE_SUFFIXES",
    "LISTED_SUFFIXES",
    "VARIANTS_JSON_SUFFIX",
    "parse_html_page",
    "parse_json_page",
    "parse_json_rows",
    "project_of_filename",
    "version_text",
]

#: The file names a page's links must end with to count (wheels and sdists).
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip")
#: What a page's links must end with to be kept: archives and variant metadata.
LISTED_SUFFIXES = (*ARCHIVE_SUFFIXES, VARIANTS_JSON_SUFFIX)


def version_text(name: str, filename: str) -> str | None:
    """The version text in a wheel or sdist filename (PEP 427 / sdist naming), or in a
    ``{name}-{version}-variants.json`` (PEP 825 draft), when the file belongs to canonical
    ``name``; ``None`` otherwise. A variant wheel has one part more (its label: 6 or 7
    parts). String splitting only: a page like pydantic-core's has 15,000 files but a
    few hundred versions."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6, 7) or _canonical(parts[0]) != name:
            return None
        return parts[1]
    for suffix in (".tar.gz", ".zip", VARIANTS_JSON_SUFFIX):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            break
    else:
        return None
    project, _, version = stem.rpartition("-")
    if not project or _canonical(project) != name:
        return None
    return version


@lru_cache(maxsize=4096)
def _canonical(text: str) -> str:
    return canonicalize_name(text)


def project_of_filename(filename: str) -> str | None:
    """The canonical project name a wheel, sdist or ``-variants.json`` filename belongs
    to, or ``None``.

    Wheel names are split at the first ``-`` (PEP 427 escapes dashes in names);
    sdist and variant metadata names at the last ``-`` (the version never contains one).
    """
    if filename.endswith(".whl"):
        return canonicalize_name(filename.split("-", 1)[0])
    for suffix in (".tar.gz", ".zip", VARIANTS_JSON_SUFFIX):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, _version = stem.rpartition("-")
            return canonicalize_name(name) if sep else None
    return None


def _split_hash_fragment(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    base, _, fragment = url.partition("#")
    if "=" in fragment:
        algorithm, _, digest = fragment.partition("=")
        if algorithm in hashlib.algorithms_guaranteed and digest:
            return base, ((algorithm, digest.lower()),)
    return base, ()


def _metadata_value(value: object) -> str | None:
    """Normalize a PEP 658/714 ``core-metadata`` value to ``None``/``""``/sha256."""
    if value is None or value is False:
        return None
    if isinstance(value, dict):
        digest = value.get("sha256")
        return str(digest).lower() if digest else ""
    if isinstance(value, str):
        if value.lower() == "true":
            return ""
        algorithm, _, digest = value.partition("=")
        return digest.lower() if algorithm == "sha256" and digest else ""
    return ""


def parse_json_rows(body: bytes, page_url: str) -> list[Row]:
    """Parse a PEP 691 JSON project page (with PEP 700's size and upload-time and PEP
    592's yanked) straight into the rows the page cache keeps.

    A cold lock parses a few hundred pages, some with 15,000 files: building rows from
    the decoded objects, with no :class:`DistFile` and no datetime in between, is what
    keeps parsing from holding the GIL the resolver waits on.

    :param page_url: the URL the page was fetched from; relative file URLs resolve against it.
    :returns: one row per archive file (wheels, ``.tar.gz`` and ``.zip`` sdists) and per
        ``-variants.json`` file (PEP 825 draft), in the page's order.
    :raises ValueError: when the body is not a PEP 691 page, or a file entry is malformed.
    """
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError("not a PEP 691 project page")
    rows: list[Row] = []
    append = rows.append
    absolute = ("https://", "http://")
    fromisoformat = datetime.fromisoformat
    for entry in data["files"]:
        if not isinstance(entry, dict):
            raise ValueError("a file entry is not an object")
        filename = entry.get("filename", "")
        href = entry.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            raise ValueError("a file entry has no filename or url string")
        if not filename.endswith(LISTED_SUFFIXES):
            continue
        if not href.startswith(absolute):
            href = urllib.parse.urljoin(page_url, href)
        if "#" in href:
            url, pairs = _split_hash_fragment(href)
        else:
            url, pairs = href, ()
        hashes = entry.get("hashes")
        if hashes:
            if not isinstance(hashes, dict):
                raise ValueError(f"the hashes of {filename} are not an object")
            if len(hashes) == 1:
                ((algorithm, digest),) = hashes.items()
                pairs = ((str(algorithm), str(digest).lower()),)
            else:
                pairs = tuple(sorted((str(k), str(v).lower()) for k, v in hashes.items()))
        upload_time = entry.get("upload-time")
        if upload_time:
            fromisoformat(upload_time)  # a malformed time is a malformed page
        else:
            upload_time = None
        yanked = entry.get("yanked", False)
        size = entry.get("size")
        metadata = entry.get("core-metadata")
        if metadata is None:
            metadata = entry.get("dist-info-metadata")
        append(
            (
                filename,
                url,
                pairs,
                size if isinstance(size, int) else None,
                upload_time,
                entry.get("requires-python") or None,
                (yanked if isinstance(yanked, str) else "") if yanked else None,
                None if metadata is None or metadata is False else _metadata_value(metadata),
            )
        )
    return rows


def parse_json_page(body: bytes, page_url: str) -> tuple[DistFile, ...]:
    """Parse a PEP 691 JSON project page into files (see :func:`parse_json_rows`).

    :param page_url: the URL the page was fetched from; relative file URLs resolve against it.
    :returns: the archive files (wheels, ``.tar.gz`` and ``.zip`` sdists).
    :raises ValueError: when the body is not a PEP 691 page.
    """
    return rows_to_files(parse_json_rows(body, page_url))


_ANCHOR = re.compile(r"<a\s([^>]*)>", re.IGNORECASE)
_BASE = re.compile(r"<base\s[^>]*href\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)


def _attributes(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        key = match.group(1).lower()
        if key in attrs:
            continue
        value = match.group(2)
        if value is None:
            value = match.group(3)
        if value is None:
            value = match.group(4)
        attrs[key] = (html.unescape(value) if "&" in value else value) if value else ""
    return attrs


def parse_html_page(body: bytes, page_url: str) -> tuple[DistFile, ...]:
    """Parse a PEP 503 HTML page (an index project page or a find-links page).

    Honours ``<base href>``, ``#sha256=`` fragments, ``data-requires-python``
    (HTML-unescaped), ``data-yanked``, ``data-core-metadata`` /
    ``data-dist-info-metadata`` (PEP 658/714) and ``data-upload-time`` (as some
    mirrors add). Keeps archives and ``-variants.json`` files (PEP 825 draft). A
    regular-expression scan, several times faster than
    ``html.parser`` on the megabyte pages of large projects.
    """
    text = body.decode("utf-8", errors="replace")
    base_match = _BASE.search(text)
    base = page_url
    if base_match:
        base = urllib.parse.urljoin(
            page_url, html.unescape(base_match.group(1) or base_match.group(2))
        )
    files: list[DistFile] = []
    join = urllib.parse.urljoin
    times: dict[str, datetime | None] = {}
    for anchor in _ANCHOR.finditer(text):
        inner = anchor.group(1)
        if inner.startswith('href="') and inner.find('"', 6) == len(inner) - 1:
            # The common shape (PyPI, its mirrors, devpi): a lone double-quoted href.
            href = inner[6:-1]
            attrs: dict[str, str] = {}
            if "&" in href:
                href = html.unescape(href)
        else:
            attrs = _attributes(inner)
            href = attrs.get("href", "")
        if not href:
            continue
        if base_match or not href.startswith(("https://", "http://")):
            href = join(base, href)
        url, hashes = _split_hash_fragment(href)
        filename = url[url.rfind("/") + 1 :]
        if "%" in filename:
            filename = urllib.parse.unquote(filename)
        if not filename.endswith(LISTED_SUFFIXES):
            continue
        if not attrs:
            files.append(DistFile(filename=filename, url=url, hashes=hashes))
            continue
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        upload_time = attrs.get("data-upload-time")
        uploaded = None
        if upload_time:
            if upload_time in times:
                uploaded = times[upload_time]
            else:
                try:
                    uploaded = datetime.fromisoformat(upload_time)
                except ValueError:
                    uploaded = None
                times[upload_time] = uploaded
        files.append(
            DistFile(
                filename=filename,
                url=url,
                hashes=hashes,
                upload_time=uploaded,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=attrs.get("data-yanked"),
                metadata=_metadata_value(metadata) if metadata is not None else None,
            )
        )
    return tuple(files)
