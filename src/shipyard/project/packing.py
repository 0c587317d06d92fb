"""The ``pack`` use case: the project's environment for this machine as one relocatable
archive that ``shipyard unpack`` (or ``tar xf`` and ``./unpack.sh``) turns into a
working environment on a machine without network, as conda-pack does for conda
environments.

The environment is not copied from ``.venv`` (which may be editable, stale, or hold
what the lock does not): it is made afresh from the lock, through the one
:class:`~shipyard.install.installer.Installer` and the cache, at a long placeholder
prefix (:func:`~shipyard.project.pack_format.placeholder_prefix`), with the project
and other directory packages as ordinary wheels and no ``direct_url.json`` (their
sources do not travel). Then:

* a virtual environment gets its base interpreter inside it, under ``base-python/``:
  it must be a shipyard-managed python-build-standalone build, the kind made to be
  moved (a pyenv or system Python has absolute library paths); ``bin/python`` links
  to it relatively and ``pyvenv.cfg`` names it;
* a project with conda dependencies is a conda prefix (python comes from conda), its
  packages installed by py-rattler from the package cache;
* every file that holds the placeholder prefix is listed in the manifest, ``text`` or
  ``binary`` (conda's ``file_mode`` where conda placed it), for
  :mod:`~shipyard.project.relocation` to rewrite at unpack.

Only this machine's platform can be packed. Linux is what the tests cover; macOS
should work for virtual environments but is untested (conda binaries rewritten there
would also need signing again, which is not done); Windows is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from shipyard.errors import InstallError, InterpreterNotFoundError, LockError, UsageError
from shipyard.project.manifest import Project
from shipyard.project.pack_format import (
    BASE_PYTHON,
    RELOCATE_SCRIPT,
    UNPACK_SCRIPT,
    Entry,
    collect_entries,
    compression_for,
    placeholder_prefix,
    prefix_files,
    unpack_script,
    write_archive,
)
from shipyard.project.relocation import FORMAT, MANIFEST
from shipyard.project.services import Services

if TYPE_CHECKING:
    from shipyard.models import Interpreter, LockedDistribution, LockFile
    from shipyard.project.syncing import Selection
    from shipyard.venv import VirtualEnvironment

__all__ = ["PackOutcome", "default_archive_name", "pack_environment", "relocatable_interpreter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PackOutcome:
    """What ``pack`` wrote.

    :param archive: the archive; :param size: its size in bytes.
    :param kind: ``"venv"`` or ``"conda"``.
    :param python_version: the packed interpreter's version (``"3.12.7"``).
    :param platform: ``sysconfig.get_platform()`` of it (``"linux-x86_64"``).
    :param packages: PyPI distributions installed; :param conda_packages: conda ones.
    :param relocated: files that hold the environment's path (rewritten at unpack).
    """

    archive: Path
    size: int
    kind: str
    python_version: str
    platform: str
    packages: int
    conda_packages: int
    relocated: int


def default_archive_name(project: Project) -> str:
    """``<name>-<os>-<machine>.tar.gz``, e.g. ``ml-service-linux-x86_64.tar.gz``."""
    import platform as host
    import sys

    system = "macos" if sys.platform == "darwin" else sys.platform.rstrip("0123456789")
    return f"{project.canonical_name}-{system}-{host.machine().lower()}.tar.gz"


def pack_environment(
    project: Project,
    services: Services,
    selection: Selection,
    *,
    output: Path,
    frozen: bool = False,
    accelerator: str | None = None,
) -> PackOutcome:
    """Write the project's environment for this machine as a relocatable archive.

    :param selection: groups and extras as for ``sync``; directory packages are always
        installed as ordinary wheels.
    :param output: the archive (``.tar.gz``, ``.tar.zst`` or ``.tar``), written
        atomically.
    :param frozen: use ``pylock.toml`` as it is (else re-lock when the manifest changed).
    :param accelerator: the accelerator variant of a lock that has them.
    :raises UsageError: for an output name of another kind, or on Windows.
    :raises InterpreterNotFoundError: when no managed interpreter fits (and none can
        be downloaded).
    :raises InstallError: for an environment with links leaving it.
    :raises ShipyardError: from locking, downloading, building or installing.
    """
    import sys

    if sys.platform == "win32":
        raise UsageError(
            "`shipyard pack` does not pack environments on Windows yet.",
            hint="Pack on Linux or macOS, or use `shipyard image build` for a container.",
        )
    compression = compression_for(output)
    lockfile = _fresh_lock(project, services, frozen=frozen)
    scratch = services.cache.tempdir("pack")
    try:
        prefix = placeholder_prefix(scratch)
        if lockfile.conda:
            staged = _stage_conda(project, services, lockfile, prefix)
        else:
            staged = _stage_venv(project, services, prefix)
        selected = _select(project, services, lockfile, selection, staged, accelerator)
        _install(project, services, selected, staged)
        entries = _entries(staged)
        own = [e for e in entries if not e.name.startswith(f"{BASE_PYTHON}/")]
        files, unknown = prefix_files(own, str(prefix), conda_modes=_conda_modes(prefix))
        if unknown:
            services.reporter.warning(
                f"{len(unknown)} binary file(s) not placed by conda hold the environment's "
                f"path ({', '.join(unknown[:3])}{', …' if len(unknown) > 3 else ''}); unpack "
                "rewrites them as conda does (NUL-padded), which suits C strings only."
            )
        manifest = _manifest(project, lockfile, selection, staged, prefix, files)
        now = int(time.time())
        head = [
            Entry(name=MANIFEST, kind="file", data=manifest, mtime=now),
            Entry(name=RELOCATE_SCRIPT, kind="file", data=_relocate_source(), mtime=now),
            Entry(
                name=UNPACK_SCRIPT,
                kind="file",
                data=unpack_script(staged.runner),
                mode=0o755,
                mtime=now,
            ),
        ]
        size = write_archive(output, head + entries, compression)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return PackOutcome(
        archive=output,
        size=size,
        kind=staged.kind,
        python_version=staged.interpreter.version,
        platform=staged.interpreter.platform,
        packages=len(selected),
        conda_packages=staged.conda_packages,
        relocated=len(files),
    )


@dataclass(slots=True, kw_only=True)
class _Staged:
    """The environment being made at the placeholder prefix."""

    kind: str
    prefix: Path
    interpreter: Interpreter
    layout: VirtualEnvironment
    #: the base interpreter's installation (a virtual environment only)
    base: Path | None = None
    #: the interpreter unpack.sh runs, relative to the environment's root
    runner: str = ""
    conda_packages: int = 0
    conda_subdir: str | None = None
    #: canonical names of the Python distributions conda packages installed
    conda_owned: frozenset[str] = frozenset()


def _fresh_lock(project: Project, services: Services, *, frozen: bool) -> LockFile:
    """The project's lock, made again first when the manifest changed (unless frozen).

    :raises LockError: when frozen and there is no lock.
    """
    from shipyard.lock.pylock import LOCK_FILENAME, read_lock
    from shipyard.project.freshness import lock_is_fresh

    path = project.root / LOCK_FILENAME
    if not frozen:
        try:
            current: LockFile | None = read_lock(path, services.cache)
        except LockError:
            current = None
        if not lock_is_fresh(project, services, current):
            from shipyard.project.locking import lock_project

            lock_project(project, services)
    return read_lock(path, services.cache)


def relocatable_interpreter(project: Project, services: Services) -> Interpreter:
    """The interpreter a packed virtual environment carries: a shipyard-managed
    (python-build-standalone) install that fits the project's request (``--python``,
    ``.python-version``, ``[tool.shipyard] python``, ``requires-python``), the newest
    installed one, else one downloaded when downloads are allowed.

    :raises InterpreterNotFoundError: when the request names an interpreter that is
        not managed, or no managed one fits and none may be downloaded.
    """
    from shipyard.project.environment import download_interpreter, python_request_text
    from shipyard.python.discovery import (
        find_interpreter,
        managed_python_dir,
        parse_python_request,
    )
    from shipyard.python.downloads import installed_managed
    from shipyard.python.probe import probe_interpreter

    text, source = python_request_text(project, services)
    if not text:
        # Nothing names a version: pack the minor the project's .venv runs (what was
        # tried here), not merely the newest that requires-python allows.
        from shipyard.venv import inspect_venv

        existing = inspect_venv(project.root / ".venv")
        minor = ".".join(existing.version.split(".")[:2]) if existing is not None else ""
        if minor and (
            project.requires_python is None
            or project.requires_python.contains(f"{minor}.0", prereleases=True)
            or project.requires_python.contains(existing.version, prereleases=True)  # type: ignore[union-attr]
        ):
            text, source = minor, "the Python of .venv"
    request = parse_python_request(text)
    managed = managed_python_dir()
    hint = (
        "A packed environment carries its interpreter, and only a shipyard-managed "
        "(python-build-standalone) build can be moved: install one with `shipyard python "
        "install X.Y` and pack with `--python X.Y`."
    )
    if request.path is not None:
        chosen = find_interpreter(
            request, requires_python=project.requires_python, cache_dir=services.cache.root
        )
        if not _within(chosen.base_prefix, managed):
            raise InterpreterNotFoundError(
                f"{chosen.base_executable} (from {source}) is not a shipyard-managed "
                "interpreter; its installation cannot be moved to another directory.",
                hint=hint,
            )
        return chosen
    fitting: list[Interpreter] = []
    for directory in installed_managed(managed):
        python = directory / "bin" / "python3"
        if not python.exists():
            continue
        try:
            candidate = probe_interpreter(python, cache_dir=services.cache.root)
        except InterpreterNotFoundError:
            continue
        allowed = project.requires_python is None or project.requires_python.contains(
            candidate.markers["python_full_version"], prereleases=True
        )
        if allowed and request.satisfied_by(candidate):
            fitting.append(candidate)
    if fitting:
        return max(fitting, key=lambda i: i.version_tuple)
    settings = services.settings
    if settings.python_downloads == "automatic" and not settings.offline:
        return download_interpreter(request, services, requires_python=project.requires_python)
    wanted = request.describe() if text else f"requires-python {project.requires_python}"
    why = "--offline forbids a download" if settings.offline else "Python downloads are off"
    raise InterpreterNotFoundError(
        f"No shipyard-managed interpreter fits {wanted} (from {source}), and {why}.",
        hint=hint,
    )


def _within(path: Path, directory: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(directory)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _stage_venv(project: Project, services: Services, prefix: Path) -> _Staged:
    """A virtual environment at ``prefix`` whose ``bin/python`` links to
    ``base-python/`` (filled from the managed install when the archive is written)."""
    from shipyard.atomic import atomic_write_text
    from shipyard.python.probe import venv_interpreter
    from shipyard.venv import create_venv

    base = relocatable_interpreter(project, services)
    venv = create_venv(prefix, base, prompt=project.name)
    home = Path(os.path.realpath(base.base_prefix))
    executable = os.path.relpath(os.path.realpath(base.base_executable), home)
    moved = prefix / BASE_PYTHON / executable
    for link in venv.scripts.iterdir():
        if link.is_symlink() and os.path.isabs(os.readlink(link)):
            link.unlink()
            link.symlink_to(os.path.relpath(moved, link.parent))
    cfg = venv.root / "pyvenv.cfg"
    lines = []
    for line in cfg.read_text(encoding="utf-8").splitlines():
        key = line.partition("=")[0].strip().lower()
        if key == "home":
            line = f"home = {moved.parent}"
        elif key == "executable":
            line = f"executable = {moved}"
        elif key == "command":
            continue
        lines.append(line)
    atomic_write_text(cfg, "\n".join(lines) + "\n", fsync=False)
    return _Staged(
        kind="venv",
        prefix=prefix,
        interpreter=venv_interpreter(base, venv.root, venv.python),
        layout=venv,
        base=home,
        runner=f"{BASE_PYTHON}/{Path(executable).as_posix()}",
    )


def _stage_conda(project: Project, services: Services, lockfile: LockFile, prefix: Path) -> _Staged:
    """The lock's conda packages for this machine installed at ``prefix`` from the
    package cache (downloaded first when missing).

    :raises LockError: when the lock has no conda records for this machine.
    :raises InstallError: when they bring no python.
    """
    from shipyard.conda.config import conda_config
    from shipyard.conda.prefix import install_records
    from shipyard.conda.pypi import conda_owned_distributions
    from shipyard.conda.records import platform_records
    from shipyard.conda.solve import host_platform
    from shipyard.project.environment import conda_environment_layout
    from shipyard.project.remote_blobs import remote_blob_cache
    from shipyard.python.probe import probe_interpreter

    subdir = host_platform()
    records = platform_records(lockfile.conda, subdir, str(lockfile.path))
    config = conda_config(project.tool, project.root)
    install_records(
        records,
        prefix,
        config=config,
        cache_dir=services.cache.bucket("conda-pkgs"),
        requested=config.dependencies if config is not None else (),
        offline=services.settings.offline,
        reporter=services.reporter,
        remote=remote_blob_cache(services, "conda-packages"),
    )
    python = prefix / "bin" / "python"
    if not python.exists():
        raise InstallError(
            "The lock's conda packages bring no Python interpreter to pack.",
            context=str(lockfile.path),
            hint="Add python to [tool.shipyard.conda] dependencies and run `shipyard lock`.",
        )
    # Not kept in the probe cache: this prefix is gone once the archive is written.
    interpreter = probe_interpreter(python, cache_dir=None)
    owned = set()
    for relative in conda_owned_distributions(prefix):
        stem = Path(relative).name.rsplit(".", 1)[0]
        owned.add(canonicalize_name(stem.split("-", 1)[0]))
    runner = os.path.relpath(os.path.realpath(python), os.path.realpath(prefix))
    return _Staged(
        kind="conda",
        prefix=prefix,
        interpreter=interpreter,
        layout=conda_environment_layout(interpreter),
        runner=Path(runner).as_posix(),
        conda_packages=len(records),
        conda_subdir=subdir,
        conda_owned=frozenset(owned),
    )


def _select(
    project: Project,
    services: Services,
    lockfile: LockFile,
    selection: Selection,
    staged: _Staged,
    accelerator: str | None,
) -> list[LockedDistribution]:
    """What the lock selects for the staged interpreter, as ``sync`` would install it,
    but with directory packages as ordinary wheels and without conda's distributions."""
    from shipyard.lock.pylock import select_from_lock

    groups = selection.resolve_groups(project)
    variants = lockfile.accelerator_variants()
    if variants:
        from shipyard.accelerators import choose_locked_variant

        _key, group, _reason = choose_locked_variant(variants, accelerator)
        if group is not None:
            groups = sorted({*groups, group})
    no_binary = services.settings.no_binary
    selected = select_from_lock(
        lockfile,
        environment=staged.interpreter.markers,
        tags=staged.interpreter.tags,
        extras=selection.resolve_extras(project),
        dependency_groups=groups,
        no_binary=frozenset(n if n == ":all:" else canonicalize_name(n) for n in no_binary),
        cache=services.cache,
    )
    root = project.root.resolve()
    result = []
    for dist in selected:
        if dist.name in staged.conda_owned:
            continue
        local = dist.directory is not None
        if local and not selection.install_local:
            continue
        if (
            local
            and not selection.install_project
            and dist.name == project.canonical_name
            and (project.root / str(dist.directory)).resolve() == root
        ):
            continue
        result.append(replace(dist, editable=False) if dist.editable else dist)
    return result


def _install(
    project: Project, services: Services, selected: list[LockedDistribution], staged: _Staged
) -> None:
    """Install ``selected`` into the staged environment with the one installer."""
    from shipyard.install.plan import Plan
    from shipyard.project.building import BuilderFactory

    requested = {canonicalize_name(r.name) for r in project.dependencies}
    factory = BuilderFactory(project, services, staged.interpreter)
    factory.installer(staged.interpreter.tags[0]).install(
        Plan(install=list(selected)),
        staged.layout.scheme(),
        base=project.root,
        requested=requested,
        link_mode="hardlink",
        record_direct_urls=False,
    )


def _entries(staged: _Staged) -> list[Entry]:
    """The environment's members, with ``base-python/`` from the managed install."""
    moves: list[tuple[Path, str]] = [(staged.prefix, "")]
    if staged.base is not None:
        moves.append((staged.base, BASE_PYTHON))
    moves += [(Path(os.path.realpath(d)), name) for d, name in moves]
    entries = collect_entries(staged.prefix, "", moves=moves, top=staged.prefix)
    if staged.base is not None:
        mtime = int(staged.base.stat().st_mtime)
        entries.append(Entry(name=BASE_PYTHON, kind="dir", mode=0o755, mtime=mtime))
        entries += collect_entries(staged.base, BASE_PYTHON, moves=moves, top=staged.base)
    return sorted(entries, key=lambda e: e.name)


def _conda_modes(prefix: Path) -> dict[str, str]:
    """Conda's ``file_mode`` of each file with a prefix placeholder, from
    ``conda-meta/*.json`` (``paths_data``); empty for a virtual environment."""
    modes: dict[str, str] = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        paths = (data.get("paths_data") or {}).get("paths") or []
        for item in paths:
            if isinstance(item, dict) and item.get("file_mode") in ("text", "binary"):
                modes[str(item.get("_path"))] = str(item["file_mode"])
    return modes


def _manifest(
    project: Project,
    lockfile: LockFile,
    selection: Selection,
    staged: _Staged,
    prefix: Path,
    files: list[dict[str, str]],
) -> bytes:
    """The manifest's JSON bytes (see :mod:`shipyard.project.pack_format`)."""
    import shipyard

    interpreter = staged.interpreter
    python_path = os.path.relpath(staged.layout.python, staged.prefix)
    document: dict[str, Any] = {
        "format": FORMAT,
        "created_by": f"shipyard {shipyard.__version__}",
        "kind": staged.kind,
        "project": {"name": project.name, "version": project.version},
        "python": {
            "version": interpreter.version,
            "implementation": interpreter.implementation,
            "executable": Path(python_path).as_posix(),
        },
        "runner": staged.runner,
        "platform": interpreter.platform,
        "system": interpreter.markers.get("sys_platform", ""),
        "machine": interpreter.markers.get("platform_machine", ""),
        "conda_subdir": staged.conda_subdir,
        "lock_sha256": lockfile.sha256 or hashlib.sha256(lockfile.path.read_bytes()).hexdigest(),
        "groups": selection.resolve_groups(project),
        "extras": selection.resolve_extras(project),
        "prefix": str(prefix),
        "placeholder_length": len(os.fsencode(str(prefix))),
        "files": files,
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _relocate_source() -> bytes:
    """The source of :mod:`shipyard.project.relocation`, copied into the archive."""
    from shipyard.project import relocation

    return Path(relocation.__file__).read_bytes()
