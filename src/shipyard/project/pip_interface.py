"""``shipyard pip compile`` and ``shipyard pip sync``: the pip-tools workflow on
shipyard's resolver and installer.

``compile`` reads requirements files (``requirements.in``), a ``pyproject.toml``
or a ``setup.cfg`` and writes a pinned requirements file laid out as pip-compile
lays it out: a header naming the command, the index options, one ``name==version``
per package with its ``--hash`` lines and ``# via`` annotations, and ``pip``/
``setuptools`` commented out unless allowed. Pins already in the output file are
kept when they still fit (``--upgrade``/``--upgrade-package`` move them). The
target is one interpreter (the environment's, ``--python-version``/
``--python-platform`` for another), or every platform (``--universal``: markers
written per package, like a universal lock).

``sync`` makes a virtual environment hold exactly the pinned distributions of a
requirements file: it installs what is missing or at another version, removes the
rest (``pip``, ``setuptools`` and ``wheel`` are kept unless listed, as pip-sync
does), checks every ``--hash``, and installs nothing that is not pinned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import HashMismatchError, ManifestError, UsageError
from shipyard.formats.requirements import (
    RequirementsFile,
    pin_lines,
    pinned_version,
    read_requirements,
)
from shipyard.models import DistFile, Interpreter, TargetEnvironment
from shipyard.project.services import Services
from shipyard.settings import DEFAULT_INDEX_URL

if TYPE_CHECKING:
    from shipyard.index.repository import IndexRepository
    from shipyard.project.syncing import SyncOutcome
    from shipyard.resolver.universal import Resolution, ResolvedPackage
    from shipyard.venv import VirtualEnvironment

__all__ = [
    "PYTHON_PLATFORMS",
    "CompileOutcome",
    "CompileRequest",
    "compile_requirements",
    "compile_targets",
    "default_output",
    "find_environment",
    "find_target_interpreter",
    "sync_requirements",
]

#: ``--python-platform`` values: uv's names and target triples → (family, machine).
PYTHON_PLATFORMS: Mapping[str, tuple[str, str]] = {
    "linux": ("linux", "x86_64"),
    "macos": ("macos", "arm64"),
    "windows": ("windows", "AMD64"),
    "x86_64-unknown-linux-gnu": ("linux", "x86_64"),
    "aarch64-unknown-linux-gnu": ("linux", "aarch64"),
    "x86_64-manylinux": ("linux", "x86_64"),
    "aarch64-manylinux": ("linux", "aarch64"),
    "x86_64-apple-darwin": ("macos", "x86_64"),
    "aarch64-apple-darwin": ("macos", "arm64"),
    "x86_64-pc-windows-msvc": ("windows", "AMD64"),
}
_FAMILY_OF_SYS_PLATFORM = {"linux": "linux", "darwin": "macos", "win32": "windows"}
#: pip-compile leaves these out of the file unless ``--allow-unsafe``.
_UNSAFE = frozenset({"pip", "setuptools", "distribute"})
#: pip-sync never removes these unless the file lists them.
_KEPT_BY_SYNC = frozenset({"pip", "setuptools", "wheel", "pip-tools", "distribute"})
_PROJECT_FILES = ("pyproject.toml", "setup.cfg")


# -- the environment ---------------------------------------------------------------------------


def _venv_from_path(path: Path) -> VirtualEnvironment | None:
    """The virtual environment at ``path`` (its root, or its interpreter), if any."""
    from shipyard.venv import inspect_venv

    path = Path(os.path.abspath(path))
    if path.is_dir():
        return inspect_venv(path)
    # <root>/bin/python or <root>\Scripts\python.exe
    return inspect_venv(path.parent.parent)


def find_environment(
    python: str | None, services: Services, *, cwd: Path | None = None
) -> tuple[VirtualEnvironment, Interpreter]:
    """The virtual environment ``pip sync`` works on, and its interpreter.

    In order: ``python`` (an environment directory or its interpreter), the active
    environment (``VIRTUAL_ENV``), then ``.venv`` in ``cwd`` or a parent.

    :param python: the ``--python`` value, or ``None``.
    :raises UsageError: when ``python`` is not a virtual environment, or none is found.
    :raises InterpreterNotFoundError: when the environment's interpreter cannot run.
    """
    from shipyard.python.probe import probe_interpreter

    cwd = cwd or Path.cwd()
    venv: VirtualEnvironment | None = None
    if python is not None:
        venv = _venv_from_path(cwd / python)
        if venv is None:
            raise UsageError(
                f"--python {python} is not a virtual environment; shipyard pip sync only "
                "changes virtual environments.",
                hint="Create one (`python3 -m venv .venv`) and pass its directory or its "
                "bin/python.",
            )
    elif os.environ.get("VIRTUAL_ENV"):
        venv = _venv_from_path(Path(os.environ["VIRTUAL_ENV"]))
    if venv is None:
        for directory in (cwd, *cwd.parents):
            venv = _venv_from_path(directory / ".venv")
            if venv is not None:
                break
    if venv is None:
        raise UsageError(
            "No virtual environment to sync: none is active (VIRTUAL_ENV) and there is no "
            ".venv in this directory or its parents.",
            hint="Create one with `python3 -m venv .venv`, activate it, or pass --python.",
        )
    return venv, probe_interpreter(venv.python, cache_dir=services.cache.root)


def find_target_interpreter(
    python: str | None, services: Services, *, cwd: Path | None = None
) -> Interpreter:
    """The interpreter ``pip compile`` resolves for: ``python`` (a version request or a
    path), else the active or nearest ``.venv``'s, else the first Python on ``PATH``.

    :raises InterpreterNotFoundError: when nothing fits ``python``.
    """
    from shipyard.python.discovery import find_interpreter, parse_python_request

    if python is None:
        try:
            _venv, interpreter = find_environment(None, services, cwd=cwd)
        except UsageError:
            pass
        else:
            return interpreter
    return find_interpreter(
        parse_python_request(python), requires_python=None, cache_dir=services.cache.root
    )


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Root:
    requirement: Requirement
    label: str  # "-r requirements.in", "demo (pyproject.toml)"


@dataclass(slots=True)
class _Inputs:
    roots: list[_Root] = field(default_factory=list)
    constraints: list[_Root] = field(default_factory=list)
    options: RequirementsFile = field(default_factory=RequirementsFile)
    requires_python: SpecifierSet | None = None
    hashes: dict[str, set[str]] = field(default_factory=dict)


def _display(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd) if path.is_absolute() else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _source_of(origin: str) -> str:
    return origin.rsplit(":", 1)[0]


def _read_requirement_files(
    paths: Sequence[Path], cwd: Path, *, what: str
) -> tuple[_Inputs, list[str]]:
    inputs = _Inputs()
    problems: list[str] = []
    for path in paths:
        parsed = read_requirements(cwd / path)
        for line in parsed.requirements:
            source = _display(Path(_source_of(line.origin)), cwd)
            inputs.roots.append(_Root(line.requirement, f"-r {source}"))
            if line.hashes:
                inputs.hashes.setdefault(canonicalize_name(line.requirement.name), set()).update(
                    line.hashes
                )
        for line in parsed.constraints:
            source = _display(Path(_source_of(line.origin)), cwd)
            inputs.constraints.append(_Root(line.requirement, f"-c {source}"))
        # the parser's wording is for import, which carries on; here they stop the command
        problems.extend(
            p.replace(f"{cwd}{os.sep}", "").replace("; left out.", ".") for p in parsed.problems
        )
        problems.extend(
            f"{_display(path, cwd)}: the editable requirement -e {value} is not supported by "
            f"shipyard {what} yet; name the project's dependencies instead."
            for value in parsed.editables
        )
        # relative --find-links are relative to the file that names them, as in pip
        folder = (cwd / path).parent
        parsed.find_links = [
            str(folder / link)
            if "://" not in link and not Path(link).is_absolute() and (folder / link).exists()
            else link
            for link in parsed.find_links
        ]
        parsed.requirements, parsed.constraints, parsed.problems = [], [], []
        inputs.options.merge(parsed)
    return inputs, problems


def _read_project_file(
    path: Path, cwd: Path, extras: Sequence[str], all_extras: bool, inputs: _Inputs
) -> None:
    from shipyard.project.manifest import load_project

    label_path = _display(path, cwd)
    if path.name == "pyproject.toml":
        project = load_project(path.parent)
        name = project.name
        dependencies = list(project.dependencies)
        optional: dict[str, Sequence[Requirement]] = {
            canonicalize_name(k): v for k, v in project.optional_dependencies.items()
        }
        inputs.requires_python = project.requires_python
    else:
        from shipyard.formats.setup_cfg import read_setup_cfg

        imported = read_setup_cfg(path)
        if imported.problems:
            raise ManifestError(
                "Cannot read " + label_path + ": " + " ".join(imported.problems),
                context=label_path,
                hint="Fix the file, or list the requirements in a requirements.in.",
            )
        name = imported.name or path.parent.name
        dependencies = [r.requirement for r in imported.dependencies]
        optional = {
            canonicalize_name(k): [r.requirement for r in v] for k, v in imported.optional.items()
        }
        if imported.requires_python:
            inputs.requires_python = SpecifierSet(imported.requires_python)
    label = f"{canonicalize_name(name)} ({label_path})"
    inputs.roots.extend(_Root(r, label) for r in dependencies)
    wanted = sorted(optional) if all_extras else [canonicalize_name(e) for e in extras]
    unknown = [e for e in wanted if e not in optional]
    if unknown:
        raise UsageError(
            f"--extra {', '.join(unknown)}: {label_path} has no such extra "
            f"(it has: {', '.join(sorted(optional)) or 'none'}).",
            hint="Check the spelling of --extra.",
        )
    for extra in wanted:
        inputs.roots.extend(
            _Root(r, f"{canonicalize_name(name)} ({label_path})") for r in optional[extra]
        )


def _read_inputs(
    paths: Sequence[Path],
    constraint_paths: Sequence[Path],
    cwd: Path,
    *,
    extras: Sequence[str] = (),
    all_extras: bool = False,
    what: str,
    warn: Callable[[str], None],
) -> _Inputs:
    """Read every input; lines that cannot be used are fatal, except ``--trusted-host``
    (shipyard verifies TLS anyway), which is passed to ``warn``."""
    requirement_files = [p for p in paths if p.name not in _PROJECT_FILES]
    for path in paths:
        if path.name == "setup.py":
            raise UsageError(
                f"{path}: shipyard does not run setup.py to read its requirements.",
                hint="Move them to pyproject.toml's [project] table (or a setup.cfg), "
                "or list them in a requirements.in.",
            )
        if not (cwd / path).is_file():
            raise UsageError(
                f"{path}: no such file.",
                hint="Name an existing requirements.in, pyproject.toml or setup.cfg.",
            )
    if (extras or all_extras) and len(requirement_files) == len(paths):
        raise UsageError(
            "--extra and --all-extras apply to a pyproject.toml or setup.cfg input only.",
            hint="Name the project file as an input, or drop --extra.",
        )
    inputs, problems = _read_requirement_files(requirement_files, cwd, what=what)
    constrained, more = _read_requirement_files(constraint_paths, cwd, what=what)
    problems.extend(more)
    inputs.constraints.extend(_Root(r.requirement, "-c" + r.label[2:]) for r in constrained.roots)
    inputs.constraints.extend(constrained.constraints)
    for path in paths:
        if path.name in _PROJECT_FILES:
            _read_project_file(cwd / path, cwd, extras, all_extras, inputs)
    for problem in [p for p in problems if "--trusted-host" in p]:
        warn(problem)
        problems.remove(problem)
    if problems:
        raise ManifestError(
            f"The input cannot be used as it is: {' '.join(problems)}",
            hint="Fix these lines; shipyard never leaves a requirement out silently.",
        )
    return inputs


# -- targets -----------------------------------------------------------------------------------


def _minor(text: str) -> tuple[tuple[int, int], str]:
    parts = text.strip().split(".")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or numbers[0] != 3:
        raise UsageError(
            f"--python-version {text!r} is not a Python version.",
            hint="Give it as 3.X or 3.X.Y, for example --python-version 3.11.",
        )
    full = (
        ".".join(str(n) for n in numbers) if len(numbers) == 3 else f"{numbers[0]}.{numbers[1]}.0"
    )
    return (numbers[0], numbers[1]), full


def compile_targets(
    interpreter: Interpreter,
    *,
    universal: bool,
    python_version: str | None,
    python_platform: str | None,
    requires_python: SpecifierSet | None = None,
) -> tuple[TargetEnvironment, ...]:
    """The target environments of a ``pip compile``.

    :param interpreter: the interpreter found for the compile; its version and
        platform fill in what ``python_version``/``python_platform`` leave out.
    :param universal: every supported platform and Python minor from the
        ``python_version`` (or the interpreter's) upwards, within ``requires_python``.
    :param python_platform: a key of :data:`PYTHON_PLATFORMS`.
    :raises UsageError: for an unknown platform or version, or ``universal`` together
        with ``python_platform``.
    """
    from shipyard.specs.targets import default_targets, target_for, target_from_interpreter

    if universal and python_platform:
        raise UsageError(
            "--universal and --python-platform cannot be combined: a universal file "
            "serves every platform.",
            hint="Drop one of them.",
        )
    version = _minor(python_version) if python_version else None
    if universal:
        minor = version[0] if version else interpreter.version_tuple[:2]
        lower = SpecifierSet(f">={minor[0]}.{minor[1]}")
        return default_targets(lower & requires_python if requires_python else lower)
    if version is None and python_platform is None:
        return (target_from_interpreter(interpreter),)
    if python_platform is not None:
        if python_platform not in PYTHON_PLATFORMS:
            raise UsageError(
                f"--python-platform {python_platform!r} is not a platform shipyard knows.",
                hint=f"Use one of: {', '.join(PYTHON_PLATFORMS)}.",
            )
        family, machine = PYTHON_PLATFORMS[python_platform]
    else:
        family = _FAMILY_OF_SYS_PLATFORM.get(interpreter.markers.get("sys_platform", ""), "")
        machine = interpreter.markers.get("platform_machine", "")
    if version is None:
        minor = interpreter.version_tuple[:2]
        version = ((minor[0], minor[1]), interpreter.markers["python_full_version"])
    try:
        return (target_for(version[0], family, machine, version[1]),)
    except KeyError:
        raise UsageError(
            f"This machine's platform ({family or 'unknown'} {machine}) is not one shipyard "
            "can target by version alone.",
            hint="Add --python-platform, or compile for this interpreter without --python-version.",
        ) from None


# -- compile -----------------------------------------------------------------------------------


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
    if path.name in _PROJECT_FILES:
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


def _apply_file_options(services: Services, options: RequirementsFile, pre: bool) -> None:
    """Index options written in the input files count like ``[tool.shipyard]`` values:
    the command line and ``SHIPYARD_*`` variables still win."""
    table: dict[str, Any] = {}
    if options.index_url:
        table["index-url"] = options.index_url
    if options.extra_index_urls:
        table["extra-index-urls"] = list(options.extra_index_urls)
    if options.find_links:
        table["find-links"] = list(options.find_links)
    if options.no_binary:
        table["no-binary"] = list(options.no_binary)
    if options.only_binary:
        table["only-binary"] = list(options.only_binary)
    if pre or options.pre:
        table["prerelease"] = "allow"
    if options.no_index:
        raise UsageError(
            "--no-index in a requirements file is not supported: shipyard always asks an index.",
            hint="Point --index-url at a local index or use --find-links with --offline.",
        )
    if table:
        services.reload_settings(table)


def compile_requirements(
    request: CompileRequest,
    services: Services,
    interpreter: Interpreter,
    *,
    cwd: Path | None = None,
) -> CompileOutcome:
    """Resolve the inputs and lay the result out as pip-compile does (nothing is written:
    the caller writes :attr:`CompileOutcome.text`).

    :param interpreter: from :func:`find_target_interpreter`; the target unless
        ``universal``/``python_version``/``python_platform`` say otherwise, and the
        interpreter that builds sdists' metadata.
    :raises UsageError: for bad options. :raises ManifestError: for unusable input lines
        (``file:line`` each).
    :raises ResolutionError, PackageNotFoundError, NoMatchingVersionError: when the
        requirements cannot be satisfied.
    """
    from shipyard.project.locking import constraint_map, make_repository, resolve_options
    from shipyard.resolver.universal import RootRequirement, resolve

    cwd = cwd or Path.cwd()
    inputs = _read_inputs(
        request.inputs,
        request.constraints,
        cwd,
        extras=request.extras,
        all_extras=request.all_extras,
        what="pip compile",
        warn=services.reporter.warning,
    )
    _apply_file_options(services, inputs.options, request.pre)
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
        *(_Root(r, "--upgrade-package") for r in upgrade_limits),
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
    inputs: _Inputs,
    constraint_roots: Sequence[_Root],
    resolution: Resolution,
    repository: IndexRepository,
    targets: Sequence[TargetEnvironment],
) -> str:
    from shipyard.index.http import public_url

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


# -- sync --------------------------------------------------------------------------------------


def sync_requirements(
    paths: Sequence[Path],
    services: Services,
    venv: VirtualEnvironment,
    interpreter: Interpreter,
    *,
    dry_run: bool = False,
    link_mode: str | None = None,
    cwd: Path | None = None,
) -> SyncOutcome:
    """Make ``venv`` hold exactly the pinned distributions of the requirements files.

    Requirements whose marker is false for ``interpreter`` are skipped. When any line
    has a ``--hash``, every line must (pip's hash-checking mode), and each installed
    file's sha256 must be one of its line's.

    :raises UsageError: when ``venv`` is the environment running shipyard.
    :raises ManifestError: for a line that is not pinned (``==`` or a URL), unusable
        lines, or missing hashes in hash-checking mode.
    :raises HashMismatchError: when no file of a pinned version has a listed hash.
    :raises ShipyardError: from resolving, downloading or installing.
    """
    from shipyard.install.installed import iter_installed
    from shipyard.install.plan import compute_plan
    from shipyard.lock.pylock import build_lock_document, select_from_lock
    from shipyard.project.building import BuilderFactory
    from shipyard.project.locking import make_repository, resolve_options
    from shipyard.project.syncing import SyncOutcome, apply_plan, finish_interrupted_installs
    from shipyard.resolver.universal import RootRequirement, resolve
    from shipyard.specs.targets import target_from_interpreter

    cwd = cwd or Path.cwd()
    import sys

    if os.path.realpath(venv.root) == os.path.realpath(sys.prefix):
        raise UsageError(
            f"{venv.root} is the environment shipyard itself runs from; syncing it to the "
            "file would remove shipyard and what it needs.",
            hint="Install shipyard outside it (pipx install shipyard, or another venv), "
            "or pass --python for the environment to change.",
        )
    inputs = _read_inputs(paths, (), cwd, what="pip sync", warn=services.reporter.warning)
    _apply_file_options(services, inputs.options, False)
    environment = dict(interpreter.markers)
    unpinned: list[str] = []
    roots: list[RootRequirement] = []
    for root in inputs.roots:
        requirement = root.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        if not requirement.url and pinned_version(requirement) is None:
            unpinned.append(str(requirement))
        roots.append(RootRequirement(requirement=requirement, selector=None, origin=root.label))
    if unpinned:
        raise ManifestError(
            f"pip sync installs exactly the versions a file pins, and these lines pin none: "
            f"{', '.join(unpinned)}.",
            context=", ".join(str(p) for p in paths),
            hint="Compile the file first (`shipyard pip compile requirements.in`), or pin "
            "each line with ==.",
        )
    if inputs.hashes:
        missing = sorted(
            {canonicalize_name(r.requirement.name) for r in roots} - set(inputs.hashes)
        )
        if missing:
            raise ManifestError(
                "Some lines have --hash and others do not; with hashes, every line needs "
                f"them (as pip's hash-checking mode requires): {', '.join(missing)}.",
                context=", ".join(str(p) for p in paths),
                hint="Recompile with `shipyard pip compile --generate-hashes`.",
            )
    target = target_from_interpreter(interpreter)
    repository = make_repository(None, services, interpreter=interpreter)
    options = replace(
        resolve_options(services, None, {}),
        no_deps=True,
        prerelease="allow",  # a pin names its version: a pre-release pin is on purpose
        preferences={},
    )
    resolution = resolve(
        roots,
        project_name="the requirements file",
        targets=[target],
        repository=repository,
        options=options,
        requires_python=None,
        reporter=services.reporter,
    )
    packages = []
    for package in resolution.packages:
        files = tuple(repository.file_digest(f) for f in package.files)
        expected = inputs.hashes.get(package.name)
        if expected is not None:
            allowed = {h.split(":", 1)[1] for h in expected if h.startswith("sha256:")}
            files = tuple(f for f in files if f.sha256 in allowed)
            if not files:
                raise HashMismatchError(
                    f"No file of {package.name} {package.version} that fits this "
                    "environment has one of the hashes the requirements file lists.",
                    context=package.name,
                    hint="The file may have been re-uploaded, or the hashes belong to "
                    "another version; recompile it with --generate-hashes.",
                )
        packages.append(replace(package, files=files))
    resolution = replace(resolution, packages=tuple(packages))
    document = build_lock_document(
        resolution,
        requires_python=None,
        extras=[],
        dependency_groups=[],
        default_groups=[],
        project=None,
        tool={},
        environments=[],
        base=cwd,
    )
    selected = select_from_lock(
        document,
        environment=environment,
        tags=interpreter.tags,
        extras=(),
        dependency_groups=(),
        path=cwd / "requirements.txt",
        no_binary=frozenset(
            n if n == ":all:" else canonicalize_name(n) for n in services.settings.no_binary
        ),
    )
    if not dry_run:
        finish_interrupted_installs(venv)
    installed = list(iter_installed(sorted({venv.site_packages, venv.platlib})))
    listed = {d.name for d in selected}
    plan = compute_plan(selected, installed, exact=True, protected=_KEPT_BY_SYNC - listed, base=cwd)
    outcome = SyncOutcome(dry_run=dry_run)
    outcome.env_root = venv.root
    outcome.plan = plan
    if dry_run or plan.empty:
        return outcome
    apply_plan(
        plan,
        services,
        venv,
        interpreter,
        factory=BuilderFactory(None, services, interpreter),
        base=cwd,
        requested=listed,
        link_mode=link_mode or services.settings.link_mode,
        outcome=outcome,
    )
    return outcome
