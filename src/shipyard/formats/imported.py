"""What an imported file says, in the manifest's terms.

Every reader of :mod:`shipyard.formats` (requirements files, ``environment.yml``,
``Pipfile``, Poetry and PDM tables, ``setup.cfg``) fills an :class:`Imported`;
:mod:`shipyard.project.importing` writes it into pyproject.toml. Lock files
(``poetry.lock``, ``pdm.lock``, ``Pipfile.lock``, a pinned requirements file,
another ``pylock.toml``) fill only :attr:`Imported.pins`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from packaging.requirements import Requirement
from packaging.version import Version

from shipyard.errors import ManifestError

__all__ = ["Imported", "ImportedRequirement"]


@dataclass(frozen=True, slots=True)
class ImportedRequirement:
    """A requirement and where it was written.

    :param requirement: PEP 508.
    :param origin: ``file:line`` (or ``file`` when the format has no lines).
    :param hashes: ``algorithm:hex`` expected hashes from the file (``--hash``).
    """

    requirement: Requirement
    origin: str
    hashes: tuple[str, ...] = ()


@dataclass(slots=True)
class Imported:
    """A project description gathered from one or more files.

    :param name: the project name, when the file has one.
    :param version: the project version, when the file has one.
    :param description: the one-line summary, when the file has one.
    :param requires_python: a PEP 440 specifier for ``requires-python``.
    :param python: the interpreter request (``3.11``) for ``[tool.shipyard] python``.
    :param dependencies: ``[project].dependencies``.
    :param optional: extra name → requirements (``[project.optional-dependencies]``).
    :param groups: dependency group → requirements (PEP 735).
    :param default_groups: groups installed by default, when the format says.
    :param optional_groups: groups the format installs only on request (not synced).
    :param constraints: ``[tool.shipyard] constraint-dependencies``.
    :param scripts: console script name → ``module:function``.
    :param index_url: the main index; :param extra_index_urls: the others, in order.
    :param find_links: directories or pages of archives.
    :param channels: conda channels; :param conda: conda MatchSpecs.
    :param conda_origins: conda MatchSpec → ``file:line`` where it is written.
    :param pins: canonical name → (version, ``file:line``) from a lock file, kept as
        preferences for the first lock.
    :param sources: canonical name → its ``[tool.shipyard.sources]`` entry (``path``
        with ``editable``, or ``git`` with ``tag``/``branch``/``rev`` and
        ``subdirectory``), for a requirement that names a place instead of a version;
        the requirement itself stays a plain name (see
        :mod:`shipyard.formats.references`). A ``path`` is absolute as read;
        :func:`~shipyard.project.import_sources.gather` makes it relative to the
        project root.
    :param unpinned: canonical name → ``where: why`` for a lock file's package that
        comes from a git repository, a directory or a file rather than an index: it is
        not pinned, and the reason is reported only when no imported dependency
        carries that package's source over.
    :param problems: ``file:line: what and why`` for what was not carried over.
    """

    name: str | None = None
    version: str | None = None
    description: str | None = None
    requires_python: str | None = None
    python: str | None = None
    dependencies: list[ImportedRequirement] = field(default_factory=list)
    optional: dict[str, list[ImportedRequirement]] = field(default_factory=dict)
    groups: dict[str, list[ImportedRequirement]] = field(default_factory=dict)
    default_groups: list[str] | None = None
    optional_groups: set[str] = field(default_factory=set)
    constraints: list[ImportedRequirement] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    conda_origins: dict[str, str] = field(default_factory=dict)
    pins: dict[str, tuple[Version, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    unpinned: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def requirement(self, text: str, origin: str) -> ImportedRequirement | None:
        """Parse ``text`` as PEP 508; ``None`` (and a problem naming ``origin``) when it
        is not a requirement."""
        from packaging.requirements import InvalidRequirement

        try:
            return ImportedRequirement(Requirement(text), origin)
        except InvalidRequirement as exc:
            detail = str(exc).splitlines()[0]
            self.problems.append(
                f"{origin}: {text!r} is not a PEP 508 requirement ({detail}); left out."
            )
            return None

    def set_source(self, name: str, entry: dict[str, Any], origin: str | None = None) -> None:
        """Record where ``name`` comes from; a different place named earlier is replaced,
        and that is reported (at ``origin``, when given)."""
        from packaging.utils import canonicalize_name

        key = canonicalize_name(name)
        previous = self.sources.get(key)
        if previous is not None and previous != entry:
            self.problems.append(
                (f"{origin}: " if origin else "")
                + f"{name} was already taken from {_describe(previous)}; "
                f"{_describe(entry)} is kept instead."
            )
        self.sources[key] = dict(entry)

    def pin(self, name: str, version: str, origin: str) -> None:
        """Record a locked version (the highest one when a lock has several)."""
        from packaging.utils import canonicalize_name
        from packaging.version import InvalidVersion

        try:
            parsed = Version(version)
        except (InvalidVersion, ValueError):  # ValueError: a number past int's digit limit
            self.problems.append(
                f"{origin}: {name} {version!r} is not a PEP 440 version; its pin is not kept."
            )
            return
        key = canonicalize_name(name)
        if key not in self.pins or parsed > self.pins[key][0]:
            self.pins[key] = (parsed, origin)


def _describe(entry: dict[str, Any]) -> str:
    """A source entry in words (``path ../core``, ``git https://… rev v1``)."""
    return " ".join(f"{key} {value}" for key, value in entry.items())


_F = TypeVar("_F", bound=Callable[..., Any])


def structure_checked(format_name: str) -> Callable[[_F], _F]:
    """Decorate a reader of another tool's file (``poetry.lock``, ``Pipfile`` …) so that a
    table or value of an unexpected type — a list where the format has a table, a number
    where it has a string — is reported as that file's :class:`ManifestError` instead
    of escaping as a ``TypeError`` from deep inside the reader.

    The reader's first argument is a :class:`~shipyard.formats.tomlfiles.TomlFile` or a
    :class:`~pathlib.Path`; its path names the file in the message.
    """

    def decorate(reader: _F) -> _F:
        @functools.wraps(reader)
        def wrapper(source: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return reader(source, *args, **kwargs)
            except (AttributeError, TypeError, KeyError, IndexError) as exc:
                path = getattr(source, "path", source)
                raise ManifestError(
                    f"{path} does not have the structure {format_name} writes: "
                    f"a value has an unexpected type ({type(exc).__name__}: {exc}).",
                    context=str(path),
                    hint=f"Check the file against {format_name}'s documentation, or "
                    "regenerate it with that tool.",
                ) from exc

        return cast(_F, wrapper)

    return decorate
