"""The ``export`` use case: write the lock in a format other tools read.

Formats:

* ``requirements-txt`` — pip's requirements file: one pinned line per locked
  package with its PEP 508 marker (the lock's ``extras``/``dependency_groups``
  atoms evaluated for the chosen selection), every file's ``--hash``, and a
  ``# via`` comment naming what needs it. ``pip install --require-hashes
  --no-deps -r`` installs exactly the lock. ``for_environment`` collapses the
  markers for one target.
* ``constraints`` — the same pins without hashes or the project, for ``pip
  install -c``.
* ``pylock`` — a PEP 751 lock for one selection (``pylock.<name>.toml``): the
  packages that selection installs, with the group and extra atoms evaluated.
* ``environment-yml`` — conda's environment file for one platform: the conda
  packages pinned to their builds (``name=version=build``), the channels by name,
  and a ``pip:`` section with the PyPI packages the lock selects there. A project
  without conda dependencies exports ``python`` plus its PyPI packages.
* ``conda-explicit`` — conda's ``@EXPLICIT`` list of package URLs with their md5
  (what ``conda create --file`` and ``micromamba create -f`` read), dependencies
  before dependents.

All come from ``pylock.toml`` alone (re-locked first when the manifest changed,
unless ``frozen``) and are deterministic: the same lock and options give the same
bytes. Index credentials are never written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from shipyard.conda.config import CONDA_PLATFORMS, conda_config
from shipyard.conda.records import CondaRecord, platform_records
from shipyard.errors import UsageError
from shipyard.formats.requirements import pin_lines
from shipyard.lock.pylock import LOCK_FILENAME
from shipyard.models import LockFile
from shipyard.project.freshness import current_lock
from shipyard.project.manifest import Project
from shipyard.project.services import Services
from shipyard.settings import DEFAULT_INDEX_URL

__all__ = ["EXPORT_FORMATS", "ExportOutcome", "export_lock", "parse_environment_marker"]

EXPORT_FORMATS = (
    "requirements-txt",
    "constraints",
    "pylock",
    "environment-yml",
    "conda-explicit",
)
_CONDA_FORMATS = ("environment-yml", "conda-explicit")
#: What one ``sys_platform`` value says about the other platform variables.
_PLATFORM_FACTS = {
    "linux": {"platform_system": "Linux", "os_name": "posix"},
    "darwin": {"platform_system": "Darwin", "os_name": "posix"},
    "win32": {"platform_system": "Windows", "os_name": "nt"},
}


@dataclass(slots=True, kw_only=True)
class ExportOutcome:
    """The exported text, and what it is for (a conda platform, ``universal`` or the
    ``for_environment`` marker)."""

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
    no_default_groups: bool = False,
    hashes: bool = True,
    for_environment: str | None = None,
    emit_project: bool = False,
    output_name: str | None = None,
    command: str | None = None,
    no_emit: Sequence[str] = (),
) -> ExportOutcome:
    """Export the project's lock as ``fmt``.

    :param platform: for the conda formats, a conda subdir (``linux-64`` …); default:
        this machine's.
    :param groups: dependency groups to include besides the default ones (PEP 735).
    :param extras: extras to include.
    :param no_default_groups: leave the lock's default groups out.
    :param hashes: write ``--hash`` options (``requirements-txt``).
    :param for_environment: a marker fixing some variables, e.g. ``sys_platform ==
        'linux' and python_version == '3.11'``: markers are evaluated for it and
        packages it never installs are left out (``requirements-txt``,
        ``constraints``, ``pylock``).
    :param emit_project: include the project itself (``-e .``) when it is installable;
        off by default, since pip cannot install an editable with ``--require-hashes``.
    :param no_emit: package names left out of ``requirements-txt``/``constraints``
        (``--no-emit-package``), e.g. git packages for pip's ``--require-hashes``.
    :param output_name: the file name the export goes to (``pylock`` checks PEP 751's
        ``pylock.<name>.toml`` rule).
    :param command: the command line, written into the header.
    :raises UsageError: for an unknown format, platform or environment marker, or
        ``conda-explicit`` without conda dependencies.
    :raises LockError: when the lock is missing (``frozen``) or does not cover the platform.
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"Unknown export format {fmt!r}.", hint=f"Use one of {', '.join(EXPORT_FORMATS)}."
        )
    if (
        fmt == "pylock"
        and output_name is not None
        and not re.fullmatch(r"pylock\.([^.]+\.)?toml", output_name)
    ):
        raise UsageError(
            f"A PEP 751 lock file must be named pylock.toml or pylock.<name>.toml, "
            f"not {output_name}.",
            hint="Pass e.g. -o pylock.dev.toml.",
        )
    fixed = parse_environment_marker(for_environment) if for_environment else {}
    path = project.root / LOCK_FILENAME
    lock, relocked = current_lock(project, services, frozen=frozen)
    default_groups = set() if no_default_groups else set(lock.default_groups)
    chosen_groups: set[str] = default_groups | {str(canonicalize_name(g)) for g in groups}
    chosen_extras: set[str] = {str(canonicalize_name(e)) for e in extras}
    _check_selection(lock, chosen_groups, chosen_extras)
    if fmt not in _CONDA_FORMATS:
        selection = _Selection(
            project=project,
            lock=lock,
            groups=chosen_groups,
            extras=chosen_extras,
            fixed=fixed,
        )
        header_for = for_environment or "every environment the lock covers"
        if fmt == "pylock":
            text = _pylock(selection)
        else:
            text = _requirements_txt(
                selection,
                services,
                constraints=fmt == "constraints",
                hashes=hashes,
                emit_project=emit_project,
                command=command or f"shipyard export --format {fmt}",
                no_emit=frozenset(canonicalize_name(n) for n in no_emit),
            )
        return ExportOutcome(text=text, platform=header_for, relocked=relocked)
    from shipyard.conda.solve import host_platform

    chosen = platform or host_platform()
    if chosen is None or chosen not in CONDA_PLATFORMS:
        raise UsageError(
            f"Unknown platform {chosen!r}.", hint=f"Use one of {', '.join(CONDA_PLATFORMS)}."
        )
    platform = chosen
    records: list[CondaRecord] = []
    if lock.conda is not None:
        records = platform_records(lock.conda, platform, str(path))
    if fmt == "conda-explicit":
        if not records:
            raise UsageError(
                "conda-explicit needs conda packages, and this project has none.",
                hint="Export environment-yml instead, or add conda dependencies.",
            )
        text = _conda_explicit(records, platform)
    else:
        text = _environment_yml(
            project, services, lock, records, platform, chosen_groups, chosen_extras
        )
    return ExportOutcome(text=text, platform=platform, relocked=relocked)


def _check_selection(lock: LockFile, groups: set[str], extras: set[str]) -> None:
    known_groups = {canonicalize_name(g) for g in lock.dependency_groups}
    known_extras = {canonicalize_name(e) for e in lock.extras}
    if groups - known_groups:
        raise UsageError(
            f"The lock has no dependency group {', '.join(sorted(groups - known_groups))}.",
            hint=f"Known groups: {', '.join(sorted(known_groups)) or 'none'}.",
        )
    if extras - known_extras:
        raise UsageError(
            f"The project has no extra {', '.join(sorted(extras - known_extras))}.",
            hint=f"Known extras: {', '.join(sorted(known_extras)) or 'none'}.",
        )


def parse_environment_marker(text: str) -> dict[str, str]:
    """The variables a ``--for-environment`` marker fixes.

    :param text: PEP 508 marker text made of ``variable == "value"`` comparisons joined
        by ``and``, e.g. ``sys_platform == 'linux' and python_version == '3.11'``.
    :returns: variable → value, with what follows from them added
        (``python_full_version`` fixes ``python_version``; ``sys_platform`` fixes
        ``platform_system`` and ``os_name``).
    :raises UsageError: for text that is not such a marker.
    """
    from shipyard.errors import RequirementError
    from shipyard.specs.markers import MarkerAnd, MarkerAtom, parse_marker

    hint = (
        "Write variable == 'value' comparisons joined by 'and', e.g. "
        "\"sys_platform == 'linux' and python_version == '3.11'\"."
    )
    try:
        expression = parse_marker(text)
    except RequirementError as exc:
        raise UsageError(f"--for-environment: {exc}", hint=hint) from exc
    atoms = list(expression.children) if isinstance(expression, MarkerAnd) else [expression]
    fixed: dict[str, str] = {}
    for atom in atoms:
        if (
            not isinstance(atom, MarkerAtom)
            or atom.op != "=="
            or atom.value_first
            or atom.variable in ("extra", "extras", "dependency_groups")
        ):
            raise UsageError(
                f"--for-environment {text!r}: only ==  comparisons joined by 'and' can "
                "name an environment.",
                hint=hint,
            )
        fixed[atom.variable] = atom.value
    full = fixed.get("python_full_version")
    if full and "python_version" not in fixed:
        fixed["python_version"] = ".".join(full.split(".")[:2])
    for key, value in _PLATFORM_FACTS.get(fixed.get("sys_platform", ""), {}).items():
        fixed.setdefault(key, value)
    return fixed


@dataclass(slots=True, kw_only=True)
class _Selection:
    """The packages of a lock one selection installs, with their markers evaluated."""

    project: Project
    lock: LockFile
    groups: set[str]
    extras: set[str]
    fixed: Mapping[str, str]

    def packages(self) -> list[tuple[Mapping[str, Any], str | None]]:
        """(package table, remaining marker text or None) for each package installed."""
        from packaging.specifiers import SpecifierSet

        from shipyard.specs.markers import FALSE, parse_marker, render, simplify, substitute

        environment: dict[str, Any] = {
            **self.fixed,
            "extras": frozenset(self.extras),
            "dependency_groups": frozenset(self.groups),
        }
        requires = self.lock.requires_python
        python = self.fixed.get("python_full_version") or self.fixed.get("python_version")
        if python:
            spec = f"=={python}" if "python_full_version" in self.fixed else f"=={python}.*"
            requires = f"{requires},{spec}" if requires else spec
        chosen = []
        for package in self.lock.packages:
            marker = package.get("marker")
            text = None
            if marker:
                expression = substitute(parse_marker(marker), environment)
                expression = simplify(
                    expression, requires_python=SpecifierSet(requires) if requires else None
                )
                if expression == FALSE:
                    continue
                text = render(expression)
            chosen.append((package, text))
        return chosen

    def roots(self) -> dict[str, list[str]]:
        """canonical name → what in pyproject.toml asks for it (for ``# via``)."""
        project = self.project
        found: dict[str, list[str]] = {}
        sources = [(project.name, project.dependencies)]
        sources += [
            (f"{project.name} (extra: {e})", project.optional_dependencies.get(e, ()))
            for e in sorted(self.extras)
        ]
        sources += [
            (f"{project.name} (group: {g})", project.dependency_groups.get(g, ()))
            for g in sorted(self.groups)
        ]
        for label, requirements in sources:
            for requirement in requirements:
                found.setdefault(canonicalize_name(requirement.name), []).append(label)
        return found


def _via(selection: _Selection, chosen: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    via = selection.roots()
    names = {str(p["name"]) for p in chosen}
    for package in chosen:
        for dep in package.get("dependencies", []) or []:
            name = str(dep.get("name", ""))
            if name in names and package["name"] not in via.setdefault(name, []):
                via[name].append(str(package["name"]))
    # the project's own requirements first, then the packages, each by name
    own = {label for labels in selection.roots().values() for label in labels}
    return {
        name: sorted(set(labels), key=lambda label: (label not in own, label))
        for name, labels in via.items()
    }


def _hashes(package: Mapping[str, Any]) -> list[str]:
    """The sha256 of every file of ``package``: wheels, wheel variants (PEP 825 draft:
    ``[packages.tool.shipyard] variant-wheels``, which pip never picks), sdist, archive."""
    files = list(package.get("wheels", []) or [])
    files += (package.get("tool") or {}).get("shipyard", {}).get("variant-wheels", [])
    if package.get("sdist"):
        files.append(package["sdist"])
    if package.get("archive"):
        files.append(package["archive"])
    return sorted(
        {f"sha256:{f['hashes']['sha256']}" for f in files if "sha256" in f.get("hashes", {})}
    )


def _index_options(services: Services) -> list[str]:
    from shipyard.index.credentials import public_url

    settings = services.settings
    options: list[str] = []
    if settings.index_url.rstrip("/") != DEFAULT_INDEX_URL:
        options.append(f"--index-url {public_url(settings.index_url)}")
    options.extend(f"--extra-index-url {public_url(url)}" for url in settings.extra_index_urls)
    options.extend(f"--find-links {public_url(link)}" for link in settings.find_links)
    return options


def _requirements_txt(
    selection: _Selection,
    services: Services,
    *,
    constraints: bool,
    hashes: bool,
    emit_project: bool,
    command: str,
    no_emit: frozenset[str] = frozenset(),
) -> str:
    chosen = [
        (package, marker)
        for package, marker in selection.packages()
        if canonicalize_name(str(package["name"])) not in no_emit
    ]
    via = _via(selection, [p for p, _ in chosen])
    lines = [
        "# This file was generated by shipyard from pylock.toml; do not edit.",
        f"#    {command}",
    ]
    if selection.lock.conda is not None:
        lines.append("# Conda packages are not in this file: export environment-yml for them.")
    if hashes and not constraints and any("vcs" in package for package, _ in chosen):
        lines.append(
            "# The git lines have no hash (a commit is its own digest), and pip's "
            "--require-hashes refuses them: --no-emit-package NAME leaves them out."
        )
    lines += _index_options(services)
    if len(lines) > 2:
        lines.append("")
    if constraints:
        hashes = False
    # the project itself (a directory) first, as pip-compile and uv write it
    ordered = sorted(chosen, key=lambda item: ("directory" not in item[0], _package_key(item[0])))
    for package, marker in ordered:
        name = str(package["name"])
        suffix = f" ; {marker}" if marker else ""
        if "directory" in package:
            if constraints or not emit_project:
                continue
            directory = package["directory"]
            location = str(directory["path"])
            if not location.startswith(("/", ".")):
                location = "./" + location
            editable = "-e " if directory.get("editable") else ""
            lines.append(f"{editable}{location}{suffix}")
            continue
        if "archive" in package and package["archive"].get("url"):
            head = f"{name} @ {package['archive']['url']}{suffix}"
        elif "vcs" in package and not constraints:
            vcs = package["vcs"]
            head = f"{name} @ git+{vcs['url']}@{vcs['commit-id']}"
            if vcs.get("subdirectory"):
                head += f"#subdirectory={vcs['subdirectory']}"
            head += suffix  # a commit is its own digest: pip takes no hash for it
        elif package.get("version"):
            head = f"{name}=={package['version']}{suffix}"
        else:
            continue
        lines += pin_lines(
            head,
            hashes=_hashes(package) if hashes else (),
            via=via.get(name, []) if not constraints else (),
        )
    return "\n".join(lines) + "\n"


def _package_key(package: Mapping[str, Any]) -> tuple[str, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        version: Any = Version(str(package.get("version", "0")))
    except InvalidVersion:
        version = Version("0")
    return (str(package["name"]), version)


def _pylock(selection: _Selection) -> str:
    from shipyard.lock.pylock import render_lock

    lock = selection.lock
    packages = []
    for package, marker in selection.packages():
        # key order as the lock writes it: name, version, marker, then the rest
        entry: dict[str, Any] = {"name": package["name"]}
        if "version" in package:
            entry["version"] = package["version"]
        if marker:
            entry["marker"] = marker
        entry.update((k, v) for k, v in package.items() if k not in ("name", "version", "marker"))
        packages.append(entry)
    names = {p["name"] for p in packages}
    for entry in packages:
        if "dependencies" in entry:
            entry["dependencies"] = [d for d in entry["dependencies"] if d.get("name") in names]
            if not entry["dependencies"]:
                del entry["dependencies"]
    exported: dict[str, Any] = {"lock-version": lock.lock_version or "1.0"}
    environments = list(lock.environments)
    if selection.fixed:
        environments = [" and ".join(f'{k} == "{v}"' for k, v in sorted(selection.fixed.items()))]
    if environments:
        exported["environments"] = environments
    if lock.requires_python:
        exported["requires-python"] = lock.requires_python
    exported["created-by"] = "shipyard"
    exported["packages"] = packages
    tool = dict(lock.tool)
    tool.pop("input-hash", None)  # this file is not the project's lock
    tool["selection"] = {"groups": sorted(selection.groups), "extras": sorted(selection.extras)}
    exported["tool"] = {"shipyard": tool}
    return render_lock(exported)


def _channel_name(url: str, alias: str) -> str:
    prefix = alias.rstrip("/") + "/"
    return url[len(prefix) :] if url.startswith(prefix) and "/" not in url[len(prefix) :] else url


def _environment(lock: LockFile, records: Sequence[CondaRecord], platform: str) -> dict[str, Any]:
    """The marker environment the lock's PyPI part is selected with for ``platform``."""
    from shipyard.conda.pypi import python_record
    from shipyard.specs.targets import target_for

    family, machine = CONDA_PLATFORMS[platform]
    record = python_record(records)
    version = record.version if record is not None else _lowest_python(lock.requires_python)
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


def _environment_yml(
    project: Project,
    services: Services,
    lock: LockFile,
    records: Sequence[CondaRecord],
    platform: str,
    groups: set[str],
    extras: set[str],
) -> str:
    from shipyard.formats.environment_yml import render_environment_yml

    config = conda_config(project.tool, project.root)
    alias = config.channel_alias if config is not None else "https://conda.anaconda.org"
    table = lock.conda or {}
    channels = [_channel_name(c, alias) for c in table.get("channels", [])]
    environment = _environment(lock, records, platform)
    if records:
        conda = [f"{r.name}={r.version}={r.build}" for r in sorted(records, key=lambda r: r.name)]
    else:
        channels = channels or ["conda-forge"]
        conda = [f"python={environment['python_version']}"]
    selection = _Selection(
        project=project, lock=lock, groups=groups, extras=extras, fixed=environment
    )
    chosen = [package for package, _ in selection.packages()]
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
    options = _index_options(services)
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
