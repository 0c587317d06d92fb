"""Resolution as a user meets it through `lock` and `sync`, against a local index:
extras that include the project's own extras, changed resolution options, and
versions that serve only some Pythons."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from support import pkg

from .test_local_index import installed, shipyard

PACKAGES = [
    pkg("pyyaml", "6.0"),
    pkg("rich", "13.0"),
    pkg("rich", "14.0"),
    # a stranger with the project's own name, which must never be used for it
    pkg("myproj", "9.9", ["stranger-only"]),
    pkg("web", "1.0", ["helper>=1"]),
    pkg("web", "1.5", ["helper>=1"]),
    pkg("web", "2.0", ["helper>=2"]),
    pkg("helper", "1.0"),
    pkg("helper", "2.0"),
    pkg("helper", "2.5"),
    pkg("modern", "1.0", requires_python=">=3.8"),
    pkg("modern", "2.0", requires_python=">=3.12"),
]


def _project(tmp_path: Path, index, body: str, name: str = "myproj") -> Path:  # type: ignore[no-untyped-def]
    project = tmp_path / name
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n{body}\n'
        f'[tool.shipyard]\nindex-url = "{index.index_url}"\n'
    )
    return project


def _locked(project: Path) -> dict[str, list[tuple[str, str | None]]]:
    document = tomllib.loads((project / "pylock.toml").read_text())
    found: dict[str, list[tuple[str, str | None]]] = {}
    for package in document["packages"]:
        found.setdefault(package["name"], []).append((package["version"], package.get("marker")))
    return found


@pytest.mark.parametrize("stranger", [True, False], ids=["stranger-on-index", "no-stranger"])
def test_an_extra_that_includes_the_projects_own_extra(
    tmp_path: Path, make_index, stranger: bool
) -> None:  # type: ignore[no-untyped-def]
    packages = PACKAGES if stranger else [p for p in PACKAGES if p.name != "myproj"]
    index = make_index(packages)
    project = _project(
        tmp_path,
        index,
        'requires-python = ">=3.11"\ndependencies = []\n\n'
        "[project.optional-dependencies]\n"
        'yaml = ["pyyaml"]\nfancy = ["rich>=14"]\nall = ["myproj[yaml,fancy]"]\n\n'
        '[dependency-groups]\ndev = ["myproj[yaml]"]\n',
    )
    shipyard(project, "lock")
    locked = _locked(project)
    assert "myproj" not in locked and "stranger-only" not in locked
    assert locked["rich"] == [("14.0", '"all" in extras or "fancy" in extras')]
    (marker,) = [m for _v, m in locked["pyyaml"]]
    assert marker is not None
    assert {'"yaml" in extras', '"all" in extras', '"dev" in dependency_groups'} == {
        part.strip() for part in marker.split(" or ")
    }
    shipyard(project, "sync", "--extra", "all", "--no-default-groups")
    assert installed(project) == {"pyyaml": "6.0", "rich": "14.0"}


def test_an_unknown_extra_of_the_project_itself_is_named(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(
        tmp_path,
        index,
        'requires-python = ">=3.11"\ndependencies = []\n\n'
        '[project.optional-dependencies]\nall = ["myproj[yam]"]\nyaml = ["pyyaml"]\n',
    )
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "myproj has no extra 'yam'" in message and "extras: all, yaml" in message
    assert "Traceback" not in message


def test_a_new_resolution_mode_applies_at_once_and_says_so(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index, 'requires-python = ">=3.11"\ndependencies = ["web>=1"]\n')
    shipyard(project, "lock")
    assert _locked(project)["web"] == [("2.0", None)]
    result = shipyard(project, "lock", "--resolution", "lowest-direct")
    assert "resolution highest -> lowest-direct" in " ".join(result.stderr.split())
    assert _locked(project)["web"] == [("1.0", None)]
    assert _locked(project)["helper"] == [("2.5", None)]  # highest for the rest
    # the recorded mode stays: upgrading a package does not move it anywhere else
    shipyard(project, "lock", "--upgrade-package", "web")
    assert _locked(project)["web"] == [("1.0", None)]
    result = shipyard(project, "lock", "--resolution", "highest")
    assert "resolution lowest-direct -> highest" in " ".join(result.stderr.split())
    assert _locked(project)["web"] == [("2.0", None)]


def test_each_python_gets_the_newest_version_it_can_have(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = _project(tmp_path, index, 'requires-python = ">=3.10"\ndependencies = ["modern"]\n')
    shipyard(project, "lock")
    assert sorted(_locked(project)["modern"]) == [
        ("1.0", 'python_version < "3.12"'),
        ("2.0", 'python_version >= "3.12"'),
    ]
    shipyard(project, "sync")  # the test interpreter is 3.11
    assert installed(project) == {"modern": "1.0"}
    result = shipyard(project, "lock", "--fork-strategy", "fewest")
    assert "fork-strategy requires-python -> fewest" in " ".join(result.stderr.split())
    assert _locked(project)["modern"] == [("1.0", None)]
