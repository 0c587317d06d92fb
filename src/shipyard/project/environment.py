"""The project's environment: which interpreter, and a ``.venv`` made from it.

The interpreter request comes from, highest first: ``--python``,
``.python-version`` in the project (or a parent), ``SHIPYARD_PYTHON`` /
``[tool.shipyard] python``, and finally ``requires-python`` alone. When nothing on
the machine fits, a managed CPython is downloaded (unless ``python-downloads`` says
``manual``/``never``, or ``--offline``). An existing
``.venv`` is kept when its interpreter still satisfies the request; otherwise
it is rebuilt and the reporter says why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.specifiers import SpecifierSet

from shipyard.errors import InterpreterNotFoundError
from shipyard.models import Interpreter
from shipyard.project.manifest import Project
from shipyard.project.services import Services

if TYPE_CHECKING:
    from shipyard.conda.records import CondaRecord
    from shipyard.python.discovery import PythonRequest
    from shipyard.venv import VirtualEnvironment

__all__ = [
    "ProjectEnvironment",
    "download_interpreter",
    "ensure_conda_environment",
    "ensure_environment",
    "find_project_interpreter",
    "python_request_text",
]

VENV_DIRNAME = ".venv"


def python_request_text(project: Project, services: Services) -> tuple[str | None, str]:
    """The interpreter request and where it came from (for messages)."""
    if services.cli_python:
        return services.cli_python, "--python"
    from shipyard.python.discovery import read_python_pin

    pinned = read_python_pin(project.root)
    if pinned is not None:
        return pinned[0], str(pinned[1])
    if services.settings.python:
        return services.settings.python, "[tool.shipyard] python / SHIPYARD_PYTHON"
    return None, "requires-python"


def find_project_interpreter(
    project: Project, services: Services, *, dry_run: bool = False
) -> Interpreter:
    """The interpreter the project's environment should use; when nothing on the
    machine fits and downloads are on, a managed CPython is downloaded.

    :param dry_run: download nothing: return a stand-in for the build that would be
        downloaded (:func:`stand_in_interpreter`, its ``executable`` not yet present).
    :raises InterpreterNotFoundError: when nothing on the machine fits (and no download
        does either).
    """
    from shipyard.python.discovery import find_interpreter, parse_python_request

    text, _source = python_request_text(project, services)
    request = parse_python_request(text)
    try:
        return find_interpreter(
            request, requires_python=project.requires_python, cache_dir=services.cache.root
        )
    except InterpreterNotFoundError as missing:
        if (
            services.settings.python_downloads != "automatic"
            or services.settings.offline
            or request.path is not None
        ):
            raise
        if dry_run:
            from shipyard.python.discovery import managed_python_dir
            from shipyard.python.downloads import find_download

            try:
                download = find_download(request, requires_python=project.requires_python)
            except InterpreterNotFoundError:
                raise missing from None
            return stand_in_interpreter(download.version, managed_python_dir() / download.key)
        return download_interpreter(
            request, services, requires_python=project.requires_python, missing=missing
        )


def stand_in_interpreter(version: str, root: Path) -> Interpreter:
    """The CPython ``version`` that will live at ``root`` (a conda prefix or a managed
    install), for a dry run before it exists: its marker environment on this machine
    and CPython's wheel tags for that version (no install scheme: a dry run installs
    nothing).

    :param version: ``X.Y`` or ``X.Y.Z``.
    """
    import platform as host
    import sys
    import sysconfig

    from packaging import tags as wheel_tags

    minor = tuple(int(p) for p in version.split(".")[:2])
    markers = {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix" if sys.platform != "win32" else "nt",
        "platform_machine": host.machine(),
        "platform_python_implementation": "CPython",
        "platform_release": host.release(),
        "platform_system": host.system(),
        "platform_version": host.version(),
        "python_full_version": version,
        "python_version": ".".join(map(str, minor)),
        "sys_platform": sys.platform,
    }
    tags = [
        str(t)
        for t in (
            *wheel_tags.cpython_tags(python_version=minor),
            *wheel_tags.compatible_tags(python_version=minor),
        )
    ]
    python = root / ("python.exe" if sys.platform == "win32" else "bin/python")
    return Interpreter(
        executable=python,
        version=version,
        implementation="cpython",
        prefix=root,
        base_prefix=root,
        base_executable=python,
        platform=sysconfig.get_platform(),
        markers=markers,
        tags=tuple(tags),
        scheme={},
    )


def download_interpreter(
    request: PythonRequest,
    services: Services,
    *,
    requires_python: SpecifierSet | None = None,
    missing: InterpreterNotFoundError | None = None,
) -> Interpreter:
    """Download and install the newest managed CPython that fits ``request`` and
    ``requires_python``, and probe it.

    :param missing: the search that found nothing, re-raised when no download fits
        either (its message lists what the machine has).
    :raises InterpreterNotFoundError, NetworkError, HashMismatchError, InstallError.
    """
    from shipyard.project.remote_blobs import remote_blob_cache
    from shipyard.python.discovery import managed_python_dir
    from shipyard.python.downloads import download_and_install, find_download
    from shipyard.python.probe import probe_interpreter

    try:
        download = find_download(request, requires_python=requires_python)
    except InterpreterNotFoundError as none:
        raise (missing or none) from None
    executable = download_and_install(
        download,
        client=services.client,
        install_dir=managed_python_dir(),
        mirror=services.settings.python_mirror,
        reporter=services.reporter,
        remote=remote_blob_cache(services, "interpreters"),
    )
    services.reporter.notice(
        f"Installed Python {download.version} ({download.key}): nothing on this machine "
        f"fit {request.describe()}."
    )
    return probe_interpreter(executable, cache_dir=services.cache.root)


@dataclass(frozen=True, slots=True)
class ProjectEnvironment:
    """The project's virtual environment and the probed facts of its interpreter."""

    root: Path
    interpreter: Interpreter
    created: bool
    #: for a conda prefix: how many conda packages were (re)installed by this call
    conda_installed: int = 0


def _satisfies(
    interpreter: Interpreter, request: str | None, requires_python: SpecifierSet | None
) -> bool:
    from shipyard.python.discovery import parse_python_request

    if requires_python is not None and not requires_python.contains(
        interpreter.markers["python_full_version"], prereleases=True
    ):
        return False
    return parse_python_request(request).satisfied_by(interpreter)


@dataclass(frozen=True, slots=True)
class EnvironmentPlan:
    """What :func:`ensure_environment` would do to ``.venv``, decided without changing it.

    :param action: ``"keep"``, ``"create"`` or ``"rebuild"`` (on another interpreter).
    :param interpreter: the environment's interpreter (keep) or the base interpreter it
        would be made from.
    :param reason: for a rebuild, why (the Python no longer fits the request).
    :param download: for a dry run, the managed CPython build that a real sync would
        download first (``cpython-3.12.7-linux-x86_64-gnu``), else empty.
    """

    root: Path
    action: Literal["keep", "create", "rebuild"]
    interpreter: Interpreter
    reason: str = ""
    download: str = ""


def plan_environment(
    project: Project, services: Services, *, dry_run: bool = False
) -> EnvironmentPlan:
    """Decide whether ``.venv`` is kept, created or rebuilt; nothing is written (but a
    fitting interpreter is downloaded when none is on the machine, unless ``dry_run``:
    then the plan names the download, :attr:`EnvironmentPlan.download`).

    :raises InterpreterNotFoundError: when no interpreter fits.
    """
    from shipyard.python.probe import probe_interpreter
    from shipyard.venv import inspect_venv

    root = project.root / VENV_DIRNAME
    request, source = python_request_text(project, services)
    existing = inspect_venv(root)
    reason = ""
    if existing is not None and existing.python.exists():
        try:
            interpreter = probe_interpreter(existing.python, cache_dir=services.cache.root)
        except Exception:  # a broken environment (its base interpreter was removed)
            interpreter = None
        if interpreter is not None and _satisfies(interpreter, request, project.requires_python):
            return EnvironmentPlan(root, "keep", interpreter)
        reason = (
            f"its Python {existing.version} does not satisfy "
            f"{request or project.requires_python} (from {source})"
        )
    base = find_project_interpreter(project, services, dry_run=dry_run)
    download = "" if base.executable.exists() else base.prefix.name
    action: Literal["create", "rebuild"] = "create" if existing is None else "rebuild"
    return EnvironmentPlan(root, action, base, reason, download)


def ensure_environment(project: Project, services: Services) -> ProjectEnvironment:
    """Make sure ``.venv`` exists and uses a fitting interpreter; create or rebuild it
    (:func:`plan_environment` decides which).

    :raises InterpreterNotFoundError: when no interpreter fits.
    :raises InstallError: when ``.venv`` exists but is not a virtual environment.
    """
    from shipyard.python.probe import venv_interpreter
    from shipyard.venv import create_venv, inspect_venv

    plan = plan_environment(project, services)
    if plan.action == "keep":
        return ProjectEnvironment(plan.root, plan.interpreter, created=False)
    if plan.reason:
        services.reporter.warning(f"Rebuilding .venv: {plan.reason}.")
    base = plan.interpreter
    create_venv(plan.root, base, prompt=project.name, clear=plan.action == "rebuild")
    env = inspect_venv(plan.root)
    assert env is not None
    # Its facts are the base's but for the prefix: no need to start it (0.05–0.1 s).
    interpreter = venv_interpreter(base, env.root, env.python)
    return ProjectEnvironment(plan.root, interpreter, created=True)


def ensure_conda_environment(
    project: Project, services: Services, records: Sequence[CondaRecord], *, dry_run: bool = False
) -> ProjectEnvironment | None:
    """Make ``.venv`` a conda prefix holding exactly ``records`` (conda packages only;
    files conda does not own stay), and probe its ``python``.

    A ``.venv`` that is a virtual environment is replaced (the reporter says so); one
    that is neither a virtual environment nor a conda prefix is refused.

    :param records: this platform's conda records from the lock (they include python).
    :param dry_run: change nothing; returns ``None`` when the prefix does not exist yet.
    :raises InstallError: when ``.venv`` is something else, or has no ``bin/python``
        after the install.
    """
    import shutil

    from shipyard.conda.config import conda_config
    from shipyard.conda.prefix import install_records, installed_dists, is_conda_prefix
    from shipyard.errors import InstallError
    from shipyard.project.remote_blobs import remote_blob_cache
    from shipyard.python.probe import probe_interpreter

    root = project.root / VENV_DIRNAME
    existed = is_conda_prefix(root)
    if dry_run:
        if not existed:
            return None
    elif not existed and root.exists():
        if (root / "pyvenv.cfg").is_file():
            services.reporter.warning(
                "Rebuilding .venv as a conda prefix: the project has conda dependencies."
            )
            shutil.rmtree(root)
        elif any(root.iterdir()):
            raise InstallError(
                f"{root} exists but is neither a virtual environment nor a conda prefix.",
                context=str(root),
                hint="Move it away; shipyard creates the environment there.",
            )
    changed = False
    before: set[str] = set()
    if not dry_run:
        before = installed_dists(root)
        config = conda_config(project.tool, project.root)
        changed = install_records(
            records,
            root,
            config=config,
            cache_dir=services.cache.bucket("conda-pkgs"),
            requested=config.dependencies if config is not None else (),
            offline=services.settings.offline,
            reporter=services.reporter,
            remote=remote_blob_cache(services, "conda-packages"),
        )
        if before and before != installed_dists(root):
            _drop_stale_site_packages(root, records)
    python = root / ("python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        raise InstallError(
            "The conda prefix has no Python interpreter.",
            context=str(root),
            hint="The conda dependencies must include python; run `shipyard lock` again.",
        )
    interpreter = probe_interpreter(python, cache_dir=services.cache.root)
    installed = len({r.dist for r in records} - before) if changed else 0
    return ProjectEnvironment(root, interpreter, created=not existed, conda_installed=installed)


def _drop_stale_site_packages(root: Path, records: Sequence[CondaRecord]) -> None:
    """After python changed minor version in a prefix, remove the old minor's
    ``lib/pythonX.Y`` left behind with PyPI packages in it."""
    import shutil

    current = next((r.version for r in records if r.name == "python"), None)
    if current is None:
        return
    keep = "python" + ".".join(current.split(".")[:2])
    lib = root / "lib"
    for entry in lib.glob("python3.*"):
        if entry.is_dir() and entry.name != keep and not (entry / "os.py").exists():
            shutil.rmtree(entry, ignore_errors=True)


def conda_environment_layout(interpreter: Interpreter) -> VirtualEnvironment:
    """The install layout of a conda prefix, from its probed interpreter (the same
    shape as a virtual environment's, so PyPI installs work the same way)."""
    from shipyard.venv import VirtualEnvironment

    root = Path(interpreter.prefix)
    scheme = interpreter.scheme
    return VirtualEnvironment(
        root=root,
        python=interpreter.executable,
        version=interpreter.version,
        base_executable=None,
        site_packages=root / scheme["purelib"],
        platlib=root / scheme["platlib"],
        scripts=root / scheme["scripts"],
        include=root / scheme["include"],
    )
