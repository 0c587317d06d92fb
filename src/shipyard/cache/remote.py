"""The remote tier of the built-wheel cache: what the installer asks of it, and its keys.

A team shares wheels built from sdists and git sources through an OCI registry
(``remote-cache = "oci://registry.example.com/team/shipyard-cache"``). Before
building, the installer asks the remote cache for the wheel; on a miss it builds and,
when pushing is on, hands the wheel back. The registry client lives higher up
(:mod:`shipyard.project.remote_cache`, over :mod:`shipyard.image.registry`); the
installer sees only :class:`RemoteWheelCache`, so ``install/`` stays below ``image/``.

An artifact is keyed by everything that determines the build's result: the source
(an sdist's sha256, or a git URL pinned to its commit — both fix the build-system
requirements the source declares), the interpreter's most specific tag, and
:data:`REMOTE_FORMAT`. Its tag in the repository is readable and carries the whole
key (:func:`artifact_tag`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Protocol

__all__ = ["REMOTE_FORMAT", "RemoteWheelCache", "artifact_tag", "remote_key"]

#: bump when the artifact format (manifest, annotations, key inputs) changes
REMOTE_FORMAT = 1

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def remote_key(source: str, build_key: str) -> str:
    """The artifact key: sha256 (hex) of the source key, the interpreter tag and
    :data:`REMOTE_FORMAT`.

    :param source: an sdist's sha256, or ``git-<sha256 of the pinned URL>``.
    :param build_key: the interpreter's most specific tag (``cp312-cp312-manylinux_2_36_x86_64``).
    """
    text = json.dumps(
        {"format": REMOTE_FORMAT, "source": source, "interpreter": build_key}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def artifact_tag(name: str, version: str | None, key: str) -> str:
    """The OCI tag of an artifact: ``<name>-<version>-<key>`` in the tag alphabet
    (``[A-Za-z0-9_.-]``, at most 128 characters; the name and version are shortened
    to fit, the 64-digit key never is).

    :param key: from :func:`remote_key`.
    """
    label = _TAG_UNSAFE.sub("_", f"{name}-{version or 'unversioned'}").lstrip(".-")
    return f"{label[: 128 - len(key) - 1]}-{key}"


class RemoteWheelCache(Protocol):
    """The remote tier as the installer uses it. No method raises for the registry's
    faults: an unreachable, slow or refusing registry is reported once and then left
    alone for the rest of the command, and the caller builds."""

    def pull(
        self, source: str, build_key: str, *, name: str, version: str | None, into: Path
    ) -> Path | None:
        """Download the wheel built from ``source`` for ``build_key`` into the empty
        directory ``into``, checked against the digest the registry's manifest names.

        :returns: the wheel's path (named as the manifest's title says), or ``None`` on
            a miss, a fault or a refused artifact (reported).
        """
        ...

    def refused(self, name: str, version: str | None, why: str) -> None:
        """The caller found the pulled wheel unusable (``why``, one clause): report it
        (it is built here instead)."""
        ...

    def push(
        self,
        source: str,
        build_key: str,
        wheel: Path,
        *,
        name: str,
        version: str | None,
        build_seconds: float,
    ) -> None:
        """Offer a wheel just built here; pushed only when pushing is on and the
        registry lacks it. ``build_seconds`` is how long the build took."""
        ...
