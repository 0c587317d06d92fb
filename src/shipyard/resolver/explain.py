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

How the pieces read is :mod:`~shipyard.resolver.explain_words`; the walk over the
tree is :mod:`~shipyard.resolver.explain_report`. This module turns a failure into
the error to raise, with its notes on Requires-Python and its hints.
"""

from __future__ import annotations

from collections.abc import Sequence

from shipyard.errors import NoMatchingVersionError, PackageNotFoundError, ResolutionError
from shipyard.resolver.explain_report import DerivationReport
from shipyard.resolver.explain_words import (
    Words,
    dependency_child,
    describe_targets,
    join_and,
    python_list,
)
from shipyard.resolver.solver import ROOT, Incompatibility
from shipyard.resolver.terms import DependencyInfo, UnavailableInfo, split_identifier
from shipyard.resolver.universe import Universe
from shipyard.resolver.versions import VersionTable, bit_positions

__all__ = ["describe_targets", "explain_failure", "own_requirements", "requirements_file"]


def _python_notes(leaves: Sequence[Incompatibility], universe: Universe) -> list[str]:
    """Sentences for dependencies whose versions Requires-Python narrowed: "numpy>=2.1
    requires Python >=3.10", grouped per distinct Requires-Python; and for releases
    left out because a newer one caps Python, which release that is."""
    notes: list[str] = []
    words = Words(universe, "")
    for leaf in leaves:
        info = leaf.info
        if not isinstance(info, DependencyInfo):
            continue
        child, bits = dependency_child(leaf)
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
        pythons = join_and(python_list(info.mask, universe))
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
    leaves: Sequence[Incompatibility], universe: Universe, words: Words
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


def requirements_file(origin: str | None) -> str | None:
    """The requirements file a root requirement's origin names: ``requirements.in``
    for ``-r requirements.in`` (``pip compile``, ``pip sync``); ``None`` for a project's
    own requirements (its name, an extra, a group), which pyproject.toml holds."""
    if origin and origin.startswith(("-r ", "-c ")):
        return origin[3:]
    return None


def _pythons_from_command_line(universe: Universe) -> bool:
    """Whether the Pythons resolved for come from the command line (``pip compile``
    of requirements files: the interpreter, ``--python-version``) rather than a
    project's requires-python."""
    return bool(universe.roots) and all(
        requirements_file(root.origin) is not None for root in universe.roots
    )


def _python_hint(fork_mask: int, universe: Universe, roots: Sequence[Incompatibility]) -> str:
    """What to change when Requires-Python leaves the failed fork's Pythons without a
    version: a bound on requires-python that leaves them out, or a marker (for
    requirements files, whose Pythons the command line sets: the Python resolved for,
    or a marker in the file)."""
    failed = python_list(fork_mask, universe)
    every = python_list(universe.all_mask, universe)
    whole_minors = not any(" " in name for name in failed)
    texts = [str(getattr(leaf.info, "text", "")) for leaf in roots]
    files = {requirements_file(getattr(leaf.info, "origin", None)) for leaf in roots}
    in_file = f" in {files.pop()}" if len(files) == 1 and None not in files else ""
    project = not _pythons_from_command_line(universe)
    if failed == every:
        # No Python of the lock is served: leaving them out leaves nothing.
        named = ", ".join(f"'{text}'" for text in texts) or "the requirement"
        other = (
            "change requires-python in pyproject.toml"
            if project
            else "resolve for a Python it supports (--python-version or --python)"
        )
        return f"Relax {named}{in_file} to allow a release that supports these Pythons, or {other}"
    change: str | None
    if whole_minors and failed and failed != every and every[-len(failed) :] == failed:
        change = f"add the upper bound '<{failed[0]}' to requires-python in pyproject.toml"
        marker = f'python_version < "{failed[0]}"'
    elif whole_minors and failed and failed != every and every[: len(failed)] == failed:
        higher = every[len(failed)]
        change = f"raise requires-python in pyproject.toml to '>={higher}'"
        marker = f'python_version >= "{higher}"'
    elif project:
        return (
            "Change requires-python in pyproject.toml, or give the requirement a marker "
            "that leaves those Pythons out"
        )
    else:
        return f"Give the requirement{in_file} a marker that leaves those Pythons out"
    if len(texts) == 1 and ";" not in texts[0]:
        fix = f"write '{texts[0]}; {marker}'{in_file}"
    else:
        fix = f"give the requirement{in_file} the marker {marker}"
    return _sentence(f"{change}, or {fix}" if project else fix)


def _not_found_hint(name: str, universe: Universe) -> str:
    """The hint for a project no source has (without its final full stop): the known
    project whose name is closest to ``name`` when one is close (a misspelling), then
    the index to add. Only names already seen are compared (the lock's, those loaded,
    those find-links and local indexes list): an index's root page is never fetched."""
    import difflib

    known = sorted(universe.known_names() - {name})
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    first = f"Did you mean {close[0]!r}? If not, add" if close else "Check the spelling, or add"
    return f"{first} the index that hosts it with --extra-index-url"


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
    words = Words(universe, project_name)
    leaves = list(failure.leaves())
    roots = [
        leaf
        for leaf in leaves
        if isinstance(leaf.info, DependencyInfo) and leaf.terms[0][0] == ROOT
    ]
    where = "" if everywhere else describe_targets(fork_mask, universe)
    notes = _python_notes(leaves, universe)
    python_only = any(
        isinstance(leaf.info, DependencyInfo)
        and leaf.info.spec_bits
        and not dependency_child(leaf)[1]
        for leaf in leaves
    )
    if everywhere and not python_only:
        notes = []
    if len(roots) == 1 and all(leaf is roots[0] or leaf.kind == "unavailable" for leaf in leaves):
        single = _direct_failure(roots[0], leaves, universe, words, notes, failed_mask)
        if single is not None:
            return single
    lines = [line for line in DerivationReport(words, failure).lines if line]
    missing = _missing_project(leaves, universe, words)
    if missing is not None:
        name, parent = missing
        return PackageNotFoundError(
            f"No index or find-links location has a project named '{name}' (required by "
            f"{parent}).\n" + "\n".join(lines),
            hint=_not_found_hint(name, universe)
            + f"; or relax the requirement that brings in {parent.split()[0]}.",
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
    words: Words,
    notes: Sequence[str],
    fork_mask: int,
) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError | None:
    """The error when one of the project's own requirements fails alone: an unknown
    project, no matching version, or no version for some of the lock's Pythons."""
    info = root.info
    assert isinstance(info, DependencyInfo)
    child, bits = dependency_child(root)
    name = split_identifier(child)[0]
    table = universe.table(name)
    origin = info.origin or words.project_name
    if not table.versions:
        return PackageNotFoundError(
            f"No index or find-links location has a project named '{name}' (required by {origin}).",
            hint=_not_found_hint(name, universe) + ".",
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
        written = requirements_file(info.origin)
        return NoMatchingVersionError(
            f"{origin} depends on {requirement}, and no version of {name} matches it "
            f"(newest available: {newest}).",
            hint=f"Change the requirement '{info.text}'{f' in {written}' if written else ''} "
            "(pre-releases need --prerelease allow), or check the index.",
        )
    if not bits and notes:
        pythons = join_and(python_list(info.mask, universe))
        return ResolutionError(
            f"{name} has no version for Python {pythons}, which the lock covers "
            f"({origin} depends on {requirement}): " + "; ".join(notes) + ".",
            hint=_sentence(_python_hint(fork_mask, universe, [root])) + ".",
        )
    return None
