"""A conda MatchSpec's version as a PEP 440 specifier, for moving a conda dependency to
the PyPI side (``import --prefer-pypi``).

conda's rules (``conda.models.match_spec``), as py-rattler reads them too:

* ``numpy=1.26`` is fuzzy: ``1.26.*``; with a build string (``numpy=1.26.4=py311_0``)
  it is exact;
* ``numpy==1.26.4`` and ``numpy 1.26.4`` are exact; ``numpy 1.26.*`` / ``1.26*`` match
  the prefix;
* ``>=``, ``<=``, ``>``, ``<``, ``!=``, ``~=`` mean what they mean in PEP 440; ``,`` is
  *and*; ``|`` is *or*, which PEP 440 cannot say;
* a build string, a channel (``conda-forge::``) and a ``[...]`` bracket other than
  ``version=`` do not limit the version.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from shipyard.conda.config import spec_name

__all__ = ["pep440_specifier"]

_OPERATOR = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?(.*)$")
_BRACKET = re.compile(r"\[(.*)\]\s*$")
_BRACKET_VERSION = re.compile(r"""version\s*=\s*["']?([^"',\]]+(?:,[^"',\]]+)*)["']?""")


def pep440_specifier(spec: str) -> str | None:
    """The version limit of MatchSpec ``spec`` as a PEP 440 specifier.

    ``"numpy 1.26.*"`` → ``"==1.26.*"``; ``"numpy=1.26"`` → ``"==1.26.*"``;
    ``"numpy>=1.26,<2"`` → ``">=1.26,<2"``; ``"numpy=1.26.4=py311_0"`` → ``"==1.26.4"``;
    ``"numpy"`` → ``""``.

    :param spec: a MatchSpec string as written in ``environment.yml``.
    :returns: the specifier (``""`` when the version is not limited), or ``None`` when
        PEP 440 cannot say it (``1.26|1.27``, a version that is not PEP 440).
    """
    text = spec.strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    name = spec_name(text)
    rest = text[len(name) :].strip()
    bracket = _BRACKET.search(rest)
    if bracket:
        rest = rest[: bracket.start()].strip()
        inner = _BRACKET_VERSION.search(bracket.group(1))
        if inner and not rest:
            rest = inner.group(1).strip()
    if not rest:
        return ""
    # "numpy >= 1.26 , < 2": conda allows blanks after operators and around commas
    rest = re.sub(r"(==|!=|>=|<=|~=|>|<|=)\s+", r"\1", rest)
    rest = re.sub(r"\s*,\s*", ",", rest)
    fuzzy = False
    if rest.startswith("=") and not rest.startswith("=="):  # "=1.26", "=1.26.4=py311_0"
        version, _, build = rest[1:].partition("=")
        fuzzy = not build.strip() and not any(c in version for c in ",|")
    elif rest.startswith("=="):  # "==1.26.4", "==1.26.4=py311_0", "==1.26.4 py311_0"
        version = re.split(r"[ =]", rest[2:], maxsplit=1)[0]
    else:  # "1.26.*", ">=1.26,<2", "1.26.4 py311_0"
        version = rest.split(" ", 1)[0]
    version = version.strip()
    if not version or version == "*":
        return ""
    if "|" in version or "(" in version:
        return None
    parts = [_part(p, fuzzy=fuzzy) for p in version.split(",")]
    if any(p is None for p in parts):
        return None
    result = ",".join(p for p in parts if p)
    try:
        SpecifierSet(result)
    except InvalidSpecifier:
        return None
    return result


def _part(text: str, *, fuzzy: bool) -> str | None:
    """One ``,``-separated conda version constraint in PEP 440 (``""``: any)."""
    match = _OPERATOR.match(text.strip())
    if match is None:
        return None
    operator, version = match.group(1) or "", match.group(2).strip()
    if version in ("", "*"):
        return "" if operator in ("", "=", "==", ">=") else None
    star = version.endswith("*")
    base = version.rstrip("*").rstrip(".")
    if not base:
        return None
    if operator == "=" or (operator == "" and (star or fuzzy)) or (operator == "==" and star):
        return f"=={base}.*"
    if operator == "":
        return f"=={base}"
    if operator == "!=":
        return f"!={base}.*" if star else f"!={base}"
    return f"{operator}{base}"
