"""Resolver scenarios: each file in scenarios/ is one case (roots, packages, outcome).

A scenario's packages become an in-memory repository with real shapes (wheel
filenames, Requires-Dist, Requires-Python). Every successful resolution is
written as a lock and checked for every target with ``packaging.pylock``:
the selection must be complete and consistent (each selected package's
dependencies, evaluated for that target, are selected at allowed versions).
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.errors import ShipyardError
from shipyard.index.metadata import CoreMetadata
from shipyard.index.repository import ProjectVersion
from shipyard.lock.pylock import build_lock_document, render_lock
from shipyard.models import DistFile
from shipyard.resolver.provider import ResolveOptions
from shipyard.resolver.universal import RootRequirement, resolve
from shipyard.specs.markers import parse_marker
from shipyard.specs.targets import default_targets

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.toml"))


class ScenarioRepository:
    """A Repository over a scenario's ``[packages]`` table."""

    def __init__(self, packages: dict[str, Any]) -> None:
        self.metadata_by_url: dict[str, CoreMetadata] = {}
        self.by_name: dict[str, list[ProjectVersion]] = {}
        for raw_name, versions in packages.items():
            name = canonicalize_name(raw_name)
            result = []
            for version_text, info in versions.items():
                tags = info.get("tags", ["py3-none-any"])
                files = []
                for tag in tags:
                    filename = f"{name.replace('-', '_')}-{version_text}-{tag}.whl"
                    files.append(
                        DistFile(
                            filename=filename,
                            url=f"https://example.invalid/{filename}",
                            hashes=(("sha256", "0" * 64),),
                            size=1,
                            upload_time=datetime(2024, 1, 1, tzinfo=UTC),
                            requires_python=info.get("requires-python"),
                            yanked=info.get("yanked"),
                        )
                    )
                metadata = CoreMetadata(
                    name=name,
                    version=version_text,
                    requires_dist=tuple(info.get("requires", [])),
                    requires_python=info.get("requires-python"),
                    provides_extra=tuple(info.get("extras", [])),
                )
                for f in files:
                    self.metadata_by_url[f.url] = metadata
                result.append(
                    ProjectVersion(
                        Version(version_text), tuple(files), "https://example.invalid/simple"
                    )
                )
            result.sort(key=lambda pv: pv.version, reverse=True)
            self.by_name[name] = result

    def versions(self, name: str) -> list[ProjectVersion]:
        return self.by_name.get(name, [])

    def metadata(self, version: ProjectVersion) -> CoreMetadata:
        return self.metadata_by_url[version.files[0].url]

    def prefetch(self, name: str) -> None:
        pass

    def prefetch_metadata(self, version: ProjectVersion) -> None:
        pass


def _check_selection(
    document: dict[str, Any], repo: ScenarioRepository, scenario: dict[str, Any]
) -> None:
    lock = Pylock.from_dict(document)
    lock.validate()
    targets = default_targets(
        SpecifierSet(scenario["requires-python"]) if scenario.get("requires-python") else None,
        scenario.get("environments", []),
    )
    groups = list(scenario.get("groups", {}))
    extras = list(scenario.get("extras", {}))
    for target in targets:
        env = dict(target.markers)
        tags = [Tag("py3", "none", "any")] + [
            Tag(
                f"cp{target.python[0]}{target.python[1]}",
                f"cp{target.python[0]}{target.python[1]}",
                p,
            )
            for p in ("manylinux_2_17_x86_64", "win_amd64", "macosx_11_0_arm64")
        ]
        selected = {
            p.name: p.version
            for p, _ in lock.select(
                environment=env, tags=tags, extras=extras, dependency_groups=groups
            )
        }
        wanted = [Requirement(r) for r in scenario["root"]]
        for extra, reqs in scenario.get("extras", {}).items():
            wanted += [Requirement(r) for r in reqs]
            del extra
        for reqs in scenario.get("groups", {}).values():
            wanted += [Requirement(r) for r in reqs]
        seen: set[str] = set()
        while wanted:
            req = wanted.pop()
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            name = canonicalize_name(req.name)
            assert name in selected, f"{name} missing for {target.name}"
            assert req.specifier.contains(selected[name], prereleases=True), (
                f"{name}=={selected[name]} violates {req} on {target.name}"
            )
            key = f"{name}{sorted(req.extras)}"
            if key in seen:
                continue
            seen.add(key)
            pv = next(v for v in repo.versions(name) if v.version == selected[name])
            meta = repo.metadata(pv)
            if meta.requires_python:
                assert SpecifierSet(meta.requires_python).contains(env["python_full_version"])
            for text in meta.requires_dist:
                dep = Requirement(text)
                if dep.marker is None:
                    wanted.append(dep)
                    continue
                for extra in ["", *sorted(req.extras)]:
                    if dep.marker.evaluate({**env, "extra": extra}):
                        wanted.append(dep)
                        break


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = tomllib.loads(path.read_text())
    repo = ScenarioRepository(scenario.get("packages", {}))
    requires_python = (
        SpecifierSet(scenario["requires-python"]) if scenario.get("requires-python") else None
    )
    roots = [
        RootRequirement(requirement=Requirement(r), selector=None, origin="project")
        for r in scenario["root"]
    ]
    for extra, reqs in scenario.get("extras", {}).items():
        roots += [
            RootRequirement(
                requirement=Requirement(r),
                selector=f"'{extra}' in extras",
                origin=f"project[{extra}]",
            )
            for r in reqs
        ]
    for group, reqs in scenario.get("groups", {}).items():
        roots += [
            RootRequirement(
                requirement=Requirement(r),
                selector=f"'{group}' in dependency_groups",
                origin=f"group {group}",
            )
            for r in reqs
        ]
    targets = default_targets(requires_python, scenario.get("environments", []))
    options = ResolveOptions(**scenario.get("options", {}))
    expected = scenario["expected"]
    if "error" in expected:
        with pytest.raises(ShipyardError) as info:
            resolve(
                roots,
                project_name="project",
                targets=targets,
                repository=repo,
                options=options,
                requires_python=requires_python,
            )
        for fragment in expected["error"]:
            assert fragment in str(info.value), str(info.value)
        return
    result = resolve(
        roots,
        project_name="project",
        targets=targets,
        repository=repo,
        options=options,
        requires_python=requires_python,
    )
    locked: dict[str, list[str]] = {}
    for package in result.packages:
        locked.setdefault(package.name, []).append(str(package.version))
    assert locked == {
        k: sorted(v if isinstance(v, list) else [v]) for k, v in expected["locked"].items()
    }
    markers = {p.name + "==" + str(p.version): p.marker for p in result.packages}
    for key, marker in expected.get("markers", {}).items():
        actual = markers[key]
        if marker == "":
            assert actual is None, f"{key}: {actual}"
        else:
            assert actual is not None and parse_marker(actual) == parse_marker(marker), (
                f"{key}: {actual}"
            )
    document = build_lock_document(
        result,
        requires_python=scenario.get("requires-python"),
        extras=list(scenario.get("extras", {})),
        dependency_groups=list(scenario.get("groups", {})),
        default_groups=[],
        project=None,
        tool={"input-hash": "sha256:test"},
    )
    _check_selection(tomllib.loads(render_lock(document)), repo, scenario)
