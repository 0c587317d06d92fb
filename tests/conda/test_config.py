"""``[tool.shipyard.conda]``: what a user writes, and the errors for what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.conda.config import conda_config, spec_name
from shipyard.errors import ManifestError


def test_full_table(tmp_path: Path) -> None:
    tool = {
        "conda": {
            "channels": ["conda-forge", "https://repo.example.com/private/", "./channel"],
            "dependencies": ["libfoo", "python 3.12.*"],
            "platforms": ["linux-64", "osx-arm64"],
            "channel-alias": "https://mirror.example.com/conda/",
            "mirrors": {"conda-forge": "https://m1.example/cf"},
            "pypi-mapping": {"PyTorch": "Torch"},
            "target": {"linux-64": {"dependencies": ["cuda-toolkit 12.4.*"]}},
            "virtual-packages": {"osx-arm64": {"__osx": "13.0"}},
        }
    }
    config = conda_config(tool, tmp_path)
    assert config is not None
    assert config.channels == (
        "https://mirror.example.com/conda/conda-forge",
        "https://repo.example.com/private",
        (tmp_path / "channel").resolve().as_uri(),
    )
    assert config.specs_for("linux-64") == ("libfoo", "python 3.12.*", "cuda-toolkit 12.4.*")
    assert config.specs_for("osx-arm64") == ("libfoo", "python 3.12.*")
    assert config.mirrors == {
        "https://mirror.example.com/conda/conda-forge": ("https://m1.example/cf",)
    }
    assert config.pypi_mapping == {"pytorch": "torch"}
    assert config.mentions("python", "osx-arm64")
    assert not config.mentions("cuda-toolkit", "osx-arm64")


def test_defaults_and_absent_tables(tmp_path: Path) -> None:
    assert conda_config({}, tmp_path) is None
    assert conda_config({"conda": {"channels": ["conda-forge"]}}, tmp_path) is None
    config = conda_config({"conda": {"dependencies": ["zlib"]}}, tmp_path)
    assert config is not None
    assert config.channels == ("https://conda.anaconda.org/conda-forge",)
    assert config.platforms == ()


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"dependencies": "zlib"}, "dependencies must be a list"),
        ({"dependencies": ["zlib"], "platforms": ["linux-32"]}, "'linux-32'"),
        ({"dependencies": ["zlib"], "channels": []}, "channels is empty"),
        ({"dependencies": ["zlib"], "chanels": ["x"]}, "unknown keys: chanels"),
        ({"dependencies": ["zlib"], "channel-alias": "mirror"}, "channel-alias must be a URL"),
        ({"dependencies": ["zlib"], "pypi-mapping": {"a": 1}}, "pypi-mapping"),
        ({"target": {"win-64": {"deps": ["x"]}}}, "may only hold dependencies"),
        ({"dependencies": ["z"], "virtual-packages": {"linux-64": {"glibc": "2"}}}, "versions"),
    ],
)
def test_errors_name_the_key(table: dict[str, object], expected: str, tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        conda_config({"conda": table}, tmp_path)
    assert expected in info.value.message


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("python 3.12.*", "python"),
        ("numpy>=2", "numpy"),
        ("conda-forge::NumPy ==2.1", "numpy"),
        ("cuda-toolkit", "cuda-toolkit"),
        ("libblas=*=*mkl", "libblas"),
    ],
)
def test_spec_name(spec: str, name: str) -> None:
    assert spec_name(spec) == name
