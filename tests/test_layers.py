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
