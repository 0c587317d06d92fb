"""Create and inspect PEP 405 virtual environments without running ``venv``.

A virtual environment is a directory with ``pyvenv.cfg`` (whose ``home`` key
points at the base interpreter's directory), interpreter links in ``bin/``, an
empty ``site-packages``, and activation scripts. Writing these ourselves takes
a few milliseconds, where ``python -m venv`` takes a second (it runs
``ensurepip``). ``pyvenv.cfg`` is written last, so an interrupted creation
never leaves something that looks like a finished environment.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shipyard import __version__
from shipyard.atomic import atomic_write_text
from shipyard.errors import InstallError
from shipyard.models import InstallScheme, Interpreter

__all__ = ["VirtualEnvironment", "create_venv", "inspect_venv"]

_ACTIVATE_SCRIPTS = ("activate", "activate.fish", "activate.csh", "Activate.ps1")


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualEnvironment:
    """A virtual environment on disk.

    :param root: its directory; :param python: ``bin/python`` inside it;
    :param version: the full Python version from ``pyvenv.cfg``;
    :param base_executable: the interpreter it was made from (``None`` if unknown);
    :param site_packages: ``purelib``; :param platlib: ``platlib``;
    :param scripts: ``bin`` (``Scripts`` on Windows); :param include: ``include``.
    """

    root: Path
    python: Path
    version: str
    base_executable: Path | None
    site_packages: Path
    platlib: Path
    scripts: Path
    include: Path

    def scheme(self) -> InstallScheme:
        """Install paths for wheels (headers under ``include/site/pythonX.Y``)."""
        minor = ".".join(self.version.split(".")[:2])
        return InstallScheme(
            purelib=self.site_packages,
            platlib=self.platlib,
            scripts=self.scripts,
            data=self.root,
            headers=self.root / "include" / "site" / f"python{minor}",
            python=self.python,
        )


def _read_cfg(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def inspect_venv(path: Path) -> VirtualEnvironment | None:
    """The environment at ``path``, read from ``pyvenv.cfg`` and the layout only (no
    subprocess); ``None`` when ``path`` is not a virtual environment."""
    cfg = path / "pyvenv.cfg"
    try:
        values = _read_cfg(cfg)
    except OSError:
        return None
    version = values.get("version") or values.get("version_info") or ""
    windows = (path / "Scripts").is_dir() and not (path / "bin").is_dir()
    scripts = path / ("Scripts" if windows else "bin")
    if windows:
        site = path / "Lib" / "site-packages"
        platlib = site
    else:
        minor = ".".join(version.split(".")[:2])
        site = path / "lib" / f"python{minor}" / "site-packages"
        if not site.is_dir():
            found = sorted((path / "lib").glob("python*/site-packages"))
            site = found[0] if found else site
        platlib = site
    python = scripts / ("python.exe" if windows else "python")
    base = values.get("executable") or values.get("base-executable")
    return VirtualEnvironment(
        root=path,
        python=python,
        version=version,
        base_executable=Path(base) if base else None,
        site_packages=site,
        platlib=platlib,
        scripts=scripts,
        include=path / ("Include" if windows else "include"),
    )


def _write_scripts(root: Path, bin_dir: Path, prompt: str, bin_name: str) -> None:
    package = resources.files("shipyard.venv") / "scripts"
    for name in _ACTIVATE_SCRIPTS:
        template = (package / name).read_text(encoding="utf-8")
        text = (
            template.replace("__VENV_DIR__", str(root))
            .replace("__VENV_PROMPT__", prompt.replace("'", ""))
            .replace("__BIN_NAME__", bin_name)
        )
        (bin_dir / name).write_text(text, encoding="utf-8")


def create_venv(
    path: Path,
    interpreter: Interpreter,
    *,
    prompt: str | None = None,
    system_site_packages: bool = False,
    clear: bool = False,
) -> VirtualEnvironment:
    """Create a virtual environment at ``path`` from ``interpreter`` (PEP 405).

    :param interpreter: a base interpreter (a venv's interpreter is replaced by its base).
    :param prompt: shown by the activation scripts; defaults to the directory name.
    :param clear: remove an existing environment at ``path`` first.
    :raises InstallError: when ``path`` exists and is not an environment (or ``clear``
        is false and it is one), or cannot be written.
    """
    path = Path(os.path.abspath(path))
    if path.exists():
        is_env = (path / "pyvenv.cfg").is_file()
        if is_env and clear:
            shutil.rmtree(path)
        elif is_env:
            raise InstallError(
                f"A virtual environment already exists at {path}.",
                hint="Remove it or pass clear=True to replace it.",
            )
        elif path.is_dir() and any(path.iterdir()):
            raise InstallError(
                f"{path} exists and is not a virtual environment; shipyard will not touch it.",
                hint="Move it away or choose another environment path.",
            )
    base = interpreter.base_executable if interpreter.is_virtualenv else interpreter.executable
    base = Path(os.path.abspath(base))
    windows = interpreter.markers.get("sys_platform") == "win32"
    scheme = interpreter.scheme
    bin_name = "Scripts" if windows else "bin"
    minor = interpreter.python_version
    try:
        path.mkdir(parents=True, exist_ok=True)
        bin_dir = path / (scheme.get("scripts") or bin_name)
        bin_dir.mkdir(parents=True, exist_ok=True)
        purelib = path / (scheme.get("purelib") or f"lib/python{minor}/site-packages")
        platlib = path / (scheme.get("platlib") or str(purelib.relative_to(path)))
        purelib.mkdir(parents=True, exist_ok=True)
        platlib.mkdir(parents=True, exist_ok=True)
        (path / "include").mkdir(exist_ok=True)
        if windows:
            for name in ("python.exe", "pythonw.exe"):
                source = base.parent / name
                if source.exists():
                    shutil.copy2(source, bin_dir / name)
        else:
            names = ["python", "python3", f"python{minor}"]
            for name in names:
                link = bin_dir / name
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(base)
            lib64 = path / "lib64"
            if (
                interpreter.pointer_size == 64
                and interpreter.markers.get("sys_platform") != "darwin"
                and not lib64.exists()
            ):
                lib64.symlink_to("lib", target_is_directory=True)
        _write_scripts(path, bin_dir, prompt or path.name, bin_name)
        (path / ".gitignore").write_text("# created by shipyard\n*\n")
        lines = [
            f"home = {base.parent}",
            f"include-system-site-packages = {'true' if system_site_packages else 'false'}",
            f"version = {interpreter.version}",
            f"executable = {base}",
            f"implementation = {interpreter.implementation}",
            f"shipyard = {__version__}",
        ]
        if prompt:
            lines.append(f"prompt = {prompt}")
        atomic_write_text(path / "pyvenv.cfg", "\n".join(lines) + "\n", fsync=False)
    except OSError as exc:
        raise InstallError(
            f"Could not create the virtual environment: {exc.strerror or exc}.",
            context=str(path),
            hint="Check that the directory is writable and the disk is not full.",
        ) from exc
    env = inspect_venv(path)
    assert env is not None
    return env
