"""Jupyter kernels for a project's environment: write, read and remove kernelspecs.

A kernelspec is a directory ``<kernels dir>/<name>/`` holding ``kernel.json`` (Jupyter
client's "Kernel specs" format: ``argv``, ``display_name``, ``language``, ``metadata``)
and optional logos. Jupyter looks for them in, among others, the per-user data
directory (:func:`jupyter_data_dir`) and ``<prefix>/share/jupyter/kernels``.

The kernels shipyard writes carry ``metadata.shipyard.project`` (the project's root),
which is how ``kernel list`` tells them apart and ``kernel remove`` refuses the others.
jupyter_core is not imported: it is Jupyter's, not a dependency of shipyard; its
directory rules are followed here instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.atomic import atomic_write_bytes, atomic_write_text, os_error
from shipyard.errors import ShipyardError, UsageError

if TYPE_CHECKING:
    from shipyard.cache import Cache
    from shipyard.project.manifest import Project

__all__ = [
    "KERNEL_FILE",
    "KernelSpec",
    "environment_has",
    "find_kernel",
    "install_kernel",
    "jupyter_data_dir",
    "kernel_argv",
    "kernel_hint_due",
    "kernel_name",
    "kernels_dir",
    "list_kernels",
    "project_kernels",
    "remove_kernel",
    "require_ipykernel",
]

KERNEL_FILE = "kernel.json"

#: Jupyter client's rule for kernel names (it lower-cases them, then checks this).
_NAME = re.compile(r"^[a-z0-9._-]+$")

#: ipykernel's logos, copied beside kernel.json when the environment has them.
_LOGOS = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")

#: The hint for an environment without ipykernel.
_ADD_HINT = "Add it with `shipyard add --group dev ipykernel`, then run `shipyard kernel install`."


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelSpec:
    """One kernelspec directory as found on disk.

    :param name: the kernel's name (its directory's name, lower-cased as Jupyter does).
    :param directory: the absolute path of the kernelspec directory.
    :param display_name: ``kernel.json``'s ``display_name`` (empty when unreadable).
    :param language: ``kernel.json``'s ``language``.
    :param argv: the command Jupyter runs, ``{connection_file}`` not yet filled in.
    :param project: the project root for a kernel shipyard installed, else ``None``.
    :param readable: False when ``kernel.json`` is missing or not a JSON object.
    """

    name: str
    directory: Path
    display_name: str
    language: str
    argv: tuple[str, ...]
    project: Path | None
    readable: bool = True

    @property
    def is_shipyard(self) -> bool:
        """True for a kernel ``shipyard kernel install`` wrote."""
        return self.project is not None


def jupyter_data_dir(environ: Mapping[str, str] | None = None, *, platform: str = "") -> Path:
    """The per-user Jupyter data directory, by jupyter_core's rules (``jupyter --paths``).

    ``$JUPYTER_DATA_DIR`` when set; with ``$JUPYTER_PLATFORM_DIRS`` on, platformdirs'
    user data directory for ``jupyter``; else ``~/Library/Jupyter`` on macOS,
    ``%APPDATA%\\jupyter`` on Windows (``<config dir>\\data`` without ``APPDATA``) and
    ``$XDG_DATA_HOME/jupyter`` (default ``~/.local/share/jupyter``) elsewhere.

    :param environ: the environment variables (default ``os.environ``).
    :param platform: a ``sys.platform`` value (default this machine's).
    """
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if env.get("JUPYTER_DATA_DIR"):
        return Path(env["JUPYTER_DATA_DIR"]).expanduser()
    flag = env.get("JUPYTER_PLATFORM_DIRS")
    if flag is not None and flag.lower() not in ("no", "n", "false", "off", "0", "0.0"):
        from platformdirs import user_data_dir

        return Path(user_data_dir("jupyter", appauthor=False))
    home = Path("~").expanduser().resolve()
    if platform == "darwin":
        return home / "Library" / "Jupyter"
    if platform == "win32":
        if env.get("APPDATA"):
            return Path(env["APPDATA"], "jupyter").resolve()
        config = env.get("JUPYTER_CONFIG_DIR") or str(home / ".jupyter")
        return Path(config) / "data"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "jupyter"


def kernels_dir(prefix: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where kernelspecs go: ``<prefix>/share/jupyter/kernels`` (a Jupyter installed in
    that environment finds them there), else the user's ``<data dir>/kernels``."""
    if prefix is not None:
        return Path(os.path.abspath(prefix)) / "share" / "jupyter" / "kernels"
    return jupyter_data_dir(environ) / "kernels"


def kernel_name(text: str | None, project: Project) -> str:
    """The kernel name to use: ``text`` lower-cased (as Jupyter does), else the project's
    canonical name (PEP 503).

    :raises UsageError: for a name outside Jupyter's ``[a-z0-9._-]+`` or made of dots.
    """
    given = text if text is not None else (project.name or project.root.name)
    name = given.strip().lower() if text is not None else canonicalize_name(given)
    if not _NAME.match(name) or set(name) == {"."}:
        fitting = re.sub(r"[^a-z0-9._-]+", "-", name).strip("-.") or "my-kernel"
        raise UsageError(
            f"{given!r} is not a valid Jupyter kernel name: use letters, digits, '.', '_' "
            "and '-' only.",
            hint=f"Pass one that is, for example --name {fitting}.",
        )
    return name


def kernel_argv(
    project_root: Path, *, launcher: Sequence[str], run_options: Sequence[str] = ()
) -> list[str]:
    """The ``argv`` of the project's kernel: ``shipyard run`` starting ipykernel.

    The kernel goes through ``shipyard run`` rather than ``.venv/bin/python`` so it
    starts the way the user's own commands do: activation applied (``VIRTUAL_ENV`` or
    ``CONDA_PREFIX`` and whatever else ``run`` sets), and the environment synced to the
    lock first, so a kernel (re)started after ``git pull`` brought a new lock runs the
    new packages instead of stale ones. ``--frozen`` keeps that sync from ever
    resolving: starting a kernel needs no index (offline works with a warm cache) and
    costs a fraction of a second when nothing changed, well inside Jupyter's 60 s start
    timeout even for a large lock; a manifest edited by hand takes effect after
    ``shipyard lock`` or ``sync``, as ``add`` and ``remove`` do at once. The interpreter
    path of a python-only kernelspec would also break each time ``.venv`` is rebuilt
    for another Python; this one does not. ``--no-path-fallback`` makes a broken
    environment fail loudly rather than start some other Python from ``PATH``.

    :param project_root: the project's directory (absolute).
    :param launcher: the command that runs shipyard (``[sys.executable, "-m", "shipyard"]``).
    :param run_options: more ``run`` options (``--group notebooks``, ``--cache-dir D``),
        the selection the environment was synced with.
    :returns: the list for ``kernel.json``; ``{connection_file}`` is Jupyter's to fill.
    """
    return [
        *launcher,
        "run",
        "--project",
        str(project_root),
        "--frozen",
        "--no-path-fallback",
        *run_options,
        "python",
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]


def _site_packages(env_root: Path) -> list[Path]:
    """The ``site-packages`` directories of a virtual environment or conda prefix,
    from their layout alone (nothing is run)."""
    from shipyard.venv import inspect_venv

    venv = inspect_venv(env_root)
    if venv is not None:
        return sorted({venv.site_packages, venv.platlib})
    found = sorted(env_root.glob("lib/python3*/site-packages"))
    found += sorted(env_root.glob("lib/pypy3*/site-packages"))
    windows = env_root / "Lib" / "site-packages"
    return [*found, windows] if windows.is_dir() else found


def environment_has(env_root: Path, name: str) -> Path | None:
    """The ``site-packages`` directory where distribution ``name`` is installed in the
    environment at ``env_root`` (by its ``.dist-info``, PEP 376; conda-installed ones
    count), or ``None`` when it is not."""
    from shipyard.install.installed import iter_installed

    wanted = canonicalize_name(name)
    for dist in iter_installed(_site_packages(env_root)):
        if canonicalize_name(dist.name) == wanted:
            return dist.dist_info.parent
    return None


def require_ipykernel(project: Project, env_root: Path) -> Path:
    """The ``site-packages`` directory holding ipykernel in ``env_root``.

    :raises ShipyardError: when the environment has no ipykernel; the hint names the
        dependency group or extra that has it when one does, else how to add it.
    """
    found = environment_has(env_root, "ipykernel")
    if found is not None:
        return found
    where: list[str] = []
    for flag, tables in (
        ("--group", project.dependency_groups),
        ("--extra", project.optional_dependencies),
    ):
        for key, requirements in tables.items():
            if any(canonicalize_name(r.name) == "ipykernel" for r in requirements):
                where.append(f"{flag} {key}")
    hint = (
        f"ipykernel is in the project but not installed: pass {' or '.join(where)} to "
        "`shipyard kernel install`."
        if where
        else _ADD_HINT
    )
    raise ShipyardError(
        f"The environment at {env_root} has no ipykernel, which Jupyter needs to run "
        "Python code in it.",
        hint=hint,
    )


def _read(directory: Path) -> KernelSpec:
    name = directory.name.lower()
    try:
        data = json.loads((directory / KERNEL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        return KernelSpec(
            name=name,
            directory=directory,
            display_name="",
            language="",
            argv=(),
            project=None,
            readable=False,
        )
    metadata = data.get("metadata")
    ours = metadata.get("shipyard") if isinstance(metadata, dict) else None
    project = ours.get("project") if isinstance(ours, dict) else None
    argv = data.get("argv")
    return KernelSpec(
        name=name,
        directory=directory,
        display_name=str(data.get("display_name", "")),
        language=str(data.get("language", "")),
        argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
        project=Path(project) if isinstance(project, str) and project else None,
    )


def list_kernels(directory: Path) -> list[KernelSpec]:
    """Every kernelspec in ``directory`` (a ``kernels`` directory), by name; shipyard's
    and the others. A missing directory has none."""
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    return [_read(entry) for entry in entries if (entry / KERNEL_FILE).is_file()]


def find_kernel(directory: Path, name: str) -> KernelSpec | None:
    """The kernelspec called ``name`` (case-insensitive) in ``directory``, or ``None``."""
    for spec in list_kernels(directory):
        if spec.name == name.lower():
            return spec
    return None


def _same_project(spec: KernelSpec, root: Path) -> bool:
    return spec.project is not None and os.path.realpath(spec.project) == os.path.realpath(root)


def install_kernel(
    directory: Path,
    name: str,
    *,
    project_root: Path,
    display_name: str,
    argv: Sequence[str],
    logos_from: Path | None = None,
    force: bool = False,
) -> tuple[Path, bool]:
    """Write the kernelspec ``<directory>/<name>/kernel.json`` (and ipykernel's logos).

    A kernelspec of that name that shipyard wrote for the same project is replaced;
    any other is kept unless ``force``.

    :param project_root: the project's directory, recorded as ``metadata.shipyard.project``.
    :param argv: from :func:`kernel_argv`.
    :param logos_from: ipykernel's ``resources`` directory, when the logos should go along.
    :returns: the kernelspec directory, and whether one was there before.
    :raises UsageError: when a kernel of that name exists that is not this project's and
        ``force`` is off.
    :raises ShipyardError: when the directory cannot be written.
    """
    target = directory / name
    existing = find_kernel(directory, name)
    if existing is not None and not force and not _same_project(existing, project_root):
        owner = (
            f"shipyard installed it for {existing.project}"
            if existing.project is not None
            else "shipyard did not install it"
        )
        raise UsageError(
            f"A Jupyter kernel named {name!r} already exists ({owner}).",
            context=str(existing.directory),
            hint="Choose another name with --name, or pass --force to replace it.",
        )
    if existing is not None:
        target = existing.directory
    spec: dict[str, Any] = {
        "argv": list(argv),
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "signal",
        # debugger: ipykernel 6+ speaks the debug protocol (JupyterLab's debugger panel)
        "metadata": {"debugger": True, "shipyard": {"project": str(project_root)}},
    }
    try:
        target.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target / KERNEL_FILE, json.dumps(spec, indent=1) + "\n")
        for logo in _LOGOS:
            source = logos_from / logo if logos_from is not None else None
            if source is not None and source.is_file():
                atomic_write_bytes(target / logo, source.read_bytes())
    except OSError as exc:
        raise os_error(exc, what="write the kernelspec", path=target) from exc
    return target, existing is not None


def remove_kernel(directory: Path, name: str, *, force: bool = False) -> KernelSpec:
    """Delete the kernelspec ``name`` from ``directory``.

    :returns: the kernelspec removed.
    :raises ShipyardError: when there is no kernel of that name there.
    :raises UsageError: when shipyard did not install it and ``force`` is off.
    """
    spec = find_kernel(directory, name)
    if spec is None:
        names = ", ".join(k.name for k in list_kernels(directory)) or "none"
        raise ShipyardError(
            f"There is no Jupyter kernel named {name!r} in {directory} (there: {names}).",
            hint="`shipyard kernel list` shows them; `jupyter kernelspec list` shows "
            "those in Jupyter's other directories too.",
        )
    if not spec.is_shipyard and not force:
        raise UsageError(
            f"The Jupyter kernel {name!r} was not installed by shipyard, so it is left alone.",
            context=str(spec.directory),
            hint="Pass --force to remove it anyway (or `jupyter kernelspec remove`).",
        )
    try:
        shutil.rmtree(spec.directory)
    except OSError as exc:
        raise os_error(exc, what="remove the kernelspec", path=spec.directory) from exc
    return spec


def project_kernels(directory: Path, project_root: Path) -> list[KernelSpec]:
    """The kernelspecs in ``directory`` shipyard installed for the project at
    ``project_root``."""
    return [k for k in list_kernels(directory) if _same_project(k, project_root)]


def kernel_hint_due(cache: Cache, project_root: Path, env_root: Path | None) -> bool:
    """Whether to suggest ``shipyard kernel install`` after a sync: once per project
    (remembered in the cache's ``notices`` bucket, keyed by the project's root), when
    its environment has ipykernel and no kernel of the project is installed yet.

    Cheap when already shown: one file check. Calling it records the suggestion as
    made when it returns True (or when a kernel already exists). Never raises: with a
    cache it cannot write to, it returns False (better no hint than one every sync).
    """
    if env_root is None:
        return False
    key = hashlib.sha256(os.path.realpath(project_root).encode()).hexdigest()[:24]
    try:
        marker = cache.bucket("notices") / f"{key}.kernel-hint"
        if marker.exists() or environment_has(env_root, "ipykernel") is None:
            return False
        atomic_write_text(marker, f"{project_root}\n", fsync=False)
    except (ShipyardError, OSError):
        return False
    return not project_kernels(kernels_dir(), project_root)
