"""The shared services of one command: cache, HTTP client, worker threads, reporter.

Created lazily so a command that needs none of them (a no-op ``sync``) pays for
none. This is deliberately small: the use cases take what they need from it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cache import Cache, default_cache_dir
from shipyard.reporting import NullReporter, Reporter
from shipyard.settings import Settings

if TYPE_CHECKING:
    from shipyard.index.http import HttpClient

__all__ = ["Services"]


class Services:
    """Per-command services built from :class:`~shipyard.settings.Settings`.

    :param cli_python: the interpreter request given with ``--python`` (it outranks
        ``.python-version``, which outranks the settings' ``python``).
    :param credential_urls: more URLs whose ``user:password@`` apply to their host (the
        project's named indexes, ``[[tool.shipyard.index]]``).
    """

    def __init__(
        self,
        settings: Settings,
        reporter: Reporter | None = None,
        *,
        cli_python: str | None = None,
        cli_values: Mapping[str, Any] | None = None,
        credential_urls: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.cli_values: Mapping[str, Any] = dict(cli_values or {})
        self.reporter: Reporter = reporter if reporter is not None else NullReporter()
        self.cli_python = cli_python
        self.credential_urls = tuple(credential_urls)
        self._cache: Cache | None = None
        self._client: HttpClient | None = None
        self._client_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        #: packages whose source build was announced in this run (once each)
        self.announced_builds: set[str] = set()

    @property
    def cache(self) -> Cache:
        """The cache (``--cache-dir`` / ``SHIPYARD_CACHE_DIR`` or the per-user default)."""
        if self._cache is None:
            root = Path(self.settings.cache_dir) if self.settings.cache_dir else default_cache_dir()
            self._cache = Cache(root.expanduser())
        return self._cache

    @property
    def client(self) -> HttpClient:
        """The shared HTTP client (made once, also when first asked from several threads)."""
        if self._client is not None:
            return self._client
        with self._client_lock:
            if self._client is not None:
                return self._client
            from shipyard.index.credentials import KeyringCredentials
            from shipyard.index.http import HttpClient, host_credentials
            from shipyard.project.sources import command_line_indexes

            settings = self.settings
            credentials = host_credentials(
                [
                    settings.index_url,
                    *settings.extra_index_urls,
                    *settings.find_links,
                    *self.credential_urls,
                ],
                index_url=settings.index_url,
                username=settings.index_username,
                password=settings.index_password,
            )
            self._client = HttpClient(
                offline=settings.offline,
                timeout=settings.http_timeout,
                retries=settings.http_retries,
                max_connections=settings.concurrency,
                credentials=credentials,
                keyring=None
                if settings.keyring_provider == "disabled"
                else KeyringCredentials(
                    [
                        settings.index_url,
                        *settings.extra_index_urls,
                        *(url for _name, url in command_line_indexes(settings.indexes)),
                        *self.credential_urls,
                    ]
                ),
            )
        return self._client

    @property
    def executor(self) -> ThreadPoolExecutor:
        """Worker threads for network and file work."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=max(2, self.settings.concurrency), thread_name_prefix="shipyard"
            )
        return self._executor

    def reload_settings(self, project_table: Mapping[str, Any]) -> None:
        """Re-read the settings after the command itself edited ``[tool.shipyard]``
        (``import`` writing an index URL): the command line and ``SHIPYARD_*`` still win.

        :raises ManifestError, UsageError: as :func:`~shipyard.settings.load_settings`.
        """
        from shipyard.settings import load_settings

        self.settings = load_settings(project_table=project_table, cli=self.cli_values)

    def close(self) -> None:
        """Stop the worker threads (pending background fetches are cancelled)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
