"""The ``export`` use case: write the lock in a format other tools read.

Formats (more come with the interop work):

* ``environment-yml`` — conda's environment file for one platform: the conda
  packages pinned to their builds (``name=version=build``), the channels by name,
  and a ``pip:`` section with the PyPI packages the lock selects there. A project
  without conda dependencies exports ``python`` plus its PyPI packages.
* ``conda-explicit`` — conda's ``@EXPLICIT`` list of package URLs with their md5
  (what ``conda create --file`` and ``micromamba create -f`` read), dependencies
  before dependents.

Both come from ``pylock.toml`` alone (re-locked first when the manifest changed,
unless ``frozen``) and are deterministic: the same lock gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from shipyard.conda.config import CONDA_PLATFORMS, conda_config
from shipyard.conda.records import CondaRecord, platform_records
from shipyard.errors import LockError, UsageError
from shipyard.lock.pylock import LOCK_FILENAME, read_lock
from shipyard.project.freshness import lock_is_fresh
from shipyard.project.manifest import Project
from shipyard.project.services import Services

__all__ = ["EXPORT_FORMATS", "ExportOutcome", "export_lock"]

EXPORT_FORMATS = ("environment-yml", "conda-explicit")
_PYPI = "https://pypi.org/simple"


@dataclass(slots=True, kw_only=True)
class ExportOutcome:
    """The exported text, and the platform it is for."""

    text: str
    platform: str
    relocked: bool = False


def export_lock(
    project: Project,
    services: Services,
    fmt: str,
    *,
    platform: str | None = None,
    frozen: bool = False,
    groups: Sequence[str] = (),
    extras: Sequence[str] = (),
) -> ExportOutcome:
    """Export the project's lock as ``fmt`` for one conda ``platform``.

    :param platform: a conda subdir (``linux-64`` …); default: this machine's.
    :param groups: dependency groups to include besides the default ones.
    :param extras: extras to include.
    :raises UsageError: for an unknown format or platform, or ``conda-explicit`` without
        conda dependencies.
    :raises LockError: when the lock is missing (``frozen``) or does not cover the platform.
    """
    from shipyard.conda.solve import host_platform

    if fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"Unknown export format {fmt!r}.", hint=f"Use one of {', '.join(EXPORT_FORMATS)}."
        )
    chosen = platform or host_platform()
    if chosen is None or chosen not in CONDA_PLATFORMS:
        raise UsageError(
            f"Unknown platform {chosen!r}.", hint=f"Use one of {', '.join(CONDA_PLATFORMS)}."
        )
    platform = chosen
    path = project.root / LOCK_FILENAME
    relocked = False
    try:
        document: dict[str, Any] | None = read_lock(path, services.cache)
    except LockError:
        if frozen:
            raise
        document = None
    if not frozen and not lock_is_fresh(project, services, document):
        from shipyard.project.locking import lock_project

        lock_project(project, services)
        document = read_lock(path, services.cache)
        relocked = True
    assert document is not None
    conda_table = document.get("tool", {}).get("shipyard", {}).get("conda") or {}
    records: list[CondaRecord] = []
    if conda_table:
        records = platform_records(conda_table, platform, str(path))
    if fmt == "conda-explicit":
        if not records:
            raise UsageError(
                "conda-explicit needs conda packages, and this project has none.",
                hint="Export environment-yml instead, or add conda dependencies.",
            )
        text = _conda_explicit(records, platform)
    else:
        text = _environment_yml(project, services, document, records, platform, groups, extras)
    return ExportOutcome(text=text, platform=platform, relocked=relocked)


def _channel_name(url: str, alias: str) -> str:
    prefix = alias.rstrip("/") + "/"
    return url[len(prefix) :] if url.startswith(prefix) and "/" not in url[len(prefix) :] else url


def _environment(
    document: Mapping[str, Any], records: Sequence[CondaRecord], platform: str
) -> dict[str, Any]:
    """The marker environment the lock's PyPI part is selected with for ``platform``."""
    from shipyard.conda.pypi import python_record
    from shipyard.specs.targets import target_for

    family, machine = CONDA_PLATFORMS[platform]
    record = python_record(records)
    if record is not None:
        version = record.version
    else:
        version = _lowest_python(document.get("requires-python"))
    parts = [int(p) for p in version.split(".")[:2]]
    target = target_for((parts[0], parts[1]), family, machine, version)
    return dict(target.markers)


def _lowest_python(requires_python: str | None) -> str:
    from packaging.specifiers import SpecifierSet

    from shipyard.specs.targets import KNOWN_PYTHON_MINORS

    spec = SpecifierSet(requires_python or "")
    for major, minor in KNOWN_PYTHON_MINORS:
        if spec.contains(f"{major}.{minor}.0", prereleases=True) or spec.contains(
            f"{major}.{minor}.99", prereleases=True
        ):
            return f"{major}.{minor}"
    return "3"


def _selected_pypi(
    document: Mapping[str, Any], environment: dict[str, Any], groups: set[str], extras: set[str]
) -> list[Mapping[str, Any]]:
    env: dict[str, Any] = {**environment, "extras": extras, "dependency_groups": groups}
    chosen = []
    for package in document.get("packages", []):
        marker = package.get("marker")
        if marker and not Marker(marker).evaluate(env, context="lock_file"):
            continue
        chosen.append(package)
    return chosen


def _environment_yml(
    project: Project,
    services: Services,
    document: Mapping[str, Any],
    records: Sequence[CondaRecord],
    platform: str,
    groups: Sequence[str],
    extras: Sequence[str],
) -> str:
    from shipyard.formats.environment_yml import render_environment_yml

    config = conda_config(project.tool, project.root)
    alias = config.channel_alias if config is not None else "https://conda.anaconda.org"
    table = document.get("tool", {}).get("shipyard", {}).get("conda") or {}
    channels = [_channel_name(c, alias) for c in table.get("channels", [])]
    environment = _environment(document, records, platform)
    if records:
        conda = [f"{r.name}={r.version}={r.build}" for r in sorted(records, key=lambda r: r.name)]
    else:
        channels = channels or ["conda-forge"]
        conda = [f"python={environment['python_version']}"]
    default_groups = set(document.get("default-groups", []) or [])
    chosen = _selected_pypi(
        document,
        environment,
        default_groups | {canonicalize_name(g) for g in groups},
        {canonicalize_name(e) for e in extras},
    )
    pip: list[str] = []
    for package in sorted(chosen, key=lambda p: p["name"]):
        if "directory" in package:
            directory = package["directory"]
            editable = "-e " if directory.get("editable") else ""
            path = directory["path"]
            pip.append(f"{editable}{path if path.startswith(('.', '/')) else './' + path}")
        elif "archive" in package and package["archive"].get("url"):
            pip.append(f"{package['name']} @ {package['archive']['url']}")
        elif "version" in package:
            pip.append(f"{package['name']}=={package['version']}")
    options: list[str] = []
    settings = services.settings
    if settings.index_url.rstrip("/") != _PYPI:
        options.append(f"--index-url {settings.index_url}")
    options.extend(f"--extra-index-url {url}" for url in settings.extra_index_urls)
    header = [
        f"Generated by shipyard from pylock.toml for {platform}; do not edit.",
        "Re-create with: conda env create -f <this file>",
    ]
    return render_environment_yml(
        name=project.name,
        channels=channels,
        conda=conda,
        pip=pip,
        pip_options=options if pip else (),
        header=header,
    )


def _conda_explicit(records: Sequence[CondaRecord], platform: str) -> str:
    ordered = _topological(records)
    lines = [
        "# Generated by shipyard from pylock.toml; do not edit.",
        "# Re-create with: conda create --name <env> --file <this file>",
        f"# platform: {platform}",
        "@EXPLICIT",
    ]
    for record in ordered:
        digest = record.md5 if record.md5 else f"sha256:{record.sha256}"
        lines.append(f"{record.url}#{digest}")
    return "\n".join(lines) + "\n"


def _topological(records: Sequence[CondaRecord]) -> list[CondaRecord]:
    """Dependencies before dependents (conda installs an explicit file in order); ties
    and cycles by name, so the order is deterministic."""
    from shipyard.conda.config import spec_name

    by_name = {r.name: r for r in records}
    pending = sorted(by_name)
    done: list[CondaRecord] = []
    placed: set[str] = set()
    while pending:
        progress = False
        for name in list(pending):
            needs = {spec_name(d) for d in by_name[name].depends} & set(by_name)
            if needs - {name} <= placed:
                done.append(by_name[name])
                placed.add(name)
                pending.remove(name)
                progress = True
        if not progress:  # a cycle: take the first name and carry on
            name = pending.pop(0)
            done.append(by_name[name])
            placed.add(name)
    return done
