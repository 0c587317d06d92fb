"""Whether a lock still matches its inputs: cheap to import (no resolver, no index),
so ``sync`` of an up-to-date lock never loads the resolution machinery."""

from __future__ import annotations

from typing import Any

from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = ["lock_is_fresh", "settings_inputs"]


def settings_inputs(services: Services) -> dict[str, Any]:
    """The settings that change what a resolution can see (part of the input hash)."""
    from shipyard.index.http import public_url

    s = services.settings
    # Without credentials: rotating a token changes nothing a resolution sees.
    return {
        "indexes": [public_url(url) for url in s.index_urls()],
        "find-links": [public_url(link) for link in s.find_links],
        "no-binary": sorted(s.no_binary),
        "only-binary": sorted(s.only_binary),
    }


def lock_is_fresh(project: Project, services: Services, document: dict[str, Any] | None) -> bool:
    """Whether ``document`` (the parsed lock) was made from the current manifest and settings."""
    if document is None:
        return False
    tool = document.get("tool", {}).get("shipyard", {})
    return bool(tool.get("input-hash") == project.input_hash(settings_inputs(services)))
