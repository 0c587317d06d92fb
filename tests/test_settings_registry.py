"""Every setting in the registry is documented in the README, and precedence holds."""

from __future__ import annotations

from pathlib import Path

from shipyard.settings import REGISTRY, load_settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for setting in REGISTRY:
        if setting.env:
            assert f"`{setting.env}`" in README, setting.env
        if setting.key:
            assert f"`{setting.key}`" in README, setting.key


def test_precedence_cli_over_env_over_project() -> None:
    project = {"index-url": "https://project.example/simple", "resolution": "lowest"}
    env = {"SHIPYARD_INDEX_URL": "https://env.example/simple"}
    settings = load_settings(project_table=project, cli={}, environ=env)
    assert settings.index_url == "https://env.example/simple"
    assert settings.resolution == "lowest"
    settings = load_settings(
        project_table=project, cli={"index_url": "https://cli.example/simple"}, environ=env
    )
    assert settings.index_url == "https://cli.example/simple"


def test_pip_configuration_is_ignored() -> None:
    settings = load_settings(
        project_table=None,
        cli={},
        environ={"PIP_INDEX_URL": "https://pip.example/simple", "PIP_FIND_LINKS": "/opt/wheels"},
    )
    assert settings.index_url == "https://pypi.org/simple"
    assert settings.find_links == []


def test_no_color() -> None:
    assert load_settings(project_table=None, cli={}, environ={"NO_COLOR": "1"}).color == "never"
    assert (
        load_settings(project_table=None, cli={"color": "always"}, environ={"NO_COLOR": "1"}).color
        == "always"
    )


def test_only_the_registry_reads_shipyard_variables() -> None:
    # A variable read anywhere else escapes validation ("Invalid value in …") and the
    # README table; code that runs before load_settings uses from_environment.
    import re

    source = Path(__file__).parents[1] / "src" / "shipyard"
    direct = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\()\s*["']SHIPYARD_""")
    offenders = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        if path.name != "settings.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []


def test_an_invalid_value_read_early_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    # The probe timeout is read while looking for interpreters, before any settings.
    result = subprocess.run(
        [sys.executable, "-m", "shipyard", "python", "find", "3"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHIPYARD_PROBE_TIMEOUT": "soon"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (1, 2), result.stderr
    assert "Invalid value in SHIPYARD_PROBE_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr
