"""The remote tier of downloaded archives (``remote-cache-include``): managed CPython
builds and conda packages, shared through the team cache by their sha256.

Both already come with a published sha256 (python-build-standalone's download table,
the conda lock's record), so an archive is one content-addressed OCI artifact tagged
:func:`blob_tag`; whoever pulls it checks the bytes against the sha256 *they* expect
before using them. The registry client lives higher up
(:mod:`shipyard.project.remote_blobs`); ``python/`` and ``conda/`` see only
:class:`RemoteBlobCache`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

__all__ = ["RemoteBlobCache", "blob_tag"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def blob_tag(sha256: str) -> str:
    """The OCI tag of an archive artifact: ``blob-sha256-<hex>``.

    :param sha256: the archive's digest, 64 hex digits (any case).
    :raises ValueError: when it is not 64 hex digits.
    """
    hexdigest = sha256.lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(hexdigest):
        raise ValueError(f"not a sha256: {sha256!r}")
    return f"blob-sha256-{hexdigest}"


class RemoteBlobCache(Protocol):
    """Downloaded archives in the remote cache. No method raises for the registry's
    faults or for a bad artifact: both are reported (a fault once per command) and the
    caller downloads from the archive's origin as usual."""

    def pull_blob(self, sha256: str, *, filename: str, label: str, into: Path) -> Path | None:
        """Download the archive whose sha256 is ``sha256`` to ``into / filename``,
        checked against that sha256 before it is returned.

        :param label: what it is, for messages (``Python 3.12.4``).
        :returns: the file, or ``None`` on a miss, a fault or a refused artifact.
        """
        ...

    def push_blob(self, path: Path, sha256: str, *, label: str) -> None:
        """Offer an archive just downloaded (and checked against ``sha256``) from its
        origin; pushed only when pushing is on and the registry lacks it (a tag is
        never overwritten)."""
        ...
