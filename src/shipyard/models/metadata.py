"""Core metadata: the fields of a distribution's METADATA / PKG-INFO a resolver needs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from shipyard.errors import ShipyardError

__all__ = ["CoreMetadata", "parse_core_metadata"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreMetadata:
    """The fields of a distribution's core metadata the resolver needs.

    :param name: the canonical project name.
    :param version: the version string as written.
    :param requires_dist: PEP 508 requirement strings (``Requires-Dist``).
    :param requires_python: the ``Requires-Python`` specifier, or ``None``.
    :param provides_extra: canonical extra names (``Provides-Extra``).
    """

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """Serialize for the metadata cache."""
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "requires_dist": list(self.requires_dist),
                "requires_python": self.requires_python,
                "provides_extra": list(self.provides_extra),
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CoreMetadata:
        """Inverse of :meth:`to_json`."""
        raw = json.loads(data)
        return cls(
            name=raw["name"],
            version=raw["version"],
            requires_dist=tuple(raw["requires_dist"]),
            requires_python=raw["requires_python"],
            provides_extra=tuple(raw["provides_extra"]),
        )


def parse_core_metadata(data: bytes, *, source: str = "METADATA") -> CoreMetadata:
    """Parse a core metadata file (``METADATA`` / ``PKG-INFO``, any Metadata-Version).

    :param source: where the bytes came from, for error messages.
    :raises ShipyardError: when Name or Version is missing.
    """
    from packaging.metadata import parse_email  # email parsing: only when metadata is read

    raw, _unparsed = parse_email(data)
    name = raw.get("name")
    version = raw.get("version")
    if not name or not version:
        raise ShipyardError(
            "The distribution's metadata has no Name or Version.",
            context=source,
            hint="The file is broken; report it to the package's maintainers.",
        )
    return CoreMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(raw.get("requires_dist", ())),
        requires_python=raw.get("requires_python") or None,
        provides_extra=tuple(canonicalize_name(e) for e in raw.get("provides_extra", ())),
    )
