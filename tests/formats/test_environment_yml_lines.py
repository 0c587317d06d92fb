"""Every entry of an environment.yml keeps its own line, whatever comments, blank lines
and repeated entries surround it, so what import reports names environment.yml:LINE."""

from __future__ import annotations

from pathlib import Path

from shipyard.formats.environment_yml import read_environment_yml


def test_entries_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: geo\n"  # 1
        "channels: [conda-forge]\n"  # 2
        "dependencies:\n"  # 3
        "  # conda side\n"  # 4
        "  - python=3.12\n"  # 5
        "\n"  # 6
        "  - gdal >=3.8\n"  # 7
        "  - pip\n"  # 8
        "  - pip:\n"  # 9
        "    # PyPI side\n"  # 10
        "    - --no-binary :all:\n"  # 11
        "    - not a requirement!\n"  # 12
        "\n"  # 13
        "    - --pre\n"  # 14
        "    - -e .\n"  # 15
        "  - {weird: thing}\n"  # 16
    )
    env = read_environment_yml(path)
    assert env.origins == {"python=3.12": f"{path}:5", "gdal >=3.8": f"{path}:7"}
    assert env.dependencies_origin == f"{path}:3"
    assert [(line.text, line.origin) for line in env.pip.locations] == [(".", f"{path}:15")]
    problems = "\n".join(env.problems)
    assert f"{path}:11: --no-binary :all: is a machine setting in shipyard" in problems
    assert f"{path}:12: 'not a requirement!' is not a PEP 508 requirement" in problems
    assert f"{path}:14: --pre is not carried over" in problems
    assert f"{path}:16: a mapping in 'dependencies' other than 'pip:' (weird)" in problems
