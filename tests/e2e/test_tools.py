"""Tools: `x` / `tool run`, `tool install`, `list`, `upgrade`, `uninstall`, against a local
index whose packages have console scripts (and, in CI, ruff and black from PyPI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e.test_local_index import shipyard
from support import build_package, pkg


def _linter(version: str) -> object:
    return pkg(
        "linty",
        version,
        ["colorish"],
        entry_points={"console_scripts": {"linty": "linty:main", "linty-fix": "linty:fix"}},
        files={
            "linty/__init__.py": (
                "import sys, colorish\n"
                f"def main():\n    print('linty {version}', *sys.argv[1:])\n"
                "def fix():\n    print('fixed')\n"
            )
        },
    )


TOOL_PACKAGES = [
    _linter("1.0"),
    pkg("colorish", "1.0", files={"colorish/__init__.py": ""}),
    pkg("pluginy", "1.0", files={"pluginy/__init__.py": ""}),
    pkg("nocommands", "1.0", files={"nocommands/__init__.py": ""}),
]


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join((result.stdout + result.stderr).split())


def test_x_runs_a_tool_and_reuses_its_environment(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(TOOL_PACKAGES)
    url = ("--index-url", index.index_url)
    first = shipyard(tmp_path, "x", *url, "linty", "--version")
    assert first.stdout == "linty 1.0 --version\n"
    index.clear_requests()
    again = shipyard(tmp_path, "x", *url, "linty", "--version")
    assert again.stdout == "linty 1.0 --version\n" and index.requests == []
    assert not list(tmp_path.iterdir())  # nothing written where it ran
    build_package(index.root, _linter("2.0"))
    assert shipyard(tmp_path, "x", *url, "linty").stdout == "linty 1.0\n"  # cached
    assert shipyard(tmp_path, "x", *url, "linty@latest").stdout == "linty 2.0\n"
    assert shipyard(tmp_path, "x", *url, "linty@1.0").stdout == "linty 1.0\n"
    assert shipyard(tmp_path, "tool", "run", *url, "--from", "linty", "linty-fix").stdout == (
        "fixed\n"
    )
    code = "import pluginy; print('plugin ok')"
    with_plugin = shipyard(
        tmp_path, "x", *url, "--with", "pluginy", "--from", "linty", "python", "-c", code
    )
    assert with_plugin.stdout == "plugin ok\n"
    wrong = shipyard(tmp_path, "x", *url, "--from", "linty", "lint", check=False)
    assert wrong.returncode == 1
    assert "provides no command 'lint' (it provides: linty, linty-fix)" in _said(wrong)


def test_install_list_upgrade_uninstall(tmp_path: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(TOOL_PACKAGES)
    bin_dir = tmp_path / "bin"
    env = {
        "SHIPYARD_TOOL_DIR": str(tmp_path / "tools"),
        "SHIPYARD_TOOL_BIN_DIR": str(bin_dir),
        "SHIPYARD_INDEX_URL": index.index_url,
    }
    installed = shipyard(tmp_path, "tool", "install", "linty", **env)
    said = _said(installed)
    assert "Installed linty 1.0 with commands: linty, linty-fix" in said
    assert f"{bin_dir} is not on PATH" in said
    # a fresh shell with the bin directory on PATH runs it
    shell = subprocess.run(
        ["bash", "-c", "linty --version"],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert shell.stdout == "linty 1.0 --version\n", shell.stderr
    listed = shipyard(tmp_path, "tool", "list", **env)
    assert listed.stdout == "linty 1.0\n- linty\n- linty-fix\n"

    build_package(index.root, _linter("2.0"))
    upgraded = shipyard(tmp_path, "tool", "upgrade", "linty", **env)
    assert "Upgraded linty 1.0 -> 2.0" in _said(upgraded)
    assert subprocess.run([bin_dir / "linty"], capture_output=True, text=True).stdout == (
        "linty 2.0\n"
    )
    same = shipyard(tmp_path, "tool", "upgrade", "--all", **env)
    assert "linty 2.0 is the newest its requirement allows" in _said(same)

    removed = shipyard(tmp_path, "tool", "uninstall", "linty", **env)
    assert "removed commands: linty, linty-fix" in _said(removed)
    assert not list(bin_dir.iterdir()) and not (tmp_path / "tools" / "linty").exists()
    assert shipyard(tmp_path, "tool", "list", **env).stdout == ""
    missing = shipyard(tmp_path, "tool", "uninstall", "linty", **env, check=False)
    assert missing.returncode == 1 and "not installed" in _said(missing)


def test_install_keeps_other_files_and_refuses_packages_without_commands(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(TOOL_PACKAGES)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mine = bin_dir / "linty"
    mine.write_text("#!/bin/sh\necho mine\n")
    env = {
        "SHIPYARD_TOOL_DIR": str(tmp_path / "tools"),
        "SHIPYARD_TOOL_BIN_DIR": str(bin_dir),
        "SHIPYARD_INDEX_URL": index.index_url,
    }
    clash = shipyard(tmp_path, "tool", "install", "linty", **env, check=False)
    assert clash.returncode == 1 and "--force" in _said(clash)
    assert mine.read_text() == "#!/bin/sh\necho mine\n"
    assert not (tmp_path / "tools" / "linty").exists()
    shipyard(tmp_path, "tool", "install", "linty", "--force", **env)
    assert (bin_dir / "linty").is_symlink()
    none = shipyard(tmp_path, "tool", "install", "nocommands", **env, check=False)
    assert none.returncode == 1 and "provides no commands" in _said(none)
    assert not (tmp_path / "tools" / "nocommands").exists()


@pytest.mark.network
def test_ruff_and_black_from_pypi(tmp_path: Path) -> None:
    """The issue's own words: `x ruff --version`, `tool install black`, `black --version`
    from a fresh shell, `tool uninstall black` removes the link."""
    assert shipyard(tmp_path, "x", "ruff", "--version").stdout.startswith("ruff ")
    bin_dir = tmp_path / "bin"
    env = {"SHIPYARD_TOOL_DIR": str(tmp_path / "tools"), "SHIPYARD_TOOL_BIN_DIR": str(bin_dir)}
    shipyard(tmp_path, "tool", "install", "black", **env)
    shell = subprocess.run(
        ["bash", "-c", "black --version"],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert shell.stdout.startswith("black, "), shell.stderr
    shipyard(tmp_path, "tool", "uninstall", "black", **env)
    assert not (bin_dir / "black").exists() and not (bin_dir / "black").is_symlink()
