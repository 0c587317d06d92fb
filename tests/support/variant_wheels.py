"""Build real wheel variants (PEP 825 draft) for tests.

A variant wheel is an ordinary wheel (:func:`support.builders.build_wheel`) whose name
ends with a variant label (``gpu-1.0-py3-none-any-cu12.whl``) and whose
``.dist-info/variant.json`` maps that label to its properties. :func:`publish_variants`
puts the wheels of one version in an index folder together with the index-level
``{name}-{version}-variants.json`` that :class:`support.IndexServer` lists on the project
page next to the wheels.

Each wheel's package sets ``VARIANT`` to its label (``""`` in the non-variant wheel) so
a test can tell which one was installed. Everything is reproducible byte for byte.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from .builders import build_wheel, dist_name, import_name

__all__ = [
    "SCHEMA_URL",
    "Variant",
    "build_variant_wheel",
    "properties_from",
    "publish_variants",
    "variant_document",
    "variants_json_name",
]

#: The format version written (PEP 825 draft, format 0.1.1).
SCHEMA_URL = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"

#: namespace -> feature -> values, or ``"namespace :: feature :: value"`` strings.
PropertiesInput = Mapping[str, Mapping[str, Sequence[str]]] | Sequence[str]


@dataclass(frozen=True, slots=True)
class Variant:
    """One variant of a version: its label, its properties and the tags it is built for
    (one wheel per tag).

    ``properties`` is ``{"nvidia": {"cuda_version_lower_bound": ["12.0"]}}`` or the same as
    ``["nvidia :: cuda_version_lower_bound :: 12.0"]``; ``()`` for the ``null`` variant.
    """

    label: str
    properties: PropertiesInput = ()
    tags: Sequence[str] = ("py3-none-any",)
    requires_dist: Sequence[str] = field(default=(), compare=False)


def properties_from(properties: PropertiesInput) -> dict[str, dict[str, list[str]]]:
    """``properties`` as namespace -> feature -> sorted values (PEP 825 keeps value sets
    as sorted lists).

    :raises ValueError: for a string that is not ``namespace :: feature :: value``.
    """
    out: dict[str, dict[str, list[str]]] = {}
    if isinstance(properties, Mapping):
        for ns, features in properties.items():
            for feature, values in features.items():
                out.setdefault(ns, {}).setdefault(feature, []).extend(values)
    else:
        for text in properties:
            parts = [p.strip() for p in text.split("::")]
            if len(parts) != 3:
                raise ValueError(f"not 'namespace :: feature :: value': {text!r}")
            out.setdefault(parts[0], {}).setdefault(parts[1], []).append(parts[2])
    return {
        ns: {feature: sorted(set(values)) for feature, values in features.items()}
        for ns, features in out.items()
    }


def variant_document(
    namespaces: Sequence[str],
    variants: Mapping[str, PropertiesInput],
    *,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    schema: str = SCHEMA_URL,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A variant metadata document (``variant.json`` with one label, ``-variants.json``
    with all of them).

    :param namespaces: ``default-priorities.namespace``, most important first.
    :param providers: the providers draft's ``providers`` table (``{"blas": {
        "static-properties": {"library": ["openblas", "mkl"]}}}``), written as given.
    :param extra: more top-level or ``default-priorities`` keys of other drafts, merged
        in as given (e.g. ``{"default-priorities": {"feature": {...}}}``).
    """
    document: dict[str, Any] = {
        "$schema": schema,
        "default-priorities": {"namespace": list(namespaces)},
    }
    if providers is not None:
        document["providers"] = {ns: dict(info) for ns, info in providers.items()}
    document["variants"] = {label: properties_from(props) for label, props in variants.items()}
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(document.get(key), dict):
            document[key].update(value)
        else:
            document[key] = value
    return document


def _dumps(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")


def variants_json_name(name: str, version: str) -> str:
    """``{name}-{version}-variants.json`` with the wheel-filename normalization."""
    return f"{dist_name(name)}-{Version(version)}-variants.json"


def build_variant_wheel(
    out_dir: Path,
    name: str,
    version: str,
    variant: Variant,
    tag: str,
    *,
    namespaces: Sequence[str],
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{dist}-{version}-{tag}-{label}.whl`` into ``out_dir`` and return its path:
    a valid wheel whose ``{dist}-{version}.dist-info/variant.json`` holds ``variant``
    alone (PEP 825) and whose package's ``VARIANT`` is the label.

    :param namespaces: ``default-priorities.namespace`` of the version.
    :param providers: the ``providers`` table to copy in (providers draft).
    :param extra: keys of other drafts to merge in (see :func:`variant_document`).
    """
    norm_version = str(Version(version))
    dist_info = f"{dist_name(name)}-{norm_version}.dist-info"
    document = variant_document(
        namespaces, {variant.label: variant.properties}, providers=providers, extra=extra
    )
    files: dict[str, str | bytes] = {
        f"{import_name(name)}/__init__.py": (
            f"__version__ = '{version}'\nVARIANT = '{variant.label}'\n"
        ),
        f"{dist_info}/variant.json": _dumps(document),
    }
    staging = out_dir / f".variant-{variant.label}"
    built = build_wheel(
        staging,
        name,
        version,
        requires_dist=variant.requires_dist,
        tag=tag,
        files=files,
    )
    target = out_dir / f"{built.name.removesuffix('.whl')}-{variant.label}.whl"
    built.replace(target)
    shutil.rmtree(staging)
    return target


def publish_variants(
    root: Path,
    name: str,
    version: str,
    variants: Sequence[Variant],
    *,
    namespaces: Sequence[str],
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    non_variant: bool = True,
    index_json: bool = True,
) -> list[Path]:
    """Put one version's variant wheels into the index folder ``root`` (a
    ``server.root``), with its ``{name}-{version}-variants.json`` listing every label.

    :param non_variant: also build the plain wheel (``VARIANT = ''``) for ``py3-none-any``,
        the fallback of machines no variant fits and of tools without variant support.
    :param index_json: write the index-level file (``False``: a version whose file is
        missing, so its variant wheels must be skipped).
    :returns: the files written, the JSON last.
    """
    written = [
        build_variant_wheel(
            root,
            name,
            version,
            variant,
            tag,
            namespaces=namespaces,
            providers=providers,
            extra=extra,
        )
        for variant in variants
        for tag in variant.tags
    ]
    if non_variant:
        written.append(
            build_wheel(
                root,
                name,
                version,
                files={
                    import_name(name) + "/__init__.py": f"__version__ = '{version}'\nVARIANT = ''\n"
                },
            )
        )
    if index_json:
        document = variant_document(
            namespaces,
            {v.label: v.properties for v in variants},
            providers=providers,
            extra=extra,
        )
        path = root / variants_json_name(name, version)
        path.write_bytes(_dumps(document))
        written.append(path)
    return written
