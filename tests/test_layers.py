"""The layering DESIGN.md describes, read from the code's imports (module-level and
inside functions): shared models import nothing of shipyard but errors, and the
resolver does no I/O of its own (it never imports index/ or cache/)."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).parents[1] / "src" / "shipyard"


def _shipyard_imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((SOURCE / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.relative_to(SOURCE).as_posix()] = {
            n for n in names if n == "shipyard" or n.startswith("shipyard.")
        }
    return found


def test_models_import_nothing_of_shipyard_but_errors() -> None:
    wrong = {
        module: sorted(n for n in names if not n.startswith(("shipyard.models", "shipyard.errors")))
        for module, names in _shipyard_imports("models").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def test_the_resolver_imports_neither_index_nor_cache() -> None:
    wrong = {
        module: sorted(n for n in names if n.startswith(("shipyard.index", "shipyard.cache")))
        for module, names in _shipyard_imports("resolver").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def test_installing_depends_on_the_models_not_on_the_lock_file_or_use_cases() -> None:
    wrong = {
        module: sorted(
            n for n in names if n.startswith(("shipyard.lock", "shipyard.project", "shipyard.cli"))
        )
        for module, names in _shipyard_imports("install").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def _calls(name: str) -> set[str]:
    """The modules of ``src/shipyard`` that call a function or class named ``name``."""
    callers: set[str] = set()
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    callers.add(path.relative_to(SOURCE).as_posix())
    return callers


def test_one_installer_downloads_builds_and_links() -> None:
    # sync, pip sync, image build and build environments all go through the Installer:
    # nothing else prepares wheels, links them or removes distributions.
    assert _calls("install_unpacked") == {"install/installer.py"}
    assert _calls("WheelPreparer") == {"install/installer.py"}
    # (uninstall.py itself finishes the removals a killed run left journaled)
    assert _calls("uninstall") == {"install/installer.py", "install/uninstall.py"}
    assert _calls("Installer") == {"project/building.py"}


def test_no_module_grows_past_600_lines() -> None:
    # Past that, a module holds more than one job: split it by job (DESIGN.md).
    long = {
        path.relative_to(SOURCE).as_posix(): lines
        for path in SOURCE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 600
    }
    assert long == {}
