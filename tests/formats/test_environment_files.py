"""Reading requirements lines and environment.yml files: what is kept, what is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.formats.environment_yml import read_environment_yml, render_environment_yml
from shipyard.formats.requirements import read_requirements
from shipyard.project.import_sources import _PYTHON_SPEC


def test_requirements_file_syntax(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_HOST", "pypi.example")
    (tmp_path / "base.txt").write_text("requests>=2.32  # http\n-c constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("urllib3<3\n")
    main = tmp_path / "requirements.txt"
    main.write_text(
        "# tools\n"
        "-r base.txt\n"
        "--index-url https://${TOKEN_HOST}/simple\n"
        "--extra-index-url https://extra.example/simple\n"
        "numpy==2.1.3 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash sha256:bbbb\n"
        "pandas[performance]>=2.2; python_version >= '3.11'\n"
        "-e .\n"
        "--trusted-host example.com\n"
        "not a requirement!\n"
        "-r missing.txt\n"
    )
    parsed = read_requirements(main)
    assert [str(r.requirement) for r in parsed.requirements] == [
        "requests>=2.32",
        "numpy==2.1.3",
        'pandas[performance]>=2.2; python_version >= "3.11"',
    ]
    assert parsed.requirements[1].hashes == ("sha256:aaaa", "sha256:bbbb")
    assert parsed.requirements[1].origin == f"{main}:5"
    assert [str(r.requirement) for r in parsed.constraints] == ["urllib3<3"]
    assert parsed.index_url == "https://pypi.example/simple"
    assert parsed.extra_index_urls == ["https://extra.example/simple"]
    assert parsed.editables == ["."]
    problems = "\n".join(parsed.problems)
    assert f"{main}:10: --trusted-host example.com is not carried over" in problems
    assert f"{main}:11: 'not a requirement!' is not a PEP 508 requirement" in problems
    assert f"{main}:12: cannot read" in problems and "missing.txt" in problems


def test_environment_yml(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: geo\nchannels: [conda-forge, nodefaults]\n"
        "dependencies:\n  - python=3.12\n  - gdal >=3.8\n  - conda-forge::pip\n"
        "  - pip:\n    - shapely==2.0.6\n    - --no-binary :all:\n"
        "  - {weird: thing}\n"
    )
    env = read_environment_yml(path)
    assert env.name == "geo" and env.channels == ["conda-forge"]
    assert env.conda == ["python=3.12", "gdal >=3.8"]
    assert [str(r.requirement) for r in env.pip.requirements] == ["shapely==2.0.6"]
    problems = "\n".join(env.problems)
    assert env.pip.no_binary == [":all:"]
    assert "a mapping in 'dependencies' other than 'pip:' (weird)" in problems


def test_environment_yml_errors_name_the_place(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text("name: x\ndependencies:\n  - a\n - b: [\n")
    with pytest.raises(ManifestError) as info:
        read_environment_yml(path)
    assert "not valid YAML" in info.value.message and info.value.context
    path.write_text("- just\n- a list\n")
    with pytest.raises(ManifestError, match="not a conda environment file"):
        read_environment_yml(path)


def test_rendered_file_reads_back(tmp_path: Path) -> None:
    text = render_environment_yml(
        name="app",
        channels=["conda-forge"],
        conda=["python=3.12.1=h0_cpython"],
        pip=["requests==2.32.3"],
        pip_options=["--index-url https://pypi.example/simple"],
        header=["generated"],
    )
    path = tmp_path / "environment.yml"
    path.write_text(text)
    env = read_environment_yml(path)
    assert env.conda == ["python=3.12.1=h0_cpython"]  # pip itself is added, and skipped back
    assert [str(r.requirement) for r in env.pip.requirements] == ["requests==2.32.3"]
    assert env.pip.index_url == "https://pypi.example/simple"
    assert text.startswith("# generated\n")


@pytest.mark.parametrize(
    ("spec", "minor"),
    [
        ("python=3.12", "12"),
        ("python 3.11.*", "11"),
        ("python=3.12.1=h0_0_cpython", "12"),
        ("python==3.13.0", "13"),
        ("python >=3.11", None),
        ("pythonnet=3.0", None),
    ],
)
def test_python_pins_set_requires_python(spec: str, minor: str | None) -> None:
    match = _PYTHON_SPEC.match(spec)
    assert (match.group(2) if match else None) == minor
