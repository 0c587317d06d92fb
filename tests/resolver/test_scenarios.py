"""Resolver scenarios: each file in scenarios/ is one case (roots, packages, outcome).

A scenario's packages become an in-memory repository with real shapes (wheel
filenames, Requires-Dist, Requires-Python, upload times, yanked files). Every
successful resolution is written as a lock and checked for every target with
``packaging.pylock``: the selection must be complete and consistent (each selected
package's dependencies, evaluated for that target, are selected at allowed
versions, and its Requires-Python admits the target's Python).

The format (TOML)::

    description = "what the case shows"
    requires-python = ">=3.10"            # the project's; default targets follow it
    environments = ["sys_platform == 'linux'"]   # optional: narrow the targets
    root = ["pandas>=2.2"]                # [project].dependencies
    extras = { plots = ["matplotlib"] }   # optional; groups likewise
    options = { strategy = "lowest", prerelease = "allow", fork_strategy = "fewest",
                exclude_newer = "2024-06-01T00:00:00Z", preferences = { numpy = ["1.26.4"] },
                provided = { numpy = "1.26.4" }, constraints = ["numpy<2"],
                no_binary = ["x"], only_binary = ["y"], no_deps = true }

    [packages.numpy."2.1.0"]              # one version: its files and metadata
    requires = ["dep>=1"]                 # Requires-Dist
    requires-python = ">=3.10"            # on the index (data-requires-python) and in METADATA
    index-requires-python = false         # ...or in METADATA only (find-links)
    tags = ["cp312-cp312-manylinux_2_17_x86_64"]   # wheels (default py3-none-any; [] for none)
    sdist = true                          # an sdist as well
    yanked = "reason"
    uploaded = "2024-07-01T00:00:00Z"

    [direct."https://example.invalid/x-1.0.whl"]   # what a direct reference offers
    name = "x"
    version = "1.0"

    [expected]
    locked = { numpy = ["1.26.4", "2.1.0"] }        # or error = ["fragment", ...]
    markers = { "numpy==2.1.0" = "python_version >= '3.12'" }   # compared after parsing; "" for none
    uncovered = ["pkg"]                   # packages locked with no file for some target
    not-in-error = ["fragment"]           # text the error must not contain
    most-metadata = 45                    # at most this many versions' metadata asked for
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock, PylockSelectError
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.errors import ShipyardError
from shipyard.lock.pylock import build_lock_document, render_lock
from shipyard.models import CoreMetadata, DistFile, ProjectVersion, TargetEnvironment
from shipyard.project.locking import constraint_map
from shipyard.resolver.provider import ResolveOptions
from shipyard.resolver.universal import Resolution, RootRequirement, resolve
from shipyard.specs.markers import parse_marker
from shipyard.specs.targets import default_targets

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.toml"))


class ScenarioRepository:
    """A Repository over a scenario's ``[packages]`` and ``[direct]`` tables."""

    def __init__(self, packages: dict[str, Any], direct: dict[str, Any] | None = None) -> None:
        self.metadata_by_url: dict[str, CoreMetadata] = {}
        #: the versions whose metadata the resolver asked for (each a download on an index)
        self.asked: set[tuple[str, str]] = set()
        self.by_name: dict[str, list[ProjectVersion]] = {}
        self.direct: dict[str, ProjectVersion] = {}
        for raw_name, versions in packages.items():
            name = canonicalize_name(raw_name)
            result = []
            for version_text, info in versions.items():
                tags = info.get("tags", ["py3-none-any"])
                uploaded = info.get("uploaded")
                when = (
                    datetime.fromisoformat(uploaded.replace("Z", "+00:00"))
                    if uploaded
                    else datetime(2024, 1, 1, tzinfo=UTC)
                )
                index_python = (
                    info.get("requires-python") if info.get("index-requires-python", True) else None
                )
                stem = f"{name.replace('-', '_')}-{version_text}"
                filenames = [f"{stem}-{tag}.whl" for tag in tags]
                if info.get("sdist"):
                    filenames.append(f"{stem}.tar.gz")
                files = []
                for filename in filenames:
                    files.append(
                        DistFile(
                            filename=filename,
                            url=f"https://example.invalid/{filename}",
                            hashes=(("sha256", "0" * 64),),
                            size=1,
                            upload_time=when,
                            requires_python=index_python,
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
        for url, info in (direct or {}).items():
            dist = DistFile(
                filename=url.rsplit("/", 1)[-1], url=url, hashes=(("sha256", "1" * 64),)
            )
            self.metadata_by_url[url] = CoreMetadata(
                name=canonicalize_name(info["name"]),
                version=info["version"],
                requires_dist=tuple(info.get("requires", [])),
                requires_python=info.get("requires-python"),
            )
            self.direct[url] = ProjectVersion(Version(info["version"]), (dist,), "")

    def versions(self, name: str) -> list[ProjectVersion]:
        return self.by_name.get(name, [])

    def metadata(self, version: ProjectVersion) -> CoreMetadata:
        found = self.metadata_by_url[version.files[0].url]
        self.asked.add((found.name, found.version))
        return found

    def prefetch(self, name: str) -> None:
        pass

    def prefetch_metadata(self, version: ProjectVersion, *, build: bool = False) -> None:
        pass

    def direct_version(self, name: str, url: str) -> ProjectVersion:
        return self.direct[url]


_PLATFORM_TAGS = {
    ("linux", "x86_64"): ["manylinux_2_17_x86_64", "linux_x86_64"],
    ("linux", "aarch64"): ["manylinux_2_17_aarch64", "linux_aarch64"],
    ("macos", "x86_64"): ["macosx_10_9_x86_64", "macosx_10_9_universal2"],
    ("macos", "arm64"): ["macosx_11_0_arm64", "macosx_11_0_universal2"],
    ("windows", "AMD64"): ["win_amd64"],
}


def _tags_for(target: TargetEnvironment) -> list[Tag]:
    """What an interpreter of the target accepts, most specific first."""
    major, minor = target.python
    cp = f"cp{major}{minor}"
    platforms = _PLATFORM_TAGS[(target.platform, target.machine)]
    tags = [Tag(cp, cp, p) for p in platforms]
    tags += [Tag(f"cp{major}{m}", "abi3", p) for m in range(minor, 1, -1) for p in platforms]
    tags += [Tag(cp, "none", p) for p in platforms] + [Tag("py3", "none", p) for p in platforms]
    return [*tags, Tag(cp, "none", "any"), Tag("py3", "none", "any")]


def _check_selection(
    document: dict[str, Any],
    repo: ScenarioRepository,
    scenario: dict[str, Any],
    result: Resolution,
) -> None:
    """Install-time check of the written lock, target by target: what pylock selects
    must satisfy every requirement (markers evaluated there), every constraint, and
    every selected version's Requires-Python."""
    lock = Pylock.from_dict(document)
    lock.validate()
    groups = list(scenario.get("groups", {}))
    extras = list(scenario.get("extras", {}))
    options = scenario.get("options", {})
    provided = {canonicalize_name(n) for n in options.get("provided", {})}
    constraints = [Requirement(r) for r in options.get("constraints", [])]
    uncovered = set(scenario["expected"].get("uncovered", []))
    for target in result.targets:
        env = dict(target.markers)
        try:
            selected = {
                p.name: p.version
                for p, _ in lock.select(
                    environment=env,
                    tags=_tags_for(target),
                    extras=extras,
                    dependency_groups=groups,
                )
            }
        except PylockSelectError as exc:
            assert any(name in str(exc) for name in uncovered), f"{target.name}: {exc}"
            continue
        for constraint in constraints:
            name = canonicalize_name(constraint.name)
            if name in selected and (
                constraint.marker is None or constraint.marker.evaluate({**env, "extra": ""})
            ):
                assert constraint.specifier.contains(selected[name], prereleases=True)
        wanted = [Requirement(r) for r in scenario["root"]]
        for reqs in scenario.get("extras", {}).values():
            wanted += [Requirement(r) for r in reqs]
        for reqs in scenario.get("groups", {}).values():
            wanted += [Requirement(r) for r in reqs]
        seen: set[str] = set()
        while wanted:
            req = wanted.pop()
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            name = canonicalize_name(req.name)
            if name in provided:
                continue
            assert name in selected, f"{name} missing for {target.name}"
            assert req.specifier.contains(selected[name], prereleases=True), (
                f"{name}=={selected[name]} violates {req} on {target.name}"
            )
            key = f"{name}{sorted(req.extras)}"
            if key in seen:
                continue
            seen.add(key)
            if req.url is not None:
                pv = repo.direct[req.url]
            else:
                pv = next(v for v in repo.versions(name) if v.version == selected[name])
            meta = repo.metadata(pv)
            if meta.requires_python:
                assert SpecifierSet(meta.requires_python).contains(env["python_full_version"]), (
                    f"{name}=={selected[name]} requires Python {meta.requires_python}, "
                    f"selected for {target.name}"
                )
            for text in meta.requires_dist:
                dep = Requirement(text)
                if dep.marker is None:
                    wanted.append(dep)
                    continue
                for extra in ["", *sorted(req.extras)]:
                    if dep.marker.evaluate({**env, "extra": extra}):
                        wanted.append(dep)
                        break


def _options(raw: dict[str, Any]) -> ResolveOptions:
    """The scenario's ``options`` table as :class:`ResolveOptions`."""
    values: dict[str, Any] = dict(raw)
    if "exclude_newer" in values:
        values["exclude_newer"] = datetime.fromisoformat(
            values["exclude_newer"].replace("Z", "+00:00")
        )
    for key in ("no_binary", "only_binary"):
        if key in values:
            values[key] = frozenset(canonicalize_name(n) for n in values[key])
    if "preferences" in values:
        values["preferences"] = {
            canonicalize_name(k): tuple(Version(x) for x in ([v] if isinstance(v, str) else v))
            for k, v in values["preferences"].items()
        }
    if "provided" in values:
        values["provided"] = {
            canonicalize_name(k): Version(v) for k, v in values["provided"].items()
        }
    if "constraints" in values:
        values["constraints"] = constraint_map(Requirement(r) for r in values["constraints"])
    return ResolveOptions(**values)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = tomllib.loads(path.read_text())
    repo = ScenarioRepository(scenario.get("packages", {}), scenario.get("direct"))
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
    options = _options(scenario.get("options", {}))
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
        message = " ".join(str(info.value).split())
        for fragment in expected["error"]:
            assert fragment in message, message
        for fragment in expected.get("not-in-error", []):
            assert fragment not in message, message
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
    if "most-metadata" in expected:
        assert len(repo.asked) <= expected["most-metadata"], sorted(repo.asked)
    assert sorted({name for name, _v, _t in result.uncovered}) == sorted(
        expected.get("uncovered", [])
    )
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
    _check_selection(tomllib.loads(render_lock(document)), repo, scenario, result)
