"""Platform-scoped indexes: ``[[tool.shipyard.index]]`` tables with ``platforms``.

A piwheels-style index (``https://www.piwheels.org/simple``, ``platforms =
["linux/arm/v7"]``) has wheels for a few platforms of projects whose own releases lack
them. It is not one of the indexes asked in order (where the first that has a project
supplies all of its versions): its wheels for its platforms join the files of the
versions the other indexes offer, and it is asked only when the lock has a target on
one of its platforms (see :class:`~shipyard.index.repository.IndexRepository`
``joined``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from shipyard.errors import ManifestError
from shipyard.models import TargetEnvironment
from shipyard.project.manifest import Project
from shipyard.project.sources import named_indexes
from shipyard.specs.targets import OCI_PLATFORMS, oci_platform_target, wheel_for_platforms

__all__ = ["platform_indexes"]


def platform_indexes(
    project: Project | None, targets: Sequence[TargetEnvironment] | None = None
) -> list[tuple[str, Callable[[str], bool]]]:
    """The project's platform-scoped indexes, as ``IndexRepository(joined=…)`` takes them:
    (simple index root, a test keeping the wheel filenames built for its platforms).

    :param project: ``None`` (no project, ``pip compile``) has none.
    :param targets: the lock's targets: an index none of whose platforms they have is
        left out (never asked). ``None``: every one is kept.
    :raises ManifestError: for a platform shipyard cannot lock for, or an index that is
        also ``default`` or ``explicit`` (those answer for whole projects).
    """
    if project is None:
        return []
    wanted = None if targets is None else {(t.platform, t.machine) for t in targets}
    found: list[tuple[str, Callable[[str], bool]]] = []
    for index in named_indexes(project.tool, project.pyproject):
        if not index.platforms:
            continue
        if index.default or index.explicit:
            raise ManifestError(
                f"The index {index.name!r} has platforms and is "
                f"{'the default index' if index.default else 'explicit'}.",
                context=str(project.pyproject),
                hint="An index with platforms adds wheels for those platforms to the "
                "projects the other indexes have; drop "
                f"{'default' if index.default else 'explicit'} = true, or platforms.",
            )
        platforms = []
        for text in index.platforms:
            platform = oci_platform_target(text)
            if platform is None:
                raise ManifestError(
                    f"The index {index.name!r} names the platform {text!r}, which "
                    "shipyard does not lock for.",
                    context=str(project.pyproject),
                    hint=f"Use OCI platforms: {', '.join(OCI_PLATFORMS)}.",
                )
            platforms.append(platform)
        if wanted is not None and not wanted.intersection(platforms):
            continue
        found.append((index.url, partial(wheel_for_platforms, platforms=tuple(platforms))))
    return found
