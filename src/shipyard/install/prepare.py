"""Get every distribution of a plan into the cache as an unpacked wheel.

A wheel is downloaded once, checked against the lock's sha256 before anything
reads it, and unpacked into ``wheels-v1/<sha256>/``; installs then link from
there. An unpacked entry is checked (one ``stat`` per file) each time it is
used (:meth:`WheelPreparer.lookup` and :meth:`WheelPreparer.verified` split the
manifest read from that check, so a sync runs the checks on its install
workers): if a file changed after unpacking — someone edited a hard-linked copy in
an environment — the entry is thrown away and unpacked again from a fresh
download, and the reporter is told. sdists are built into wheels first (see
:mod:`shipyard.build`), and the built wheel is cached per sdist digest and
interpreter. With a remote cache (:class:`~shipyard.cache.remote.RemoteWheelCache`), a
build missing here is first pulled from it; a pulled wheel must carry the name and
version the lock says and pass the same RECORD checks as a download, else it is
refused and built here. Wheels built here are offered back to it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.cache import Cache
from shipyard.errors import HashMismatchError, InstallError
from shipyard.index.credentials import redact_url
from shipyard.install.manifest import UnpackedWheel, load_unpacked, verify_unpacked
from shipyard.models import LockedDistribution
from shipyard.reporting import DownloadReporter, Reporter

if TYPE_CHECKING:
    from shipyard.cache.remote import RemoteWheelCache
    from shipyard.index.http import HttpClient

__all__ = ["WheelPreparer"]


class WheelPreparer:
    """Turns locked distributions into unpacked wheels in the cache.

    :param client: returns the HTTP client; called at the first download (a warm
        install never imports the HTTP stack).
    :param build_wheel: builds a wheel from a downloaded sdist (path → wheel path);
        ``None`` makes sdists an error.
    :param build_key: names the interpreter wheels are built for (its most specific
        tag): a wheel built from an sdist is reused only for the same interpreter.
    :param remote: the team's remote cache of built wheels, asked before building.
    """

    def __init__(
        self,
        *,
        cache: Cache,
        client: Callable[[], HttpClient],
        reporter: Reporter,
        build_wheel: Callable[[Path, LockedDistribution], Path] | None = None,
        build_key: str = "",
        remote: RemoteWheelCache | None = None,
    ) -> None:
        self.cache = cache
        self.remote = remote
        self._client = client
        self.reporter = reporter
        self.build_wheel = build_wheel
        self.build_key = build_key

    def cached_wheel(self, sha256: str) -> UnpackedWheel | None:
        """The unpacked wheel for ``sha256`` when cached and unmodified; a modified entry
        is removed (and reported) so the caller unpacks it again."""
        unpacked = self._load(sha256)
        if unpacked is None or not self._modified(unpacked):
            return unpacked
        return None

    def lookup(self, dist: LockedDistribution) -> UnpackedWheel | None:
        """The cache entry of a locked wheel, read from its manifest, **not yet checked**.

        This is the cheap half of :meth:`prepare` for a warm cache: one small file read,
        no ``stat`` of the entry's files. Pass the result through :meth:`verified` before
        installing from it; callers use the split to run the checks on their install
        workers instead of in a separate pass.

        :returns: ``None`` for an sdist, a wheel without a sha256, or a wheel not in the
            cache (an unreadable entry is removed).
        """
        if not dist.is_wheel or dist.sha256 is None or dist.url is None:
            return None
        return self._load(dist.sha256)

    def verified(self, unpacked: UnpackedWheel, dist: LockedDistribution) -> UnpackedWheel:
        """``unpacked`` (from :meth:`lookup`) when none of its files changed since it was
        unpacked; otherwise the entry is removed, the change reported, and the wheel
        downloaded and unpacked again (:meth:`prepare`).

        :raises HashMismatchError, NetworkError: as :meth:`prepare`, when it must download.
        """
        if not self._modified(unpacked):
            return unpacked
        return self.prepare(dist)

    def _load(self, sha256: str) -> UnpackedWheel | None:
        dest = self.cache.bucket("wheels") / sha256
        unpacked = load_unpacked(dest)
        if unpacked is None and dest.exists():
            shutil.rmtree(dest, ignore_errors=True)
        return unpacked

    def _modified(self, unpacked: UnpackedWheel) -> bool:
        """Check an entry's files (one ``stat`` each); a changed entry is reported and
        removed, and ``True`` returned."""
        changed = verify_unpacked(unpacked)
        if not changed:
            return False
        self.reporter.warning(
            f"The cached copy of {unpacked.name} {unpacked.version} was modified after it was "
            f"unpacked ({changed[0]}{' and more' if len(changed) > 1 else ''}); "
            "restoring it from the original wheel."
        )
        shutil.rmtree(unpacked.path, ignore_errors=True)
        return True

    def prepare(self, dist: LockedDistribution) -> UnpackedWheel:
        """The unpacked wheel for one locked wheel or sdist.

        :raises HashMismatchError: when the download does not match the lock's sha256.
        :raises NetworkError: when it cannot be downloaded.
        :raises BuildError: when an sdist does not build.
        """
        if dist.url is None or dist.filename is None:
            raise InstallError(f"{dist.name} has no file to install.", hint="Run `shipyard lock`.")
        if dist.sha256 is None:
            raise HashMismatchError(
                f"The lock has no sha256 for {dist.filename}; shipyard installs only "
                "verified files.",
                context=redact_url(dist.url),
                hint="Run `shipyard lock` to record the hashes.",
            )
        if dist.is_wheel:
            found = self.cached_wheel(dist.sha256)
            if found is not None:
                return found
            archive = self._download(dist)
            try:
                return self.unpack(archive, dist.sha256)
            finally:
                shutil.rmtree(archive.parent, ignore_errors=True)
        return self._prepare_sdist(dist)

    def _download(self, dist: LockedDistribution) -> Path:
        assert dist.url is not None and dist.filename is not None
        # A directory of its own per download: another process fetching the same file
        # at the same moment must not rename over it or delete it under us.
        folder = Path(
            tempfile.mkdtemp(prefix=f"{dist.sha256}-", dir=self.cache.bucket("downloads"))
        )
        target = folder / dist.filename
        reporter: DownloadReporter = self.reporter
        reporter.download_started(dist.name, dist.size)
        self._client().download(
            dist.url,
            target,
            expected_sha256=dist.sha256,
            on_progress=lambda n: reporter.download_progress(dist.name, n),
        )
        reporter.download_finished(dist.name)
        return target

    def unpack(self, archive: Path, sha256: str) -> UnpackedWheel:
        """Unpack a verified local wheel into the cache entry for ``sha256``."""
        from shipyard.install.unpack import unpack_wheel  # reading archives: only when needed

        dest = self.cache.bucket("wheels") / sha256
        return unpack_wheel(archive, dest, expected_sha256=sha256)

    def _prepare_sdist(self, dist: LockedDistribution) -> UnpackedWheel:
        if self.build_wheel is None:
            raise InstallError(
                f"{dist.name} {dist.version} has no wheel for this environment, only a source "
                "distribution, and building is disabled.",
                hint="Allow source builds or pick a version with wheels.",
            )
        assert dist.sha256 is not None

        def build() -> Path:
            archive = self._download(dist)
            try:
                assert self.build_wheel is not None
                return self.build_wheel(archive, dist)
            finally:
                shutil.rmtree(archive.parent, ignore_errors=True)

        return self.built(dist.sha256, build, dist)

    def built(
        self, key: str, build: Callable[[], Path], dist: LockedDistribution | None = None
    ) -> UnpackedWheel:
        """The unpacked wheel built from the source ``key`` names (an sdist's sha256, a
        git commit) for this interpreter (``build_key``): from the cache when such a
        build was kept, else from the remote cache (when there is one and ``dist``, the
        locked entry, names what to expect), else ``build()`` (which returns a wheel
        path) once, kept and offered to the remote cache.

        :raises BuildError: from ``build``.
        """
        import hashlib

        from shipyard.atomic import atomic_write_text
        from shipyard.cache.stats import record

        marker = self.cache.bucket("built") / key / (self.build_key or "any") / "wheel.sha256"
        if marker.is_file():
            found = self.cached_wheel(marker.read_text().strip())
            if found is not None:
                record(self.cache, local_hits=1)
                return found
        remote = self.remote if dist is not None else None
        pulled = self._pull(remote, key, dist) if remote is not None and dist else None
        if pulled is not None:
            unpacked, digest = pulled
        else:
            started = time.perf_counter()
            wheel = build()
            seconds = time.perf_counter() - started
            record(self.cache, builds=1)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            unpacked = self.cached_wheel(digest) or self.unpack(wheel, digest)
            if remote is not None and dist is not None:
                remote.push(
                    key,
                    self.build_key or "any",
                    wheel,
                    name=dist.name,
                    version=dist.version,
                    build_seconds=seconds,
                )
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, digest, fsync=False)
        return unpacked

    def _pull(
        self, remote: RemoteWheelCache, key: str, dist: LockedDistribution
    ) -> tuple[UnpackedWheel, str] | None:
        """The remote cache's wheel for ``key``, unpacked, and its sha256; ``None`` on
        a miss or when the wheel is refused (reported through ``remote``)."""
        import hashlib

        from packaging.utils import canonicalize_name

        folder = self.cache.tempdir("remote")
        try:
            wheel = remote.pull(
                key, self.build_key or "any", name=dist.name, version=dist.version, into=folder
            )
            if wheel is None:
                return None
            why = _unexpected_wheel(wheel.name, dist)
            if why is not None:
                remote.refused(dist.name, dist.version, why)
                return None
            with wheel.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            try:
                unpacked = self.cached_wheel(digest) or self.unpack(wheel, digest)
            except (InstallError, HashMismatchError) as exc:
                remote.refused(dist.name, dist.version, exc.message)
                return None
            if canonicalize_name(unpacked.name) != canonicalize_name(dist.name) or not (
                _same_version(unpacked.version, dist.version)
            ):
                remote.refused(
                    dist.name,
                    dist.version,
                    f"its metadata says {unpacked.name} {unpacked.version}",
                )
                return None
            return unpacked, digest
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _unexpected_wheel(filename: str, dist: LockedDistribution) -> str | None:
    """Why a pulled wheel's file name does not fit the locked ``dist`` (PEP 427 name
    and version), or ``None`` when it does."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import InvalidVersion

    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return f"{filename!r} is not a wheel file name"
    if name != canonicalize_name(dist.name):
        return f"it is a wheel of {name}, not {dist.name}"
    if not _same_version(str(version), dist.version):
        return f"it is version {version}, not {dist.version}"
    return None


def _same_version(found: str, locked: str | None) -> bool:
    """Whether ``found`` is the ``locked`` version (PEP 440 equality; no locked
    version, as a git entry may have, matches anything)."""
    from packaging.version import InvalidVersion, Version

    if locked is None:
        return True
    try:
        return Version(found) == Version(locked)
    except InvalidVersion:
        return found == locked
