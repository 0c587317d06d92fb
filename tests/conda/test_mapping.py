"""Which PyPI distributions conda packages provide: the manifest, the package itself,
a published mapping, and the naming rule, in that order."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.version import Version

from shipyard.cache import Cache
from shipyard.conda.mapping import MAPPING_MAX_AGE, at_hand, published_mapping
from shipyard.conda.pypi import provided_distributions
from shipyard.conda.records import CondaRecord
from shipyard.index.http import HttpClient
from support.conda_channel import ChannelServer

CF = "https://conda.anaconda.org/conda-forge"


def record(
    name: str,
    version: str,
    *,
    depends: tuple[str, ...] = (),
    noarch: str | None = None,
    channel: str = CF,
    build: str = "0",
) -> CondaRecord:
    return CondaRecord(
        name=name,
        version=version,
        build=build,
        build_number=0,
        subdir="noarch",
        channel=channel,
        url=f"{channel}/noarch/{name}-{version}-{build}.conda",
        sha256="0" * 64,
        depends=depends,
        noarch=noarch,
    )


def test_precedence_of_the_sources() -> None:
    records = [
        record("python", "3.12.1"),
        record("python_abi", "3.12", depends=("python 3.12.*",)),
        record("libzlib", "1.3"),  # no python: not a distribution
        record("numpy", "2.1.3", depends=("python >=3.10",)),  # naming rule
        record("pytorch", "2.5.1", depends=("python >=3.9",)),  # published: torch
        record("ruamel.yaml", "0.18.6", noarch="python"),  # published: null → not one
        record("msgpack-python", "1.1.0", depends=("python",)),  # manifest override
        record("pyyaml", "6.0.2", depends=("python",)),  # at hand: its dist-info says
        record("other", "1.0", depends=("python",), channel="https://example.com/private"),
    ]
    published = {"pytorch": "torch", "ruamel.yaml": None, "numpy": "numpy", "other": "nope"}
    provided = provided_distributions(
        records,
        {"msgpack-python": "msgpack"},
        published=published,
        at_hand={"pyyaml": [("pyyaml", "6.0.2"), ("yaml-extras", None)]},
    )
    assert provided == {
        "numpy": Version("2.1.3"),
        "torch": Version("2.5.1"),
        "msgpack": Version("1.1.0"),
        "pyyaml": Version("6.0.2"),
        "yaml-extras": Version("6.0.2"),
        "other": Version("1.0"),  # not conda-forge: the published mapping does not apply
    }


def test_dist_info_of_extracted_packages(tmp_path: Path) -> None:
    cache = tmp_path / "pkgs"
    info = cache / "pyyaml-6.0.2-py312_0" / "lib" / "python3.12" / "site-packages"
    (info / "PyYAML-6.0.2.dist-info").mkdir(parents=True)
    (info / "PyYAML-6.0.2.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.2\n"
    )
    noarch = cache / "attrs-24.2.0-pyh0_0" / "site-packages" / "attrs-24.2.0.dist-info"
    noarch.mkdir(parents=True)  # no METADATA: the directory name tells
    (cache / "libzlib-1.3-h0_0" / "lib").mkdir(parents=True)
    found = at_hand(
        [
            record("pyyaml", "6.0.2", build="py312_0"),
            record("attrs", "24.2.0", build="pyh0_0"),
            record("libzlib", "1.3", build="h0_0"),
            record("absent", "1.0"),
        ],
        cache,
    )
    assert found == {
        "pyyaml": [("pyyaml", "6.0.2")],
        "attrs": [("attrs", "24.2.0")],
        "libzlib": [],
    }


def test_published_mapping_is_cached_and_survives_an_outage(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "mapping.json").write_text(json.dumps({"PyTorch": "Torch", "libblas": None}))
    cache = Cache(tmp_path / "cache")
    client = HttpClient(retries=0)
    with ChannelServer(served) as server:
        url = f"{server.url}/mapping.json"
        first = published_mapping(client, cache, url, now=1000.0)
        assert first == {"pytorch": "torch", "libblas": None}
        assert server.requests == ["/mapping.json"]
        assert published_mapping(client, cache, url, now=1000.0 + 60) == first
        assert server.requests == ["/mapping.json"]  # fresh: no request
        (served / "mapping.json").write_text(json.dumps({"pytorch": "torch2"}))
        later = published_mapping(client, cache, url, now=1000.0 + MAPPING_MAX_AGE + 1)
        assert later == {"pytorch": "torch2"}
        assert len(server.requests) == 2
    # The server is gone: the stale copy still answers; without one, None.
    stale = published_mapping(client, cache, url, now=1000.0 + 3 * MAPPING_MAX_AGE)
    assert stale == {"pytorch": "torch2"}
    assert published_mapping(client, Cache(tmp_path / "empty"), url) is None
