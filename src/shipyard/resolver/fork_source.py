"""The solver's source for one fork of targets (:class:`ForkSource`, the model is in
:mod:`shipyard.resolver.provider`): which version to try next (yanked and pre-release
rules, preferences, strategy, metadata prefetch), and the incompatibilities a chosen
version brings (its dependencies narrowed by markers and Requires-Python, constraints)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.errors import BuildError
from shipyard.resolver.fork_signals import RestartFork, SplitFork
from shipyard.resolver.solver import ROOT, Incompatibility
from shipyard.resolver.terms import (
    DependencyInfo,
    Edge,
    UnavailableInfo,
    join_identifier,
    split_identifier,
    unavailable,
)
from shipyard.resolver.universe import Universe
from shipyard.resolver.versions import VersionTable, bit_positions

if TYPE_CHECKING:
    from shipyard.resolver.solver import Solver

__all__ = ["ForkSource"]


#: at most this many candidates' metadata is fetched ahead once the solver starts
#: rejecting a package's versions (uv's batch prefetch goes up to 50)
_PREFETCH_AHEAD = 32
#: of those, how many may start an sdist build
_BUILDS_AHEAD = 2


@lru_cache(maxsize=4096)
def _names_prerelease(operator: str, version: str) -> bool:
    """Whether a specifier clause explicitly names a pre-release (``>=2.0b1``)."""
    text = version.rstrip(".*")
    if operator == "!=" or not text[:1].isdigit():
        return False
    try:
        return Version(text).is_prerelease
    except InvalidVersion:
        return False


class ForkSource:
    """The :class:`~shipyard.resolver.solver.Source` for one fork of targets.

    :param fork_mask: the targets this fork serves.
    :param preferred: canonical name → versions chosen by forks resolved before this
        one, tried first after the lock's own preferences (so forks agree wherever they
        can).
    """

    def __init__(
        self, universe: Universe, fork_mask: int, preferred: Mapping[str, Sequence[Version]]
    ) -> None:
        self.universe = universe
        self.fork_mask = fork_mask
        self.preferred = preferred
        self.options = universe.options
        #: identifier → the targets needing it, as estimated when it was chosen
        self.need: dict[str, int] = {ROOT: fork_mask}
        #: identifier → [(parent identifier, parent position, targets of the edge,
        #: versions its specifier admits)]
        self.incoming: dict[str, list[tuple[str, int, int, int]]] = {}
        #: (identifier, position) → the dependency edges of that version, for markers
        self.edges: dict[tuple[str, int], list[Edge]] = {}
        self._order: dict[str, int] = {ROOT: 0}
        self._constrained: set[str] = set()
        self._explicit_pre: set[str] = set()
        #: per project: the position last chosen, and how often a later choice was older
        self._last_choice: dict[str, int] = {}
        self._walked: dict[str, int] = {}
        #: projects one of whose sdists failed to build in this fork
        self._build_failed: set[str] = set()

    # -- Source protocol --------------------------------------------------------------

    def priority(self, package: str) -> tuple[int, ...]:
        """Exact pins and direct references first, then the order packages were met in
        (breadth-first from the project's requirements)."""
        order = self._order.get(package)
        if order is None:
            order = self._order[package] = len(self._order)
        name = split_identifier(package)[0]
        if self.universe.url_of(name) is not None or name in self.options.provided:
            return (0, order)
        return (1, order)

    def choose(self, package: str, allowed: int, solver: Solver) -> int | Incompatibility:
        """The version to try for ``package`` within ``allowed``.

        :raises SplitFork: when the best version serves only some of the targets that
            need the package (and the fork strategy wants the newest per Python range).
        """
        if package == ROOT:
            return 0
        name, extra = split_identifier(package)
        universe = self.universe
        table = universe.table(name)
        need, required = self._need(package, solver)
        candidates = allowed
        if extra is not None:
            # ``name[extra]`` at a version means ``name`` at that version: only the
            # versions the base may still take are worth trying. When there are none,
            # say so as a fact over the whole set (name[extra] ∈ S needs name ∈ S) so
            # the solver learns it at once instead of trying each version in turn.
            positive, bits = solver.term_of(name)
            base = bits if positive else table.all_bits & ~bits
            if not candidates & base:
                return Incompatibility(
                    ((package, True, allowed), (name, False, allowed)),
                    "dependency",
                    info=DependencyInfo(f"{name}[{extra}]", None, self.fork_mask, allowed, name),
                )
            candidates &= base
        # Versions that cannot be chosen are ruled out by one reason at a time, so each
        # explanation names the right one.
        if not _pinned(table, candidates):
            yanked = candidates & ~table.unyanked_bits
            if yanked and not candidates & ~yanked:
                return unavailable(package, yanked, "yanked")
            candidates &= ~yanked
        if not self._prereleases_allowed(name, required & table.all_bits):
            pre = candidates & ~table.stable_bits
            if pre and not candidates & ~pre:
                return unavailable(package, pre, "prerelease")
            candidates &= ~pre
        order = self._order_of(name, table, candidates)
        covering = universe.python_admitting(table, need, every=True)
        # Files: a version with none the lock can use is ruled out. One with files for
        # other targets only (no wheel for Python 3.15 yet) is used when no version
        # has files for this fork's targets, and reported as not covering them. Files
        # are looked at only as far down the order as needed (building them costs).
        if self.options.fork_strategy == "fewest":
            order = [p for p in order if covering >> p & 1] + [
                p for p in order if not covering >> p & 1
            ]
        unusable = 0
        chosen = -1
        fallback = -1
        for index, position in enumerate(order):
            served = universe.served(name, table, position)
            if not served:
                unusable |= 1 << position
            elif served & self.fork_mask:
                chosen = index
                break
            elif fallback < 0:
                fallback = index
        if chosen < 0:
            chosen = fallback
        if chosen < 0:
            return unavailable(package, unusable, "files")
        position = order[chosen]
        last = self._last_choice.get(name)
        self._last_choice[name] = position
        if (
            last is not None
            and position != last
            and table.versions[position].version < (table.versions[last].version)
        ):
            self._walked[name] = self._walked.get(name, 0) + 1
        walked = self._walked.get(name, 0)
        if walked:
            # Walking down the versions: fetch the next ones' metadata now, more with
            # each step down (2, 4, 8 … 32). A package chosen again at the same version
            # after a backjump is not walking; a fetch the resolution does not use is
            # parsing that competes with it. After
            # an sdist of this project failed to build, start building the next few too:
            # such failures come in runs (a backend that needs what this machine lacks),
            # each a backend run of seconds. Otherwise sdists wait until chosen, as the
            # solver often skips whole ranges of them.
            window = min(_PREFETCH_AHEAD, 1 << walked)
            build = name in self._build_failed
            if build:  # the chosen one first, so its build takes a slot first
                universe.repository.prefetch_metadata(table.versions[position], build=True)
            for index, ahead in enumerate(order[chosen + 1 : chosen + 1 + window]):
                universe.repository.prefetch_metadata(
                    table.versions[ahead], build=build and index < _BUILDS_AHEAD
                )
        if not covering >> position & 1:
            admitted = universe.version_admits(table, position) & self.fork_mask
            raise SplitFork(admitted, name, table.versions[position].version)
        return position

    def dependencies(self, package: str, position: int) -> list[Incompatibility]:
        """The incompatibilities of one chosen version: its dependencies (each narrowed to
        the targets its marker holds on), and the constraints on packages met first.

        :raises RestartFork: when its metadata's Requires-Python excludes targets its
            index entry did not say it excludes.
        """
        if package == ROOT:
            return self._root_dependencies()
        universe = self.universe
        name, extra = split_identifier(package)
        table = universe.table(name)
        pv = table.versions[position]
        version_bits = 1 << position
        result: list[Incompatibility] = []
        edges: list[Edge] = []
        self.edges[(package, position)] = edges
        if extra is not None:
            edges.append(Edge(name, None, extra, self.fork_mask))
            self._link(name, position, package, self.fork_mask, version_bits)
            result.append(
                Incompatibility(
                    ((package, True, version_bits), (name, False, version_bits)),
                    "dependency",
                    info=DependencyInfo(
                        f"{name}=={pv.version}", None, self.fork_mask, version_bits, name
                    ),
                )
            )
        if not pv.index and name in self.options.provided:
            return result
        if universe.reporter is not None and extra is None:
            key = (name, pv.version)
            if key not in universe.announced:
                universe.announced.add(key)
                universe.reporter.package_resolved(name, str(pv.version))
        try:
            requirements = universe.requirements_of(name, pv)
        except BuildError as exc:
            # An sdist whose metadata does not build is a version that cannot be used,
            # as pip treats it: the resolution goes on with another one.
            self._build_failed.add(name)
            key = (name, pv.version)
            if universe.reporter is not None and key not in universe.skipped:
                universe.skipped.add(key)
                universe.reporter.warning(
                    f"Skipping {name} {pv.version}: {exc.message.rstrip('.')}."
                )
            return [unavailable(package, version_bits, "build", exc.message)]
        if extra is None and pv.index:
            requires_python = universe.repository.metadata(pv).requires_python
            if (
                requires_python
                and table.set_requires_python(position, requires_python)
                and universe.admitted(requires_python) & self.fork_mask != self.fork_mask
            ):
                raise RestartFork(name)
        if self.options.no_deps:
            return result
        wanted: list[tuple[Requirement, str | None, int]] = []
        for req in requirements:
            marker = str(req.marker) if req.marker is not None else None
            if extra is not None and (marker is None or "extra" not in marker):
                continue  # a base dependency: the base package brings it in
            try:
                mask = universe.marker_mask(marker, extra or "") & self.fork_mask
            except InvalidMarker:
                continue
            if mask:
                wanted.append((req, marker, mask))
                universe.repository.prefetch(canonicalize_name(req.name))
        for req, marker, mask in wanted:
            for child, incompatibility in self._requirement(
                package, version_bits, req, mask, str(req), None
            ):
                edges.append(Edge(child, marker, extra, mask))
                self._link(child, position, package, mask, incompatibility)
                result.extend(incompatibility)
        return result

    # -- helpers ----------------------------------------------------------------------

    def _root_dependencies(self) -> list[Incompatibility]:
        universe = self.universe
        result: list[Incompatibility] = []
        edges: list[Edge] = []
        self.edges[(ROOT, 0)] = edges
        for root in universe.roots:
            req = root.requirement
            name = canonicalize_name(req.name)
            if req.url is not None:
                universe.use_url(name, req.url)
            universe.repository.prefetch(name)
        for root in universe.roots:
            req = root.requirement
            marker = str(req.marker) if req.marker is not None else None
            mask = universe.marker_mask(marker) & self.fork_mask
            if not mask:
                continue
            for child, incompatibility in self._requirement(
                ROOT, 1, req, mask, str(req), root.origin
            ):
                edges.append(Edge(child, marker, None, mask))
                self._link(child, 0, ROOT, mask, incompatibility)
                result.extend(incompatibility)
        return result

    def _link(
        self,
        child: str,
        position: int,
        parent: str,
        mask: int,
        spec: int | Sequence[Incompatibility],
    ) -> None:
        """Record that ``parent`` at ``position`` requires ``child`` on the targets of
        ``mask``, at the versions ``spec`` admits (a bitset, or taken from the
        dependency among the incompatibilities of the requirement)."""
        if not isinstance(spec, int):
            infos = [i.info for i in spec if isinstance(i.info, DependencyInfo)]
            spec = infos[0].spec_bits if infos else -1
        self.incoming.setdefault(child, []).append((parent, position, mask, spec))
        if child not in self._order:
            self._order[child] = len(self._order)

    def _requirement(
        self,
        parent: str,
        parent_bits: int,
        req: Requirement,
        mask: int,
        text: str,
        origin: str | None,
    ) -> Iterable[tuple[str, list[Incompatibility]]]:
        """The incompatibilities of one requirement: one per identifier (the base and
        each extra), each with the constraints on that package if it is new here."""
        universe = self.universe
        name = canonicalize_name(req.name)
        if req.url is not None and not universe.use_url(name, req.url):
            yield (
                name,
                [
                    Incompatibility(
                        ((parent, True, parent_bits),),
                        "unavailable",
                        info=UnavailableInfo("url", f"{name} @ {req.url}"),
                    )
                ],
            )
            return
        table = universe.table(name)
        spec_bits = table.matching(req.specifier)
        if req.url is None and universe.url_of(name) is not None:
            spec_bits = table.all_bits if not len(req.specifier) else spec_bits
        bits = spec_bits & universe.python_admitting(table, mask, every=False)
        if any(_names_prerelease(s.operator, s.version) for s in req.specifier):
            self._explicit_pre.add(name)
        self._prefetch_best(name, table, bits)
        extras = [None, *sorted({canonicalize_name(e) for e in req.extras})]
        for extra in extras:
            child = join_identifier(name, extra)
            info = DependencyInfo(text, origin, mask, spec_bits, child)
            found: list[Incompatibility] = []
            if child == parent:
                if not parent_bits & bits:
                    found.append(
                        Incompatibility(
                            ((parent, True, parent_bits),),
                            "unavailable",
                            info=UnavailableInfo("self", text),
                        )
                    )
                yield child, found
                continue
            terms: tuple[tuple[str, bool, int], ...] = ((parent, True, parent_bits),)
            if bits:
                terms += ((child, False, bits),)
            found.append(Incompatibility(terms, "dependency", info=info))
            if child not in self._constrained:
                self._constrained.add(child)
                found.extend(self._constraints(child, name, table))
            yield child, found

    def _constraints(self, child: str, name: str, table: VersionTable) -> list[Incompatibility]:
        result = []
        for spec, marker in self.options.constraints.get(name, ()):
            if not self.universe.marker_mask(marker) & self.fork_mask:
                continue
            if any(_names_prerelease(s.operator, s.version) for s in spec):
                self._explicit_pre.add(name)
            outside = table.all_bits & ~table.matching(spec)
            if outside:
                text = f"{name}{spec}" + (f"; {marker}" if marker else "")
                result.append(
                    Incompatibility(
                        ((child, True, outside),),
                        "unavailable",
                        info=UnavailableInfo("constraint", text),
                    )
                )
        return result

    def _prefetch_best(self, name: str, table: VersionTable, bits: int) -> None:
        """Start fetching the metadata of the version most likely chosen among ``bits``."""
        likely = bits & table.unyanked_bits & table.stable_bits or bits
        if not likely:
            return
        for version in self.universe.preferences.get(name, ()):
            position = table.position.get(version)
            if position is not None and likely >> position & 1:
                self.universe.repository.prefetch_metadata(table.versions[position])
                return
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.universe.root_names
        )
        position = likely.bit_length() - 1 if lowest else (likely & -likely).bit_length() - 1
        self.universe.repository.prefetch_metadata(table.versions[position])

    def _need(self, package: str, solver: Solver) -> tuple[int, int]:
        """The targets that need ``package`` given the versions decided so far, and the
        versions the specifiers of those requirements admit."""
        decisions = solver.decisions
        need = 0
        admitted = -1
        for parent, position, mask, spec in self.incoming.get(package, ()):
            if decisions.get(parent) == position:
                need |= mask & self.need.get(parent, self.fork_mask)
                admitted &= spec
        need = need or self.fork_mask
        self.need[package] = need
        return need, admitted

    def _prereleases_allowed(self, name: str, required: int) -> bool:
        """PEP 440's rule, as uv applies it: pre-releases only when the policy allows
        them, a specifier names one, or the requirements (``required``: the versions
        their specifiers admit) leave no final release."""
        policy = self.options.prerelease
        if policy == "allow":
            return True
        if policy == "disallow":
            return False
        if policy == "if-necessary-or-explicit" and name in self._explicit_pre:
            return True
        return not required & self.universe.table(name).stable_bits

    def _order_of(self, name: str, table: VersionTable, candidates: int) -> list[int]:
        """Positions of ``candidates`` in the order to try them: the lock's preferences,
        the versions earlier forks chose, then by the resolution strategy."""
        positions = bit_positions(candidates)
        lowest = self.options.strategy == "lowest" or (
            self.options.strategy == "lowest-direct" and name in self.universe.root_names
        )
        if lowest:
            positions.reverse()
        first: list[int] = []
        for version in (*self.universe.preferences.get(name, ()), *self.preferred.get(name, ())):
            position = table.position.get(version)
            if position is not None and candidates >> position & 1 and position not in first:
                first.append(position)
        if not first:
            return positions
        rest = [p for p in positions if p not in first]
        return first + rest

    # -- after the solver ---------------------------------------------------------------

    def exact_need(self, decisions: Mapping[str, int]) -> dict[str, int]:
        """The targets that need each decided package in the finished solution (the
        least fixed point over the dependency edges of the decided versions)."""
        need = {ROOT: self.fork_mask}
        changed = True
        while changed:
            changed = False
            for child, parents in self.incoming.items():
                if child not in decisions:
                    continue
                mask = 0
                for parent, position, edge, _spec in parents:
                    if decisions.get(parent) == position:
                        mask |= edge & need.get(parent, 0)
                if mask != need.get(child, 0):
                    need[child] = mask
                    changed = True
        return need

    def uncovered(
        self, decisions: Mapping[str, int], need: Mapping[str, int], order: Sequence[str]
    ) -> SplitFork | None:
        """The first decided version (in decision ``order``) whose Requires-Python leaves
        out targets that need it, as the split to make; ``None`` when all serve."""
        universe = self.universe
        for package in order:
            if package == ROOT:
                continue
            name = split_identifier(package)[0]
            table = universe.table(name)
            position = decisions[package]
            admitted = universe.version_admits(table, position)
            wanted = need.get(package, 0)
            if wanted & ~admitted:
                return SplitFork(admitted & self.fork_mask, name, table.versions[position].version)
        return None


def _pinned(table: VersionTable, candidates: int) -> bool:
    """Whether ``candidates`` are all one release (``==1.0`` pins it; PEP 592 lets a
    yanked version be chosen then)."""
    low = (candidates & -candidates).bit_length() - 1
    return candidates & ~table.equal_to(str(table.versions[low].version)) == 0
