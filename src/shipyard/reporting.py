"""How library code tells the outside world what it is doing.

Core code never prints. Long operations take a reporter and call its event-named
methods; the command line passes one that draws progress bars or plain lines,
tests and library users pass :class:`NullReporter` (or their own). The protocols
are split by domain, as uv splits its reporter traits, so a module only depends
on the events it emits.
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "BuildReporter",
    "DownloadReporter",
    "InstallReporter",
    "NullReporter",
    "Reporter",
    "ResolveReporter",
]


class ResolveReporter(Protocol):
    """Events of a resolution (see :mod:`shipyard.resolver`)."""

    def resolve_started(self) -> None:
        """A resolution begins."""

    def package_resolved(self, name: str, version: str) -> None:
        """A candidate was pinned (it may be replaced later by backtracking)."""

    def resolve_finished(self, count: int, seconds: float) -> None:
        """The resolution ended with ``count`` packages after ``seconds`` wall time."""

    def warning(self, message: str) -> None:
        """Something the user should know that does not stop the operation."""

    def notice(self, message: str) -> None:
        """Something done on the user's behalf that they did not ask for by name
        (an interpreter downloaded for the project)."""


class DownloadReporter(Protocol):
    """Events of file downloads (see :mod:`shipyard.install`)."""

    def download_started(self, name: str, size: int | None) -> None:
        """A download of ``size`` bytes (``None`` when unknown) for ``name`` begins."""

    def download_progress(self, name: str, nbytes: int) -> None:
        """``nbytes`` more bytes of ``name`` arrived."""

    def download_finished(self, name: str) -> None:
        """The download for ``name`` is complete."""


class BuildReporter(Protocol):
    """Events of PEP 517 builds (see :mod:`shipyard.build`)."""

    def build_started(self, name: str, kind: str) -> None:
        """A build of ``name`` begins; ``kind`` is ``"metadata"``, ``"wheel"``, ``"editable"``
        or ``"sdist"``."""

    def build_finished(self, name: str, kind: str) -> None:
        """That build ended successfully."""


class InstallReporter(Protocol):
    """Events of applying a plan to an environment."""

    def install_started(self, total: int) -> None:
        """``total`` distributions are about to be installed or removed."""

    def package_installed(self, name: str, version: str) -> None:
        """``name==version`` is now installed."""

    def package_removed(self, name: str, version: str) -> None:
        """``name==version`` was removed."""

    def install_finished(self, installed: int, removed: int, seconds: float) -> None:
        """The plan was applied in ``seconds`` wall time."""


class Reporter(ResolveReporter, DownloadReporter, BuildReporter, InstallReporter, Protocol):
    """Every event, plus free-form warnings; what the command line implements."""

    def warning(self, message: str) -> None:
        """Something the user should know that does not stop the operation."""

    def notice(self, message: str) -> None:
        """Something done on the user's behalf that they did not ask for by name
        (an interpreter downloaded for the project)."""


class NullReporter:
    """A :class:`Reporter` that ignores every event."""

    def resolve_started(self) -> None:
        """Ignore."""

    def package_resolved(self, name: str, version: str) -> None:
        """Ignore."""

    def resolve_finished(self, count: int, seconds: float) -> None:
        """Ignore."""

    def download_started(self, name: str, size: int | None) -> None:
        """Ignore."""

    def download_progress(self, name: str, nbytes: int) -> None:
        """Ignore."""

    def download_finished(self, name: str) -> None:
        """Ignore."""

    def build_started(self, name: str, kind: str) -> None:
        """Ignore."""

    def build_finished(self, name: str, kind: str) -> None:
        """Ignore."""

    def install_started(self, total: int) -> None:
        """Ignore."""

    def package_installed(self, name: str, version: str) -> None:
        """Ignore."""

    def package_removed(self, name: str, version: str) -> None:
        """Ignore."""

    def install_finished(self, installed: int, removed: int, seconds: float) -> None:
        """Ignore."""

    def warning(self, message: str) -> None:
        """Ignore."""

    def notice(self, message: str) -> None:
        """Ignore."""
