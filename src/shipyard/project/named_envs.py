"""Named environments: projects kept under the user data directory, usable from anywhere.

A named environment is an ordinary shipyard project — ``pyproject.toml``,
``pylock.toml`` and ``.venv`` — in ``<env dir>/<name>/`` (``SHIPYARD_ENV_DIR``, default
``<user data dir>/shipyard/envs``). It is created with the ``init`` machinery, filled
with the ``add`` use case (or the ``import`` one, for an ``environment.yml`` or a
requirements file), locked and synced like any project; ``run --env NAME`` and
``shell --env NAME`` then use it from any directory. Its ``[project]`` is named
``env-<name>``, so an environment called ``pandas`` can require ``pandas``.

A creation that fails removes the half-made directory (and, with ``force``, puts back
the environment it was replacing).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError, UsageError
from shipyard.project.editing import EditOutcome, add_requirements, commit_edit
from shipyard.project.importing import ImportOutcome, import_files
from shipyard.project.init import init_project
from shipyard.project.manifest import PYPROJECT, Project, load_project
from shipyard.project.manifest_editor import ManifestEditor
from shipyard.project.services import Services
from shipyard.settings import Settings

__all__ = [
    "NamedEnv",
    "NamedEnvCreated",
    "NamedEnvError",
    "check_env_name",
    "create_named_env",
    "describe_named_env",
    "env_name_from_file",
    "find_named_env",
    "list_named_envs",
    "load_named_env",
    "named_envs_dir",
    "remove_named_env",
]

#: letters, digits, ``-``, ``_`` and ``.``, starting and ending with a letter or digit
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
_ENV_DIRNAME = ".venv"


class NamedEnvError(ShipyardError):
    """A named environment is missing, already exists, or cannot be made as asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedEnv:
    """One named environment on disk.

    :param name: its name (the directory's name).
    :param root: the project directory (``<env dir>/<name>``), absolute.
    :param python: the environment's Python version (``"3.12.1"``), or ``None`` when
        it has not been synced (or cannot be read).
    :param packages: how many distributions are installed in it (conda packages and
        PyPI distributions, each counted once), or ``None`` without an environment.
    """

    name: str
    root: Path
    python: str | None = None
    packages: int | None = None

    @property
    def env_root(self) -> Path:
        """The environment itself: ``<root>/.venv`` (a virtual environment or a conda
        prefix)."""
        return self.root / _ENV_DIRNAME


@dataclass(slots=True, kw_only=True)
class NamedEnvCreated:
    """What :func:`create_named_env` did.

    :param env: the new environment.
    :param edit: the lock and sync outcome of its last step.
    :param imported: the import of ``file``, when one was given.
    """

    env: NamedEnv
    edit: EditOutcome
    imported: ImportOutcome | None = None


def named_envs_dir(settings: Settings) -> Path:
    """The directory that holds the named environments: ``SHIPYARD_ENV_DIR``, else
    ``<user data dir>/shipyard/envs`` (``platformdirs``; ``~/.local/share/shipyard/envs``
    on Linux)."""
    if settings.env_dir:
        return Path(settings.env_dir).expanduser().absolute()
    from platformdirs import user_data_dir

    return Path(user_data_dir("shipyard", appauthor=False)) / "envs"


def check_env_name(name: str) -> str:
    """Return ``name`` when it may name an environment: 1 to 64 letters, digits, ``-``,
    ``_`` and ``.``, starting and ending with a letter or digit (so it is a directory
    name on every system and never ``..``).

    :raises UsageError: otherwise.
    """
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid environment name.",
            hint="Use letters, digits, '-', '_' and '.' (at most 64), starting and ending "
            "with a letter or digit, e.g. `sci` or `torch-2.4`.",
        )
    return name


def _is_env(directory: Path) -> bool:
    return _NAME.match(directory.name) is not None and (directory / PYPROJECT).is_file()


def list_named_envs(settings: Settings) -> list[NamedEnv]:
    """Every named environment, sorted by name (an empty list when the directory does
    not exist yet). Reads ``pyvenv.cfg`` or ``conda-meta`` and lists ``site-packages``;
    runs nothing."""
    directory = named_envs_dir(settings)
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    return [describe_named_env(entry) for entry in entries if _is_env(entry)]


def describe_named_env(root: Path) -> NamedEnv:
    """The :class:`NamedEnv` at ``root`` (a project directory), with its Python
    version and package count read from its ``.venv``."""
    env_root = root / _ENV_DIRNAME
    python: str | None = None
    packages: int | None = None
    conda_meta = env_root / "conda-meta"
    if conda_meta.is_dir():
        records = [p.name for p in conda_meta.glob("*.json")]
        for record in records:
            match = re.match(r"^python-(\d[^-]*)-[^-]+\.json$", record)
            if match:
                python = match.group(1)
        site = _site_packages(env_root)
        pypi = [
            info
            for info in (site.glob("*.dist-info") if site else ())
            if _installer(info) != "conda"
        ]
        packages = len(records) + len(pypi)
    else:
        from shipyard.venv import inspect_venv

        venv = inspect_venv(env_root)
        if venv is not None:
            python = venv.version or None
            packages = sum(1 for _ in venv.site_packages.glob("*.dist-info"))
    return NamedEnv(name=root.name, root=root, python=python, packages=packages)


def _site_packages(prefix: Path) -> Path | None:
    if os.name == "nt":  # pragma: no cover - conda prefixes on Windows
        candidate = prefix / "Lib" / "site-packages"
        return candidate if candidate.is_dir() else None
    found = sorted((prefix / "lib").glob("python3*/site-packages"))
    return found[-1] if found else None


def _installer(dist_info: Path) -> str:
    try:
        return (dist_info / "INSTALLER").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def find_named_env(name: str, settings: Settings) -> NamedEnv:
    """The named environment ``name``.

    :raises UsageError: for an invalid name.
    :raises NamedEnvError: when there is none of that name (with the closest name, or
        how to create it).
    """
    check_env_name(name)
    root = named_envs_dir(settings) / name
    if _is_env(root):
        return NamedEnv(name=name, root=root)
    raise _unknown(name, settings)


def _unknown(name: str, settings: Settings) -> NamedEnvError:
    import difflib

    known = [env.name for env in list_named_envs(settings)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    listing = ", ".join(known) or "none"
    return NamedEnvError(
        f"There is no named environment {name!r} (there are: {listing}).",
        context=str(named_envs_dir(settings)),
        hint=f"Did you mean {close[0]!r}?"
        if close
        else f"Create it with `shipyard env create {name} PKG…`.",
    )


def env_name_from_file(file: Path) -> str | None:
    """The ``name:`` of an ``environment.yml`` (``None`` for another kind of file, or
    one without a name).

    :raises ManifestError: when the environment file cannot be read.
    """
    if file.suffix.lower() not in (".yml", ".yaml"):
        return None
    from shipyard.formats.environment_yml import read_environment_yml

    return read_environment_yml(file).name


def create_named_env(
    name: str,
    requirements: Sequence[str],
    conda_specs: Sequence[str],
    python: str | None,
    file: Path | None,
    services: Services,
    *,
    channels: Sequence[str] = (),
    force: bool = False,
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    find_links: Sequence[str] = (),
) -> NamedEnvCreated:
    """Create the named environment ``name``: a project in ``<env dir>/<name>``, locked
    and synced (``.venv`` inside).

    :param requirements: PEP 508 requirements, added as ``add`` adds them (a bare name
        gets a lower bound at the locked version).
    :param conda_specs: conda MatchSpecs for ``[tool.shipyard.conda] dependencies``,
        locked for this machine's platform only (as ``import`` does for an
        ``environment.yml``).
    :param python: an interpreter request (``3.12``, ``>=3.11``, a path), pinned in the
        environment's ``.python-version``; ``None``: the interpreter shipyard finds
        first, whose minor version becomes ``requires-python``'s lower bound.
    :param file: an ``environment.yml``, requirements file, Pipfile … imported as
        ``import`` does (its conda section, channels and pins included).
    :param channels: conda channels (names, URLs or paths) for ``conda_specs``; default
        the file's, else ``conda-forge``.
    :param force: replace an environment of that name (it is put back if this fails).
    :param index_url: written as the environment's ``index-url`` (so later syncs from
        any directory use the index it was created from); likewise ``extra_index_urls``
        and ``find_links`` (local paths made absolute).
    :raises UsageError: for an invalid name or MatchSpec.
    :raises NamedEnvError: when the name is taken and ``force`` is off.
    :raises ShipyardError: from importing, locking or syncing; nothing is left behind.
    """
    check_env_name(name)
    if conda_specs:
        _check_match_specs(conda_specs)
    if channels and not conda_specs and file is None:
        raise UsageError(
            "--channel applies to conda packages, and none were given.",
            hint="Add conda packages with --conda SPEC, or drop --channel.",
        )
    parent = named_envs_dir(services.settings)
    root = parent / name
    aside: Path | None = None
    if root.exists() or root.is_symlink():
        if not force:
            raise NamedEnvError(
                f"A named environment {name!r} exists already.",
                context=str(root),
                hint=f"Pass --force to replace it, or run `shipyard env remove {name}` first.",
            )
        aside = parent / f".{name}.replaced-{os.getpid()}"
        os.replace(root, aside)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        created = _create(
            root,
            name,
            list(requirements),
            list(conda_specs),
            python,
            file,
            services,
            channels=list(channels),
            index_url=index_url,
            extra_index_urls=list(extra_index_urls),
            find_links=list(find_links),
        )
    except BaseException:
        _remove_tree(root, ignore_errors=True)
        if aside is not None:
            os.replace(aside, root)
        raise
    if aside is not None:
        _remove_tree(aside, ignore_errors=True)
    return created


def _create(
    root: Path,
    name: str,
    requirements: list[str],
    conda_specs: list[str],
    python: str | None,
    file: Path | None,
    services: Services,
    *,
    channels: list[str],
    index_url: str | None,
    extra_index_urls: list[str],
    find_links: list[str],
) -> NamedEnvCreated:
    requires, pin = _python_bounds(python, services)
    init_project(root, name=f"env-{name}", requires_python=requires, python_pin=pin, bare=True)
    (root / ".gitignore").unlink(missing_ok=True)  # not a repository
    editor = ManifestEditor(root / PYPROJECT)
    if index_url:
        editor.set_tool_value("index-url", index_url)
    if extra_index_urls:
        editor.set_tool_value("extra-index-urls", extra_index_urls)
    if find_links:
        editor.set_tool_value("find-links", [_absolute_location(item) for item in find_links])
    settings_changed = bool(index_url or extra_index_urls or find_links)
    imported: ImportOutcome | None = None
    if file is not None:
        editor.write()
        if settings_changed:
            services.reload_settings(load_project(root).tool)
        later = bool(requirements or conda_specs)
        imported = import_files(root, services, [file.absolute()], no_sync=later)
        edit = imported.edit
        if not later:
            return NamedEnvCreated(env=describe_named_env(root), edit=edit, imported=imported)
        editor = ManifestEditor(root / PYPROJECT)
    if conda_specs:
        if channels:
            editor.set_tool_value("channels", channels, conda=True)
        conda = editor.document.get("tool", {}).get("shipyard", {}).get("conda", {})
        if not conda.get("platforms"):
            from shipyard.conda.solve import host_platform

            here = host_platform()
            if here is not None:
                # A personal environment serves this machine: lock its platform only.
                editor.set_tool_value("platforms", [here], conda=True)
        for spec in conda_specs:
            editor.add_conda(spec.strip())
    if requirements:
        editor.write()
        project = load_project(root)
        if settings_changed:
            services.reload_settings(project.tool)
        edit = add_requirements(project, services, requirements)
    else:
        edit = commit_edit(editor, root, services, no_sync=False, reload_settings=True)
    return NamedEnvCreated(env=describe_named_env(root), edit=edit, imported=imported)


def _python_bounds(python: str | None, services: Services) -> tuple[str, str | None]:
    """``(requires-python, .python-version pin)`` for the interpreter request: the
    request's lower bound (else the found interpreter's minor version) and the request
    itself (a path made absolute)."""
    from shipyard.errors import InterpreterNotFoundError
    from shipyard.python.discovery import find_interpreter, parse_python_request

    request = parse_python_request(python)
    pin = None
    if python:
        pin = str(request.path) if request.path is not None else python.strip()
    minimum = request.minimum_version()
    if minimum is None:
        try:
            found = find_interpreter(request, requires_python=None, cache_dir=services.cache.root)
            minimum = ".".join(str(part) for part in found.version_tuple[:2])
        except InterpreterNotFoundError:
            if python:
                raise
            minimum = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f">={minimum}", pin


def _absolute_location(item: str) -> str:
    """A find-links entry as the environment keeps it: URLs as they are, paths absolute
    (the environment's directory is not where the command ran)."""
    if "://" in item:
        return item
    return str(Path(item).expanduser().absolute())


def _check_match_specs(specs: Sequence[str]) -> None:
    """:raises UsageError: for a spec py-rattler does not read as a MatchSpec."""
    from rattler import MatchSpec

    for spec in specs:
        try:
            MatchSpec(spec)
        except Exception as exc:
            raise UsageError(
                f"Invalid conda MatchSpec {spec!r}: {str(exc).splitlines()[0]}.",
                hint='Write it as conda does, e.g. "cuda-toolkit 12.4.*" or "numpy >=1.26".',
            ) from exc


def remove_named_env(name: str, settings: Settings) -> NamedEnv:
    """Delete the named environment ``name`` (its directory: manifest, lock, ``.venv``).

    :returns: what was removed (described before removal).
    :raises UsageError: for an invalid name.
    :raises NamedEnvError: when there is none of that name.
    """
    env = describe_named_env(find_named_env(name, settings).root)
    _remove_tree(env.root)
    return env


def load_named_env(name: str, settings: Settings) -> Project:
    """The project of the named environment ``name``, read from its ``pyproject.toml``.

    :raises NamedEnvError: when there is none of that name.
    :raises ManifestError: when its manifest cannot be read.
    """
    return load_project(find_named_env(name, settings).root)


def _remove_tree(path: Path, *, ignore_errors: bool = False) -> None:
    """Remove a directory tree (or a link or file) if it is there.

    :param ignore_errors: leave what cannot be removed (cleaning up after a failure,
        whose error is the one to report).
    """
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=ignore_errors)
