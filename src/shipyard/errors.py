"""The errors shipyard raises, and nothing else.

Every failure a user can cause or meet (bad input, a missing package, a network
fault, a conflict) is raised as a :class:`ShipyardError` subclass. Each carries

* ``message`` — what happened, one or two sentences;
* ``hint`` — what the user can do about it (may be ``None``);
* ``context`` — where it happened (a file and line, a URL, a package), or ``None``.

The command line renders them as one short paragraph and exits with
:attr:`ShipyardError.exit_code` (1, or 2 for usage errors); a traceback is shown
only with ``-v``. Library code never prints and never exits. This module has no
internal imports so that every layer can use it.
"""

from __future__ import annotations

__all__ = [
    "BuildError",
    "CacheError",
    "DiskFullError",
    "GitError",
    "HashMismatchError",
    "ImageError",
    "InstallError",
    "InterpreterNotFoundError",
    "LockError",
    "ManifestError",
    "NetworkError",
    "NoMatchingVersionError",
    "PackageNotFoundError",
    "PublishError",
    "RequirementError",
    "ResolutionError",
    "ShipyardError",
    "UnsafeArchiveError",
    "UsageError",
]


class ShipyardError(Exception):
    """Base class of every error shipyard reports to a user.

    :param message: what happened, as a sentence a user understands.
    :param hint: what to do about it, or ``None`` when there is nothing to suggest.
    :param context: where it happened (``pyproject.toml:12``, a URL, a package name).
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, context: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context

    def __str__(self) -> str:
        text = self.message
        if self.context:
            text = f"{text} ({self.context})"
        if self.hint:
            text = f"{text} {self.hint}"
        return text


class UsageError(ShipyardError):
    """The command line was used wrongly: an unknown option, a bad value. Exit code 2."""

    exit_code = 2


class ManifestError(ShipyardError):
    """``pyproject.toml`` is missing, unreadable, or has an invalid value."""


class RequirementError(ShipyardError):
    """A PEP 508 requirement string (or a marker or specifier in it) is invalid."""


class LockError(ShipyardError):
    """``pylock.toml`` is missing, invalid, or stale where it must be fresh."""


class PackageNotFoundError(ShipyardError):
    """No index or find-links location knows a project of this name."""


class NoMatchingVersionError(ShipyardError):
    """The project exists but none of its versions fits the requirement."""


class ResolutionError(ShipyardError):
    """The requirements cannot be satisfied together; ``message`` explains the chain."""


class NetworkError(ShipyardError):
    """An HTTP request failed: DNS, connection, timeout, or an error status.

    :param url: the URL that failed (credentials removed).
    :param status: the HTTP status code, or ``None`` when no response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint=hint, context=url)
        self.url = url
        self.status = status


class GitError(ShipyardError):
    """A git repository could not be fetched, or a revision is not in it."""


class HashMismatchError(ShipyardError):
    """A downloaded file's digest differs from the one the index or the lock recorded."""


class InterpreterNotFoundError(ShipyardError):
    """No Python interpreter on this machine satisfies the requested version."""


class BuildError(ShipyardError):
    """A PEP 517 build (metadata, wheel or editable) of a source tree failed.

    :param output: the captured output of the build backend, for ``-v``.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        context: str | None = None,
        output: str = "",
    ):
        super().__init__(message, hint=hint, context=context)
        self.output = output


class InstallError(ShipyardError):
    """Installing or removing a distribution in an environment failed."""


class UnsafeArchiveError(InstallError):
    """A wheel, sdist or conda package that would write outside its target, holds device
    files or duplicate members, or would decompress beyond the limits; nothing of it was
    written (see :mod:`shipyard.archives`)."""


class CacheError(ShipyardError):
    """The cache directory cannot be used (permissions, corruption)."""


class DiskFullError(ShipyardError):
    """A write failed because the disk (or quota) is full."""


class ImageError(ShipyardError):
    """A container image cannot be made or published: a base image that cannot be read
    or pulled, a registry that refuses a push, a Dockerfile that would overwrite the
    user's own."""


class PublishError(ShipyardError):
    """Distributions cannot be published: a file that is not a valid wheel or sdist,
    metadata that does not parse, missing or refused credentials, or an upload the
    index rejects."""
