"""Wheel variants (PEP 825 draft, with PEP 817 and the providers draft): variant wheel
filenames, variant metadata (``*.dist-info/variant.json`` and the index's
``{name}-{version}-variants.json``), which variants run on a machine and in which order it
prefers them.

A variant wheel carries a *label* after its platform tag
(``torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64-cu128.whl``); the metadata maps each
label to *properties* ``namespace :: feature :: value``. A variant is compatible when, for
every feature it lists, one of its values is supported. The ``null`` label is the variant
with no properties (always compatible, preferred after every other variant); wheels with
no label (non-variant wheels) come after all variants.

What a machine supports (namespace -> feature -> values, each ordered most preferred
first) is an input here; :mod:`shipyard.specs.variant_providers` computes it from static
lists only. The reserved ``abi_dependency`` namespace is not implemented: variants using
it are incompatible.

Pure: parses given bytes and strings, does no I/O. Drafts followed:
https://peps.python.org/pep-0825/ (format 0.1.1, read at python/peps ba4deeb, with the
``default-priorities.feature``/``property`` keys of earlier revisions),
https://peps.python.org/pep-0817/ and the providers draft (``providers``, format 0.2.0).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from shipyard.errors import ShipyardError

__all__ = [
    "ABI_DEPENDENCY_NAMESPACE",
    "NULL_LABEL",
    "SCHEMA_URL",
    "VARIANT_METADATA_FILENAME",
    "Properties",
    "VariantMetadata",
    "VariantMetadataError",
    "VariantProvider",
    "VariantWheelFilename",
    "combine_variant_metadata",
    "group_wheels",
    "is_compatible",
    "order_variants",
    "parse_variant_metadata",
    "parse_variant_wheel_filename",
    "parse_variants_json_filename",
    "selected_properties",
    "variants_json_filename",
]

#: The reserved label of the variant with no properties (PEP 825).
NULL_LABEL = "null"
#: The variant metadata file inside a variant wheel's ``.dist-info`` folder.
VARIANT_METADATA_FILENAME = "variant.json"
#: Reserved for ABI-dependency variants (providers draft); not implemented here.
ABI_DEPENDENCY_NAMESPACE = "abi_dependency"
#: The schema URL this module writes (PEP 825, format 0.1.1).
SCHEMA_URL = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"

#: namespace -> feature -> values; for a machine, both levels ordered most preferred first.
Properties = Mapping[str, Mapping[str, Sequence[str]]]

_NAME = re.compile(r"^[a-z0-9_]+$")
_VALUE = re.compile(r"^[a-z0-9_.]+$")
_LABEL = _VALUE
_SCHEMA_VERSION = re.compile(r"/v(\d+)\.(\d+)\.(\d+)\.json$")
_SUPPORTED_MAJORS = (0, 1)
_LAST = (sys.maxsize, sys.maxsize, sys.maxsize)


class VariantMetadataError(ShipyardError):
    """Variant metadata (``variant.json``, ``*-variants.json``) that is not valid JSON or
    does not follow the draft format. Installers should then ignore the variant wheels
    of that version (PEP 825 asks to degrade gracefully) and say why."""


class VariantWheelFilename(NamedTuple):
    """A wheel filename's parts; ``label`` is ``None`` for a non-variant wheel. The first
    four are what ``packaging.utils.parse_wheel_filename`` returns."""

    name: NormalizedName
    version: Version
    build: BuildTag
    tags: frozenset[Tag]
    label: str | None


def parse_variant_wheel_filename(filename: str) -> VariantWheelFilename:
    """Parse ``{name}-{version}(-{build})?-{py}-{abi}-{platform}(-{label})?.whl``.

    Six dash-separated parts are a build tag when the third starts with a digit (build tags
    must, Python tags must not: PEP 825), else a variant label; seven parts have both.

    :raises packaging.utils.InvalidWheelFilename: for a name neither form accepts, or a
        label outside ``[0-9a-z_.]+``.
    """
    parts = filename.removesuffix(".whl").split("-")
    label = None
    base = filename
    if filename.endswith(".whl") and (
        len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit())
    ):
        label = parts[-1]
        if not _LABEL.match(label):
            raise InvalidWheelFilename(f"Invalid variant label {label!r} in {filename!r}")
        base = "-".join(parts[:-1]) + ".whl"
    try:
        name, version, build, tags = parse_wheel_filename(base)
    except InvalidWheelFilename as exc:
        if label is None:
            raise
        raise InvalidWheelFilename(f"{exc} (variant wheel {filename!r})") from exc
    return VariantWheelFilename(name, version, build, tags, label)


def variants_json_filename(name: str, version: str | Version) -> str:
    """The index-level metadata file of one version: ``foo_bar-1.2.3-variants.json`` (name
    and version normalized as in wheel filenames)."""
    return f"{canonicalize_name(name).replace('-', '_')}-{Version(str(version))}-variants.json"


def parse_variants_json_filename(filename: str) -> tuple[NormalizedName, Version] | None:
    """The project and version a ``{name}-{version}-variants.json`` link is for; ``None``
    for any other filename."""
    stem = filename.removesuffix("-variants.json")
    name, sep, version = stem.rpartition("-")
    if stem == filename or not sep or not name:
        return None
    try:
        return canonicalize_name(name), Version(version)
    except InvalidVersion:
        return None


@dataclass(frozen=True, slots=True)
class VariantProvider:
    """How the machine's properties of one namespace are found (providers draft; PEP 817).

    :param static_properties: feature -> supported values, most preferred first, when the
        metadata lists them (no plugin is needed); ``None`` when a plugin would be.
    :param requires: PEP 508 requirements of the plugin package (never installed here).
    :param optional: used only when the user enables it.
    :param enable_if: a PEP 508 marker (PEP 817): the provider is used only where it holds.
    :param install_time: PEP 817's flag; ``False`` is an ahead-of-time provider.
    """

    namespace: str
    static_properties: Mapping[str, tuple[str, ...]] | None = field(default=None, hash=False)
    requires: tuple[str, ...] = ()
    plugin_api: str | None = None
    optional: bool = False
    enable_if: str | None = None
    install_time: bool = True


@dataclass(frozen=True, slots=True)
class VariantMetadata:
    """A parsed ``variant.json`` or ``{name}-{version}-variants.json``.

    :param namespaces: ``default-priorities.namespace``, most important first.
    :param feature_priorities: ``default-priorities.feature`` (drafts before 0.1.1).
    :param property_priorities: ``default-priorities.property`` (drafts before 0.1.1).
    :param variants: label -> namespace -> feature -> values (a set, kept sorted).
    """

    schema: str | None
    namespaces: tuple[str, ...]
    variants: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = field(hash=False)
    providers: Mapping[str, VariantProvider] = field(default_factory=dict, hash=False)
    feature_priorities: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    property_priorities: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=dict, hash=False
    )

    def properties_of(self, label: str) -> Mapping[str, Mapping[str, tuple[str, ...]]] | None:
        """The properties of ``label`` (``{}`` for ``null``); ``None`` when not listed."""
        if label == NULL_LABEL:
            return self.variants.get(label, {})
        return self.variants.get(label)

    def as_dict(self, labels: Collection[str] | None = None) -> dict[str, Any]:
        """The JSON document (for ``[packages.variants-json]`` in a lock, PEP 825), keeping
        only ``labels`` when given and the namespaces they still use."""
        kept = {k: v for k, v in self.variants.items() if labels is None or k in labels}
        used = {ns for props in kept.values() for ns in props}
        namespaces = [n for n in self.namespaces if labels is None or n in used]
        priorities: dict[str, Any] = {"namespace": namespaces or list(self.namespaces[:1])}
        if self.feature_priorities:
            priorities["feature"] = {k: list(v) for k, v in self.feature_priorities.items()}
        if self.property_priorities:
            priorities["property"] = {
                ns: {f: list(v) for f, v in features.items()}
                for ns, features in self.property_priorities.items()
            }
        document: dict[str, Any] = {
            "$schema": self.schema or SCHEMA_URL,
            "default-priorities": priorities,
        }
        if self.providers:
            document["providers"] = {ns: _provider_dict(p) for ns, p in self.providers.items()}
        document["variants"] = {
            label: {ns: {f: list(v) for f, v in feats.items()} for ns, feats in props.items()}
            for label, props in sorted(kept.items())
        }
        return document


def _provider_dict(provider: VariantProvider) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if provider.static_properties is not None:
        out["static-properties"] = {f: list(v) for f, v in provider.static_properties.items()}
    if provider.requires:
        out["requires"] = list(provider.requires)
    if provider.plugin_api:
        out["plugin-api"] = provider.plugin_api
    if provider.optional:
        out["optional"] = True
    if provider.enable_if:
        out["enable-if"] = provider.enable_if
    if not provider.install_time:
        out["install-time"] = False
    return out


class _Reader:
    """Checks one document's shapes, naming the key path in errors."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> VariantMetadataError:
        return VariantMetadataError(
            f"Invalid wheel variant metadata in {self.where}: {path} {problem}.",
            hint="The publisher must fix it; until then its variant wheels are skipped.",
        )

    def table(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "is not a JSON object")
        return value

    def names(self, value: object, path: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "is not a list of strings")
        for item in value:
            if not pattern.match(item):
                raise self.fail(path, f"has an invalid name {item!r}")
        return tuple(dict.fromkeys(value))

    def key(self, name: str, path: str, pattern: re.Pattern[str] = _NAME) -> str:
        if not pattern.match(name):
            raise self.fail(path, f"has an invalid key {name!r}")
        return name

    def features(self, value: object, path: str) -> dict[str, tuple[str, ...]]:
        return {
            self.key(f, path): self.names(v, f"{path}.{f}", _VALUE)
            for f, v in self.table(value, path).items()
        }


def parse_variant_metadata(data: bytes | str, *, where: str) -> VariantMetadata:
    """Parse variant metadata (PEP 825 formats 0.0.x-0.1.x, providers draft 0.2.0, PEP
    817). Unknown keys are ignored.

    :param where: the file or URL, for errors.
    :raises VariantMetadataError: for invalid JSON, an unsupported ``$schema`` major
        version, a malformed key, a namespace used but missing from
        ``default-priorities.namespace``, or a ``null`` variant with properties.
    """
    reader = _Reader(where)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise reader.fail("the file", f"is not valid JSON ({exc})") from exc
    root = reader.table(document, "the document")
    schema = root.get("$schema")
    if schema is not None:
        if not isinstance(schema, str):
            raise reader.fail("$schema", "is not a string")
        found = _SCHEMA_VERSION.search(schema)
        if found is None or int(found.group(1)) not in _SUPPORTED_MAJORS:
            raise reader.fail("$schema", f"names an unsupported format version ({schema})")
    priorities = reader.table(root.get("default-priorities"), "default-priorities")
    namespaces = reader.names(priorities.get("namespace"), "default-priorities.namespace", _NAME)
    if not namespaces:
        raise reader.fail("default-priorities.namespace", "is empty")
    feature_priorities = {
        reader.key(ns, "default-priorities.feature"): reader.names(
            v, f"default-priorities.feature.{ns}", _NAME
        )
        for ns, v in reader.table(
            priorities.get("feature", {}), "default-priorities.feature"
        ).items()
    }
    property_priorities = {
        reader.key(ns, "default-priorities.property"): MappingProxyType(
            reader.features(v, f"default-priorities.property.{ns}")
        )
        for ns, v in reader.table(
            priorities.get("property", {}), "default-priorities.property"
        ).items()
    }
    variants: dict[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = {}
    for label, props in reader.table(root.get("variants"), "variants").items():
        path = f"variants.{label}"
        reader.key(label, "variants", _LABEL)
        parsed = {
            reader.key(ns, path): MappingProxyType(reader.features(v, f"{path}.{ns}"))
            for ns, v in reader.table(props, path).items()
        }
        for ns, features in parsed.items():
            if ns not in namespaces and ns != ABI_DEPENDENCY_NAMESPACE:
                raise reader.fail(f"{path}.{ns}", "is missing from default-priorities.namespace")
            if any(not values for values in features.values()):
                raise reader.fail(f"{path}.{ns}", "lists a feature with no values")
        if label == NULL_LABEL and any(parsed.values()):
            raise reader.fail(path, "has properties, but the null variant has none")
        variants[label] = MappingProxyType(
            {
                ns: MappingProxyType({f: tuple(sorted(v)) for f, v in fs.items()})
                for ns, fs in parsed.items()
            }
        )
    top_static = reader.table(root.get("static-properties", {}), "static-properties")
    providers = {
        reader.key(ns, "providers"): _parse_provider(reader, ns, info, top_static.get(ns))
        for ns, info in reader.table(root.get("providers", {}), "providers").items()
    }
    return VariantMetadata(
        schema=schema,
        namespaces=namespaces,
        variants=MappingProxyType(variants),
        providers=MappingProxyType(providers),
        feature_priorities=MappingProxyType(feature_priorities),
        property_priorities=MappingProxyType(property_priorities),
    )


def _parse_provider(reader: _Reader, ns: str, info: object, top: object) -> VariantProvider:
    path = f"providers.{ns}"
    table = reader.table(info, path)
    static_value = table.get("static-properties", top)
    static = None
    if static_value is not None:
        static = MappingProxyType(reader.features(static_value, f"{path}.static-properties"))
    requires = table.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise reader.fail(f"{path}.requires", "is not a list of strings")
    enable_if = table.get("enable-if")
    if enable_if is not None:
        try:
            Marker(str(enable_if))
        except InvalidMarker as exc:
            raise reader.fail(f"{path}.enable-if", f"is not a valid marker ({exc})") from exc
    plugin_api = table.get("plugin-api")
    return VariantProvider(
        namespace=ns,
        static_properties=static,
        requires=tuple(requires),
        plugin_api=str(plugin_api) if plugin_api is not None else None,
        optional=bool(table.get("optional", False)),
        enable_if=str(enable_if) if enable_if is not None else None,
        install_time=bool(table.get("install-time", True)),
    )


def combine_variant_metadata(parts: Sequence[VariantMetadata], *, where: str) -> VariantMetadata:
    """Combine the ``variant.json`` of several wheels of one version (for sources with no
    ``-variants.json``), as PEP 825's consistency rules say: the longer namespace list
    when one starts with the other, the union of the variants.

    :raises VariantMetadataError: for inconsistent metadata (a label with two property
        sets, namespace lists neither of which extends the other), naming ``where``.
    :raises ValueError: for no ``parts``.
    """
    if not parts:
        raise ValueError("no variant metadata to combine")
    reader = _Reader(where)
    namespaces: tuple[str, ...] = ()
    variants: dict[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = {}
    providers: dict[str, VariantProvider] = {}
    for part in parts:
        short, long = sorted((namespaces, part.namespaces), key=len)
        if long[: len(short)] != short:
            raise reader.fail("default-priorities.namespace", "differs between the wheels")
        namespaces = long
        for label, props in part.variants.items():
            if variants.setdefault(label, props) != props:
                raise reader.fail(f"variants.{label}", "differs between the wheels")
        for ns, provider in part.providers.items():
            if providers.setdefault(ns, provider) != provider:
                raise reader.fail(f"providers.{ns}", "differs between the wheels")
    first = parts[0]
    return VariantMetadata(
        schema=first.schema,
        namespaces=namespaces,
        variants=MappingProxyType(variants),
        providers=MappingProxyType(providers),
        feature_priorities=first.feature_priorities,
        property_priorities=first.property_priorities,
    )


def is_compatible(
    properties: Mapping[str, Mapping[str, Sequence[str]]], supported: Properties
) -> bool:
    """Whether a variant with ``properties`` runs here: every feature it lists has one of
    its values supported (PEP 825). No properties (the null variant): always."""
    for ns, features in properties.items():
        available = supported.get(ns, {})
        for feature, values in features.items():
            if not any(v in available.get(feature, ()) for v in values):
                return False
    return True


def _sort_key(
    label: str,
    properties: Mapping[str, Mapping[str, Sequence[str]]],
    supported: Properties,
    namespaces: Sequence[str],
) -> tuple[tuple[tuple[int, int, int], ...], str]:
    keys = []
    for ns, features in properties.items():
        feature_order = list(supported[ns])
        for feature, values in features.items():
            value_order = list(supported[ns][feature])
            best = min(value_order.index(v) for v in values if v in value_order)
            rank = namespaces.index(ns) if ns in namespaces else len(namespaces)
            keys.append((rank, feature_order.index(feature), best))
    # a list that is a prefix of another sorts after it: end each with the largest key
    return (*sorted(keys), _LAST), label


def order_variants(
    metadata: VariantMetadata, supported: Properties, labels: Iterable[str]
) -> list[str]:
    """The compatible ``labels``, most preferred first (PEP 825 "Variant ordering"): per
    label, its features' best supported values as (namespace, feature, value) indexes,
    sorted; label lists compared key by key, the longer first when one is a prefix of the
    other, then by label. ``null`` comes last. Labels the metadata does not list, and
    incompatible ones, are left out.

    :param supported: as ``variant_providers.ProviderResolution.supported`` (ordered).
    """
    keyed = []
    for label in dict.fromkeys(labels):
        properties = metadata.properties_of(label)
        if properties is None or not is_compatible(properties, supported):
            continue
        keyed.append((_sort_key(label, properties, supported, metadata.namespaces), label))
    return [label for _key, label in sorted(keyed)]


def group_wheels(
    filenames: Iterable[str], metadata: VariantMetadata | None, supported: Properties
) -> list[list[str]]:
    """The wheels of one version grouped by variant label, best group first, the
    non-variant wheels last (PEP 825); order within a group by platform tags as usual.

    Variant wheels are dropped when ``metadata`` is ``None`` (no ``-variants.json``),
    when their label is not in it, or when they are incompatible.

    :param filenames: wheel filenames already compatible by their tags.
    :raises packaging.utils.InvalidWheelFilename: for a filename that is no wheel name.
    """
    by_label: dict[str | None, list[str]] = {}
    for filename in filenames:
        by_label.setdefault(parse_variant_wheel_filename(filename).label, []).append(filename)
    groups: list[list[str]] = []
    if metadata is not None:
        labels = [label for label in by_label if label is not None]
        groups.extend(by_label[label] for label in order_variants(metadata, supported, labels))
    if None in by_label:
        groups.append(by_label[None])
    return groups


def selected_properties(
    metadata: VariantMetadata, label: str, supported: Properties
) -> frozenset[str]:
    """``variant_properties`` for a selected wheel (PEP 825 markers): its label's
    properties that this machine supports, as ``"namespace :: feature :: value"``."""
    properties = metadata.properties_of(label) or {}
    return frozenset(
        f"{ns} :: {feature} :: {value}"
        for ns, features in properties.items()
        for feature, values in features.items()
        for value in values
        if value in supported.get(ns, {}).get(feature, ())
    )
