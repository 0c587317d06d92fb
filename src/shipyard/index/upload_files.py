"""Distribution files about to be uploaded: read, and checked before anything is sent.

Each file must be a wheel (binary distribution format, PEP 427/491) or an sdist
(PEP 625: ``{name}-{version}.tar.gz``; ``.zip`` for old ones) by its name; its core
metadata (``*.dist-info/METADATA`` in a wheel, ``{name}-{version}/PKG-INFO`` in an
sdist) must parse and validate with ``packaging.metadata`` (core metadata
specification: Name, Version, Metadata-Version, a known Description-Content-Type …);
and the name and version it states must be those of the file name. These are the
checks an index such as PyPI makes on upload, made before the first byte goes out.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from packaging.metadata import InvalidMetadata, Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = ["DistributionProblem", "UploadFile", "read_upload_file"]

#: The most bytes read from a METADATA or PKG-INFO member (a long README fits).
MAX_METADATA_BYTES = 32 * 1024 * 1024


class DistributionProblem(Exception):
    """Why one file cannot be uploaded (collected, then reported together).

    :param filename: the file's name; :param reason: a sentence without a final period.
    """

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UploadFile:
    """A distribution file whose name and metadata were checked.

    :param name: the canonical project name; :param version: as in the file name.
    :param filetype: ``"sdist"`` or ``"bdist_wheel"`` (the upload API's words).
    :param pyversion: ``"source"`` for an sdist, the wheel's Python tag(s) otherwise.
    :param metadata: the raw METADATA/PKG-INFO bytes.
    :param sha256: hex digest of the file; :param size: bytes.
    :param warnings: things an index accepts but a user should fix (no README).
    """

    path: Path
    name: str
    version: str
    filetype: str
    pyversion: str
    metadata: bytes = field(repr=False)
    sha256: str
    size: int
    warnings: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        """The file's name."""
        return self.path.name


def _parse_name(filename: str) -> tuple[str, Version, str, str]:
    """``(canonical name, version, filetype, pyversion)`` from a file name."""
    if filename.endswith(".whl"):
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise DistributionProblem(filename, f"not a valid wheel file name ({exc})") from exc
        pythons = sorted({tag.interpreter for tag in tags})
        return name, version, "bdist_wheel", ".".join(pythons)
    if filename.endswith((".tar.gz", ".zip")):
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise DistributionProblem(filename, f"not a valid sdist file name ({exc})") from exc
        return name, version, "sdist", "source"
    raise DistributionProblem(
        filename, "neither a wheel (.whl) nor an sdist (.tar.gz), so no index takes it"
    )


def _read_limited(handle: IO[bytes], filename: str, member: str) -> bytes:
    data = handle.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise DistributionProblem(filename, f"{member} is larger than 32 MiB")
    return data


def _wheel_metadata(path: Path, name: str, version: Version) -> bytes:
    filename = path.name
    with zipfile.ZipFile(path) as archive:
        candidates = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(candidates) > 1:
            wanted = [
                n
                for n in candidates
                if canonicalize_name(n.split("/")[0].rsplit("-", 1)[0]) == name
            ]
            candidates = wanted or candidates
        if len(candidates) != 1:
            found = "several" if candidates else "no"
            raise DistributionProblem(
                filename, f"the wheel has {found} *.dist-info/METADATA files at its top"
            )
        with archive.open(candidates[0]) as handle:
            return _read_limited(handle, filename, candidates[0])


def _sdist_metadata(path: Path) -> bytes:
    filename = path.name
    if filename.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            if len(names) != 1:
                raise DistributionProblem(filename, "the sdist has no {name}-{version}/PKG-INFO")
            with archive.open(names[0]) as handle:
                return _read_limited(handle, filename, names[0])
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            parts = member.name.strip("/").split("/")
            if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is None:
                    break
                with extracted:
                    return _read_limited(extracted, filename, member.name)
    raise DistributionProblem(filename, "the sdist has no {name}-{version}/PKG-INFO")


def _problems(errors: BaseExceptionGroup[Exception]) -> list[str]:
    found: list[str] = []
    for error in errors.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_problems(error))
        elif isinstance(error, InvalidMetadata):
            found.append(f"{error.field}: {error}")
        else:
            found.append(str(error))
    return found


def _check_metadata(filename: str, data: bytes, name: str, version: Version) -> Metadata:
    try:
        metadata = Metadata.from_email(data, validate=True)
    except ExceptionGroup as group:
        listed = "; ".join(_problems(group))
        raise DistributionProblem(filename, f"its metadata is invalid ({listed})") from group
    except (ValueError, UnicodeError) as exc:
        raise DistributionProblem(filename, f"its metadata cannot be read ({exc})") from exc
    if canonicalize_name(metadata.name) != name:
        raise DistributionProblem(
            filename, f"its metadata names the project {metadata.name!r}, the file name {name!r}"
        )
    if metadata.version != version:
        raise DistributionProblem(
            filename, f"its metadata says version {metadata.version}, the file name {version}"
        )
    return metadata


def _warnings(metadata: Metadata) -> tuple[str, ...]:
    found = []
    if not (metadata.description or "").strip():
        found.append(
            "it has no long description, so the index's project page will be empty "
            '(set readme = "README.md" in [project])'
        )
    elif metadata.description_content_type is None:
        found.append(
            "its long description has no content type, so indexes render it as "
            "reStructuredText (set readme in [project] to a .md or .rst file)"
        )
    return tuple(found)


def read_upload_file(path: Path) -> UploadFile:
    """Read and check one distribution file for upload.

    :param path: a wheel or sdist on disk.
    :raises DistributionProblem: when the file name is not a wheel's or an sdist's, the
        archive cannot be read, the metadata is missing or invalid, or it disagrees with
        the file name.
    """
    filename = path.name
    name, version, filetype, pyversion = _parse_name(filename)
    try:
        if filetype == "bdist_wheel":
            data = _wheel_metadata(path, name, version)
        else:
            data = _sdist_metadata(path)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DistributionProblem(filename, f"the archive cannot be read ({exc})") from exc
    except OSError as exc:
        raise DistributionProblem(filename, f"cannot be read ({exc.strerror or exc})") from exc
    metadata = _check_metadata(filename, data, name, version)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise DistributionProblem(filename, f"cannot be read ({exc.strerror or exc})") from exc
    return UploadFile(
        path=path,
        name=name,
        version=str(version),
        filetype=filetype,
        pyversion=pyversion,
        metadata=data,
        sha256=digest.hexdigest(),
        size=size,
        warnings=_warnings(metadata),
    )
