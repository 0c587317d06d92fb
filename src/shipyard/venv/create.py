"""Create and inspect PEP 405 virtual environments without running ``venv``.

A virtual environment is a directory with a ``pyvenv.cfg`` file naming the base
interpreter's directory (``home``), a ``bin`` directory whose ``python`` links to
the base interpreter, and its own ``site-packages``. Python itself does the rest
at start-up: seeing ``pyvenv.cfg`` next to (or one level above) the executable,
it sets ``sys.prefix`` to the environment and keeps ``sys.base_prefix`` at the
base installation.

:func:`create_venv` writes that layout directly: no subprocess, no ``venv``
module, so creating an environment costs a few milliseconds. ``pyvenv.cfg`` is
written last, so an interrupted creation never leaves something that looks like
a valid environment. :func:`inspect_venv` reads it back from ``pyvenv.cfg`` and
the directory layout alone; it runs on every no-op sync, so it does no probing.

Layout (POSIX)::

    .gitignore                    "*": keeps the environment out of version control
    pyvenv.cfg                    home, include-system-site-packages, version, ...
    bin/python, python3, python3.X -> the base interpreter (symlinks)
    bin/activate, activate.fish, activate.csh, Activate.ps1
    include/
    lib/pythonX.Y/site-packages/  (the interpreter's ``venv`` install scheme)
    lib64 -> lib                  (64-bit Linux and other non-macOS POSIX)

On Windows (an interpreter whose ``sys_platform`` is ``win32``) the layout is
``Scripts\\python.exe`` (a copy of the base interpreter's launcher),
``Lib\\site-packages`` and ``Include``; that path is written but not tested here.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from shipyard.atomic import atomic_write_bytes, os_error
from shipyard.errors import InstallError, ShipyardError
from shipyard.models.interpreter import Interpreter
from shipyard.models.scheme import InstallScheme

__all__ = ["VirtualEnvironment", "create_venv", "inspect_venv"]

#: The configuration file that makes a directory a virtual environment (PEP 405).
PYVENV_CFG = "pyvenv.cfg"

#: First line of the ``.gitignore`` shipyard writes; it also marks a half-made environment.
_GITIGNORE = "# Created by shipyard: this virtual environment stays out of version control.\n*\n"

#: Activation scripts (templates in ``scripts/``) and how each shell quotes a literal.
_ACTIVATION_SCRIPTS = ("activate", "activate.fish", "activate.csh", "Activate.ps1")

#: ``pyvenv.cfg`` keys shipyard adds so :func:`inspect_venv` need not search ``lib/``.
_KEY_PURELIB = "shipyard-purelib"
_KEY_PLATLIB = "shipyard-platlib"
_KEY_SCRIPTS = "shipyard-scripts"


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualEnvironment:
    """A virtual environment on disk, as ``pyvenv.cfg`` and its layout describe it.

    :param root: the environment's directory (absolute).
    :param python: its interpreter, ``<root>/bin/python`` (``Scripts\\python.exe`` on
        Windows); it may be a dangling link when the base interpreter was removed.
    :param version: the full Python version from ``pyvenv.cfg`` (``"3.12.1"``); ``""``
        when the file does not say.
    :param base_executable: the interpreter the environment was made from
        (``executable`` in ``pyvenv.cfg``), or ``None`` when not recorded.
    :param site_packages: the ``purelib`` directory.
    :param platlib: the ``platlib`` directory (the same as ``site_packages`` normally).
    :param scripts: ``<root>/bin`` (``Scripts`` on Windows).
    :param include: ``<root>/include`` (``Include`` on Windows).
    :param system_site_packages: ``include-system-site-packages`` from ``pyvenv.cfg``.
    :param prompt: the ``prompt`` from ``pyvenv.cfg``, or ``None``.
    """

    root: Path
    python: Path
    version: str
    base_executable: Path | None
    site_packages: Path
    platlib: Path
    scripts: Path
    include: Path
    system_site_packages: bool = False
    prompt: str | None = None

    @property
    def python_version(self) -> str:
        """``"X.Y"`` of :attr:`version` (``""`` when unknown)."""
        return ".".join(self.version.split(".")[:2])

    def scheme(self) -> InstallScheme:
        """The install paths for wheels into this environment.

        Headers go to ``<root>/include/site/pythonX.Y`` (the installer appends the
        distribution's name), as ``pip`` and ``installer`` do for virtual environments.
        """
        return InstallScheme(
            purelib=self.site_packages,
            platlib=self.platlib,
            scripts=self.scripts,
            data=self.root,
            headers=self.root / "include" / "site" / f"python{self.python_version}",
            python=self.python,
        )


def inspect_venv(path: Path) -> VirtualEnvironment | None:
    """Describe the virtual environment at ``path`` from its ``pyvenv.cfg`` alone.

    Runs nothing and probes nothing: one read of ``pyvenv.cfg``, plus one directory
    listing of ``lib/`` for environments not made by shipyard.

    :param path: the environment's root directory.
    :returns: the :class:`VirtualEnvironment`, or ``None`` when ``path`` has no
        ``pyvenv.cfg`` (not a virtual environment, or not there at all).
    """
    root = Path(os.path.abspath(path))
    try:
        text = (root / PYVENV_CFG).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError:
        return None
    cfg = _parse_cfg(text)
    version = cfg.get("version") or _version_from_info(cfg.get("version_info", ""))
    windows = os.name == "nt"
    scripts = root / (cfg.get(_KEY_SCRIPTS) or ("Scripts" if windows else "bin"))
    python = scripts / ("python.exe" if windows else "python")
    purelib_text = cfg.get(_KEY_PURELIB)
    if purelib_text:
        site_packages = root / purelib_text
        platlib = root / (cfg.get(_KEY_PLATLIB) or purelib_text)
    else:
        site_packages = _find_site_packages(root, version, windows)
        platlib = site_packages
    executable = cfg.get("executable")
    base_executable = Path(executable) if executable else None
    if base_executable is None and cfg.get("home") and version:
        base_executable = Path(cfg["home"]) / (
            "python.exe" if windows else f"python{_minor(version)}"
        )
    return VirtualEnvironment(
        root=root,
        python=python,
        version=version,
        base_executable=base_executable,
        site_packages=site_packages,
        platlib=platlib,
        scripts=scripts,
        include=root / ("Include" if windows else "include"),
        system_site_packages=cfg.get("include-system-site-packages", "").lower() == "true",
        prompt=cfg.get("prompt") or None,
    )


def create_venv(
    path: Path,
    interpreter: Interpreter,
    *,
    prompt: str | None = None,
    system_site_packages: bool = False,
    clear: bool = False,
) -> VirtualEnvironment:
    """Create a PEP 405 virtual environment at ``path`` for ``interpreter``.

    Writes the layout described in this module's docstring directly (no ``venv``
    module, no subprocess); every file is written atomically and ``pyvenv.cfg``
    comes last. When ``interpreter`` itself runs inside a virtual environment, the
    new one is based on its :attr:`~Interpreter.base_executable`.

    :param path: the environment's root; created (with parents) if missing.
    :param interpreter: the probed base interpreter; its ``scheme`` gives the
        ``site-packages`` location and its ``base_executable`` the link target.
    :param prompt: the name activation scripts show (``(prompt) $``) and the
        ``prompt`` key of ``pyvenv.cfg``; the directory's name when ``None``.
    :param system_site_packages: let the environment see the base interpreter's
        ``site-packages`` (``include-system-site-packages = true``).
    :param clear: when ``path`` already holds a virtual environment, delete it and
        create a fresh one. A half-made shipyard environment (no ``pyvenv.cfg`` yet) is
        always replaced.
    :returns: the new environment, as :func:`inspect_venv` would describe it.
    :raises InstallError: when ``path`` is a file, a non-empty directory that is not a
        virtual environment, or a virtual environment and ``clear`` is False.
    :raises DiskFullError: when the disk fills up while writing.
    :raises ShipyardError: for other OS errors (permissions).
    """
    root = Path(os.path.abspath(os.path.expanduser(path)))
    _prepare_root(root, clear=clear)
    windows = interpreter.markers.get("sys_platform") == "win32"
    base = Path(os.path.abspath(interpreter.base_executable))
    scheme = interpreter.scheme
    scripts = root / (scheme.get("scripts") or ("Scripts" if windows else "bin"))
    purelib = root / scheme["purelib"]
    platlib = root / scheme.get("platlib", scheme["purelib"])
    include = root / ("Include" if windows else "include")
    shown_prompt = prompt if prompt is not None else root.name
    try:
        _write(root / ".gitignore", _GITIGNORE)
        for directory in (scripts, purelib, platlib, include):
            directory.mkdir(parents=True, exist_ok=True)
        if not windows and _wants_lib64(interpreter, scheme):
            _symlink(root / "lib64", "lib")
        if windows:
            _copy_windows_launchers(base, scripts)
        else:
            for name in _executable_names(interpreter, base):
                _symlink(scripts / name, str(base))
        _write_activation_scripts(root, scripts, shown_prompt)
        _write(
            root / PYVENV_CFG,
            _render_cfg(
                interpreter,
                base=base,
                prompt=prompt,
                system_site_packages=system_site_packages,
                purelib=scheme["purelib"],
                platlib=scheme.get("platlib", scheme["purelib"]),
                scripts=scripts.relative_to(root).as_posix(),
            ),
            fsync=True,
        )
    except OSError as exc:
        raise os_error(exc, what="create the virtual environment", path=root) from exc
    env = inspect_venv(root)
    if env is None:  # pragma: no cover - pyvenv.cfg was just written
        raise InstallError(f"The virtual environment at {root} vanished while being created.")
    return env


# -- creation helpers -----------------------------------------------------------------------


def _prepare_root(root: Path, *, clear: bool) -> None:
    """Make ``root`` an empty directory, or refuse (see :func:`create_venv`)."""
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise InstallError(
            f"Cannot create a virtual environment at {root}: it is a file, not a directory.",
            hint="Remove it or choose another location.",
        )
    if not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise os_error(exc, what="create the virtual environment", path=root) from exc
        return
    try:
        entries = os.listdir(root)
    except OSError as exc:
        raise os_error(exc, what="read the directory", path=root) from exc
    if not entries:
        return
    if PYVENV_CFG in entries:
        if not clear:
            raise InstallError(
                f"A virtual environment already exists at {root}.",
                hint="Delete it first, or ask shipyard to recreate it.",
            )
    elif not _is_half_made(root):
        raise InstallError(
            f"Refusing to create a virtual environment in {root}: the directory is not "
            "empty and is not a virtual environment.",
            hint="Move its contents away or choose another location.",
        )
    _empty_directory(root, entries)


def _is_half_made(root: Path) -> bool:
    """True when ``root`` holds an environment shipyard began but did not finish."""
    try:
        return (root / ".gitignore").read_text(encoding="utf-8").startswith(_GITIGNORE)
    except (OSError, UnicodeDecodeError):
        return False


def _empty_directory(root: Path, entries: list[str]) -> None:
    """Delete everything in ``root`` (the directory itself stays: it may be a mount point).

    ``pyvenv.cfg`` goes first, so an interrupted clear is not mistaken for an environment.
    """
    ordered = sorted(entries, key=lambda name: name != PYVENV_CFG)
    try:
        for name in ordered:
            entry = root / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    except OSError as exc:
        raise os_error(exc, what="remove the old virtual environment", path=root) from exc


def _write(path: Path, text: str, *, fsync: bool = False, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync, mode=mode)


def _symlink(link: Path, target: str) -> None:
    """Create (or atomically replace) the symbolic link ``link`` → ``target``."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        temporary.unlink()
    except FileNotFoundError:
        pass
    os.symlink(target, temporary)
    try:
        os.replace(temporary, link)
    except OSError:
        temporary.unlink()
        raise


def _wants_lib64(interpreter: Interpreter, scheme: dict[str, str]) -> bool:
    """``lib64 -> lib`` on 64-bit POSIX except macOS, as the ``venv`` module does."""
    return (
        interpreter.pointer_size == 64
        and interpreter.markers.get("os_name") == "posix"
        and interpreter.markers.get("sys_platform") != "darwin"
        and scheme["purelib"].replace("\\", "/").startswith("lib/")
    )


def _executable_names(interpreter: Interpreter, base: Path) -> list[str]:
    """Names under ``bin/`` that run the interpreter: ``python``, ``python3``, ``python3.X``."""
    major, minor, _ = interpreter.version_tuple
    suffix = "t" if interpreter.gil_disabled else ""
    names = ["python", f"python{major}", f"python{major}.{minor}"]
    if suffix:
        names.append(f"python{major}.{minor}{suffix}")
    if interpreter.implementation == "pypy":
        names += ["pypy", f"pypy{major}", f"pypy{major}.{minor}"]
    if base.name not in names and not base.name.endswith(".exe"):
        names.append(base.name)
    return names


def _copy_windows_launchers(base: Path, scripts: Path) -> None:
    """Windows: copy ``python.exe``/``pythonw.exe`` (and the DLLs beside them) into ``Scripts``.

    Untested on this project's Linux CI; the ``venv`` module's redirector launchers are
    not used, so the copies need the base interpreter's DLLs next to them.
    """
    source_dir = base.parent
    for name in ("python.exe", "pythonw.exe"):
        source = source_dir / name
        if source.is_file():
            shutil.copy2(source, scripts / name)
    for dll in source_dir.glob("*.dll"):
        shutil.copy2(dll, scripts / dll.name)


def _render_cfg(
    interpreter: Interpreter,
    *,
    base: Path,
    prompt: str | None,
    system_site_packages: bool,
    purelib: str,
    platlib: str,
    scripts: str,
) -> str:
    import shipyard

    lines = [
        f"home = {base.parent}",
        f"implementation = {interpreter.implementation}",
        f"include-system-site-packages = {'true' if system_site_packages else 'false'}",
        f"version = {interpreter.version}",
        f"executable = {base}",
        f"shipyard = {shipyard.__version__}",
        f"{_KEY_PURELIB} = {purelib.replace(os.sep, '/')}",
        f"{_KEY_PLATLIB} = {platlib.replace(os.sep, '/')}",
        f"{_KEY_SCRIPTS} = {scripts}",
    ]
    if prompt is not None:
        lines.append(f"prompt = {_one_line(prompt)}")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


# -- activation scripts ---------------------------------------------------------------------


def _quote_posix(text: str) -> str:
    """A single-quoted literal for bash, zsh and csh."""
    return "'" + text.replace("'", "'\\''") + "'"


def _quote_fish(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_powershell(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_QUOTERS = {
    "activate": _quote_posix,
    "activate.fish": _quote_fish,
    "activate.csh": _quote_posix,
    "Activate.ps1": _quote_powershell,
}


def _write_activation_scripts(root: Path, scripts: Path, prompt: str) -> None:
    """Fill the templates in ``scripts/`` with the environment's path and prompt."""
    templates = Path(__file__).parent / "scripts"
    bin_name = scripts.relative_to(root).as_posix()
    for name in _ACTIVATION_SCRIPTS:
        try:
            template = (templates / name).read_text(encoding="utf-8")
        except OSError as exc:  # a broken installation of shipyard itself
            raise ShipyardError(
                f"shipyard's activation script template {name} is missing.",
                hint="Reinstall shipyard.",
            ) from exc
        quote = _QUOTERS[name]
        text = (
            template.replace("__SHIPYARD_ROOT_TEXT__", _one_line(str(root)))
            .replace("__SHIPYARD_ROOT__", quote(str(root)))
            .replace("__SHIPYARD_PROMPT__", quote(_one_line(prompt)))
            .replace("__SHIPYARD_BIN_NAME__", bin_name)
        )
        _write(scripts / name, text, mode=0o644)


# -- inspection helpers ---------------------------------------------------------------------


def _parse_cfg(text: str) -> dict[str, str]:
    """``key = value`` lines of ``pyvenv.cfg``, keys lower-cased, as Python's start-up reads them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip().lower()] = value.strip()
    return values


def _version_from_info(text: str) -> str:
    """``"3.12.1"`` from virtualenv's ``version_info = 3.12.1.final.0``."""
    parts = text.split(".")
    if len(parts) >= 3 and all(part.isdigit() for part in parts[:3]):
        return ".".join(parts[:3])
    return ""


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _find_site_packages(root: Path, version: str, windows: bool) -> Path:
    """``site-packages`` of an environment not made by shipyard (one listing of ``lib/``)."""
    if windows:
        return root / "Lib" / "site-packages"
    lib = root / "lib"
    wanted = f"python{_minor(version)}" if version else ""
    try:
        names = sorted(os.listdir(lib))
    except OSError:
        names = []
    for preferred in (wanted, f"{wanted}t", f"pypy{_minor(version)}"):
        if preferred and preferred in names:
            return lib / preferred / "site-packages"
    for name in names:
        if name.startswith(("python", "pypy")):
            return lib / name / "site-packages"
    return lib / (wanted or "python3") / "site-packages"
