"""Requirements that name a place instead of a version — a git repository, a local
project directory or archive — in the manifest's terms.

The requirement stays a plain name (its extras and marker kept) and the place becomes
a ``[tool.shipyard.sources]`` entry in :attr:`Imported.sources`, as ``shipyard add
"x @ ../x"`` writes it:

* git (``name @ git+https://…@rev#subdirectory=…``, ``-e git+…#egg=name``, Poetry's
  and Pipenv's ``git`` keys) → ``{ git = URL, tag|branch|rev = …, subdirectory = … }``;
* a local directory or archive (``name @ file:///…``, ``-e ./lib``, ``./lib``, the
  ``path`` and ``file`` keys) → ``{ path = … }``, with ``editable = false`` for a
  directory the format installs non-editable;
* an archive on a server (``name @ https://…/x-1.0-py3-none-any.whl``) stays a direct
  reference.

Paths are made absolute here, against the directory of the file that names them (PDM's
``${PROJECT_ROOT}`` is that directory);
:func:`~shipyard.project.import_sources.gather` makes them relative to the project
root. What cannot be carried over — another VCS (Mercurial, Subversion, Bazaar), a URL
or path whose project name cannot be told, a path that does not exist — is a problem
naming ``file:line``.
"""

from __future__ import annotations

import configparser
import os
import re
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from shipyard.formats.imported import Imported, ImportedRequirement

if TYPE_CHECKING:
    from shipyard.formats.requirements import RequirementsFile

__all__ = [
    "direct_reference",
    "git_source",
    "location",
    "path_source",
    "project_name",
    "requirements_into",
]

#: ``git+https:``, ``hg+ssh:`` …: a VCS URL as pip writes it.
_VCS = re.compile(r"^([A-Za-z]+)\+[A-Za-z]+:")
#: ``git@github.com:org/repo.git``: scp-like syntax, which git reads as ssh.
_SCP = re.compile(r"^([\w.-]+@)?[\w.-]+:(?!//)[^\s]+$")
_EXTRAS = re.compile(r"^(.*?)(\[[^\[\]]*\])$")
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_GIT_SCHEMES = ("https", "http", "ssh", "file", "git")


def _plain(requirement: Requirement) -> Requirement:
    plain = Requirement(str(requirement))
    plain.url = None
    return plain


def _record(
    imported: Imported,
    requirement: Requirement,
    origin: str,
    entry: dict[str, Any],
    hashes: Sequence[str] = (),
) -> ImportedRequirement:
    imported.set_source(requirement.name, entry, origin)
    return ImportedRequirement(_plain(requirement), origin, tuple(hashes))


def _git_url(text: str) -> str | None:
    """The URL git fetches for ``text`` (``git+`` dropped, scp-like syntax as
    ``ssh://``); ``None`` when it is not a remote URL."""
    text = text.strip().removeprefix("git+")
    if "://" in text:
        return text if text.split("://", 1)[0].lower() in _GIT_SCHEMES else None
    if _SCP.match(text) and not text.startswith(("/", ".")):
        host, _, path = text.partition(":")
        return f"ssh://{host}/{path.lstrip('/')}"
    return None


def git_source(
    imported: Imported,
    requirement: Requirement,
    origin: str,
    repository: str,
    *,
    revision: tuple[str, str] | None = None,
    subdirectory: str | None = None,
) -> ImportedRequirement | None:
    """``requirement`` as a plain name taken from a git repository.

    :param repository: the repository URL (``https://…``, ``ssh://…``, ``file://…``,
        ``git@host:path``; a ``git+`` prefix is dropped).
    :param revision: ``("tag"|"branch"|"rev", value)``; ``None`` for the default branch.
    :param subdirectory: the project's directory inside the repository.
    :returns: the plain requirement; ``None`` (and a problem at ``origin``) when the
        repository is not a URL git fetches or the subdirectory leaves the repository.
    """
    url = _git_url(repository)
    if url is None:
        imported.problems.append(
            f"{origin}: {requirement.name}'s git repository {repository!r} is not a URL "
            "shipyard can fetch (https://, ssh://, file://); left out."
        )
        return None
    entry: dict[str, Any] = {"git": url}
    if revision is not None and revision[1]:
        entry[revision[0]] = revision[1]
    if subdirectory:
        inside = subdirectory.strip().strip("/")
        if subdirectory.strip().startswith("/") or ".." in inside.split("/"):
            imported.problems.append(
                f"{origin}: the subdirectory {subdirectory!r} of {requirement.name}'s git "
                "repository is not inside it; left out."
            )
            return None
        if inside:
            entry["subdirectory"] = inside
    return _record(imported, requirement, origin, entry)


def _absolute(base: Path, target: str) -> Path | None:
    try:
        return Path(os.path.abspath(base / Path(target).expanduser()))
    except (OSError, RuntimeError, ValueError):  # no home directory, a NUL byte
        return None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def _is_directory(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def path_source(
    imported: Imported,
    requirement: Requirement,
    origin: str,
    base: Path,
    target: str,
    *,
    editable: bool,
    hashes: Sequence[str] = (),
) -> ImportedRequirement | None:
    """``requirement`` as a plain name taken from a local directory or archive.

    :param base: the directory a relative ``target`` starts from (the file's).
    :param editable: whether the format installs a directory editable; a directory it
        does not gets ``editable = false`` (shipyard's default is editable).
    :returns: the plain requirement; ``None`` (and a problem at ``origin``) when the
        path does not exist.
    """
    location = _absolute(base, target)
    if location is None or not _exists(location):
        imported.problems.append(
            f"{origin}: {requirement.name}'s path {target} does not exist (looked for "
            f"{location or target}); left out."
        )
        return None
    entry: dict[str, Any] = {"path": str(location)}
    if not editable and _is_directory(location):
        entry["editable"] = False
    return _record(imported, requirement, origin, entry, hashes)


def _expand_project_root(text: str, base: Path) -> str:
    """PDM's ``${PROJECT_ROOT}``: the directory of the pyproject.toml naming it."""
    if "${PROJECT_ROOT}" not in text:
        return text
    root = Path(os.path.abspath(base)).as_posix()
    text = text.replace("file:///${PROJECT_ROOT}", "file:///" + root.lstrip("/"))
    return text.replace("${PROJECT_ROOT}", root)


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].lower() if "://" in url or url.startswith("file:") else ""


def _local_path(url: str) -> str | None:
    """The filesystem path of a ``file:`` URL (fragment and query dropped)."""
    try:
        return urllib.request.url2pathname(urllib.parse.urlsplit(url).path) or None
    except ValueError:  # a malformed netloc
        return None


def direct_reference(
    imported: Imported,
    requirement: Requirement,
    origin: str,
    base: Path,
    *,
    editable: bool = False,
    hashes: Sequence[str] = (),
) -> ImportedRequirement | None:
    """``requirement`` as the manifest keeps it: a direct reference to a git repository
    or a local path (``file:`` URL or a relative path) becomes a plain name plus a
    source; a requirement without a URL, or on an archive on a server, is kept as it is.

    :param base: the directory relative paths start from (the file's).
    :param editable: whether a local directory is installed editable (``-e``).
    :returns: the requirement to write; ``None`` (and a problem at ``origin``) for
        another VCS or a path that does not exist.
    """
    url = requirement.url
    if url is None:
        return ImportedRequirement(requirement, origin, tuple(hashes))
    url = _expand_project_root(url, base)
    scheme = _scheme(url)
    if scheme.startswith("git+"):
        from shipyard.errors import GitError
        from shipyard.vcs.git import GitUrl

        try:
            parsed = GitUrl.parse(url)
        except GitError as exc:
            imported.problems.append(f"{origin}: {exc.message.rstrip('.')}; left out.")
            return None
        except ValueError as exc:  # a malformed host
            imported.problems.append(f"{origin}: {url} is not a git URL ({exc}); left out.")
            return None
        revision = ("rev", parsed.revision) if parsed.revision else None
        return git_source(
            imported,
            requirement,
            origin,
            parsed.repository,
            revision=revision,
            subdirectory=parsed.subdirectory,
        )
    if "+" in scheme:
        imported.problems.append(
            f"{origin}: {requirement.name} comes from {scheme.partition('+')[0]} ({url}); "
            "shipyard fetches git repositories only; left out."
        )
        return None
    if scheme not in ("", "file"):
        return ImportedRequirement(requirement, origin, tuple(hashes))  # an archive on a server
    local = _local_path(url) if scheme == "file" else url
    if local is None:
        imported.problems.append(f"{origin}: {url} is not a file URL shipyard can read; left out.")
        return None
    return path_source(imported, requirement, origin, base, local, editable=editable, hashes=hashes)


def _valid_name(text: str) -> str | None:
    text = text.strip()
    return text if _NAME.match(text) else None


def project_name(directory: Path) -> str | None:
    """The name a project directory declares without running code: ``[project] name``
    (or ``[tool.poetry] name``) in its pyproject.toml, else ``[metadata] name`` in its
    setup.cfg; ``None`` when it declares none (a name computed by ``setup.py``)."""
    try:
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            tool = data.get("tool", {})
            poetry = tool.get("poetry") if isinstance(tool, dict) else None
            for table in (data.get("project"), poetry):
                if isinstance(table, dict) and isinstance(table.get("name"), str):
                    return _valid_name(table["name"])
        setup_cfg = directory / "setup.cfg"
        if setup_cfg.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(setup_cfg.read_text(encoding="utf-8"))
            if parser.has_option("metadata", "name"):
                return _valid_name(parser.get("metadata", "name"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, configparser.Error):
        return None  # ValueError: tomllib.TOMLDecodeError, a NUL byte in the path
    return None


def _archive_name(filename: str) -> str | None:
    """The project name in a wheel's or sdist's file name."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _same(path: Path, other: Path) -> bool:
    try:
        return path.resolve() == other.resolve()
    except (OSError, RuntimeError, ValueError):
        return path == other


def location(
    imported: Imported,
    text: str,
    origin: str,
    base: Path,
    *,
    editable: bool,
    itself: Path | None = None,
) -> ImportedRequirement | None:
    """A requirement written as a path or URL instead of PEP 508, as pip reads it:
    ``-e ../lib``, ``./lib[extra]``, ``./dist/lib-1.0-py3-none-any.whl``,
    ``git+https://…@v1#egg=lib&subdirectory=src``, ``https://…/lib-1.0.tar.gz``, with an
    optional ``; marker``.

    The name comes from ``#egg=``, else an archive's file name, else the directory's
    pyproject.toml or setup.cfg.

    :param base: the directory relative paths start from (the file's).
    :param editable: it was written with ``-e``.
    :param itself: the project directory: a path to it (``-e .``) is the project
        itself, left out without a problem.
    :returns: the requirement to write; ``None`` (and a problem at ``origin``) when it
        cannot be carried over.
    """
    written, marker = text.strip(), ""
    text = _expand_project_root(written, base)
    is_url = "://" in text or text.startswith("file:") or _VCS.match(text) is not None
    separator = "; " if is_url else ";"
    if separator in text:
        text, _, marker = text.partition(separator)
        text, marker = text.strip(), marker.strip()
    body, _, fragment = text.partition("#")
    parameters = dict(urllib.parse.parse_qsl(fragment))
    egg, extras = parameters.get("egg", "").strip(), ""
    match = _EXTRAS.match(egg)
    if match:
        egg, extras = match.group(1), match.group(2)
    match = None if is_url else _EXTRAS.match(body)
    if match:
        body, extras = match.group(1), match.group(2)
    scheme = _scheme(body) if is_url else ""
    if "+" in scheme and not scheme.startswith("git+"):
        imported.problems.append(
            f"{origin}: {written} is a {scheme.partition('+')[0]} requirement; shipyard "
            "fetches git repositories only; left out."
        )
        return None
    local: Path | None = None
    if scheme in ("", "file"):
        path_text = _local_path(body) if scheme == "file" else body
        local = _absolute(base, path_text) if path_text else None
        if local is None or not _exists(local):
            what = (
                "is a path that does not exist"
                if editable or scheme == "file"
                else "is not a PEP 508 requirement nor a path that exists"
            )
            imported.problems.append(
                f"{origin}: {written!r} {what} (looked for {local or path_text or written}); "
                "left out."
            )
            return None
        if itself is not None and _same(local, itself):
            return None
    filename = local.name if local is not None else urllib.parse.unquote(body.rsplit("/", 1)[-1])
    name = _valid_name(egg) if egg else _archive_name(filename)
    if name is None and local is not None and _is_directory(local):
        name = project_name(local)
    if name is None:
        imported.problems.append(
            f"{origin}: cannot tell which project {written!r} is (write it as "
            f"NAME @ {body}, or add #egg=NAME); left out."
        )
        return None
    try:
        requirement = Requirement(name + extras + (f" ; {marker}" if marker else ""))
    except InvalidRequirement as exc:
        imported.problems.append(f"{origin}: {written!r}: {str(exc).splitlines()[0]}; left out.")
        return None
    if local is not None:
        return path_source(imported, requirement, origin, base, str(local), editable=editable)
    subdirectory = parameters.get("subdirectory")
    requirement.url = body + (f"#subdirectory={subdirectory}" if subdirectory else "")
    return direct_reference(imported, requirement, origin, base, editable=editable)


def requirements_into(
    imported: Imported, parsed: RequirementsFile, *, itself: Path | None = None
) -> None:
    """Add a parsed requirements file's requirements and locations (``-e`` paths, path
    and URL lines; see :func:`location`) to ``imported.dependencies``, with direct
    references to git or local paths turned into sources.

    :param itself: the project directory (``-e .`` is left out).
    """
    for line in parsed.requirements:
        base = Path(line.origin.rpartition(":")[0] or ".").parent
        item = direct_reference(imported, line.requirement, line.origin, base, hashes=line.hashes)
        if item is not None:
            imported.dependencies.append(item)
    for entry in parsed.locations:
        item = location(
            imported, entry.text, entry.origin, entry.base, editable=entry.editable, itself=itself
        )
        if item is not None:
            imported.dependencies.append(item)
