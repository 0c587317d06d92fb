"""Creating virtual environments from real interpreters and reading them back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shipyard import __version__
from shipyard.errors import InstallError
from shipyard.models import Interpreter
from shipyard.python.probe import probe_interpreter
from shipyard.venv import VirtualEnvironment, create_venv, inspect_venv

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def pyenv_interpreter(prefix: str, cache: Path) -> Interpreter:
    names = sorted(p.name for p in PYENV_VERSIONS.iterdir() if p.name.startswith(prefix + "."))
    assert names, f"pyenv has no Python {prefix} here"
    return probe_interpreter(PYENV_VERSIONS / names[-1] / "bin" / "python3", cache_dir=cache)


@pytest.fixture(scope="module")
def probe_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe-cache")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


INSIDE = """
import json, sys, sysconfig
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "path": sys.path,
    "purelib": sysconfig.get_paths()["purelib"],
    "platlib": sysconfig.get_paths()["platlib"],
}))
"""


@pytest.mark.parametrize("version", ["3.8", "3.11", "3.12"])
def test_the_new_environment_is_what_python_considers_a_venv(
    version: str, tmp_path: Path, probe_cache: Path
) -> None:
    base = pyenv_interpreter(version, probe_cache)
    env = create_venv(tmp_path / ".venv", base, prompt="demo")

    out = subprocess.run(
        [str(env.python), "-c", INSIDE], capture_output=True, text=True, env=clean_env(), check=True
    )
    inside = json.loads(out.stdout)
    assert Path(inside["prefix"]) == env.root
    assert Path(inside["base_prefix"]) == base.prefix
    assert str(env.site_packages) in inside["path"]
    assert Path(inside["purelib"]) == env.site_packages == env.root / base.scheme["purelib"]
    assert Path(inside["platlib"]) == env.platlib
    assert env.version == base.version
    # The environment's interpreter, probed, points back at the pyenv interpreter.
    probed = probe_interpreter(env.python, cache_dir=probe_cache)
    assert probed.is_virtualenv and probed.prefix == env.root
    assert probed.base_executable == base.executable
    assert probed.tags == base.tags


def test_layout_links_and_pyvenv_cfg(tmp_path: Path, probe_cache: Path) -> None:
    base = pyenv_interpreter("3.12", probe_cache)
    env = create_venv(tmp_path / "env", base, prompt="my project", system_site_packages=True)
    root = env.root
    for name in ("python", "python3", "python3.12"):
        link = root / "bin" / name
        assert link.is_symlink() and Path(os.readlink(link)) == base.executable
    assert os.readlink(root / "lib64") == "lib"
    assert (root / "include").is_dir()
    assert (root / ".gitignore").read_text().splitlines()[-1] == "*"
    assert not (root / "CACHEDIR.TAG").exists()
    cfg = dict(
        (key.strip(), value.strip())
        for key, _, value in (
            line.partition("=") for line in (root / "pyvenv.cfg").read_text().splitlines()
        )
    )
    assert cfg["home"] == str(base.executable.parent)
    assert cfg["include-system-site-packages"] == "true"
    assert cfg["version"] == base.version
    assert cfg["executable"] == str(base.executable)
    assert cfg["shipyard"] == __version__
    assert cfg["prompt"] == "my project"
    assert env.system_site_packages and env.prompt == "my project"


def test_inspect_venv_round_trips_create_venv(tmp_path: Path, probe_cache: Path) -> None:
    base = pyenv_interpreter("3.11", probe_cache)
    created = create_venv(tmp_path / "env", base)
    assert inspect_venv(tmp_path / "env") == created
    assert created == VirtualEnvironment(
        root=tmp_path / "env",
        python=tmp_path / "env" / "bin" / "python",
        version=base.version,
        base_executable=base.executable,
        site_packages=tmp_path / "env" / "lib" / "python3.11" / "site-packages",
        platlib=tmp_path / "env" / "lib" / "python3.11" / "site-packages",
        scripts=tmp_path / "env" / "bin",
        include=tmp_path / "env" / "include",
    )
    scheme = created.scheme()
    assert scheme.headers == tmp_path / "env" / "include" / "site" / "python3.11"
    assert scheme.purelib == created.site_packages and scheme.python == created.python
    assert scheme.data == created.root and scheme.scripts == created.scripts


def test_inspect_venv_reads_an_environment_made_by_the_venv_module(
    tmp_path: Path, probe_cache: Path
) -> None:
    base = pyenv_interpreter("3.12", probe_cache)
    subprocess.run(
        [str(base.executable), "-m", "venv", "--without-pip", str(tmp_path / "std")],
        check=True,
        env=clean_env(),
    )
    env = inspect_venv(tmp_path / "std")
    assert env is not None
    assert env.version == base.version
    assert env.site_packages == tmp_path / "std" / "lib" / "python3.12" / "site-packages"
    assert env.site_packages.is_dir() and env.python.exists()


def test_inspect_venv_is_none_without_pyvenv_cfg(tmp_path: Path) -> None:
    assert inspect_venv(tmp_path) is None
    assert inspect_venv(tmp_path / "missing") is None
    (tmp_path / "file").write_text("x")
    assert inspect_venv(tmp_path / "file") is None


def run_bash(script: str) -> list[str]:
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "PS1='$ '\n" + script],
        capture_output=True,
        text=True,
        env={**clean_env(), "PYTHONHOME": "/somewhere"},
        check=True,
    )
    assert out.stderr == ""
    return out.stdout.splitlines()


def test_bash_activate_and_deactivate(tmp_path: Path, probe_cache: Path) -> None:
    base = pyenv_interpreter("3.12", probe_cache)
    env = create_venv(tmp_path / "it's a venv", base, prompt="demo")
    activate = env.scripts / "activate"
    lines = run_bash(
        f"""
        before="$PATH"
        source {_sh(str(activate))}
        echo "$VIRTUAL_ENV"
        command -v python
        echo "home=${{PYTHONHOME-unset}}"
        echo "ps1=$PS1"
        python -c 'import sys; print(sys.prefix)'
        deactivate
        echo "after=${{VIRTUAL_ENV-unset}}"
        [ "$PATH" = "$before" ] && echo path-restored
        echo "home=${{PYTHONHOME-unset}}"
        echo "ps1=$PS1"
        declare -F deactivate >/dev/null || echo deactivate-gone
        """
    )
    assert lines == [
        str(env.root),
        str(env.scripts / "python"),
        "home=unset",
        "ps1=(demo) $ ",
        str(env.root),
        "after=unset",
        "path-restored",
        "home=/somewhere",
        "ps1=$ ",
        "deactivate-gone",
    ]


def test_bash_prompt_can_be_left_alone(tmp_path: Path, probe_cache: Path) -> None:
    env = create_venv(tmp_path / "env", pyenv_interpreter("3.11", probe_cache))
    lines = run_bash(
        f"VIRTUAL_ENV_DISABLE_PROMPT=1; source {_sh(str(env.scripts / 'activate'))}; "
        'echo "ps1=$PS1"; echo "$VIRTUAL_ENV_PROMPT"'
    )
    assert lines == ["ps1=$ ", "env"]


def test_activating_another_environment_leaves_the_first(tmp_path: Path, probe_cache: Path) -> None:
    base = pyenv_interpreter("3.11", probe_cache)
    one = create_venv(tmp_path / "one", base)
    two = create_venv(tmp_path / "two", base)
    lines = run_bash(
        f"""
        before="$PATH"
        source {_sh(str(one.scripts / "activate"))}
        source {_sh(str(two.scripts / "activate"))}
        echo "$VIRTUAL_ENV"
        echo "$PATH" | tr ':' '\\n' | grep -c {_sh(str(tmp_path))}
        deactivate
        [ "$PATH" = "$before" ] && echo path-restored
        """
    )
    assert lines == [str(two.root), "1", "path-restored"]


def test_the_other_shells_scripts_name_the_environment(tmp_path: Path, probe_cache: Path) -> None:
    env = create_venv(tmp_path / "env", pyenv_interpreter("3.12", probe_cache), prompt="demo")
    fish = (env.scripts / "activate.fish").read_text()
    csh = (env.scripts / "activate.csh").read_text()
    ps1 = (env.scripts / "Activate.ps1").read_text()
    root = str(env.root)
    assert f"set -gx VIRTUAL_ENV '{root}'" in fish
    assert "function deactivate" in fish and '"$VIRTUAL_ENV/bin"' in fish
    assert "set -e PYTHONHOME" in fish and "VIRTUAL_ENV_DISABLE_PROMPT" in fish
    assert f"setenv VIRTUAL_ENV '{root}'" in csh
    assert "alias deactivate" in csh and "${VIRTUAL_ENV}/bin" in csh
    assert "unsetenv PYTHONHOME" in csh and "VIRTUAL_ENV_DISABLE_PROMPT" in csh
    assert f"$env:VIRTUAL_ENV = '{root}'" in ps1
    assert "function global:deactivate" in ps1 and "'bin'" in ps1
    assert "env:PYTHONHOME" in ps1 and "VIRTUAL_ENV_DISABLE_PROMPT" in ps1
    for text in (fish, csh, ps1):
        assert "'demo'" in text
        assert "__SHIPYARD" not in text
    assert "__SHIPYARD" not in (env.scripts / "activate").read_text()


def test_quotes_in_paths_are_escaped_per_shell(tmp_path: Path, probe_cache: Path) -> None:
    env = create_venv(tmp_path / "a'b", pyenv_interpreter("3.12", probe_cache), prompt="x'y")
    assert (
        "set -gx VIRTUAL_ENV '" + str(env.root).replace("'", "\\'") + "'"
        in (env.scripts / "activate.fish").read_text()
    )
    assert (
        "'" + str(env.root).replace("'", "''") + "'" in (env.scripts / "Activate.ps1").read_text()
    )
    assert run_bash(f'source {_sh(str(env.scripts / "activate"))}; echo "$VIRTUAL_ENV_PROMPT"') == [
        "x'y"
    ]


# -- refusing and replacing ---------------------------------------------------------------


def test_a_non_empty_directory_that_is_not_a_venv_is_left_alone(
    tmp_path: Path, probe_cache: Path
) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(InstallError, match="not a virtual environment") as caught:
        create_venv(target, pyenv_interpreter("3.12", probe_cache), clear=True)
    assert caught.value.hint
    assert sorted(os.listdir(target)) == ["notes.txt"]


def test_a_file_in_the_way_is_refused(tmp_path: Path, probe_cache: Path) -> None:
    (tmp_path / "env").write_text("")
    with pytest.raises(InstallError, match="is a file"):
        create_venv(tmp_path / "env", pyenv_interpreter("3.12", probe_cache))


def test_an_existing_venv_is_replaced_only_when_asked(tmp_path: Path, probe_cache: Path) -> None:
    first = create_venv(tmp_path / "env", pyenv_interpreter("3.11", probe_cache))
    (first.site_packages / "leftover.py").write_text("")
    with pytest.raises(InstallError, match="already exists"):
        create_venv(tmp_path / "env", pyenv_interpreter("3.12", probe_cache))
    assert inspect_venv(tmp_path / "env") == first

    second = create_venv(tmp_path / "env", pyenv_interpreter("3.12", probe_cache), clear=True)
    assert second.version.startswith("3.12.")
    assert not (tmp_path / "env" / "lib" / "python3.11").exists()
    assert list(second.site_packages.iterdir()) == []


def test_an_empty_directory_is_used(tmp_path: Path, probe_cache: Path) -> None:
    (tmp_path / "env").mkdir()
    env = create_venv(tmp_path / "env", pyenv_interpreter("3.12", probe_cache))
    assert (env.root / "pyvenv.cfg").is_file()


def test_a_half_made_environment_is_not_a_venv_and_is_replaced(
    tmp_path: Path, probe_cache: Path
) -> None:
    base = pyenv_interpreter("3.12", probe_cache)
    env = create_venv(tmp_path / "env", base)
    (env.root / "pyvenv.cfg").unlink()  # as if creation had stopped just before the end
    assert inspect_venv(env.root) is None
    again = create_venv(tmp_path / "env", base)
    assert inspect_venv(env.root) == again


def test_a_venv_interpreter_makes_an_environment_of_its_base(
    tmp_path: Path, probe_cache: Path
) -> None:
    base = pyenv_interpreter("3.12", probe_cache)
    outer = create_venv(tmp_path / "outer", base)
    inner_interpreter = probe_interpreter(outer.python, cache_dir=probe_cache)
    inner = create_venv(tmp_path / "inner", inner_interpreter)
    assert os.readlink(inner.python) == str(base.executable)
    assert inner.base_executable == base.executable


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
