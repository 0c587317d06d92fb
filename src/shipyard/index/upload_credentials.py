"""Where ``publish`` finds the credentials for an upload URL, and ``~/.pypirc``.

Sources, asked in this order (the first that answers wins; the command line before
the environment):

1. ``--token``: an API token, sent as user ``__token__`` (PyPI's convention, which
   other indexes follow);
2. ``--username``/``--password``;
3. ``SHIPYARD_PUBLISH_TOKEN``, then ``SHIPYARD_PUBLISH_USERNAME``/``_PASSWORD``
   (a user name without a password gets its password from the keyring);
4. ``user:password@`` written in the upload URL;
5. ``~/.pypirc`` (the distutils/twine file): the repository section named with
   ``--repository``, else the one whose ``repository`` is the upload URL (``[pypi]`` for
   PyPI's own), with ``username`` and ``password``;
6. the ``keyring`` library, when installed and not disabled: service = the upload URL;
7. ``~/.netrc`` (or ``$NETRC``), for the upload URL's host.

The caller (:mod:`shipyard.project.publishing`) picks the first three from the command
line and the settings; :func:`find_upload_credentials` asks the rest.
A secret never appears in a message; :attr:`UploadCredentials.source` says where the
credentials came from, for the messages that need it.
"""

from __future__ import annotations

import configparser
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.errors import PublishError

__all__ = [
    "DEFAULT_UPLOAD_URL",
    "PypircRepository",
    "UploadCredentials",
    "find_upload_credentials",
    "missing_credentials_error",
    "pypirc_path",
    "read_pypirc",
    "same_upload_url",
]

#: PyPI's upload endpoint (the legacy upload API), the default of ``publish``.
DEFAULT_UPLOAD_URL = "https://upload.pypi.org/legacy/"
#: Repository names twine knows without a ``repository`` line in ``~/.pypirc``.
KNOWN_REPOSITORIES = {
    "pypi": DEFAULT_UPLOAD_URL,
    "testpypi": "https://test.pypi.org/legacy/",
}
TOKEN_USERNAME = "__token__"


@dataclass(frozen=True, slots=True)
class UploadCredentials:
    """A user name and password for an upload, and where they came from.

    :param source: for messages, e.g. ``"--token"`` or ``"~/.pypirc [pypi]"``.
    """

    username: str
    password: str = field(repr=False)
    source: str

    def authorization(self) -> str:
        """The ``Authorization`` header value (HTTP Basic, RFC 7617)."""
        import base64

        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class PypircRepository:
    """One repository section of ``~/.pypirc``.

    :param url: its ``repository`` (upload URL), or the known one for ``pypi`` and
        ``testpypi``; ``None`` when the section names none.
    """

    name: str
    url: str | None
    username: str | None
    password: str | None = field(repr=False)


def pypirc_path() -> Path:
    """``~/.pypirc`` (the home directory from ``$HOME``)."""
    return Path.home() / ".pypirc"


def _shown_path(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


def read_pypirc(path: Path | None = None) -> dict[str, PypircRepository]:
    """The repository sections of a ``.pypirc`` file, by name.

    When ``[distutils] index-servers`` lists names, only those sections count (as twine
    reads it); otherwise every section but ``[distutils]``. Values are read raw (a
    ``%`` in a password stays). A missing file gives ``{}``.

    :param path: the file (default :func:`pypirc_path`).
    :raises PublishError: when the file exists but is not a readable INI file.
    """
    path = path or pypirc_path()
    if not path.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeError) as exc:
        raise PublishError(
            f"Cannot read {_shown_path(path)}: {exc}.",
            context=str(path),
            hint="Fix the file (INI sections like [pypi] with username and password), "
            "or move it away and pass the credentials another way.",
        ) from exc
    names = [s for s in parser.sections() if s not in ("distutils", "server-login")]
    if parser.has_option("distutils", "index-servers"):
        listed = parser.get("distutils", "index-servers").split()
        names = [n for n in listed if parser.has_section(n)]
    found: dict[str, PypircRepository] = {}
    for name in names:

        def value(key: str, section: str = name) -> str | None:
            text = parser.get(section, key) if parser.has_option(section, key) else None
            return text.strip() if text is not None and text.strip() else None

        found[name] = PypircRepository(
            name=name,
            url=value("repository") or KNOWN_REPOSITORIES.get(name),
            username=value("username"),
            password=value("password"),
        )
    return found


def same_upload_url(first: str, second: str) -> bool:
    """Whether two upload URLs name the same endpoint (case of scheme and host, a
    trailing slash and credentials do not matter)."""

    def key(url: str) -> tuple[str, str, str]:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.netloc.rpartition("@")[2].lower()
        return parts.scheme.lower(), host, parts.path.rstrip("/")

    return key(first) == key(second)


def _pypirc_entry(
    url: str, repository: str | None, sections: dict[str, PypircRepository]
) -> PypircRepository | None:
    if repository is not None:
        return sections.get(repository)
    for entry in sections.values():
        if entry.url is not None and same_upload_url(entry.url, url):
            return entry
    return None


def _keyring_password(service: str, username: str | None) -> tuple[str, str] | None:
    """``(user name, password)`` from the keyring for ``service``; ``None`` when the
    library is missing, has nothing, or fails."""
    try:
        import keyring
    except ImportError:
        return None
    for name in dict.fromkeys([service, service.rstrip("/")]):
        try:
            if username is not None:
                password = keyring.get_password(name, username)
                if password:
                    return username, password
                continue
            credential = keyring.get_credential(name, None)
        except Exception:  # a locked or broken backend is not an error here
            return None
        if credential is not None and credential.password:
            return credential.username or "", credential.password
    return None


def find_upload_credentials(
    url: str,
    *,
    token: tuple[str, str] | None = None,
    username: tuple[str, str] | None = None,
    password: str | None = None,
    repository: str | None = None,
    pypirc: Path | None = None,
    use_keyring: bool = True,
) -> UploadCredentials | None:
    """The credentials for uploading to ``url``, from the first source that has them
    (see the module's docstring for the order).

    :param url: the upload URL (it may carry ``user:password@``).
    :param token: ``(token, where)``: from ``--token`` or ``SHIPYARD_PUBLISH_TOKEN``.
    :param username: ``(user name, where)``: from ``--username`` or the variable (one of
        ``token`` and ``username`` is given at most).
    :param password: the password given with the user name.
    :param repository: the ``~/.pypirc`` section asked for by name (``--repository``).
    :param pypirc: the ``.pypirc`` file (default ``~/.pypirc``).
    :param use_keyring: ask the ``keyring`` library (``keyring-provider``).
    :returns: ``None`` when no source has credentials.
    :raises PublishError: when ``repository`` is not in the file, or the file is unreadable.
    """
    if token is not None:
        return UploadCredentials(TOKEN_USERNAME, token[0], token[1])
    if username is not None:
        if password is not None:
            return UploadCredentials(username[0], password, username[1])
        found = _keyring_password(url, username[0]) if use_keyring else None
        if found is not None:
            return UploadCredentials(found[0], found[1], f"{username[1]} and the keyring")
        raise PublishError(
            f"A user name was given ({username[1]}) but no password.",
            hint="Add --password (or SHIPYARD_PUBLISH_PASSWORD), store the password in "
            "the keyring for this upload URL, or use --token.",
        )
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None:
        return UploadCredentials(
            urllib.parse.unquote(parts.username),
            urllib.parse.unquote(parts.password or ""),
            "the upload URL",
        )
    path = pypirc or pypirc_path()
    sections = read_pypirc(path)
    if repository is not None and repository not in sections:
        known = ", ".join(sorted(sections)) or "none"
        raise PublishError(
            f"{_shown_path(path)} has no repository named {repository!r} (it has: {known}).",
            context=str(path),
            hint="Add a section for it with repository, username and password, or pass "
            "--publish-url and the credentials directly.",
        )
    entry = _pypirc_entry(url, repository, sections)
    if entry is not None and entry.username is not None:
        where = f"{_shown_path(path)} [{entry.name}]"
        if entry.password is not None:
            return UploadCredentials(entry.username, entry.password, where)
        found = _keyring_password(url, entry.username) if use_keyring else None
        if found is not None:
            return UploadCredentials(found[0], found[1], f"{where} and the keyring")
    if use_keyring:
        found = _keyring_password(url, None)
        if found is not None:
            return UploadCredentials(found[0], found[1], f"the keyring ({url})")
    if parts.hostname:
        from shipyard.index.credentials import NetrcCredentials

        login = NetrcCredentials().lookup(parts.hostname)
        if login is not None:
            netrc = os.environ.get("NETRC") or "~/.netrc"
            return UploadCredentials(login[0], login[1], netrc)
    return None


def missing_credentials_error(url: str) -> PublishError:
    """The error for an upload with no credentials from any source."""
    return PublishError(
        f"No credentials for uploading to {url}.",
        hint="Give them one of these ways: an API token with --token or "
        "SHIPYARD_PUBLISH_TOKEN; a user name and password with --username/--password or "
        "SHIPYARD_PUBLISH_USERNAME/SHIPYARD_PUBLISH_PASSWORD; a ~/.pypirc section whose "
        "repository is this URL (or --repository NAME); the keyring, with this URL as the "
        "service; or ~/.netrc for its host.",
    )
