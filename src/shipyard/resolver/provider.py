"""What the solver needs to know about Python packages, for one fork of targets.

A universal resolution serves a set of target environments (Python minor ×
platform) at once; bit ``i`` of a *target mask* stands for ``targets[i]``. It
starts as one fork holding every target and splits into forks with fewer
(:mod:`shipyard.resolver.universal`). Within a fork, :class:`ForkSource` turns
the world into PubGrub terms for :class:`~shipyard.resolver.solver.Solver`:

* packages are canonical names, ``name[extra]`` for an extra (which depends on
  ``name`` at the same version, as pip models extras) and :data:`ROOT`;
* a dependency with a marker applies on the targets where the marker holds; one
  that holds on none of the fork's targets is dropped;
* ``Requires-Python`` is folded into each dependency: ``A → B>=2`` on targets ``e``
  admits the versions of ``B>=2`` whose Requires-Python admits at least one Python
  of ``e``. Whether the chosen version serves *every* target that needs it is
  checked when it is chosen and again when the fork is done; where it does not,
  the fork is split (:class:`SplitFork`) so each part gets the newest version its
  Pythons allow — uv's ``requires-python`` fork strategy;
* pre-releases (PEP 440), yanked files (PEP 592), ``exclude-newer``, ``no-binary``
  and ``only-binary`` decide which versions can be *chosen*; versions that cannot
  become ``unavailable`` incompatibilities with the reason, for explanations.

No I/O happens here: versions and metadata come from a :class:`Repository`.

The code lives in modules by job: :mod:`~shipyard.resolver.inputs` (options,
requirements, the repository protocol), :mod:`~shipyard.resolver.terms`
(identifiers, incompatibility causes, edges), :mod:`~shipyard.resolver.fork_signals`
(split/restart/refine), :mod:`~shipyard.resolver.universe` (what forks share) and
:mod:`~shipyard.resolver.fork_source` (the solver's source for one fork). This module
gathers their public names.
"""

from __future__ import annotations

from shipyard.resolver.fork_signals import RefineTargets, RestartFork, SplitFork
from shipyard.resolver.fork_source import ForkSource
from shipyard.resolver.inputs import (
    ForkStrategy,
    PrereleasePolicy,
    Repository,
    ResolutionStrategy,
    ResolveOptions,
    RootRequirement,
)
from shipyard.resolver.solver import ROOT
from shipyard.resolver.terms import DependencyInfo, Edge, UnavailableInfo, split_identifier
from shipyard.resolver.universe import Universe

__all__ = [
    "ROOT",
    "DependencyInfo",
    "Edge",
    "ForkSource",
    "ForkStrategy",
    "PrereleasePolicy",
    "RefineTargets",
    "Repository",
    "ResolutionStrategy",
    "ResolveOptions",
    "RestartFork",
    "RootRequirement",
    "SplitFork",
    "UnavailableInfo",
    "Universe",
    "split_identifier",
]
