"""Conda prefixes: install the lock's conda records, and read what a prefix holds.

A project with conda dependencies keeps its environment at ``.venv`` as a conda
prefix (``conda-meta/`` instead of ``pyvenv.cfg``). :func:`install_records`
makes the prefix's conda packages exactly the given records with py-rattler
(its package cache, hard links, prefix-placeholder rewriting, ``noarch:
python`` linking) and leaves files conda does not own — the PyPI packages
shipyard installs next — alone. Packages' post-link and pre-unlink scripts are not
run (:func:`post_link_scripts` says why); the reporter is warned about each package
that has a post-link script.

Every package is put into py-rattler's package cache by shipyard first
(:func:`_stage_package`): the file is checked against the lock's sha256 (py-rattler
checks downloads, but not files it reads from a ``file://`` channel), then as an
archive (:mod:`shipyard.conda.archive`: py-rattler trusts ``info/paths.json``, whose
``..`` paths link and delete files outside the prefix), and only then unpacked by
py-rattler and renamed into the cache, with a ``<dist>.shipyard-checked`` marker
holding its sha256. Entries already in the cache without the marker are checked in
place. ``rattler.install`` then finds every package in its cache.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from shipyard.conda.config import CondaConfig
from shipyard.conda.records import CondaRecord
from shipyard.errors import HashMismatchError, InstallError, NetworkError, ShipyardError
from shipyard.reporting import Reporter

if TYPE_CHECKING:
    from shipyard.cache.remote_blobs import RemoteBlobCache

__all__ = ["install_records", "installed_dists", "is_conda_prefix", "post_link_scripts"]


def is_conda_prefix(path: Path) -> bool:
    """Whether ``path`` is a conda prefix (has a ``conda-meta`` directory)."""
    return (path / "conda-meta").is_dir()


def installed_dists(prefix: Path) -> set[str]:
    """``name-version-build`` of every conda package installed in ``prefix`` (from the
    file names in ``conda-meta``; nothing is parsed)."""
    meta = prefix / "conda-meta"
    try:
        return {n[: -len(".json")] for n in os.listdir(meta) if n.endswith(".json")}
    except OSError:
        return set()


def _local(record: CondaRecord) -> Path | None:
    parts = urlsplit(record.url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _stage_package(record: CondaRecord, cache_dir: Path, downloaded: Path | None) -> None:
    """Make ``cache_dir/<dist>`` a checked, unpacked copy of ``record``'s file.

    :param downloaded: the file fetched by :func:`_download_all`; ``None`` for a
        ``file://`` record (read in place) or an entry already in the cache.

    :raises HashMismatchError: when the file differs from the lock's sha256.
    :raises UnsafeArchiveError: when the package is refused (nothing unpacked).
    :raises NetworkError, InstallError: when it cannot be fetched or unpacked.
    """
    from shipyard.atomic import atomic_write_text
    from shipyard.conda.archive import check_conda_package, check_extracted_package

    entry = cache_dir / record.dist
    marker = cache_dir / f"{record.dist}.shipyard-checked"
    try:
        checked = marker.read_text().strip() == record.sha256
    except OSError:
        checked = False
    if entry.is_dir():
        if checked:
            return
        check_extracted_package(entry)  # unpacked by py-rattler or an older shipyard
        atomic_write_text(marker, record.sha256, fsync=False)
        return
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix=f".{record.dist}-", dir=cache_dir))
    try:
        archive = _local(record) or downloaded
        if archive is None:
            raise InstallError(f"{record.file_name} was not downloaded.", context=record.url)
        try:
            digest = _sha256_of(archive)
        except OSError as exc:
            raise InstallError(
                f"Cannot read the conda package {record.file_name}: {exc.strerror or exc}.",
                context=record.url,
                hint="Check that the local channel still exists, or run `shipyard lock --upgrade`.",
            ) from exc
        if digest != record.sha256:
            raise HashMismatchError(
                f"The conda package {record.file_name} does not match the lock's sha256 "
                f"(expected {record.sha256}, got {digest}); nothing was installed.",
                context=record.url,
                hint="Someone changed the file in the channel. If that was intended, run "
                "`shipyard lock --upgrade` to record the new one.",
            )
        check_conda_package(archive)
        from rattler.package_streaming import extract

        unpacked = scratch / "unpacked"
        try:
            extract(archive, unpacked)
        except Exception as exc:
            raise InstallError(
                f"Could not unpack the conda package {record.file_name}: {exc}.",
                context=record.url,
            ) from exc
        try:
            os.rename(unpacked, entry)
        except OSError:
            if not entry.is_dir():  # another process put its own there first: use that
                raise
        atomic_write_text(marker, record.sha256, fsync=False)
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def _download_all(
    records: Sequence[CondaRecord], folder: Path, config: CondaConfig | None
) -> dict[str, Path]:
    """Fetch every record's file into ``folder`` at once (eight at a time) with one
    py-rattler client (the manifest's mirrors, conda's stored credentials, retries).

    :returns: dist -> downloaded file.
    :raises NetworkError: naming the first package that could not be fetched.
    """
    if not records:
        return {}
    import asyncio

    from rattler import Client
    from rattler.package_streaming import download_to_path

    from shipyard.conda.solve import make_client, run_async

    client = make_client(config) if config is not None else Client.default_client()
    paths = {r.dist: folder / r.file_name for r in records}

    async def fetch_all() -> list[BaseException | None]:
        slots = asyncio.Semaphore(8)

        async def fetch(record: CondaRecord) -> None:
            async with slots:
                await download_to_path(client, record.url, paths[record.dist])

        return await asyncio.gather(*(fetch(r) for r in records), return_exceptions=True)

    for record, outcome in zip(records, run_async(fetch_all), strict=True):
        if isinstance(outcome, BaseException):
            raise NetworkError(
                f"Could not download the conda package {record.file_name}: {outcome}.",
                url=record.url,
                hint="Check the channel URL and your network, or use --offline with a "
                "filled cache.",
            ) from outcome
    return paths


def _label(record: CondaRecord) -> str:
    return f"the conda package {record.file_name}"


def _pull_remote(
    records: Sequence[CondaRecord], folder: Path, remote: RemoteBlobCache | None
) -> dict[str, Path]:
    """The records' files the remote cache has, fetched into ``folder`` and checked
    against the lock's sha256 (dist -> file); empty without a remote cache."""
    pulled: dict[str, Path] = {}
    if remote is None:
        return pulled
    for record in records:
        path = remote.pull_blob(
            record.sha256, filename=record.file_name, label=_label(record), into=folder
        )
        if path is not None:
            pulled[record.dist] = path
    return pulled


def install_records(
    records: Sequence[CondaRecord],
    prefix: Path,
    *,
    config: CondaConfig | None,
    cache_dir: Path,
    requested: Sequence[str] = (),
    offline: bool = False,
    platform: str | None = None,
    used_at: str | None = None,
    reporter: Reporter | None = None,
    remote: RemoteBlobCache | None = None,
) -> bool:
    """Make the conda packages of ``prefix`` exactly ``records``.

    Returns at once, without loading py-rattler, when ``conda-meta`` already lists
    exactly these builds.

    :param records: the complete set for this platform (anything else conda installed
        there is removed).
    :param config: the manifest's conda table, for mirrors; ``None`` for none.
    :param cache_dir: py-rattler's package cache (a shipyard cache bucket).
    :param requested: the MatchSpecs the user asked for, recorded in ``conda-meta``.
    :param offline: use the package cache only (an error names what it lacks).
    :param platform: the conda subdir the records are for (default: this machine's),
        e.g. ``linux-aarch64`` for an image; nothing of it is run.
    :param used_at: the path the prefix will live at when that differs from where it
        is made (an image's ``/app/.venv``): written into files with prefix
        placeholders and scripts' shebangs instead of ``prefix``.
    :param reporter: warned about the post-link scripts of the packages installed,
        which shipyard does not run (:func:`post_link_scripts`).
    :param remote: the team cache of archives (``remote-cache-include =
        ["conda-packages"]``), or ``None``: asked by the lock's sha256 for each package
        the package cache lacks before the channel is, and offered each package
        downloaded from the channel once it is checked.
    :returns: whether anything changed.
    :raises HashMismatchError: when a local package file differs from the lock.
    :raises NetworkError: when a package cannot be downloaded, or is not in the cache
        while ``offline``.
    :raises InstallError: when py-rattler cannot install.
    """
    wanted = {r.dist for r in records}
    before = installed_dists(prefix) if is_conda_prefix(prefix) else set()
    if is_conda_prefix(prefix) and before == wanted:
        return False
    if offline:
        missing = [
            r.dist for r in records if not (cache_dir / r.dist).is_dir() and _local(r) is None
        ]
        if missing:
            raise NetworkError(
                f"Offline, and the package cache lacks these conda packages: "
                f"{', '.join(sorted(missing))}.",
                url=", ".join(sorted({r.channel for r in records})),
                hint="Sync once with the network to fill the cache, then --offline works.",
            )
    cache_dir.mkdir(parents=True, exist_ok=True)
    import shutil
    import tempfile

    fetch = [r for r in records if _local(r) is None and not (cache_dir / r.dist).is_dir()]
    folder = Path(tempfile.mkdtemp(prefix=".downloads-", dir=cache_dir))
    try:
        pulled = _pull_remote(fetch, folder, remote)
        downloaded = _download_all([r for r in fetch if r.dist not in pulled], folder, config)
        for record in records:
            _stage_package(
                record, cache_dir, pulled.get(record.dist) or downloaded.get(record.dist)
            )
        if remote is not None:
            for record in fetch:
                if record.dist in downloaded:
                    remote.push_blob(downloaded[record.dist], record.sha256, label=_label(record))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    from rattler import MatchSpec, Subdir, install

    from shipyard.conda.solve import make_client, run_async

    client = make_client(config) if config is not None else None
    specs = []
    for text in requested:
        try:
            specs.append(MatchSpec(text)._match_spec)
        except Exception:  # an invalid spec was already refused by the solve
            continue
    rattler_records = [r.to_rattler() for r in records]
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        run_async(
            lambda: install(
                rattler_records,
                prefix,
                cache_dir=cache_dir,
                show_progress=False,
                client=client,
                requested_specs=specs or None,
                platform=Subdir(platform) if platform else None,
                alternative_target_prefix=used_at,
            )
        )
    except ShipyardError:
        raise
    except Exception as exc:
        raise _install_error(exc, records, prefix) from exc
    _readable_conda_meta(prefix)
    if reporter is not None:
        added = [r for r in records if r.dist not in before]
        for record, script in post_link_scripts(added, cache_dir, platform=platform):
            reporter.warning(
                f"The conda package {record.dist} has a post-link script ({script}), which "
                "conda runs after installing it; shipyard does not run post-link scripts, "
                "so what it does (often only a message, sometimes setting up files in the "
                "environment) has not happened. If the package needs it, run it yourself "
                "with PREFIX set to the environment, or ask its maintainers to do that work "
                "in an activate.d script."
            )
    return True


def post_link_scripts(
    records: Sequence[CondaRecord], cache_dir: Path, *, platform: str | None = None
) -> list[tuple[CondaRecord, str]]:
    """The post-link scripts of ``records`` (conda's ``bin/.<name>-post-link.sh``,
    ``Scripts/.<name>-post-link.bat`` for Windows), found in py-rattler's package cache
    ``cache_dir`` where they were unpacked.

    shipyard never runs them (nor pre-unlink scripts): they are arbitrary code run at
    install time outside the lock's control, their changes to the prefix are recorded
    nowhere (``sync`` could not make the environment match the lock, nor an image match
    the project), and a prefix made for another platform or path cannot run them at
    all. py-rattler leaves them unrun by default for the same reasons.

    :param platform: the conda subdir the records are for (default: this machine's).
    :returns: (record, the script's path inside the package) for each one found.
    """
    windows = (platform or ("win-64" if os.name == "nt" else "")).startswith("win-")
    found = []
    for record in records:
        script = (
            f"Scripts/.{record.name}-post-link.bat"
            if windows
            else f"bin/.{record.name}-post-link.sh"
        )
        if (cache_dir / record.dist / script).is_file():
            found.append((record, script))
    return found


def _readable_conda_meta(prefix: Path) -> None:
    """py-rattler writes ``conda-meta/*.json`` with mode 0600; conda writes them
    readable (0644 under the usual umask), and other users of the prefix (a container's
    app user, conda itself run by someone else) need to read them."""
    for entry in (prefix / "conda-meta").glob("*.json"):
        try:
            mode = entry.stat().st_mode & 0o777
            if mode & 0o044 != 0o044:
                entry.chmod(mode | 0o044)
        except OSError:
            continue


def _install_error(
    exc: BaseException, records: Sequence[CondaRecord], prefix: Path
) -> ShipyardError:
    """A py-rattler install failure as a shipyard error."""
    full = str(exc).strip()
    text = full.splitlines()[0] if full else type(exc).__name__
    mismatch = next((line for line in full.splitlines() if "hash mismatch" in line.lower()), None)
    if mismatch is not None:
        return HashMismatchError(
            "A downloaded conda package does not match the lock's sha256 "
            f"({text.rstrip('.')}: {mismatch.strip().rstrip('.')}); nothing of it was installed.",
            context=str(prefix),
            hint="The channel changed a published file; run `shipyard lock --upgrade`.",
        )
    if any(word in text.lower() for word in ("connect", "dns", "timed out", "http")):
        return NetworkError(
            f"Could not download conda packages: {text}.",
            url=", ".join(sorted({r.channel for r in records})),
            hint="Check your network or the channel mirrors, or sync with --offline "
            "once the package cache has them.",
        )
    return InstallError(
        f"Could not install the conda packages into {prefix}: {text}.",
        context=str(prefix),
        hint="Remove .venv and sync again; if it persists, run with -v and report it.",
    )
