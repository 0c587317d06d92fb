"""Accelerator variants in one lock: resolve once per variant, merge, guard.

A project whose sources list one index per accelerator
(``torch = [{ index = "pytorch-cu124" }, { index = "pytorch-cpu" }]``) is resolved
once per accelerator, each time with those packages pinned to that accelerator's
index. The resolutions are merged into one PEP 751 lock: a package every variant
locks alike is written once, as usual; the others are guarded so exactly one
variant is selected per machine.

PEP 751 markers cannot name an accelerator, but they can name dependency groups.
Each variant but the default gets a group, ``accelerator-<key>`` (``accelerator-
cuda12-4``), listed in the lock's ``dependency-groups``. A package only some variants
lock carries ``'accelerator-cuda12-4' in dependency_groups`` (for those variants) or,
for the default variant, ``'accelerator-cuda12-4' not in dependency_groups`` for
each other variant. So pip and uv reading the lock with no group install the
default (CPU) variant, ``uv pip install --group accelerator-cuda12-4`` would install
the CUDA one, and ``shipyard sync`` selects the group of the variant the machine has.
``[tool.shipyard.accelerators]`` records the variants, their accelerators and groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from pathlib import Path

    from shipyard.accelerators import AcceleratorSpec
    from shipyard.models import LockFile
    from shipyard.project.sources import NamedIndex
    from shipyard.resolver.lock_assembly import ResolvedPackage
    from shipyard.resolver.universal import Resolution

__all__ = ["merge_variants", "variant_for_target", "variant_group", "variants_record"]


def variant_group(spec: AcceleratorSpec) -> str:
    """The dependency group that selects a non-default variant (PEP 735 normalised):
    ``accelerator-cuda12-4``."""
    return canonicalize_name(f"accelerator-{spec.key}")


def _guard(present: Sequence[int], count: int, groups: Sequence[str]) -> str | None:
    """The marker selecting the variants ``present`` (indexes; 0 is the default) of
    ``count``; ``None`` when it is all of them."""
    if len(present) == count:
        return None
    if 0 in present:
        absent = [groups[i] for i in range(1, count) if i not in present]
        return " and ".join(f"'{g}' not in dependency_groups" for g in absent)
    return " or ".join(f"'{groups[i]}' in dependency_groups" for i in present)


def _and(marker: str | None, guard: str | None) -> str | None:
    if marker is None:
        return guard
    if guard is None:
        return marker
    return f"({marker}) and ({guard})"


def _package_key(package: ResolvedPackage) -> tuple[str, str, tuple[str, ...]]:
    return (
        package.name,
        str(package.version),
        tuple(f.url or f.filename for f in package.files),
    )


def merge_variants(
    resolutions: Sequence[tuple[AcceleratorSpec, Resolution]],
) -> Resolution:
    """One resolution holding every variant's packages, guarded by variant groups.

    :param resolutions: the default variant's first.
    :returns: packages sorted by name then version; the targets, forks and uncovered
        files of the default variant, the wall time summed.
    """
    from packaging.markers import Marker

    count = len(resolutions)
    groups = [variant_group(spec) for spec, _r in resolutions]
    found: dict[tuple[str, str, tuple[str, ...]], dict[int, ResolvedPackage]] = {}
    order: list[tuple[str, str, tuple[str, ...]]] = []
    for index, (_spec, resolution) in enumerate(resolutions):
        for package in resolution.packages:
            key = _package_key(package)
            if key not in found:
                found[key] = {}
                order.append(key)
            found[key][index] = package
    merged: list[ResolvedPackage] = []
    for key in order:
        by_variant = found[key]
        present = sorted(by_variant)
        first = by_variant[present[0]]
        markers = {p.marker for p in by_variant.values()}
        if len(markers) == 1:
            marker = _and(first.marker, _guard(present, count, groups))
        else:
            marker = " or ".join(
                f"({_and(by_variant[i].marker, _guard([i], count, groups))})" for i in present
            )
        dependencies = sorted({d for p in by_variant.values() for d in p.dependencies})
        mask = 0
        for p in by_variant.values():
            mask |= p.mask
        merged.append(
            replace(
                first,
                marker=str(Marker(marker)) if marker else None,
                dependencies=tuple(dependencies),
                mask=mask,
            )
        )
    merged.sort(key=lambda p: (p.name, p.version))
    default = resolutions[0][1]
    return replace(
        default,
        packages=tuple(merged),
        seconds=sum(r.seconds for _s, r in resolutions),
    )


def variants_record(
    variants: Sequence[tuple[AcceleratorSpec, Mapping[str, NamedIndex]]],
) -> dict[str, Any]:
    """The ``[tool.shipyard.accelerators]`` table: the default variant's key and, per
    variant, its accelerator, its group (none for the default) and the index each
    variant package comes from."""
    entries = []
    for position, (spec, indexes) in enumerate(variants):
        entry: dict[str, Any] = {"key": spec.key, "accelerator": spec.text}
        if position:
            entry["group"] = variant_group(spec)
        entry["indexes"] = {name: index.name for name, index in sorted(indexes.items())}
        entries.append(entry)
    return {"default": variants[0][0].key, "variants": entries}


def variant_for_target(
    lockfile: LockFile, accelerator: str | None, lock_path: Path
) -> tuple[str, str | None, str] | None:
    """The accelerator variant an image or a Dockerfile gets: ``--accelerator``'s, else
    the lock's default (never the build machine's own).

    :returns: ``(key, group, reason)`` as
        :func:`~shipyard.accelerators.choose_locked_variant` gives it, or ``None`` for a
        lock without accelerator variants.
    :raises UsageError: for ``--accelerator`` with a lock that has neither accelerator
        variants nor wheel variants for it to choose.
    """
    from shipyard.accelerators import choose_locked_variant
    from shipyard.errors import UsageError
    from shipyard.lock.variant_selection import has_variant_wheels

    variants = lockfile.accelerator_variants()
    if accelerator is not None and not variants and not has_variant_wheels(lockfile):
        raise UsageError(
            "--accelerator needs a lock with accelerator variants or wheel variants; this "
            "one has neither.",
            context=str(lock_path),
            hint="List one index per accelerator in [tool.shipyard.sources] (see the README).",
        )
    if not variants:
        return None
    return choose_locked_variant(variants, accelerator, detect=False)
