"""``[tool.shipyard.sources]`` and named indexes: path sources installed editable from
a relative path, index pins that no same-named package elsewhere can beat, and
clear errors for sources that cannot be used."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

from packaging.pylock import Pylock

from support import pkg

from .test_local_index import PACKAGES, installed, new_project, shipyard, site_packages

BACKEND = '[build-system]\nrequires = ["shipyard-test-backend"]\nbuild-backend = "shipyard_test_backend"\n\n'


def _member(root: Path, name: str, deps: str, value: str) -> Path:
    """A project directory ``root/name`` built by the test backend."""
    (root / name / name).mkdir(parents=True)
    (root / name / name / "__init__.py").write_text(f"VALUE = {value!r}\n")
    (root / name / "pyproject.toml").write_text(
        BACKEND + f'[project]\nname = "{name}"\nversion = "0.1"\ndependencies = [{deps}]\n'
    )
    return root / name


def test_a_path_source_is_editable_relative_and_followed(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(
        tmp_path,
        index,
        ["core"],
        extra='\n[tool.shipyard.sources]\ncore = { path = "packages/core" }\n',
    )
    core = _member(project / "packages", "core", '"helper<2"', "first")
    shipyard(project, "sync")
    assert installed(project) == {"core": "0.1", "helper": "1.0"}
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    entries = {p["name"]: p for p in document["packages"]}
    assert entries["core"]["directory"] == {"path": "packages/core", "editable": True}
    direct = json.loads((site_packages(project) / "core-0.1.dist-info/direct_url.json").read_text())
    assert direct == {"url": core.as_uri(), "dir_info": {"editable": True}}

    # An edit to the source is seen without a sync (PEP 660).
    (core / "core" / "__init__.py").write_text("VALUE = 'second'\n")
    run = shipyard(project, "run", "python", "-c", "import core; print(core.VALUE)")
    assert run.stdout.strip() == "second"

    # A change to its requirements is: the next plain sync locks and installs it.
    text = (core / "pyproject.toml").read_text().replace('"helper<2"', '"helper>=2"')
    (core / "pyproject.toml").write_text(text)
    shipyard(project, "sync")
    assert installed(project)["helper"] == "2.1"

    # The lock is relative: a copy of the project elsewhere syncs from it as it is.
    moved = tmp_path / "elsewhere" / "proj"
    shutil.copytree(project, moved, ignore=shutil.ignore_patterns(".venv"))
    shipyard(moved, "sync", "--frozen")
    run = shipyard(moved, "run", "python", "-c", "import core; print(core.__file__)")
    assert run.stdout.strip().startswith(str(moved / "packages" / "core"))


def test_add_of_a_relative_path_writes_a_path_source(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, [])
    _member(tmp_path, "sibling", "", "sib")
    result = shipyard(project, "add", "sibling @ ../sibling", check=False)
    assert result.returncode == 0, result.stderr
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["dependencies"] == ["sibling"]
    assert manifest["tool"]["shipyard"]["sources"]["sibling"] == {"path": "../sibling"}
    run = shipyard(project, "run", "python", "-c", "import sibling; print(sibling.VALUE)")
    assert run.stdout.strip() == "sib"
    assert "FutureWarning" not in result.stderr


def test_an_index_pin_beats_a_same_named_package_elsewhere(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    public = make_index([*PACKAGES, pkg("internal", "9.9"), pkg("privonly", "5.0")])
    private = make_index([pkg("internal", "1.0"), pkg("privonly", "1.0")])
    extra = (
        '\n[[tool.shipyard.index]]\nname = "private"\n'
        f'url = "{private.index_url}"\nexplicit = true\n'
        '\n[tool.shipyard.sources]\ninternal = { index = "private" }\n'
    )
    project = new_project(tmp_path, public, ["internal", "helper", "privonly"], extra=extra)
    shipyard(project, "sync")
    # The pinned name comes from the private index, though the public one is newer;
    # an explicit index serves nothing that does not name it (privonly: public).
    assert installed(project) == {"internal": "1.0", "helper": "2.1", "privonly": "5.0"}
    entries = {
        p["name"]: p for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert entries["internal"]["index"].rstrip("/") == private.index_url.rstrip("/")
    assert entries["helper"]["index"].rstrip("/") == public.index_url.rstrip("/")


def test_a_named_index_that_is_not_explicit_is_asked_first(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    public = make_index(PACKAGES)
    mirror = make_index([pkg("helper", "1.0")])
    extra = f'\n[[tool.shipyard.index]]\nname = "mirror"\nurl = "{mirror.index_url}"\n'
    project = new_project(tmp_path, public, ["helper"], extra=extra)
    shipyard(project, "lock")
    entries = {
        p["name"]: p for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    # First index that has the name answers for all its versions (no mixing).
    assert entries["helper"]["version"] == "1.0"


def test_unusable_sources_are_clear_errors(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    cases = {
        "undefined": ('internal = { index = "nowhere" }', "names the index 'nowhere'"),
        "git": ('internal = { git = "https://example.invalid/x.git" }', "git could not list"),
        "revs": (
            'internal = { git = "https://x/y.git", tag = "a", branch = "b" }',
            "more than one",
        ),
        "two": ('internal = { path = "a", url = "https://x/y.whl" }', "exactly one of"),
        "missing": ('internal = { path = "no/such/dir" }', "does not exist"),
    }
    for name, (line, said) in cases.items():
        (tmp_path / name).mkdir()
        project = new_project(
            tmp_path / name, index, ["internal"], extra=f"\n[tool.shipyard.sources]\n{line}\n"
        )
        result = shipyard(project, "lock", check=False)
        assert result.returncode == 1, name
        assert said in " ".join(result.stderr.split()), (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert not (project / "pylock.toml").exists()


def test_a_private_named_index_takes_credentials_from_its_variables(
    tmp_path: Path, make_index, isolated_env: Path
) -> None:  # type: ignore[no-untyped-def]
    public = make_index([*PACKAGES, pkg("internal", "9.9")])  # the confusion attempt
    private = make_index([pkg("internal", "1.0", ["helper<2"])], auth=("ci", "s3cret-x9"))
    extra = (
        '\n[[tool.shipyard.index]]\nname = "private-repo"\n'
        f'url = "{private.index_url}"\nexplicit = true\n'
        '\n[tool.shipyard.sources]\ninternal = { index = "private-repo" }\n'
    )
    project = new_project(tmp_path, public, ["internal"], extra=extra)
    refused = shipyard(project, "lock", check=False)
    assert refused.returncode == 1 and "401" in refused.stderr
    env = {
        "SHIPYARD_INDEX_PRIVATE_REPO_USERNAME": "ci",
        "SHIPYARD_INDEX_PRIVATE_REPO_PASSWORD": "s3cret-x9",
    }
    shipyard(project, "sync", **env)
    assert installed(project) == {"internal": "1.0", "helper": "1.0"}
    for path in [*project.rglob("*"), *isolated_env.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert b"s3cret-x9" not in path.read_bytes(), path


def test_an_index_given_on_the_command_line_is_asked_first(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    public = make_index(PACKAGES)
    mirror = make_index([pkg("helper", "1.0")])
    project = new_project(tmp_path, public, ["helper"])
    shipyard(project, "lock", "--index", f"mirror={mirror.index_url}")
    entries = {
        p["name"]: p for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert entries["helper"]["version"] == "1.0"
    assert entries["helper"]["index"].rstrip("/") == mirror.index_url.rstrip("/")
    # Without it the lock is stale (the indexes are part of its inputs): it is made again
    # from the public index (keeping the locked version, which that index has too).
    shipyard(project, "lock")
    entries = {
        p["name"]: p for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert entries["helper"]["index"].rstrip("/") == public.index_url.rstrip("/")
    bad = shipyard(project, "lock", "--index", "mirror=ftp://x", check=False)
    assert bad.returncode == 2 and "names no index URL" in bad.stderr


def test_index_credentials_from_the_keyring(tmp_path: Path, make_index, isolated_env: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    public = make_index(PACKAGES)
    private = make_index([pkg("internal", "1.0")], auth=("kr-user", "kr-t0ken"))
    extra = (
        f'\n[[tool.shipyard.index]]\nname = "private"\nurl = "{private.index_url}"\n'
        'explicit = true\n\n[tool.shipyard.sources]\ninternal = { index = "private" }\n'
    )
    project = new_project(tmp_path, public, ["internal", "helper"], extra=extra)
    store = tmp_path / "keyring.json"
    store.write_text(json.dumps({private.index_url.rstrip("/"): ["kr-user", "kr-t0ken"]}))
    env = {
        "PYTHON_KEYRING_BACKEND": "keyring_backend.FileKeyring",
        "PYTHONPATH": str(Path(__file__).parents[1] / "support"),
        "SHIPYARD_TEST_KEYRING": str(store),
    }
    refused = shipyard(project, "lock", check=False, SHIPYARD_KEYRING_PROVIDER="disabled", **env)
    assert refused.returncode == 1 and "401" in refused.stderr
    shipyard(project, "sync", **env)
    assert installed(project) == {"internal": "1.0", "helper": "2.1"}
    asked = set((tmp_path / "keyring.json.asked").read_text().split())
    assert not [service for service in asked if "pypi.org" in service]
    assert private.index_url.rstrip("/") in asked
    for path in [*project.rglob("*"), *isolated_env.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert b"kr-t0ken" not in path.read_bytes(), path
