"""The inputs of ``shipyard pip compile`` and ``pip sync``: requirements files
(``-r``/``-c``, ``--hash``, index options), a ``pyproject.toml`` or a ``setup.cfg``,
read into root requirements labelled with where they came from, and the index
options the files carry applied to the settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError, UsageError
from shipyard.formats.requirements import RequirementsFile, read_requirements
from shipyard.project.services import Services

__all__ = [
    "PROJECT_FILES",
    "LabelledRequirement",
    "RequirementInputs",
    "apply_file_options",
    "read_inputs",
]

#: Inputs read as a project's metadata rather than as requirements files.
PROJECT_FILES = ("pyproject.toml", "setup.cfg")


@dataclass(frozen=True, slots=True)
class LabelledRequirement:
    """A requirement and where it came from, as a ``# via`` annotation names it."""

    requirement: Requirement
    label: str  # "-r requirements.in", "demo (pyproject.toml)"


@dataclass(slots=True)
class RequirementInputs:
    """Everything read from the inputs.

    :param roots: the requirements; :param constraints: ``-c`` limits.
    :param options: the index options the requirements files carry.
    :param requires_python: a project file's ``requires-python``, if any.
    :param hashes: ``--hash`` values by canonical name.
    """

    roots: list[LabelledRequirement] = field(default_factory=list)
    constraints: list[LabelledRequirement] = field(default_factory=list)
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
) -> tuple[RequirementInputs, list[str]]:
    inputs = RequirementInputs()
    problems: list[str] = []
    for path in paths:
        parsed = read_requirements(cwd / path)
        for line in parsed.requirements:
            source = _display(Path(_source_of(line.origin)), cwd)
            inputs.roots.append(LabelledRequirement(line.requirement, f"-r {source}"))
            if line.hashes:
                inputs.hashes.setdefault(canonicalize_name(line.requirement.name), set()).update(
                    line.hashes
                )
        for line in parsed.constraints:
            source = _display(Path(_source_of(line.origin)), cwd)
            inputs.constraints.append(LabelledRequirement(line.requirement, f"-c {source}"))
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
    path: Path, cwd: Path, extras: Sequence[str], all_extras: bool, inputs: RequirementInputs
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
    inputs.roots.extend(LabelledRequirement(r, label) for r in dependencies)
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
            LabelledRequirement(r, f"{canonicalize_name(name)} ({label_path})")
            for r in optional[extra]
        )


def read_inputs(
    paths: Sequence[Path],
    constraint_paths: Sequence[Path],
    cwd: Path,
    *,
    extras: Sequence[str] = (),
    all_extras: bool = False,
    what: str,
    warn: Callable[[str], None],
) -> RequirementInputs:
    """Read every input; lines that cannot be used are fatal, except ``--trusted-host``
    (shipyard verifies TLS anyway), which is passed to ``warn``."""
    requirement_files = [p for p in paths if p.name not in PROJECT_FILES]
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
    inputs.constraints.extend(
        LabelledRequirement(r.requirement, "-c" + r.label[2:]) for r in constrained.roots
    )
    inputs.constraints.extend(constrained.constraints)
    for path in paths:
        if path.name in PROJECT_FILES:
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


def apply_file_options(services: Services, options: RequirementsFile, pre: bool) -> None:
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
