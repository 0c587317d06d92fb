"""Reading TOML files users bring (Pipfile, Poetry and PDM tables, their locks) with
line numbers for messages, which ``tomllib`` does not give."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from shipyard.errors import ManifestError

__all__ = ["TomlFile", "read_toml"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("([^"]+)"|'([^']+)'|[A-Za-z0-9_.-]+)\s*=""")


class TomlFile:
    """A parsed TOML file and a way to find the line a key is written on.

    :param path: the file; :param data: its content (``tomllib``).
    """

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lines: dict[tuple[str, str], int] = {}
        self._tables: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), 1):
            header = _HEADER.match(line)
            if header:
                table = re.sub(r"\s*\.\s*", ".", header.group(1).replace('"', ""))
                self._tables.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(2) or key.group(3) or key.group(1)
                self._lines.setdefault((table, name), number)

    def where(self, table: str, key: str | None = None) -> str:
        """``file:line`` of ``key`` in ``[table]`` (of the table's header without a key;
        just ``file`` when neither is found)."""
        number = self._lines.get((table, key)) if key is not None else None
        if number is None and key is not None and "." not in key:
            # a dotted or inline table: [tool.poetry] dependencies.x = ...
            parent, _, last = table.rpartition(".")
            number = self._lines.get((parent, f"{last}.{key}"))
        if number is None:
            number = self._tables.get(table)
        return f"{self.path}:{number}" if number else str(self.path)


def read_toml(path: Path) -> TomlFile:
    """Read a TOML file.

    :raises ManifestError: naming the file and the parser's line when it is not TOML or
        not readable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"Cannot read {path}: {exc.strerror or exc}.", context=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path} is not UTF-8 text.", context=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ManifestError(
            f"{path} is not valid TOML: {exc}.",
            context=str(path),
            hint="Fix the syntax at the line shown, then import again.",
        ) from exc
    return TomlFile(path, text, data)
