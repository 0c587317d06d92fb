"""``shipyard publish``: upload the project's distributions to a package index."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project.manifest import Project
    from shipyard.project.publishing import FileOutcome

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``publish``'s arguments (``--index-url``/``--index`` stay the global options
    for the indexes packages are read from)."""
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILES",
        help="wheels and sdists to upload, or glob patterns (default: dist/*)",
    )
    parser.add_argument(
        "--publish-url",
        "--repository-url",
        dest="publish_url",
        metavar="URL",
        help="the upload URL (default: https://upload.pypi.org/legacy/; SHIPYARD_PUBLISH_URL)",
    )
    parser.add_argument(
        "-r",
        "--repository",
        metavar="NAME",
        help="a ~/.pypirc section: its repository URL and credentials",
    )
    parser.add_argument(
        "--check-url",
        metavar="URL",
        help="a simple index to look each file up in first; files it has are skipped",
    )
    parser.add_argument(
        "-t",
        "--token",
        metavar="TOKEN",
        help="an API token (user __token__; SHIPYARD_PUBLISH_TOKEN)",
    )
    parser.add_argument("-u", "--username", metavar="USER", help="user name for the upload")
    parser.add_argument("-p", "--password", metavar="PASSWORD", help="password for the upload")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the files and show what would be uploaded; upload nothing",
    )


def _find_project(args: argparse.Namespace) -> Project | None:
    """The project (for its settings and dist/), or ``None`` outside any project."""
    from shipyard.cli.common import locate_project
    from shipyard.errors import ManifestError

    try:
        return locate_project(args)
    except ManifestError:
        if getattr(args, "project", None):
            raise
        return None


def _repository_name(args: argparse.Namespace) -> str | None:
    """``--repository NAME``, or the global ``--index NAME`` used the same way; the
    global ``--index-url`` (where packages are read from) has no meaning here.

    :raises UsageError: for ``--index-url``, or an ``--index`` that is not one name.
    """
    from shipyard.errors import UsageError

    if getattr(args, "index_url", None):
        raise UsageError(
            "publish takes no --index-url (that is the index packages are read from).",
            hint="Give the upload URL with --publish-url, and a simple index to look "
            "existing files up in with --check-url.",
        )
    names = getattr(args, "index", None) or []
    if not names:
        return str(args.repository) if args.repository else None
    if len(names) > 1 or "=" in names[0] or "://" in names[0] or args.repository:
        raise UsageError(
            "publish takes one --index NAME: a section of ~/.pypirc (as --repository does).",
            hint="Give the upload URL with --publish-url.",
        )
    return str(names[0])


def run(args: argparse.Namespace) -> int:
    """Plan, then upload; one line per file."""
    from pathlib import Path

    from shipyard.cli.common import command_services
    from shipyard.index.credentials import redact_url
    from shipyard.project.publishing import (
        PublishRequest,
        plan_publish,
        publish,
        require_credentials,
    )

    repository = _repository_name(args)
    args.index = None  # a ~/.pypirc section here, not an index packages are read from
    project = _find_project(args)
    request = PublishRequest(
        files=list(args.files),
        base=Path.cwd() if args.files or project is None else project.root,
        publish_url=args.publish_url,
        repository=repository,
        check_url=args.check_url,
        token=args.token,
        username=args.username,
        password=args.password,
    )
    with command_services(args, project) as (services, output):
        plan = plan_publish(request, services)
        if not args.dry_run:
            require_credentials(plan)
        for warning in plan.warnings:
            output.warning(warning)
        url = redact_url(plan.url)
        count = len(plan.files)
        noun = "file" if count == 1 else "files"
        if plan.credentials is not None:
            who = f" as {plan.credentials.username} (from {plan.credentials.source})"
        else:
            who = " without credentials" if args.dry_run else ""
        verb = "Would publish" if args.dry_run else "Publishing"
        output.line(f"{verb} {count} {noun} to {url}{who}")
        if args.dry_run:
            for outcome in plan.files:
                if outcome.action == "skip":
                    output.line(f"Would skip {outcome.file.filename} ({outcome.reason})")
                else:
                    output.line(f"Would upload {outcome.file.filename}")
            return 0

        def report(outcome: FileOutcome) -> None:
            if outcome.action == "skip":
                output.line(f"Skipped {outcome.file.filename} ({outcome.reason})")
            else:
                output.line(f"Uploaded {outcome.file.filename}")

        publish(plan, services, on_file=report)
    return 0
