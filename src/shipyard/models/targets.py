"""Target environments: the marker values a universal lock must serve."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TargetEnvironment"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetEnvironment:
    """One environment the lock is resolved for (a Python minor on one platform).

    :param name: a stable short name, e.g. ``"cp311-linux-x86_64"``.
    :param markers: a complete PEP 508 marker environment for it.
    :param platform: the platform family: ``"linux"``, ``"macos"`` or ``"windows"``.
    :param machine: ``"x86_64"``, ``"aarch64"``, ``"arm64"`` or ``"AMD64"``.
    :param python: ``(major, minor)``.
    :param tags: for a target that is one real interpreter (a build environment, the
        environment being synced), its exact supported wheel tags; ``None`` for the
        generic targets of a universal lock, which match wheels by platform family.
    :param python_range: the target stands for every patch release of its minor from
        its ``python_full_version`` up to the next target of the same minor and
        platform (the default targets of a universal lock); ``False``: for exactly that
        Python (an interpreter, the Python a conda solve chose).
    """

    name: str
    markers: dict[str, str] = field(hash=False, compare=False)
    platform: str
    machine: str
    python: tuple[int, int]
    tags: frozenset[str] | None = field(default=None, hash=False, compare=False)
    python_range: bool = False
