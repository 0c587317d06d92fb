"""The ``add`` and ``remove`` use cases: edit the manifest, lock, sync — or undo.

The manifest and the lock are put back byte for byte when any later step fails
(resolution, download, build, Ctrl-C), so a failed ``add`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from shipyard.atomic import atomic_write_bytes
from shipyard.errors import ManifestError, UsageError
from shipyard.lock.pylock import LOCK_FILENAME
from shipyard.project.locking import LockOutcome, lock_project, refresh_input_hash
from shipyard.project.manifest import Project, load_project, parse_requirement
from shipyard.project.manifest_editor import ManifestEditor
from shipyard.project.services import Services
from shipyard.project.syncing import Selection, SyncOutcome, sync_project

__all__ = ["EditOutcome", "add_requirements", "commit_edit", "remove_requirements"]


@dataclass(slots=True)
class EditOutcome:
    """What an edit did: the lock outcome and, unless ``no_sync``, the sync outcome."""

    project: Project
    lock: LockOutcome
    sync: SyncOutcome | None


class _Transaction:
    """Restores pyproject.toml and pylock.toml unless committed."""

    def __init__(self, project_root: Path) -> None:
        self.lock_path = project_root / LOCK_FILENAME
        self.lock_bytes = self.lock_path.read_bytes() if self.lock_path.exists() else None

    def rollback(self, editor: ManifestEditor) -> None:
        editor.restore()
        if self.lock_bytes is None:
            self.lock_path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(self.lock_path, self.lock_bytes)


def add_requirements(
    project: Project,
    services: Services,
    texts: Sequence[str],
    *,
    group: str | None = None,
    optional: str | None = None,
    no_sync: bool = False,
    conda: bool = False,
    conda_platform: str | None = None,
    git_revision: tuple[str, str] | None = None,
    package: str | None = None,
) -> EditOutcome:
    """Add requirements to the manifest, then lock and sync.

    :param package: a workspace member whose manifest gets the requirements (the
        workspace's one lock is made at the root).

    A requirement on a local path or a git URL becomes a plain name and a
    ``[tool.shipyard.sources]`` entry (``git_revision``: ``("tag"|"branch"|"rev",
    value)`` for a git URL, as ``--tag``/``--branch``/``--rev`` give it).

    With ``conda``, ``texts`` are conda MatchSpecs added to ``[tool.shipyard.conda]
    dependencies`` (or to ``[tool.shipyard.conda.target.<conda_platform>]``).

    A requirement written without a version gets a lower bound at the version the
    lock picked (``requests`` → ``requests>=2.32.3``), as uv does.

    :raises RequirementError: for an invalid requirement (nothing is changed).
    :raises ShipyardError: from locking or syncing (everything is restored).
    """
    if conda_platform is not None and not conda:
        raise UsageError("--conda-platform needs --conda.")
    if conda:
        return _add_conda(project, services, texts, platform=conda_platform, no_sync=no_sync)
    requirements = [parse_requirement(text) for text in texts]
    if group is not None and optional is not None:
        raise ManifestError("Use either --group or --optional, not both.")
    target = project if package is None else _workspace_member(project, package)
    editor = ManifestEditor(target.pyproject)
    transaction = _Transaction(project.root)
    try:
        sourced: set[str] = set()
        for index, req in enumerate(requirements):
            requirements[index] = _as_path_source(target, req, editor, git_revision)
            if requirements[index].url is None and req.url is not None:
                sourced.add(canonicalize_name(req.name))  # its source decides the version
            editor.add(requirements[index], group=group, optional=optional)
        editor.write()
        current = load_project(project.root)
        outcome = lock_project(current, services)
        bare = [
            r
            for r in requirements
            if not r.specifier and r.url is None and canonicalize_name(r.name) not in sourced
        ]
        if bare and outcome.resolution is not None:
            versions: dict[str, Version] = {}
            for resolved in outcome.resolution.packages:
                # The lowest locked version: with forks, every locked version must still
                # satisfy the new lower bound, so the resolution stays valid as it is.
                versions.setdefault(resolved.name, resolved.version)
                versions[resolved.name] = min(versions[resolved.name], resolved.version)
            for req in bare:
                version = versions.get(canonicalize_name(req.name))
                if version is None:
                    continue
                bounded = Requirement(str(req))
                bounded.specifier = type(req.specifier)(f">={version}")
                editor.set_requirement_text(req.name, str(bounded), group=group, optional=optional)
            editor.write()
            current = load_project(project.root)
            refresh_input_hash(current, services)
        sync = None
        if not no_sync:
            groups = (group,) if group else ()
            extras = (optional,) if optional else ()
            sync = sync_project(current, services, Selection(groups=groups, extras=extras))
        return EditOutcome(current, outcome, sync)
    except BaseException:
        transaction.rollback(editor)
        raise


def _workspace_member(project: Project, name: str) -> Project:
    """The workspace member ``name`` of the workspace rooted at ``project``.

    :raises UsageError: when there is none of that name.
    """
    from shipyard.project.workspace import workspace_members

    members = {m.canonical_name: m for m in workspace_members(project)}
    member = members.get(canonicalize_name(name))
    if member is None:
        raise UsageError(
            f"--package {name}: this workspace has no member of that name.",
            hint=f"Its members: {', '.join(sorted(members)) or 'none'}.",
        )
    return member


def _as_path_source(
    project: Project,
    requirement: Requirement,
    editor: ManifestEditor,
    git_revision: tuple[str, str] | None = None,
) -> Requirement:
    """A requirement on a local path (``core @ ../core``, ``core @ file:///…``) or a git
    repository (``attrs @ git+https://…@v1``) as a plain name plus a
    ``[tool.shipyard.sources]`` entry — paths relative to the project, so the lock
    works from any clone and other tools read the name (a project directory becomes
    editable). Other requirements are returned as they are.

    :param git_revision: ``("tag"|"branch"|"rev", value)`` from ``--tag``/``--branch``/
        ``--rev``, over the revision in the URL.
    :raises RequirementError: for another VCS, or a path that does not exist.
    """
    import os
    import urllib.parse
    import urllib.request

    from shipyard.errors import RequirementError

    url = requirement.url
    if url is None:
        return requirement
    scheme = url.split(":", 1)[0] if "://" in url or url.startswith("file:") else ""
    if scheme.startswith("git+"):
        from shipyard.vcs.git import GitUrl

        source = GitUrl.parse(url)
        entry: dict[str, str] = {"git": source.repository}
        if git_revision is not None:
            entry[git_revision[0]] = git_revision[1]
        elif source.revision:
            entry["rev"] = source.revision
        if source.subdirectory:
            entry["subdirectory"] = source.subdirectory
        editor.set_source(requirement.name, entry)
        plain = Requirement(str(requirement))
        plain.url = None
        return plain
    if "+" in scheme:
        raise RequirementError(
            f"{requirement} is a {scheme.partition('+')[0]} requirement; shipyard fetches "
            "git repositories only.",
            hint="Use a git URL (git+https://…), a released version or an archive URL.",
        )
    if scheme not in ("", "file"):
        return requirement  # an archive on a server: kept as a direct reference
    if scheme == "file":
        location = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    else:
        location = Path(url).expanduser()
    location = (Path.cwd() / location).resolve()
    if not location.exists():
        raise RequirementError(
            f"The path of {requirement.name} ({url}) does not exist (looked for {location}).",
            hint="Give the path to a project directory or an archive, relative to here.",
        )
    relative = Path(os.path.relpath(location, project.root.resolve())).as_posix()
    editor.set_source(requirement.name, {"path": relative})
    plain = Requirement(str(requirement))
    plain.url = None
    return plain


def remove_requirements(
    project: Project,
    services: Services,
    names: Sequence[str],
    *,
    group: str | None = None,
    optional: str | None = None,
    no_sync: bool = False,
    conda: bool = False,
    conda_platform: str | None = None,
) -> EditOutcome:
    """Remove requirements by name from the manifest, then lock and sync (orphans go too).

    With ``conda``, ``names`` are conda package names removed from the conda
    dependencies (of ``conda_platform`` when given).

    :raises ManifestError: when a name is not a requirement of that list (nothing changed).
    """
    if conda_platform is not None and not conda:
        raise UsageError("--conda-platform needs --conda.")
    editor = ManifestEditor(project.pyproject)
    missing = []
    for name in names:
        removed = (
            editor.remove_conda(name, platform=conda_platform)
            if conda
            else editor.remove(name, group=group, optional=optional)
        )
        if not removed:
            missing.append(name)
    if missing:
        where = (
            f"[tool.shipyard.conda.target.{conda_platform}] dependencies"
            if conda and conda_platform
            else "[tool.shipyard.conda] dependencies"
            if conda
            else f"dependency group {group!r}"
            if group
            else f"optional dependencies {optional!r}"
            if optional
            else "[project].dependencies"
        )
        raise ManifestError(
            f"{', '.join(missing)} is not in {where}.",
            context=str(project.pyproject),
            hint="Check the name, or pass --group/--optional for the list it is in.",
        )
    return commit_edit(editor, project.root, services, no_sync=no_sync)


def commit_edit(
    editor: ManifestEditor,
    root: Path,
    services: Services,
    *,
    no_sync: bool,
    selection: Selection | None = None,
    reload_settings: bool = False,
    preferences: Mapping[str, Version] | None = None,
    check: Callable[[Project, LockOutcome], None] | None = None,
) -> EditOutcome:
    """Write the edited manifest, lock, and (unless ``no_sync``) sync; on any failure put
    pyproject.toml and pylock.toml back byte for byte and re-raise.

    :param root: the project directory.
    :param reload_settings: the edit changed ``[tool.shipyard]`` settings (an index URL):
        re-read them before locking.
    :param preferences: versions to keep when they fit (pins of an imported lock file).
    :param check: called with the new lock before syncing; raising undoes everything.
    """
    transaction = _Transaction(root)
    try:
        editor.write()
        current = load_project(root)
        if reload_settings:
            services.reload_settings(current.tool)
        outcome = lock_project(current, services, preferences=preferences)
        if check is not None:
            check(current, outcome)
        sync = None if no_sync else sync_project(current, services, selection or Selection())
        return EditOutcome(current, outcome, sync)
    except BaseException:
        transaction.rollback(editor)
        raise


def _add_conda(
    project: Project,
    services: Services,
    specs: Sequence[str],
    *,
    platform: str | None,
    no_sync: bool,
) -> EditOutcome:
    """``add --conda``: validate the MatchSpecs, add them, lock, sync — or undo."""
    from shipyard.conda.config import CONDA_PLATFORMS
    from shipyard.errors import RequirementError

    if platform is not None and platform not in CONDA_PLATFORMS:
        raise ManifestError(
            f"Unknown conda platform {platform!r}.",
            hint=f"Use one of {', '.join(CONDA_PLATFORMS)}.",
        )
    from rattler import MatchSpec

    cleaned = []
    for spec in specs:
        try:
            MatchSpec(spec)
        except Exception as exc:
            raise RequirementError(
                f"Invalid conda MatchSpec {spec!r}: {str(exc).splitlines()[0]}.",
                hint='Write it as conda does, e.g. "cuda-toolkit 12.4.*" or "numpy >=1.26".',
            ) from exc
        cleaned.append(spec.strip())
    editor = ManifestEditor(project.pyproject)
    for spec in cleaned:
        editor.add_conda(spec, platform=platform)
    return commit_edit(editor, project.root, services, no_sync=no_sync)
