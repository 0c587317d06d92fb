"""TOML text for the lock writer (TOML 1.0): keys, inline values, arrays with one
item per line, and nested tables as ``[a.b]`` sub-tables.

``render_lock`` in :mod:`shipyard.lock.pylock` writes the packages of a lock with
these, line by line, instead of going through tomlkit (which took 0.12 s for a
140-package lock). Every function returns text ``tomllib`` reads back as the value
given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["array_lines", "table_lines", "toml_key", "toml_value"]


def array_lines(key: str, items: Sequence[Any]) -> list[str]:
    """``key = [`` and one inline item per line."""
    return [f"{toml_key(key)} = [", *(f"    {toml_value(item)}," for item in items), "]"]


def table_lines(header: str, table: Mapping[str, Any], depth: int) -> list[str]:
    """``table`` under ``[header]`` (omitted when it holds only tables): plain keys
    first, arrays of tables one item per line, non-empty tables as sub-tables down to
    ``depth`` levels, inline below."""
    lines: list[str] = []
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping) and value and depth > 1:
            nested.append((f"{header}.{toml_key(key)}", value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            lines += array_lines(key, value)
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    out = ["", f"[{header}]", *lines] if lines else []
    for name, value in nested:
        out += table_lines(name, value, depth - 1)
    return out


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """``key`` bare when TOML allows it (``[A-Za-z0-9_-]+``), else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t \uXXXX …) are TOML basic-string escapes too;
    # TOML also wants DEL escaped, which JSON leaves as it is.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """One TOML value, inline (TOML 1.0): strings, booleans, integers, datetimes,
    arrays and inline tables.

    :raises TypeError: for any other type.
    """
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
