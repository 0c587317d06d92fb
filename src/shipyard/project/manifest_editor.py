"""Editing pyproject.toml in place: requirements, sources, ``[tool.shipyard]`` values.

:class:`ManifestEditor` changes a manifest through ``tomlkit``, so comments, order and
formatting the user wrote stay as they were; :meth:`ManifestEditor.restore` puts the
original text back when the operation that edited it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shipyard.atomic import atomic_write_bytes
from shipyard.errors import ManifestError

__all__ = ["ManifestEditor"]


class ManifestEditor:
    """Edits pyproject.toml with tomlkit, keeping comments and layout.

    The original bytes are kept: :meth:`restore` writes them back byte for byte.
    """

    def __init__(self, path: Path) -> None:
        import tomlkit

        self.path = path
        self.original = path.read_bytes()
        try:
            self.document = tomlkit.parse(self.original.decode("utf-8"))
        except Exception as exc:
            raise ManifestError(
                f"pyproject.toml is not valid TOML: {exc}.", context=str(path)
            ) from exc

    def _list(self, group: str | None, optional: str | None, create: bool) -> Any:
        """The tomlkit array holding that list (created when ``create``), or ``None``."""
        import tomlkit

        doc = self.document
        if group is not None:
            if "dependency-groups" not in doc:
                if not create:
                    return None
                doc.add(tomlkit.nl())
                doc["dependency-groups"] = tomlkit.table()
            return _named_array(doc["dependency-groups"], group, create)
        project = doc.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        if optional is not None:
            if "optional-dependencies" not in project:
                if not create:
                    return None
                project["optional-dependencies"] = tomlkit.table()
            return _named_array(project["optional-dependencies"], optional, create)
        return _named_array(project, "dependencies", create, normalize=False)

    def add(
        self, requirement: Requirement, *, group: str | None = None, optional: str | None = None
    ) -> None:
        """Add ``requirement``, replacing an existing entry for the same project in that list."""
        array = self._list(group, optional, create=True)
        _put(array, str(requirement), canonicalize_name(requirement.name), _entry_name)

    def remove(self, name: str, *, group: str | None = None, optional: str | None = None) -> bool:
        """Remove every entry for ``name`` from that list; returns False when none was there."""
        array = self._list(group, optional, create=False)
        return array is not None and _drop(array, canonicalize_name(name), _entry_name)

    def set_requirement_text(
        self, name: str, text: str, *, group: str | None = None, optional: str | None = None
    ) -> None:
        """Replace the entry for ``name`` in that list with ``text`` (after ``add``)."""
        array = self._list(group, optional, create=False)
        if array is None:
            return
        wanted = canonicalize_name(name)
        for index, item in enumerate(list(array)):
            if isinstance(item, str) and _entry_name(item) == wanted:
                array[index] = text

    def _conda_specs(self, platform: str | None, create: bool) -> Any:
        """The tomlkit array of ``[tool.shipyard.conda] dependencies`` (or of
        ``[tool.shipyard.conda.target.<platform>]``), created when ``create``."""
        import tomlkit

        table: Any = self.document
        path = ["tool", "shipyard", "conda"] + (["target", platform] if platform else [])
        for index, key in enumerate(path):
            if key not in table:
                if not create:
                    return None
                if index == 0:
                    self.document.add(tomlkit.nl())
                # tool, tool.shipyard and …conda.target hold only tables: no empty headers.
                table[key] = tomlkit.table(is_super_table=index < 2 or key == "target")
            table = table[key]
        if "dependencies" not in table:
            if not create:
                return None
            array = tomlkit.array()
            array.multiline(True)
            table["dependencies"] = array
        return table["dependencies"]

    def add_conda(self, spec: str, *, platform: str | None = None) -> None:
        """Add a conda MatchSpec, replacing the existing spec for the same package."""
        from shipyard.conda.config import spec_name

        _put(self._conda_specs(platform, create=True), spec, spec_name(spec), spec_name)

    def remove_conda(self, name: str, *, platform: str | None = None) -> bool:
        """Remove the conda specs for package ``name``; returns False when there was none."""
        from shipyard.conda.config import spec_name

        array = self._conda_specs(platform, create=False)
        return array is not None and _drop(array, spec_name(name), spec_name)

    def set_tool_value(self, key: str, value: Any, *, conda: bool = False) -> None:
        """Set ``[tool.shipyard] key`` (or ``[tool.shipyard.conda] key``) to ``value``."""
        import tomlkit

        table: Any = self.document
        for index, name in enumerate(["tool", "shipyard"] + (["conda"] if conda else [])):
            if name not in table:
                table[name] = tomlkit.table(is_super_table=index == 0)
            table = table[name]
        if isinstance(value, list):
            array = tomlkit.array()
            array.extend(value)
            if len(value) > 2:
                array.multiline(True)
            value = array
        table[key] = value

    def set_source(self, name: str, entry: Mapping[str, Any]) -> None:
        """Set ``[tool.shipyard.sources] name`` to the inline table ``entry``."""
        import tomlkit

        table: Any = self.document
        for index, key in enumerate(["tool", "shipyard", "sources"]):
            if key not in table:
                table[key] = tomlkit.table(is_super_table=index == 0)
            table = table[key]
        inline = tomlkit.inline_table()
        inline.update(entry)
        table[name] = inline

    def has_project_table(self) -> bool:
        """Whether the document has a ``[project]`` table."""
        return "project" in self.document

    def ensure_project(
        self, name: str, *, version: str | None = None, description: str | None = None
    ) -> bool:
        """Create ``[project]`` (name, version, description, empty dependencies) at the top
        when it is missing; returns True when it was created."""
        import tomlkit

        if "project" in self.document:
            return False
        table = tomlkit.table()
        table["name"] = name
        table["version"] = version or "0.1.0"
        if description:
            table["description"] = description
        table["dependencies"] = tomlkit.array()
        # [project] first, as PEP 621 projects are written
        body = list(self.document.body)
        leading = 0  # comments at the top stay there
        while leading < len(body) and body[leading][0] is None:
            leading += 1
        new = tomlkit.document()
        for _, item in body[:leading]:
            new.add(item)
        new["project"] = table
        new.add(tomlkit.nl())
        for key, item in body[leading:]:
            if key is None:
                new.add(item)
            else:
                new.append(key, item)
        self.document = new
        return True

    def set_project_value(self, key: str, value: Any) -> None:
        """Set ``[project] key`` (``scripts`` takes a table of name → entry point)."""
        import tomlkit

        project = self.document.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        if isinstance(value, dict):
            table = project.get(key)
            if table is None:
                table = tomlkit.table()
                project[key] = table
            for name, item in value.items():
                table[name] = item
            return
        project[key] = value

    def remove_build_system(self) -> None:
        """Drop ``[build-system]`` (a Poetry project in non-package mode has nothing to build)."""
        if "build-system" in self.document:
            del self.document["build-system"]

    def set_requires_python(self, text: str) -> None:
        """Set ``[project] requires-python``."""
        project = self.document.get("project")
        if project is None:
            raise ManifestError("pyproject.toml has no [project] table.", context=str(self.path))
        project["requires-python"] = text

    def text(self) -> str:
        """The edited document."""
        import tomlkit

        return tomlkit.dumps(self.document)

    def write(self) -> None:
        """Write the edited document atomically."""
        atomic_write_bytes(self.path, self.text().encode("utf-8"))

    def restore(self) -> None:
        """Put the original bytes back (atomically)."""
        atomic_write_bytes(self.path, self.original)


def _put(array: Any, text: str, key: str, key_of: Callable[[str], str | None]) -> None:
    """Replace the entry of ``array`` whose ``key_of`` is ``key`` with ``text``, or append."""
    for index, item in enumerate(list(array)):
        if isinstance(item, str) and key_of(item) == key:
            array[index] = text
            return
    array.append(text)
    if hasattr(array, "multiline"):
        array.multiline(True)


def _drop(array: Any, key: str, key_of: Callable[[str], str | None]) -> bool:
    """Remove every entry whose ``key_of`` is ``key``; returns whether any was there."""
    indexes = [
        i for i, item in enumerate(list(array)) if isinstance(item, str) and key_of(item) == key
    ]
    for index in reversed(indexes):
        del array[index]
    return bool(indexes)


def _named_array(table: Any, name: str, create: bool, *, normalize: bool = True) -> Any:
    """``table[name]`` (matching PEP 503-normalized keys when ``normalize``), created as an
    empty multi-line array when missing and ``create``; ``None`` when missing otherwise."""
    wanted = canonicalize_name(name) if normalize else name
    key = next((k for k in table if (canonicalize_name(k) if normalize else k) == wanted), None)
    if key is None:
        if not create:
            return None
        import tomlkit

        array = tomlkit.array()
        array.multiline(True)
        table[name] = array
        key = name
    return table[key]


def _entry_name(text: str) -> str | None:
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None
