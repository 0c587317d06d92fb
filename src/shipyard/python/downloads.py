"""Managed CPython builds: which ones can be downloaded, and installing them.

The builds are python-build-standalone's ``install_only`` archives (relocatable
CPython in ``python/``). Which versions exist, with their URLs and sha256, comes
from the table ``pbs-installer`` ships (its ``versions.json``); shipyard downloads
with its own HTTP client (retries, ``--offline``), checks the digest, and unpacks
into :func:`~shipyard.python.discovery.managed_python_dir`:

* the archive is unpacked into a hidden ``.tmp-*`` directory beside the final one
  and renamed into place only when complete, so an install that fails or is killed
  leaves nothing that discovery would find (hidden entries are never searched);
* unsafe archive members (absolute paths, ``..``, links leaving the tree, devices)
  are refused (``tarfile``'s ``data`` filter);
* ``SHIPYARD_PYTHON_MIRROR`` replaces the GitHub release-download prefix, keeping
  ``/<release>/<file>`` (the layout uv's ``UV_PYTHON_INSTALL_MIRROR`` uses).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet

from shipyard.errors import (
    HashMismatchError,
    InstallError,
    InterpreterNotFoundError,
    NetworkError,
    UsageError,
)

if TYPE_CHECKING:
    from shipyard.cache.remote_blobs import RemoteBlobCache
    from shipyard.index.http import HttpClient
    from shipyard.reporting import DownloadReporter

__all__ = [
    "DEFAULT_RELEASES_URL",
    "PythonDownload",
    "available_downloads",
    "download_and_install",
    "find_download",
    "host_platform",
    "install_archive",
    "installed_managed",
    "uninstall_managed",
]

#: The prefix a mirror replaces.
DEFAULT_RELEASES_URL = "https://github.com/astral-sh/python-build-standalone/releases/download"
_OLD_RELEASES_URL = "https://github.com/indygreg/python-build-standalone/releases/download"
_ARCHIVE_NAME = re.compile(
    r"^cpython-(?P<version>\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)(?P<ft>\+freethreaded)?"
    r"\+(?P<release>\d+)-(?P<triple>[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(?:-(?!freethreaded)[a-z0-9_]+)?)"
    r"(?P<ft2>-freethreaded(?:\+[a-z0-9+]+)?)?-install_only(?:_stripped)?\.tar\.gz$"
)
#: ``platform_machine`` values → python-build-standalone's architecture names.
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
_PLATFORM = {"linux": "linux", "darwin": "macos", "win32": "windows"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonDownload:
    """One downloadable CPython build.

    :param version: ``"3.12.1"``; :param free_threaded: a ``Py_GIL_DISABLED`` build.
    :param platform: ``linux``, ``macos`` or ``windows``; :param arch: ``x86_64``/``aarch64``.
    :param url: where it is published; :param sha256: its digest (hex), when known.
    :param filename: the archive's name (``cpython-3.12.1+20240107-…-install_only.tar.gz``).
    """

    version: str
    free_threaded: bool
    platform: str
    arch: str
    url: str
    sha256: str | None
    filename: str

    @property
    def key(self) -> str:
        """``cpython-3.12.1-linux-x86_64`` (``+freethreaded`` after the version): the
        name of its install directory and of its line in ``python list``."""
        version = self.version + ("+freethreaded" if self.free_threaded else "")
        return f"cpython-{version}-{self.platform}-{self.arch}"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """``(3, 12, 1)``; a pre-release sorts below its final release."""
        parts = re.match(r"(\d+)\.(\d+)\.(\d+)", self.version)
        assert parts is not None
        final = 1 if re.fullmatch(r"\d+\.\d+\.\d+", self.version) else 0
        return (*(int(p) for p in parts.groups()), final)

    def mirrored(self, mirror: str | None) -> str:
        """The URL to fetch, with ``mirror`` in place of the release-download prefix."""
        if not mirror:
            return self.url
        for prefix in (DEFAULT_RELEASES_URL, _OLD_RELEASES_URL):
            if self.url.startswith(prefix + "/"):
                return mirror.rstrip("/") + self.url[len(prefix) :]
        return f"{mirror.rstrip('/')}/{urllib.parse.quote(self.filename)}"


def host_platform(markers: dict[str, str] | None = None) -> tuple[str, str]:
    """``(platform, arch)`` in python-build-standalone's terms for this machine (or for
    a marker environment)."""
    import platform as _platform
    import sys

    system = (markers or {}).get("sys_platform", sys.platform)
    machine = (markers or {}).get("platform_machine", _platform.machine())
    return _PLATFORM.get(system, system), _ARCH.get(machine.lower(), machine.lower())


def _table() -> list[dict[str, Any]]:
    """The builds on offer: ``SHIPYARD_PYTHON_DOWNLOADS_JSON`` (see
    :mod:`shipyard.settings`) when set, else the table pbs-installer ships.

    :raises UsageError: when the configured file is missing or not such a table.
    """
    from importlib import resources

    from shipyard.settings import from_environment

    configured = from_environment("python_downloads_json")
    try:
        if configured:
            text = Path(configured).expanduser().read_text("utf-8")
        else:
            text = resources.files("pbs_installer").joinpath("versions.json").read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"Cannot read the list of Python downloads {configured or 'of pbs-installer'}: {exc}.",
            hint="Point SHIPYARD_PYTHON_DOWNLOADS_JSON at a versions.json file, or unset it.",
        ) from exc
    if not isinstance(data, list):
        raise UsageError(
            f"{configured} is not a list of versions (pbs-installer's versions.json format).",
            hint="Point SHIPYARD_PYTHON_DOWNLOADS_JSON at a versions.json file, or unset it.",
        )
    return data


def available_downloads(
    *, platform: str | None = None, arch: str | None = None
) -> list[PythonDownload]:
    """Every CPython build published for ``platform``/``arch`` (default: this machine),
    newest first. Linux builds are the glibc ones; builds the table gives no sha256
    for are left out.

    :returns: one :class:`PythonDownload` per version and threading model.
    """
    host = host_platform()
    platform, arch = platform or host[0], arch or host[1]
    found: dict[str, PythonDownload] = {}
    for entry in _table():
        version = entry.get("python_version", {})
        if version.get("implementation") != "cpython":
            continue
        for file in entry.get("files", []):
            name = str(file.get("filename", ""))
            if (
                not file.get("install_only")
                or file.get("platform") != platform
                or file.get("arch") != arch
                or not name.endswith(".tar.gz")
                or "musl" in name
                or not file.get("sha256")  # a few 2021 builds: nobody vouches for their bytes
            ):
                continue
            download = PythonDownload(
                version=f"{version['major']}.{version['minor']}.{version['micro']}",
                free_threaded=bool(version.get("freethreaded")),
                platform=platform,
                arch=arch,
                url=str(file["url"]),
                sha256=file.get("sha256"),
                filename=name,
            )
            # prefer the stripped build (no debug symbols: a third of the size)
            if download.key not in found or "stripped" in name:
                found[download.key] = download
    return sorted(
        found.values(), key=lambda d: (d.version_tuple, not d.free_threaded), reverse=True
    )


def find_download(
    request: Any,
    *,
    requires_python: SpecifierSet | None = None,
    platform: str | None = None,
    arch: str | None = None,
) -> PythonDownload:
    """The newest download that fits ``request`` (a
    :class:`~shipyard.python.discovery.PythonRequest`) and ``requires_python``.

    :raises InterpreterNotFoundError: when no published build fits; the message names
        the versions there are.
    """
    if request.path is not None or request.implementation not in (None, "cpython"):
        raise InterpreterNotFoundError(
            f"Only CPython versions can be downloaded, not {request.describe()}.",
            hint="Ask for a version such as 3.12 or 3.13t.",
        )
    downloads = available_downloads(platform=platform, arch=arch)
    for download in downloads:
        if request.satisfied_by_version(
            download.version, free_threaded=download.free_threaded
        ) and (requires_python is None or requires_python.contains(download.version)):
            return download
    minors = sorted(
        {".".join(d.version.split(".")[:2]) for d in downloads},
        key=lambda text: tuple(int(p) for p in text.split(".")),
    )
    raise InterpreterNotFoundError(
        f"No CPython build to download fits {request.describe()}; there are "
        f"{', '.join(minors) or 'none for this platform'}.",
        hint="Ask for one of those versions, or install one yourself and pass --python.",
    )


def _archive_facts(filename: str) -> tuple[str, bool, str]:
    """``(version, free_threaded, triple)`` from a python-build-standalone archive name."""
    match = _ARCHIVE_NAME.match(filename)
    if match is None:
        raise UsageError(
            f"{filename} is not named like a python-build-standalone install_only archive "
            "(cpython-3.12.1+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz).",
            hint="Pass the archive under its published name.",
        )
    free_threaded = bool(match.group("ft") or match.group("ft2"))
    return match.group("version"), free_threaded, match.group("triple")


def _known_digest(filename: str) -> str | None:
    """The published sha256 of an archive of this name, if the table has it."""
    for entry in _table():
        for file in entry.get("files", []):
            if file.get("filename") == filename and file.get("sha256"):
                return str(file["sha256"])
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install_archive(
    archive: Path,
    *,
    install_dir: Path,
    key: str | None = None,
    expected_sha256: str | None = None,
    filename: str | None = None,
) -> Path:
    """Unpack a python-build-standalone ``install_only`` archive as a managed interpreter.

    :param archive: the downloaded (or given) ``.tar.gz``.
    :param install_dir: the managed-interpreters directory (created when missing).
    :param key: the install directory's name; default: from the archive's name and
        this machine's platform (:attr:`PythonDownload.key`).
    :param expected_sha256: when given (or published for ``filename``), a different
        digest refuses the archive before anything is unpacked.
    :param filename: the archive's published name when ``archive`` is a temporary file.
    :returns: the installed interpreter (``<install_dir>/<key>/bin/python3``).
    :raises HashMismatchError: when the digest differs.
    :raises InstallError: for an unsafe or malformed archive, or a failed write;
        nothing is left behind.
    """
    from filelock import FileLock

    name = filename or archive.name
    if not archive.is_file():
        raise UsageError(f"{archive}: no such file.", hint="Give the path of a downloaded archive.")
    version, free_threaded, triple = _archive_facts(name)
    expected = expected_sha256 or _known_digest(name)
    if expected is not None:
        actual = _sha256(archive)
        if actual != expected:
            raise HashMismatchError(
                f"{name} has sha256 {actual}, but its published digest is {expected}; it "
                "was not installed.",
                context=str(archive),
                hint="The file was changed or damaged on the way: download it again from "
                "a source you trust.",
            )
    if key is None:
        machine, _vendor, system = triple.split("-")[:3]
        platform = {"linux": "linux", "darwin": "macos", "windows": "windows"}.get(system, system)
        arch = _ARCH.get(machine, machine)
        if (platform, arch) != host_platform():
            raise InstallError(
                f"{name} is built for {platform} {arch}; this machine is "
                f"{' '.join(host_platform())}.",
                context=str(archive),
                hint="Use the archive built for this machine.",
            )
        version_text = version + ("+freethreaded" if free_threaded else "")
        key = f"cpython-{version_text}-{platform}-{arch}"
    _make_install_dir(install_dir)
    final = install_dir / key
    with FileLock(str(install_dir / f".{key}.lock")):
        if _interpreter(final) is not None:
            return _interpreter(final)  # type: ignore[return-value]
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=install_dir))
        try:
            _unpack(archive, staging, name)
            found = _interpreter(staging / "python")
            if found is None:
                raise InstallError(
                    f"{name} has no python/bin/python3 (or python/python.exe): it is not an "
                    "install_only build.",
                    context=str(archive),
                    hint="Use an archive whose name ends in install_only.tar.gz.",
                )
            if final.exists():
                shutil.rmtree(final)  # a broken earlier install
            os.replace(staging / "python", final)
        except OSError as exc:
            raise InstallError(
                f"Could not install {name} into {install_dir}: {exc.strerror or exc}.",
                context=str(final),
                hint="Check the directory is writable and has room "
                "(SHIPYARD_PYTHON_INSTALL_DIR chooses another).",
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    installed = _interpreter(final)
    assert installed is not None
    return installed


def _make_install_dir(install_dir: Path) -> None:
    try:
        install_dir.mkdir(parents=True, exist_ok=True)
        probe = install_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise InstallError(
            f"Cannot write to the managed-interpreters directory {install_dir}: "
            f"{exc.strerror or exc}.",
            context=str(install_dir),
            hint="Set SHIPYARD_PYTHON_INSTALL_DIR to a directory you can write to.",
        ) from exc


def _unpack(archive: Path, destination: Path, name: str) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            if not members or any(
                not (m.name == "python" or m.name.startswith("python/")) for m in members
            ):
                raise InstallError(
                    f"{name} does not hold a single python/ directory, as install_only builds do.",
                    hint="Use a python-build-standalone install_only archive.",
                )
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise InstallError(
            f"{name} cannot be unpacked safely: {exc}.",
            hint="The archive is damaged or holds unsafe paths; it was not installed.",
        ) from exc


def _interpreter(prefix: Path) -> Path | None:
    for relative in ("bin/python3", "python.exe"):
        candidate = prefix / relative
        if candidate.is_file() or candidate.is_symlink():
            return candidate
    return None


def installed_managed(install_dir: Path) -> list[Path]:
    """The managed install directories (hidden staging directories excluded)."""
    try:
        return sorted(p for p in install_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def uninstall_managed(directory: Path) -> None:
    """Remove one managed interpreter: renamed aside first, so discovery never sees a
    half-removed one, then deleted.

    :raises InstallError: when it cannot be removed.
    """
    aside = directory.with_name(f".tmp-removing-{directory.name}")
    try:
        os.replace(directory, aside)
        shutil.rmtree(aside)
    except OSError as exc:
        raise InstallError(
            f"Could not remove {directory}: {exc.strerror or exc}.",
            hint="Check the permissions of the managed-interpreters directory.",
        ) from exc


def _download_error(
    exc: NetworkError, download: PythonDownload, mirror: str | None, *, offline: bool
) -> NetworkError:
    """``exc`` reworded for an interpreter download: what was being fetched, from where,
    and the setting that changes where (never the package index's)."""
    what = f"Could not download Python {download.version} (a python-build-standalone build)"
    setting = "SHIPYARD_PYTHON_MIRROR, --mirror or python-mirror in [tool.shipyard]"
    if offline:
        hint = (
            "Run without --offline, or install an archive you have with "
            "`shipyard python install --from FILE`."
        )
    elif mirror:
        hint = (
            f"The Python download mirror {mirror} could not be used (it is set by {setting}): "
            "check that it is up and serves python-build-standalone's releases as "
            "<mirror>/<release>/<file>, or unset it to download from GitHub."
        )
    else:
        hint = (
            "Interpreters are downloaded from python-build-standalone's GitHub releases. "
            "If GitHub is out of reach from here, point SHIPYARD_PYTHON_MIRROR (or --mirror, "
            "or python-mirror in [tool.shipyard]) at a mirror of them, or install an "
            "archive with `shipyard python install --from FILE`."
        )
    return NetworkError(f"{what}: {exc.message}", url=exc.url, status=exc.status, hint=hint)


def download_and_install(
    download: PythonDownload,
    *,
    client: HttpClient,
    install_dir: Path,
    mirror: str | None = None,
    reporter: DownloadReporter | None = None,
    remote: RemoteBlobCache | None = None,
) -> Path:
    """Fetch ``download`` (from ``mirror`` when given), check its sha256, install it.

    :param remote: the team cache of archives (``remote-cache-include =
        ["interpreters"]``), or ``None``: asked first for the archive by its published
        sha256 (what it hands over is checked against it), and offered the archive after
        a download from the origin. Builds without a published sha256 skip it.
    :returns: the installed interpreter's path.
    :raises NetworkError: when the archive cannot be fetched: the URL is named, and the
        hint says the builds come from python-build-standalone and how to point shipyard
        at a mirror (the client's hint is about package indexes).
    :raises HashMismatchError: when its digest differs from the published one.
    :raises InstallError: as :func:`install_archive`.
    """
    existing = _interpreter(install_dir / download.key)
    if existing is not None:
        return existing
    _make_install_dir(install_dir)
    if download.sha256 is None:
        remote = None
    label = f"Python {download.version}"
    with tempfile.TemporaryDirectory(prefix=".tmp-download-", dir=install_dir) as folder:
        target = Path(folder) / download.filename
        pulled = (
            remote.pull_blob(
                str(download.sha256), filename=download.filename, label=label, into=Path(folder)
            )
            if remote is not None
            else None
        )
        if pulled is None:
            _fetch(download, target, client=client, mirror=mirror, reporter=reporter)
        installed = install_archive(
            target,
            install_dir=install_dir,
            key=download.key,
            expected_sha256=download.sha256,
            filename=download.filename,
        )
        if remote is not None and pulled is None:
            remote.push_blob(target, str(download.sha256), label=label)
        return installed


def _fetch(
    download: PythonDownload,
    target: Path,
    *,
    client: HttpClient,
    mirror: str | None,
    reporter: DownloadReporter | None,
) -> None:
    """Download ``download``'s archive from its origin (or ``mirror``) to ``target``.

    :raises NetworkError: as :func:`download_and_install`.
    :raises HashMismatchError: when its digest differs from the published one.
    """
    if reporter is not None:
        reporter.download_started(download.key, None)
    try:
        client.download(
            download.mirrored(mirror),
            target,
            expected_sha256=download.sha256,
            on_progress=(lambda n: reporter.download_progress(download.key, n))
            if reporter is not None
            else None,
        )
    except NetworkError as exc:
        raise _download_error(exc, download, mirror, offline=client.offline) from exc
    if reporter is not None:
        reporter.download_finished(download.key)
