"""The ``import`` use case: bring requirements from files users already have.

Supported now: conda ``environment.yml`` (channels and conda dependencies go to
``[tool.shipyard.conda]``, ``python=3.X`` also sets ``requires-python``, the
``pip:`` section goes to the PyPI dependencies with its index options) and pip
requirements files (``requirements*.txt``, ``*.in``; ``requirements-dev.txt``
and the like become a dependency group named after the suffix unless ``--group``
says otherwise).

Everything that cannot be carried over is reported (``file:line: what and
why``). The manifest is written, then locked and synced like ``add``; if any
step fails, ``pyproject.toml`` and ``pylock.toml`` are put back byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from shipyard.errors import ManifestError, UsageError
from shipyard.project.editing import EditOutcome, commit_edit
from shipyard.project.manifest import ManifestEditor, Project
from shipyard.project.services import Services
from shipyard.project.syncing import Selection

__all__ = ["ImportOutcome", "import_files"]

#: ``python=3.12``, ``python 3.12.*``, ``python==3.12.1``, ``python=3.12.1=h0_cpython``
_PYTHON_SPEC = re.compile(r"^python\s*(?:=|==|\s)\s*(\d+)\.(\d+)[.*\d]*(?:[=\s]\S+)?$")


@dataclass(slots=True)
class ImportOutcome:
    """What ``import`` did: the edit's outcome and what was not carried over."""

    edit: EditOutcome
    problems: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def _is_environment_yml(path: Path) -> bool:
    return path.suffix in (".yml", ".yaml")


def _group_for(path: Path) -> str | None:
    match = re.match(r"^requirements[-_.](.+?)\.(txt|in)$", path.name)
    return canonicalize_name(match.group(1)) if match else None


def import_files(
    project: Project,
    services: Services,
    paths: Sequence[Path],
    *,
    group: str | None = None,
    no_sync: bool = False,
) -> ImportOutcome:
    """Import ``paths`` into the project's manifest, then lock and (unless ``no_sync``) sync.

    :param group: put PyPI requirements into this dependency group instead of
        ``[project].dependencies``.
    :raises UsageError: for a file of an unknown kind.
    :raises ManifestError: for a file that cannot be read or parsed.
    :raises ShipyardError: from locking or syncing (the manifest and lock are restored).
    """
    from shipyard.formats.environment_yml import read_environment_yml
    from shipyard.formats.requirements import RequirementsFile, read_requirements

    editor = ManifestEditor(project.pyproject)
    problems: list[str] = []
    added: list[str] = []
    index_url: str | None = None
    extra_index_urls: list[str] = []
    groups_used: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise ManifestError(f"There is no file {path}.", context=str(path))
        pip: RequirementsFile
        target_group = group
        if _is_environment_yml(path):
            env = read_environment_yml(path)
            problems.extend(env.problems)
            if env.channels:
                editor.set_tool_value("channels", env.channels, conda=True)
            conda_table = project.tool.get("conda") or {}
            if env.conda and not conda_table.get("platforms"):
                from shipyard.conda.solve import host_platform

                here = host_platform()
                if here is not None:
                    # An environment file was made for one machine; its packages may
                    # not exist for every platform. Lock this one; the user adds more.
                    editor.set_tool_value("platforms", [here], conda=True)
                    problems.append(
                        f"{path}: conda packages are locked for {here} only; list more "
                        "platforms in [tool.shipyard.conda] platforms to lock them too."
                    )
            for spec in env.conda:
                editor.add_conda(spec)
                added.append(f"conda: {spec}")
                match = _PYTHON_SPEC.match(spec.strip())
                if match:
                    editor.set_requires_python(f">={match.group(1)}.{match.group(2)}")
            pip = env.pip
        elif path.suffix in (".txt", ".in"):
            pip = read_requirements(path)
            problems.extend(pip.problems)
            target_group = group or _group_for(path)
        else:
            raise UsageError(
                f"shipyard cannot import {path.name} yet.",
                hint="Import an environment.yml or a requirements file (.txt, .in).",
            )
        if target_group and pip.requirements:
            groups_used.add(target_group)
        for line in pip.requirements:
            editor.add(line.requirement, group=target_group)
            added.append(str(line.requirement))
        for editable in pip.editables:
            if Path(path.parent / editable).resolve() == project.root.resolve():
                continue  # "-e ." is the project itself
            problems.append(
                f"{path}: the editable requirement {editable} is not carried over (path "
                "dependencies come later); add it by hand."
            )
        if pip.constraints:
            problems.append(
                f"{path}: {len(pip.constraints)} constraints (-c) are not carried over yet."
            )
        if pip.find_links or pip.no_index:
            problems.append(f"{path}: --find-links/--no-index are not carried over yet.")
        index_url = pip.index_url or index_url
        for url in pip.extra_index_urls:
            if url not in extra_index_urls:
                extra_index_urls.append(url)
    if index_url:
        editor.set_tool_value("index-url", index_url)
    if extra_index_urls:
        editor.set_tool_value("extra-index-urls", extra_index_urls)
    edit = commit_edit(
        editor,
        project,
        services,
        no_sync=no_sync,
        selection=Selection(groups=tuple(sorted(groups_used))),
        reload_settings=True,
    )
    return ImportOutcome(edit, problems, added)
