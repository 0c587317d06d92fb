"""``import --prefer-pypi``: an ``environment.yml``'s conda dependencies as PyPI
requirements, without contacting any conda channel.

For each conda dependency, by name:

* ``python`` is the ``requires-python`` already read from it (``python=3.11`` →
  ``>=3.11``, ``python >=3.10,<3.13`` → that range); ``pip`` is dropped;
* a Python distribution becomes a PyPI requirement, its version translated
  (:func:`~shipyard.conda.matchspec.pep440_specifier`): ``numpy 1.26.*`` →
  ``numpy==1.26.*``, ``pytorch>=2`` → ``torch>=2``. Which PyPI project a conda name is
  comes from :func:`~shipyard.conda.mapping.pypi_name` — the manifest's
  ``[tool.shipyard.conda] pypi-mapping``, the published mapping (fetched at most once a
  day, else the cached copy), the list shipped with shipyard — and, for a name none of
  them knows, from the index: a project of that name there is taken to be it;
* anything else (``libgdal``, ``cudatoolkit``, a name the index does not have) is
  left out and reported at its ``file:line``: with ``--prefer-pypi`` nothing is
  installed from conda.

The conda dependencies are therefore all gone afterwards and the lock needs no channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shipyard.conda.config import spec_name
from shipyard.conda.mapping import published_mapping, pypi_name
from shipyard.conda.matchspec import pep440_specifier
from shipyard.errors import NetworkError
from shipyard.formats.imported import Imported, ImportedRequirement
from shipyard.project.services import Services
from shipyard.settings import Settings, load_settings

__all__ = ["move_to_pypi"]


def move_to_pypi(
    imported: Imported,
    services: Services,
    tool: Mapping[str, Any],
    *,
    group: str | None = None,
) -> list[tuple[str, str]]:
    """Move every conda dependency of ``imported`` to its PyPI requirements (or leave it
    out, with a problem at its ``file:line``); ``imported.conda`` is empty afterwards.

    :param tool: the ``[tool.shipyard]`` table the manifest will have (for the index
        URLs, ``conda-pypi-mapping-url`` and ``[tool.shipyard.conda] pypi-mapping``).
    :param group: add the requirements to this dependency group instead of
        ``[project].dependencies``.
    :returns: ``(conda spec, what it became)`` pairs, in file order.
    :raises UsageError, ManifestError: for invalid settings (as ``load_settings``).
    """
    settings = load_settings(project_table=tool, cli=services.cli_values)
    conda_table = tool.get("conda")
    raw = conda_table.get("pypi-mapping") if isinstance(conda_table, Mapping) else None
    overrides = {
        str(k).lower(): str(v) for k, v in (raw if isinstance(raw, Mapping) else {}).items()
    }
    url = settings.conda_pypi_mapping_url
    published = published_mapping(services.client, services.cache, url) if url else None
    if url and published is None:
        imported.problems.append(
            f"--prefer-pypi: the conda-to-PyPI name mapping could not be fetched ({url}) and "
            "is not in the cache; conda names were looked up in shipyard's list of common "
            "conda packages, then on the index."
        )
    target = imported.groups.setdefault(group, []) if group else imported.dependencies
    present: set[str] = {canonicalize_name(item.requirement.name) for item in target}
    moved: list[tuple[str, str]] = []
    for spec in imported.conda:
        origin = imported.conda_origins.get(spec) or "environment.yml"
        name = spec_name(spec)
        if name == "python":
            if imported.requires_python:
                moved.append((spec, f"requires-python {imported.requires_python}"))
            continue
        if not name or name == "pip":
            continue
        project = _project(imported, services, settings, spec, origin, (overrides, published))
        if project is None:
            continue
        if project in present:
            imported.problems.append(
                f"{origin}: {project} is also a requirement in the pip: section; that one "
                f"is kept, and the conda entry {spec!r} is dropped."
            )
            continue
        specifier = pep440_specifier(spec)
        if specifier is None:
            imported.problems.append(
                f"{origin}: the version in {spec!r} cannot be written as a PEP 440 "
                f"specifier; {project} was added without a version limit."
            )
            specifier = ""
        try:
            requirement = Requirement(project + specifier)
        except InvalidRequirement:
            requirement = Requirement(project)
        target.append(ImportedRequirement(requirement, origin))
        present.add(project)
        moved.append((spec, str(requirement)))
    imported.conda = []
    if group and not target:
        del imported.groups[group]
    return moved


def _project(
    imported: Imported,
    services: Services,
    settings: Settings,
    spec: str,
    origin: str,
    mappings: tuple[Mapping[str, str], Mapping[str, str | None] | None],
) -> str | None:
    """The PyPI project the package of conda ``spec`` is, or ``None`` (and a problem at
    ``origin``) when it is not a Python distribution.

    :param mappings: ``pypi-mapping`` overrides and the published mapping (or ``None``).
    """
    overrides, published = mappings
    name = spec_name(spec)
    answer = pypi_name(name, overrides=overrides, published=published)
    if answer is not None and answer.project is not None:
        return answer.project
    if answer is not None:
        imported.problems.append(
            f"{origin}: {spec!r} is not a Python distribution (per {answer.source}); "
            "--prefer-pypi leaves it out, since nothing is installed from conda. Install "
            "it another way, or import without --prefer-pypi to keep it a conda dependency."
        )
        return None
    found = _on_index(canonicalize_name(name), settings, services)
    if found is False:
        imported.problems.append(
            f"{origin}: {spec!r} is in no conda-to-PyPI mapping and the index has no "
            f"project named {canonicalize_name(name)}; --prefer-pypi leaves it out. If it "
            "is a Python distribution under another name, add that name to the PyPI "
            "dependencies."
        )
        return None
    if found is None:
        imported.problems.append(
            f"{origin}: {spec!r} is in no conda-to-PyPI mapping and the index could not "
            f"be asked; it was taken to be the PyPI project {canonicalize_name(name)}."
        )
    elif published is not None:
        imported.problems.append(
            f"{origin}: {spec!r} is not in the conda-to-PyPI mapping; the index has a "
            f"project named {canonicalize_name(name)}, which it was taken to be."
        )
    return canonicalize_name(name)


def _on_index(name: str, settings: Settings, services: Services) -> bool | None:
    """Whether an index of ``settings`` (or a find-links location) has project ``name``;
    ``None`` when one cannot be reached."""
    from shipyard.index.simple import FindLinks, SimpleIndex
    from shipyard.project.sources import command_line_indexes

    urls = [url for _name, url in command_line_indexes(settings.indexes)]
    urls += settings.index_urls()
    try:
        for url in dict.fromkeys(urls):
            if SimpleIndex(url, services.client, services.cache).get_page(name) is not None:
                return True
        for location in settings.find_links:
            if FindLinks(location, services.client).get_page(name) is not None:
                return True
    except NetworkError:
        return None
    return False
