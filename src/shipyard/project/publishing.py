"""``shipyard publish``: upload distributions to a package index.

First a plan, with nothing sent: the files (``dist/*`` by default) are each checked
(:mod:`shipyard.index.upload_files`; one bad file refuses them all, before any upload),
the upload URL and the credentials are found (:mod:`shipyard.index.upload_credentials`),
and, with a check URL, the files the index already lists are marked to skip (a file of
the same name but other bytes is refused: an index never replaces a file). Then each
file is uploaded with the upload API (:mod:`shipyard.index.upload`); one the index
answers "already exists" to is skipped, not failed.
"""

from __future__ import annotations

import glob
import os
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from shipyard.errors import PublishError, UsageError
from shipyard.index.credentials import redact_url
from shipyard.index.upload_credentials import (
    DEFAULT_UPLOAD_URL,
    UploadCredentials,
    find_upload_credentials,
    missing_credentials_error,
    read_pypirc,
)
from shipyard.index.upload_files import DistributionProblem, UploadFile, read_upload_file
from shipyard.project.services import Services

__all__ = [
    "FileOutcome",
    "PublishPlan",
    "PublishRequest",
    "plan_publish",
    "publish",
    "require_credentials",
]

Action = Literal["upload", "skip"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishRequest:
    """What the user asked for; ``None`` leaves a value to the settings and defaults.

    :param files: paths or glob patterns (default ``dist/*`` of ``base``).
    :param base: where relative patterns start (the project root, else the working
        directory).
    :param publish_url: the upload URL (``--publish-url``).
    :param repository: a ``~/.pypirc`` section (``--repository``).
    :param check_url: a simple index URL to look existing files up in.
    :param token: ``--token``; :param username: ``--username``; :param password:
        ``--password`` (each outranks its ``SHIPYARD_PUBLISH_*`` variable).
    """

    files: Sequence[str] = ()
    base: Path = field(default_factory=Path.cwd)
    publish_url: str | None = None
    repository: str | None = None
    check_url: str | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One file's fate: ``"upload"`` (done, or to do in a plan) or ``"skip"``.

    :param reason: why it is skipped (``"already on the index"``).
    """

    file: UploadFile
    action: Action
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PublishPlan:
    """The uploads to make, decided before any is made.

    :param url: the upload URL; :param credentials: ``None`` when no source has any
        (an error when something is to be uploaded, unless only planned).
    :param files: each checked file with its action, sdists first.
    :param warnings: for the user, per file (``"x.whl: it has no long description"``).
    """

    url: str
    credentials: UploadCredentials | None
    files: tuple[FileOutcome, ...]
    warnings: tuple[str, ...] = ()

    @property
    def uploads(self) -> tuple[FileOutcome, ...]:
        """The files to upload."""
        return tuple(f for f in self.files if f.action == "upload")


def _expand(patterns: Sequence[str], base: Path) -> list[Path]:
    """The files the patterns name, in order, each once; hidden files and signatures
    (``.asc``) that a glob matches are left out."""
    found: dict[Path, None] = {}
    for pattern in patterns or ("dist/*",):
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        if glob.has_magic(pattern):
            matches = [Path(p) for p in sorted(glob.glob(full))]
            matches = [
                p
                for p in matches
                if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".asc")
            ]
        else:
            matches = [Path(full)] if Path(full).is_file() else []
        if not matches:
            shown = pattern if patterns else "dist/*"
            raise PublishError(
                f"No distribution files match {shown}.",
                context=str(base),
                hint="Build them first (`shipyard build`), or name the files to upload.",
            )
        for path in matches:
            found.setdefault(path, None)
    return list(found)


def _check_files(paths: Sequence[Path]) -> list[UploadFile]:
    problems: list[str] = []
    files: list[UploadFile] = []
    for path in paths:
        try:
            files.append(read_upload_file(path))
        except DistributionProblem as problem:
            problems.append(f"{problem.filename}: {problem.reason}")
    if problems:
        count = "this file" if len(problems) == 1 else f"these {len(problems)} files"
        raise PublishError(
            f"Nothing was uploaded: {count} cannot be published:\n" + "\n".join(problems),
            hint="Fix the project's metadata in pyproject.toml and build again (`shipyard build`).",
        )
    # sdists first (as twine and uv upload them), then the wheels, each in name order
    return sorted(files, key=lambda f: (f.filetype != "sdist", f.filename))


def _upload_url(request: PublishRequest, services: Services) -> str:
    """``--publish-url``, the ``--repository`` section's URL, ``publish-url`` (the
    variable or the project), or PyPI's."""
    url = request.publish_url
    if url is None and request.repository is not None:
        entry = read_pypirc().get(request.repository)
        url = entry.url if entry is not None else None
        if entry is not None and url is None:
            raise PublishError(
                f"The ~/.pypirc section [{request.repository}] names no repository URL.",
                hint="Add repository = https://… to it, or pass --publish-url.",
            )
    url = url or services.settings.publish_url or DEFAULT_UPLOAD_URL
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(
            f"The upload URL {url!r} is not an http(s) URL.",
            hint="Pass the index's upload URL, e.g. https://upload.pypi.org/legacy/.",
        )
    return url


def _credentials(request: PublishRequest, services: Services, url: str) -> UploadCredentials | None:
    """The upload credentials: the command line's before the environment's, a token
    before a user name (then ``~/.pypirc``, the keyring, ``~/.netrc``)."""
    settings = services.settings
    token = None
    username = None
    password = request.password if request.password is not None else settings.publish_password
    if request.token:
        token = (request.token, "--token")
    elif request.username:
        username = (request.username, "--username")
    elif settings.publish_token:
        token = (settings.publish_token, "SHIPYARD_PUBLISH_TOKEN")
    elif settings.publish_username:
        username = (settings.publish_username, "SHIPYARD_PUBLISH_USERNAME")
    elif password is not None:
        where = "--password" if request.password is not None else "SHIPYARD_PUBLISH_PASSWORD"
        raise UsageError(
            f"A password was given ({where}) without a user name.",
            hint="Add --username (or SHIPYARD_PUBLISH_USERNAME), or pass an API token with "
            "--token.",
        )
    return find_upload_credentials(
        url,
        token=token,
        username=username,
        password=password,
        repository=request.repository,
        use_keyring=settings.keyring_provider != "disabled",
    )


def _on_index(services: Services, check_url: str, files: Sequence[UploadFile]) -> set[str]:
    """The names of ``files`` that the simple index at ``check_url`` lists with the same
    bytes; a listed file with other bytes is refused."""
    from shipyard.index.simple import SimpleIndex

    index = SimpleIndex(check_url, services.client, cache=None)
    listed: dict[str, str | None] = {}
    for name in sorted({f.name for f in files}):
        page = index.get_page(canonicalize_name(name), refresh=True)
        for dist in page.files if page is not None else ():
            listed[dist.filename] = dist.sha256
    present = set()
    for file in files:
        if file.filename not in listed:
            continue
        digest = listed[file.filename]
        if digest is not None and digest.lower() != file.sha256:
            raise PublishError(
                f"The index already has a different file named {file.filename} "
                f"(sha256 {digest}, this one {file.sha256}). Nothing was uploaded.",
                context=check_url,
                hint="An index never replaces a file: raise the version, build again "
                "and publish that.",
            )
        present.add(file.filename)
    return present


def plan_publish(request: PublishRequest, services: Services) -> PublishPlan:
    """Check the files, find the upload URL and credentials, and decide what to skip.
    Nothing is uploaded.

    :raises PublishError: for files that cannot be published (all of them named), no
        file matching, an unknown ``~/.pypirc`` section, or a file the check URL lists
        with other bytes.
    :raises UsageError: for an upload URL that is not http(s), or a password alone.
    :raises NetworkError: when the check URL cannot be read.
    """
    files = _check_files(_expand(request.files, request.base))
    url = _upload_url(request, services)
    credentials = _credentials(request, services, url)
    check_url = request.check_url or services.settings.publish_check_url
    present: set[str] = set()
    if check_url:
        if credentials is not None:
            _lend_credentials(services, check_url, url, credentials)
        present = _on_index(services, check_url, files)
    outcomes = tuple(
        FileOutcome(f, "skip", "already on the index")
        if f.filename in present
        else FileOutcome(f, "upload")
        for f in files
    )
    by_text: dict[str, list[str]] = {}
    for file in files:
        for text in file.warnings:
            by_text.setdefault(text, []).append(file.filename)
    warnings = tuple(f"{', '.join(names)}: {text}" for text, names in by_text.items())
    if credentials is not None and _plain_http(url):
        warnings += (
            f"{redact_url(url)} is plain HTTP: the credentials from {credentials.source} "
            "travel unencrypted (use https:// for an index beyond this machine)",
        )
    return PublishPlan(url=url, credentials=credentials, files=outcomes, warnings=warnings)


def _plain_http(url: str) -> bool:
    """Whether ``url`` is ``http://`` to another machine than this one."""
    import ipaddress

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _lend_credentials(
    services: Services, check_url: str, upload_url: str, credentials: UploadCredentials
) -> None:
    """Let the check URL's requests carry the upload credentials when both URLs are on
    one host and the client has none of its own for it (a private index)."""
    from shipyard.index.credentials import host_key

    key = host_key(check_url)
    if key and key == host_key(upload_url):
        services.client.credentials.setdefault(key, (credentials.username, credentials.password))


def require_credentials(plan: PublishPlan) -> None:
    """Refuse a plan with files to upload but no credentials.

    :raises PublishError: naming every way to give them.
    """
    if plan.uploads and plan.credentials is None:
        raise missing_credentials_error(plan.url)


def publish(
    plan: PublishPlan,
    services: Services,
    *,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> tuple[FileOutcome, ...]:
    """Upload the plan's files, in order.

    :param on_file: called after each file (uploaded or skipped), for progress.
    :returns: each file's outcome; a file the index already had is ``"skip"``.
    :raises PublishError: when credentials are missing or refused, or the index refuses
        a file; the files before it stay uploaded.
    :raises NetworkError: when the index cannot be reached.
    """
    from shipyard.index.upload import EXISTS, upload_file

    require_credentials(plan)
    results: list[FileOutcome] = []
    for outcome in plan.files:
        if outcome.action == "upload":
            result = upload_file(services.client, plan.url, outcome.file, plan.credentials)
            if result == EXISTS:
                outcome = FileOutcome(outcome.file, "skip", "already on the index")
        results.append(outcome)
        if on_file is not None:
            on_file(outcome)
    return tuple(results)
