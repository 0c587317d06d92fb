"""The lock writer: any lock document it is given reads back equal with an independent
TOML parser (tomllib), whatever the strings hold, and keeps the lock's layout."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.lock.pylock import render_lock

_text = st.text(max_size=30)  # every code point: quotes, backslashes, controls, DEL, emoji
_key = st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), _text.filter(bool))
_moment = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_scalar = st.one_of(_text, st.booleans(), st.integers(-(2**63), 2**63 - 1), _moment)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_key, inner, max_size=4)),
    max_leaves=12,
)
_package = st.fixed_dictionaries(
    {"name": _text, "version": _text},
    optional={
        "marker": _text,
        "dependencies": st.lists(st.dictionaries(_key, _text, max_size=3), max_size=3),
        "sdist": st.dictionaries(_key, _value, max_size=4),
        "wheels": st.lists(st.dictionaries(_key, _value, max_size=4), max_size=3),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    top=st.dictionaries(_key.filter(lambda k: k not in ("packages", "tool")), _scalar, max_size=4),
    packages=st.lists(_package, max_size=4),
    tool=st.dictionaries(_key, _scalar, max_size=3),
)
def test_any_lock_document_reads_back_equal(
    top: dict[str, Any], packages: list[dict[str, Any]], tool: dict[str, Any]
) -> None:
    document = {**top, "packages": packages, "tool": {"shipyard": tool}}
    assert tomllib.loads(render_lock(document)) == document


def test_the_layout_keeps_files_inline_and_wheels_one_per_line() -> None:
    uploaded = datetime(2026, 11, 2, 10, 34, 18, tzinfo=UTC)
    wheel = {"url": "https://x/a-1-py3-none-any.whl", "upload-time": uploaded, "size": 5}
    document = {
        "lock-version": "1.0",
        "packages": [
            {
                "name": "a",
                "version": "1",
                "marker": 'sys_platform == "win32"',
                "dependencies": [{"name": "b"}],
                "wheels": [
                    wheel,
                    {**wheel, "upload-time": uploaded.astimezone(timezone(timedelta(hours=2)))},
                ],
            }
        ],
        "tool": {"shipyard": {"targets": ["cp311-linux-x86_64"]}},
    }
    lines = render_lock(document).splitlines()
    assert lines[2:] == [
        'lock-version = "1.0"',
        "",
        "[[packages]]",
        'name = "a"',
        'version = "1"',
        'marker = "sys_platform == \\"win32\\""',
        'dependencies = [{name = "b"}]',
        "wheels = [",
        '    {url = "https://x/a-1-py3-none-any.whl", upload-time = 2026-11-02T10:34:18Z, '
        "size = 5},",
        '    {url = "https://x/a-1-py3-none-any.whl", upload-time = 2026-11-02T12:34:18+02:00, '
        "size = 5},",
        "]",
        "",
        "[tool.shipyard]",
        'targets = ["cp311-linux-x86_64"]',
    ]
