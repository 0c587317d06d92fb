"""Which wheel variant properties this machine supports, from static lists only (the
wheel variant providers draft, with PEP 817; PEP 825 leaves it to them).

Per namespace of a version's variant metadata, in the draft's order: a provider the
user disabled, an optional one not enabled, or one whose PEP 817 ``enable-if`` marker is
false supports nothing; the metadata's own ``static-properties`` (ahead-of-time
providers) are used alone; else a list the user gave (:func:`parse_properties`); else,
when the metadata names a plugin shipyard reimplements (:data:`REIMPLEMENTED`), its
output computed here (:func:`nvidia_properties`: the reference NVIDIA provider's lists
for a CUDA driver version); else nothing, since a plugin package would have to be
installed and run, and shipyard runs none.

Pure: no I/O, no detection (``shipyard.accelerators`` detects the driver).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.specs.variants import (
    Properties,
    VariantMetadata,
    VariantMetadataError,
    VariantProvider,
)

__all__ = [
    "NVIDIA_NAMESPACE",
    "REIMPLEMENTED",
    "ProviderResolution",
    "builtin_properties",
    "nvidia_properties",
    "parse_properties",
    "resolve_supported",
]

#: The namespace of the NVIDIA provider shipyard reimplements.
NVIDIA_NAMESPACE = "nvidia"
#: namespace -> the plugin packages shipyard reimplements for it (the static provider
#: list: their output is computed here, never by running them).
REIMPLEMENTED: Mapping[str, frozenset[str]] = MappingProxyType(
    {NVIDIA_NAMESPACE: frozenset({"nvidia-variant-provider"})}
)

_NAME = re.compile(r"^[a-z0-9_]+$")
_VALUE = re.compile(r"^[a-z0-9_.]+$")


def parse_properties(texts: Iterable[str], *, where: str) -> dict[str, dict[str, list[str]]]:
    """Properties as a user writes them, ``"nvidia :: cuda_version_lower_bound :: 12.8"``
    (spaces around ``::`` optional), grouped in the order given (that order is the
    preference).

    :raises VariantMetadataError: for a text that is not ``namespace :: feature :: value``.
    """
    out: dict[str, dict[str, list[str]]] = {}
    for text in texts:
        parts = [p.strip() for p in text.split("::")]
        if len(parts) != 3 or not (_NAME.match(parts[0]) and _NAME.match(parts[1])):
            raise VariantMetadataError(
                f"Invalid variant property {text!r} in {where}.",
                hint="Write namespace :: feature :: value, e.g. x86_64 :: level :: v3.",
            )
        if not _VALUE.match(parts[2]):
            raise VariantMetadataError(
                f"Invalid variant property value {parts[2]!r} in {where}.",
                hint="Values use only lower-case letters, digits, '_' and '.'.",
            )
        values = out.setdefault(parts[0], {}).setdefault(parts[1], [])
        if parts[2] not in values:
            values.append(parts[2])
    return out


@dataclass(frozen=True, slots=True)
class ProviderResolution:
    """What this machine supports for one version's variants, and where it came from.

    :param supported: namespace -> feature -> values, each level most preferred first.
    :param sources: namespace -> ``"static"`` (the metadata's list), ``"user"`` (a list
        the user gave), ``"builtin"`` (a provider shipyard reimplements), or why none is
        known: ``"disabled"``, ``"optional"`` (not enabled), ``"enable-if"`` (its marker
        is false here), ``"plugin"`` (only a plugin package could say; shipyard runs none).
    """

    supported: Mapping[str, Mapping[str, tuple[str, ...]]] = field(hash=False)
    sources: Mapping[str, str] = field(hash=False)

    @property
    def unavailable(self) -> tuple[str, ...]:
        """The namespaces whose variants are skipped because no list could be used."""
        known = ("static", "user", "builtin")
        return tuple(ns for ns, s in self.sources.items() if s not in known)


def builtin_properties(
    cuda: Version | None, *, compute_capability: tuple[int, int] | None = None
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The properties of every provider shipyard reimplements (:data:`REIMPLEMENTED`),
    for this machine: ``{"nvidia": nvidia_properties(...)}`` when a CUDA driver is there,
    else ``{}``.

    :param cuda: the CUDA driver's version (``HostAccelerator.cuda``).
    :param compute_capability: the newest GPU's, when known (``(8, 6)``).
    """
    nvidia = nvidia_properties(cuda, compute_capability=compute_capability)
    return {NVIDIA_NAMESPACE: nvidia} if nvidia else {}


def _names_reimplemented(provider: VariantProvider | None, ns: str) -> bool:
    """Whether ``provider`` is the plugin shipyard reimplements for ``ns`` (PEP 825
    metadata without ``providers`` names none: the namespace's usual provider)."""
    if provider is None:
        return True
    names = set()
    for text in provider.requires:
        try:
            names.add(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    return bool(names & REIMPLEMENTED.get(ns, frozenset()))


def resolve_supported(
    metadata: VariantMetadata,
    user: Properties | None = None,
    *,
    builtin: Properties | None = None,
    enable: Collection[str] = (),
    disable: Collection[str] = (),
    environment: Mapping[str, str] | None = None,
) -> ProviderResolution:
    """The supported properties per namespace of ``metadata``, in the providers draft's
    order: a disabled provider supports nothing; the metadata's ``static-properties`` are
    used alone; else the ``user``'s list; else ``builtin`` (see :func:`builtin_properties`)
    when the metadata's provider is the plugin shipyard reimplements; else nothing
    (plugins are never run).

    Features are ordered by ``default-priorities.feature`` (older drafts) then by the
    list's order; values likewise by ``default-priorities.property``.

    :param user: lists the user gave (:func:`parse_properties`), per namespace.
    :param builtin: lists of reimplemented providers for this machine.
    :param enable: namespaces of optional providers the user turned on.
    :param disable: namespaces the user turned off.
    :param environment: a marker environment for PEP 817's ``enable-if`` (``None``:
        not checked, as for a universal lock).
    """
    user = user or {}
    builtin = builtin or {}
    supported: dict[str, Mapping[str, tuple[str, ...]]] = {}
    sources: dict[str, str] = {}
    for ns in metadata.namespaces:
        provider = metadata.providers.get(ns)
        listed: Mapping[str, Sequence[str]] | None = None
        if ns in disable:
            sources[ns] = "disabled"
        elif provider is not None and provider.optional and ns not in enable:
            sources[ns] = "optional"
        elif (
            provider is not None
            and provider.enable_if is not None
            and environment is not None
            and not Marker(provider.enable_if).evaluate(dict(environment))
        ):
            sources[ns] = "enable-if"
        elif provider is not None and provider.static_properties is not None:
            sources[ns], listed = "static", provider.static_properties
        elif ns in user:
            sources[ns], listed = "user", user[ns]
        elif ns in builtin and _names_reimplemented(provider, ns):
            sources[ns], listed = "builtin", builtin[ns]
        else:
            sources[ns] = "plugin"
        if listed is not None:
            supported[ns] = MappingProxyType(_prioritized(metadata, ns, listed))
    return ProviderResolution(MappingProxyType(supported), MappingProxyType(sources))


def _prioritized(
    metadata: VariantMetadata, ns: str, listed: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """``listed`` reordered by the metadata's explicit priorities (supported items only)."""
    explicit = [f for f in metadata.feature_priorities.get(ns, ()) if f in listed]
    values = metadata.property_priorities.get(ns, {})
    out: dict[str, tuple[str, ...]] = {}
    for feature in [*explicit, *(f for f in listed if f not in explicit)]:
        first = [v for v in values.get(feature, ()) if v in listed[feature]]
        rest = [v for v in listed[feature] if v not in first]
        out[feature] = tuple(dict.fromkeys([*first, *rest]))
    return out


#: majors and minors the reference NVIDIA provider enumerates
_CUDA_MAJORS = range(11, 16)
_CUDA_MINORS = range(21)


def nvidia_properties(
    cuda: Version | None, *, compute_capability: tuple[int, int] | None = None
) -> dict[str, tuple[str, ...]]:
    """The ``nvidia`` namespace a machine supports, as the reference provider
    (wheelnext/nvidia-variant-provider) reports it — a static list shipyard computes
    instead of running the plugin.

    * ``cuda_version_lower_bound`` (the wheel needs a driver at least this new): from the
      driver's ``major.minor`` down to ``11``: ``12.4, 12.3, … 12.0, 12, 11.20, … 11.0, 11``;
    * ``cuda_version_upper_bound`` (the wheel needs an older driver): ``15.20 … 15.0, 15,
      … 13, 12.20 … 12.5`` for a 12.4 driver;
    * ``sm_arch``, only with ``compute_capability`` (the newest GPU's, ``(8, 6)``; shipyard
      does not detect it): ``86_real … 80_real, 80_virtual`` (none below 5.0).

    :param cuda: the CUDA driver's version (``HostAccelerator.cuda``); ``None``: no driver,
        nothing supported.
    :returns: feature -> values, both most preferred first; ``{}`` without a driver.
    """
    if cuda is None:
        return {}
    major = cuda.release[0]
    minor = cuda.release[1] if len(cuda.release) > 1 else 0
    top_minor = max(_CUDA_MINORS)

    def versions(major_: int, minors: Iterable[int], bare: bool) -> list[str]:
        return [f"{major_}.{m}" for m in minors] + ([str(major_)] if bare else [])

    lower: list[str] = []
    for m in range(major, min(_CUDA_MAJORS) - 1, -1):
        lower += versions(m, range(minor if m == major else top_minor, -1, -1), True)
    upper: list[str] = []
    for m in range(max(_CUDA_MAJORS), major - 1, -1):
        if m == major:
            upper += versions(m, range(top_minor, minor, -1), False)
        else:
            upper += versions(m, range(top_minor, -1, -1), True)
    out = {"cuda_version_lower_bound": tuple(lower), "cuda_version_upper_bound": tuple(upper)}
    if compute_capability is not None and compute_capability >= (5, 0):
        sm_major, sm_minor = compute_capability
        real = [f"{sm_major}{m}_real" for m in range(sm_minor, -1, -1)]
        out["sm_arch"] = (*real, f"{sm_major}0_virtual")
    return {feature: values for feature, values in out.items() if values}
