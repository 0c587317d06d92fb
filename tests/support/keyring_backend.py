"""A keyring backend for tests: credentials from the JSON file ``$SHIPYARD_TEST_KEYRING``
(service → [user name, password]); select it with
``PYTHON_KEYRING_BACKEND=keyring_backend.FileKeyring`` and this directory on
``PYTHONPATH``."""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential


class FileKeyring(KeyringBackend):
    """Reads ``$SHIPYARD_TEST_KEYRING``; records each service asked in ``<file>.asked``."""

    priority = 1  # type: ignore[assignment]

    def _entries(self) -> dict[str, list[str]]:
        with open(os.environ["SHIPYARD_TEST_KEYRING"], encoding="utf-8") as handle:
            return dict(json.load(handle))

    def _asked(self, service: str) -> None:
        with open(os.environ["SHIPYARD_TEST_KEYRING"] + ".asked", "a", encoding="utf-8") as log:
            log.write(service + "\n")

    def get_credential(self, service: str, username: str | None) -> SimpleCredential | None:
        self._asked(service)
        entry = self._entries().get(service)
        return SimpleCredential(entry[0], entry[1]) if entry else None

    def get_password(self, service: str, username: str) -> str | None:
        entry = self._entries().get(service)
        return entry[1] if entry and entry[0] == username else None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError("read-only test keyring")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError("read-only test keyring")
