"""conda's ``environment.yml``: read it for ``import``, write it for ``export``.

The file (conda's "environment specification")::

    name: analysis
    channels:
      - conda-forge
      - nodefaults
    dependencies:
      - python=3.12
      - libgdal >=3.8
      - pip
      - pip:
        - --index-url https://pypi.example/simple
        - requests>=2.32
        - -e .

Conda entries are MatchSpecs in conda's own syntax (``numpy=1.26`` means
``1.26.*``); they are kept as written, because py-rattler reads that syntax.
The nested ``pip:`` list is requirements-file lines (see
:mod:`shipyard.formats.requirements`); its path and URL lines (``-e ./lib``,
``git+https://…#egg=lib``, ``-e .``) are kept as locations for ``import`` to carry
over or explain. Every entry keeps the line it is written on (read from the YAML
nodes), so what ``import`` reports names ``environment.yml:LINE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ManifestError
from shipyard.formats.requirements import RequirementsFile, parse_requirement_lines

__all__ = ["EnvironmentYml", "read_environment_yml", "render_environment_yml"]


@dataclass(slots=True, kw_only=True)
class EnvironmentYml:
    """What an ``environment.yml`` says.

    :param name: the environment's ``name`` (``None`` when absent).
    :param channels: channel names or URLs in order; ``nodefaults`` is dropped (shipyard
        never adds the ``defaults`` channel on its own).
    :param conda: conda MatchSpecs, in file order, ``pip`` itself left out.
    :param pip: the parsed ``pip:`` section.
    :param origins: conda MatchSpec → ``file:line`` where it is written.
    :param dependencies_origin: ``file:line`` of the ``dependencies:`` key.
    :param problems: ``file:line: what and why`` for entries that were not carried over
        (the ``pip:`` section's included, and its options shipyard keeps elsewhere:
        ``--no-index``, ``--pre``, ``--no-binary``, ``--only-binary``).
    """

    name: str | None = None
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    pip: RequirementsFile = field(default_factory=RequirementsFile)
    origins: dict[str, str] = field(default_factory=dict)
    dependencies_origin: str = ""
    problems: list[str] = field(default_factory=list)


def _node_lines(text: str) -> tuple[int, list[int], dict[int, list[int]]]:
    """Line numbers (1-based) for messages: the ``dependencies:`` key, each entry of
    that list, and — by entry position — each entry of a ``pip:`` list in it.

    Read from the YAML nodes, so comments, blank lines and repeated entries do not
    shift them; ``(0, [], {})`` when the document is not shaped as expected."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return 0, [], {}
    if not isinstance(root, yaml.MappingNode):
        return 0, [], {}
    for key, value in reversed(root.value):  # a repeated key: the last one counts
        if getattr(key, "value", None) != "dependencies":
            continue
        if not isinstance(value, yaml.SequenceNode):
            return key.start_mark.line + 1, [], {}
        entries = [item.start_mark.line + 1 for item in value.value]
        nested: dict[int, list[int]] = {}
        for position, item in enumerate(value.value):
            if not isinstance(item, yaml.MappingNode):
                continue
            for inner_key, inner in reversed(item.value):
                if getattr(inner_key, "value", None) == "pip" and isinstance(
                    inner, yaml.SequenceNode
                ):
                    nested[position] = [entry.start_mark.line + 1 for entry in inner.value]
                    break
        return key.start_mark.line + 1, entries, nested
    return 0, [], {}


#: pip options that mean something only to pip on one machine: reported, not carried over
_MACHINE_OPTIONS = ("no-binary", "only-binary")


def _pip_entry_problems(parsed: RequirementsFile, origin: str) -> list[str]:
    """What one ``pip:`` entry set that ``import`` does not carry over, at ``origin``."""
    problems = []
    if parsed.no_index:
        problems.append(
            f"{origin}: --no-index is not carried over; shipyard keeps the index (use "
            "--offline to work from the cache)."
        )
    if parsed.pre:
        problems.append(
            f"{origin}: --pre is not carried over; pass --prerelease allow to `shipyard lock`."
        )
    for choice in _MACHINE_OPTIONS:
        names = parsed.no_binary if choice == "no-binary" else parsed.only_binary
        if names:
            problems.append(
                f"{origin}: --{choice} {','.join(names)} is a machine setting in shipyard; set "
                f"SHIPYARD_{choice.upper().replace('-', '_')} or [tool.shipyard] {choice}."
            )
    return problems


def read_environment_yml(path: Path) -> EnvironmentYml:
    """Parse ``path``.

    :raises ManifestError: when it is not YAML or not shaped like an environment file
        (naming the key that is wrong).
    """
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ManifestError(
            f"Cannot read {path}: {exc.strerror or exc}.", context=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path.name} is not UTF-8 text (byte {exc.start}).",
            context=str(path),
            hint="Save it as UTF-8.",
        ) from exc
    except RecursionError as exc:
        raise ManifestError(
            f"{path.name} is nested too deeply to read.", context=str(path)
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ManifestError(
            f"{path.name} is not valid YAML: {getattr(exc, 'problem', None) or exc}.",
            context=where,
            hint="Fix the indentation or quoting at that line.",
        ) from exc
    if not isinstance(data, dict):
        raise ManifestError(
            f"{path.name} is not a conda environment file (expected a mapping with "
            "'dependencies').",
            context=str(path),
        )
    key_line, entry_lines, pip_lines = _node_lines(text)

    def at(line: int) -> str:
        return f"{path}:{line}" if line else str(path)

    result = EnvironmentYml(
        name=str(data["name"]) if data.get("name") else None,
        dependencies_origin=at(key_line),
    )
    channels = data.get("channels") or []
    if not isinstance(channels, list):
        raise ManifestError("'channels' must be a list.", context=str(path))
    result.channels = [str(c) for c in channels if str(c) != "nodefaults"]
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ManifestError("'dependencies' must be a list.", context=str(path))
    for position, entry in enumerate(dependencies):
        origin = at(entry_lines[position] if position < len(entry_lines) else 0)
        if isinstance(entry, dict):
            pip = entry.get("pip")
            if set(entry) != {"pip"} or not isinstance(pip, list):
                result.problems.append(
                    f"{origin}: a mapping in 'dependencies' other than 'pip:' "
                    f"({', '.join(map(str, entry))}) is not understood; left out."
                )
                continue
            lines = pip_lines.get(position, [])
            for index, item in enumerate(pip):
                # An unquoted "--no-binary :all:" reads as a one-key mapping: undo that.
                line_text = (
                    f"{next(iter(item))}:"
                    if isinstance(item, dict)
                    and len(item) == 1
                    and next(iter(item.values())) is None
                    else str(item)
                )
                number = lines[index] if index < len(lines) else 0
                parsed = parse_requirement_lines(
                    [line_text],
                    source=path,
                    first_line=max(number, 1),
                    base=path.parent,
                    keep_locations=True,
                )
                result.problems.extend(parsed.problems)
                result.problems.extend(_pip_entry_problems(parsed, at(number)))
                result.pip.merge(parsed)
            continue
        spec = str(entry).strip()
        if not spec:
            raise ManifestError(f"{path.name} has an empty entry in dependencies.", context=origin)
        head = spec.split("=")[0].split()
        if head and head[0].split("::")[-1].lower() == "pip":
            continue  # shipyard installs PyPI packages itself
        result.conda.append(spec)
        result.origins.setdefault(spec, origin)
    return result


def render_environment_yml(
    *,
    name: str,
    channels: Sequence[str],
    conda: Sequence[str],
    pip: Sequence[str],
    pip_options: Sequence[str] = (),
    header: Sequence[str] = (),
) -> str:
    """The text of an ``environment.yml`` (deterministic for the same arguments).

    :param channels: channel names or URLs, in priority order (``nodefaults`` is added).
    :param conda: conda entries as ``name=version=build`` or MatchSpecs.
    :param pip: requirement lines for the ``pip:`` section (``pip`` itself is added to the
        conda entries when there are any, since conda needs it to install them).
    :param pip_options: option lines that go first in the ``pip:`` section
        (``--index-url …``).
    :param header: comment lines written at the top (without ``#``).
    """
    import yaml

    dependencies: list[Any] = list(conda)
    if pip:
        if not any(str(c).split("=")[0].split()[0] == "pip" for c in conda):
            dependencies.append("pip")
        dependencies.append({"pip": [*pip_options, *pip]})
    document: Mapping[str, Any] = {
        "name": name,
        "channels": [*channels, "nodefaults"],
        "dependencies": dependencies,
    }
    body = yaml.safe_dump(
        dict(document), sort_keys=False, default_flow_style=False, width=1000, indent=2
    )
    comments = "".join(f"# {line}\n" for line in header)
    return comments + body
