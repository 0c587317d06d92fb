"""Command-line tools from PyPI: run once (``tool run``/``x``) or install (``tool install``).

Each tool lives in an isolated, locked environment: an ephemeral project
(:mod:`shipyard.project.ephemeral`) whose only requirements are the tool's package
and the ``--with`` extras. A one-off run keeps it in the cache (``tools-v1/``), keyed
by the requirements and the interpreter request, so the next run of the same tool
starts without resolving; ``NAME@latest`` resolves again. An installed tool keeps
it in the tool directory (``SHIPYARD_TOOL_DIR``, default
``<user data dir>/shipyard/tools/NAME``) and links the package's console scripts
into the tool bin directory (``SHIPYARD_TOOL_BIN_DIR``, else ``$XDG_BIN_HOME``,
else ``~/.local/bin``), as ``pipx`` and ``uv tool`` do.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shipyard.errors import ShipyardError, UsageError

if TYPE_CHECKING:
    from shipyard.project.ephemeral import EphemeralSpec
    from shipyard.settings import Settings

__all__ = [
    "RECEIPT",
    "ToolReceipt",
    "ToolRequest",
    "console_scripts",
    "link_commands",
    "parse_tool_request",
    "read_receipt",
    "tool_bin_dir",
    "tool_dir",
    "tool_spec",
    "unlink_commands",
]

#: the file in an installed tool's directory recording how it was installed
RECEIPT = "shipyard-tool.json"


class ToolError(ShipyardError):
    """A tool cannot be run, installed, upgraded or removed as asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolRequest:
    """What the user named: ``ruff``, ``ruff@0.6.9``, ``ruff@latest``, ``'ruff>=0.6'``.

    :param requirement: the package requirement (``NAME@V`` becomes ``NAME==V``).
    :param latest: ``NAME@latest``: resolve again, ignoring a cached environment.
    """

    requirement: Requirement
    latest: bool = False

    @property
    def name(self) -> str:
        """The package's canonical name."""
        return canonicalize_name(self.requirement.name)


def parse_tool_request(text: str, *, what: str = "the tool") -> ToolRequest:
    """Parse ``NAME``, ``NAME@VERSION``, ``NAME@latest`` or a PEP 508 requirement.

    :raises UsageError: naming the text when it is none of those.
    """
    latest = False
    requirement_text = text
    if "@" in text and "://" not in text and " @ " not in text:
        name, _, version = text.partition("@")
        if version == "latest":
            latest, requirement_text = True, name
        elif version:
            requirement_text = f"{name}=={version}"
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement as exc:
        raise UsageError(
            f"{text!r} is not a package for {what}: {str(exc).splitlines()[0]}.",
            hint="Name it as NAME, NAME@VERSION, NAME@latest or a requirement like 'black>=24'.",
        ) from exc
    return ToolRequest(requirement=requirement, latest=latest)


def tool_spec(request: ToolRequest, with_requirements: Sequence[str] = ()) -> EphemeralSpec:
    """The ephemeral project of a tool: its package and the ``--with`` packages.

    :raises UsageError: when a ``--with`` requirement is invalid.
    """
    from shipyard.project.ephemeral import EphemeralSpec

    extra = []
    for text in with_requirements:
        try:
            extra.append(str(Requirement(text)))
        except InvalidRequirement as exc:
            raise UsageError(
                f"Invalid --with requirement {text!r}: {str(exc).splitlines()[0]}.",
                hint="Write it as PEP 508 says, e.g. 'black[jupyter]' or 'rich>=13'.",
            ) from exc
    return EphemeralSpec(
        name=f"tool-{request.name}",
        dependencies=(str(request.requirement), *extra),
    )


def tool_dir(settings: Settings) -> Path:
    """Where installed tools keep their environments (``SHIPYARD_TOOL_DIR``)."""
    if settings.tool_dir:
        return Path(settings.tool_dir).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("shipyard", appauthor=False)) / "tools"


def tool_bin_dir(settings: Settings) -> Path:
    """Where installed tools' commands are linked: ``SHIPYARD_TOOL_BIN_DIR``, else
    ``$XDG_BIN_HOME``, else ``~/.local/bin`` (the directory the XDG base directory
    spec and pipx use)."""
    if settings.tool_bin_dir:
        return Path(settings.tool_bin_dir).expanduser()
    xdg = os.environ.get("XDG_BIN_HOME")
    if xdg:
        return Path(xdg).expanduser()
    return Path.home() / ".local" / "bin"


def console_scripts(env_root: Path, name: str) -> dict[str, str]:
    """The console and GUI scripts the distribution ``name`` declares in its
    ``entry_points.txt`` (the entry points specification), installed in ``env_root``.

    :returns: script name → ``module:attr``; empty when it has none.
    """
    from shipyard.install.installed import iter_installed
    from shipyard.venv import inspect_venv

    env = inspect_venv(env_root)
    if env is None:
        return {}
    canonical = canonicalize_name(name)
    for dist in iter_installed(sorted({env.site_packages, env.platlib})):
        if canonicalize_name(dist.name) != canonical:
            continue
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string((dist.dist_info / "entry_points.txt").read_text("utf-8"))
        except (OSError, configparser.Error):
            return {}
        found: dict[str, str] = {}
        for group in ("console_scripts", "gui_scripts"):
            if parser.has_section(group):
                found.update({k.strip(): v.strip() for k, v in parser.items(group)})
        return found
    return {}


def env_scripts_dir(env_root: Path) -> Path:
    """``bin`` (``Scripts`` on Windows) of an environment."""
    return env_root / ("Scripts" if os.name == "nt" else "bin")


def _ours(link: Path, tools_root: Path) -> bool:
    """True when ``link`` is a symbolic link into the tool directory."""
    if not link.is_symlink():
        return False
    target = Path(os.path.realpath(link))
    try:
        target.relative_to(tools_root.resolve())
    except ValueError:
        return False
    return True


def link_commands(
    env_root: Path, names: Sequence[str], bin_dir: Path, tools_root: Path, *, force: bool
) -> list[Path]:
    """Link each command of ``names`` from the environment into ``bin_dir``.

    A file already there that is not one of shipyard's tool links is kept, unless
    ``force``.

    :returns: the links made.
    :raises ToolError: when a command would replace another file (without ``force``)
        or the environment lacks it.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    source_dir = env_scripts_dir(env_root)
    suffix = ".exe" if os.name == "nt" else ""
    clashes = [
        bin_dir / f"{n}{suffix}"
        for n in names
        if (bin_dir / f"{n}{suffix}").exists() or (bin_dir / f"{n}{suffix}").is_symlink()
    ]
    clashes = [c for c in clashes if not _ours(c, tools_root)]
    if clashes and not force:
        raise ToolError(
            f"{clashes[0]} exists and is not a shipyard tool's command.",
            hint="Remove it, or pass --force to replace it.",
        )
    made = []
    for name in names:
        source = source_dir / f"{name}{suffix}"
        if not source.exists():
            raise ToolError(
                f"The tool's environment has no command {name}.", context=str(source_dir)
            )
        link = bin_dir / f"{name}{suffix}"
        if link.exists() or link.is_symlink():
            link.unlink()
        if os.name == "nt":  # pragma: no cover - symlinks need privileges there
            shutil.copy2(source, link)
        else:
            link.symlink_to(source)
        made.append(link)
    return made


def unlink_commands(names: Sequence[str], bin_dir: Path, tools_root: Path) -> list[Path]:
    """Remove the links of ``names`` from ``bin_dir`` that point into the tool
    directory (anything else of that name stays); returns those removed."""
    removed = []
    for name in names:
        link = bin_dir / name
        if _ours(link, tools_root):
            link.unlink()
            removed.append(link)
    return removed


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolReceipt:
    """How an installed tool was installed (``shipyard-tool.json`` in its directory).

    :param name: the package's canonical name. :param requirement: as asked.
    :param with_requirements: ``--with`` packages. :param python: ``--python``.
    :param commands: the commands linked. :param version: the installed version.
    """

    name: str
    requirement: str
    with_requirements: tuple[str, ...] = ()
    python: str | None = None
    commands: tuple[str, ...] = ()
    version: str = ""

    def write(self, directory: Path) -> None:
        """Write the receipt into ``directory`` (atomically)."""
        from shipyard.atomic import atomic_write_text

        data = {
            "name": self.name,
            "requirement": self.requirement,
            "with": list(self.with_requirements),
            "python": self.python,
            "commands": list(self.commands),
            "version": self.version,
        }
        atomic_write_text(directory / RECEIPT, json.dumps(data, indent=2) + "\n")


def read_receipt(directory: Path) -> ToolReceipt | None:
    """The receipt in ``directory``, or ``None`` when it is missing or unreadable."""
    try:
        data = json.loads((directory / RECEIPT).read_text(encoding="utf-8"))
        return ToolReceipt(
            name=str(data["name"]),
            requirement=str(data["requirement"]),
            with_requirements=tuple(str(w) for w in data.get("with", [])),
            python=data.get("python"),
            commands=tuple(str(c) for c in data.get("commands", [])),
            version=str(data.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def installed_version(env_root: Path, name: str) -> str:
    """The version of ``name`` installed in ``env_root`` (``""`` when absent)."""
    from shipyard.install.installed import iter_installed
    from shipyard.venv import inspect_venv

    env = inspect_venv(env_root)
    if env is None:
        return ""
    canonical = canonicalize_name(name)
    for dist in iter_installed(sorted({env.site_packages, env.platlib})):
        if canonicalize_name(dist.name) == canonical:
            return dist.version
    return ""


def on_path(directory: Path) -> bool:
    """Whether ``directory`` is on ``PATH``."""
    wanted = os.path.realpath(directory)
    return any(
        os.path.realpath(entry) == wanted
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry
    )
