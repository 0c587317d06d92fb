"""``[tool.shipyard.conda]``: the conda side of a project's manifest.

::

    [tool.shipyard.conda]
    channels = ["conda-forge"]                    # ordered; names, URLs or local paths
    dependencies = ["libfoo", "python 3.12.*"]    # conda MatchSpec strings
    platforms = ["linux-64", "osx-arm64"]         # default: follows the lock targets
    channel-alias = "https://conda.anaconda.org"  # base URL for channel names
    default-channels = ["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"]
    mirrors = { "https://conda.anaconda.org/conda-forge" = ["https://mirror.example/cf"] }
    pypi-mapping = { "pytorch" = "torch" }        # conda name → PyPI name overrides

    [tool.shipyard.conda.target.linux-64]         # per-platform additions
    dependencies = ["cuda-toolkit 12.4.*"]

    [tool.shipyard.conda.virtual-packages.osx-arm64]   # for locking that platform
    __osx = "13.0"

Reading needs no conda library: MatchSpec strings are checked by py-rattler
when the project is solved. This module only validates the shapes and turns
channel names into URLs, the way conda does (``channel-alias`` + name).

``defaults`` is not a channel on ``channel-alias`` but conda's name for its
``default_channels``: Anaconda's ``https://repo.anaconda.com/pkgs/main`` and
``…/pkgs/r`` (:data:`DEFAULT_CHANNELS`, what conda uses on Linux and macOS;
conda adds ``…/pkgs/msys2`` on Windows hosts only, which a lock made for every
platform leaves out: list it as a channel when a Windows package needs it).
``default-channels`` replaces them (a mirror, an internal repository), as
``default_channels`` does in ``.condarc``; ``pkgs/main``, ``pkgs/r`` and
``pkgs/msys2`` as channel names are those channels on ``repo.anaconda.com``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ManifestError

__all__ = [
    "CONDA_PLATFORMS",
    "DEFAULT_CHANNELS",
    "DEFAULT_CHANNEL_ALIAS",
    "CondaConfig",
    "conda_config",
    "platform_for_target",
]

#: conda subdirs shipyard locks for, with the (family, machine) of the lock target
#: each one serves (see :data:`shipyard.specs.targets.PLATFORMS`).
CONDA_PLATFORMS: Mapping[str, tuple[str, str]] = {
    "linux-64": ("linux", "x86_64"),
    "linux-aarch64": ("linux", "aarch64"),
    "osx-64": ("macos", "x86_64"),
    "osx-arm64": ("macos", "arm64"),
    "win-64": ("windows", "AMD64"),
}
DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
#: what the channel name ``defaults`` stands for (conda's ``default_channels`` on Linux
#: and macOS); ``[tool.shipyard.conda] default-channels`` replaces it
DEFAULT_CHANNELS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
_ANACONDA_REPO = "https://repo.anaconda.com"
_WHERE = "[tool.shipyard.conda]"


def platform_for_target(family: str, machine: str) -> str | None:
    """The conda subdir serving a lock target's platform, e.g. ``("macos", "arm64")`` →
    ``"osx-arm64"``; ``None`` when conda has none shipyard supports."""
    for subdir, platform in CONDA_PLATFORMS.items():
        if platform == (family, machine):
            return subdir
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaConfig:
    """The validated ``[tool.shipyard.conda]`` table.

    :param channels: channel URLs in priority order (names already expanded with
        ``channel_alias``, ``defaults`` with ``default-channels``; local paths as
        ``file://`` URLs).
    :param dependencies: MatchSpec strings for every platform.
    :param target_dependencies: subdir → extra MatchSpec strings for that platform.
    :param platforms: the subdirs to lock, or empty to follow the lock targets.
    :param channel_alias: the base URL channel names are joined to.
    :param mirrors: channel URL prefix → mirror URLs tried instead, in order.
    :param pypi_mapping: conda package name → PyPI project name (canonical), overriding
        what the packages' own metadata or the published mapping say.
    :param virtual_packages: subdir → virtual package name → version, used when locking
        that platform instead of the defaults (or, on this machine's platform, instead
        of the detected ones).
    """

    channels: tuple[str, ...]
    dependencies: tuple[str, ...]
    target_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    channel_alias: str = DEFAULT_CHANNEL_ALIAS
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pypi_mapping: Mapping[str, str] = field(default_factory=dict)
    virtual_packages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def specs_for(self, subdir: str) -> tuple[str, ...]:
        """Every MatchSpec that applies on ``subdir``: the common ones, then its own."""
        return self.dependencies + tuple(self.target_dependencies.get(subdir, ()))

    def mentions(self, name: str, subdir: str) -> bool:
        """Whether a spec for package ``name`` applies on ``subdir`` (by the spec's
        leading name, ``python`` in ``"python 3.12.*"`` or ``"python>=3.11"``)."""
        return any(spec_name(spec) == name for spec in self.specs_for(subdir))


def spec_name(spec: str) -> str:
    """The package name a MatchSpec string starts with (``"numpy >=2"`` → ``"numpy"``,
    ``"conda-forge::numpy"`` → ``"numpy"``), lower-cased as conda compares names."""
    text = spec.strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    end = 0
    while end < len(text) and (text[end].isalnum() or text[end] in "-_."):
        end += 1
    return text[:end].lower()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ManifestError(
            f"{where} must be a list of non-empty strings.",
            context="pyproject.toml",
            hint='For example: dependencies = ["libxml2", "python 3.12.*"].',
        )
    return tuple(v.strip() for v in value)


def _check_platform(name: str, where: str) -> str:
    if name not in CONDA_PLATFORMS:
        raise ManifestError(
            f"{where} names the platform {name!r}, which shipyard does not lock.",
            context="pyproject.toml",
            hint=f"Use one of {', '.join(CONDA_PLATFORMS)}.",
        )
    return name


def channel_url(channel: str, alias: str, root: Path) -> str:
    """A channel as a URL: URLs stay (without a trailing ``/``), paths become ``file://``
    URLs (relative to the project ``root``), ``pkgs/main``-style names are Anaconda's
    (``https://repo.anaconda.com/pkgs/main``), and other names are joined to ``alias``
    (``conda-forge`` → ``https://conda.anaconda.org/conda-forge``). ``defaults`` stands
    for several channels: see :func:`channel_urls`."""
    text = channel.strip().rstrip("/")
    if "://" in text:
        return text
    if text.startswith((".", "/", "~")) or "\\" in text:
        path = Path(text).expanduser()
        return (path if path.is_absolute() else root / path).resolve().as_uri()
    if text in ("pkgs/main", "pkgs/r", "pkgs/msys2"):
        return f"{_ANACONDA_REPO}/{text}"
    return f"{alias.rstrip('/')}/{text}"


def channel_urls(
    channels: Sequence[str],
    alias: str,
    root: Path,
    default_channels: Sequence[str] = DEFAULT_CHANNELS,
) -> tuple[str, ...]:
    """Channels as URLs in order (see :func:`channel_url`), ``defaults`` replaced by
    ``default_channels`` (each a name, URL or path), duplicates dropped."""
    urls: list[str] = []
    for channel in channels:
        if channel.strip().rstrip("/") == "defaults":
            urls.extend(channel_url(c, alias, root) for c in default_channels)
        else:
            urls.append(channel_url(channel, alias, root))
    return tuple(dict.fromkeys(urls))


def conda_config(tool: Mapping[str, Any], root: Path) -> CondaConfig | None:
    """Validate ``[tool.shipyard.conda]`` from a project's ``[tool.shipyard]`` table.

    :param tool: the ``[tool.shipyard]`` table.
    :param root: the project directory (for relative channel paths).
    :returns: ``None`` when the table is absent or has no dependencies at all (the
        project is then a plain PyPI project).
    :raises ManifestError: naming the key that has the wrong shape.
    """
    table = tool.get("conda")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ManifestError(f"{_WHERE} must be a table.", context="pyproject.toml")
    known = {
        "channels",
        "dependencies",
        "platforms",
        "channel-alias",
        "default-channels",
        "mirrors",
        "pypi-mapping",
        "target",
        "virtual-packages",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise ManifestError(
            f"{_WHERE} has unknown keys: {', '.join(unknown)}.",
            context="pyproject.toml",
            hint=f"Known keys: {', '.join(sorted(known))}.",
        )
    alias = table.get("channel-alias", DEFAULT_CHANNEL_ALIAS)
    if not isinstance(alias, str) or "://" not in alias:
        raise ManifestError(
            f"{_WHERE} channel-alias must be a URL.",
            context="pyproject.toml",
            hint='For example: channel-alias = "https://conda.example.com".',
        )
    channels = _strings(table.get("channels", ["conda-forge"]), f"{_WHERE} channels")
    if not channels:
        raise ManifestError(
            f"{_WHERE} channels is empty.",
            context="pyproject.toml",
            hint='Name at least one channel, e.g. channels = ["conda-forge"].',
        )
    defaults = _strings(
        table.get("default-channels", list(DEFAULT_CHANNELS)), f"{_WHERE} default-channels"
    )
    if not defaults or "defaults" in defaults:
        raise ManifestError(
            f"{_WHERE} default-channels must list the channels 'defaults' stands for.",
            context="pyproject.toml",
            hint='For example: default-channels = ["https://mirror.example/pkgs/main"].',
        )
    dependencies = _strings(table.get("dependencies", []), f"{_WHERE} dependencies")
    targets: dict[str, tuple[str, ...]] = {}
    target_table = table.get("target", {})
    if not isinstance(target_table, dict):
        raise ManifestError(f"{_WHERE}.target must be a table.", context="pyproject.toml")
    for subdir, entry in target_table.items():
        where = f"[tool.shipyard.conda.target.{subdir}]"
        _check_platform(subdir, where)
        if not isinstance(entry, dict) or set(entry) - {"dependencies"}:
            raise ManifestError(f"{where} may only hold dependencies.", context="pyproject.toml")
        targets[subdir] = _strings(entry.get("dependencies", []), f"{where} dependencies")
    platforms = _strings(table.get("platforms", []), f"{_WHERE} platforms")
    for subdir in platforms:
        _check_platform(subdir, f"{_WHERE} platforms")
    mirrors: dict[str, tuple[str, ...]] = {}
    raw_mirrors = table.get("mirrors", {})
    if not isinstance(raw_mirrors, dict):
        raise ManifestError(f"{_WHERE} mirrors must be a table.", context="pyproject.toml")
    for prefix, urls in raw_mirrors.items():
        listed = [urls] if isinstance(urls, str) else urls
        mirrors[channel_url(prefix, alias, root)] = tuple(
            u.rstrip("/") for u in _strings(listed, f"{_WHERE} mirrors.{prefix}")
        )
    mapping = table.get("pypi-mapping", {})
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ManifestError(
            f"{_WHERE} pypi-mapping must map conda names to PyPI names (strings).",
            context="pyproject.toml",
            hint='For example: pypi-mapping = { "pytorch" = "torch" }.',
        )
    from packaging.utils import canonicalize_name

    virtual: dict[str, dict[str, str]] = {}
    raw_virtual = table.get("virtual-packages", {})
    if not isinstance(raw_virtual, dict):
        raise ManifestError(f"{_WHERE} virtual-packages must be a table.", context="pyproject.toml")
    for subdir, entry in raw_virtual.items():
        where = f"[tool.shipyard.conda.virtual-packages.{subdir}]"
        _check_platform(subdir, where)
        if not isinstance(entry, dict) or not all(
            isinstance(k, str) and k.startswith("__") and isinstance(v, str)
            for k, v in entry.items()
        ):
            raise ManifestError(
                f"{where} must map virtual package names to versions.",
                context="pyproject.toml",
                hint='For example: __glibc = "2.28", __cuda = "12.4".',
            )
        virtual[subdir] = dict(entry)
    if not dependencies and not any(targets.values()):
        return None
    return CondaConfig(
        channels=channel_urls(channels, alias, root, defaults),
        dependencies=dependencies,
        target_dependencies=targets,
        platforms=platforms,
        channel_alias=alias.rstrip("/"),
        mirrors=mirrors,
        pypi_mapping={k.lower(): canonicalize_name(v) for k, v in mapping.items()},
        virtual_packages=virtual,
    )


def default_platforms(targets: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The subdirs serving the given lock targets' ``(family, machine)`` pairs, in
    :data:`CONDA_PLATFORMS` order."""
    wanted = set(targets)
    return tuple(s for s, p in CONDA_PLATFORMS.items() if p in wanted)
