"""Turn a failed resolution's derivation tree into sentences a user can act on.

A PubGrub failure is the incompatibility ``{root}`` with two causes, each an
incompatibility derived the same way or one the world stated: a dependency
("pandas>=2.2 depends on numpy>=1.26"), versions that cannot be used, a
constraint. The report follows pubgrub-rs' reporter, which follows pub's: walk
the tree, state external facts in pairs, number the conclusions reused later,
and write each derived one as "Because …, …" / "And because …, …". Sets of
versions are written as ranges (:func:`~shipyard.resolver.versions.describe`),
so "scikit-learn>=1.5 depends on scipy>=1.6" rather than a list of releases.

The project's own requirements are named with where they come from
(``pyproject.toml``, a dependency group, ``requirements.in``) and end the
message as what to relax. A failure in a fork names the targets it holds on.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement

from shipyard.errors import NoMatchingVersionError, PackageNotFoundError, ResolutionError
from shipyard.resolver.provider import (
    ROOT,
    DependencyInfo,
    UnavailableInfo,
    Universe,
    split_identifier,
)
from shipyard.resolver.solver import Incompatibility
from shipyard.resolver.versions import VersionTable, bit_positions, describe

__all__ = ["explain_failure"]


def _child(leaf: Incompatibility) -> tuple[str, int]:
    """A dependency's child and the versions it admits (none when the term was dropped)."""
    info = leaf.info
    assert isinstance(info, DependencyInfo)
    return info.child, leaf.terms[1][2] if len(leaf.terms) > 1 else 0


def _python_list(mask: int, universe: Universe) -> list[str]:
    """The Pythons of the targets in ``mask``: ``"3.12"`` for a whole minor, ``"3.9 from
    3.9.2"`` or ``"3.9 before 3.9.2"`` where a patch boundary splits it."""
    points: dict[tuple[int, int], list[tuple[int, bool]]] = {}
    for i, target in enumerate(universe.targets):
        patch = int(target.markers["python_full_version"].split(".")[2])
        entry = points.setdefault(target.python, [])
        inside = bool(mask >> i & 1)
        known = next((k for k, (p, _x) in enumerate(entry) if p == patch), None)
        if known is None:
            entry.append((patch, inside))
        elif inside:
            entry[known] = (patch, True)
    names: list[str] = []
    for (major, minor), entry in sorted(points.items()):
        entry.sort()
        chosen = [patch for patch, inside in entry if inside]
        if not chosen:
            continue
        if len(chosen) == len(entry):
            names.append(f"{major}.{minor}")
        elif chosen[0] != entry[0][0]:
            names.append(f"{major}.{minor} from {major}.{minor}.{chosen[0]}")
        else:
            first_out = next(patch for patch, inside in entry if not inside)
            names.append(f"{major}.{minor} before {major}.{minor}.{first_out}")
    return names


def _join(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


_PLATFORM_NAMES = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}


def describe_targets(mask: int, universe: Universe) -> str:
    """Words for a set of targets, exact for any set: ``"Python 3.12 and 3.13"``,
    ``"macOS x86_64"`` (every Python), ``"Python 3.10 on Windows AMD64"``, or per
    platform ``"macOS x86_64; Python 3.15 on Linux aarch64"``."""
    targets = universe.targets
    platforms: dict[tuple[str, str], int] = {}
    for i, target in enumerate(targets):
        platforms.setdefault((target.platform, target.machine), 0)
        if mask >> i & 1:
            platforms[(target.platform, target.machine)] |= 1 << i
    chosen = {key: bits for key, bits in platforms.items() if bits}
    if not chosen:
        return "no target"
    every = _python_list(universe.all_mask, universe)
    pythons = {key: _python_list(bits, universe) for key, bits in chosen.items()}

    def platform(key: tuple[str, str]) -> str:
        return f"{_PLATFORM_NAMES.get(key[0], key[0])} {key[1]}"

    if len(set(map(tuple, pythons.values()))) == 1:
        shared = next(iter(pythons.values()))
        where = "" if len(chosen) == len(platforms) else _join([platform(k) for k in chosen])
        if shared == every:
            return where or "every target"
        text = "Python " + _join(shared)
        return f"{text} on {where}" if where else text
    parts = []
    for key, names in pythons.items():
        parts.append(
            platform(key) if names == every else f"Python {_join(names)} on {platform(key)}"
        )
    return "; ".join(parts)


class _Words:
    """How terms and incompatibilities read."""

    def __init__(self, universe: Universe, project_name: str) -> None:
        self.universe = universe
        self.project_name = project_name

    def versions(self, package: str, bits: int) -> str:
        """``"numpy>=1.26"``, ``"numpy"`` (any version), ``"pandas 2.2.3"`` (one)."""
        name = split_identifier(package)[0]
        table = self.universe.table(name)
        if bits.bit_count() == 1:
            version = table.versions[bits.bit_length() - 1].version
            if self.universe.options.provided.get(name) == version:
                return f"{package} {version} (provided by the conda packages)"
            return f"{package} {version}"
        # Pre-releases and yanked versions are never candidates unless nothing else is:
        # leave them out of ranges that also hold final releases.
        final = bits & table.stable_bits & table.unyanked_bits
        text = describe(table, final or bits)
        if text == "(none)":
            return f"no version of {package}"
        if " or " in text:
            return f"{package} {text}"
        return f"{package}{text}"

    def requirement(self, info: DependencyInfo, child: str, bits: int) -> str:
        """A dependency's child as written (``"numpy>=1.26; python_version < '3.12'"``)."""
        try:
            req = Requirement(info.text)
        except InvalidRequirement:
            return self.versions(child, bits)
        extra = split_identifier(child)[1]
        text = (
            f"{child}{req.specifier}" if extra or not req.extras else f"{req.name}{req.specifier}"
        )
        if req.url:
            text = f"{child} @ {req.url}"
        if req.marker is not None:
            text += f" (where {req.marker})"
        return text

    def external(self, incompatibility: Incompatibility) -> str:
        """A fact the world stated."""
        info = incompatibility.info
        terms = incompatibility.terms
        if incompatibility.kind == "dependency" and isinstance(info, DependencyInfo):
            parent, _p, parent_bits = terms[0]
            child, child_bits = _child(incompatibility)
            child_name = split_identifier(child)[0]
            table = self.universe.table(child_name)
            url = self.universe.url_of(child_name)
            if not table.versions:
                what = f"{child}, which no index has"
            else:
                what = self.requirement(info, child, child_bits)
                if url is not None and url not in info.text:
                    version = table.versions[0].version
                    what += f", but {child_name} comes from {url} ({version})"
            if info.spec_bits and not child_bits:
                pythons = _join(_python_list(info.mask, self.universe))
                what += f", which has no version for Python {pythons}"
            if parent == ROOT:
                origin = info.origin or self.project_name
                return f"{origin} depends on {what}"
            return f"{self.versions(parent, parent_bits)} depends on {what}"
        if incompatibility.kind == "unavailable" and isinstance(info, UnavailableInfo):
            package, _positive, bits = terms[0]
            versions = self.versions(package, bits)
            reason = info.reason
            one = bits.bit_count() == 1
            if reason == "yanked":
                return f"{versions} {'is' if one else 'are'} yanked"
            if reason == "prerelease":
                why = (
                    "--prerelease disallow rules them out"
                    if self.universe.options.prerelease == "disallow"
                    else "pre-releases need --prerelease allow or a specifier that names one"
                )
                what = "is a pre-release" if one else "are only pre-releases"
                return f"{versions} {what} ({why})"
            if reason == "constraint":
                return f"the constraint {info.detail} rules out {versions}"
            if reason == "url":
                return f"{versions} depends on {info.detail}, another source than the one required"
            if reason == "build":
                return f"{versions} cannot be used: its metadata does not build ({info.detail})"
            if reason == "self":
                return f"{versions} depends on itself at another version ({info.detail})"
            return f"{versions} {'has' if one else 'have'} no usable file for these targets"
        return self.conclusion(incompatibility)

    def conclusion(self, incompatibility: Incompatibility) -> str:
        """What a derived incompatibility says: the versions it rules out together, or
        what they require (``{a ∈ A, ¬b ∈ B}``: "a A requires b B")."""
        if incompatibility.is_failure():
            return "the requirements cannot be met"
        has_root = any(t[0] == ROOT for t in incompatibility.terms)
        positive = [t for t in incompatibility.terms if t[1] and t[0] != ROOT]
        negative = [t for t in incompatibility.terms if not t[1]]
        used = [self.versions(p, b) for p, _x, b in positive]
        if not negative:
            if len(used) == 1:
                return f"{used[0]} cannot be used"
            return _join(used) + " cannot be used together"
        if used:
            subject = used[0] if len(used) == 1 else _join(used) + " together"
        else:
            subject = self.project_name if has_root else "the requirements"
        required = " or ".join(self.versions(p, b) for p, _x, b in negative)
        verb = "requires" if len(used) == 1 or (not used and has_root) else "require"
        return f"{subject} {verb} {required}"


def _is_root(incompatibility: Incompatibility) -> bool:
    return incompatibility.kind == "dependency" and incompatibility.terms[0][0] == ROOT


class _Report:
    """pubgrub-rs' reporter: lines of "Because …, …" over the derivation tree."""

    def __init__(self, words: _Words, failure: Incompatibility) -> None:
        self.words = words
        self.lines: list[str] = []
        self.refs: dict[int, int] = {}
        self.count = 0
        uses: dict[int, int] = {}
        stack = [failure]
        visited: set[int] = set()
        while stack:
            node = stack.pop()
            if node.causes is None:
                continue
            for cause in node.causes:
                uses[id(cause)] = uses.get(id(cause), 0) + 1
                if id(cause) not in visited:
                    visited.add(id(cause))
                    stack.append(cause)
        self.shared = {key for key, count in uses.items() if count > 1}
        if failure.causes is None:
            self.lines.append(words.external(failure).capitalize() + ".")
        else:
            self._build(failure)

    def _ref(self, node: Incompatibility) -> int | None:
        return self.refs.get(id(node))

    def _add_ref(self) -> int:
        self.count += 1
        if self.lines:
            self.lines[-1] = f"{self.lines[-1]} ({self.count})"
        return self.count

    def _build(self, node: Incompatibility) -> None:
        self._helper(node)
        if id(node) in self.shared and id(node) not in self.refs:
            self.refs[id(node)] = self._add_ref()

    def _helper(self, node: Incompatibility) -> None:
        assert node.causes is not None
        first, second = node.causes
        words = self.words
        current = words.conclusion(node)
        if first.causes is None and second.causes is None:
            if _is_root(second) and not _is_root(first):
                first, second = second, first  # the project's own requirement first
            self.lines.append(
                f"Because {words.external(first)} and {words.external(second)}, {current}."
            )
        elif second.causes is None:
            self._one_each(first, second, current)
        elif first.causes is None:
            self._one_each(second, first, current)
        else:
            ref1, ref2 = self._ref(first), self._ref(second)
            if ref1 is not None and ref2 is not None:
                self.lines.append(
                    f"Because {words.conclusion(first)} ({ref1}) and "
                    f"{words.conclusion(second)} ({ref2}), {current}."
                )
            elif ref1 is not None:
                self._build(second)
                self.lines.append(f"And because {words.conclusion(first)} ({ref1}), {current}.")
            elif ref2 is not None:
                self._build(first)
                self.lines.append(f"And because {words.conclusion(second)} ({ref2}), {current}.")
            else:
                self._build(first)
                if id(first) in self.shared:
                    self.lines.append("")
                    self._build(node)
                else:
                    ref = self._add_ref()
                    self.refs[id(first)] = ref
                    self.lines.append("")
                    self._build(second)
                    self.lines.append(f"And because {words.conclusion(first)} ({ref}), {current}.")

    def _one_each(self, derived: Incompatibility, external: Incompatibility, current: str) -> None:
        words = self.words
        ref = self._ref(derived)
        if ref is not None:
            self.lines.append(
                f"Because {words.conclusion(derived)} ({ref}) and {words.external(external)}, "
                f"{current}."
            )
            return
        assert derived.causes is not None
        a, b = derived.causes
        if a.causes is not None and b.causes is None and self._ref(a) is None:
            self._build(a)
            self.lines.append(
                f"And because {words.external(b)} and {words.external(external)}, {current}."
            )
        elif b.causes is not None and a.causes is None and self._ref(b) is None:
            self._build(b)
            self.lines.append(
                f"And because {words.external(a)} and {words.external(external)}, {current}."
            )
        else:
            self._build(derived)
            self.lines.append(f"And because {words.external(external)}, {current}.")


def _python_notes(leaves: Sequence[Incompatibility], universe: Universe) -> list[str]:
    """Sentences for dependencies whose versions Requires-Python narrowed: "numpy>=2.1
    requires Python >=3.10", grouped per distinct Requires-Python; and for releases
    left out because a newer one caps Python, which release that is."""
    notes: list[str] = []
    words = _Words(universe, "")
    for leaf in leaves:
        info = leaf.info
        if not isinstance(info, DependencyInfo):
            continue
        child, bits = _child(leaf)
        name = split_identifier(child)[0]
        table = universe.table(name)
        removed = info.spec_bits & ~bits
        if not removed:
            continue
        by_text: dict[str, int] = {}
        inherited = 0
        for position in bit_positions(removed & table.stable_bits & table.unyanked_bits or removed):
            texts = [t for t in table.requires_python[position] if t]
            own = 0
            for text in table.requires_python[position]:
                own |= universe.all_mask if text is None else universe.admitted(text)
            if own & info.mask:
                inherited |= 1 << position
            elif texts:
                by_text[texts[0]] = by_text.get(texts[0], 0) | 1 << position
        pythons = _join(_python_list(info.mask, universe))
        if len(by_text) + bool(inherited) > 2:
            # Many releases, many reasons: the newest one's, and the conclusion.
            final = removed & table.stable_bits & table.unyanked_bits or removed
            newest = (final & -final).bit_length() - 1
            text = ", ".join(t for t in table.requires_python[newest] if t) or "another Python"
            notes.append(
                f"{name} {table.versions[newest].version} (the newest that matches) requires "
                f"Python {text}, and no older release serves Python {pythons}"
            )
            continue
        for text, versions in by_text.items():
            subject = words.versions(name, versions)
            if subject == name:
                subject = f"every version of {name}"
            notes.append(f"{subject} requires Python {text}, so it cannot serve Python {pythons}")
        if inherited:
            capper = _capping_release(name, table, universe, info.mask, inherited)
            notes.append(
                f"{words.versions(name, inherited)} {'is' if inherited.bit_count() == 1 else 'are'}"
                f" not used for Python {pythons} either: {capper}, and older releases "
                "do not support a Python a newer one rules out"
            )
    return list(dict.fromkeys(notes))


def _capping_release(
    name: str, table: VersionTable, universe: Universe, mask: int, older: int
) -> str:
    """``"lib 2.0 requires Python >=3.10,<3.14"``: the nearest final release newer than
    every version of ``older`` whose Requires-Python caps off the targets of ``mask``
    (all of them when one does, else the nearest that caps some)."""
    newest_older = (older & -older).bit_length() - 1
    partial: str | None = None
    for position in range(newest_older - 1, -1, -1):
        if not (table.stable_bits & table.unyanked_bits) >> position & 1:
            continue
        capped = universe.capped(table.requires_python[position]) & mask
        if not capped:
            continue
        text = ", ".join(t for t in table.requires_python[position] if t)
        found = f"{name} {table.versions[position].version} requires Python {text}"
        if capped == mask:
            return found
        partial = partial or found
    return partial or "a newer release caps Python below them"


def _missing_project(
    leaves: Sequence[Incompatibility], universe: Universe, words: _Words
) -> tuple[str, str] | None:
    """The first project no index has that a dependency (not the project's own
    requirement) names, with the version that requires it."""
    for leaf in leaves:
        info = leaf.info
        if not isinstance(info, DependencyInfo) or leaf.terms[0][0] == ROOT:
            continue
        name = split_identifier(info.child)[0]
        if not universe.table(name).versions:
            parent, _positive, bits = leaf.terms[0]
            return name, words.versions(parent, bits)
    return None


def _python_hint(fork_mask: int, universe: Universe, roots: Sequence[Incompatibility]) -> str:
    """What to change when Requires-Python leaves the failed fork's Pythons without a
    version: a bound on requires-python that leaves them out, or a marker."""
    failed = _python_list(fork_mask, universe)
    every = _python_list(universe.all_mask, universe)
    whole_minors = not any(" " in name for name in failed)
    texts = [str(getattr(leaf.info, "text", "")) for leaf in roots]
    if failed == every:
        # No Python of the lock is served: leaving them out leaves nothing.
        named = ", ".join(f"'{text}'" for text in texts) or "the requirement"
        return (
            f"Relax {named} to allow a release that supports these Pythons, or change "
            "requires-python in pyproject.toml"
        )
    if whole_minors and failed and failed != every and every[-len(failed) :] == failed:
        change = f"add the upper bound '<{failed[0]}' to requires-python in pyproject.toml"
        marker = f'python_version < "{failed[0]}"'
    elif whole_minors and failed and failed != every and every[: len(failed)] == failed:
        higher = every[len(failed)]
        change = f"raise requires-python in pyproject.toml to '>={higher}'"
        marker = f'python_version >= "{higher}"'
    else:
        return (
            "Change requires-python in pyproject.toml, or give the requirement a marker "
            "that leaves those Pythons out"
        )
    if len(texts) == 1 and ";" not in texts[0]:
        return f"{change[0].upper()}{change[1:]}, or write '{texts[0]}; {marker}'"
    return f"{change[0].upper()}{change[1:]}, or give the requirement the marker {marker}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def explain_failure(
    failure: Incompatibility,
    *,
    universe: Universe,
    fork_mask: int,
    failed_mask: int,
    everywhere: bool,
    project_name: str,
) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError:
    """The error for a resolution that failed.

    :param failure: the solver's derived failure (its causes are the derivation).
    :param fork_mask: the targets of the fork ``failure`` comes from.
    :param failed_mask: every target no fork could serve.
    :param everywhere: no fork succeeded: the failure is not about some targets, and
        the message does not name them.
    :returns: the error to raise (the caller raises it).
    """
    words = _Words(universe, project_name)
    leaves = list(failure.leaves())
    roots = [
        leaf
        for leaf in leaves
        if isinstance(leaf.info, DependencyInfo) and leaf.terms[0][0] == ROOT
    ]
    where = "" if everywhere else describe_targets(fork_mask, universe)
    notes = _python_notes(leaves, universe)
    python_only = any(
        isinstance(leaf.info, DependencyInfo) and leaf.info.spec_bits and not _child(leaf)[1]
        for leaf in leaves
    )
    if everywhere and not python_only:
        notes = []
    if len(roots) == 1 and all(leaf is roots[0] or leaf.kind == "unavailable" for leaf in leaves):
        single = _direct_failure(roots[0], leaves, universe, words, notes, failed_mask)
        if single is not None:
            return single
    lines = [line for line in _Report(words, failure).lines if line]
    missing = _missing_project(leaves, universe, words)
    if missing is not None:
        name, parent = missing
        return PackageNotFoundError(
            f"No index or find-links location has a project named '{name}' (required by "
            f"{parent}).\n" + "\n".join(lines),
            hint="Check the spelling, or add the index that hosts it with --extra-index-url; "
            f"or relax the requirement that brings in {parent.split()[0]}.",
        )
    text = "\n".join(lines)
    if where:
        text = f"On {where}: {text[:1].lower()}{text[1:]}"
        others = failed_mask & ~fork_mask
        if others:
            text += f"\nThe lock cannot serve {describe_targets(others, universe)} either."
    if notes:
        text += "\n(" + "; ".join(notes) + ".)"
    named = own_requirements([failure], universe, project_name)
    constraints = [
        leaf.info.detail
        for leaf in leaves
        if isinstance(leaf.info, UnavailableInfo) and leaf.info.reason == "constraint"
    ]
    hints = []
    if notes:
        hints.append(_python_hint(failed_mask, universe, roots))
    if named:
        hints.append(f"relax one of your requirements: {', '.join(named)}")
    if constraints:
        hints.append(
            f"or the constraint {', '.join(dict.fromkeys(constraints))} "
            "([tool.shipyard] constraint-dependencies, or a -c file)"
        )
    if where and not notes:
        failed = describe_targets(failed_mask, universe)
        hints.append(
            f"or leave {failed} out of the lock (requires-python, or [tool.shipyard] environments)"
        )
    hint = _sentence("; ".join(hints) if hints else "relax one of the requirements above") + "."
    return ResolutionError(text, hint=hint)


def own_requirements(
    failures: Sequence[Incompatibility], universe: Universe, project_name: str
) -> list[str]:
    """The project's own requirements the derivations of ``failures`` rest on, in
    manifest order, each as written with where it comes from unless that is the
    project (``["pandas>=2.2", "pytest<7 (group dev)"]``): the ones to suggest
    relaxing."""
    leaves = [leaf for failure in failures for leaf in failure.leaves()]
    roots = [
        leaf
        for leaf in leaves
        if isinstance(leaf.info, DependencyInfo) and leaf.terms[0][0] == ROOT
    ]
    order = {str(root.requirement): i for i, root in enumerate(universe.roots)}
    named_roots = [
        (leaf.info.text, leaf.info.origin or "")
        for leaf in roots
        if isinstance(leaf.info, DependencyInfo)
    ]
    # A direct reference shapes the versions a package has without being a step of
    # the derivation: name it where a requirement on that package is one.
    for leaf in leaves:
        if isinstance(leaf.info, DependencyInfo):
            url = universe.url_of(split_identifier(leaf.info.child)[0])
            named_roots.extend(
                (str(root.requirement), root.origin)
                for root in universe.roots
                if url is not None and root.requirement.url == url
            )
    own = sorted(
        dict.fromkeys((order.get(text, len(order)), text, origin) for text, origin in named_roots)
    )
    return [
        f"{text} ({origin})" if origin and origin != project_name else text
        for _index, text, origin in own
    ]


def _direct_failure(
    root: Incompatibility,
    leaves: Sequence[Incompatibility],
    universe: Universe,
    words: _Words,
    notes: Sequence[str],
    fork_mask: int,
) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError | None:
    """The error when one of the project's own requirements fails alone: an unknown
    project, no matching version, or no version for some of the lock's Pythons."""
    info = root.info
    assert isinstance(info, DependencyInfo)
    child, bits = _child(root)
    name = split_identifier(child)[0]
    table = universe.table(name)
    origin = info.origin or words.project_name
    if not table.versions:
        return PackageNotFoundError(
            f"No index or find-links location has a project named '{name}' (required by {origin}).",
            hint="Check the spelling, or add the index that hosts it with --extra-index-url.",
        )
    requirement = words.requirement(info, child, bits)
    provided = universe.options.provided.get(name)
    if provided is not None and not info.spec_bits:
        return ResolutionError(
            f"{origin} depends on {requirement}, but {name} {provided} is provided by the "
            "conda packages, so the requirements cannot be met.",
            hint=f"Relax the requirement on {name} ('{info.text}'), or ask conda for a version "
            "that satisfies it in [tool.shipyard.conda] dependencies.",
        )
    if not info.spec_bits:
        newest = ", ".join(str(pv.version) for pv in table.versions[:5])
        return NoMatchingVersionError(
            f"{origin} depends on {requirement}, and no version of {name} matches it "
            f"(newest available: {newest}).",
            hint=f"Change the requirement '{info.text}' (pre-releases need --prerelease "
            "allow), or check the index.",
        )
    if not bits and notes:
        pythons = _join(_python_list(info.mask, universe))
        return ResolutionError(
            f"{name} has no version for Python {pythons}, which the lock covers "
            f"({origin} depends on {requirement}): " + "; ".join(notes) + ".",
            hint=_sentence(_python_hint(fork_mask, universe, [root])) + ".",
        )
    return None
