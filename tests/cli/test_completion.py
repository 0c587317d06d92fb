"""``shipyard completion bash|zsh|fish``: the scripts complete commands, subcommands,
options and choices in the shells themselves.

bash runs everywhere these tests run. zsh and fish may be missing on a CI machine:
their scripts' content is always checked, and where the shell is installed the
script is also parsed and asked for completions (zsh through stand-ins for its
completion builtins, fish through ``complete -C``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.test_local_index import shipyard
from shipyard.cli.main import _COMMANDS


def _script(tmp_path: Path, shell: str) -> Path:
    result = shipyard(tmp_path, "completion", shell)
    assert result.stdout and not result.stderr
    path = tmp_path / f"shipyard.{shell}"
    path.write_text(result.stdout)
    return path


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash's completion function offers for the command line ``words`` (the last
    one is the word under the cursor)."""
    program = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _shipyard; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program, "bash", str(script), *words],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert not result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = _script(tmp_path, "bash")
    assert "complete -o default -F _shipyard shipyard" in script.read_text()
    assert _bash_complete(script, "shipyard", "sy") == ["sync"]
    assert _bash_complete(script, "shipyard", "lock", "--up") == ["--upgrade", "--upgrade-package"]
    assert {"install", "list", "find"} <= set(_bash_complete(script, "shipyard", "python", ""))
    assert set(_bash_complete(script, "shipyard", "")) == set(_COMMANDS)
    # an option's choices, also after global options and as --option=value
    assert _bash_complete(script, "shipyard", "lock", "--resolution", "l") == [
        "lowest",
        "lowest-direct",
    ]
    assert _bash_complete(script, "shipyard", "--project", "lock", "lock", "--up") == [
        "--upgrade",
        "--upgrade-package",
    ]
    assert _bash_complete(script, "shipyard", "--color", "=", "al") == ["always"]
    assert _bash_complete(script, "shipyard", "cache", "") == [
        "dir",
        "clean",
        "prune",
        "stats",
        "keygen",
    ]
    assert _bash_complete(script, "shipyard", "completion", "") == ["bash", "zsh", "fish"]
    # what follows `run CMD` is the command's own: shipyard offers nothing (files then)
    assert _bash_complete(script, "shipyard", "run", "pytest", "--") == []


def test_zsh_script(tmp_path: Path) -> None:
    script = _script(tmp_path, "zsh")
    text = script.read_text()
    assert text.startswith("#compdef shipyard\n")
    assert "compdef _shipyard shipyard" in text
    # options and commands carry their help text as descriptions
    assert "'--upgrade-package:move this package to its newest allowed version" in text
    assert "'install:Download and install managed CPython builds.'" in text
    assert "'lock|--resolution') reply=('highest' 'lowest' 'lowest-direct')" in text
    if shutil.which("zsh") is None:
        return
    subprocess.run(["zsh", "-n", str(script)], check=True, timeout=60)
    # Outside a completion widget, stand-ins print what would be offered.
    program = (
        "_describe() { print -l -- ${(P)4%%:*} }; compadd() { print -l -- ${(P)2} }; "
        "_files() { print FILES }; compset() { PREFIX=${PREFIX#*=} }; compdef() { }; "
        'source "$1"; shift; words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}; _shipyard'
    )

    def complete(*words: str) -> list[str]:
        result = subprocess.run(
            ["zsh", "-f", "-c", program, "zsh", str(script), *words],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert not result.stderr
        return result.stdout.split()

    assert "sync" in complete("shipyard", "sy")
    assert {"--upgrade", "--upgrade-package"} <= set(complete("shipyard", "lock", "--up"))
    assert {"install", "list", "find"} <= set(complete("shipyard", "python", ""))
    assert complete("shipyard", "--color=") == ["auto", "always", "never"]
    assert complete("shipyard", "add", "") == ["FILES"]


def test_fish_script(tmp_path: Path) -> None:
    script = _script(tmp_path, "fish")
    text = script.read_text()
    for name in _COMMANDS:
        assert f"complete -c shipyard -f -n '__shipyard_at \"\"' -a '{name}'" in text
    assert (
        "complete -c shipyard -n '__shipyard_at \"lock\"' -l upgrade-package -s P -r "
        "-d 'move this package to its newest allowed version (repeatable)'"
    ) in text
    assert "-l resolution -x -a 'highest lowest lowest-direct'" in text
    if shutil.which("fish") is None:
        return
    subprocess.run(["fish", "--no-execute", str(script)], check=True, timeout=60)

    def complete(line: str) -> list[str]:
        result = subprocess.run(
            ["fish", "--no-config", "-c", f"source {script}; complete -C {line!r}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert not result.stderr
        return [row.split("\t")[0] for row in result.stdout.splitlines()]

    assert complete("shipyard sy") == ["sync"]
    assert complete("shipyard lock --up") == ["--upgrade", "--upgrade-package"]
    assert {"install", "list", "find"} <= set(complete("shipyard python "))
    assert complete("shipyard lock --resolution lowest") == ["lowest", "lowest-direct"]


@pytest.mark.parametrize("shell", ["tcsh", "powershell"])
def test_an_unknown_shell_is_a_usage_error(tmp_path: Path, shell: str) -> None:
    result = shipyard(tmp_path, "completion", shell, check=False)
    assert result.returncode == 2 and not result.stdout
    assert "'bash', 'zsh', 'fish'" in result.stderr


def test_help_says_where_to_install_the_script(tmp_path: Path) -> None:
    said = shipyard(tmp_path, "completion", "--help").stdout
    assert "~/.local/share/bash-completion/completions/shipyard" in said
    assert "fpath=(~/.zfunc $fpath)" in said
    assert "~/.config/fish/completions/shipyard.fish" in said
