"""Activation as shell code: what ``shipyard activate`` prints and how ``shipyard
shell`` starts an activated shell.

The script for bash, zsh and POSIX ``sh`` (one dialect) and the one for fish set the
variables :func:`~shipyard.project.activation.apply_activation` would, put the
environment's directories in front of the shell's ``PATH`` as it is when the script
runs, show ``(<name>) `` before the prompt unless ``VIRTUAL_ENV_DISABLE_PROMPT`` is set
(as venv's ``activate`` does), and define ``deactivate``, which puts every variable
and the prompt back as they were. A ``deactivate`` function already defined (another
activated environment) is called first.

An activated shell is the user's shell reading its usual startup file first and the
script after it, so what ``~/.bashrc`` does to ``PATH`` cannot hide the environment:
bash gets ``--rcfile`` (a file that sources ``~/.bashrc``), zsh a ``ZDOTDIR`` of two
files that read the user's ``.zshenv`` and ``.zshrc``, fish ``--init-command``, and
``sh`` the ``ENV`` file POSIX shells read. The temporary files delete themselves once
read.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from shipyard.project.activation import Activation, apply_activation

__all__ = ["SHELLS", "activate_script", "shell_command", "shell_kind"]

#: the shells ``activate`` writes for and ``shell`` starts
SHELLS = ("bash", "zsh", "fish", "sh")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POSIX_SHELLS = {"sh": "sh", "dash": "sh", "ash": "sh", "ksh": "sh", "mksh": "sh", "bash": "bash"}


def shell_kind(program: str) -> str | None:
    """The dialect of the shell ``program`` (a path or a name, as ``$SHELL`` holds):
    one of :data:`SHELLS`, or ``None`` for a shell shipyard cannot activate."""
    name = os.path.basename(program).lower().removesuffix(".exe")
    if name in ("zsh", "fish"):
        return name
    return _POSIX_SHELLS.get(name)


def _changes(
    activation: Activation, environ: Mapping[str, str], prompt: str
) -> tuple[dict[str, str], list[str], tuple[str, ...] | None]:
    """What the script must do to ``environ``: variables to set (in order), variables
    to remove, and ``PATH`` as (prepended…, ``""`` for the shell's own, appended…) when
    it only gains entries (else it is among the variables)."""
    activated = apply_activation(activation, environ)
    marker = "VIRTUAL_ENV_PROMPT" if not activation.conda else "CONDA_PROMPT_MODIFIER"
    activated[marker] = f"({prompt}) "
    # a name no shell can assign (an env-file's "my.key") reaches `run` only
    wanted = {k: v for k, v in activated.items() if environ.get(k) != v and _NAME.fullmatch(k)}
    removed = [k for k in environ if k not in activated and _NAME.fullmatch(k)]
    path: tuple[str, ...] | None = None
    expected = os.pathsep.join(
        e for e in (*activation.path_prepend, environ.get("PATH", ""), *activation.path_append) if e
    )
    if wanted.get("PATH") == expected:
        del wanted["PATH"]
        path = (*activation.path_prepend, "", *activation.path_append)
    return wanted, removed, path


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _posix_script(activation: Activation, environ: Mapping[str, str], prompt: str) -> str:
    wanted, removed, path = _changes(activation, environ, prompt)
    touched = [*wanted, *removed, *(["PATH"] if path is not None else [])]
    lines = [
        f"# Activates {activation.env_root} (written by `shipyard activate`);",
        "# `deactivate` puts the variables and the prompt back.",
        'case "$(command -v deactivate 2>/dev/null)" in deactivate) deactivate ;; esac',
    ]
    for name in touched:
        lines.append(f'if [ -n "${{{name}+x}}" ]; then _SHIPYARD_OLD_{name}="${name}"; fi')
    for name, value in wanted.items():
        lines.append(f"{name}={_sh_quote(value)}; export {name}")
    for name in removed:
        lines.append(f"unset {name}")
    if path is not None:
        parts = [_sh_quote(e) if e else '"$PATH"' for e in path]
        if environ.get("PATH", "") == "":
            parts = [p for p in parts if p != '"$PATH"']
        lines.append(f"PATH={':'.join(parts)}; export PATH")
    lines += [
        'if [ -z "${VIRTUAL_ENV_DISABLE_PROMPT-}" ]; then',
        '    _SHIPYARD_OLD_PS1="${PS1-}"',
        f'    PS1={_sh_quote(f"({prompt}) ")}"${{PS1-}}"',
        "fi",
        "deactivate () {",
    ]
    for name in touched:
        lines += [
            f'    if [ -n "${{_SHIPYARD_OLD_{name}+x}}" ]; then',
            f'        {name}="$_SHIPYARD_OLD_{name}"; export {name}; unset _SHIPYARD_OLD_{name}',
            f"    else unset {name}; fi",
        ]
    lines += [
        '    if [ -n "${_SHIPYARD_OLD_PS1+x}" ]; then',
        '        PS1="$_SHIPYARD_OLD_PS1"; unset _SHIPYARD_OLD_PS1',
        "    fi",
        "    unset -f deactivate",
        "    hash -r 2>/dev/null || true",
        "}",
        "hash -r 2>/dev/null || true",
    ]
    return "\n".join(lines) + "\n"


def _fish_script(activation: Activation, environ: Mapping[str, str], prompt: str) -> str:
    wanted, removed, path = _changes(activation, environ, prompt)
    touched = [*wanted, *removed]
    lines = [
        f"# Activates {activation.env_root} (written by `shipyard activate`);",
        "# `deactivate` puts the variables and the prompt back.",
        "functions -q deactivate; and deactivate",
    ]
    for name in touched:
        lines.append(f'set -q {name}; and set -g _shipyard_old_{name} "${name}"')
    if path is not None:
        lines.append("set -g _shipyard_old_PATH $PATH")
    for name, value in wanted.items():
        lines.append(f"set -gx {name} {_fish_quote(value)}")
    for name in removed:
        lines.append(f"set -e {name}")
    if path is not None:
        parts = [_fish_quote(e) if e else "$PATH" for e in path]
        lines.append(f"set -gx PATH {' '.join(parts)}")
    for script in activation.fish_scripts:
        lines.append(f"source {_fish_quote(str(script))}")
    lines += [
        'if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"',
        "    functions -q fish_prompt; and functions -c fish_prompt _shipyard_old_fish_prompt",
        "    function fish_prompt",
        "        set -l old_status $status",
        f"        printf '%s' {_fish_quote(f'({prompt}) ')}",
        "        if functions -q _shipyard_old_fish_prompt",
        '            echo "exit $old_status" | source',
        "            _shipyard_old_fish_prompt",
        "        else",
        "            printf '> '",
        "        end",
        "    end",
        "end",
        "function deactivate --description 'Leave the shipyard environment'",
    ]
    for name in touched:
        lines += [
            f"    if set -q _shipyard_old_{name}",
            f"        set -gx {name} $_shipyard_old_{name}; set -e _shipyard_old_{name}",
            f"    else; set -e {name}; end",
        ]
    if path is not None:
        lines.append("    set -gx PATH $_shipyard_old_PATH; set -e _shipyard_old_PATH")
    lines += [
        "    if functions -q _shipyard_old_fish_prompt",
        "        functions -e fish_prompt",
        "        functions -c _shipyard_old_fish_prompt fish_prompt",
        "        functions -e _shipyard_old_fish_prompt",
        '    else if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"',
        "        functions -e fish_prompt",
        "    end",
        "    functions -e deactivate",
        "end",
    ]
    return "\n".join(lines) + "\n"


def activate_script(
    activation: Activation, environ: Mapping[str, str], *, shell: str, prompt: str
) -> str:
    """The activation script for ``shell`` (one of :data:`SHELLS`), for a shell whose
    variables are ``environ`` (``${NAME}`` in the project's values expands against it).

    :param prompt: the name shown as ``(<prompt>) `` before the prompt.
    :raises ManifestError: when an env-file is missing or unreadable.
    :raises ValueError: for a shell not in :data:`SHELLS`.
    """
    if shell == "fish":
        return _fish_script(activation, environ, prompt)
    if shell in ("bash", "zsh", "sh"):
        return _posix_script(activation, environ, prompt)
    raise ValueError(f"no activation script for {shell!r}")


def _scratch(prefix: str, suffix: str, text: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    return Path(name)


def shell_command(
    activation: Activation,
    environ: Mapping[str, str],
    *,
    program: str,
    shell: str,
    prompt: str,
) -> tuple[list[str], dict[str, str]]:
    """How to start ``program`` (a ``shell`` of :data:`SHELLS`) interactively,
    activated after its own startup files, with ``(<prompt>)`` before its prompt.

    Writes the startup file(s) the shell reads into the temporary directory; they
    remove themselves when read.

    :returns: (argv, environment) for ``os.execve``.
    :raises ManifestError: when an env-file is missing or unreadable.
    """
    script = activate_script(activation, environ, shell=shell, prompt=prompt)
    env = dict(environ)
    if shell == "fish":
        return [program, "--init-command", script], env
    if shell == "bash":
        rc = _scratch("shipyard-bashrc-", ".sh", "")
        rc.write_text(
            f"command rm -f -- {_sh_quote(str(rc))}\n"
            'if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n' + script,
            encoding="utf-8",
        )
        return [program, "--rcfile", str(rc), "-i"], env
    if shell == "zsh":
        folder = Path(tempfile.mkdtemp(prefix="shipyard-zsh-"))
        restore = (
            'if [ -n "${_SHIPYARD_USER_ZDOTDIR+x}" ]; then ZDOTDIR="$_SHIPYARD_USER_ZDOTDIR"; '
            "else unset ZDOTDIR; fi\n"
        )
        (folder / ".zshenv").write_text(
            restore
            + 'if [ -f "${ZDOTDIR:-$HOME}/.zshenv" ]; then . "${ZDOTDIR:-$HOME}/.zshenv"; fi\n'
            'if [ -n "${ZDOTDIR+x}" ]; then _SHIPYARD_USER_ZDOTDIR="$ZDOTDIR"; '
            "else unset _SHIPYARD_USER_ZDOTDIR; fi\n"
            f"ZDOTDIR={_sh_quote(str(folder))}\n",
            encoding="utf-8",
        )
        (folder / ".zshrc").write_text(
            restore + "unset _SHIPYARD_USER_ZDOTDIR\n"
            f"command rm -rf -- {_sh_quote(str(folder))}\n"
            'if [ -f "${ZDOTDIR:-$HOME}/.zshrc" ]; then . "${ZDOTDIR:-$HOME}/.zshrc"; fi\n'
            + script,
            encoding="utf-8",
        )
        if "ZDOTDIR" in environ:
            env["_SHIPYARD_USER_ZDOTDIR"] = environ["ZDOTDIR"]
        env["ZDOTDIR"] = str(folder)
        return [program, "-i"], env
    if shell == "sh":
        rc = _scratch("shipyard-shrc-", ".sh", "")
        user = environ.get("ENV")
        rc.write_text(
            f"command rm -f -- {_sh_quote(str(rc))}\n"
            + (f'ENV={_sh_quote(user)}; export ENV; . "$ENV"\n' if user else "unset ENV\n")
            + script,
            encoding="utf-8",
        )
        env["ENV"] = str(rc)
        return [program, "-i"], env
    raise ValueError(f"cannot start {shell!r} activated")
