"""The ``tree`` and ``why`` use cases: the locked dependency graph
(:mod:`shipyard.project.lock_graph`) drawn as trees, from ``pylock.toml`` alone.

``tree`` starts at the project and goes down its requirements; ``tree --invert``
and ``why`` start at packages and go up to the project's requirement lines. A
package whose subtree was drawn already is marked ``(*)`` and not drawn again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from shipyard.errors import LockError
from shipyard.lock.pylock import LOCK_FILENAME
from shipyard.project.lock_graph import (
    DirectRequirement,
    GraphPackage,
    PackageKey,
    ProjectGraph,
    key_order,
)

__all__ = ["TreeNode", "dependency_tree", "inverted_tree", "render_tree"]


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One line of a tree and the lines below it."""

    label: str
    children: tuple[TreeNode, ...] = ()


def _package_label(package: GraphPackage, *, extras: str = "", notes: Sequence[str] = ()) -> str:
    text = package.name + extras + (f" {package.version}" if package.version else "")
    notes = [*notes, *([package.source] if package.source else [])]
    if notes:
        text += f" ({', '.join(notes)})"
    if package.marker:
        text += f" ; {package.marker}"
    return text


def _direct_label(graph: ProjectGraph, direct: DirectRequirement, key: PackageKey) -> str:
    requirement = direct.requirement
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    notes = [str(requirement.specifier)] if requirement.specifier else []
    if direct.group is not None:
        notes.append(f"group: {direct.group}")
    if direct.extra is not None:
        notes.append(f"extra: {direct.extra}")
    package = graph.packages[key]
    label = _package_label(package, extras=extras, notes=notes)
    if direct.marker and not package.marker:
        label += f" ; {direct.marker}"
    return label


def _missing_label(direct: DirectRequirement) -> str:
    return f"{direct.requirement} ({direct.where}; not in the lock)"


def _project_label(graph: ProjectGraph) -> str:
    version = f" {graph.project_version}" if graph.project_version else ""
    return graph.project_name + version


class _Builder:
    """Expands each package once; later occurrences are marked ``(*)``."""

    def __init__(self, graph: ProjectGraph, depth: int | None, inverted: bool) -> None:
        self.graph = graph
        self.depth = depth
        self.inverted = inverted
        self.expanded: set[PackageKey] = set()
        self.dependents = graph.dependents() if inverted else {}
        self.requested: dict[PackageKey, list[DirectRequirement]] = {}
        for direct in graph.direct:
            for key in direct.packages:
                self.requested.setdefault(key, []).append(direct)

    def children(self, key: PackageKey) -> list[tuple[PackageKey | None, str]]:
        """(key or ``None`` for a project line, label) of what is below ``key``."""
        if not self.inverted:
            return [
                (k, _package_label(self.graph.packages[k]))
                for k in self.graph.packages[key].dependencies
            ]
        below: list[tuple[PackageKey | None, str]] = [
            (k, _package_label(self.graph.packages[k])) for k in self.dependents.get(key, [])
        ]
        project = _project_label(self.graph)
        for direct in self.requested.get(key, []):
            below.append((None, f"{project} ({direct.where}: {direct.requirement})"))
        return below

    def node(
        self, key: PackageKey, label: str, level: int, path: frozenset[PackageKey]
    ) -> TreeNode:
        below = self.children(key)
        if self.depth is not None and level >= self.depth:
            return TreeNode(label)
        if key in path or (key in self.expanded and below):
            return TreeNode(label + " (*)")
        self.expanded.add(key)
        inner = path | {key}
        return TreeNode(
            label,
            tuple(
                TreeNode(text) if child is None else self.node(child, text, level + 1, inner)
                for child, text in below
            ),
        )


def _keys_for(graph: ProjectGraph, names: Sequence[str]) -> list[PackageKey]:
    """The selected packages of those names.

    :raises LockError: for a name the lock does not hold for this selection.
    """
    keys: list[PackageKey] = []
    for name in names:
        found = graph.find(name)
        if not found and canonicalize_name(name) in graph.locked_names:
            raise LockError(
                f"{name} is in the lock, but the selected groups, extras and target leave it out.",
                hint="Choose another target (or none) with --for-environment, "
                "--python-version and --python-platform; `shipyard tree` also takes "
                "--all-groups and --all-extras.",
            )
        if not found:
            raise LockError(
                f"{name} is not in the lock.",
                context=LOCK_FILENAME,
                hint="Check the spelling; `shipyard tree --all-groups --all-extras` shows "
                "every locked package.",
            )
        keys.extend(found)
    return keys


def dependency_tree(
    graph: ProjectGraph, *, packages: Sequence[str] = (), depth: int | None = None
) -> list[TreeNode]:
    """The project (or each of ``packages``) and what it requires, down to ``depth``
    levels below (``None``: all). A package whose requirements were shown already is
    marked ``(*)`` and not expanded again.

    :raises LockError: when a name of ``packages`` is not selected.
    """
    builder = _Builder(graph, depth, inverted=False)
    if packages:
        return [
            builder.node(key, _package_label(graph.packages[key]), 0, frozenset())
            for key in _keys_for(graph, packages)
        ]
    rows: list[TreeNode] = []
    if depth is None or depth > 0:
        for direct in graph.direct:
            if not direct.packages:
                rows.append(TreeNode(_missing_label(direct)))
            for key in direct.packages:
                rows.append(builder.node(key, _direct_label(graph, direct, key), 1, frozenset()))
    return [TreeNode(_project_label(graph), tuple(rows))]


def inverted_tree(
    graph: ProjectGraph, *, packages: Sequence[str] = (), depth: int | None = None
) -> list[TreeNode]:
    """Each of ``packages`` (default: every package that requires nothing) and what
    requires it, up to the project's own requirement lines (``myproj 0.1.0 (group dev:
    pytest>=8)``), ``depth`` levels up at most.

    :raises LockError: when a name of ``packages`` is not selected.
    """
    builder = _Builder(graph, depth, inverted=True)
    if packages:
        keys = _keys_for(graph, packages)
    else:
        keys = sorted((k for k, p in graph.packages.items() if not p.dependencies), key=key_order)
    return [builder.node(key, _package_label(graph.packages[key]), 0, frozenset()) for key in keys]


_BOXES = {False: ("├── ", "└── ", "│   ", "    "), True: ("|-- ", "`-- ", "|   ", "    ")}


def render_tree(roots: Sequence[TreeNode], *, ascii: bool = False) -> str:
    """The trees as text, one node a line, children under ``├──``/``└──`` (``|--``/
    ```--`` with ``ascii``); ends with a newline unless empty."""
    middle, last, through, blank = _BOXES[ascii]

    def walk(children: Sequence[TreeNode], prefix: str) -> Iterator[str]:
        for index, child in enumerate(children):
            final = index == len(children) - 1
            yield prefix + (last if final else middle) + child.label
            yield from walk(child.children, prefix + (blank if final else through))

    lines: list[str] = []
    for root in roots:
        lines.append(root.label)
        lines.extend(walk(root.children, ""))
    return "".join(line + "\n" for line in lines)
