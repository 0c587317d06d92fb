"""``shipyard pip sync``: pip-sync on shipyard's resolver and installer.

``sync`` makes a virtual environment hold exactly the pinned distributions of a
requirements file: it installs what is missing or at another version, removes the
rest (``pip``, ``setuptools`` and ``wheel`` are kept unless listed, as pip-sync
does), checks every ``--hash``, and installs nothing that is not pinned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from shipyard.errors import HashMismatchError, ManifestError, UsageError
from shipyard.formats.requirements import pinned_version
from shipyard.models import Interpreter
from shipyard.project.requirements_inputs import apply_file_options, read_inputs
from shipyard.project.services import Services

if TYPE_CHECKING:
    from shipyard.project.syncing import SyncOutcome
    from shipyard.venv import VirtualEnvironment

__all__ = ["sync_requirements"]

#: pip-sync never removes these unless the file lists them.
_KEPT_BY_SYNC = frozenset({"pip", "setuptools", "wheel", "pip-tools", "distribute"})


def sync_requirements(
    paths: Sequence[Path],
    services: Services,
    venv: VirtualEnvironment,
    interpreter: Interpreter,
    *,
    dry_run: bool = False,
    link_mode: str | None = None,
    cwd: Path | None = None,
) -> SyncOutcome:
    """Make ``venv`` hold exactly the pinned distributions of the requirements files.

    Requirements whose marker is false for ``interpreter`` are skipped. When any line
    has a ``--hash``, every line must (pip's hash-checking mode), and each installed
    file's sha256 must be one of its line's.

    :raises UsageError: when ``venv`` is the environment running shipyard.
    :raises ManifestError: for a line that is not pinned (``==`` or a URL), unusable
        lines, or missing hashes in hash-checking mode.
    :raises HashMismatchError: when no file of a pinned version has a listed hash.
    :raises ShipyardError: from resolving, downloading or installing.
    """
    from shipyard.install.installed import iter_installed
    from shipyard.install.plan import compute_plan
    from shipyard.lock.pylock import build_lock_document, select_from_lock
    from shipyard.models import LockFile
    from shipyard.project.building import BuilderFactory
    from shipyard.project.locking import make_repository, resolve_options
    from shipyard.project.syncing import SyncOutcome, apply_plan, finish_interrupted_installs
    from shipyard.resolver.universal import RootRequirement, resolve
    from shipyard.specs.targets import target_from_interpreter

    cwd = cwd or Path.cwd()
    import sys

    if os.path.realpath(venv.root) == os.path.realpath(sys.prefix):
        raise UsageError(
            f"{venv.root} is the environment shipyard itself runs from; syncing it to the "
            "file would remove shipyard and what it needs.",
            hint="Install shipyard outside it (pipx install shipyard, or another venv), "
            "or pass --python for the environment to change.",
        )
    inputs = read_inputs(paths, (), cwd, what="pip sync", warn=services.reporter.warning)
    apply_file_options(services, inputs.options, False)
    environment = dict(interpreter.markers)
    unpinned: list[str] = []
    roots: list[RootRequirement] = []
    for root in inputs.roots:
        requirement = root.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        if not requirement.url and pinned_version(requirement) is None:
            unpinned.append(str(requirement))
        roots.append(RootRequirement(requirement=requirement, selector=None, origin=root.label))
    if unpinned:
        raise ManifestError(
            f"pip sync installs exactly the versions a file pins, and these lines pin none: "
            f"{', '.join(unpinned)}.",
            context=", ".join(str(p) for p in paths),
            hint="Compile the file first (`shipyard pip compile requirements.in`), or pin "
            "each line with ==.",
        )
    if inputs.hashes:
        missing = sorted(
            {canonicalize_name(r.requirement.name) for r in roots} - set(inputs.hashes)
        )
        if missing:
            raise ManifestError(
                "Some lines have --hash and others do not; with hashes, every line needs "
                f"them (as pip's hash-checking mode requires): {', '.join(missing)}.",
                context=", ".join(str(p) for p in paths),
                hint="Recompile with `shipyard pip compile --generate-hashes`.",
            )
    target = target_from_interpreter(interpreter)
    repository = make_repository(None, services, interpreter=interpreter)
    options = replace(
        resolve_options(services, None, {}),
        no_deps=True,
        prerelease="allow",  # a pin names its version: a pre-release pin is on purpose
        preferences={},
    )
    resolution = resolve(
        roots,
        project_name="the requirements file",
        targets=[target],
        repository=repository,
        options=options,
        requires_python=None,
        reporter=services.reporter,
    )
    packages = []
    for package in resolution.packages:
        files = tuple(repository.file_digest(f) for f in package.files)
        expected = inputs.hashes.get(package.name)
        if expected is not None:
            allowed = {h.split(":", 1)[1] for h in expected if h.startswith("sha256:")}
            files = tuple(f for f in files if f.sha256 in allowed)
            if not files:
                raise HashMismatchError(
                    f"No file of {package.name} {package.version} that fits this "
                    "environment has one of the hashes the requirements file lists.",
                    context=package.name,
                    hint="The file may have been re-uploaded, or the hashes belong to "
                    "another version; recompile it with --generate-hashes.",
                )
        packages.append(replace(package, files=files))
    resolution = replace(resolution, packages=tuple(packages))
    document = build_lock_document(
        resolution,
        requires_python=None,
        extras=[],
        dependency_groups=[],
        default_groups=[],
        project=None,
        tool={},
        environments=[],
        base=cwd,
    )
    selected = select_from_lock(
        LockFile.from_document(document, cwd / "requirements.txt"),
        environment=environment,
        tags=interpreter.tags,
        extras=(),
        dependency_groups=(),
        no_binary=frozenset(
            n if n == ":all:" else canonicalize_name(n) for n in services.settings.no_binary
        ),
    )
    if not dry_run:
        finish_interrupted_installs(venv)
    installed = list(iter_installed(sorted({venv.site_packages, venv.platlib})))
    listed = {d.name for d in selected}
    plan = compute_plan(selected, installed, exact=True, protected=_KEPT_BY_SYNC - listed, base=cwd)
    outcome = SyncOutcome(dry_run=dry_run)
    outcome.env_root = venv.root
    outcome.plan = plan
    if dry_run or plan.empty:
        return outcome
    apply_plan(
        plan,
        services,
        venv,
        interpreter,
        factory=BuilderFactory(None, services, interpreter),
        base=cwd,
        requested=listed,
        link_mode=link_mode or services.settings.link_mode,
        outcome=outcome,
    )
    return outcome
