"""The main job against a local index: every dialect, determinism, sync exactness,
the no-op path, cache integrity, hashes, sdists, upgrades. Real wheels, real venvs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from support import IndexServer, pkg

PACKAGES = [
    pkg("app-core", "1.0", ["helper>=1", "util[fast]"]),
    pkg(
        "app-core",
        "2.0",
        ["helper>=2", "util[fast]", "winonly; sys_platform == 'win32'"],
        entry_points={"console_scripts": {"app-core": "app_core:main"}},
        files={"app_core/__init__.py": "def main():\n    print('app-core 2.0 runs')\n"},
    ),
    pkg("helper", "1.0"),
    pkg("helper", "2.0"),
    pkg("helper", "2.1"),
    pkg("util", "1.0", extras={"fast": ["speedup"]}),
    pkg("speedup", "0.3"),
    pkg("winonly", "1.0"),
    pkg("extra-thing", "1.0", ["helper"]),
]


def shipyard(
    cwd: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"shipyard {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def new_project(
    tmp_path: Path, index: IndexServer, deps: list[str], name: str = "proj", extra: str = ""
) -> Path:
    project = tmp_path / name
    project.mkdir()
    deps_text = ", ".join(f'"{d}"' for d in deps)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = [{deps_text}]\n\n[tool.shipyard]\nindex-url = "{index.index_url}"\n{extra}'
    )
    return project


def site_packages(project: Path) -> Path:
    return next((project / ".venv" / "lib").glob("python3.*/site-packages"))


def installed(project: Path) -> dict[str, str]:
    result = {}
    for info in site_packages(project).glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].split("-", 1)
        result[name.replace("_", "-")] = version
    return result


@pytest.mark.parametrize(
    "options",
    [
        {"dialect": "json"},
        {"dialect": "html"},
        {"dialect": "html", "metadata": False, "metadata_unadvertised": True},
        {"dialect": "json", "metadata": False, "range_requests": True},
        {"dialect": "html", "metadata": False, "range_requests": False},
    ],
    ids=[
        "json-pep658",
        "html-pep658",
        "html-unadvertised-metadata",
        "json-range",
        "html-full-download",
    ],
)
def test_lock_in_every_dialect(tmp_path: Path, make_index, options: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES, **options)
    project = new_project(tmp_path, index, ["app-core"])
    shipyard(project, "lock")
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    versions = {p["name"]: p["version"] for p in document["packages"]}
    assert versions == {
        "app-core": "2.0",
        "helper": "2.1",
        "util": "1.0",
        "speedup": "0.3",
        "winonly": "1.0",
    }
    markers = {p["name"]: p.get("marker") for p in document["packages"]}
    assert markers["winonly"] == 'sys_platform == "win32"'
    assert markers["helper"] is None
    wheel_gets = [r for r in index.requests if r.path.endswith(".whl") and r.method == "GET"]
    if options.get("metadata") is not False or options.get("metadata_unadvertised"):
        assert not wheel_gets, "metadata files should make wheel downloads unnecessary"
    elif options.get("range_requests"):
        assert wheel_gets and all(r.header("Range") for r in wheel_gets)
    else:
        assert wheel_gets


def test_lock_is_deterministic_and_fresh(tmp_path: Path, make_index, isolated_env: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core", "extra-thing"])
    shipyard(project, "lock")
    first = (project / "pylock.toml").read_bytes()
    (project / "pylock.toml").unlink()
    shipyard(project, "lock", SHIPYARD_CACHE_DIR=str(tmp_path / "other-cache"))
    assert (project / "pylock.toml").read_bytes() == first
    again = shipyard(project, "lock")
    assert "up to date" in again.stderr
    assert shipyard(project, "lock", "--check").returncode == 0
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace('"extra-thing"', '"extra-thing", "speedup"')
    )
    (project / "pyproject.toml").write_text(text)
    stale = shipyard(project, "lock", "--check", check=False)
    assert stale.returncode == 1 and "out of date" in stale.stderr
    assert (project / "pylock.toml").read_bytes() == first


def test_sync_add_remove_and_noop(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, [])
    shipyard(project, "add", "app-core")
    assert installed(project) == {
        "app-core": "2.0",
        "helper": "2.1",
        "util": "1.0",
        "speedup": "0.3",
    }
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["dependencies"] == ["app-core>=2.0"]
    written_by_add = (project / "pylock.toml").read_bytes()
    (project / "pylock.toml").unlink()
    shipyard(project, "lock")
    assert (project / "pylock.toml").read_bytes() == written_by_add
    run = shipyard(project, "run", "app-core")
    assert run.stdout.strip() == "app-core 2.0 runs"
    assert (site_packages(project) / "app_core-2.0.dist-info" / "REQUESTED").exists()
    assert (
        site_packages(project) / "app_core-2.0.dist-info" / "INSTALLER"
    ).read_text().strip() == "shipyard"

    index.clear_requests()
    noop = shipyard(project, "sync")
    assert "Audited 4 packages" in noop.stderr
    assert index.requests == []

    shipyard(project, "remove", "app-core")
    assert installed(project) == {}
    assert not (project / ".venv" / "bin" / "app-core").exists()


def test_exact_inexact_and_dry_run(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    shipyard(project, "sync")
    shipyard(project, "run", "--no-sync", "python", "-c", "print(1)")
    # Something installed by hand is extraneous: --inexact keeps it, a plain sync removes it.
    other = new_project(tmp_path, index, ["speedup"], name="other")
    shipyard(other, "sync")
    stray = next(site_packages(other).glob("speedup-*.dist-info"))
    import shutil

    shutil.copytree(stray, site_packages(project) / stray.name)
    dry = shipyard(project, "sync", "--dry-run")
    assert "Would uninstall 1 package\n" in dry.stderr and "speedup" in dry.stderr
    assert "speedup" in installed(project)
    shipyard(project, "sync", "--inexact")
    assert "speedup" in installed(project)
    shipyard(project, "sync")
    assert installed(project) == {"helper": "2.1"}


def test_upgrade_package_keeps_other_pins(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    from support import build_package

    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core"])
    shipyard(project, "lock")
    build_package(index.root, pkg("helper", "2.2"))
    build_package(index.root, pkg("speedup", "0.4"))
    shipyard(project, "lock", "--upgrade-package", "speedup")
    versions = {
        p["name"]: p["version"]
        for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert versions["speedup"] == "0.4"
    assert versions["helper"] == "2.1"
    shipyard(project, "lock", "--upgrade")
    versions = {
        p["name"]: p["version"]
        for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert versions["helper"] == "2.2"


def test_modified_cache_file_is_never_installed(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    first = new_project(tmp_path, index, ["helper"], name="first")
    shipyard(first, "sync")
    module = site_packages(first) / "helper" / "__init__.py"
    original = module.read_text()
    with open(module, "r+") as handle:  # edit in place: through the hard link, into the cache
        handle.seek(0)
        handle.write("raise SystemExit('tampered')\n")
    second = new_project(tmp_path, index, ["helper"], name="second")
    result = shipyard(second, "sync")
    assert "was modified after it was unpacked" in result.stderr
    assert (site_packages(second) / "helper" / "__init__.py").read_text() == original


def test_hash_mismatch_refuses_to_install(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    from support import build_wheel

    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    shipyard(project, "lock")
    wheel = next(index.root.glob("helper-2.1-*.whl"))
    wheel.unlink()
    build_wheel(index.root, "helper", "2.1", files={"helper/__init__.py": "evil = True\n"})
    result = shipyard(project, "sync", "--frozen", check=False)
    assert result.returncode == 1
    assert "sha256" in result.stderr and "Traceback" not in result.stderr
    assert "helper" not in installed(project)


def test_sdist_only_package_builds(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("srconly", "1.0", ["helper"], wheel=False, sdist=True), *PACKAGES])
    project = new_project(tmp_path, index, ["srconly"])
    shipyard(project, "sync")
    assert installed(project) == {"srconly": "1.0", "helper": "2.1"}
    document = tomllib.loads((project / "pylock.toml").read_text())
    entry = next(p for p in document["packages"] if p["name"] == "srconly")
    assert "sdist" in entry and "wheels" not in entry


def test_a_backend_that_does_not_import_is_one_build_error(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, wheel_dir: Path
) -> None:
    # numpy 1.24's sdist on Python 3.12: setuptools' legacy backend needs distutils,
    # and pyproject_hooks says BackendUnavailable instead of exiting non-zero.
    from support import build_sdist

    sdist = build_sdist(
        wheel_dir,
        "oldpkg",
        "1.0",
        backend="needs_distutils",
        build_requires=[],
        dynamic=["dependencies"],
    )
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, [f"oldpkg @ {sdist.as_uri()}"])
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "unexpected error" not in message and "Traceback" not in message
    assert "Building oldpkg-1.0.tar.gz on Python 3.11" in message
    assert "its build backend needs_distutils cannot be imported" in message
    assert "No module named 'needs_distutils'" in message


def test_backend_warnings_show_only_with_verbose(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, monkeypatch
) -> None:
    """setuptools-style deprecation warnings from a build backend are noise for the
    user: hidden normally, shown with -v."""
    monkeypatch.setenv("SHIPYARD_TEST_BACKEND_WARN", "1")
    index = make_index(
        [
            pkg("srconly", "1.0", ["helper"], wheel=False, sdist=True, dynamic=["dependencies"]),
            *PACKAGES,
        ]
    )
    project = new_project(tmp_path, index, ["srconly"])
    quiet = shipyard(project, "lock")
    assert "option is deprecated" not in quiet.stderr
    (project / "pylock.toml").unlink()
    loud = shipyard(project, "-v", "lock", SHIPYARD_CACHE_DIR=str(tmp_path / "fresh-cache"))
    assert "option is deprecated" in loud.stderr


def test_conflict_is_explained(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core>=2", "helper<2"])
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "proj depends on app-core>=2 and app-core 2.0 depends on helper>=2" in message
    assert "Relax one of your requirements: app-core>=2, helper<2." in message


def test_offline_works_from_the_cache(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core"])
    shipyard(project, "sync")
    index.stop()
    (project / "pylock.toml").unlink()
    shipyard(project, "--offline", "lock")
    import shutil

    shutil.rmtree(project / ".venv")
    shipyard(project, "--offline", "sync")
    assert installed(project)["app-core"] == "2.0"


def test_interrupted_install_is_repaired(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["app-core"])
    shipyard(project, "sync")
    site = site_packages(project)
    # What a kill in the middle of installing helper leaves: files, a .dist-info without RECORD.
    (site / "helper-2.1.dist-info" / "RECORD").unlink()
    (site / "helper" / "__init__.py").unlink()
    (project / ".venv" / ".shipyard-sync.json").unlink()
    shipyard(project, "sync")
    assert (site / "helper" / "__init__.py").exists()
    assert (site / "helper-2.1.dist-info" / "RECORD").exists()


def test_no_binary_builds_from_the_sdist(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index([pkg("both", "1.0", sdist=True)])
    project = new_project(tmp_path, index, ["both"])
    shipyard(project, "lock")
    result = shipyard(project, "sync", "--no-binary", "both")
    assert "Building wheel for both" in result.stderr
    assert installed(project) == {"both": "1.0"}


def test_dry_run_creates_nothing(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    shipyard(project, "lock")
    result = shipyard(project, "sync", "--dry-run")
    assert "Would create virtual environment" in result.stderr
    assert "Would install 1 package\n" in result.stderr and "helper==2.1" in result.stderr
    assert not (project / ".venv").exists()


def test_direct_references_to_a_wheel_an_http_archive_and_a_directory(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    import json

    from support import build_wheel

    index = make_index(PACKAGES)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    local_wheel = build_wheel(wheels, "localwheel", "3.1", requires_dist=["helper>=2"])
    remote = next(index.root.glob("speedup-0.3-*.whl"))
    source = tmp_path / "srcproj"
    (source / "srcproj").mkdir(parents=True)
    (source / "srcproj" / "__init__.py").write_text("VALUE = 42\n")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["shipyard-test-backend"]\nbuild-backend = "shipyard_test_backend"\n\n'
        '[project]\nname = "srcproj"\nversion = "0.7"\ndependencies = ["util"]\n'
    )
    project = new_project(
        tmp_path,
        index,
        [
            f"localwheel @ {local_wheel.as_uri()}",
            f"speedup @ {index.files_url}{remote.name}",
            f"srcproj @ {source.as_uri()}",
        ],
    )
    shipyard(project, "sync")
    assert installed(project) == {
        "localwheel": "3.1",
        "helper": "2.1",
        "speedup": "0.3",
        "srcproj": "0.7",
        "util": "1.0",
    }
    document = tomllib.loads((project / "pylock.toml").read_text())
    Pylock.from_dict(document).validate()
    entries = {p["name"]: p for p in document["packages"]}
    assert entries["localwheel"]["archive"]["url"] == local_wheel.as_uri()
    assert entries["localwheel"]["archive"]["hashes"]["sha256"]
    assert entries["speedup"]["archive"]["url"].endswith(remote.name)
    assert entries["srcproj"]["directory"] == {"path": "../srcproj", "editable": False}
    site = site_packages(project)
    direct = json.loads((site / "localwheel-3.1.dist-info" / "direct_url.json").read_text())
    assert direct["url"] == local_wheel.as_uri() and direct["archive_info"]["hashes"]["sha256"]
    direct = json.loads((site / "srcproj-0.7.dist-info" / "direct_url.json").read_text())
    assert direct == {"url": source.as_uri(), "dir_info": {"editable": False}}
    run = shipyard(project, "run", "python", "-c", "import srcproj; print(srcproj.VALUE)")
    assert run.stdout.strip() == "42"


def test_vcs_requirement_is_refused_clearly(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper @ hg+https://example.invalid/helper"])
    result = shipyard(project, "lock", check=False)
    assert result.returncode == 1
    assert "Only git VCS requirements are supported" in result.stderr
    assert "Traceback" not in result.stderr


def test_project_with_build_system_is_installed_editable(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = tmp_path / "libproj"
    (project / "libproj").mkdir(parents=True)
    (project / "libproj" / "__init__.py").write_text("GREETING = 'first'\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["shipyard-test-backend"]\nbuild-backend = "shipyard_test_backend"\n\n'
        '[project]\nname = "libproj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["helper"]\n\n[tool.shipyard]\nindex-url = "{index.index_url}"\n'
    )
    shipyard(project, "sync")
    document = tomllib.loads((project / "pylock.toml").read_text())
    entry = next(p for p in document["packages"] if p["name"] == "libproj")
    assert entry["directory"] == {"path": ".", "editable": True}
    show = ["run", "python", "-c", "import libproj; print(libproj.GREETING)"]
    assert shipyard(project, *show).stdout.strip() == "first"
    (project / "libproj" / "__init__.py").write_text("GREETING = 'edited'\n")
    assert shipyard(project, *show).stdout.strip() == "edited"


def test_cache_dir_prune_clean(tmp_path: Path, make_index, isolated_env: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    shipyard(project, "sync")
    assert shipyard(project, "cache", "dir").stdout.strip() == str(isolated_env)
    (isolated_env / "wheels-v0").mkdir()
    shipyard(project, "cache", "prune")
    assert not (isolated_env / "wheels-v0").exists()
    assert (isolated_env / "wheels-v1").exists()
    cleaned = shipyard(project, "cache", "clean")
    assert "Removed" in cleaned.stderr
    assert list(isolated_env.iterdir()) == []
    # The environment does not depend on the cache once installed (files are linked, not referenced).
    assert shipyard(project, "run", "--no-sync", "python", "-c", "import helper").returncode == 0


def test_invalid_requires_dist_is_reported_not_silent(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(
        [pkg("sloppy", "1.0", ["helper"], metadata_extra="Requires-Dist: bad req !!\n"), *PACKAGES]
    )
    project = new_project(tmp_path, index, ["sloppy"])
    result = shipyard(project, "lock")
    assert "Ignoring an invalid requirement 'bad req !!' in the metadata of sloppy 1.0" in " ".join(
        result.stderr.split()
    )
    versions = {
        p["name"]: p["version"]
        for p in tomllib.loads((project / "pylock.toml").read_text())["packages"]
    }
    assert versions == {"sloppy": "1.0", "helper": "2.1"}
