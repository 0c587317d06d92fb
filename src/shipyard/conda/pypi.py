"""Where the conda and PyPI sides of a project meet.

* The Python interpreter comes from the conda solve: the interpreter request
  (``--python``, ``.python-version``, ``[tool.shipyard] python``) or else
  ``requires-python`` becomes a ``python`` MatchSpec unless the conda
  dependencies already name ``python``.
* Each platform's ``python`` record decides the PyPI target environment of that
  platform (its exact ``python_full_version``).
* Conda packages that are Python distributions are *provided*: the PyPI
  resolution takes them as already there, at the conda version, and never
  installs a second copy. Their PyPI names come from ``[tool.shipyard.conda]
  pypi-mapping`` first, then from a published conda→PyPI mapping when one is
  given, then from the rule conda-forge follows: a package that depends on
  ``python`` (or is ``noarch: python``) carries the PyPI project of the same
  name. At sync time the ``*.dist-info`` directories the conda packages
  installed are the ground truth (see :func:`conda_owned_distributions`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.conda.config import spec_name
from shipyard.conda.records import CondaRecord

__all__ = [
    "conda_owned_distributions",
    "is_python_package",
    "provided_distributions",
    "python_record",
    "python_spec",
]

#: conda packages that depend on python but are not PyPI distributions
_NOT_DISTRIBUTIONS = frozenset({"python", "python_abi", "pip", "setuptools-scm-git-archive"})


def python_spec(
    version: tuple[int, ...], specifier: SpecifierSet | None, requires_python: SpecifierSet | None
) -> str:
    """The ``python`` MatchSpec for an interpreter request.

    :param version: a requested version prefix (``(3, 12)`` → ``python 3.12.*``).
    :param specifier: a requested PEP 440 specifier set (used as the version spec).
    :param requires_python: the project's ``requires-python``, used when nothing else
        was requested.
    :returns: e.g. ``"python 3.12.*"``, ``"python >=3.11"`` or ``"python"``.
    """
    if version:
        text = ".".join(str(p) for p in version)
        return f"python {text}.*" if len(version) < 3 else f"python {text}"
    chosen = specifier if specifier is not None and len(specifier) else requires_python
    if chosen is not None and len(chosen):
        return "python " + ",".join(sorted(str(s) for s in chosen))
    return "python"


def python_record(records: Iterable[CondaRecord]) -> CondaRecord | None:
    """The ``python`` record of one platform's solve, if any."""
    return next((r for r in records if r.name == "python"), None)


def is_python_package(record: CondaRecord) -> bool:
    """Whether a conda record looks like a Python distribution (``noarch: python`` or
    a dependency on ``python``), the conda-forge naming rule's premise."""
    if record.name in _NOT_DISTRIBUTIONS or record.name.startswith("_"):
        return False
    return record.noarch == "python" or any(spec_name(d) == "python" for d in record.depends)


def provided_distributions(
    records: Iterable[CondaRecord],
    overrides: Mapping[str, str],
    published: Mapping[str, str | None] | None = None,
    at_hand: Mapping[str, Sequence[tuple[str, str | None]]] | None = None,
) -> dict[str, Version]:
    """The PyPI distributions a platform's conda records provide.

    :param overrides: conda name → PyPI name from the manifest (wins over everything).
    :param published: conda name → PyPI name (``None``: not a Python distribution) from
        a published mapping; consulted for conda-forge packages not at hand.
    :param at_hand: conda name → ``(PyPI name, version)`` of the ``.dist-info``
        directories its extracted package holds (the package's own word).
    :returns: canonical PyPI name → version (the ``.dist-info``'s, else the conda
        version; entries whose version is not PEP 440 are left out: PyPI specifiers
        cannot judge them).
    """
    provided: dict[str, Version] = {}

    def add(name: str, version: str | None) -> None:
        try:
            provided[canonicalize_name(name)] = Version(version or "")
        except InvalidVersion:
            pass

    for record in records:
        if record.name in _NOT_DISTRIBUTIONS or record.name.startswith("_"):
            continue
        if record.name in overrides:
            add(overrides[record.name], record.version)
            continue
        if at_hand is not None and record.name in at_hand:
            for name, version in at_hand[record.name]:
                add(name, version or record.version)
            continue
        if not is_python_package(record):
            continue
        if (
            published is not None
            and record.channel.endswith("/conda-forge")
            and record.name in published
        ):
            mapped = published[record.name]
            if mapped:
                add(mapped, record.version)
            continue
        add(record.name, record.version)
    return provided


def conda_owned_distributions(prefix: Path) -> dict[str, str]:
    """The ``*.dist-info``/``*.egg-info`` directories conda packages installed in
    ``prefix``, read from ``conda-meta/*.json`` (their ``files`` lists).

    :returns: path of the metadata directory relative to the prefix → the conda
        package's name. Empty when ``prefix`` is not a conda prefix.
    """
    owned: dict[str, str] = {}
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        return owned
    for path in sorted(meta.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = str(data.get("name", ""))
        for file in data.get("files", []):
            parts = str(file).split("/")
            for index, part in enumerate(parts[:-1]):
                if part.endswith((".dist-info", ".egg-info")):
                    owned["/".join(parts[: index + 1])] = name
                    break
    return owned
