"""The vocabulary the fork source, the explanations and the lock assembly share:
package identifiers (``name[extra]``), what an incompatibility the world stated
stands for (:class:`DependencyInfo`, :class:`UnavailableInfo`), and the dependency
edges of chosen versions (:class:`Edge`)."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.resolver.solver import Incompatibility

__all__ = [
    "DependencyInfo",
    "Edge",
    "UnavailableInfo",
    "join_identifier",
    "split_identifier",
    "unavailable",
]


def split_identifier(identifier: str) -> tuple[str, str | None]:
    """``"b[x]"`` → ``("b", "x")``; ``"b"`` → ``("b", None)``."""
    name, _, extra = identifier.partition("[")
    return name, (extra[:-1] or None) if extra else None


def join_identifier(name: str, extra: str | None) -> str:
    """``("b", "x")`` → ``"b[x]"``; ``("b", None)`` → ``"b"``."""
    return f"{name}[{extra}]" if extra else name


@dataclass(frozen=True, slots=True)
class DependencyInfo:
    """What a ``dependency`` incompatibility stands for, for explanations.

    :param text: the requirement as written (``"numpy>=1.26; python_version>='3.12'"``).
    :param origin: for the project's own requirements, who declares them.
    :param mask: the fork's targets on which it applies.
    :param spec_bits: the versions its specifier admits, before Requires-Python is
        folded in (the incompatibility's own term is the folded set).
    :param child: the package it requires (the term on it is left out when no version
        is admitted: the incompatibility then rules out the parent alone).
    """

    text: str
    origin: str | None
    mask: int
    spec_bits: int
    child: str


@dataclass(frozen=True, slots=True)
class UnavailableInfo:
    """Why an ``unavailable`` incompatibility rules versions out.

    :param reason: ``"missing"`` (no index has the project), ``"files"`` (no file for
        the fork's targets, or none allowed by exclude-newer/no-binary/only-binary),
        ``"yanked"``, ``"prerelease"``, ``"constraint"``, ``"provided"`` (conda provides
        another version), ``"url"`` (two different direct references), ``"self"`` (the
        version depends on itself at another version), ``"build"`` (its sdist's metadata
        does not build).
    :param detail: words for the message (the constraint text, the provided version…).
    """

    reason: str
    detail: str = ""


def unavailable(package: str, bits: int, reason: str, detail: str = "") -> Incompatibility:
    """The incompatibility "no version of ``package`` in ``bits`` can be used"."""
    return Incompatibility(
        ((package, True, bits),), "unavailable", info=UnavailableInfo(reason, detail)
    )


@dataclass(slots=True)
class Edge:
    """One dependency of a chosen version, as the lock's markers need it.

    :param child: the identifier it requires; :param marker: its marker as written;
    :param extra: the parent's extra (the marker is evaluated with it).
    """

    child: str
    marker: str | None
    extra: str | None
    mask: int
