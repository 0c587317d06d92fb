"""A small algebra of PEP 508 markers, for building the markers of a universal lock.

A marker expression is an immutable, hashable tree:

* :class:`MarkerAtom` — one comparison, ``variable op "value"`` (or
  ``"value" in variable`` for the membership form, see
  :attr:`MarkerAtom.value_first`);
* :class:`MarkerAnd` / :class:`MarkerOr` — a flattened frozenset of children;
* :data:`TRUE` (the empty ``and``) and :data:`FALSE` (the empty ``or``).

Build expressions with :func:`parse_marker`, :func:`marker_and`,
:func:`marker_or` and :func:`marker_not`; reduce them with :func:`simplify`
(which goes through :func:`to_dnf`); write them with :func:`render`; test them
with :func:`evaluate` and :func:`evaluate_mask`.

The variables are those of PEP 508 plus the lock-file variables of PEP 751
(``'dev' in dependency_groups``, ``'plots' in extras``). Legacy dotted names
(``os.name``, ``sys.platform``, …) are accepted and mapped to the modern ones.
Extra names are normalized per PEP 685.

Semantics follow ``packaging`` 26 (:meth:`packaging.markers.Marker.evaluate`):
a comparison on a version-valued variable (``python_version``,
``python_full_version``, ``implementation_version``, ``platform_release``)
whose value forms a valid specifier is a PEP 440 specifier test; anything else
is a string comparison in which ``<`` and ``>`` are never true and ``<=`` and
``>=`` mean ``==``.

Two approximations are documented where they apply: negating an ordered
version comparison (``<`` ↔ ``>=``) is exact for final releases, not for
pre-releases of the compared version (PEP 440 makes ``python_full_version <
"3.13"`` and ``>= "3.13"`` both false on ``3.13.0rc1``); and :func:`simplify`
assumes ``python_version`` is the ``X.Y`` prefix of ``python_full_version``,
as it is on every interpreter.
"""

from shipyard.specs.markers.algebra import marker_and, marker_not, marker_or, to_dnf
from shipyard.specs.markers.evaluate import evaluate, evaluate_mask, substitute, substitute_extra
from shipyard.specs.markers.parse import from_packaging, parse_marker
from shipyard.specs.markers.render import render, render_for_lock
from shipyard.specs.markers.simplify import simplify
from shipyard.specs.markers.tree import (
    FALSE,
    FALSE_MARKER,
    TRUE,
    VARIABLES,
    Environment,
    EvaluateContext,
    MarkerAnd,
    MarkerAtom,
    MarkerExpression,
    MarkerOr,
)

__all__ = [
    "FALSE",
    "FALSE_MARKER",
    "TRUE",
    "VARIABLES",
    "Environment",
    "EvaluateContext",
    "MarkerAnd",
    "MarkerAtom",
    "MarkerExpression",
    "MarkerOr",
    "evaluate",
    "evaluate_mask",
    "from_packaging",
    "marker_and",
    "marker_not",
    "marker_or",
    "parse_marker",
    "render",
    "render_for_lock",
    "simplify",
    "substitute",
    "substitute_extra",
    "to_dnf",
]
