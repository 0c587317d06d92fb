"""Versions of a project as an index offers them, and the packed rows the page cache
keeps them in (files are rebuilt from rows only for the versions a resolution uses)."""

from __future__ import annotations

import marshal
from datetime import datetime
from typing import Any

from packaging.version import Version

from shipyard.models.files import DistFile

__all__ = ["VARIANTS_JSON_SUFFIX", "ProjectVersion", "Row", "VersionGroup", "rows_to_files"]

#: The end of a version's wheel variant metadata file, ``{name}-{version}-variants.json``
#: (PEP 825 draft): listed on the index page with the version's files, kept apart here.
VARIANTS_JSON_SUFFIX = "-variants.json"

#: one file as the page cache keeps it: ``(filename, url, hashes, size, upload time as
#: ISO 8601 text, requires-python, yanked, metadata)``; see :func:`rows_to_files`
Row = tuple[Any, ...]

#: one version of a page as the cache keeps it: the version text as in the filenames,
#: whether every file is yanked, the distinct Requires-Python values of its files, and
#: its rows (see :func:`rows_to_files`) packed with ``marshal``, wheels first (a
#: ``-variants.json`` row last)
VersionGroup = tuple[str, bool, tuple["str | None", ...], bytes]


def rows_to_files(rows: list[tuple[Any, ...]]) -> tuple[DistFile, ...]:
    """Build the files of cached rows: ``(filename, url, hashes, size, upload time as
    ISO 8601 text, requires-python, yanked, metadata)`` tuples, as the page cache keeps
    them."""
    times: dict[str, datetime] = {}
    files = []
    for filename, url, hashes, size, uploaded, requires_python, yanked, metadata in rows:
        when = None
        if uploaded is not None:
            when = times.get(uploaded)
            if when is None:
                when = times[uploaded] = datetime.fromisoformat(uploaded)
        files.append(
            DistFile(
                filename=filename,
                url=url,
                hashes=tuple(tuple(pair) for pair in hashes),
                size=size,
                upload_time=when,
                requires_python=requires_python,
                yanked=yanked,
                metadata=metadata,
            )
        )
    return tuple(files)


class ProjectVersion:
    """One version of a project and the files that carry it.

    :param version: the parsed version.
    :param files: its wheels and sdists (wheels first, in index order).
    :param index: the URL of the index (or find-links location) that provided it.
    :param group: instead of ``files``, the version as the page cache keeps it
        (:data:`VersionGroup`: its rows packed, with its yanked
        flag and Requires-Python values beside them); the files are built on first use,
        so the hundreds of versions a resolution never looks at cost a few hundred
        bytes each instead of a few thousand Python objects.
    :param variants_json: the version's ``-variants.json`` (PEP 825 draft), when the
        index lists one; one found among ``files`` or the group's rows is taken out of
        them and kept here instead.
    """

    __slots__ = (
        "_files",
        "_packed",
        "_python",
        "_variants_json",
        "_yanked",
        "index",
        "version",
    )

    def __init__(
        self,
        version: Version,
        files: tuple[DistFile, ...] = (),
        index: str = "",
        *,
        group: VersionGroup | None = None,
        variants_json: DistFile | None = None,
    ) -> None:
        self.version = version
        self.index = index
        self._files: tuple[DistFile, ...] | None = None
        self._packed: bytes | None = None
        self._variants_json = variants_json
        if group is not None:
            _text, self._yanked, self._python, self._packed = group
        else:
            files = tuple(files)
            if any(f.filename.endswith(VARIANTS_JSON_SUFFIX) for f in files):
                found = [f for f in files if f.filename.endswith(VARIANTS_JSON_SUFFIX)]
                self._variants_json = variants_json or found[0]
                files = tuple(f for f in files if f not in found)
            self._files = files
            self._python = tuple(dict.fromkeys(f.requires_python or None for f in files)) or (None,)
            self._yanked = bool(files) and all(f.yanked is not None for f in files)

    @property
    def files(self) -> tuple[DistFile, ...]:
        """Its wheels and sdists, wheels first."""
        files = self._files
        if files is None:
            files = rows_to_files(marshal.loads(self._packed or b"N"))
            if files and files[-1].filename.endswith(VARIANTS_JSON_SUFFIX):
                self._variants_json = self._variants_json or files[-1]
                files = files[:-1]
            self._files = files
            self._packed = None
        return files

    @property
    def variants_json(self) -> DistFile | None:
        """The version's ``{name}-{version}-variants.json`` on its index (PEP 825 draft:
        the labels of its variant wheels and their properties), or ``None``."""
        if self._files is None:
            self.files  # noqa: B018 - unpacking finds it
        return self._variants_json

    def requires_python_texts(self) -> tuple[str | None, ...]:
        """The distinct ``Requires-Python`` values its files declare on the index
        (``None`` for a file that declares none)."""
        return self._python

    @property
    def yanked(self) -> bool:
        """True when every file of this version is yanked (PEP 592)."""
        return self._yanked

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ProjectVersion)
            and (self.version, self.index) == (other.version, other.index)
            and self.files == other.files
            and self.variants_json == other.variants_json
        )

    def __hash__(self) -> int:
        return hash((self.version, self.index))

    def __repr__(self) -> str:
        return f"ProjectVersion({self.version!s}, {len(self.files)} files, {self.index!r})"
