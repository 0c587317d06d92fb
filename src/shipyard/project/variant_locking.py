"""Wheel variants in a lock (PEP 825 draft): after resolving, each locked version with
variant wheels gets its index's ``{name}-{version}-variants.json``, so ``sync`` can
choose among them without asking the index again.

A variant wheel is kept only when the metadata lists its label; without metadata (the
index lists none, or it is invalid) the version's variant wheels are left out with a
warning, as PEP 825 says (installers treat them as incompatible). The lock lists the
variants beside the plain wheels (:mod:`shipyard.lock.variant_selection`), and a
version must still have a plain wheel or an sdist: ``pylock.toml``'s ``wheels`` cannot
hold variant names yet (``packaging`` 26.4 rejects them, pypa/packaging#1148), and a
package entry with no wheel and no sdist is invalid PEP 751.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from shipyard.errors import LockError
from shipyard.index.variant_files import variant_label
from shipyard.specs.variants import NULL_LABEL, VariantMetadataError

if TYPE_CHECKING:
    from shipyard.index.repository import IndexRepository
    from shipyard.reporting import Reporter
    from shipyard.resolver.lock_assembly import ResolvedPackage
    from shipyard.resolver.universal import Resolution

__all__ = ["attach_variant_metadata"]


def attach_variant_metadata(
    resolution: Resolution, repository: IndexRepository, reporter: Reporter
) -> Resolution:
    """``resolution`` with the variant metadata of every package that has variant
    wheels (``ResolvedPackage.variants_json``: the labels of its locked wheels only) and
    without the variant wheels that metadata does not vouch for.

    :raises LockError: for a package left with variant wheels alone (no plain wheel, no
        sdist), which ``pylock.toml`` cannot hold yet.
    :raises NetworkError: when the index cannot be reached.
    """
    if not any(variant_label(f.filename) for p in resolution.packages for f in p.files):
        return resolution
    packages = [_with_metadata(p, repository, reporter) for p in resolution.packages]
    return replace(resolution, packages=tuple(packages))


def _with_metadata(
    package: ResolvedPackage, repository: IndexRepository, reporter: Reporter
) -> ResolvedPackage:
    labels = {f.filename: variant_label(f.filename) for f in package.files}
    if not package.project_version.index or not any(labels.values()):
        return package
    what = f"{package.name} {package.version}"
    try:
        metadata = repository.variant_metadata(package.project_version)
    except VariantMetadataError as exc:
        reporter.warning(f"Skipping the wheel variants of {what}: {exc.message}")
        metadata = None
    else:
        if metadata is None:
            reporter.warning(
                f"Skipping the wheel variants of {what}: its index lists no "
                f"{package.name.replace('-', '_')}-{package.version}-variants.json "
                "(PEP 825) saying what they need."
            )
    known = set(metadata.variants) | {NULL_LABEL} if metadata is not None else set()
    unknown = sorted({str(v) for v in labels.values() if v and v not in known})
    if metadata is not None and unknown:
        reporter.warning(
            f"Skipping wheel variants of {what} its variant metadata does not list: "
            f"{', '.join(unknown)}."
        )
    files = tuple(f for f in package.files if labels[f.filename] in known or not labels[f.filename])
    kept = sorted({str(labels[f.filename]) for f in files if labels[f.filename]})
    if not any(not labels[f.filename] for f in files):
        raise LockError(
            f"{what} has only wheel variants (PEP 825 draft) for this lock: no plain wheel "
            "and no sdist.",
            context=package.project_version.index,
            hint="pylock.toml cannot list variant wheels alone yet (packaging does not "
            "accept their names, pypa/packaging#1148): require a version that also has a "
            f"plain wheel or an sdist (e.g. '{package.name}<{package.version}'), or ask "
            "its publisher for one.",
        )
    variants_json = metadata.as_dict(kept) if metadata is not None and kept else None
    return replace(package, files=files, variants_json=variants_json)
