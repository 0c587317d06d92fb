"""The no-op ``sync`` fast path compares the environment stamp against a literal copy
of the default selection (so it imports nothing); the two must never drift apart."""

from __future__ import annotations

from shipyard.cli.cmd_sync import _default_selection_key
from shipyard.project.syncing import Selection


def test_the_fast_path_key_is_the_default_selections() -> None:
    assert _default_selection_key() == Selection().key()
