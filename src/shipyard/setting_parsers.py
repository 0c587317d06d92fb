"""Parsers of setting values as :mod:`shipyard.settings`' registry uses them: each takes
the text of an environment variable (or a ``[tool.shipyard]`` string) and returns the
typed value, raising :class:`ValueError` with a short reason when it does not parse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from shipyard.errors import UsageError

__all__ = ["choice", "choice_list", "parse_bool", "parse_datetime", "parse_list"]


def parse_datetime(text: str) -> datetime:
    """Parse ``--exclude-newer``: an RFC 3339 timestamp or a ``YYYY-MM-DD`` date (UTC end of day
    is *not* implied: a date means its midnight UTC).

    :raises UsageError: on anything else.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"Invalid date {text!r}.",
            hint="Use a date like 2024-06-01 or a timestamp like 2024-06-01T12:00:00Z.",
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off/""`` (any case).

    :raises ValueError: on anything else.
    """
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {text!r}")


def parse_list(text: str) -> list[str]:
    """Items separated by commas and/or whitespace; empty items are dropped."""
    return [part for part in text.replace(",", " ").split() if part]


def choice(*choices: str) -> Callable[[str], str]:
    """A parser accepting exactly one of ``choices``.

    The parser raises :class:`ValueError` for anything else."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def choice_list(*choices: str) -> Callable[[str], list[str]]:
    """A parser of a :func:`parse_list` whose every item is one of ``choices``
    (duplicates dropped, order kept). The parser carries ``choices`` as an attribute,
    so a TOML array can be checked the same way (joined with spaces).

    The parser raises :class:`ValueError` naming the first unknown item."""

    def parse(text: str) -> list[str]:
        items = list(dict.fromkeys(parse_list(text)))
        for item in items:
            if item not in choices:
                raise ValueError(f"expected some of {', '.join(choices)}, got {item!r}")
        return items

    parse.choices = choices  # type: ignore[attr-defined]
    return parse
