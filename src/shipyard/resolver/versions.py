"""One project's versions as a table of bit positions, and sets of them as ranges.

The resolver sees a project as the list of its versions, newest first (bit ``i``
for ``versions[i]``), so every set of versions it reasons about is an ``int``.
Each distinct specifier is evaluated once per project; Requires-Python is read
from the index's per-file ``data-requires-python`` (PEP 503) without building
the files of versions nobody looks at, and turned into "which targets can
install this version" once per distinct text.

:func:`describe` goes the other way, for explanations: a bitset becomes the
shortest specifier text that says the same over the versions a reader cares
about (``>=1.5``, ``>=1.20,<1.22``, ``==2.1.0``), skipping pre-releases and
yanked versions that were never candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from shipyard.models import ProjectVersion

__all__ = ["VersionTable", "bit_positions", "describe", "specifier"]


@lru_cache(maxsize=8192)
def specifier(text: str) -> SpecifierSet | None:
    """A parsed specifier (cached), ``None`` when ``text`` is not one."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def bit_positions(bits: int) -> list[int]:
    """The positions of the set bits of ``bits``, lowest first."""
    positions = []
    while bits:
        low = bits & -bits
        positions.append(low.bit_length() - 1)
        bits ^= low
    return positions


class VersionTable:
    """One project's versions (newest first) with bitsets over their positions.

    :param versions: as :meth:`Repository.versions` returns them, newest first.
    """

    __slots__ = (
        "_by_text",
        "_masks",
        "_python_bits",
        "_spec_bits",
        "all_bits",
        "position",
        "requires_python",
        "stable_bits",
        "unyanked_bits",
        "versions",
    )

    def __init__(self, versions: Sequence[ProjectVersion]) -> None:
        self.versions = versions
        self.position = {pv.version: i for i, pv in enumerate(versions)}
        self.all_bits = (1 << len(versions)) - 1
        stable = unyanked = 0
        for i, pv in enumerate(versions):
            if not pv.version.is_prerelease:
                stable |= 1 << i
            if not pv.yanked:
                unyanked |= 1 << i
        self.stable_bits = stable
        self.unyanked_bits = unyanked
        self._spec_bits: dict[SpecifierSet, int] = {}
        self._by_text: dict[str, int] | None = None
        #: per position: the distinct Requires-Python texts of its files (None: none given)
        self.requires_python: list[tuple[str | None, ...]] = [
            pv.requires_python_texts() for pv in versions
        ]
        self._python_bits: dict[int, int] = {}
        self._masks: list[int] | None = None

    def __len__(self) -> int:
        return len(self.versions)

    def matching(self, spec: SpecifierSet) -> int:
        """The versions ``spec`` admits (pre-releases included: the policy is applied
        when choosing, not here)."""
        bits = self._spec_bits.get(spec)
        if bits is None:
            if not len(spec):
                bits = self.all_bits
            else:
                bits = 0
                contains = spec.contains
                for i, pv in enumerate(self.versions):
                    if contains(pv.version, prereleases=True):
                        bits |= 1 << i
            self._spec_bits[spec] = bits
        return bits

    def equal_to(self, text: str) -> int:
        """The versions equal to ``text`` under PEP 440 (``1.0`` and ``1.0.0``)."""
        if self._by_text is None:
            self._by_text = {}
            for i, pv in enumerate(self.versions):
                key = str(pv.version)
                self._by_text[key] = self._by_text.get(key, 0) | 1 << i
        try:
            key = str(Version(text))
        except InvalidVersion:
            key = text
        return self._by_text.get(key, 0)

    def python_masks(
        self,
        admitted: Callable[[str], int],
        capped: Callable[[tuple[str | None, ...]], int],
    ) -> list[int]:
        """Per position, the targets whose Python the version may be used for.

        That is what its own Requires-Python admits, less the targets a *newer* final
        release caps off (``<3.15``): once a project declares that it does not support
        a Python, its older releases — made before that Python existed, silent about it
        rather than compatible — are not used for it either.

        :param admitted: Requires-Python text → the targets it admits.
        :param capped: a version's Requires-Python texts (one per file, ``None`` for
            none) → the targets they leave out from above (not admitted, while some
            lower Python is admitted and no higher one).
        """
        masks = self._masks
        if masks is None:
            masks = []
            inherited = 0
            for position, texts in enumerate(self.requires_python):
                own = 0
                for text in texts:
                    own |= -1 if text is None else admitted(text)
                masks.append(own & ~inherited)
                if self.stable_bits >> position & self.unyanked_bits >> position & 1:
                    inherited |= capped(texts)
            self._masks = masks
        return masks

    def admitting(
        self,
        mask: int,
        admitted: Callable[[str], int],
        capped: Callable[[tuple[str | None, ...]], int],
        *,
        every: bool,
    ) -> int:
        """The versions that may be used for the targets of ``mask`` (see
        :meth:`python_masks`): for every one of them (``every``) or for at least one."""
        key = mask << 1 | every
        bits = self._python_bits.get(key)
        if bits is not None:
            return bits
        bits = 0
        for position, targets in enumerate(self.python_masks(admitted, capped)):
            targets &= mask
            if targets == mask if every else targets:
                bits |= 1 << position
        self._python_bits[key] = bits
        return bits

    def set_requires_python(self, position: int, text: str) -> bool:
        """Record the Requires-Python of a version's metadata when the index gave none
        (find-links, an index without ``data-requires-python``); returns whether that
        changed anything (the caller must then resolve again)."""
        if self.requires_python[position] == (text,):
            return False
        if None not in self.requires_python[position]:
            return False  # the index's own value stands
        self.requires_python[position] = (text,)
        self._python_bits.clear()
        self._masks = None
        return True


def _run_text(
    versions: Sequence[Version], low: int, high: int, below: int | None, above: int | None
) -> str:
    """A specifier for the versions ``versions[low..high]`` (ascending order), given
    the nearest relevant versions outside the run, ``below`` and ``above``."""
    if low == high and below is not None and above is not None:
        return f"=={versions[low]}"
    parts = []
    if below is not None:
        parts.append(f">={versions[low]}")
    if above is not None:
        parts.append(f"<{versions[above]}")
    return ",".join(parts)


def describe(table: VersionTable, bits: int, relevant: int | None = None) -> str:
    """The specifier text for a set of versions, as a reader wants it.

    :param relevant: the versions that matter (default: final, unyanked ones, plus those
        in ``bits``); the others may fall on either side of a boundary.
    :returns: ``""`` for every relevant version, ``"==1.2"``, ``">=1.5"``,
        ``">=1.20,<1.22"``, runs joined with ``" or "``; ``"(none)"`` for no version.
    """
    if relevant is None:
        relevant = (table.stable_bits & table.unyanked_bits) | bits
    relevant |= bits
    if not bits:
        return "(none)"
    if bits & relevant == relevant:
        return ""
    # ascending order: position n-1 is the oldest
    count = len(table.versions)
    ordered = [count - 1 - p for p in bit_positions(relevant)]
    ordered.sort()
    versions = [table.versions[count - 1 - i].version for i in ordered]
    inside = [bool(bits >> (count - 1 - i) & 1) for i in ordered]
    runs: list[str] = []
    start: int | None = None
    for index, member in enumerate([*inside, False]):
        if member and start is None:
            start = index
        elif not member and start is not None:
            below = start - 1 if start > 0 else None
            above = index if index < len(inside) else None
            runs.append(_run_text(versions, start, index - 1, below, above))
            start = None
    return " or ".join(runs)
