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
``git+https://…#egg=lib``) are kept as locations for ``import`` to carry over.
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
    :param problems: ``file:line: what and why`` for entries that were not carried over.
    """

    name: str | None = None
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    pip: RequirementsFile = field(default_factory=RequirementsFile)
    problems: list[str] = field(default_factory=list)


def _line_numbers(text: str) -> dict[str, int]:
    """First line number of each stripped ``- entry`` (for messages)."""
    numbers: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("- "):
            numbers.setdefault(stripped[2:].strip().strip("'\""), number)
    return numbers


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
    lines = _line_numbers(text)
    result = EnvironmentYml(name=str(data["name"]) if data.get("name") else None)
    channels = data.get("channels") or []
    if not isinstance(channels, list):
        raise ManifestError("'channels' must be a list.", context=str(path))
    result.channels = [str(c) for c in channels if str(c) != "nodefaults"]
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ManifestError("'dependencies' must be a list.", context=str(path))
    for entry in dependencies:
        if isinstance(entry, dict):
            pip = entry.get("pip")
            if set(entry) != {"pip"} or not isinstance(pip, list):
                result.problems.append(
                    f"{path}:{lines.get('pip:', 0)}: a mapping in 'dependencies' other than "
                    f"'pip:' ({', '.join(map(str, entry))}) is not understood; left out."
                )
                continue
            # An unquoted "--no-binary :all:" reads as a one-key mapping: undo that.
            entries = [
                f"{next(iter(p))}:"
                if isinstance(p, dict) and len(p) == 1 and next(iter(p.values())) is None
                else str(p)
                for p in pip
            ]
            first = min((lines.get(e.strip(), 0) for e in entries), default=0)
            parsed = parse_requirement_lines(
                entries,
                source=path,
                first_line=max(first, 1),
                base=path.parent,
                keep_locations=True,
            )
            result.pip.merge(parsed)
            continue
        spec = str(entry).strip()
        if not spec:
            raise ManifestError(
                f"{path.name} has an empty entry in dependencies.", context=str(path)
            )
        head = spec.split("=")[0].split()
        if head and head[0].split("::")[-1].lower() == "pip":
            continue  # shipyard installs PyPI packages itself
        result.conda.append(spec)
    result.problems.extend(result.pip.problems)
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
