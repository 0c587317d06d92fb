"""``shipyard pip compile``: pip-compile on shipyard's resolver.

``compile`` reads requirements files (``requirements.in``), a ``pyproject.toml``
or a ``setup.cfg`` and writes a pinned requirements file laid out as pip-compile
lays it out: a header naming the command, the index options, one ``name==version``
per package with its ``--hash`` lines and ``# via`` annotations, and ``pip``/
``setuptools`` commented out unless allowed. Pins already in the output file are
kept when they still fit (``--upgrade``/``--upgrade-package`` move them). The
target is one interpreter (the environment's, ``--python-version``/
``--python-platform`` for another), or every platform (``--universal``: markers
written per package, like a universal lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import UsageError
from shipyard.formats.requirements import pin_lines, pinned_version, read_requirements
from shipyard.models import DistFile, Interpreter, TargetEnvironment
from shipyard.project.pip_targets import compile_targets
from shipyard.project.requirements_inputs import (
    PROJECT_FILES,
    LabelledRequirement,
    RequirementInputs,
    apply_file_options,
    read_inputs,
)
from shipyard.project.services import Services
from shipyard.settings import DEFAULT_INDEX_URL

if TYPE_CHECKING:
    from shipyard.index.repository import IndexRepository
    from shipyard.resolver.universal import Resolution, ResolvedPackage

__all__ = ["CompileOutcome", "CompileRequest", "compile_requirements", "default_output"]

#: pip-compile leaves these out of the file unless ``--allow-unsafe``.
_UNSAFE = frozenset({"pip", "setuptools", "distribute"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileRequest:
    """What ``shipyard pip compile`` was asked.

    :param inputs: requirements files (``.in``), ``pyproject.toml`` or ``setup.cfg``.
    :param output: the file to write (also read for existing pins); ``None`` prints.
    :param constraints: ``-c`` files: limits that never add a package.
    :param upgrade: ignore every existing pin; :param upgrade_packages: the names (or
        ``name==version``/``name<2`` requirements) whose pins to drop.
    :param extras/all_extras: the project's extras to include (project inputs only).
    :param universal/python_version/python_platform: see :func:`compile_targets`.
    :param generate_hashes: write every file's ``--hash`` for each pinned version.
    :param allow_unsafe: pin ``pip``/``setuptools``/``distribute`` instead of commenting
        them out. :param pre: allow pre-releases.
    :param header/annotate/annotation_style/emit_index_url/emit_find_links: the layout.
    :param command: the command line for the header.
    """

    inputs: tuple[Path, ...]
    output: Path | None
    constraints: tuple[Path, ...] = ()
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    universal: bool = False
    python_version: str | None = None
    python_platform: str | None = None
    generate_hashes: bool = False
    allow_unsafe: bool = False
    pre: bool = False
    header: bool = True
    annotate: bool = True
    annotation_style: str = "split"
    emit_index_url: bool = True
    emit_find_links: bool = True
    command: str = "shipyard pip compile"


@dataclass(slots=True, kw_only=True)
class CompileOutcome:
    """What ``pip compile`` produced.

    :param text: the requirements file. :param resolution: the resolution behind it.
    :param changed: ``(name, old, new)`` for pins that moved from the old output
        (``old`` or ``new`` is ``None`` when the package came or went).
    :param kept: how many of the old output's pins were kept.
    """

    text: str
    resolution: Resolution
    changed: list[tuple[str, str | None, str | None]]
    kept: int


def default_output(inputs: Sequence[Path]) -> Path:
    """Where pip-compile writes when ``-o`` is not given: ``x.in`` → ``x.txt``,
    a project file → ``requirements.txt`` beside it.

    :raises UsageError: for several inputs (``-o`` is needed then), or an input that is
        already a ``.txt`` file.
    """
    if len(inputs) != 1:
        raise UsageError(
            "Several input files need an explicit --output-file.",
            hint="Add -o requirements.txt.",
        )
    path = inputs[0]
    if path.name in PROJECT_FILES:
        return path.parent / "requirements.txt"
    if path.suffix == ".txt":
        raise UsageError(
            f"{path} would be overwritten by its own output.",
            hint="Name the input requirements.in, or give -o another file.",
        )
    return path.with_suffix(".txt")


def _existing_pins(path: Path | None) -> dict[str, Version]:
    if path is None or not path.is_file():
        return {}
    parsed = read_requirements(path)
    pins: dict[str, Version] = {}
    for line in parsed.requirements:
        version = pinned_version(line.requirement)
        try:
            if version is not None:
                pins[canonicalize_name(line.requirement.name)] = Version(version)
        except InvalidVersion:
            continue
    return pins


def _upgrades(values: Sequence[str]) -> tuple[frozenset[str], list[Requirement]]:
    names: set[str] = set()
    limits: list[Requirement] = []
    for value in values:
        for text in (v.strip() for v in value.split(",")):
            if not text:
                continue
            try:
                requirement = Requirement(text)
            except Exception:
                raise UsageError(
                    f"--upgrade-package {text!r} is not a package name or requirement.",
                    hint="Give a name (django) or a requirement (django==4.2.*).",
                ) from None
            names.add(canonicalize_name(requirement.name))
            if requirement.specifier:
                limits.append(requirement)
    return frozenset(names), limits


def compile_requirements(
    request: CompileRequest,
    services: Services,
    interpreter: Interpreter,
    *,
    cwd: Path | None = None,
) -> CompileOutcome:
    """Resolve the inputs and lay the result out as pip-compile does (nothing is written:
    the caller writes :attr:`CompileOutcome.text`).

    :param interpreter: from
        :func:`~shipyard.project.pip_environment.find_target_interpreter`; the target
        unless ``universal``/``python_version``/``python_platform`` say otherwise, and
        the interpreter that builds sdists' metadata.
    :raises UsageError: for bad options. :raises ManifestError: for unusable input lines
        (``file:line`` each).
    :raises ResolutionError, PackageNotFoundError, NoMatchingVersionError: when the
        requirements cannot be satisfied.
    """
    from shipyard.project.locking import constraint_map, make_repository, resolve_options
    from shipyard.resolver.universal import RootRequirement, resolve

    cwd = cwd or Path.cwd()
    inputs = read_inputs(
        request.inputs,
        request.constraints,
        cwd,
        extras=request.extras,
        all_extras=request.all_extras,
        what="pip compile",
        warn=services.reporter.warning,
    )
    apply_file_options(services, inputs.options, request.pre)
    targets = compile_targets(
        interpreter,
        universal=request.universal,
        python_version=request.python_version,
        python_platform=request.python_platform,
        requires_python=inputs.requires_python,
    )
    upgrade_names, upgrade_limits = _upgrades(request.upgrade_packages)
    existing = _existing_pins(request.output)
    preferences = (
        {} if request.upgrade else {k: v for k, v in existing.items() if k not in upgrade_names}
    )
    constraint_roots = [
        *inputs.constraints,
        *(LabelledRequirement(r, "--upgrade-package") for r in upgrade_limits),
    ]
    options = replace(
        resolve_options(services, None, {}),
        preferences=preferences,
        constraints=constraint_map(r.requirement for r in constraint_roots),
    )
    roots = [
        RootRequirement(requirement=r.requirement, selector=None, origin=r.label)
        for r in inputs.roots
    ]
    repository = make_repository(None, services, interpreter=interpreter)
    resolution = resolve(
        roots,
        project_name="the input requirements",
        targets=targets,
        repository=repository,
        options=options,
        requires_python=inputs.requires_python,
        reporter=services.reporter,
    )
    text = _render(request, services, inputs, constraint_roots, resolution, repository, targets)
    new = {p.name: str(p.version) for p in resolution.packages}
    old = {k: str(v) for k, v in existing.items()}
    changed: list[tuple[str, str | None, str | None]] = [
        (name, old.get(name), new.get(name))
        for name in sorted(set(old) | set(new))
        if old and old.get(name) != new.get(name)
    ]
    kept = sum(1 for name, version in old.items() if new.get(name) == version)
    return CompileOutcome(text=text, resolution=resolution, changed=changed, kept=kept)


def _digests(package: ResolvedPackage, repository: IndexRepository) -> list[str]:
    """Every file of the pinned version (as pip-compile lists them), so the file installs
    on other platforms too; a direct reference has its one file."""
    files: Sequence[DistFile] = (
        package.project_version.files if package.project_version.index else package.files
    )
    if not all(f.yanked is not None for f in files):
        files = [f for f in files if f.yanked is None]
    found = set()
    for dist in files:
        digest = repository.file_digest(dist).sha256
        if digest:
            found.add(f"sha256:{digest}")
    return sorted(found)


def _render(
    request: CompileRequest,
    services: Services,
    inputs: RequirementInputs,
    constraint_roots: Sequence[LabelledRequirement],
    resolution: Resolution,
    repository: IndexRepository,
    targets: Sequence[TargetEnvironment],
) -> str:
    from shipyard.index.credentials import public_url

    lines: list[str] = []
    if request.header:
        python = ".".join(str(n) for n in targets[0].python)
        scope = "for every platform " if request.universal else ""
        lines += [
            "#",
            f"# This file is autogenerated by shipyard pip compile {scope}with Python {python}",
            "# by the following command:",
            "#",
            f"#    {request.command}",
            "#",
        ]
    settings = services.settings
    flags: list[str] = []
    if request.emit_index_url:
        if settings.index_url.rstrip("/") != DEFAULT_INDEX_URL:
            flags.append(f"--index-url {public_url(settings.index_url)}")
        flags += [f"--extra-index-url {public_url(u)}" for u in settings.extra_index_urls]
    if request.emit_find_links:
        flags += [f"--find-links {public_url(link)}" for link in settings.find_links]
    no_binary, only_binary = list(settings.no_binary), list(settings.only_binary)
    flags += [f"--no-binary {n}" for n in sorted(no_binary, key=lambda n: n != ":all:")]
    flags += [f"--only-binary {n}" for n in sorted(only_binary, key=lambda n: n != ":all:")]
    if flags:
        lines += [*flags, ""]

    universal = len(targets) > 1
    via: dict[str, list[str]] = {}
    root_markers: dict[str, str] = {}
    for root in inputs.roots:
        name = canonicalize_name(root.requirement.name)
        marker = root.requirement.marker
        # for one target, a requirement whose marker is false there brought nothing in
        holds = marker is None or marker.evaluate({**targets[0].markers, "extra": ""})
        if not universal and not holds:
            continue
        if root.label not in via.setdefault(name, []):
            via[name].append(root.label)
        if marker is not None and not universal:
            root_markers[name] = str(marker)  # pip-compile repeats it
    names = {p.name for p in resolution.packages}
    for root in constraint_roots:
        name = canonicalize_name(root.requirement.name)
        if name in names and root.label not in via.setdefault(name, []):
            via[name].append(root.label)
    for package in resolution.packages:
        for dep in package.dependencies:
            if package.name not in via.setdefault(dep, []):
                via[dep].append(package.name)
    # the input files first, then the packages, each by name (pip-compile sorts all)
    for key, labels in via.items():
        via[key] = sorted(set(labels), key=lambda label: label.lower())

    unsafe: list[str] = []
    hashed = request.generate_hashes
    for package in resolution.packages:
        if package.project_version.index:
            head = f"{package.name}=={package.version}"
        else:
            head = f"{package.name} @ {package.files[0].url}"
        written = package.marker if universal else root_markers.get(package.name)
        if written:
            head += f" ; {written}"
        if package.name in _UNSAFE and not request.allow_unsafe:
            unsafe.append(package.name)
            continue
        lines += pin_lines(
            head,
            hashes=_digests(package, repository) if hashed else (),
            via=via.get(package.name, []) if request.annotate else (),
            annotation_style=request.annotation_style,
        )
    if unsafe:
        lines.append("")
        if hashed:
            lines += [
                "# Left out as pip-compile leaves them out (add --allow-unsafe to pin them);",
                "# pip --require-hashes will then refuse to install them unless present:",
            ]
        else:
            lines.append(
                "# Left out as pip-compile leaves them out (add --allow-unsafe to pin them):"
            )
        lines += [f"# {name}" for name in unsafe]
    return "\n".join(lines) + "\n"
