"""The conda half of ``lock``: solve ``[tool.shipyard.conda]`` per platform and derive
the PyPI side's targets (one per conda platform, at the solved Python) and the
distributions conda provides, so the PyPI resolution does not install them twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from shipyard.conda.config import CondaConfig, default_platforms
from shipyard.errors import LockError, ManifestError
from shipyard.models import LockFile, TargetEnvironment
from shipyard.project.manifest import Project
from shipyard.project.services import Services
from shipyard.specs.targets import target_for

if TYPE_CHECKING:
    from shipyard.conda.records import CondaRecord

__all__ = ["lock_conda"]


def lock_conda(
    project: Project,
    services: Services,
    conda: CondaConfig,
    targets: Sequence[TargetEnvironment],
    previous_lock: LockFile | None,
) -> tuple[tuple[TargetEnvironment, ...], dict[str, Version], dict[str, Any]]:
    """Solve the conda side and derive the PyPI side's targets from it.

    One PyPI target per conda platform, at the exact Python version the conda solve
    chose there. A PyPI distribution counts as provided by conda only when every
    platform provides the same version of it (the reporter warns otherwise).

    :returns: the targets, the provided distributions and the lock's
        ``[tool.shipyard.conda]`` table.
    :raises ManifestError: when no platform is left or the solved Python is outside
        ``requires-python``.
    :raises ResolutionError: when a platform's conda dependencies cannot be satisfied.
    """
    from shipyard.conda.config import CONDA_PLATFORMS
    from shipyard.conda.pypi import provided_distributions, python_record, python_spec
    from shipyard.conda.records import records_from_lock, records_to_lock
    from shipyard.conda.solve import solve_platforms
    from shipyard.project.environment import python_request_text
    from shipyard.python.discovery import parse_python_request

    platforms = conda.platforms or default_platforms([(t.platform, t.machine) for t in targets])
    if not platforms:
        raise ManifestError(
            "No conda platform is left to lock: [tool.shipyard] environments excludes "
            "every platform conda packages exist for.",
            context=str(project.pyproject),
            hint='Set [tool.shipyard.conda] platforms, e.g. ["linux-64", "osx-arm64"].',
        )
    text, _source = python_request_text(project, services)
    request = parse_python_request(text)
    python = python_spec(request.version, request.specifier, project.requires_python)
    specs = {
        p: conda.specs_for(p) + (() if conda.mentions("python", p) else (python,))
        for p in platforms
    }
    locked: dict[str, list[CondaRecord]] = {}
    previous = previous_lock.conda if previous_lock is not None else None
    tables = previous.get("packages", []) if previous is not None else []
    for platform in platforms:
        try:
            locked[platform] = records_from_lock(tables, platform)
        except LockError:
            locked = {}
            break
    solved = solve_platforms(
        conda, platforms, specs, cache_dir=services.cache.bucket("conda-repodata"), locked=locked
    )
    from shipyard.conda.mapping import at_hand

    extracted = at_hand(
        {r.url: r for records in solved.values() for r in records}.values(),
        services.cache.bucket("conda-pkgs"),
    )
    published = _published_mapping(
        services, conda, [r for records in solved.values() for r in records], extracted
    )
    conda_targets: list[TargetEnvironment] = []
    per_platform: list[dict[str, Version]] = []
    for platform in platforms:
        record = python_record(solved[platform])
        if record is None:
            raise ManifestError(
                f"The conda solve for {platform} has no python package.",
                context="[tool.shipyard.conda]",
                hint='Add python to the conda dependencies, e.g. "python 3.12.*".',
            )
        version = Version(record.version)
        if project.requires_python is not None and not project.requires_python.contains(
            version, prereleases=True
        ):
            raise ManifestError(
                f"The conda solve for {platform} chose Python {version}, which "
                f"requires-python ({project.requires_python}) excludes.",
                context=str(project.pyproject),
                hint="Make the conda python spec agree with requires-python.",
            )
        family, machine = CONDA_PLATFORMS[platform]
        conda_targets.append(
            target_for((version.major, version.minor), family, machine, str(version))
        )
        per_platform.append(
            provided_distributions(
                solved[platform], conda.pypi_mapping, published=published, at_hand=extracted
            )
        )
    provided = dict(per_platform[0])
    for other in per_platform[1:]:
        for name in list(provided):
            if other.get(name) != provided[name]:
                del provided[name]
    uneven = sorted({n for p in per_platform for n in p} - set(provided))
    if uneven:
        services.reporter.warning(
            "Conda provides these Python packages on some platforms only, or at different "
            f"versions, so PyPI will provide them everywhere: {', '.join(uneven)}."
        )
    table = {
        "channels": list(conda.channels),
        "platforms": list(platforms),
        "packages": records_to_lock(solved),
    }
    return tuple(conda_targets), provided, table


def _published_mapping(
    services: Services,
    conda: CondaConfig,
    records: Sequence[CondaRecord],
    extracted: Mapping[str, list[tuple[str, str | None]]],
) -> Mapping[str, str | None] | None:
    """The published conda→PyPI mapping, fetched only when a conda-forge Python package
    is neither named in the manifest nor at hand (``None`` otherwise or when it cannot
    be had; the reporter says so then)."""
    from shipyard.conda.mapping import published_mapping
    from shipyard.conda.pypi import is_python_package

    url = services.settings.conda_pypi_mapping_url
    needed = [
        r
        for r in records
        if r.channel.endswith("/conda-forge")
        and is_python_package(r)
        and r.name not in conda.pypi_mapping
        and r.name not in extracted
    ]
    if not url or not needed:
        return None
    mapping = published_mapping(services.client, services.cache, url)
    if mapping is None:
        services.reporter.warning(
            f"Could not fetch the conda-forge→PyPI name mapping ({url}); conda packages "
            "are taken to provide the PyPI project of the same name. Set "
            "[tool.shipyard.conda] pypi-mapping for the ones that differ."
        )
    return mapping
