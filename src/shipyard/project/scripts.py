"""Scripts with inline metadata (PEP 723): read, edit, lock and give them an environment.

A script's ``# /// script`` block names its ``dependencies`` and ``requires-python``
(and may carry ``[tool.shipyard]``). Its environment is an ephemeral project
(:mod:`shipyard.project.ephemeral`) in the cache, keyed by the block's text and the
interpreter request, so every script with the same block shares one environment and
a second run is a no-op. When ``script.py.lock`` (a PEP 751 lock) sits beside the
script — ``lock --script`` writes it — the environment is synced from it, and a
changed block updates it.

A script never touches the project it may sit in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ManifestError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from shipyard.cache import Cache
    from shipyard.project.manifest import Project
    from shipyard.project.services import Services

__all__ = [
    "Script",
    "block_text",
    "edit_script_dependencies",
    "find_block",
    "read_script",
    "script_environment_root",
    "script_lock_path",
    "script_project",
    "script_template",
    "with_requirements",
]

#: PEP 723's reference expression for a metadata block.
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """A script file and its PEP 723 ``script`` block.

    :param path: the script (absolute).
    :param block: the block's TOML text (``None`` when the script has no block: it
        then needs only an interpreter).
    :param dependencies: the block's ``dependencies``.
    :param requires_python: the block's ``requires-python`` (a specifier string).
    :param tool: the block's ``[tool.shipyard]`` table.
    """

    path: Path
    block: str | None
    dependencies: tuple[Requirement, ...] = ()
    requires_python: str | None = None
    tool: Mapping[str, Any] = field(default_factory=dict)


def find_block(text: str, *, where: str = "the script") -> re.Match[str] | None:
    """The ``script`` block of ``text``, as PEP 723 finds it.

    :raises ManifestError: when there are two ``script`` blocks (the PEP says tools
        must refuse).
    """
    found = [m for m in _BLOCK.finditer(text) if m.group("type") == "script"]
    if len(found) > 1:
        raise ManifestError(
            "The script has more than one `# /// script` block.",
            context=where,
            hint="Keep one block (PEP 723) and merge the other into it.",
        )
    return found[0] if found else None


def _block_toml(match: re.Match[str]) -> str:
    """The TOML inside a block: each line without its ``#`` and the one space after."""
    return "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in match.group("content").splitlines(keepends=True)
    )


def block_text(text: str) -> str | None:
    """The TOML of ``text``'s ``script`` block, or ``None`` when it has none (what a
    script's environment is keyed by).

    :raises ManifestError: when there are two blocks.
    """
    match = find_block(text)
    return _block_toml(match) if match is not None else None


def with_requirements(
    requirements: Sequence[Requirement], texts: Sequence[str]
) -> tuple[Requirement, ...]:
    """``requirements`` followed by the ``--with`` requirement strings ``texts``.

    :raises UsageError: naming an invalid one.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    from shipyard.errors import UsageError

    result = list(requirements)
    for text in texts:
        try:
            result.append(Requirement(text))
        except InvalidRequirement as exc:
            raise UsageError(
                f"Invalid --with requirement {text!r}: {str(exc).splitlines()[0]}.",
                hint="Write it as PEP 508 says, e.g. 'rich>=13'.",
            ) from exc
    return tuple(result)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def read_script(path: Path) -> Script:
    """Read ``path`` and its PEP 723 metadata.

    :raises ManifestError: when the file cannot be read, the block is not TOML, or a
        dependency or ``requires-python`` is invalid (naming ``file:line``).
    """
    import tomllib

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    path = path.resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(
            f"There is no script {path.name}.",
            context=str(path),
            hint="Check the path, or create it with `shipyard init --script FILE`.",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"The script cannot be read as UTF-8 text: {exc}.", context=str(path)
        ) from exc
    match = find_block(text, where=str(path))
    if match is None:
        return Script(path=path, block=None)
    where = f"{path}:{_line_of(text, match.start())}"
    toml = _block_toml(match)
    try:
        data = tomllib.loads(toml)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(
            f"The script's `# /// script` block is not valid TOML: {exc}.",
            context=where,
            hint="Every line of the block starts with '# ' and the rest is TOML (PEP 723).",
        ) from exc
    dependencies = data.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ManifestError(
            "The script's `dependencies` must be a list of requirement strings.",
            context=where,
            hint='Write it like dependencies = ["requests<3", "rich"].',
        )
    requirements = []
    for text_requirement in dependencies:
        try:
            requirements.append(Requirement(text_requirement))
        except InvalidRequirement as exc:
            raise ManifestError(
                f"Invalid requirement {text_requirement!r} in the script's dependencies: "
                f"{str(exc).splitlines()[0]}.",
                context=where,
                hint="Fix it as PEP 508 says, e.g. 'requests>=2.31'.",
            ) from exc
    requires_python = data.get("requires-python")
    if requires_python is not None:
        try:
            SpecifierSet(str(requires_python))
        except InvalidSpecifier as exc:
            raise ManifestError(
                f"Invalid requires-python {requires_python!r} in the script: {exc}.",
                context=where,
                hint='Write it like requires-python = ">=3.11".',
            ) from exc
    tools = data.get("tool", {})
    tool = tools.get("shipyard", {}) if isinstance(tools, dict) else {}
    if not isinstance(tool, dict):
        raise ManifestError("The script's [tool.shipyard] must be a table.", context=where)
    return Script(
        path=path,
        block=toml,
        dependencies=tuple(requirements),
        requires_python=str(requires_python) if requires_python is not None else None,
        tool=_absolute_paths(tool, path.parent),
    )


def _absolute_paths(tool: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``tool`` with the relative ``path`` of each source made absolute: the script's
    project lives in the cache, but ``../lib`` means a folder beside the script."""
    result = dict(tool)
    sources = tool.get("sources")
    if isinstance(sources, dict):
        fixed: dict[str, Any] = {}
        for name, entry in sources.items():
            entries = entry if isinstance(entry, list) else [entry]
            made = []
            for item in entries:
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    item = {**item, "path": str((base / item["path"]).resolve())}
                made.append(item)
            fixed[name] = made if isinstance(entry, list) else made[0]
        result["sources"] = fixed
    return result


def script_lock_path(script: Path) -> Path:
    """``script.py.lock``: the PEP 751 lock of a script, beside it."""
    return script.with_name(script.name + ".lock")


def script_environment_root(cache: Cache, block: str | None, python_request: str | None) -> Path:
    """The ephemeral project directory for a script block and interpreter request."""
    from shipyard.project.ephemeral import ephemeral_key

    return cache.bucket("scripts") / ephemeral_key(block or "", python_request or "")


def script_project(script: Script, services: Services, *, universal: bool = False) -> Project:
    """The script's ephemeral project, written in the cache and read back.

    When ``script.py.lock`` exists its content becomes the project's ``pylock.toml``
    first, so the environment follows it (a stale one is re-locked by ``sync``).

    :param universal: lock for every target environment (``lock --script``), not just
        the interpreter found.
    :raises ManifestError: for invalid metadata.
    :raises InterpreterNotFoundError: when no interpreter fits.
    """
    from shipyard.atomic import atomic_write_bytes
    from shipyard.lock.pylock import LOCK_FILENAME
    from shipyard.project.ephemeral import EphemeralSpec, prepare_ephemeral_project

    lock_beside = script_lock_path(script.path)
    universal = universal or lock_beside.is_file()
    root = script_environment_root(services.cache, script.block, services.cli_python)
    if universal:
        root = root.with_name(root.name + "-universal")
    spec = EphemeralSpec(
        name="script",
        dependencies=tuple(str(r) for r in script.dependencies),
        requires_python=script.requires_python,
        tool=script.tool,
        universal=universal,
    )
    project = prepare_ephemeral_project(root, spec, services)
    if lock_beside.is_file():
        wanted = lock_beside.read_bytes()
        target = root / LOCK_FILENAME
        if not target.is_file() or target.read_bytes() != wanted:
            atomic_write_bytes(target, wanted)
    return project


def keep_script_lock(script: Script, project: Project) -> bool:
    """Copy the ephemeral project's lock to ``script.py.lock`` when one is kept there
    (or asked for) and it differs; returns True when the file was written."""
    from shipyard.atomic import atomic_write_bytes
    from shipyard.lock.pylock import LOCK_FILENAME

    source = project.root / LOCK_FILENAME
    target = script_lock_path(script.path)
    data = source.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        return False
    atomic_write_bytes(target, data)
    return True


def script_template(requires_python: str, dependencies: Sequence[str] = ()) -> str:
    """A new script's text: its metadata block and a ``main``."""
    listed = "".join(f'#     "{d}",\n' for d in dependencies)
    deps = f"# dependencies = [\n{listed}# ]\n" if dependencies else "# dependencies = []\n"
    return (
        "# /// script\n"
        f'# requires-python = "{requires_python}"\n'
        f"{deps}"
        "# ///\n"
        "\n\n"
        "def main() -> None:\n"
        '    print("Hello from a shipyard script!")\n'
        "\n\n"
        'if __name__ == "__main__":\n'
        "    main()\n"
    )


def edit_script_dependencies(
    path: Path, *, add: Sequence[Requirement] = (), remove: Sequence[str] = ()
) -> tuple[str, str]:
    """Add or remove dependencies in the script's block, keeping the rest of the file
    and the block's comments as written; a script without a block gets one at the top
    (after a shebang and encoding line).

    An added requirement replaces one of the same name. Nothing is written here.

    :param remove: names (any spelling; compared canonically).
    :returns: ``(old_text, new_text)`` of the whole file.
    :raises ManifestError: when the file cannot be read, the block is invalid, or a
        name to remove is not among the dependencies.
    """
    import tomlkit
    from packaging.utils import canonicalize_name

    text = path.read_text(encoding="utf-8")
    match = find_block(text, where=str(path))
    if match is None:
        lines = text.splitlines(keepends=True)
        head = 0
        while head < len(lines) and head < 2 and lines[head].startswith("#!"):
            head += 1
        if head < len(lines) and re.match(r"^[ \t\f]*#.*?coding[:=]", lines[head]):
            head += 1
        prefix, rest = "".join(lines[:head]), "".join(lines[head:])
        text = prefix + "# /// script\n# dependencies = []\n# ///\n" + ("\n" if rest else "") + rest
        match = find_block(text, where=str(path))
        assert match is not None
    document = tomlkit.parse(_block_toml(match))
    if "dependencies" not in document:
        document["dependencies"] = tomlkit.array()
    array = document["dependencies"]
    for name in remove:
        canonical = canonicalize_name(name)
        kept = [i for i, item in enumerate(array) if _name_of(str(item)) == canonical]
        if not kept:
            raise ManifestError(
                f"{name} is not among the script's dependencies.",
                context=str(path),
                hint="Check the spelling; `# /// script` lists what the script requires.",
            )
        for index in reversed(kept):
            del array[index]
    for requirement in add:
        canonical = canonicalize_name(requirement.name)
        for index in reversed(range(len(array))):
            if _name_of(str(array[index])) == canonical:
                del array[index]
        array.append(str(requirement))
    if len(array) > 1:
        array.multiline(True)
    toml = tomlkit.dumps(document)
    block = "".join(f"# {line}".rstrip() + "\n" for line in toml.splitlines())
    new_text = text[: match.start()] + "# /// script\n" + block + "# ///" + text[match.end() :]
    return path.read_text(encoding="utf-8"), new_text


def _name_of(requirement: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return ""
