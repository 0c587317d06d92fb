"""PEP 723 scripts: `run script.py`, `run --script`, shebangs, `init/add/remove/lock --script`,
and `run --with` / the PATH fallback of `run CMD`, against a local index."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from packaging.pylock import Pylock

from e2e.test_local_index import PACKAGES, new_project, shipyard
from support import build_package, pkg

SCRIPT_PACKAGES = [
    *PACKAGES,
    pkg("salute", "1.0", files={"salute/__init__.py": "WORD = 'hello'\n"}),
    pkg("shout", "1.0", files={"shout/__init__.py": "def up(s):\n    return s.upper()\n"}),
]


def _script(path: Path, index_url: str, deps: list[str], requires: str = ">=3.12") -> Path:
    listed = ", ".join(f'"{d}"' for d in deps)
    path.write_text(
        "# /// script\n"
        f'# requires-python = "{requires}"\n'
        f"# dependencies = [{listed}]\n"
        "# [tool.shipyard]\n"
        f'# index-url = "{index_url}"\n'
        "# ///\n"
        "import sys\n"
        "import salute, shout\n"
        "print(shout.up(salute.WORD), sys.version_info[:2] >= (3, 12), *sys.argv[1:])\n"
    )
    return path


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((result.stdout + result.stderr).split())


def test_a_script_runs_from_an_empty_directory_and_again_without_resolving(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    empty = tmp_path / "empty"
    empty.mkdir()
    script = _script(empty / "hello.py", index.index_url, ["salute", "shout>=1"])
    first = shipyard(empty, "run", "hello.py", "a1")
    assert first.stdout == "HELLO True a1\n"
    assert "Installed 2 packages" in _said(first)
    assert sorted(p.name for p in empty.iterdir()) == ["hello.py"]  # nothing else written here
    index.clear_requests()
    second = shipyard(empty, "run", "hello.py", "a2")
    assert second.stdout == "HELLO True a2\n" and second.stderr == ""
    assert index.requests == []
    # the same block elsewhere shares the environment; --script runs a file of any name
    other = tmp_path / "elsewhere" / "tool"
    other.parent.mkdir()
    other.write_text(script.read_text())
    third = shipyard(tmp_path, "run", "--script", str(other), "a3")
    assert third.stdout == "HELLO True a3\n" and index.requests == []


def test_a_script_inside_a_project_never_touches_it(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    before = (project / "pyproject.toml").read_bytes()
    _script(project / "task.py", index.index_url, ["salute", "shout"])
    assert shipyard(project, "run", "task.py").stdout == "HELLO True\n"
    assert not (project / ".venv").exists() and not (project / "pylock.toml").exists()
    assert (project / "pyproject.toml").read_bytes() == before
    # a plain .py file without a block runs in the project's environment
    (project / "plain.py").write_text("import helper, sys; print(sys.prefix)\n")
    ran = shipyard(project, "run", "plain.py")
    assert Path(ran.stdout.strip()) == project / ".venv"


def test_the_shebang_runs_the_script(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    script = tmp_path / "job"
    body = _script(tmp_path / "body.py", index.index_url, ["salute", "shout"]).read_text()
    script.write_text("#!/usr/bin/env -S shipyard run --script\n" + body)
    script.chmod(0o755)
    bin_dir = Path(sys.executable).parent
    import subprocess

    result = subprocess.run(
        [str(script), "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "HELLO True x\n"


def test_init_add_remove_and_lock_edit_the_block(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    shipyard(tmp_path, "init", "--script", "new.py", "--python", "3.12")
    assert 'requires-python = ">=3.12"' in (tmp_path / "new.py").read_text()
    again = shipyard(tmp_path, "init", "--script", "new.py", check=False)
    assert again.returncode == 2 and "exists already" in _said(again)
    assert shipyard(tmp_path, "run", "new.py").stdout == "Hello from a shipyard script!\n"

    script = tmp_path / "s.py"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "# /// script\n"
        "# dependencies = [\n"
        '#     "salute",  # says hello\n'
        "# ]\n"
        "# ///\n"
        "print('s')\n"
    )
    url = ("--index-url", index.index_url)
    shipyard(tmp_path, "add", "--script", "s.py", "shout>=1", *url)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env python3\n# /// script\n")
    assert '"salute",  # says hello' in text and '"shout>=1"' in text
    assert text.endswith("# ///\nprint('s')\n")
    failed = shipyard(tmp_path, "add", "--script", "s.py", "no-such-thing", *url, check=False)
    assert failed.returncode == 1 and script.read_text() == text
    shipyard(tmp_path, "remove", "--script", "s.py", "salute", *url)
    assert '"salute"' not in script.read_text() and '"shout>=1"' in script.read_text()
    missing = shipyard(tmp_path, "remove", "--script", "s.py", "salute", *url, check=False)
    assert missing.returncode == 1 and "not among the script's dependencies" in _said(missing)

    # a script without a block gets one below its shebang
    bare = tmp_path / "bare.py"
    bare.write_text("#!/usr/bin/env python3\nprint('bare')\n")
    shipyard(tmp_path, "add", "--script", "bare.py", "salute", *url)
    assert bare.read_text().startswith("#!/usr/bin/env python3\n# /// script\n")


def test_lock_script_writes_a_pep751_lock_that_later_runs_follow(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    _script(tmp_path / "pinned.py", index.index_url, ["salute", "shout"])
    shipyard(tmp_path, "lock", "--script", "pinned.py")
    lock = tmp_path / "pinned.py.lock"
    document = tomllib.loads(lock.read_text())
    Pylock.from_dict(document).validate()
    assert {p["name"]: p["version"] for p in document["packages"]} == {
        "salute": "1.0",
        "shout": "1.0",
    }
    # a newer salute appears: the run keeps the locked one, `lock --upgrade` takes it
    build_package(index.root, pkg("salute", "2.0", files={"salute/__init__.py": "WORD = 'hi'\n"}))
    assert shipyard(tmp_path, "run", "pinned.py").stdout == "HELLO True\n"
    assert shipyard(tmp_path, "lock", "--script", "pinned.py", "--check").returncode == 0
    shipyard(tmp_path, "lock", "--script", "pinned.py", "--upgrade")
    assert shipyard(tmp_path, "run", "pinned.py").stdout == "HI True\n"


def test_bad_metadata_is_reported_with_its_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text('print(1)\n# /// script\n# dependencies = ["ok", 3]\n# ///\n')
    result = shipyard(tmp_path, "run", "broken.py", check=False)
    said = _said(result)
    assert result.returncode == 1 and "Traceback" not in said
    assert f"{script}:2" in said and "list of requirement strings" in said


def test_run_with_adds_a_package_for_one_run_only(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    project = new_project(tmp_path, index, ["helper"])
    code = "import salute, helper; print(salute.WORD)"
    ran = shipyard(project, "run", "--with", "salute", "python", "-c", code)
    assert ran.stdout == "hello\n"
    assert not list((project / ".venv").glob("lib/python*/site-packages/salute"))
    assert "salute" not in (project / "pylock.toml").read_text()
    without = shipyard(project, "run", "python", "-c", "import salute", check=False)
    assert without.returncode == 1 and "ModuleNotFoundError" in without.stderr


def test_a_command_from_another_python_environment_is_named(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(SCRIPT_PACKAGES)
    project = new_project(tmp_path, index, [])
    # another virtual environment's command, and a system program
    other = tmp_path / "other-venv"
    (other / "bin").mkdir(parents=True)
    (other / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tool = other / "bin" / "lonely-tool"
    tool.write_text("#!/bin/sh\necho outside\n")
    tool.chmod(0o755)
    system = tmp_path / "system-bin"
    system.mkdir()
    plain = system / "plain-tool"
    plain.write_text("#!/bin/sh\necho plain\n")
    plain.chmod(0o755)
    path = os.pathsep.join([str(other / "bin"), str(system), os.environ["PATH"]])
    shipyard(project, "sync")
    ran = shipyard(project, "run", "lonely-tool", PATH=path)
    assert ran.stdout == "outside\n"
    assert f"running {tool} from another Python environment on PATH" in _said(ran)
    quiet = shipyard(project, "run", "plain-tool", PATH=path)
    assert quiet.stdout == "plain\n" and "warning" not in quiet.stderr
    refused = shipyard(project, "run", "--no-path-fallback", "lonely-tool", PATH=path, check=False)
    assert refused.returncode == 2 and f"found at {tool}" in _said(refused)
    strict = shipyard(project, "run", "--no-path-fallback", "plain-tool", PATH=path, check=False)
    assert strict.returncode == 2 and f"found at {plain}" in _said(strict)
