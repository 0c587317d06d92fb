"""Backtracking traps modelled on real ones (sentry-base's Google Cloud clients).

Sixty versions of ``spanner`` of which the newer half need ``sql>=0.4`` against the
project's ``sql<=0.3``, and Google-style clients whose newer versions need a
``proto`` that ``status`` (through ``core[grpc]``, and only on Python 3.14+)
rules out. resolvelib, the first resolver, needed restarts and memos to get
through; a conflict-driven resolver must learn each conflict once and land on the
newest consistent set.
"""

from __future__ import annotations

import tomllib
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from test_scenarios import ScenarioRepository, _check_selection

from shipyard.lock.pylock import build_lock_document, render_lock
from shipyard.resolver.provider import ResolveOptions
from shipyard.resolver.universal import RootRequirement, resolve
from shipyard.specs.targets import default_targets


def _google_like_packages() -> dict[str, Any]:
    packages: dict[str, Any] = {
        "sql": {v: {} for v in ("0.2", "0.3", "0.4", "0.5")},
        "proto": {v: {} for v in ("3.0", "4.0", "4.5", "5.0", "6.0", "6.5")},
        "spanner": {},
        "core": {},
        "status": {},
    }
    for n in range(1, 61):
        needs = "sql>=0.4" if n >= 30 else "proto<5"
        packages["spanner"][f"3.{n}"] = {"requires": [needs, "core[grpc]>=2"]}
    for n in range(1, 41):
        requires = ["proto>=6" if n >= 20 else "proto>=4", 'status>=1.30; extra == "grpc"']
        if n >= 15:
            requires.append('status>=1.70; extra == "grpc" and python_version >= "3.14"')
        packages["core"][f"2.{n}"] = {"requires": requires, "extras": ["grpc"]}
    for n in range(30, 86):
        packages["status"][f"1.{n}"] = {"requires": ["proto>=5" if n >= 63 else "proto>=4"]}
    for client in ("bigtable", "functions", "pubsub"):
        packages[client] = {
            f"2.{n}": {
                "requires": ["proto>=6" if n >= 20 else "proto>=4", "core[grpc]>=2", "status>=1.30"]
            }
            for n in range(1, 41)
        }
    return packages


def test_google_cloud_trap_resolves_to_the_newest_consistent_set() -> None:
    scenario = {
        "requires-python": ">=3.11",
        "root": ["sql<=0.3", "spanner", "core", "pubsub", "bigtable", "functions"],
    }
    repo = ScenarioRepository(_google_like_packages())
    requires_python = SpecifierSet(scenario["requires-python"])
    roots = [
        RootRequirement(requirement=Requirement(r), selector=None, origin="project")
        for r in scenario["root"]
    ]
    targets = default_targets(requires_python, [])
    result = resolve(
        roots,
        project_name="project",
        targets=targets,
        repository=repo,
        options=ResolveOptions(),
        requires_python=requires_python,
    )
    locked = {p.name: str(p.version) for p in result.packages}
    assert locked == {
        "sql": "0.3",
        "spanner": "3.29",  # the newest that needs neither sql>=0.4 nor proto>=5
        "core": "2.14",  # 2.15+ needs status>=1.70 (proto>=5) on Python 3.14
        "status": "1.62",
        "proto": "4.5",
        "pubsub": "2.19",
        "bigtable": "2.19",
        "functions": "2.19",
    }
    document = build_lock_document(
        result,
        requires_python=str(requires_python),
        extras=[],
        dependency_groups=[],
        default_groups=[],
        project=None,
        tool={"input-hash": "sha256:test"},
    )
    _check_selection(
        tomllib.loads(render_lock(document)), repo, {**scenario, "expected": {}}, result
    )
