"""Conda package records as the lock stores them, and their py-rattler counterparts.

A :class:`CondaRecord` holds what installing a conda package needs without
solving again (the repodata fields of the chosen build plus where it came
from). ``pylock.toml`` keeps them under ``[[tool.shipyard.conda.packages]]``,
one table per distinct file, with the platforms (conda subdirs) it serves::

    [[tool.shipyard.conda.packages]]
    name = "libfoo"
    version = "1.2"
    build = "h1234_0"
    build-number = 0
    subdir = "linux-64"
    channel = "https://conda.anaconda.org/conda-forge"
    url = "https://conda.anaconda.org/conda-forge/linux-64/libfoo-1.2-h1234_0.conda"
    sha256 = "…"
    md5 = "…"
    size = 12345
    depends = ["libzlib >=1.3"]
    platforms = ["linux-64"]

Conversion to and from ``rattler.RepoDataRecord`` imports py-rattler lazily, so
reading a lock never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from shipyard.errors import LockError

if TYPE_CHECKING:
    from rattler import RepoDataRecord

__all__ = ["CondaRecord", "platform_records", "records_from_lock", "records_to_lock"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaRecord:
    """One conda package file chosen by a solve (the conda repodata record).

    :param name: the package name (conda's normalized, lower-case form).
    :param version: conda version text, e.g. ``"3.12.7"``.
    :param build: build string, e.g. ``"h1234_0_cpython"``.
    :param build_number: the build number.
    :param subdir: the channel subdir the file is in (``noarch`` or a platform).
    :param channel: the channel's base URL (no trailing ``/``).
    :param url: the file's URL.
    :param sha256: hex sha256 of the file; :param md5: hex md5 of the file.
    :param size: the file's size in bytes, when the repodata gave it.
    :param depends: the record's dependency MatchSpecs; :param constrains: its run constraints.
    :param noarch: ``"python"`` or ``"generic"`` for noarch packages, else ``None``.
    :param timestamp: the build time in milliseconds since the epoch, when known.
    :param track_features: features that deprioritize this build (kept for re-solves).
    :param license: the package's license, when the repodata gave it.
    """

    name: str
    version: str
    build: str
    build_number: int
    subdir: str
    channel: str
    url: str
    sha256: str
    md5: str | None = None
    size: int | None = None
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    noarch: str | None = None
    timestamp: int | None = None
    track_features: tuple[str, ...] = ()
    license: str | None = None
    platforms: tuple[str, ...] = field(default=(), compare=False)

    @property
    def file_name(self) -> str:
        """The archive's file name (the last part of :attr:`url`)."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dist(self) -> str:
        """``name-version-build``, conda's name for one build."""
        return f"{self.name}-{self.version}-{self.build}"

    def to_table(self) -> dict[str, Any]:
        """The lock table for this record (keys in a stable order, empty ones left out)."""
        table: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "build-number": self.build_number,
            "subdir": self.subdir,
        }
        if self.noarch:
            table["noarch"] = self.noarch
        table["channel"] = self.channel
        table["url"] = self.url
        table["sha256"] = self.sha256
        if self.md5:
            table["md5"] = self.md5
        if self.size is not None:
            table["size"] = self.size
        if self.depends:
            table["depends"] = list(self.depends)
        if self.constrains:
            table["constrains"] = list(self.constrains)
        if self.track_features:
            table["track-features"] = list(self.track_features)
        if self.timestamp is not None:
            table["timestamp"] = self.timestamp
        if self.license:
            table["license"] = self.license
        table["platforms"] = list(self.platforms)
        return table

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "pylock.toml") -> CondaRecord:
        """Read one ``[[tool.shipyard.conda.packages]]`` table.

        :raises LockError: when a required key is missing or has the wrong type.
        """
        try:
            strings = ("name", "version", "build", "subdir", "channel", "url", "sha256")
            for key in strings:
                if not isinstance(table[key], str):
                    raise TypeError(key)
            return cls(
                name=table["name"],
                version=table["version"],
                build=table["build"],
                build_number=int(table.get("build-number", 0)),
                subdir=table["subdir"],
                channel=table["channel"],
                url=table["url"],
                sha256=table["sha256"],
                md5=_optional_str(table.get("md5")),
                size=int(table["size"]) if table.get("size") is not None else None,
                depends=tuple(str(d) for d in table.get("depends", ())),
                constrains=tuple(str(c) for c in table.get("constrains", ())),
                noarch=_optional_str(table.get("noarch")),
                timestamp=int(table["timestamp"]) if table.get("timestamp") is not None else None,
                track_features=tuple(str(f) for f in table.get("track-features", ())),
                license=_optional_str(table.get("license")),
                platforms=tuple(str(p) for p in table.get("platforms", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LockError(
                f"A conda package entry in the lock is malformed ({exc}).",
                context=where,
                hint="Run `shipyard lock` to write it again.",
            ) from exc

    @classmethod
    def from_rattler(cls, record: RepoDataRecord) -> CondaRecord:
        """The record of a py-rattler solve result."""
        noarch = record.noarch
        kind = None
        if noarch.python:
            kind = "python"
        elif noarch.generic:
            kind = "generic"
        timestamp = record.timestamp
        return cls(
            name=record.name.normalized,
            version=str(record.version),
            build=str(record.build),
            build_number=int(record.build_number),
            subdir=record.subdir,
            channel=(record.channel or "").rstrip("/"),
            url=record.url,
            sha256=record.sha256.hex() if record.sha256 else "",
            md5=record.md5.hex() if record.md5 else None,
            size=record.size,
            depends=tuple(record.depends),
            constrains=tuple(record.constrains),
            noarch=kind,
            timestamp=int(timestamp.timestamp() * 1000) if timestamp is not None else None,
            track_features=tuple(record.track_features),
            license=record.license,
        )

    def to_rattler(self) -> RepoDataRecord:
        """The py-rattler record to install or to pass to a solve as locked."""
        import datetime

        from rattler import BuildString, NoArchType, PackageRecord, RepoDataRecord

        package = PackageRecord(
            name=self.name,
            version=self.version,
            build=BuildString.new_unchecked(self.build),
            build_number=self.build_number,
            subdir=self.subdir,
            noarch=NoArchType(cast(Any, self.noarch)) if self.noarch else None,
            depends=list(self.depends),
            constrains=list(self.constrains),
            sha256=bytes.fromhex(self.sha256) if self.sha256 else None,
            md5=bytes.fromhex(self.md5) if self.md5 else None,
            size=self.size,
            license=self.license,
        )
        if self.timestamp is not None:
            package.timestamp = datetime.datetime.fromtimestamp(
                self.timestamp / 1000, tz=datetime.UTC
            )
        if self.track_features:
            package.track_features = list(self.track_features)
        return RepoDataRecord(
            package, file_name=self.file_name, url=self.url, channel=self.channel + "/"
        )


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def records_to_lock(solved: Mapping[str, Sequence[CondaRecord]]) -> list[dict[str, Any]]:
    """The lock tables for per-platform solves: one table per distinct file (a noarch
    package chosen on several platforms appears once), sorted by name, version, subdir
    and URL, each listing the platforms it serves.

    :param solved: subdir (``linux-64`` …) → the records of that platform's solve.
    """
    by_url: dict[str, tuple[CondaRecord, set[str]]] = {}
    for platform, records in solved.items():
        for record in records:
            entry = by_url.setdefault(record.url, (record, set()))
            entry[1].add(platform)
    tables = []
    for record, platforms in by_url.values():
        table = record.to_table()
        table["platforms"] = sorted(platforms)
        tables.append(table)
    tables.sort(key=lambda t: (t["name"], t["version"], t["subdir"], t["url"]))
    return tables


def records_from_lock(
    tables: Sequence[Mapping[str, Any]], platform: str, where: str = "pylock.toml"
) -> list[CondaRecord]:
    """The records of one platform (conda subdir) from the lock's conda tables.

    :raises LockError: when an entry is malformed.
    """
    found = []
    for table in tables:
        record = CondaRecord.from_table(table, where)
        if platform in record.platforms:
            found.append(record)
    return found


def platform_records(table: Any, platform: str | None, where: str) -> list[CondaRecord]:
    """The records the lock's ``[tool.shipyard.conda]`` table holds for ``platform``.

    :param table: that table (``channels``, ``platforms``, ``packages``).
    :param platform: a conda subdir, or ``None`` for a machine conda has no subdir for.
    :raises LockError: when the lock does not cover ``platform``, or an entry is malformed.
    """
    platforms = table.get("platforms", []) if isinstance(table, dict) else []
    if platform is None or platform not in platforms:
        raise LockError(
            f"The lock has conda packages for {', '.join(platforms) or 'no platform'}, "
            f"not for {platform or 'this kind of machine'}.",
            context=where,
            hint="Add the platform to [tool.shipyard.conda] platforms and run `shipyard lock`.",
        )
    return records_from_lock(table.get("packages", []), platform, where)
