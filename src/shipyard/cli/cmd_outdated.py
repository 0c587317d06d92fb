"""``shipyard outdated``: locked versions against the newest allowed and the newest
on the index. Exits 0 whether or not something is outdated."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["configure", "format_table", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``outdated``'s arguments."""
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of objects on stdout"
    )
    parser.add_argument(
        "--all", action="store_true", help="list up-to-date packages too", dest="show_all"
    )
    parser.add_argument("--direct", action="store_true", help="only the project's own requirements")


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart (the first row a header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON) on stdout, a summary on stderr."""
    import json

    from shipyard.cli.common import command_services, locate_project, packages
    from shipyard.project.outdated import find_outdated

    project = locate_project(args)
    with command_services(args, project) as (services, output):
        report = find_outdated(project, services)
        shown = [
            p
            for p in report.packages
            if (args.show_all or p.outdated) and (not args.direct or p.direct)
        ]
        if args.json:
            document: list[dict[str, Any]] = [p.to_json() for p in shown]
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        elif shown:
            rows = [["Package", "Locked", "Allowed", "Latest", "Required as"]]
            rows += [
                [
                    p.name,
                    p.locked,
                    p.allowed or "-",
                    p.latest or "-",
                    ", ".join(p.requirements) or "(transitive)",
                ]
                for p in shown
            ]
            sys.stdout.write(format_table(rows))
        outdated = sum(1 for p in report.packages if p.outdated)
        if not outdated:
            output.line(f"All {packages(len(report.packages))} from indexes are up to date.")
        elif not args.json:
            output.line(
                f"Newer versions exist for {outdated} of {packages(len(report.packages))}: "
                "`shipyard upgrade` raises the requirements' lower bounds to them, "
                "`shipyard lock --upgrade` moves the lock within the requirements."
            )
        if report.unchecked and not args.json:
            output.line(f"Not checked (no index): {', '.join(report.unchecked)}.")
    return 0
