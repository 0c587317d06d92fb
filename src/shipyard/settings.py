"""Typed settings, from one registry.

Every setting is declared once in :data:`REGISTRY` with its environment variable,
its ``[tool.shipyard]`` key and its command-line flag; the README's settings
table is checked against this registry by the tests. Precedence, highest first:
command line > ``SHIPYARD_*`` environment variables > ``[tool.shipyard]`` in the
project > the user file ``<config dir>/shipyard/shipyard.toml``. shipyard never
reads pip's configuration files or ``PIP_*`` variables.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shipyard.errors import ManifestError, UsageError
from shipyard.setting_parsers import choice as _choice
from shipyard.setting_parsers import choice_list as _choice_list
from shipyard.setting_parsers import parse_bool as _bool
from shipyard.setting_parsers import parse_datetime
from shipyard.setting_parsers import parse_list as _list

__all__ = [
    "REGISTRY",
    "Setting",
    "Settings",
    "index_credentials",
    "load_settings",
    "parse_datetime",
]

DEFAULT_INDEX_URL = "https://pypi.org/simple"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: attribute name, environment variable, manifest key, parser, help."""

    name: str
    env: str | None
    key: str | None
    parse: Callable[[str], Any]
    help: str


#: what ``remote-cache-include`` may name
REMOTE_CACHE_INCLUDES = ("interpreters", "conda-packages")

REGISTRY: tuple[Setting, ...] = (
    Setting("cache_dir", "SHIPYARD_CACHE_DIR", None, str, "cache directory"),
    Setting("index_url", "SHIPYARD_INDEX_URL", "index-url", str, "main package index (PEP 503)"),
    Setting(
        "index_username",
        "SHIPYARD_INDEX_USERNAME",
        None,
        str,
        "user name for the main index's host (with SHIPYARD_INDEX_PASSWORD)",
    ),
    Setting(
        "registry_username",
        "SHIPYARD_REGISTRY_USERNAME",
        None,
        str,
        "user name for image registries (with SHIPYARD_REGISTRY_PASSWORD; image build)",
    ),
    Setting(
        "registry_password",
        "SHIPYARD_REGISTRY_PASSWORD",
        None,
        str,
        "password or token for image registries; sent over HTTPS only, never written",
    ),
    Setting(
        "insecure_registries",
        "SHIPYARD_INSECURE_REGISTRIES",
        "insecure-registries",
        _list,
        "registries (host:port) that may be spoken to over plain HTTP, like localhost",
    ),
    Setting(
        "remote_cache",
        "SHIPYARD_REMOTE_CACHE",
        "remote-cache",
        str,
        "team cache of built wheels: oci://registry/repository (empty: none)",
    ),
    Setting(
        "remote_cache_push",
        "SHIPYARD_REMOTE_CACHE_PUSH",
        "remote-cache-push",
        _bool,
        "push wheels built here to the remote cache (CI), not only pull",
    ),
    Setting(
        "remote_cache_timeout",
        "SHIPYARD_REMOTE_CACHE_TIMEOUT",
        "remote-cache-timeout",
        float,
        "seconds per remote cache request before it is skipped (default 5)",
    ),
    Setting(
        "remote_cache_sign_key",
        "SHIPYARD_REMOTE_CACHE_SIGN_KEY",
        "remote-cache-sign-key",
        str,
        "PEM private key (ECDSA P-256 or Ed25519) that signs the wheels pushed (CI)",
    ),
    Setting(
        "remote_cache_public_key",
        "SHIPYARD_REMOTE_CACHE_PUBLIC_KEY",
        "remote-cache-public-key",
        str,
        "PEM public key (or its path): pulled wheels must carry its signature, else are built",
    ),
    Setting(
        "remote_cache_include",
        "SHIPYARD_REMOTE_CACHE_INCLUDE",
        "remote-cache-include",
        _choice_list(*REMOTE_CACHE_INCLUDES),
        "also share managed interpreters / conda packages through the remote cache",
    ),
    Setting(
        "remote_cache_created",
        "SHIPYARD_REMOTE_CACHE_CREATED",
        None,
        str,
        "creation time written on pushed artifacts instead of now (RFC 3339; for tests of prune)",
    ),
    Setting(
        "index_password",
        "SHIPYARD_INDEX_PASSWORD",
        None,
        str,
        "password or token for the main index's host; never written anywhere",
    ),
    Setting(
        "extra_index_urls",
        "SHIPYARD_EXTRA_INDEX_URL",
        "extra-index-urls",
        _list,
        "more indexes, asked before the main one (space-separated)",
    ),
    Setting(
        "indexes",
        "SHIPYARD_INDEX",
        None,
        _list,
        "named indexes (NAME=URL, space-separated), asked before all others",
    ),
    Setting(
        "find_links", "SHIPYARD_FIND_LINKS", "find-links", _list, "directories or pages of archives"
    ),
    Setting(
        "no_binary", "SHIPYARD_NO_BINARY", "no-binary", _list, "build these from source (:all:)"
    ),
    Setting(
        "only_binary", "SHIPYARD_ONLY_BINARY", "only-binary", _list, "never build these (:all:)"
    ),
    Setting(
        "no_build",
        "SHIPYARD_NO_BUILD",
        "no-build",
        _bool,
        "never build a package from source (lock picks wheels only; sync refuses sdists)",
    ),
    Setting(
        "no_build_package",
        "SHIPYARD_NO_BUILD_PACKAGE",
        "no-build-package",
        _list,
        "never build these from source",
    ),
    Setting("offline", "SHIPYARD_OFFLINE", None, _bool, "never use the network"),
    Setting(
        "keyring_provider",
        "SHIPYARD_KEYRING_PROVIDER",
        "keyring-provider",
        _choice("import", "disabled"),
        "ask the keyring library for index credentials (import) or not (disabled)",
    ),
    Setting("python", "SHIPYARD_PYTHON", "python", str, "interpreter request for .venv"),
    Setting(
        "accelerator",
        "SHIPYARD_ACCELERATOR",
        None,
        str,
        "the accelerator variant to install (cpu, cudaX.Y, rocmX.Y) instead of detecting it",
    ),
    Setting(
        "tool_dir",
        "SHIPYARD_TOOL_DIR",
        None,
        str,
        "where `tool install` keeps each tool's environment",
    ),
    Setting(
        "tool_bin_dir",
        "SHIPYARD_TOOL_BIN_DIR",
        None,
        str,
        "where `tool install` links the tools' commands (default ~/.local/bin)",
    ),
    Setting(
        "env_dir",
        "SHIPYARD_ENV_DIR",
        None,
        str,
        "where `env create` keeps the named environments",
    ),
    Setting(
        "link_mode",
        "SHIPYARD_LINK_MODE",
        "link-mode",
        _choice("hardlink", "copy", "symlink", "clone"),
        "how files get from the cache into .venv",
    ),
    Setting(
        "resolution",
        "SHIPYARD_RESOLUTION",
        "resolution",
        _choice("highest", "lowest", "lowest-direct"),
        "which versions to prefer",
    ),
    Setting(
        "fork_strategy",
        "SHIPYARD_FORK_STRATEGY",
        "fork-strategy",
        _choice("requires-python", "fewest"),
        "newest versions per Python range, or fewest versions",
    ),
    Setting(
        "prerelease",
        "SHIPYARD_PRERELEASE",
        "prerelease",
        _choice("allow", "if-necessary", "disallow", "if-necessary-or-explicit"),
        "when to accept pre-releases",
    ),
    Setting(
        "exclude_newer",
        "SHIPYARD_EXCLUDE_NEWER",
        "exclude-newer",
        str,
        "ignore files uploaded after this date",
    ),
    Setting("http_timeout", "SHIPYARD_HTTP_TIMEOUT", None, float, "network timeout, seconds"),
    Setting("http_retries", "SHIPYARD_HTTP_RETRIES", None, int, "retries for failed requests"),
    Setting("concurrency", "SHIPYARD_CONCURRENCY", None, int, "parallel network requests"),
    Setting(
        "concurrent_installs",
        "SHIPYARD_CONCURRENT_INSTALLS",
        None,
        int,
        "threads placing files into the environment",
    ),
    Setting(
        "concurrent_builds",
        "SHIPYARD_CONCURRENT_BUILDS",
        None,
        int,
        "source distributions built at once",
    ),
    Setting("color", "SHIPYARD_COLOR", None, _choice("auto", "always", "never"), "colored output"),
    Setting(
        "python_install_dir",
        "SHIPYARD_PYTHON_INSTALL_DIR",
        None,
        str,
        "where shipyard-managed interpreters live",
    ),
    Setting(
        "python_downloads",
        "SHIPYARD_PYTHON_DOWNLOADS",
        "python-downloads",
        _choice("automatic", "manual", "never"),
        "download a missing interpreter: automatic, manual (python install only), never",
    ),
    Setting(
        "python_mirror",
        "SHIPYARD_PYTHON_MIRROR",
        "python-mirror",
        str,
        "replaces the python-build-standalone release-download URL",
    ),
    Setting(
        "python_downloads_json",
        "SHIPYARD_PYTHON_DOWNLOADS_JSON",
        None,
        str,
        "a JSON file listing the CPython builds to download (pbs-installer's format)",
    ),
    Setting(
        "probe_timeout",
        "SHIPYARD_PROBE_TIMEOUT",
        None,
        float,
        "seconds an interpreter may take to answer its probe",
    ),
    Setting(
        "custom_compile_command",
        "SHIPYARD_CUSTOM_COMPILE_COMMAND",
        None,
        str,
        "the command pip compile writes in its header",
    ),
    Setting(
        "conda_pypi_mapping_url",
        "SHIPYARD_CONDA_PYPI_MAPPING_URL",
        "conda-pypi-mapping-url",
        str,
        "conda-forge→PyPI name mapping (JSON; empty: don't fetch)",
    ),
    Setting(
        "publish_url",
        "SHIPYARD_PUBLISH_URL",
        "publish-url",
        str,
        "where `publish` uploads (legacy upload API; default https://upload.pypi.org/legacy/)",
    ),
    Setting(
        "publish_check_url",
        "SHIPYARD_PUBLISH_CHECK_URL",
        "publish-check-url",
        str,
        "a simple index `publish` asks first, skipping the files it already has",
    ),
    Setting(
        "publish_token",
        "SHIPYARD_PUBLISH_TOKEN",
        None,
        str,
        "API token for `publish` (sent as user __token__); never written anywhere",
    ),
    Setting(
        "publish_username",
        "SHIPYARD_PUBLISH_USERNAME",
        None,
        str,
        "user name for `publish` (with SHIPYARD_PUBLISH_PASSWORD)",
    ),
    Setting(
        "publish_password",
        "SHIPYARD_PUBLISH_PASSWORD",
        None,
        str,
        "password for `publish`; never written anywhere",
    ),
)


@dataclass(slots=True, kw_only=True)
class Settings:
    """Effective settings of one command (see :data:`REGISTRY` for each field's sources)."""

    cache_dir: str | None = None
    index_url: str = DEFAULT_INDEX_URL
    index_username: str | None = None
    index_password: str | None = None
    registry_username: str | None = None
    registry_password: str | None = None
    insecure_registries: list[str] = field(default_factory=list)
    #: ``oci://host/repository`` of the team cache of built wheels, ``None`` for none
    remote_cache: str | None = None
    remote_cache_push: bool = False
    remote_cache_timeout: float = 5.0
    remote_cache_sign_key: str | None = None
    remote_cache_public_key: str | None = None
    remote_cache_include: list[str] = field(default_factory=list)
    #: ``org.opencontainers.image.created`` of pushed artifacts instead of now (RFC 3339)
    remote_cache_created: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    #: ``--index NAME=URL`` / ``SHIPYARD_INDEX``: named indexes asked before all others
    indexes: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_binary: list[str] = field(default_factory=list)
    only_binary: list[str] = field(default_factory=list)
    no_build: bool = False
    no_build_package: list[str] = field(default_factory=list)
    offline: bool = False
    #: ``import``: ask the ``keyring`` library (when installed) for the credentials of
    #: the configured indexes' hosts; ``disabled``: never
    keyring_provider: str = "import"
    python: str | None = None
    accelerator: str | None = None
    tool_dir: str | None = None
    tool_bin_dir: str | None = None
    env_dir: str | None = None
    link_mode: str = "hardlink"
    resolution: str = "highest"
    fork_strategy: str = "requires-python"
    prerelease: str = "if-necessary-or-explicit"
    exclude_newer: str | None = None
    http_timeout: float = 30.0
    http_retries: int = 3
    concurrency: int = 16
    #: linking is system calls under the GIL: more threads than cores only trade the
    #: GIL back and forth (uv's UV_CONCURRENT_INSTALLS defaults to the cores too)
    concurrent_installs: int = field(default_factory=lambda: os.cpu_count() or 2)
    #: builds compile, or wait on their backend's downloads: as many as cores at once
    #: (uv's UV_CONCURRENT_BUILDS defaults to the cores too)
    concurrent_builds: int = field(default_factory=lambda: os.cpu_count() or 2)
    color: str = "auto"
    python_install_dir: str | None = None
    python_downloads: str = "automatic"
    python_mirror: str | None = None
    python_downloads_json: str | None = None
    probe_timeout: float = 20.0
    custom_compile_command: str | None = None
    conda_pypi_mapping_url: str = "https://raw.githubusercontent.com/prefix-dev/parselmouth/main/files/compressed_mapping.json"
    #: ``publish``: upload URL, simple index to check first, and credentials
    publish_url: str | None = None
    publish_check_url: str | None = None
    publish_token: str | None = None
    publish_username: str | None = None
    publish_password: str | None = None

    def build_forbidden(self, name: str) -> bool:
        """Whether ``name`` (canonical) may not be built from source (``no-build``,
        ``no-build-package``)."""
        from packaging.utils import canonicalize_name

        return self.no_build or name in {canonicalize_name(n) for n in self.no_build_package}

    def build_requested(self, name: str) -> bool:
        """Whether the user asked for ``name`` (canonical) to be built from source
        (``no-binary``): such builds need no notice."""
        from packaging.utils import canonicalize_name

        return any(n == ":all:" or canonicalize_name(n) == name for n in self.no_binary)

    def binary_only(self) -> list[str]:
        """``only-binary`` with ``no-build`` (``:all:``) and ``no-build-package`` added:
        what resolution must not pick sdists for."""
        names = list(self.only_binary)
        if self.no_build:
            names.append(":all:")
        names.extend(self.no_build_package)
        return names

    def index_urls(self) -> list[str]:
        """Indexes in the order they are asked: extra indexes first, then the main one."""
        return [*self.extra_index_urls, self.index_url]


def _apply(settings: Settings, values: Mapping[str, Any], source: str) -> None:
    known = {f.name for f in fields(Settings)}
    for name, value in values.items():
        if name in known and value is not None:
            setattr(settings, name, value)
        elif name not in known:
            raise ManifestError(f"Unknown setting {name!r}.", context=source)


def _from_table(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    by_key = {s.key: s for s in REGISTRY if s.key}
    for key, value in table.items():
        setting = by_key.get(key)
        if setting is None:
            continue  # other [tool.shipyard] keys (environments, conda …) belong elsewhere
        if isinstance(value, list) and hasattr(setting.parse, "choices"):
            value = " ".join(str(item) for item in value)
        if isinstance(value, str) and setting.parse in (_list,):
            value = _list(value)
        elif isinstance(value, str):
            try:
                value = setting.parse(value)
            except ValueError as exc:
                raise ManifestError(
                    f"Invalid value for {key!r}: {exc}.",
                    context=source,
                    hint="Fix it in [tool.shipyard].",
                ) from exc
        values[setting.name] = value
    return values


def _parse_env(setting: Setting, text: str) -> Any:
    try:
        return setting.parse(text)
    except ValueError as exc:
        raise UsageError(
            f"Invalid value in {setting.env}: {exc}.",
            hint=f"Fix or unset {setting.env}.",
        ) from exc


def from_environment(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting's value from its ``SHIPYARD_*`` variable, parsed as the registry
    says, for code that runs before (or without) :func:`load_settings`: interpreter
    discovery and probing, the download table, the environment stamp.

    :param name: the :class:`Setting` attribute name (``"probe_timeout"``).
    :returns: the parsed value, or ``None`` when the variable is unset.
    :raises KeyError: when no setting has that name or it has no variable.
    :raises UsageError: for an invalid value.
    """
    environ = os.environ if environ is None else environ
    for setting in REGISTRY:
        if setting.name == name and setting.env:
            text = environ.get(setting.env)
            return None if text is None else _parse_env(setting, text)
    raise KeyError(name)


def index_credentials(
    name: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """The user name and password for the named index ``name`` (``[[tool.shipyard.index]]``)
    from ``SHIPYARD_INDEX_<NAME>_USERNAME`` and ``SHIPYARD_INDEX_<NAME>_PASSWORD``, where
    ``<NAME>`` is the index name upper-cased with every other character than a letter or
    digit made ``_`` (``private-repo`` → ``SHIPYARD_INDEX_PRIVATE_REPO_USERNAME``), as
    uv names its ``UV_INDEX_<NAME>_*``.

    :returns: ``None`` when neither variable is set.
    """
    import re

    environ = os.environ if environ is None else environ
    stem = "SHIPYARD_INDEX_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    username = environ.get(f"{stem}_USERNAME")
    password = environ.get(f"{stem}_PASSWORD")
    if username is None and password is None:
        return None
    return username or "", password or ""


def user_config_path() -> Path:
    """``<user config dir>/shipyard/shipyard.toml`` (``platformdirs``)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("shipyard", appauthor=False)) / "shipyard.toml"


def load_settings(
    *,
    project_table: Mapping[str, Any] | None,
    cli: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the sources into :class:`Settings`.

    :param project_table: ``[tool.shipyard]`` of the project, or ``None``.
    :param cli: values given on the command line (``None`` values are ignored).
    :param environ: environment variables (``os.environ`` by default).
    :raises UsageError: for an invalid ``SHIPYARD_*`` value.
    :raises ManifestError: for an invalid value in a TOML file.
    """
    environ = os.environ if environ is None else environ
    settings = Settings()
    user_path = user_config_path()
    if user_path.is_file():
        try:
            with open(user_path, "rb") as handle:
                user = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ManifestError(
                f"Cannot read the user settings: {exc}.", context=str(user_path)
            ) from exc
        _apply(settings, _from_table(user, str(user_path)), str(user_path))
    if project_table:
        _apply(
            settings, _from_table(project_table, "pyproject.toml [tool.shipyard]"), "pyproject.toml"
        )
    env_values: dict[str, Any] = {}
    for setting in REGISTRY:
        if setting.env and setting.env in environ:
            env_values[setting.name] = _parse_env(setting, environ[setting.env])
    if "NO_COLOR" in environ and environ.get("NO_COLOR") and "color" not in env_values:
        env_values["color"] = "never"
    _apply(settings, env_values, "environment")
    _apply(settings, {k: v for k, v in cli.items() if v is not None}, "command line")
    return settings
