"""The upload API that PyPI and other package indexes speak ("legacy" upload API).

One ``multipart/form-data`` ``POST`` per file to the upload URL
(``https://upload.pypi.org/legacy/`` for PyPI, the server root for pypiserver) with:

- ``:action`` = ``file_upload`` and ``protocol_version`` = ``1``;
- ``content``: the file, under its own name;
- ``filetype`` (``sdist`` or ``bdist_wheel``) and ``pyversion`` (``source`` for an
  sdist, the wheel's Python tag otherwise);
- ``sha256_digest`` (hex; indexes check the bytes against it);
- the core metadata of the file, each field named as ``packaging.metadata``'s raw
  names (``metadata_version``, ``name``, ``version``, ``summary``, ``description``,
  ``description_content_type``, ``requires_dist`` …; ``platform`` and
  ``supported_platform`` in the singular), list fields repeated, ``keywords`` joined
  with commas and ``project_urls`` as ``"label, url"``.

The index answers ``200`` when it stored the file. A file it already has comes back as
``409 Conflict`` (pypiserver, most others) or ``400`` with "File already exists"
(PyPI); both are :data:`EXISTS`, not failures. ``401``/``403`` refuse the credentials.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from packaging.metadata import parse_email

from shipyard.errors import PublishError
from shipyard.index.credentials import redact_url
from shipyard.index.http import HttpClient
from shipyard.index.upload_credentials import UploadCredentials
from shipyard.index.upload_files import UploadFile

__all__ = ["EXISTS", "UPLOADED", "UploadResult", "upload_fields", "upload_file"]

UploadResult = Literal["uploaded", "exists"]
UPLOADED: UploadResult = "uploaded"
EXISTS: UploadResult = "exists"

#: What indexes say when a file of that name is already there (PyPI, pypiserver,
#: devpi, Nexus, Artifactory, GitLab), in lowercase.
_EXISTS_PHRASES = (
    "already exist",
    "already been taken",
    "overwrite artifact",
    "does not allow updating",
    "cannot be updated",
    "file name has already been used",
)
#: Form names that differ from packaging's raw metadata keys.
_FORM_NAMES = {"platforms": "platform", "supported_platforms": "supported_platform"}
#: Statuses the response is read for (the rest are the HTTP client's errors).
_READ_STATUSES = frozenset({200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410, 413, 422})


def upload_fields(dist: UploadFile) -> list[tuple[str, Any]]:
    """The form fields of one upload, in order, as ``urllib3``'s ``fields`` take them
    (``(name, value)`` with ``(filename, bytes, content type)`` for the file).

    Metadata fields come from the file's own METADATA/PKG-INFO, so what the form says
    and what the file says cannot differ.
    """
    raw, _unparsed = parse_email(dist.metadata)
    fields: list[tuple[str, Any]] = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("filetype", dist.filetype),
        ("pyversion", dist.pyversion),
        ("sha256_digest", dist.sha256),
    ]
    for key, value in raw.items():
        form_name = _FORM_NAMES.get(key, key)
        if key == "keywords" and isinstance(value, list):
            fields.append((form_name, ", ".join(value)))
        elif key == "project_urls" and isinstance(value, dict):
            fields.extend((form_name, f"{label}, {url}") for label, url in value.items())
        elif isinstance(value, list):
            fields.extend((form_name, str(item)) for item in value)
        elif isinstance(value, str):
            fields.append((form_name, value))
    content = dist.path.read_bytes()
    fields.append(("content", (dist.filename, content, "application/octet-stream")))
    return fields


def _said(body: bytes) -> str:
    """What a response body says, for a message: the ``<pre>`` part of an error page
    when there is one (pypiserver's), else the text without HTML tags; white space
    collapsed, cut to 300 characters, ``""`` for nothing useful."""
    text = body.decode("utf-8", errors="replace")
    pre = re.search(r"(?is)<pre>(.*?)</pre>", text)
    if pre is not None:
        text = pre.group(1)
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = " ".join(text.split())
    if text in ("None", "null"):
        return ""
    return text if len(text) <= 300 else text[:297] + "..."


def upload_file(
    client: HttpClient,
    url: str,
    dist: UploadFile,
    credentials: UploadCredentials | None,
) -> UploadResult:
    """Upload one checked file.

    :param url: the upload URL (``https://upload.pypi.org/legacy/``).
    :param credentials: sent as HTTP Basic authorization; ``None`` sends none.
    :returns: :data:`UPLOADED`, or :data:`EXISTS` when the index already has a file of
        that name.
    :raises PublishError: when the index refuses the credentials (401/403) or the file
        (another 4xx), or the URL has no upload API (404/405).
    :raises NetworkError: when the index cannot be reached or fails (5xx after retries).
    """
    import urllib3

    body, content_type = urllib3.encode_multipart_formdata(upload_fields(dist))
    headers = {"Content-Type": content_type}
    if credentials is not None:
        headers["Authorization"] = credentials.authorization()
    response = client.request(
        url, method="POST", headers=headers, body=body, ok_statuses=_READ_STATUSES
    )
    status = response.status
    if 200 <= status < 300:
        return UPLOADED
    said = _said(response.body)
    if status == 409 or (
        status in (400, 403) and any(phrase in said.lower() for phrase in _EXISTS_PHRASES)
    ):
        return EXISTS
    shown = redact_url(url)
    detail = f": {said}" if said else ""
    if status in (401, 403):
        if credentials is None:
            raise PublishError(
                f"The index wants credentials for uploading (HTTP {status}){detail}.",
                context=shown,
                hint="Give them with --token, --username/--password, ~/.pypirc or the keyring.",
            )
        raise PublishError(
            f"The index refused the credentials for user {credentials.username!r} from "
            f"{credentials.source} (HTTP {status}){detail}.",
            context=shown,
            hint="Check the user name and password (or token) there, and that this user "
            "may upload this project; for PyPI, use an API token (--token or "
            "SHIPYARD_PUBLISH_TOKEN).",
        )
    if status in (404, 405):
        raise PublishError(
            f"There is no upload API at this URL (HTTP {status}).",
            context=shown,
            hint="Check --publish-url: PyPI's is https://upload.pypi.org/legacy/, "
            "TestPyPI's https://test.pypi.org/legacy/, pypiserver's the server's root URL.",
        )
    if status == 413:
        raise PublishError(
            f"The index refused {dist.filename}: it is too large ({dist.size} bytes).",
            context=shown,
            hint="Ask the index's administrators for a higher file size limit.",
        )
    raise PublishError(
        f"The index refused {dist.filename} (HTTP {status}){detail}.",
        context=shown,
        hint="Fix what the index names and build again (`shipyard build`).",
    )
