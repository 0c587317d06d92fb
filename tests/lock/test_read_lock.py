"""Reading pylock.toml: the parsed-document cache returns exactly what TOML parsing does."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard.cache import Cache
from shipyard.errors import LockError
from shipyard.lock.pylock import read_lock

LOCK = """\
lock-version = "1.0"
created-by = "shipyard"
requires-python = ">=3.11"

[[packages]]
name = "alpha"
version = "1.0"
wheels = [
    { url = "https://example.invalid/alpha-1.0-py3-none-any.whl", upload-time = 2024-05-01T12:30:00Z, hashes = { sha256 = "SHA" } },
]

[tool.shipyard]
input-hash = "sha256:HASH"
""".replace("SHA", "a" * 64).replace("HASH", "b" * 64)


def test_cached_parse_equals_toml_parse_including_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(LOCK)
    cache = Cache(tmp_path / "cache")
    expected = tomllib.loads(LOCK)
    first = read_lock(path, cache)
    assert list(cache.bucket("locks").glob("*.marshal"))  # the parse was kept
    second = read_lock(path, cache)
    assert dict(first.document) == expected and dict(second.document) == expected
    wheel = second.packages[0]["wheels"][0]
    assert wheel["upload-time"] == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_an_edited_lock_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    cache = Cache(tmp_path / "cache")
    path.write_text(LOCK)
    read_lock(path, cache)
    path.write_text(LOCK.replace('version = "1.0"', 'version = "2.0"'))
    assert read_lock(path, cache).packages[0]["version"] == "2.0"


def test_a_damaged_cache_entry_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    cache = Cache(tmp_path / "cache")
    path.write_text(LOCK)
    read_lock(path, cache)
    for entry in cache.bucket("locks").glob("*.marshal"):
        entry.write_bytes(b"\x00garbage")
    assert dict(read_lock(path, cache).document) == tomllib.loads(LOCK)


def test_invalid_toml_is_a_lock_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text("lock-version = \n")
    with pytest.raises(LockError) as info:
        read_lock(path, Cache(tmp_path / "cache"))
    assert "not valid TOML" in str(info.value)
    assert str(path) in str(info.value)


def test_the_lock_is_typed_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(LOCK)
    lock = read_lock(path, Cache(tmp_path / "cache"))
    expected = tomllib.loads(LOCK)
    assert lock.path == path
    assert lock.lock_version == expected["lock-version"]
    assert lock.requires_python == expected.get("requires-python")
    assert [p["name"] for p in lock.packages] == [p["name"] for p in expected["packages"]]
    assert lock.conda is None
    with pytest.raises(TypeError):
        lock.packages[0]["version"] = "9"  # type: ignore[index]
    with pytest.raises(AttributeError):
        lock.extras = ("x",)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('lock-version = "1.0"\npackages = 3\n', "packages"),
        ('lock-version = "1.0"\nextras = "x"\npackages = []\n', "extras"),
        ('lock-version = "1.0"\npackages = []\n[tool]\nshipyard = 1\n', "tool.shipyard"),
    ],
)
def test_a_lock_with_mistyped_keys_is_a_lock_error(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    with pytest.raises(LockError) as info:
        read_lock(path)
    assert what in str(info.value) and str(path) in str(info.value)
