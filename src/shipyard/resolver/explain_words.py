"""How the pieces of a failed resolution read: targets (:func:`describe_targets`),
the Pythons of a set of targets, versions as ranges, and each incompatibility as a
sentence (:class:`Words`)."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement

from shipyard.resolver.solver import ROOT, Incompatibility
from shipyard.resolver.terms import DependencyInfo, UnavailableInfo, split_identifier
from shipyard.resolver.universe import Universe
from shipyard.resolver.versions import describe

__all__ = ["Words", "dependency_child", "describe_targets", "join_and", "python_list"]


def dependency_child(leaf: Incompatibility) -> tuple[str, int]:
    """A dependency's child and the versions it admits (none when the term was dropped)."""
    info = leaf.info
    assert isinstance(info, DependencyInfo)
    return info.child, leaf.terms[1][2] if len(leaf.terms) > 1 else 0


def python_list(mask: int, universe: Universe) -> list[str]:
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


def join_and(items: Sequence[str]) -> str:
    """``"a, b and c"``: ``items`` joined for a sentence."""
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
    every = python_list(universe.all_mask, universe)
    pythons = {key: python_list(bits, universe) for key, bits in chosen.items()}

    def platform(key: tuple[str, str]) -> str:
        return f"{_PLATFORM_NAMES.get(key[0], key[0])} {key[1]}"

    if len(set(map(tuple, pythons.values()))) == 1:
        shared = next(iter(pythons.values()))
        where = "" if len(chosen) == len(platforms) else join_and([platform(k) for k in chosen])
        if shared == every:
            return where or "every target"
        text = "Python " + join_and(shared)
        return f"{text} on {where}" if where else text
    parts = []
    for key, names in pythons.items():
        parts.append(
            platform(key) if names == every else f"Python {join_and(names)} on {platform(key)}"
        )
    return "; ".join(parts)


class Words:
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
            child, child_bits = dependency_child(incompatibility)
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
                pythons = join_and(python_list(info.mask, self.universe))
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
            return join_and(used) + " cannot be used together"
        if used:
            subject = used[0] if len(used) == 1 else join_and(used) + " together"
        else:
            subject = self.project_name if has_root else "the requirements"
        required = " or ".join(self.versions(p, b) for p, _x, b in negative)
        verb = "requires" if len(used) == 1 or (not used and has_root) else "require"
        return f"{subject} {verb} {required}"
