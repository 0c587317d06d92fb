"""Turn a failed resolution into an explanation that names the user's own requirements.

resolvelib reports a conflict as the requirements on one project that no
candidate satisfies, each with the candidate that declared it. For each we walk
back to the project through the requirement that first brought every parent in,
and say it as a chain: "ml-service depends on pandas>=2.2 and pandas 2.2.3
depends on numpy>=1.26". The hint names the project's own requirements on the
chains: those are what the user can relax.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.specifiers import SpecifierSet

from shipyard.errors import NoMatchingVersionError, PackageNotFoundError, ResolutionError
from shipyard.resolver.provider import PYTHON, Provider, Requirement_

__all__ = ["explain_conflict"]

_MAX_DEPTH = 6


def _describe(req: Requirement_) -> str:
    if req.name == PYTHON:
        return f"Python {req.specifier}"
    extra = f"[{req.extra}]" if req.extra else ""
    spec = str(req.specifier)
    return f"{req.name}{extra}{spec}" if spec else f"{req.name}{extra}"


def _chain(
    req: Requirement_, provider: Provider, project_name: str
) -> tuple[list[str], Requirement_]:
    """Sentences from the project down to ``req``, and the root requirement it starts at."""
    steps: list[str] = []
    current = req
    seen: set[str] = set()
    while current.parent is not None and len(steps) < _MAX_DEPTH:
        parent = current.parent
        verb = "requires" if current.name == PYTHON else "depends on"
        steps.append(f"{parent.name} {parent.version} {verb} {_describe(current)}")
        if parent.identifier in seen:
            break
        seen.add(parent.identifier)
        introduced = provider.introduced_by.get(parent.identifier)
        if introduced is None:
            break
        current = introduced
    if current.parent is None:
        origin = current.origin or project_name
        steps.append(f"{origin} depends on {_describe(current)}")
    steps.reverse()
    return steps, current


def _python_excluded(
    req: Requirement_,
    provider: Provider,
    project_name: str,
    requires_python: SpecifierSet | None,
    chain: str,
) -> ResolutionError | None:
    """The error when versions match ``req`` but the newest one's ``Requires-Python``
    leaves out some of the lock's target Pythons (a cap such as ``<3.15``)."""
    matching = [
        pv
        for pv in provider.repository.versions(req.name)
        if not pv.yanked and req.specifier.contains(pv.version, prereleases=False)
    ]
    if not matching:
        return None
    newest = matching[0]
    declared = next((f.requires_python for f in newest.files if f.requires_python), None)
    if not declared:
        return None
    excluded = sorted(
        {
            ".".join(target.markers["python_full_version"].split(".")[:2])
            for index, target in enumerate(provider.targets)
            if req.mask >> index & 1 and not provider.python_ok(declared, 1 << index)
        },
        key=lambda text: tuple(int(part) for part in text.split(".")),
    )
    if not excluded:
        return None
    project_python = str(requires_python) if requires_python else "any version"
    pythons = ", ".join(excluded[:-1]) + " and " + excluded[-1] if excluded[1:] else excluded[0]
    return ResolutionError(
        f"Because {chain}, and {req.name} {newest.version} (the newest that matches) "
        f"requires Python {declared}, no version of {req.name} can be used on Python "
        f"{pythons}, which the lock covers ({project_name} requires-python "
        f"{project_python}).",
        hint=f"Add an upper bound to requires-python in pyproject.toml (for example "
        f"'<{excluded[0]}'), or give {req.text!r} a marker such as "
        f"\"python_version < '{excluded[0]}'\".",
    )


def explain_conflict(
    causes: Sequence[object],
    *,
    provider: Provider,
    project_name: str,
    requires_python: SpecifierSet | None,
) -> ResolutionError | PackageNotFoundError | NoMatchingVersionError:
    """Build the error for resolvelib's ``ResolutionImpossible.causes``.

    :param causes: ``RequirementInformation`` items (``requirement``, ``parent``).
    :param requires_python: the project's ``requires-python``, named when a package
        needs a newer Python than the project allows.
    :returns: the error to raise (the caller raises it).
    """
    reqs: list[Requirement_] = [getattr(c, "requirement") for c in causes]  # noqa: B009
    names = sorted({r.name for r in reqs})
    name = names[0] if names else "?"
    if name != PYTHON and not provider.repository.versions(name):
        direct = [r for r in reqs if r.parent is None]
        where = (
            (direct[0].origin or project_name)
            if direct
            else _chain(reqs[0], provider, project_name)[0][0]
        )
        return PackageNotFoundError(
            f"No index or find-links location has a project named '{name}' (required by {where}).",
            hint="Check the spelling, or add the index that hosts it with --extra-index-url.",
        )
    lines: list[str] = []
    roots: list[str] = []
    for req in reqs:
        steps, root = _chain(req, provider, project_name)
        lines.append(" and ".join(steps))
        if root.parent is None:
            roots.append(root.text)
    roots = sorted(dict.fromkeys(roots))
    python = name == PYTHON
    if python:
        project_python = str(requires_python) if requires_python else "any version"
        summary = (
            f"Because {'; and '.join(lines)}, but {project_name} supports Python "
            f"{project_python} (requires-python), no version can be used on every "
            "target Python."
        )
        hint = (
            "Raise requires-python in pyproject.toml, or constrain the package to a version "
            "that still supports your oldest Python"
        )
        if roots:
            hint += f" (relax or pin: {', '.join(roots)})"
        return ResolutionError(summary, hint=hint + ".")
    provided = provider.options.provided.get(name)
    if provided is not None:
        return ResolutionError(
            f"Because {'; and '.join(lines)}, but {name} {provided} is provided by the "
            "conda packages, the requirements cannot be met.",
            hint=f"Relax the requirement on {name} ({', '.join(roots) or 'see above'}), or "
            "ask conda for a version that satisfies it in [tool.shipyard.conda] "
            "dependencies.",
        )
    if len(reqs) == 1 or len({str(r.specifier) for r in reqs}) == 1:
        req = reqs[0]
        too_new = _python_excluded(req, provider, project_name, requires_python, lines[0])
        if too_new is not None:
            return too_new
        available = [str(pv.version) for pv in provider.repository.versions(name)[:5]]
        listing = ", ".join(available) if available else "none"
        constrained = [str(s) for s in provider.constraints_on(name, provider.fork_mask)]
        limits = (
            f" and the constraint-dependencies ({', '.join(constrained)})" if constrained else ""
        )
        summary = (
            f"Because {lines[0]}, and no version of {name} matches {_describe(req)}{limits} "
            f"(newest available: {listing}), the requirements cannot be met."
        )
        if constrained:
            return ResolutionError(
                summary,
                hint=f"Relax the constraint on {name} in [tool.shipyard] constraint-dependencies "
                f"or the requirement '{req.text}'.",
            )
        if req.parent is None:
            return NoMatchingVersionError(
                summary,
                hint=f"Change the requirement '{req.text}' in pyproject.toml "
                "(pre-releases need --prerelease allow), or check the index.",
            )
        return ResolutionError(
            summary,
            hint=f"Relax {', '.join(roots) or 'the requirement'} so another version can be used.",
        )
    joined = "; and ".join(lines)
    summary = f"Because {joined}, no version of {name} satisfies all of these requirements."
    hint = (
        f"Relax one of your requirements: {', '.join(roots)}."
        if roots
        else "Relax one of the requirements above."
    )
    return ResolutionError(summary, hint=hint)
