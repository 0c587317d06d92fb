"""``shipyard build``: the project's sdist and wheel, through the PEP 517 front end.

As ``python -m build`` and ``uv build`` do, the default is an sdist first and then a
wheel built *from that sdist* (unpacked into scratch space), so a file the sdist
forgot shows up as a broken wheel here rather than on a user's machine. Each build
runs in an isolated environment whose build requirements shipyard resolves and
installs with its own installer (:mod:`shipyard.build.frontend`); the finished files
are moved into the output directory (``dist/`` by default) atomically.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from shipyard.atomic import os_error
from shipyard.errors import BuildError, ManifestError, UsageError
from shipyard.project.manifest import Project, load_project
from shipyard.project.services import Services

__all__ = ["BuildOutcome", "build_distributions", "check_build_system"]

_BUILD_SYSTEM_HINT = (
    "Add a [build-system] table to pyproject.toml naming the build backend (PEP 517), "
    'e.g. requires = ["hatchling"] and build-backend = "hatchling.build", or '
    'requires = ["setuptools>=77"] and build-backend = "setuptools.build_meta".'
)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What :func:`build_distributions` made.

    :param name: the project's name as written in ``[project]``.
    :param source_dir: the tree that was built.
    :param files: the sdist and/or wheel, in the order built, inside the output directory.
    """

    name: str
    source_dir: Path
    files: tuple[Path, ...]


def check_build_system(source_dir: Path) -> None:
    """Refuse a tree that no build backend can build: its ``pyproject.toml`` has no
    ``[build-system]`` table and there is no ``setup.py`` for PEP 517's setuptools
    fallback.

    :raises BuildError: naming the file, with a hint showing a ``[build-system]`` table.
    """
    pyproject = source_dir / "pyproject.toml"
    try:
        with open(pyproject, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        data = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"Cannot read pyproject.toml: {exc}.", context=str(pyproject)) from exc
    if isinstance(data.get("build-system"), dict) or (source_dir / "setup.py").is_file():
        return
    raise BuildError(
        "This project has no build system, so there is no backend to build an sdist or a "
        "wheel with.",
        context=str(pyproject),
        hint=_BUILD_SYSTEM_HINT,
    )


def _select_source(project: Project, source: Path | None, package: str | None) -> Project:
    """The project to build: a workspace member by name, the one at ``source``, or the
    project itself."""
    if package is not None:
        from shipyard.project.workspace import workspace_members

        wanted = canonicalize_name(package)
        candidates = (project, *workspace_members(project))
        for candidate in candidates:
            if candidate.canonical_name == wanted:
                return candidate
        names = ", ".join(sorted(c.name for c in candidates))
        raise UsageError(
            f"No project named {package!r} in this workspace.",
            context=str(project.pyproject),
            hint=f"Use one of: {names}.",
        )
    if source is None or source.resolve() == project.root.resolve():
        return project
    if not (source / "pyproject.toml").is_file():
        if source.is_file():
            raise UsageError(
                f"{source} is a file; `shipyard build` builds a project directory.",
                hint="Give the directory that holds pyproject.toml.",
            )
        raise UsageError(
            f"{source} holds no pyproject.toml.",
            hint="Give the directory of the project to build.",
        )
    return load_project(source)


def _place(built: Path, out_dir: Path) -> Path:
    """Move ``built`` (in the cache's scratch space, maybe another file system) into
    ``out_dir`` atomically: a copy under a temporary name, then a rename."""
    target = out_dir / built.name
    tmp = out_dir / f".{built.name}.{os.getpid()}.tmp"
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(exc, what=f"write {built.name}", path=target) from exc
    return target


def _checked(path: Path, kind: str, label: str) -> Path:
    """``path`` when its name is a valid sdist or wheel file name, else a BuildError."""
    try:
        if kind == "wheel":
            parse_wheel_filename(path.name)
        else:
            parse_sdist_filename(path.name)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise BuildError(
            f"The build backend of {label} returned {path.name!r}, which is not a valid "
            f"{kind} file name: {exc}.",
            hint="Upgrade the build backend (a newer one follows PEP 427 and PEP 625).",
        ) from exc
    if not path.is_file():
        raise BuildError(
            f"The build backend of {label} said it wrote {path.name}, but no such file exists.",
            hint="Run with -v to see the backend's output.",
        )
    return path


def build_distributions(
    project: Project,
    services: Services,
    *,
    source: Path | None = None,
    package: str | None = None,
    sdist: bool = True,
    wheel: bool = True,
    out_dir: Path | None = None,
) -> BuildOutcome:
    """Build the sdist and/or the wheel of ``project`` (or of one of its workspace
    members) into ``out_dir``.

    With both kinds, the wheel is built from the sdist just made (as PEP 517 front ends
    do); with ``wheel`` alone, from the source tree.

    :param source: the project directory to build (default: ``project.root``).
    :param package: the name of a workspace member to build instead.
    :param out_dir: where the files go (default: ``dist/`` of the built project); made
        when missing. A file of the same name there is replaced.
    :raises UsageError: when ``package`` or ``source`` names no project, or neither kind
        is asked for.
    :raises BuildError: when the tree has no build system or a backend fails.
    :raises InterpreterNotFoundError: when no interpreter for the build is found.
    """
    if not (sdist or wheel):
        raise UsageError("Nothing to build.", hint="Ask for --sdist, --wheel, or neither (both).")
    target = _select_source(project, source, package)
    source_dir = target.root
    check_build_system(source_dir)
    destination = out_dir if out_dir is not None else source_dir / "dist"
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, what="create the output directory", path=destination) from exc

    from shipyard.project.building import BuilderFactory

    # The workspace's interpreter builds every member, as it runs their code.
    builder = BuilderFactory(project, services).builder()
    label = target.name
    scratch: list[Path] = []
    files: list[Path] = []
    try:
        if sdist:
            built_sdist = _checked(builder.sdist(source_dir, label), "sdist", label)
            scratch.append(built_sdist.parent)
            files.append(_place(built_sdist, destination))
            if wheel:
                tree = builder.source_tree(built_sdist)
                scratch.append(tree.parent if tree.parent.name.startswith("sdist-") else tree)
                built_wheel = _checked(builder.wheel(tree, label), "wheel", label)
                scratch.append(built_wheel.parent)
                files.append(_place(built_wheel, destination))
        else:
            built_wheel = _checked(builder.wheel(source_dir, label), "wheel", label)
            scratch.append(built_wheel.parent)
            files.append(_place(built_wheel, destination))
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    return BuildOutcome(name=target.name, source_dir=source_dir, files=tuple(files))
