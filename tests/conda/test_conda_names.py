"""What import --prefer-pypi knows of a conda dependency without any channel: its
version in PEP 440 terms and which PyPI project it is; and what ``defaults`` means."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.conda.config import DEFAULT_CHANNELS, conda_config
from shipyard.conda.mapping import pypi_name
from shipyard.conda.matchspec import pep440_specifier
from shipyard.errors import ManifestError


@pytest.mark.parametrize(
    ("spec", "specifier"),
    [
        ("numpy", ""),
        ("numpy *", ""),
        ("numpy 1.26.*", "==1.26.*"),
        ("numpy 1.26*", "==1.26.*"),
        ("numpy=1.26", "==1.26.*"),  # conda's "=" is a prefix match
        ("numpy=1.26.4=py311h64a7726_0", "==1.26.4"),  # with a build: exact
        ("numpy==1.26.4", "==1.26.4"),
        ("numpy 1.26.4 py311_0", "==1.26.4"),
        ("numpy>=1.26", ">=1.26"),
        ("numpy >= 1.26 , <2", ">=1.26,<2"),
        ("conda-forge::numpy >=1.26", ">=1.26"),
        ("numpy[version='>=1.2,<2']", ">=1.2,<2"),
        ("numpy !=1.2.*", "!=1.2.*"),
        ("python >=3.10,<3.13", ">=3.10,<3.13"),
        ("numpy 1.26|1.27", None),  # PEP 440 has no "or"
        ("numpy >=1.0,<=foo_bar", None),
    ],
)
def test_conda_versions_in_pep_440(spec: str, specifier: str | None) -> None:
    assert pep440_specifier(spec) == specifier


def test_which_pypi_project_a_conda_name_is() -> None:
    # shipyard's own list answers offline for the names that differ, and the C libraries
    assert pypi_name("pytorch") is not None and pypi_name("pytorch").project == "torch"  # type: ignore[union-attr]
    gdal = pypi_name("libgdal")
    assert gdal is not None and gdal.project is None
    assert "common conda packages" in gdal.source
    assert pypi_name("numpy") is None  # same name on both sides: the caller asks the index
    # the published mapping wins over the list, the manifest over both
    published = {"pytorch": "torch-nightly", "numpy": "numpy"}
    assert pypi_name("PyTorch", published=published).project == "torch-nightly"  # type: ignore[union-attr]
    chosen = pypi_name("pytorch", overrides={"pytorch": "My_Torch"}, published=published)
    assert chosen is not None and chosen.project == "my-torch"
    assert "pypi-mapping" in chosen.source


def test_defaults_is_condas_default_channels(tmp_path: Path) -> None:
    config = conda_config(
        {"conda": {"channels": ["defaults", "conda-forge"], "dependencies": ["zlib"]}}, tmp_path
    )
    assert config is not None
    assert config.channels == (*DEFAULT_CHANNELS, "https://conda.anaconda.org/conda-forge")
    assert DEFAULT_CHANNELS == (
        "https://repo.anaconda.com/pkgs/main",
        "https://repo.anaconda.com/pkgs/r",
    )
    named = conda_config({"conda": {"channels": ["pkgs/main"], "dependencies": ["zlib"]}}, tmp_path)
    assert named is not None and named.channels == ("https://repo.anaconda.com/pkgs/main",)
    mirrored = conda_config(
        {
            "conda": {
                "channels": ["defaults"],
                "channel-alias": "https://conda.example.com",
                "default-channels": ["internal/main", "https://mirror.example/pkgs/r/"],
                "dependencies": ["zlib"],
            }
        },
        tmp_path,
    )
    assert mirrored is not None
    assert mirrored.channels == (
        "https://conda.example.com/internal/main",
        "https://mirror.example/pkgs/r",
    )
    with pytest.raises(ManifestError, match="default-channels must list"):
        conda_config({"conda": {"default-channels": [], "dependencies": ["zlib"]}}, tmp_path)
