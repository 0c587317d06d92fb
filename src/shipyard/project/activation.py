"""Activation: the variables a command runs with inside an environment.

``shipyard run``, ``shell`` and ``activate`` apply what activating the environment
would, in this order:

1. ``PATH`` gets the environment's scripts directory in front; ``PYTHONHOME`` is
   dropped. A virtual environment sets ``VIRTUAL_ENV`` (PEP 405); a conda prefix sets
   ``CONDA_PREFIX`` and ``CONDA_DEFAULT_ENV`` (its path, as conda does for a prefix
   given by path) and drops ``VIRTUAL_ENV``.
2. A conda prefix adds the variables of ``conda-meta/state`` (``conda env config
   vars``) and of its packages' ``etc/conda/activate.d`` scripts. The ``.sh`` scripts
   (``.bat`` on Windows) are sourced once, in name order, by ``bash`` (``sh`` when
   there is no bash) in a clean environment (``HOME``, ``USER``, locale, ``TMPDIR``,
   ``PATH`` and the variables of step 1), and the variables they set, change or
   remove are kept as a set. What a script adds to ``PATH`` before or after the
   existing entries is kept as entries to add, so a later ``PATH`` still counts.
3. ``[tool.shipyard] env-file`` (a path or a list, relative to the project): dotenv
   files read with python-dotenv's parser on every run, later files winning.
4. ``[tool.shipyard] env``: a table of ``NAME = "value"``.

Values from steps 3 and 4 expand ``${NAME}`` and ``${NAME:-default}`` (the default
when ``NAME`` is unset or empty) against the environment built so far — the caller's
variables with steps 1–2 applied and earlier keys of the same file or table — and
then replace the caller's value: ``DEBUG = "${DEBUG:-0}"`` lets a caller override.

The result of steps 1, 2 and the two keys of step 4 is one small JSON file in the
cache (``activation-v1/<key>.json``) whose key digests the environment's path, its
``conda-meta`` modification time, ``conda-meta/state``, every activate.d script and
``pyproject.toml``: a later run reads that file and starts no shell. Only the standard
library is imported to read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.project.manifest import Project

__all__ = [
    "Activation",
    "activation_environment",
    "apply_activation",
    "cached_activation",
    "expand_variables",
    "load_activation",
    "scripts_dirs",
]

#: bumped when the cached entry's shape changes (the bucket version covers the layout)
_FORMAT = 1
#: variables a shell sets by itself: never taken for a script's doing
_SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PS1", "PS2", "PS4", "IFS"})
#: the caller's variables the activate.d scripts see (besides PATH and CONDA_*)
_KEPT_FOR_SCRIPTS = (
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "COMSPEC",
)
_SCRIPT_SUFFIXES = (".sh", ".bat", ".fish", ".ps1")
_VARIABLE = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OUT_VARIABLE = "_SHIPYARD_ACTIVATION_OUT"


@dataclass(frozen=True, slots=True, kw_only=True)
class Activation:
    """What activating one environment changes (before the caller's environment is
    known).

    :param env_root: the environment (a virtual environment or a conda prefix).
    :param conda: whether it is a conda prefix.
    :param variables: name → value, in order: ``VIRTUAL_ENV`` or ``CONDA_PREFIX`` and
        ``CONDA_DEFAULT_ENV``, then ``conda-meta/state``'s and the activate.d scripts'.
    :param unset: variables the activate.d scripts removed.
    :param path_prepend: directories put before ``PATH``, first one first (the
        environment's scripts directory, after what scripts put before it).
    :param path_append: directories the scripts put after ``PATH``.
    :param project_env: ``[tool.shipyard] env`` as written (values unexpanded).
    :param env_files: the ``env-file`` paths, absolute, read at each use.
    :param fish_scripts: activate.d ``.fish`` scripts with no ``.sh`` of the same name:
        ``shell``/``activate`` for fish source them.
    """

    env_root: Path
    conda: bool
    variables: Mapping[str, str]
    unset: tuple[str, ...] = ()
    path_prepend: tuple[str, ...] = ()
    path_append: tuple[str, ...] = ()
    project_env: Mapping[str, str]
    env_files: tuple[Path, ...] = ()
    fish_scripts: tuple[Path, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The cache entry's contents."""
        return {
            "format": _FORMAT,
            "env_root": str(self.env_root),
            "conda": self.conda,
            "variables": dict(self.variables),
            "unset": list(self.unset),
            "path_prepend": list(self.path_prepend),
            "path_append": list(self.path_append),
            "project_env": dict(self.project_env),
            "env_files": [str(p) for p in self.env_files],
            "fish_scripts": [str(p) for p in self.fish_scripts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Activation:
        """Read a cache entry written by :meth:`to_json`.

        :raises ValueError: when the entry has another format.
        """
        if data.get("format") != _FORMAT:
            raise ValueError("another activation format")
        return cls(
            env_root=Path(data["env_root"]),
            conda=bool(data["conda"]),
            variables=dict(data["variables"]),
            unset=tuple(data["unset"]),
            path_prepend=tuple(data["path_prepend"]),
            path_append=tuple(data["path_append"]),
            project_env=dict(data["project_env"]),
            env_files=tuple(Path(p) for p in data["env_files"]),
            fish_scripts=tuple(Path(p) for p in data["fish_scripts"]),
        )


def scripts_dirs(env_root: Path, *, conda: bool) -> tuple[Path, ...]:
    """The directories activation puts on ``PATH``, first one first: ``bin`` (POSIX),
    ``Scripts`` (a Windows virtual environment), or conda's list on Windows (the prefix,
    ``Library\\mingw-w64\\bin``, ``Library\\usr\\bin``, ``Library\\bin``, ``Scripts``,
    ``bin``)."""
    if os.name != "nt":
        return (env_root / "bin",)
    if not conda:  # pragma: no cover - Windows
        return (env_root / "Scripts",)
    library = env_root / "Library"  # pragma: no cover - Windows
    return (  # pragma: no cover - Windows
        env_root,
        library / "mingw-w64" / "bin",
        library / "usr" / "bin",
        library / "bin",
        env_root / "Scripts",
        env_root / "bin",
    )


def _activate_d(env_root: Path) -> list[Path]:
    folder = env_root / "etc" / "conda" / "activate.d"
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(_SCRIPT_SUFFIXES))
    except OSError:
        return []
    return [folder / n for n in names]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "-"


def _cache_file(env_root: Path, project_root: Path | None, cache_root: Path) -> Path:
    """The cache entry for this environment as it is now (see the module docstring)."""
    from shipyard.cache import BUCKETS

    parts: list[str] = [str(_FORMAT), os.name, str(env_root)]
    try:
        parts.append(str(os.stat(env_root / "conda-meta").st_mtime_ns))
        parts.append(_digest(env_root / "conda-meta" / "state"))
    except OSError:
        parts.append("venv")
    for script in _activate_d(env_root):
        parts += [script.name, _digest(script)]
    if project_root is not None:
        parts += [str(project_root), _digest(project_root / "pyproject.toml")]
    key = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:40]
    return cache_root / f"activation-v{BUCKETS['activation']}" / f"{key}.json"


def cached_activation(
    env_root: Path, project_root: Path | None, cache_root: Path
) -> Activation | None:
    """The activation cached for ``env_root`` as it is now, without computing it
    (``run``'s fast path); ``None`` when there is none."""
    try:
        data = json.loads(_cache_file(env_root, project_root, cache_root).read_text("utf-8"))
        return Activation.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_activation(
    env_root: Path, *, project: Project | None = None, cache_root: Path | None = None
) -> Activation:
    """The activation of ``env_root``, read from the cache or computed (running the
    activate.d scripts) and cached.

    :param project: the project whose ``[tool.shipyard] env``/``env-file`` apply;
        ``None`` for a tool's or a script's environment.
    :param cache_root: the cache directory; ``None`` computes without caching.
    :raises ManifestError: when ``env`` or ``env-file`` is malformed.
    :raises InstallError: when the activate.d scripts cannot be run or fail.
    """
    project_root = project.root if project is not None else None
    if cache_root is not None:
        found = cached_activation(env_root, project_root, cache_root)
        if found is not None:
            return found
    conda = (env_root / "conda-meta").is_dir()
    dirs = tuple(str(d) for d in scripts_dirs(env_root, conda=conda))
    variables: dict[str, str] = {}
    if conda:
        variables["CONDA_PREFIX"] = str(env_root)
        variables["CONDA_DEFAULT_ENV"] = str(env_root)
    else:
        variables["VIRTUAL_ENV"] = str(env_root)
    project_env, env_files = _project_settings(project)
    unset: tuple[str, ...] = ()
    prepend: tuple[str, ...] = dirs
    append: tuple[str, ...] = ()
    fish: tuple[Path, ...] = ()
    if conda:
        variables.update(_state_variables(env_root))
        scripts = _activate_d(env_root)
        wanted = ".bat" if os.name == "nt" else ".sh"
        runnable = [s for s in scripts if s.suffix == wanted]
        if runnable:
            changed, unset, before, after = _run_activate_scripts(
                runnable, {**variables}, dirs, env_root
            )
            variables.update(changed)
            for name in unset:
                variables.pop(name, None)
            prepend, append = (*before, *dirs), after
        stems = {s.stem for s in scripts if s.suffix == ".sh"}
        fish = tuple(s for s in scripts if s.suffix == ".fish" and s.stem not in stems)
    activation = Activation(
        env_root=env_root,
        conda=conda,
        variables=variables,
        unset=unset,
        path_prepend=prepend,
        path_append=append,
        project_env=project_env,
        env_files=env_files,
        fish_scripts=fish,
    )
    if cache_root is not None:
        from shipyard.atomic import atomic_write_text
        from shipyard.cache import Cache
        from shipyard.errors import ShipyardError

        try:
            Cache(cache_root).bucket("activation")
            target = _cache_file(env_root, project_root, cache_root)
            atomic_write_text(target, json.dumps(activation.to_json(), indent=1), fsync=False)
        except (OSError, ShipyardError):
            pass  # a read-only cache: the next run computes it again
    return activation


def _project_settings(project: Project | None) -> tuple[dict[str, str], tuple[Path, ...]]:
    """``[tool.shipyard] env`` and ``env-file``, checked.

    :raises ManifestError: naming the key when a value has the wrong type.
    """
    if project is None:
        return {}, ()
    from shipyard.errors import ManifestError

    table = project.tool.get("env", {})
    if not isinstance(table, dict):
        raise ManifestError(
            '[tool.shipyard] env must be a table of NAME = "value".',
            context=str(project.pyproject),
            hint='Write it as env = { DATA_DIR = "data" }.',
        )
    env: dict[str, str] = {}
    for name, value in table.items():
        if not _NAME.fullmatch(name):
            raise ManifestError(
                f"[tool.shipyard] env has {name!r}, which is not a variable name.",
                context=str(project.pyproject),
                hint="Use letters, digits and underscores, not starting with a digit.",
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ManifestError(
                f"[tool.shipyard] env.{name} must be a string, not {type(value).__name__}.",
                context=str(project.pyproject),
                hint=f'Quote it: {name} = "...".',
            )
        env[name] = str(value)
    files = project.tool.get("env-file", [])
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ManifestError(
            "[tool.shipyard] env-file must be a path or a list of paths.",
            context=str(project.pyproject),
            hint='Write it as env-file = ".env".',
        )
    return env, tuple(project.root / f for f in files)


def _state_variables(prefix: Path) -> dict[str, str]:
    """``conda-meta/state``'s ``env_vars`` (what ``conda env config vars set`` keeps)."""
    try:
        data = json.loads((prefix / "conda-meta" / "state").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    found = data.get("env_vars") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items() if _NAME.fullmatch(str(k))}


def _run_activate_scripts(
    scripts: Sequence[Path], variables: Mapping[str, str], dirs: Sequence[str], prefix: Path
) -> tuple[dict[str, str], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Source ``scripts`` in one shell and compare its environment before and after.

    :returns: (variables set or changed, variables removed, ``PATH`` entries added
        before the existing ones, entries added after them).
    :raises InstallError: when no shell can be started or a script makes it fail.
    """
    import subprocess
    import sys
    import tempfile

    from shipyard.errors import InstallError

    before = {k: os.environ[k] for k in _KEPT_FOR_SCRIPTS if k in os.environ}
    before.update(variables)
    outside = os.environ.get("PATH", os.defpath)
    before["PATH"] = os.pathsep.join([*dirs, outside])
    # one line, no double quotes: the same text serves sh and cmd.exe
    dump = (
        f"import json, os; out = os.environ.pop({_OUT_VARIABLE!r}); "
        "open(out, 'w', encoding='utf-8').write(json.dumps(dict(os.environ)))"
    )
    handle, out = tempfile.mkstemp(prefix="shipyard-activation-", suffix=".json")
    os.close(handle)
    environ = {**before, _OUT_VARIABLE: out}
    python = sys.executable
    if os.name == "nt":  # pragma: no cover - Windows
        lines = ["@echo off", *(f'call "{s}" >&2' for s in scripts)]
        lines.append(f'"{python}" -I -S -c "{dump}"')
        batch = Path(out).with_suffix(".bat")
        batch.write_text("\r\n".join(lines) + "\r\n")
        argv = [os.environ.get("COMSPEC", "cmd.exe"), "/d", "/c", str(batch)]
        shell = "cmd"
    else:
        from shutil import which

        shell = which("bash") or "/bin/sh"
        body = ["exec 1>&2"]  # what the scripts print is not the command's output
        body += [f". {_sh_quote(str(s))}" for s in scripts]
        body.append(f"exec {_sh_quote(python)} -I -S -c {_sh_quote(dump)}")
        argv = [shell, "-c", "\n".join(body)]
    completed: subprocess.CompletedProcess[bytes] | None = None
    after: object = None
    reason = ""
    try:
        completed = subprocess.run(
            argv,
            env=environ,
            cwd=prefix,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=300,
        )
        after = json.loads(Path(out).read_text("utf-8") or "null")
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)
    finally:
        for leftover in (Path(out), Path(out).with_suffix(".bat")):
            leftover.unlink(missing_ok=True)
    if completed is not None and completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        reason = f"exit status {completed.returncode}" + (f": {' '.join(tail)}" if tail else "")
    if reason or not isinstance(after, dict):
        raise InstallError(
            f"The activation scripts of the conda prefix failed ({reason or 'no output'}).",
            context=", ".join(s.name for s in scripts),
            hint=f"Try them by hand: {shell} -c '. <script>' with CONDA_PREFIX={prefix}; "
            "the package that ships the failing one may need another version.",
        )
    changed = {
        k: v
        for k, v in after.items()
        if k != "PATH" and k not in _SHELL_OWN and before.get(k) != v and _NAME.fullmatch(k)
    }
    removed = tuple(k for k in before if k not in after and k not in ("PATH", *_SHELL_OWN))
    prepend, append = _path_change(before["PATH"], str(after.get("PATH", before["PATH"])))
    own = set(dirs)
    return changed, removed, tuple(e for e in prepend if e not in own), append


def _path_change(before: str, after: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Entries ``after`` adds before and after ``before`` (split on ``os.pathsep``);
    when ``before`` is not kept whole inside it, its new entries count as before."""
    old, new = before.split(os.pathsep), after.split(os.pathsep)
    for start in range(len(new) - len(old) + 1):
        if new[start : start + len(old)] == old:
            return tuple(new[:start]), tuple(new[start + len(old) :])
    return tuple(e for e in new if e and e not in old), ()


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def expand_variables(value: str, environ: Mapping[str, str]) -> str:
    """``value`` with ``${NAME}`` and ``${NAME:-default}`` replaced from ``environ``
    (unset → empty, or the default; ``:-`` also takes the default for an empty value).
    Nothing else is special: ``$NAME`` without braces stays as written."""

    def replace(match: re.Match[str]) -> str:
        found = environ.get(match["name"], "")
        default = match["default"]
        return found if found or default is None else default

    return _VARIABLE.sub(replace, value)


def _read_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of one dotenv file (python-dotenv's parser: ``export``, quotes,
    escapes, comments, multi-line values), each value expanded against ``environ`` and
    the file's earlier values.

    :raises ManifestError: when the file is missing or a line cannot be parsed.
    """
    from shipyard.errors import ManifestError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"Cannot read the env-file {path}: {exc.strerror or exc}.",
            context="[tool.shipyard] env-file",
            hint="Create the file, or remove it from env-file in pyproject.toml.",
        ) from exc
    import io

    from dotenv.parser import parse_stream

    seen: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            first = binding.original.string.strip().splitlines()[0][:60]
            raise ManifestError(
                f"{path}, line {binding.original.line}: cannot read {first!r} as NAME=value.",
                context="[tool.shipyard] env-file",
                hint="Write one NAME=value per line; quote values with spaces.",
            )
        if binding.key is None or binding.value is None:
            continue
        seen[binding.key] = expand_variables(binding.value, {**environ, **seen})
    return seen


def apply_activation(activation: Activation, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a command runs with: ``environ`` (the caller's) activated.

    :raises ManifestError: when an env-file is missing or unreadable.
    """
    result = dict(environ)
    result.pop("PYTHONHOME", None)
    if activation.conda:
        result.pop("VIRTUAL_ENV", None)
    for name in activation.unset:
        result.pop(name, None)
    result.update(activation.variables)
    outside = result.get("PATH", "")
    result["PATH"] = os.pathsep.join(
        e for e in (*activation.path_prepend, outside, *activation.path_append) if e
    )
    for path in activation.env_files:
        result.update(_read_env_file(path, result))
    for name, value in activation.project_env.items():
        result[name] = expand_variables(value, result)
    return result


def activation_environment(
    env_root: Path,
    project: Project | None = None,
    *,
    cache_root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment a command in ``env_root`` runs with: ``environ``
    (default: this process's) with :func:`load_activation`'s result applied.

    :raises ManifestError, InstallError: as :func:`load_activation` and
        :func:`apply_activation`.
    """
    activation = load_activation(env_root, project=project, cache_root=cache_root)
    return apply_activation(activation, os.environ if environ is None else environ)
