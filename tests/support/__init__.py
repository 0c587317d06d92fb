"""Hermetic test infrastructure: real wheels and sdists, a local index, a test build backend.

Typical use (through the ``make_index`` fixture of ``tests/conftest.py``)::

    index = make_index([pkg("a", "1.0", deps=["b>=1"]), pkg("b", "1.2")])
    ... index.index_url ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .builders import (
    BACKEND_NAME,
    BACKEND_SRC_DIR,
    BACKEND_VERSION,
    build_sdist,
    build_test_backend_wheel,
    build_wheel,
    dist_name,
    expand_tags,
    import_name,
    record_hash,
)
from .index_server import (
    DEFAULT_UPLOAD_TIME,
    IndexServer,
    RecordedRequest,
    find_links_html,
    serve_find_links_html,
)

__all__ = [
    "BACKEND_NAME",
    "BACKEND_SRC_DIR",
    "BACKEND_VERSION",
    "DEFAULT_UPLOAD_TIME",
    "IndexServer",
    "MakeIndex",
    "PackageSpec",
    "RecordedRequest",
    "build_package",
    "build_sdist",
    "build_test_backend_wheel",
    "build_wheel",
    "dist_name",
    "expand_tags",
    "find_links_html",
    "import_name",
    "pkg",
    "record_hash",
    "serve_find_links_html",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSpec:
    """One version of one project to put on a test index.

    Each tag in ``tags`` gives one wheel (when ``wheel``); ``sdist`` adds a
    ``.tar.gz`` built by the test backend. ``requires_dist`` holds PEP 508
    strings, extras as ``extra == "x"`` markers.
    """

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()
    tags: tuple[str, ...] = ("py3-none-any",)
    sdist: bool = False
    wheel: bool = True
    entry_points: Mapping[str, Mapping[str, str]] | None = field(default=None, compare=False)
    files: Mapping[str, str | bytes] | None = field(default=None, compare=False)
    metadata_extra: str = ""
    #: the sdist's ``[project] dynamic`` (``("dependencies",)``: only a build knows them)
    dynamic: tuple[str, ...] = ()


class MakeIndex(Protocol):
    """Type of the ``make_index`` fixture: build ``packages``, serve them, return the server.

    ``server_options`` are the keyword options of :class:`IndexServer`.
    """

    def __call__(
        self, packages: Sequence[PackageSpec] | None = None, **server_options: Any
    ) -> IndexServer: ...


def pkg(
    name: str,
    version: str,
    deps: Sequence[str] = (),
    *,
    extras: Mapping[str, Sequence[str]] | None = None,
    requires_python: str | None = None,
    tags: Sequence[str] = ("py3-none-any",),
    sdist: bool = False,
    wheel: bool = True,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    files: Mapping[str, str | bytes] | None = None,
    metadata_extra: str = "",
    dynamic: Sequence[str] = (),
) -> PackageSpec:
    """Shorthand for :class:`PackageSpec`.

    :param deps: unconditional requirements (PEP 508 strings, markers allowed).
    :param extras: extra name -> requirements; each becomes ``Provides-Extra`` and
        ``Requires-Dist: <req>; extra == "<name>"`` (an existing marker is kept: ``(m) and``).

    Example: ``pkg("a", "1.0", ["b>=1"], extras={"fast": ["c"]}, requires_python=">=3.9")``.
    """
    requires = list(deps)
    for extra, reqs in (extras or {}).items():
        for req in reqs:
            base, sep, marker = req.partition(";")
            clause = f'extra == "{extra}"'
            if sep and marker.strip():
                requires.append(f"{base.strip()}; ({marker.strip()}) and {clause}")
            else:
                requires.append(f"{base.strip()}; {clause}")
    return PackageSpec(
        name=name,
        version=version,
        requires_dist=tuple(requires),
        requires_python=requires_python,
        provides_extra=tuple(extras or ()),
        tags=tuple(tags),
        sdist=sdist,
        wheel=wheel,
        entry_points=entry_points,
        files=files,
        metadata_extra=metadata_extra,
        dynamic=tuple(dynamic),
    )


def build_package(out_dir: Path, spec: PackageSpec) -> list[Path]:
    """Build the wheels (one per tag) and sdist of ``spec`` into ``out_dir``; return the paths."""
    built = []
    if spec.wheel:
        for tag in spec.tags:
            built.append(
                build_wheel(
                    out_dir,
                    spec.name,
                    spec.version,
                    requires_dist=spec.requires_dist,
                    requires_python=spec.requires_python,
                    provides_extra=spec.provides_extra,
                    tag=tag,
                    files=spec.files,
                    entry_points=spec.entry_points,
                    metadata_extra=spec.metadata_extra,
                )
            )
    if spec.sdist:
        built.append(
            build_sdist(
                out_dir,
                spec.name,
                spec.version,
                requires_dist=spec.requires_dist,
                requires_python=spec.requires_python,
                provides_extra=spec.provides_extra,
                files=spec.files,
                entry_points=spec.entry_points,
                dynamic=spec.dynamic,
            )
        )
    return built
