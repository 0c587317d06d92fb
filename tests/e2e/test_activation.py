"""Activation: what `run`, `activate` and `shell` apply inside an environment.

A hermetic conda channel holds a real CPython 3.12 (from pyenv) and ``foo``, whose
``etc/conda/activate.d/foo.sh`` exports ``FOO_DATA``, puts ``opt/foo/bin`` on ``PATH``
and appends a line to ``$CONDA_PREFIX/sourced.log`` each time it is sourced, so the
tests see how often shipyard ran it. ``foo`` also carries a post-link script, which
shipyard does not run and warns about. The ``shell`` tests drive bash, zsh and fish
in tmux (installed with apt-get when missing) with a HOME of their own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from support.conda_channel import CondaPackage, build_channel, conda_python_package

from .test_local_index import shipyard

pytestmark = pytest.mark.slow

FOO_ACTIVATE = b"""\
export FOO_DATA="$CONDA_PREFIX/share/foo"
export PATH="$CONDA_PREFIX/opt/foo/bin:$PATH"
echo "activate.d/foo.sh sourced" >> "$CONDA_PREFIX/sourced.log"
echo "foo: activated"
"""
FOO_TOOL = b'#!/bin/sh\necho "foo-tool sees $FOO_DATA"\n'
POST_LINK = b'#!/bin/sh\necho "post-link ran" > "$PREFIX/post-link-ran"\n'
#: the debian package that provides each program the tests drive
DEBIAN = {"tmux": "tmux", "bash": "bash", "zsh": "zsh", "fish": "fish"}


@pytest.fixture(scope="session")
def activation_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A channel with python 3.12 (linux-64) and ``foo`` (noarch, with activate.d)."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12.*")))
    if not found:
        pytest.fail("this test needs a CPython 3.12 under ~/.pyenv/versions")
    install = Path(found[-1])
    packages = [
        conda_python_package(install, install.name),
        CondaPackage(
            "foo",
            "1.0",
            "h0_0",
            files={
                "etc/conda/activate.d/foo.sh": FOO_ACTIVATE,
                "share/foo/README": b"foo data\n",
                "opt/foo/bin/foo-tool": FOO_TOOL,
                "bin/.foo-post-link.sh": POST_LINK,
            },
            executables=frozenset({"opt/foo/bin/foo-tool", "bin/.foo-post-link.sh"}),
            fmt="conda",
        ),
    ]
    return build_channel(tmp_path_factory.mktemp("activation-channel") / "channel", packages)


def _conda_project(root: Path, channel: Path, name: str = "actproj", extra: str = "") -> Path:
    project = root / name
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        "dependencies = []\n\n"
        # no PyPI requirement: nothing may be asked of this (closed) port
        f'[tool.shipyard]\nindex-url = "http://127.0.0.1:9/simple"\n{extra}\n'
        f'[tool.shipyard.conda]\nchannels = ["{channel.as_uri()}"]\n'
        'dependencies = ["python 3.12.*", "foo"]\nplatforms = ["linux-64"]\n'
    )
    return project


def _venv_project(root: Path, tool: str) -> Path:
    project = root / "venvproj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "venvproj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = []\n\n[tool.shipyard]\nindex-url = "http://127.0.0.1:9/simple"\n' + tool
    )
    return project


def _sourced(project: Path) -> int:
    log = project / ".venv" / "sourced.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_run_applies_activate_d_scripts_once_and_warns_of_post_link(
    tmp_path: Path, activation_channel: Path
) -> None:
    project = _conda_project(tmp_path, activation_channel)
    prefix = project / ".venv"

    synced = shipyard(project, "sync")
    assert "foo-1.0-h0_0 has a post-link script (bin/.foo-post-link.sh)" in synced.stderr
    assert "shipyard does not run post-link scripts" in synced.stderr
    assert not (prefix / "post-link-ran").exists()
    assert _sourced(project) == 1  # sync works the activation out once, for run

    show = 'echo "$FOO_DATA|$CONDA_PREFIX|${VIRTUAL_ENV-unset}"'
    first = shipyard(project, "run", "sh", "-c", show, VIRTUAL_ENV="/elsewhere")
    assert first.stdout.strip() == f"{prefix}/share/foo|{prefix}|unset"
    assert "foo: activated" not in first.stdout  # what the scripts print is not the output
    assert _sourced(project) == 1  # run read what sync cached

    # the fast path (stamp fresh) and the full path (an option) read the cached set
    again = shipyard(project, "run", "sh", "-c", show)
    assert again.stdout.strip() == f"{prefix}/share/foo|{prefix}|unset"
    slow = shipyard(project, "run", "--frozen", "foo-tool")
    assert slow.stdout.strip() == f"foo-tool sees {prefix}/share/foo"
    assert _sourced(project) == 1

    path = shipyard(project, "run", "sh", "-c", 'echo "$PATH"').stdout.strip().split(os.pathsep)
    assert path[:2] == [f"{prefix}/opt/foo/bin", f"{prefix}/bin"]
    assert path[2:] == os.environ["PATH"].split(os.pathsep)

    # a changed script is run again, once
    script = prefix / "etc" / "conda" / "activate.d" / "foo.sh"
    script.write_bytes(FOO_ACTIVATE.replace(b"share/foo", b"share/foo2"))
    changed = shipyard(project, "run", "sh", "-c", "echo $FOO_DATA")
    assert changed.stdout.strip() == f"{prefix}/share/foo2"
    shipyard(project, "run", "sh", "-c", "echo $FOO_DATA")
    assert _sourced(project) == 2


def test_failing_activate_d_script_is_a_clear_error(
    tmp_path: Path, activation_channel: Path
) -> None:
    project = _conda_project(tmp_path, activation_channel)
    shipyard(project, "sync")
    (project / ".venv" / "etc" / "conda" / "activate.d" / "zz-broken.sh").write_text(
        "echo 'broken: missing setup' >&2\nexit 3\n"
    )

    result = shipyard(project, "run", "python", "-c", "pass", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # the paragraph is wrapped
    assert "The activation scripts of the conda prefix failed (exit status 3" in message
    assert "broken: missing setup" in message
    assert "zz-broken.sh" in message
    assert "Traceback" not in message


def test_project_env_and_env_file_reach_run(tmp_path: Path) -> None:
    project = _venv_project(
        tmp_path,
        'env-file = [".env", ".env.local"]\n'
        "[tool.shipyard.env]\n"
        'GREETING = "hello ${WHO:-world}"\n'
        'DATA_DIR = "${VIRTUAL_ENV}/data"\n'
        'LEVEL = "${LEVEL:-info}"\n'
        "PORT = 8000\n"
        'SHARED = "from the table"\n',
    )
    (project / ".env").write_text(
        "# committed defaults\n"
        'export SECRET="two words # not a comment"\n'
        "SHARED=from the file\n"
        "DERIVED=${SECRET}-derived\n"
        "WHO=file\n"
    )
    (project / ".env.local").write_text("WHO='local'\n")
    shipyard(project, "sync")
    show = (
        "import os; print('|'.join(os.environ.get(k, '-') for k in "
        "('GREETING', 'DATA_DIR', 'LEVEL', 'PORT', 'SHARED', 'SECRET', 'DERIVED')))"
    )
    venv = project / ".venv"
    expected = (
        f"hello local|{venv}/data|info|8000|from the table|two words # not a comment|"
        "two words # not a comment-derived"
    )
    for _ in range(2):  # computed, then read from the cache by the fast path
        assert shipyard(project, "run", "python", "-c", show).stdout.strip() == expected
    overridden = shipyard(project, "run", "python", "-c", show, LEVEL="debug")
    assert overridden.stdout.strip().split("|")[2] == "debug"

    # `activate` writes the same values for a shell
    script = shipyard(project, "activate", "--shell", "bash").stdout
    shown = subprocess.run(
        [
            "bash",
            "-c",
            f'{script}\necho "$GREETING|$VIRTUAL_ENV|$SECRET"; deactivate; echo "${{GREETING-unset}}"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.splitlines() == [
        f"hello local|{venv}|two words # not a comment",
        "unset",
    ]

    # the env-file is read on every run: an edit needs no sync
    (project / ".env.local").write_text("WHO=edited\n")
    assert shipyard(project, "run", "python", "-c", show).stdout.startswith("hello edited|")

    (project / ".env.local").unlink()
    missing = shipyard(project, "run", "python", "-c", show, check=False)
    assert missing.returncode == 1
    assert "Cannot read the env-file" in missing.stderr and ".env.local" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_shell_refuses_a_shell_it_cannot_activate(tmp_path: Path) -> None:
    project = _venv_project(tmp_path, "")
    shipyard(project, "sync")
    result = shipyard(project, "shell", "--no-sync", check=False, SHELL="/usr/bin/tcsh")
    assert result.returncode == 2
    assert "shipyard cannot activate /usr/bin/tcsh" in result.stderr
    assert "Pass --shell" in result.stderr


def test_bad_env_table_is_a_clear_error(tmp_path: Path) -> None:
    project = _venv_project(tmp_path, "[tool.shipyard.env]\nDEBUG = true\n")
    result = shipyard(project, "run", "python", "-c", "pass", check=False)
    assert result.returncode == 1
    assert "[tool.shipyard] env.DEBUG must be a string, not bool" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- shells


def _install(programs: list[str]) -> None:
    """apt-get install the Debian packages of ``programs`` that are missing, once at a
    time across test processes (as tests/support/oci_tools.py does)."""
    if all(shutil.which(p) for p in programs):
        return
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        pytest.fail(f"install {' '.join(programs)} (as root: apt-get install ...)")
    lock = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shipyard-tests"
    lock.mkdir(parents=True, exist_ok=True)
    with FileLock(lock / "apt-get.lock", timeout=3600):
        missing = [DEBIAN[p] for p in programs if not shutil.which(p)]
        if missing:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run([apt_get, "update"], env=env, check=True, capture_output=True)
            subprocess.run(
                [apt_get, "install", "-y", "--no-install-recommends", *missing],
                env=env,
                check=True,
                capture_output=True,
            )
    assert all(shutil.which(p) for p in programs), programs


@pytest.fixture(scope="module")
def synced_conda_project(
    tmp_path_factory: pytest.TempPathFactory, activation_channel: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    """One synced conda project for the shell tests, with its own cache and HOME
    (startup files that set a plain prompt and a marker variable)."""
    root = tmp_path_factory.mktemp("shells")
    project = _conda_project(root, activation_channel, name="shellproj")
    home = root / "home"
    (home / ".config" / "fish").mkdir(parents=True)
    (home / ".bashrc").write_text("export FROM_RC=bashrc\nPS1='bash$ '\n")
    (home / ".zshrc").write_text("export FROM_RC=zshrc\nPROMPT='zsh> '\n")
    (home / ".config" / "fish" / "config.fish").write_text(
        "set -gx FROM_RC fishrc\nset -g fish_greeting\nfunction fish_prompt; printf 'fish> '; end\n"
    )
    env = {
        "SHIPYARD_CACHE_DIR": str(root / "cache"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    shipyard(project, "sync", **env)
    yield project, env


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_activate_script_sets_and_deactivate_restores(
    synced_conda_project: tuple[Path, dict[str, str]], shell: str
) -> None:
    _install([shell])
    project, env = synced_conda_project
    prefix = project / ".venv"
    script = shipyard(project, "activate", "--shell", shell, **env).stdout
    (project / f"activate.{shell}").write_text(script)
    if shell == "fish":
        code = (
            "set -gx CONDA_PREFIX /old/prefix; set -g before $PATH\n"
            f"source activate.{shell}\n"
            'echo "on:$FOO_DATA:$CONDA_PREFIX:$CONDA_PROMPT_MODIFIER"\n'
            "echo prompt:(fish_prompt)\n"
            "command -v foo-tool\n"
            "deactivate\n"
            "set -q FOO_DATA; and echo still-set; or echo off:unset:$CONDA_PREFIX\n"
            "test (string join : $PATH) = (string join : $before); and echo path-restored\n"
        )
        argv = ["fish", "--no-config", "-c", code]
    else:
        code = (
            "CONDA_PREFIX=/old/prefix; export CONDA_PREFIX; before=$PATH; PS1='plain$ '\n"
            f'eval "$(cat activate.{shell})"\n'
            'echo "on:$FOO_DATA:$CONDA_PREFIX:$CONDA_PROMPT_MODIFIER"\n'
            'echo "prompt:$PS1"\n'
            "command -v foo-tool\n"
            "deactivate\n"
            'echo "off:${FOO_DATA-unset}:$CONDA_PREFIX"\n'
            '[ "$PATH" = "$before" ] && echo path-restored\n'
            'echo "prompt:$PS1"\n'
        )
        argv = [shell, "-c", code]
    result = subprocess.run(
        argv, cwd=project, capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )
    lines = result.stdout.splitlines()
    assert f"on:{prefix}/share/foo:{prefix}:(shellproj) " in lines, result
    assert any(line.startswith("prompt:(shellproj) ") for line in lines), result
    assert f"{prefix}/opt/foo/bin/foo-tool" in lines, result
    assert "off:unset:/old/prefix" in lines, result
    assert "path-restored" in lines, result
    if shell != "fish":
        assert lines[-1] == "prompt:plain$ ", result


class Tmux:
    """A private tmux server (its own socket in a temporary folder, no configuration
    file) for one test; :meth:`close` ends it and removes the folder."""

    def __init__(self, env: dict[str, str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tmux-"))  # short: a socket path
        self.env = env

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.folder / "socket"), "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def close(self) -> None:
        self("kill-server")
        shutil.rmtree(self.folder, ignore_errors=True)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "main").stdout

    def wait_for(self, *texts: str, deadline: float = 120.0) -> str:
        """Poll the pane until every text is on it; fail with the screen after
        ``deadline`` seconds."""
        end = time.monotonic() + deadline
        while True:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            if time.monotonic() > end:
                pytest.fail(f"tmux never showed {texts!r}; the screen:\n{screen}")
            time.sleep(0.1)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_under_tmux_shows_variables_and_prompt(
    synced_conda_project: tuple[Path, dict[str, str]], shell: str
) -> None:
    _install(["tmux", shell])
    project, env = synced_conda_project
    prefix = project / ".venv"
    program = shutil.which(shell)
    assert program is not None
    tmux = Tmux({**os.environ, **env, "SHELL": program, "TERM": "xterm"})
    command = f"{sys.executable} -m shipyard shell"
    started = tmux(
        "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", "-c", str(project), command
    )
    assert started.returncode == 0, started.stderr
    try:
        prompt = {"bash": "bash$ ", "zsh": "zsh> ", "fish": "fish> "}[shell]
        tmux.wait_for(f"(shellproj) {prompt}".rstrip())  # capture-pane drops trailing blanks
        tmux("send-keys", "-t", "main", 'echo "got=$FOO_DATA rc=$FROM_RC"', "Enter")
        tmux.wait_for(f"got={prefix}/share/foo rc={shell}rc")
        tmux("send-keys", "-t", "main", "exit", "Enter")
        end = time.monotonic() + 60
        while tmux("has-session", "-t", "main").returncode == 0:
            assert time.monotonic() < end, tmux.screen()
            time.sleep(0.1)
    finally:
        tmux.close()
