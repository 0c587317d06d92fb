"""Git, path and editable requirements of other tools' files carried over as a plain
name plus a ``[tool.shipyard.sources]`` entry: requirements files, Pipfile, Poetry,
PDM and PEP 621 tables, and the lock entries that go with them."""

from __future__ import annotations

from pathlib import Path

from shipyard.formats.imported import Imported
from shipyard.formats.pdm import read_pdm, read_pdm_lock
from shipyard.formats.pipenv import read_pipfile, read_pipfile_lock
from shipyard.formats.poetry import read_poetry, read_poetry_lock
from shipyard.formats.references import requirements_into
from shipyard.formats.requirements import parse_requirement_lines, read_requirements
from shipyard.formats.tomlfiles import read_toml
from shipyard.project.import_sources import gather


def _projects(root: Path) -> None:
    """``libs/core`` (pyproject.toml), ``libs/cfg`` (setup.cfg), ``libs/unnamed``
    (setup.py only) and a wheel in ``dist``, beside a project directory ``app``."""
    (root / "libs" / "core").mkdir(parents=True)
    (root / "libs" / "core" / "pyproject.toml").write_text('[project]\nname = "core"\n')
    (root / "libs" / "cfg").mkdir()
    (root / "libs" / "cfg" / "setup.cfg").write_text("[metadata]\nname = cfg-lib\n")
    (root / "libs" / "unnamed").mkdir()
    (root / "libs" / "unnamed" / "setup.py").write_text("")
    (root / "dist").mkdir()
    (root / "dist" / "mylib-1.0-py3-none-any.whl").write_bytes(b"")
    (root / "app").mkdir()


def _texts(imported: Imported) -> list[str]:
    return [str(item.requirement) for item in imported.dependencies]


def test_requirements_file_paths_urls_and_vcs_become_sources(tmp_path: Path) -> None:
    _projects(tmp_path)
    path = tmp_path / "app" / "requirements.txt"
    path.write_text(
        "requests==2.31\n"
        "-e ../libs/core\n"
        '../libs/cfg[fast] ; python_version >= "3.9"\n'
        "../dist/mylib-1.0-py3-none-any.whl\n"
        "-e git+https://example.org/org/tool.git@v1.2#egg=tool&subdirectory=pkg\n"
        "git+https://example.org/org/other.git#egg=other\n"
        "attrs[tests] @ git+https://github.com/python-attrs/attrs@25.4.0\n"
        "local @ file:../libs/core\n"
        "remote @ https://example.org/remote-1.0.tar.gz\n"
        "https://example.org/files/thing-2.0.tar.gz\n"
        "-e .\n"
        "hgdep @ hg+https://hg.example.org/x\n"
        "git+https://example.org/org/anonymous.git\n"
        "../libs/unnamed\n"
        "-e ../missing\n"
    )
    parsed = read_requirements(path, keep_locations=True)
    assert [(entry.text, entry.editable) for entry in parsed.locations][:3] == [
        ("../libs/core", True),
        ('../libs/cfg[fast] ; python_version >= "3.9"', False),
        ("../dist/mylib-1.0-py3-none-any.whl", False),
    ]
    imported = Imported(problems=list(parsed.problems))
    requirements_into(imported, parsed, itself=tmp_path / "app")
    assert _texts(imported) == [
        "requests==2.31",
        "attrs[tests]",
        "local",
        "remote @ https://example.org/remote-1.0.tar.gz",
        "core",
        'cfg-lib[fast]; python_version >= "3.9"',
        "mylib",
        "tool",
        "other",
        "thing @ https://example.org/files/thing-2.0.tar.gz",
    ]
    libs = tmp_path / "libs"
    assert imported.sources == {
        "attrs": {"git": "https://github.com/python-attrs/attrs", "rev": "25.4.0"},
        "local": {"path": str(libs / "core"), "editable": False},
        "core": {"path": str(libs / "core")},
        "cfg-lib": {"path": str(libs / "cfg"), "editable": False},
        "mylib": {"path": str(tmp_path / "dist" / "mylib-1.0-py3-none-any.whl")},
        "tool": {"git": "https://example.org/org/tool.git", "rev": "v1.2", "subdirectory": "pkg"},
        "other": {"git": "https://example.org/org/other.git"},
    }
    # what cannot be carried over is reported with file:line; "-e ." is the project
    problems = "\n".join(imported.problems)
    assert f"{path}:12: hgdep comes from hg" in problems
    assert f"{path}:13: cannot tell which project 'git+https://example.org/org/anonymous.git'" in (
        problems
    )
    assert f"{path}:14: cannot tell which project '../libs/unnamed'" in problems
    assert f"{path}:15: '../missing' is a path that does not exist" in problems
    assert len(imported.problems) == 4


def test_path_lines_stay_problems_for_pip_commands(tmp_path: Path) -> None:
    # pip compile / pip install do not turn paths into sources: the line is reported
    parsed = parse_requirement_lines(["./lib", "-e ../x"], source=tmp_path / "requirements.txt")
    assert parsed.requirements == [] and parsed.editables == ["../x"]
    assert any("'./lib' is not a PEP 508 requirement" in p for p in parsed.problems)


def test_pipfile_git_path_and_file_entries(tmp_path: Path) -> None:
    _projects(tmp_path)
    path = tmp_path / "app" / "Pipfile"
    path.write_text(
        "[packages]\n"
        'core = {path = "../libs/core", editable = true}\n'
        'cfg-lib = {path = "../libs/cfg", extras = ["fast"], markers = "os_name == \'posix\'"}\n'
        'tool = {git = "https://example.org/tool.git", ref = "main", editable = true, '
        'subdirectory = "src"}\n'
        'mylib = {file = "../dist/mylib-1.0-py3-none-any.whl"}\n'
        'remote = {file = "https://example.org/remote-1.0.tar.gz"}\n'
        'hgdep = {hg = "https://hg.example.org/x"}\n'
        'gone = {path = "../nowhere"}\n'
    )
    imported = read_pipfile(read_toml(path))
    assert _texts(imported) == [
        "core",
        'cfg-lib[fast]; os_name == "posix"',
        "tool",
        "mylib",
        "remote @ https://example.org/remote-1.0.tar.gz",
    ]
    assert imported.sources == {
        "core": {"path": str(tmp_path / "libs" / "core")},
        "cfg-lib": {"path": str(tmp_path / "libs" / "cfg"), "editable": False},
        "tool": {"git": "https://example.org/tool.git", "rev": "main", "subdirectory": "src"},
        "mylib": {"path": str(tmp_path / "dist" / "mylib-1.0-py3-none-any.whl")},
    }
    assert [p.split(": ", 1)[0] for p in imported.problems] == [f"{path}:7", f"{path}:8"]
    assert "hgdep comes from hg" in imported.problems[0]
    assert "gone's path ../nowhere does not exist" in imported.problems[1]


def test_poetry_git_path_and_file_dependencies(tmp_path: Path) -> None:
    _projects(tmp_path)
    path = tmp_path / "app" / "pyproject.toml"
    path.write_text(
        '[tool.poetry]\nname = "app"\nversion = "1.0"\n\n'
        "[tool.poetry.dependencies]\n"
        'python = "^3.9"\n'
        'core = {path = "../libs/core", develop = true}\n'
        'cfg-lib = {path = "../libs/cfg"}\n'
        'attrs = {git = "https://github.com/python-attrs/attrs.git", tag = "25.4.0", '
        'extras = ["tests"], python = ">=3.9"}\n'
        'scp = {git = "git@github.com:org/scp.git", branch = "dev", subdirectory = "pkg/"}\n'
        'mylib = {file = "../dist/mylib-1.0-py3-none-any.whl"}\n'
        'remote = {url = "https://example.org/remote-1.0.tar.gz"}\n\n'
        "[tool.poetry.group.dev.dependencies]\n"
        'pinned = {git = "https://example.org/pinned.git", rev = "0123abc"}\n'
        'escape = {git = "https://example.org/e.git", subdirectory = "../up"}\n'
    )
    imported = read_poetry(read_toml(path))
    assert _texts(imported) == [
        "core",
        "cfg-lib",
        'attrs[tests]; python_version >= "3.9"',
        "scp",
        "mylib",
        "remote @ https://example.org/remote-1.0.tar.gz",
    ]
    assert [str(i.requirement) for i in imported.groups["dev"]] == ["pinned"]
    assert imported.sources == {
        "core": {"path": str(tmp_path / "libs" / "core")},
        "cfg-lib": {"path": str(tmp_path / "libs" / "cfg"), "editable": False},
        "attrs": {"git": "https://github.com/python-attrs/attrs.git", "tag": "25.4.0"},
        "scp": {"git": "ssh://git@github.com/org/scp.git", "branch": "dev", "subdirectory": "pkg"},
        "mylib": {"path": str(tmp_path / "dist" / "mylib-1.0-py3-none-any.whl")},
        "pinned": {"git": "https://example.org/pinned.git", "rev": "0123abc"},
    }
    assert imported.problems == [
        f"{path}:16: the subdirectory '../up' of escape's git repository is not inside it; "
        "left out."
    ]


def test_poetry_2_takes_only_sources_from_its_tool_table(tmp_path: Path) -> None:
    _projects(tmp_path)
    path = tmp_path / "app" / "pyproject.toml"
    path.write_text(
        '[project]\nname = "app"\nversion = "1.0"\ndependencies = ["core"]\n\n'
        '[tool.poetry.dependencies]\ncore = {path = "../libs/core", develop = true}\n'
    )
    imported = read_poetry(read_toml(path))
    assert imported.dependencies == []  # [project] already requires it
    assert imported.sources == {"core": {"path": str(tmp_path / "libs" / "core")}}


def test_pdm_editables_project_root_and_direct_references(tmp_path: Path) -> None:
    _projects(tmp_path)
    path = tmp_path / "app" / "pyproject.toml"
    path.write_text(
        '[project]\nname = "app"\nversion = "0.1"\n\n'
        "[tool.pdm.dev-dependencies]\n"
        'dev = ["-e file:///${PROJECT_ROOT}/../libs/core#egg=core", "pytest"]\n'
        'local = [{path = "../libs/cfg", editable = true}, '
        '"-e git+https://example.org/t.git@abc#egg=t", '
        '"attrs @ git+https://github.com/python-attrs/attrs@25.4.0#subdirectory=src", '
        '"mylib @ file:///${PROJECT_ROOT}/../dist/mylib-1.0-py3-none-any.whl", '
        '"git+https://example.org/nameless.git"]\n'
    )
    imported = read_pdm(read_toml(path))
    groups = {g: [str(i.requirement) for i in items] for g, items in imported.groups.items()}
    assert groups == {"dev": ["core", "pytest"], "local": ["cfg-lib", "t", "attrs", "mylib"]}
    assert imported.sources == {
        "core": {"path": str(tmp_path / "libs" / "core")},
        "cfg-lib": {"path": str(tmp_path / "libs" / "cfg")},
        "t": {"git": "https://example.org/t.git", "rev": "abc"},
        "attrs": {
            "git": "https://github.com/python-attrs/attrs",
            "rev": "25.4.0",
            "subdirectory": "src",
        },
        "mylib": {"path": str(tmp_path / "dist" / "mylib-1.0-py3-none-any.whl")},
    }
    assert len(imported.problems) == 1
    assert imported.problems[0].startswith(f"{path}:7: cannot tell which project")


def test_lock_entries_from_sources_are_not_pins(tmp_path: Path) -> None:
    poetry = tmp_path / "poetry.lock"
    poetry.write_text(
        '[[package]]\nname = "six"\nversion = "1.16.0"\n\n'
        '[[package]]\nname = "Core"\nversion = "0.1"\n\n[package.source]\n'
        'type = "directory"\nurl = "../core"\n'
    )
    imported = read_poetry_lock(read_toml(poetry))
    assert list(imported.pins) == ["six"] and imported.problems == []
    assert imported.unpinned == {
        "core": f"{poetry}: [[package]] Core comes from a directory source; its pin is not kept."
    }
    pdm = tmp_path / "pdm.lock"
    pdm.write_text('[[package]]\nname = "tool"\nversion = "1.0"\ngit = "https://x/t.git"\n')
    assert list(read_pdm_lock(read_toml(pdm)).unpinned) == ["tool"]
    pipfile = tmp_path / "Pipfile.lock"
    pipfile.write_text('{"default": {"local": {"path": ".", "editable": true}}}')
    assert list(read_pipfile_lock(pipfile).unpinned) == ["local"]


def test_gather_makes_paths_relative_to_the_project_root(tmp_path: Path) -> None:
    # the imported files live in subdirectories; the sources are relative to the root
    _projects(tmp_path)
    root = tmp_path / "app"
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    (root / "reqs").mkdir()
    (root / "reqs" / "requirements.txt").write_text("-e ../../libs/core\n-e ..\n")
    (root / "old").mkdir()
    (root / "old" / "Pipfile").write_text(
        '[packages]\ncfg-lib = {path = "../../libs/cfg"}\napp = {path = "..", editable = true}\n'
        'gone = {git = "https://example.org/gone.git"}\n'
    )
    (root / "old" / "Pipfile.lock").write_text(
        '{"default": {"cfg-lib": {"path": "../../libs/cfg"}, "app": {"path": ".."},'
        ' "other": {"git": "https://example.org/other.git"}}}'
    )
    imported = gather(root, [root / "reqs" / "requirements.txt", root / "old" / "Pipfile"])
    assert _texts(imported) == ["core", "cfg-lib", "gone"]  # the project itself is left out
    assert imported.sources == {
        "core": {"path": "../libs/core"},
        "cfg-lib": {"path": "../libs/cfg", "editable": False},
        "gone": {"git": "https://example.org/gone.git"},
    }
    # only the lock entry whose source nothing carried over is reported
    assert imported.problems == [
        f"{root / 'old' / 'Pipfile.lock'}: default.other is not from an index; its pin is not kept."
    ]


def test_the_projects_own_direct_references_become_sources(tmp_path: Path) -> None:
    # PDM writes local and git requirements into [project] as PEP 508 direct references
    _projects(tmp_path)
    root = tmp_path / "app"
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\ndependencies = [\n'
        '  "core @ file:///${PROJECT_ROOT}/../libs/core",\n'
        '  "attrs @ git+https://github.com/python-attrs/attrs@25.4.0",\n'
        '  "remote @ https://example.org/remote-1.0.tar.gz",\n'
        '  "plain>=1",\n]\n\n'
        '[project.optional-dependencies]\nfast = ["cfg-lib @ file:../libs/cfg"]\n\n'
        '[dependency-groups]\ndev = ["mylib @ file:///${PROJECT_ROOT}/../dist/'
        'mylib-1.0-py3-none-any.whl", {include-group = "other"}]\n\n'
        "[tool.pdm]\ndistribution = true\n"
    )
    imported = gather(root, [root / "pyproject.toml"])
    # only the direct references are written back (as plain names); the rest is there
    assert _texts(imported) == ["core", "attrs"]
    assert {k: [str(i.requirement) for i in v] for k, v in imported.optional.items()} == {
        "fast": ["cfg-lib"]
    }
    assert {k: [str(i.requirement) for i in v] for k, v in imported.groups.items()} == {
        "dev": ["mylib"]
    }
    assert imported.sources == {
        "core": {"path": "../libs/core", "editable": False},
        "attrs": {"git": "https://github.com/python-attrs/attrs", "rev": "25.4.0"},
        "cfg-lib": {"path": "../libs/cfg", "editable": False},
        "mylib": {"path": "../dist/mylib-1.0-py3-none-any.whl"},
    }
    assert imported.problems == []
