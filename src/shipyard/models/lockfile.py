"""A ``pylock.toml`` as one typed, read-only value (PEP 751).

:class:`LockFile` is read once (``shipyard.lock.pylock.read_lock``, with its marshal
cache) and passed to everything that looks at the lock: selection, export, image
build, freshness checks. Its top-level keys are checked when it is made, so callers
read typed properties instead of ``document.get("tool", {}).get(…)`` chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shipyard.errors import LockError

__all__ = ["LockFile"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _strings(document: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"`{key}` must be an array of strings", path)
    return tuple(value)


def _invalid(what: str, path: Path) -> LockError:
    return LockError(
        f"The lock file is invalid: {what}.",
        context=str(path),
        hint="Restore it from version control or delete it and run `shipyard lock`.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LockFile:
    """A PEP 751 lock: the standard's top-level keys typed, the packages as read, and
    shipyard's own ``[tool.shipyard]`` table.

    :param path: where the lock lives (``directory``/``path`` entries are relative to
        its directory); used in messages.
    :param document: the whole parsed TOML document, read-only (handed to
        ``packaging.pylock`` for selection and rendered again by ``lock``).
    :param requires_python: ``requires-python`` as written, or ``None``.
    :param environments: ``environments`` marker strings.
    :param extras: ``extras``; :param dependency_groups: ``dependency-groups``;
        :param default_groups: ``default-groups``.
    :param packages: the ``[[packages]]`` tables, read-only.
    :param tool: the ``[tool.shipyard]`` table (input hash, options, conda records).
    :param sha256: the hex digest of the file's bytes, or ``None`` for a lock made in
        memory (it keys what is cached about this lock).
    """

    path: Path
    document: Mapping[str, Any]
    lock_version: str
    requires_python: str | None
    environments: tuple[str, ...]
    extras: tuple[str, ...]
    dependency_groups: tuple[str, ...]
    default_groups: tuple[str, ...]
    packages: tuple[Mapping[str, Any], ...]
    tool: Mapping[str, Any]
    sha256: str | None = None

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], path: Path, *, sha256: str | None = None
    ) -> LockFile:
        """Type a parsed lock document (``tomllib`` output or a freshly built one).

        The document is wrapped, not copied: it must not be changed afterwards.

        :param sha256: the digest of the bytes it was parsed from, if any.

        :raises LockError: when a top-level key has the wrong type.
        """
        packages = document.get("packages", [])
        if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
            raise _invalid("`packages` must be an array of tables", path)
        tool = document.get("tool", {})
        shipyard = tool.get("shipyard", {}) if isinstance(tool, dict) else None
        if not isinstance(shipyard, dict):
            raise _invalid("`tool.shipyard` must be a table", path)
        requires = document.get("requires-python")
        if requires is not None and not isinstance(requires, str):
            raise _invalid("`requires-python` must be a string", path)
        return cls(
            path=path,
            document=MappingProxyType(dict(document)),
            lock_version=str(document.get("lock-version", "")),
            requires_python=requires,
            environments=_strings(document, "environments", path),
            extras=_strings(document, "extras", path),
            dependency_groups=_strings(document, "dependency-groups", path),
            default_groups=_strings(document, "default-groups", path),
            packages=tuple(MappingProxyType(p) for p in packages),
            tool=MappingProxyType(shipyard),
            sha256=sha256,
        )

    @property
    def conda(self) -> Mapping[str, Any] | None:
        """The conda records (``[tool.shipyard.conda]``), or ``None`` for a PyPI-only lock."""
        table = self.tool.get("conda")
        return table if isinstance(table, Mapping) and table else None

    @property
    def input_hash(self) -> str | None:
        """The hash of the inputs the lock was made from (``tool.shipyard.input-hash``)."""
        value = self.tool.get("input-hash")
        return value if isinstance(value, str) else None

    @property
    def options(self) -> Mapping[str, Any]:
        """The resolution options recorded when locking (``tool.shipyard.options``)."""
        value = self.tool.get("options")
        return value if isinstance(value, Mapping) else _EMPTY

    def accelerator_variants(self) -> tuple[tuple[str, str, str | None], ...]:
        """The accelerator variants the lock holds (``tool.shipyard.accelerators``), the
        default first: ``(key, accelerator, group)`` with ``group`` ``None`` for the
        default; empty for a lock without variants."""
        table = self.tool.get("accelerators")
        if not isinstance(table, Mapping):
            return ()
        found = []
        for entry in table.get("variants", ()):
            if isinstance(entry, Mapping) and isinstance(entry.get("accelerator"), str):
                group = entry.get("group")
                found.append(
                    (
                        str(entry.get("key", "")),
                        str(entry["accelerator"]),
                        group if isinstance(group, str) else None,
                    )
                )
        return tuple(found)

    def package_names(self) -> set[str]:
        """The ``name`` of every package, as written (PEP 751 names are normalized)."""
        return {str(p.get("name", "")) for p in self.packages}

    def to_dict(self) -> dict[str, Any]:
        """A mutable deep-enough copy of the document (top level and ``tool.shipyard``)
        for writing a changed lock."""
        document = dict(self.document)
        tool = dict(document.get("tool", {}))
        tool["shipyard"] = dict(self.tool)
        document["tool"] = tool
        return document
