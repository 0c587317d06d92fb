"""``shipyard init``: create a project."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``init``'s arguments."""
    parser.add_argument("path", nargs="?", default=".", help="where to create it (default: here)")
    parser.add_argument("--name", help="project name (default: the directory's name)")
    parser.add_argument("--python", help="Python version for the project, e.g. 3.12")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--app", action="store_true", help="an application, no build system (default)"
    )
    kind.add_argument("--lib", action="store_true", help="a library, installed editable")
    parser.add_argument(
        "--from",
        dest="from_files",
        action="append",
        default=[],
        metavar="FILE",
        help="import requirements from FILE (as `shipyard import` does); repeatable",
    )
    parser.add_argument(
        "--prefer-pypi",
        action="store_true",
        help="with --from: move conda packages that are PyPI projects to PyPI",
    )
    parser.add_argument("--no-sync", action="store_true", help="with --from: lock, do not sync")
    parser.add_argument(
        "--script",
        metavar="FILE",
        help="write a PEP 723 script FILE with a `# /// script` block instead of a project",
    )


def run(args: argparse.Namespace) -> int:
    """Create the project; prints where."""
    from shipyard.cli.render import Output
    from shipyard.project.init import init_project

    output = Output(quiet=args.quiet, color=args.color or "auto")
    pin = None
    if args.python:
        from shipyard.python.discovery import parse_python_request

        request = parse_python_request(args.python)
        version = request.minimum_version()
        requires = f">={version}" if version else _requires_from_text(args.python)
        pin = args.python
    else:
        import sys

        requires = f">={sys.version_info.major}.{sys.version_info.minor}"
        try:
            from shipyard.cache import default_cache_dir
            from shipyard.python.discovery import find_interpreter, parse_python_request

            found = find_interpreter(
                parse_python_request(None), requires_python=None, cache_dir=default_cache_dir()
            )
            major, minor, _ = found.version_tuple
            requires = f">={major}.{minor}"
        except Exception:  # no interpreter probe: fall back to the running Python
            pass
    if args.script:
        from shipyard.cli.script_commands import init_script

        return init_script(args, requires)
    if args.from_files:
        return _init_from(args, output, requires, pin)
    path = init_project(
        Path(args.path), name=args.name, requires_python=requires, python_pin=pin, lib=args.lib
    )
    kind = "library" if args.lib else "application"
    output.line(f"Initialized {kind} project at {path.parent}")
    from shipyard.project.workspace import join_workspace

    workspace = join_workspace(path.parent)
    if workspace is not None:
        output.line(f"It is a member of the workspace at {workspace}")
    return 0


def _init_from(args: argparse.Namespace, output: object, requires: str, pin: str | None) -> int:
    """``init --from``: create the manifest (or complete a Poetry one), then import; a
    failure removes what init created."""
    import tomllib

    from shipyard.cli.cmd_import import run_import
    from shipyard.errors import ManifestError
    from shipyard.project.init import init_project

    root = Path(args.path).resolve()
    pyproject = root / "pyproject.toml"
    created: list[Path] = []
    # The environment and the lock are made by the import's sync: they go too when it
    # fails, so the directory is left as it was (a failed build must not leave a .venv).
    venv, lock = root / ".venv", root / "pylock.toml"
    made_by_sync = [p for p in (venv, lock) if not p.exists() and not p.is_symlink()]
    if pyproject.exists():
        try:
            has_project = "project" in tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ManifestError(
                f"pyproject.toml cannot be read: {exc}.", context=str(pyproject)
            ) from exc
        if has_project:
            raise ManifestError(
                "A project already exists here; shipyard will not overwrite it.",
                context=str(pyproject),
                hint="Use `shipyard import FILE` to bring requirements into it.",
            )
    else:
        before = {pyproject, root / ".gitignore", root / ".python-version"}
        existed = {p for p in before if p.exists()}
        init_project(root, name=args.name, requires_python=requires, python_pin=pin, bare=True)
        created = sorted(before - existed)
    args.files = args.from_files
    args.group = None
    try:
        return run_import(args, root)
    except BaseException:
        import shutil

        for path in created:
            path.unlink(missing_ok=True)
        for path in made_by_sync:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def _requires_from_text(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".").strip(".")
    parts = digits.split(".")
    if len(parts) >= 2 and all(parts[:2]):
        return f">={parts[0]}.{parts[1]}"
    return f">={digits}" if digits else ">=3.8"
