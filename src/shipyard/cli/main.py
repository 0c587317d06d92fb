"""Command-line entry point (placeholder until the commands land)."""

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        from shipyard import __version__

        print(f"shipyard {__version__}")
        return 0
    return 2
