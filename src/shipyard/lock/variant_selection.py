"""Wheel variants in ``pylock.toml`` (PEP 825 draft): how the lock lists them and how
one is chosen at install time.

PEP 825 lists variant wheels in ``packages.wheels`` with the metadata inlined as
``[packages.variants-json]``; ``packaging`` 26.4 rejects variant names there
(pypa/packaging#1148), so shipyard writes, per package::

    wheels = [ …the plain wheels… ]               # what pip and uv install

    [packages.tool.shipyard]
    variant-wheels = [ {url, upload-time, size, hashes}, … ]   # like PEP 751 wheels

    [packages.tool.shipyard.variants-json]        # the version's -variants.json,
    "$schema" = "…"                               # its locked labels only

A package with variant wheels keeps a plain wheel or an sdist (the lock refuses one
without: :mod:`shipyard.project.variant_locking`), so the file stays valid PEP 751 and
other tools install the plain wheel.

At install time such a package reaches ``Pylock.select`` as a stand-in ``directory``
entry (:func:`stand_in_variant_packages`), so packaging still checks its marker, its
``requires-python`` and duplicates; :func:`choose_variant_file` then picks the file:
among the wheels whose tags fit, the variants the machine supports (static lists only:
the metadata's ``static-properties``, and the NVIDIA provider computed from the CUDA
driver version, :mod:`shipyard.specs.variant_providers`) in PEP 825's order, before the
plain wheels; the null variant after every other variant; the sdist last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import LockError

if TYPE_CHECKING:  # the environment stamp imports host_key: keep this module light
    from shipyard.accelerators import HostAccelerator
    from shipyard.models import DistFile, LockedDistribution, LockFile

__all__ = [
    "VARIANTS_JSON_KEY",
    "VARIANT_WHEELS_KEY",
    "choose_variant_file",
    "has_variant_wheels",
    "host_key",
    "split_variant_wheels",
    "stand_in_variant_packages",
    "variant_tool_table",
]

#: ``[packages.tool.shipyard]`` keys: the variant wheels, and their metadata.
VARIANT_WHEELS_KEY = "variant-wheels"
VARIANTS_JSON_KEY = "variants-json"

#: the ``directory.path`` of a stand-in (no real path starts with a NUL)
_STAND_IN = "\x00shipyard-wheel-variants:"


def _label(filename: str) -> str | None:
    from shipyard.index.variant_files import variant_label

    return variant_label(filename)


def split_variant_wheels(
    files: Sequence[DistFile], variants_json: Mapping[str, Any] | None
) -> tuple[list[DistFile], list[DistFile]]:
    """A locked version's wheels as (plain wheels, variant wheels). Without
    ``variants_json`` the variant wheels are left out: nothing could choose them."""
    wheels = [f for f in files if f.is_wheel]
    plain = [f for f in wheels if _label(f.filename) is None]
    variants = [f for f in wheels if _label(f.filename) is not None] if variants_json else []
    return plain, variants


def variant_tool_table(
    wheels: Sequence[Mapping[str, Any]], variants_json: Mapping[str, Any]
) -> dict[str, Any]:
    """A package's ``tool`` table for its variant wheels (PEP 751 wheel tables) and
    their metadata (PEP 825's ``variants-json`` document)."""
    return {"shipyard": {VARIANT_WHEELS_KEY: list(wheels), VARIANTS_JSON_KEY: dict(variants_json)}}


def _variant_table(package: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The package's ``[packages.tool.shipyard]`` when it lists variant wheels."""
    tool = package.get("tool")
    table = tool.get("shipyard") if isinstance(tool, Mapping) else None
    if isinstance(table, Mapping) and isinstance(table.get(VARIANT_WHEELS_KEY), list):
        return table
    return None


def has_variant_wheels(lock: LockFile) -> bool:
    """Whether any package of ``lock`` lists wheel variants (cheap: no parsing)."""
    return any(_variant_table(package) for package in lock.packages)


def host_key(host: HostAccelerator | None) -> str:
    """What of ``host`` the choice of wheel variants depends on, as text (``""`` or
    ``"cuda12.4"``): it keys cached selections and the environment stamp."""
    return f"cuda{host.cuda}" if host is not None and host.cuda is not None else ""


def stand_in_variant_packages(
    document: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    """``document`` for ``Pylock.select``, each package with variant wheels replaced by
    a stand-in ``directory`` entry (its name, version, marker, requires-python, index
    and dependencies kept).

    :returns: the document (a shallow copy) and stand-in path → the package as locked.
    """
    packages = document.get("packages")
    if not isinstance(packages, list) or not any(
        isinstance(p, Mapping) and _variant_table(p) for p in packages
    ):
        return dict(document), {}
    stand_ins: dict[str, Mapping[str, Any]] = {}
    replaced: list[Any] = []
    for index, package in enumerate(packages):
        if isinstance(package, Mapping) and _variant_table(package):
            path = f"{_STAND_IN}{index}"
            stand_ins[path] = package
            kept = {k: v for k, v in package.items() if k not in ("wheels", "sdist", "tool")}
            replaced.append({**kept, "directory": {"path": path}})
        else:
            replaced.append(package)
    return {**document, "packages": replaced}, stand_ins


def _file_url(table: Mapping[str, Any], base: Path) -> str | None:
    url = table.get("url")
    if isinstance(url, str):
        return url
    path = table.get("path")
    return Path(base, path).resolve().as_uri() if isinstance(path, str) else None


def _filename(table: Mapping[str, Any], base: Path) -> str:
    name = table.get("name")
    if isinstance(name, str) and name:
        return name
    return (_file_url(table, base) or "").rsplit("/", 1)[-1]


def _locked(
    package: Mapping[str, Any], table: Mapping[str, Any], base: Path, *, wheel: bool
) -> LockedDistribution:
    from packaging.utils import canonicalize_name

    from shipyard.models import LockedDistribution

    hashes = table.get("hashes")
    size = table.get("size")
    version = package.get("version")
    return LockedDistribution(
        name=canonicalize_name(str(package.get("name", ""))),
        version=str(version) if version is not None else None,
        url=_file_url(table, base),
        filename=_filename(table, base),
        sha256=hashes.get("sha256") if isinstance(hashes, Mapping) else None,
        size=size if isinstance(size, int) else None,
        is_wheel=wheel,
    )


def choose_variant_file(
    package: Mapping[str, Any],
    *,
    environment: Mapping[str, str],
    tags: Sequence[str],
    host: HostAccelerator | None,
    sdist: bool,
    lock_path: Path,
) -> LockedDistribution:
    """The file to install of a locked package with wheel variants: the sdist when
    ``sdist`` (``--no-binary``) and it has one; else of the wheels whose tags fit, the
    best group (PEP 825: supported variants in preference order, the null variant, the
    plain wheels) and in it the wheel with the most preferred tag; else the sdist.

    Variants whose metadata does not parse, or whose namespace only a plugin could
    judge (shipyard runs none), are skipped, as PEP 825 asks of installers.

    :param package: the ``[[packages]]`` table as locked.
    :param environment: the target interpreter's marker environment (PEP 817's
        ``enable-if``). :param tags: its wheel tags, most preferred first.
    :param host: the machine's accelerators (``None``: none).
    :param lock_path: the lock's path: anchors ``path`` entries, names it in errors.
    :raises LockError: when neither a wheel nor the sdist fits this environment.
    """
    from packaging.utils import InvalidWheelFilename

    from shipyard.specs.variant_providers import builtin_properties, resolve_supported
    from shipyard.specs.variants import (
        VariantMetadataError,
        group_wheels,
        parse_variant_metadata,
        parse_variant_wheel_filename,
    )

    base = lock_path.parent
    sdist_table = package.get("sdist")
    if sdist and isinstance(sdist_table, Mapping):
        return _locked(package, sdist_table, base, wheel=False)
    table = _variant_table(package) or {}
    rank = {tag: i for i, tag in enumerate(tags)}
    fitting: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for entry in [*(package.get("wheels") or []), *table.get(VARIANT_WHEELS_KEY, [])]:
        if not isinstance(entry, Mapping):
            continue
        filename = _filename(entry, base)
        try:
            parsed = parse_variant_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        score = min((rank[str(t)] for t in parsed.tags if str(t) in rank), default=None)
        if score is not None:
            fitting[filename] = (score, entry)
    metadata = None
    document = table.get(VARIANTS_JSON_KEY)
    if isinstance(document, Mapping):
        try:
            metadata = parse_variant_metadata(json.dumps(document), where=str(lock_path))
        except (VariantMetadataError, TypeError):
            metadata = None
    supported = {}
    if metadata is not None:
        builtin = builtin_properties(host.cuda if host is not None else None)
        resolution = resolve_supported(metadata, builtin=builtin, environment=environment)
        supported = dict(resolution.supported)
    groups = group_wheels(fitting, metadata, supported)
    if groups:
        best = min(groups[0], key=lambda filename: fitting[filename][0])
        return _locked(package, fitting[best][1], base, wheel=True)
    if isinstance(sdist_table, Mapping):
        return _locked(package, sdist_table, base, wheel=False)
    name, version = package.get("name"), package.get("version")
    raise LockError(
        f"The lock has no wheel of {name} {version} that fits this environment, and no "
        "sdist: its plain wheels' tags do not fit, and no wheel variant this machine "
        "supports does.",
        context=str(lock_path),
        hint="Run `shipyard lock` (the lock may predate a change of Python or platform), "
        "or check the accelerator this machine reports (SHIPYARD_ACCELERATOR).",
    )
