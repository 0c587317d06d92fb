"""``shipyard completion bash|zsh|fish``: print a shell completion script.

The script is generated from the argument parser itself (every command's options,
built by :func:`shipyard.cli.main.build_parser`), so it always matches the
installed shipyard: commands, their subcommands (``python install``, ``tool run``…),
long and short options with their help text where the shell shows descriptions
(zsh, fish), and the values of options and arguments that have ``choices``.

Why a static script of our own rather than a library:

* ``argcomplete`` runs the program at every TAB; a Python program that imports
  its parser takes a quarter of a second or more each time, which is felt;
* ``shtab`` generates static scripts too, but for bash and zsh only (no fish), and
  would be a new dependency for ~200 lines of plain text generation.

The generated script holds the command tree as ``case``/``switch`` tables and one
small function that walks the words typed so far (skipping the values of options
that take one) to find the command being completed. Nothing runs shipyard at TAB
time. Regenerate the script after upgrading shipyard.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field

__all__ = ["SHELLS", "CommandNode", "OptionSpec", "command_tree", "configure", "run", "script"]

#: The shells a script can be generated for.
SHELLS = ("bash", "zsh", "fish")

_INSTALL = """\
install it (then open a new shell):
  bash:  shipyard completion bash > ~/.local/share/bash-completion/completions/shipyard
         (or add `eval "$(shipyard completion bash)"` to ~/.bashrc)
  zsh:   mkdir -p ~/.zfunc && shipyard completion zsh > ~/.zfunc/_shipyard
         and in ~/.zshrc, before `compinit`: fpath=(~/.zfunc $fpath)
         (or after `compinit`: source <(shipyard completion zsh))
  fish:  shipyard completion fish > ~/.config/fish/completions/shipyard.fish
"""

#: What may appear unquoted in a generated word list (commands, flags, choices).
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_.+:@%,/=-]+$")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``SHELL`` argument and the install instructions to ``--help``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _INSTALL
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def run(args: argparse.Namespace) -> int:
    """Print the script for ``args.shell`` on stdout."""
    from shipyard.cli.main import build_parser

    sys.stdout.write(script(args.shell, build_parser(None)))
    return 0


# -- the command tree -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option of one command.

    :param flags: as typed, ``("-q", "--quiet")``.
    :param help: one line of help text (empty when the parser has none).
    :param takes_value: the option is followed by a value (``--index-url URL``).
    :param choices: the values it accepts, when the parser lists them.
    """

    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()


@dataclass(slots=True)
class CommandNode:
    """A command (the program itself at the root) and what may follow it.

    :param path: the command words after the program name: ``""``, ``"lock"``,
        ``"python install"``.
    :param help: one line of help text.
    :param options: its options (global ones included: every command takes them).
    :param commands: subcommand name → node, in the parser's order.
    :param positional_choices: values a positional argument accepts (``cache dir``).
    :param remainder: a positional takes the rest of the line (``run CMD ARGS...``):
        once it starts, nothing after it is shipyard's to complete.
    """

    path: str
    help: str = ""
    options: list[OptionSpec] = field(default_factory=list)
    commands: dict[str, CommandNode] = field(default_factory=dict)
    positional_choices: tuple[str, ...] = ()
    remainder: bool = False

    def walk(self) -> list[CommandNode]:
        """This node and every node below it, parents before children."""
        nodes = [self]
        for child in self.commands.values():
            nodes.extend(child.walk())
        return nodes

    def value_flags(self) -> list[str]:
        """The flags whose option takes a value."""
        return [flag for option in self.options if option.takes_value for flag in option.flags]


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The action's help with ``%(default)s`` and the like filled in, on one line."""
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    try:
        return _one_line(parser._get_formatter()._expand_help(action))
    except (KeyError, TypeError, ValueError):
        return _one_line(action.help)


def _choices(action: argparse.Action) -> tuple[str, ...]:
    if action.choices is None or isinstance(action, argparse._SubParsersAction):
        return ()
    return tuple(str(c) for c in action.choices if _PLAIN_WORD.match(str(c)))


def command_tree(
    parser: argparse.ArgumentParser, path: str = "", help_text: str = ""
) -> CommandNode:
    """The commands, options and choices of ``parser`` and its subparsers.

    :param path: the command words that lead to ``parser`` (``""`` for the program).
    """
    node = CommandNode(path=path, help=help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: _one_line(choice.help) for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not _PLAIN_WORD.match(name):
                    continue
                sub_path = f"{path} {name}".strip()
                node.commands[name] = command_tree(sub, sub_path, helps.get(name, ""))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            flags = tuple(f for f in action.option_strings if _PLAIN_WORD.match(f))
            node.options.append(
                OptionSpec(
                    flags=flags,
                    help=_help_of(parser, action),
                    takes_value=action.nargs != 0,
                    choices=_choices(action),
                )
            )
        else:
            node.positional_choices += _choices(action)
            node.remainder = node.remainder or action.nargs == argparse.REMAINDER
    return node


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`) from ``parser``.

    :raises ValueError: for another shell (the command line refuses it first).
    """
    tree = command_tree(parser)
    if shell == "bash":
        return _bash(tree)
    if shell == "zsh":
        return _zsh(tree)
    if shell == "fish":
        return _fish(tree)
    raise ValueError(f"no completion script for {shell!r}; choose from {', '.join(SHELLS)}")


# -- bash -------------------------------------------------------------------------------


def _sh_quote(text: str) -> str:
    """``text`` in single quotes for bash and zsh."""
    return "'" + text.replace("'", "'\\''") + "'"


def _case_table(name: str, rows: list[tuple[str, list[str]]], *, zsh: bool = False) -> str:
    """A shell function printing (bash) or setting ``reply`` to (zsh) the words of the
    row whose key is its first argument."""
    lines = [f"{name}() {{"]
    if zsh:
        lines.append("    reply=()")
    lines.append('    case "$1" in')
    for key, words in rows:
        if not words:
            continue
        listed = " ".join(_sh_quote(w) for w in words)
        body = f"reply=({listed})" if zsh else f"printf '%s\\n' {listed}"
        lines.append(f"        {_sh_quote(key)}) {body} ;;")
    lines += ["    esac", "}", ""]
    return "\n".join(lines)


def _tables(tree: CommandNode, *, zsh: bool) -> str:
    """The data tables both bash and zsh scripts use (zsh's with descriptions)."""
    nodes = tree.walk()

    def described(word: str, help_text: str) -> str:
        """zsh's ``_describe`` entries are ``word:description``, colons in the word escaped."""
        if not zsh:
            return word
        escaped = word.replace(":", "\\:")
        return f"{escaped}:{help_text}" if help_text else escaped

    commands = [
        (n.path, [described(name, c.help) for name, c in n.commands.items()]) for n in nodes
    ]
    options = [
        (n.path, [described(flag, o.help) for o in n.options for flag in o.flags]) for n in nodes
    ]
    choices = [
        (f"{n.path}|{flag}", list(o.choices))
        for n in nodes
        for o in n.options
        if o.choices
        for flag in o.flags
    ]
    prefix = "_shipyard"
    return "\n".join(
        [
            _case_table(f"{prefix}_commands", commands, zsh=zsh),
            _case_table(f"{prefix}_options", options, zsh=zsh),
            _case_table(
                f"{prefix}_value_options", [(n.path, n.value_flags()) for n in nodes], zsh=zsh
            ),
            _case_table(f"{prefix}_choices", choices, zsh=zsh),
            _case_table(
                f"{prefix}_positionals",
                [(n.path, list(n.positional_choices)) for n in nodes],
                zsh=zsh,
            ),
            _case_table(
                f"{prefix}_remainder", [(n.path, ["yes"]) for n in nodes if n.remainder], zsh=zsh
            ),
        ]
    )


_BASH_MAIN = r"""
_shipyard_in() {
    local word="$1" item
    shift
    for item; do
        [ "$item" = "$word" ] && return 0
    done
    return 1
}

# Completes `shipyard ...`: finds the command being typed (skipping the values of
# options that take one), then offers its subcommands, options or an option's values.
_shipyard() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" word words i=1
    COMPREPLY=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        word="${COMP_WORDS[i]}"
        case "$word" in
            --) return 0 ;;
            -*=*) ;;
            -*)
                if _shipyard_in "$word" $(_shipyard_value_options "$path"); then
                    i=$((i + 1))
                    if [ "${COMP_WORDS[i]}" = "=" ]; then i=$((i + 1)); fi
                fi ;;
            *)
                if _shipyard_in "$word" $(_shipyard_commands "$path"); then
                    path="${path:+$path }$word"
                elif [ -n "$(_shipyard_remainder "$path")" ]; then
                    return 0
                fi ;;
        esac
        i=$((i + 1))
    done
    if [ "$COMP_CWORD" -ge 1 ]; then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
    if [ "$cur" = "=" ]; then
        cur=""
    elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
        prev="${COMP_WORDS[COMP_CWORD-2]}"
    fi
    if [ -n "$prev" ] && _shipyard_in "$prev" $(_shipyard_value_options "$path"); then
        COMPREPLY=($(compgen -W "$(_shipyard_choices "$path|$prev")" -- "$cur"))
        return 0
    fi
    case "$cur" in
        -*) COMPREPLY=($(compgen -W "$(_shipyard_options "$path")" -- "$cur")) ;;
        *)
            words="$(_shipyard_commands "$path") $(_shipyard_positionals "$path")"
            COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
    esac
    return 0
}

complete -o default -F _shipyard shipyard
"""


def _header(shell: str) -> str:
    from shipyard import __version__

    return (
        f"# {shell} completion for shipyard {__version__}, generated by "
        f"`shipyard completion {shell}`.\n# Regenerate it after upgrading shipyard.\n"
    )


def _bash(tree: CommandNode) -> str:
    """A bash script: ``complete -F _shipyard shipyard`` with the tables it reads."""
    return _header("bash") + "\n" + _tables(tree, zsh=False) + _BASH_MAIN


# -- zsh --------------------------------------------------------------------------------

_ZSH_MAIN = r"""
# Completes `shipyard ...`: finds the command being typed (skipping the values of
# options that take one), then offers its subcommands, options or an option's values.
_shipyard() {
    local cmdpath="" word prev i=2
    local -a reply names
    while (( i < CURRENT )); do
        word="${words[i]}"
        case "$word" in
            (--) _files; return ;;
            (-*=*) ;;
            (-*)
                _shipyard_value_options "$cmdpath"
                if (( ${reply[(Ie)$word]} )); then (( i++ )); fi ;;
            (*)
                _shipyard_commands "$cmdpath"
                names=("${reply[@]%%:*}")
                if (( ${names[(Ie)$word]} )); then
                    cmdpath="${cmdpath:+$cmdpath }$word"
                else
                    _shipyard_remainder "$cmdpath"
                    if (( ${#reply} )); then _files; return; fi
                fi ;;
        esac
        (( i++ ))
    done
    prev="${words[CURRENT-1]}"
    if [[ "$PREFIX" == --*=* ]]; then
        prev="${PREFIX%%=*}"
        compset -P '*='
    fi
    _shipyard_value_options "$cmdpath"
    if (( ${reply[(Ie)$prev]} )); then
        _shipyard_choices "$cmdpath|$prev"
        if (( ${#reply} )); then
            compadd -a reply
        else
            _files
        fi
        return
    fi
    if [[ "$PREFIX" == -* ]]; then
        _shipyard_options "$cmdpath"
        _describe -t options 'option' reply
        return
    fi
    _shipyard_commands "$cmdpath"
    if (( ${#reply} )); then
        _describe -t commands 'command' reply
        return
    fi
    _shipyard_positionals "$cmdpath"
    if (( ${#reply} )); then
        compadd -a reply
        return
    fi
    _files
}

if [[ "${funcstack[1]}" == "_shipyard" ]]; then
    _shipyard "$@"
else
    compdef _shipyard shipyard
fi
"""


def _zsh(tree: CommandNode) -> str:
    """A zsh script for ``fpath`` (``_shipyard``) that also works when sourced."""
    return "#compdef shipyard\n" + _header("zsh") + "\n" + _tables(tree, zsh=True) + _ZSH_MAIN


# -- fish -------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    """``text`` in single quotes for fish."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_switch(name: str, rows: list[tuple[str, list[str]]]) -> str:
    """A fish function printing the words of the row whose key is its first argument."""
    lines = [f"function {name}", '    switch "$argv[1]"']
    for key, words in rows:
        if words:
            lines.append(f"        case {_fish_quote(key)}")
            lines.append("            printf '%s\\n' " + " ".join(_fish_quote(w) for w in words))
    lines += ["    end", "end", ""]
    return "\n".join(lines)


_FISH_MAIN = r"""
# The command being typed: "" (none yet), "lock", "python install"; the values of
# options that take one are skipped. After the first argument of `run`, `x` or
# `tool run` it is "-", which no completion below answers.
function __shipyard_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l skip 0
    for token in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $token
            case '--'
                echo -
                return
            case '-*=*'
                continue
            case '-*'
                if contains -- $token (__shipyard_value_options "$path")
                    set skip 1
                end
            case '*'
                if contains -- $token (__shipyard_commands "$path")
                    set path (string trim -- "$path $token")
                else if contains -- yes (__shipyard_remainder "$path")
                    echo -
                    return
                end
        end
    end
    echo $path
end

function __shipyard_at --description 'Is the command being typed $argv[1]?'
    set -l path (__shipyard_path)
    test "$path" = "$argv[1]"
end

"""


def _fish(tree: CommandNode) -> str:
    """A fish script of ``complete -c shipyard`` lines, each conditioned on the command
    being typed."""
    nodes = tree.walk()
    lines = [
        _header("fish"),
        _fish_switch("__shipyard_commands", [(n.path, list(n.commands)) for n in nodes]),
        _fish_switch("__shipyard_value_options", [(n.path, n.value_flags()) for n in nodes]),
        _fish_switch("__shipyard_remainder", [(n.path, ["yes"]) for n in nodes if n.remainder]),
        _FISH_MAIN.lstrip("\n"),
    ]
    for node in nodes:
        at = "-n " + _fish_quote(f'__shipyard_at "{node.path}"')
        for name, child in node.commands.items():
            described = f" -d {_fish_quote(child.help)}" if child.help else ""
            lines.append(f"complete -c shipyard -f {at} -a {_fish_quote(name)}{described}")
        if node.positional_choices:
            words = " ".join(node.positional_choices)
            lines.append(f"complete -c shipyard -f {at} -a {_fish_quote(words)}")
        for option in node.options:
            parts = ["complete -c shipyard", at]
            for flag in option.flags:
                if flag.startswith("--"):
                    parts.append(f"-l {flag[2:]}")
                elif len(flag) == 2:
                    parts.append(f"-s {flag[1]}")
                else:
                    parts.append(f"-o {flag[1:]}")
            if option.choices:
                parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
            elif option.takes_value:
                parts.append("-r")
            if option.help:
                parts.append(f"-d {_fish_quote(option.help)}")
            lines.append(" ".join(parts))
        lines.append("")
    return "\n".join(lines)
