"""Exceptions by which the work inside a fork tells the fork driver
(:mod:`shipyard.resolver.forks`) to split the fork (:class:`SplitFork`), start it
over (:class:`RestartFork`), or start the whole resolution over with finer targets
(:class:`RefineTargets`)."""

from __future__ import annotations

from packaging.version import Version

__all__ = ["RefineTargets", "RestartFork", "SplitFork"]


class SplitFork(Exception):
    """Raised inside a fork when a chosen version serves only some of the targets that
    need it: the fork is split into ``admitted`` (the targets it serves) and the rest."""

    def __init__(self, admitted: int, package: str, version: Version) -> None:
        super().__init__(f"{package} {version}")
        self.admitted = admitted
        self.package = package
        self.version = version


class RefineTargets(Exception):
    """Raised when a Requires-Python draws a line inside a target's patch releases
    (``!=3.9.0,!=3.9.1``): the resolution starts over with the targets split there.

    :param boundaries: per ``(major, minor)``, the patch numbers new targets start at.
    """

    def __init__(self, boundaries: dict[tuple[int, int], set[int]]) -> None:
        super().__init__(str(boundaries))
        self.boundaries = boundaries


class RestartFork(Exception):
    """Raised when a version's metadata shows a Requires-Python its index did not: the
    fork starts over with the corrected table."""
