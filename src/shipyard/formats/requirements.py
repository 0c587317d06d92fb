"""pip requirements-file lines (``requirements.txt``, the ``pip:`` list of an
``environment.yml``), parsed into what a shipyard manifest can hold.

Understood: PEP 508 requirements and direct URLs (``name @ url``), comments and
blank lines, ``\\`` line continuations, ``${VAR}`` expansion from the
environment, ``-r``/``--requirement`` and ``-c``/``--constraint`` files
(nested, relative to the including file), ``-e``/``--editable`` paths,
``-i``/``--index-url``, ``--extra-index-url``, ``-f``/``--find-links``,
``--no-index``, ``--pre``, ``--only-binary``/``--no-binary``, and
per-requirement ``--hash`` options (kept as expected hashes). Anything else is
reported as ``file:line: what and why``, never dropped silently; with
``keep_locations`` (for ``import``), a line written as a path or URL instead of
PEP 508 (``./lib``, ``git+https://…#egg=lib``) is kept as a :class:`LocationLine`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

__all__ = [
    "LocationLine",
    "RequirementLine",
    "RequirementsFile",
    "parse_requirement_lines",
    "pin_lines",
    "pinned_version",
    "read_requirements",
]

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_OPTIONS_WITH_VALUE = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-e": "editable",
    "--editable": "editable",
    "--only-binary": "only-binary",
    "--no-binary": "no-binary",
    "--trusted-host": "trusted-host",
}
#: Options that change how pip works, not what it installs: accepted and ignored.
_IGNORED_OPTIONS = frozenset({"--prefer-binary", "--require-hashes", "--use-feature"})
#: ``git+https:``, ``hg+ssh:`` …: a VCS URL as pip writes it.
_VCS_URL = re.compile(r"^[A-Za-z]+\+[A-Za-z]+:")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass(frozen=True, slots=True)
class RequirementLine:
    """One requirement and where it was written.

    :param requirement: the parsed PEP 508 requirement.
    :param hashes: ``algorithm:hex`` strings from ``--hash`` options.
    :param origin: ``file:line``.
    """

    requirement: Requirement
    hashes: tuple[str, ...] = ()
    origin: str = ""


@dataclass(frozen=True, slots=True)
class LocationLine:
    """A requirement written as a path or URL instead of PEP 508 (``-e ../lib``,
    ``./lib``, ``git+https://…#egg=lib``), for ``import`` to carry over as a source.

    :param text: as written (``${VAR}`` expanded), without ``-e``.
    :param origin: ``file:line``.
    :param base: the directory a relative path starts from (the file's).
    :param editable: it was written with ``-e``/``--editable``.
    """

    text: str
    origin: str
    base: Path
    editable: bool = False


@dataclass(slots=True)
class RequirementsFile:
    """The parsed content of one or more requirements files.

    :param requirements: requirements in file order (``-r`` files inlined).
    :param constraints: requirements from ``-c`` files.
    :param editables: ``-e`` paths or URLs, as written (``.`` is the project itself).
    :param locations: the ``-e`` entries and, when parsed with ``keep_locations``, the
        lines that are a path or URL rather than PEP 508, with where they were written.
    :param index_url: the ``--index-url`` (the last one wins, as in pip).
    :param extra_index_urls: ``--extra-index-url`` values, in order, without duplicates.
    :param find_links: ``--find-links`` values, in order.
    :param no_index: ``--no-index`` was given. :param pre: ``--pre`` was given.
    :param only_binary: ``--only-binary`` names (``:all:``/``:none:`` as written).
    :param no_binary: ``--no-binary`` names.
    :param problems: ``file:line: what and why`` for lines that were not carried over.
    """

    requirements: list[RequirementLine] = field(default_factory=list)
    constraints: list[RequirementLine] = field(default_factory=list)
    editables: list[str] = field(default_factory=list)
    locations: list[LocationLine] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    pre: bool = False
    only_binary: list[str] = field(default_factory=list)
    no_binary: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def merge(self, other: RequirementsFile) -> None:
        """Append ``other``'s content (its index URL wins when it has one)."""
        self.requirements.extend(other.requirements)
        self.constraints.extend(other.constraints)
        self.editables.extend(other.editables)
        self.locations.extend(other.locations)
        self.index_url = other.index_url or self.index_url
        for url in other.extra_index_urls:
            if url not in self.extra_index_urls:
                self.extra_index_urls.append(url)
        self.find_links.extend(f for f in other.find_links if f not in self.find_links)
        self.no_index = self.no_index or other.no_index
        self.pre = self.pre or other.pre
        self.only_binary.extend(n for n in other.only_binary if n not in self.only_binary)
        self.no_binary.extend(n for n in other.no_binary if n not in self.no_binary)
        self.problems.extend(other.problems)


def _logical_lines(lines: Sequence[str], first_line: int) -> list[tuple[int, str]]:
    """Join ``\\`` continuations and drop comments; yields (line number, text)."""
    joined: list[tuple[int, str]] = []
    buffer, start = "", first_line
    for offset, raw in enumerate(lines):
        number = first_line + offset
        if not buffer:
            start = number
        line = raw.rstrip("\r\n")
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        text = re.sub(r"(^|\s)#.*$", "", buffer).strip()
        buffer = ""
        if text:
            joined.append((start, text))
    if buffer.strip():
        joined.append((start, buffer.strip()))
    return joined


def _expand(text: str) -> str:
    return _VARIABLE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), text)


def parse_requirement_lines(
    lines: Sequence[str],
    *,
    source: Path,
    first_line: int = 1,
    base: Path | None = None,
    keep_locations: bool = False,
    _seen: frozenset[Path] = frozenset(),
) -> RequirementsFile:
    """Parse requirements-file lines.

    :param source: the file they come from (for ``file:line`` in problems).
    :param first_line: the line number of ``lines[0]`` in ``source``.
    :param base: the directory ``-r``/``-c``/``-e`` paths are relative to (default:
        ``source``'s directory).
    :param keep_locations: keep a line that is a path or URL rather than PEP 508
        (``./lib``, ``git+https://…#egg=lib``) in ``locations`` instead of reporting it.
    :returns: the parsed content; unreadable or unknown lines are in ``problems``.
    """
    base = base or source.parent
    result = RequirementsFile()
    for number, text in _logical_lines(lines, first_line):
        origin = f"{source}:{number}"
        text = _expand(text)
        # A requirement keeps its own quoting (markers); options after it are
        # split like a shell would, as pip does.
        first_option = re.search(r"(^|\s)--?[A-Za-z]", text)
        requirement_text = text[: first_option.start()].strip() if first_option else text
        try:
            tokens = shlex.split(text[len(requirement_text) :])
        except ValueError as exc:
            result.problems.append(f"{origin}: cannot split {text!r} ({exc}); left out.")
            continue
        if not requirement_text:
            _option(tokens, origin, base, result, _seen | {source.resolve()}, keep_locations)
            continue
        hashes: list[str] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.startswith("--hash"):
                value = (
                    token.split("=", 1)[1]
                    if "=" in token
                    else (tokens[index + 1] if index + 1 < len(tokens) else "")
                )
                if "=" not in token:
                    index += 1
                hashes.append(value)
            else:
                result.problems.append(
                    f"{origin}: the per-requirement option {token} is not supported; "
                    "the requirement was kept without it."
                )
            index += 1
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as exc:
            if keep_locations and _is_location(requirement_text):
                result.locations.append(LocationLine(requirement_text, origin, base))
                continue
            result.problems.append(
                f"{origin}: {requirement_text!r} is not a PEP 508 requirement "
                f"({str(exc).splitlines()[0]}); left out."
            )
            continue
        result.requirements.append(RequirementLine(requirement, tuple(hashes), origin))
    return result


def _is_location(text: str) -> bool:
    """Whether a line that is not PEP 508 names a path or URL, as pip would read it."""
    head = text.split(";", 1)[0].strip()
    return (
        head.startswith((".", "/", "~"))
        or "://" in head
        or head.startswith("file:")
        or _VCS_URL.match(head) is not None
        or "/" in head
        or head.endswith(_ARCHIVE_SUFFIXES)
    )


def _option(
    tokens: list[str],
    origin: str,
    base: Path,
    result: RequirementsFile,
    seen: frozenset[Path],
    keep_locations: bool = False,
) -> None:
    head, _, inline = tokens[0].partition("=")
    if head in ("--no-index",):
        result.no_index = True
        return
    if head == "--pre":
        result.pre = True
        return
    if head in _IGNORED_OPTIONS:
        return
    kind = _OPTIONS_WITH_VALUE.get(head)
    if kind is None:
        result.problems.append(
            f"{origin}: the option {head} is not supported by shipyard; left out."
        )
        return
    value = inline or (tokens[1] if len(tokens) > 1 else "")
    if not value:
        result.problems.append(f"{origin}: {head} needs a value; left out.")
        return
    if kind == "index-url":
        result.index_url = value
    elif kind == "extra-index-url":
        if value not in result.extra_index_urls:
            result.extra_index_urls.append(value)
    elif kind == "find-links":
        result.find_links.append(value)
    elif kind == "editable":
        result.editables.append(value)
        result.locations.append(LocationLine(value, origin, base, editable=True))
    elif kind in ("only-binary", "no-binary"):
        names = result.only_binary if kind == "only-binary" else result.no_binary
        names.extend(n.strip() for n in value.split(",") if n.strip() and n not in names)
    elif kind == "trusted-host":
        result.problems.append(
            f"{origin}: --trusted-host {value} is not carried over; shipyard always verifies "
            "TLS (use an http:// index URL for a host without it)."
        )
    else:
        try:
            path = (base / value).resolve()
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            result.problems.append(f"{origin}: cannot read {value!r} ({exc}); left out.")
            return
        if path in seen:
            result.problems.append(f"{origin}: {value} includes itself; left out.")
            return
        nested = read_requirements(path, _seen=seen, origin=origin, keep_locations=keep_locations)
        if kind == "constraint":
            nested.constraints.extend(nested.requirements)
            nested.requirements = []
        result.merge(nested)


def read_requirements(
    path: Path,
    *,
    _seen: frozenset[Path] = frozenset(),
    origin: str | None = None,
    keep_locations: bool = False,
) -> RequirementsFile:
    """Parse a requirements file (and the files it includes).

    :param origin: the ``file:line`` that included it, for the problem when it is missing.
    :param keep_locations: see :func:`parse_requirement_lines`.
    :returns: the parsed content; a missing file is a problem, not an exception.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        result = RequirementsFile()
        result.problems.append(
            f"{origin or path}: cannot read {path} ({exc.strerror or exc}); left out."
        )
        return result
    except UnicodeDecodeError as exc:
        result = RequirementsFile()
        result.problems.append(
            f"{origin or path}: {path} is not UTF-8 text (byte {exc.start}); left out."
        )
        return result
    return parse_requirement_lines(
        lines, source=path, base=path.parent, keep_locations=keep_locations, _seen=_seen
    )


def pinned_version(requirement: Requirement) -> str | None:
    """The one version ``requirement`` pins (``==1.2``, ``===1.2``), or ``None`` when it
    allows more than one (a range, a wildcard ``==1.*``, several specifiers, none)."""
    specifiers = list(requirement.specifier)
    if (
        len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and "*" not in str(specifiers[0].version)
    ):
        return specifiers[0].version
    return None


def pin_lines(
    head: str,
    *,
    hashes: Sequence[str] = (),
    via: Sequence[str] = (),
    annotation_style: str = "split",
) -> list[str]:
    """Write one pinned requirement the way pip-compile lays it out.

    :param head: the requirement itself (``"idna==3.7"``, with ``" ; marker"`` if any).
    :param hashes: ``algorithm:hex`` digests, one ``--hash`` continuation line each.
    :param via: what needs it (``"-r requirements.in"``, parent names), in output order.
    :param annotation_style: ``"split"`` (one ``#   name`` line per source when there
        are several) or ``"line"`` (``# via a, b`` on one line).
    :returns: the lines, without line ends.
    """
    lines = [head + (" \\" if hashes else "")]
    lines.extend(
        f"    --hash={digest}" + (" \\" if index < len(hashes) - 1 else "")
        for index, digest in enumerate(hashes)
    )
    if not via:
        return lines
    if annotation_style == "line":
        annotation = f"# via {', '.join(via)}"
        if hashes:
            lines.append(f"    {annotation}")
        else:
            lines[-1] = f"{lines[-1]:24}  {annotation}"
    elif len(via) == 1:
        lines.append(f"    # via {via[0]}")
    else:
        lines.append("    # via")
        lines.extend(f"    #   {source}" for source in via)
    return lines
