"""``import environment.yml --prefer-pypi`` with no conda channel within reach: the
conda dependencies that are Python distributions come from the (local) index, the
others are left out and named with their ``environment.yml:LINE``; no channel is ever
asked. Also: ``defaults`` is conda's default channels (overridable), and ``import``
outside a project points to ``init --from``."""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path

from support import pkg
from support.conda_channel import ChannelServer

from .test_import import _local_project
from .test_local_index import installed, new_project, shipyard

PACKAGES = [
    pkg("numpy", "1.26.0"),
    pkg("numpy", "1.26.4"),
    pkg("numpy", "2.0.0"),
    pkg("torch", "2.1.0"),
    pkg("helper", "1.0"),
    pkg("requests", "2.32.3"),
]


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(channel: str, index_url: str) -> str:
    return (
        "name: analysis\n"  # 1
        "channels:\n"  # 2
        f"  - {channel}\n"  # 3
        "  - defaults\n"  # 4
        "dependencies:\n"  # 5
        "  - python=3.11\n"  # 6
        "  # the numerics\n"  # 7
        "  - numpy 1.26.*\n"  # 8
        "  - pytorch>=2\n"  # 9
        "  - helper\n"  # 10
        "  - libgdal >=3.8\n"  # 11
        "  - cudatoolkit=11.8\n"  # 12
        "  - libweird\n"  # 13
        "  - pip\n"  # 14
        "  - pip:\n"  # 15
        f"    - --index-url {index_url}\n"  # 16
        "    - requests==2.32.3\n"  # 17
        "\n"  # 18
        "    - -e .\n"  # 19
    )


def test_prefer_pypi_needs_no_channel_and_no_mapping_from_the_network(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    closed = _closed_port()
    project = tmp_path / "analysis"
    project.mkdir()
    (project / "environment.yml").write_text(
        _environment(f"http://127.0.0.1:{closed}/conda-forge", index.index_url)
    )
    result = shipyard(
        project,
        "init",
        "--from",
        "environment.yml",
        "--prefer-pypi",
        SHIPYARD_CONDA_PYPI_MAPPING_URL=f"http://127.0.0.1:{closed}/compressed_mapping.json",
        SHIPYARD_HTTP_RETRIES="0",
    )
    out = result.stdout + result.stderr
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["requires-python"] == ">=3.11"
    assert manifest["project"]["dependencies"] == [
        "requests==2.32.3",
        "numpy==1.26.*",
        "torch>=2",
        "helper",
    ]
    assert "conda" not in manifest["tool"]["shipyard"]  # no channel, no conda dependency
    lock = tomllib.loads((project / "pylock.toml").read_text())
    assert "conda" not in lock.get("tool", {}).get("shipyard", {})
    assert installed(project) == {
        "numpy": "1.26.4",
        "torch": "2.1.0",
        "helper": "1.0",
        "requests": "2.32.3",
    }
    # what moved is listed; what was left out names its line and why
    assert "Moved from conda to PyPI (--prefer-pypi):" in out
    assert "numpy 1.26.*  ->  numpy==1.26.*" in out
    assert "pytorch>=2    ->  torch>=2" in out
    said = " ".join(out.split())
    assert "the conda-to-PyPI name mapping could not be fetched" in said
    assert (
        "environment.yml:11: 'libgdal >=3.8' is not a Python distribution (per shipyard's "
        "list of common conda packages); --prefer-pypi leaves it out" in said
    )
    assert "environment.yml:12: 'cudatoolkit=11.8' is not a Python distribution" in said
    assert (
        "environment.yml:13: 'libweird' is in no conda-to-PyPI mapping and the index has no "
        "project named libweird; --prefer-pypi leaves it out" in said
    )
    assert (
        "environment.yml:19: '-e .' is this project itself, which has no [build-system], so "
        "sync does not install it" in said
    )
    assert "conda.anaconda.org" not in said and "repo.anaconda.com" not in said


def test_no_request_reaches_the_channel_and_the_published_mapping_is_used(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    channel_root = tmp_path / "channel"
    channel_root.mkdir()
    served = tmp_path / "mapping"
    served.mkdir()
    (served / "compressed_mapping.json").write_text(
        json.dumps({"pytorch": "torch", "numpy": "numpy", "libgdal": None, "cudatoolkit": None})
    )
    project = new_project(tmp_path, index, [])
    (project / "environment.yml").write_text(
        _environment("CHANNEL", index.index_url).replace("  - -e .\n", "")
    )
    with ChannelServer(channel_root) as channel, ChannelServer(served) as mapping:
        text = (project / "environment.yml").read_text().replace("CHANNEL", channel.url)
        (project / "environment.yml").write_text(text)
        result = shipyard(
            project,
            "import",
            "environment.yml",
            "--prefer-pypi",
            "--no-sync",
            SHIPYARD_CONDA_PYPI_MAPPING_URL=f"{mapping.url}/compressed_mapping.json",
        )
        assert channel.requests == []
        assert mapping.requests == ["/compressed_mapping.json"]
    said = " ".join((result.stdout + result.stderr).split())
    assert (
        "environment.yml:11: 'libgdal >=3.8' is not a Python distribution (per the "
        "published conda-to-PyPI mapping)" in said
    )
    # a name the mapping does not know is taken from the index, and that is said
    assert (
        "environment.yml:10: 'helper' is not in the conda-to-PyPI mapping; the index has a "
        "project named helper" in said
    )
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["dependencies"] == [
        "requests==2.32.3",
        "numpy==1.26.*",
        "torch>=2",
        "helper",
    ]


def test_a_python_range_becomes_requires_python_a_pip_entry_wins_and_paths_stay(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, [])
    _local_project(project, "lib")
    (project / "environment.yml").write_text(
        "channels: [conda-forge]\n"
        "dependencies:\n"
        "  - python >=3.10,<3.13\n"
        "  - numpy=1.26\n"
        "  - pip:\n"
        "    - numpy==1.26.0\n"
        "    - -e ./lib\n"
    )
    result = shipyard(
        project,
        "import",
        "environment.yml",
        "--prefer-pypi",
        "--no-sync",
        SHIPYARD_CONDA_PYPI_MAPPING_URL="",
    )
    manifest = tomllib.loads((project / "pyproject.toml").read_text())
    assert manifest["project"]["requires-python"] == ">=3.10,<3.13"
    assert manifest["project"]["dependencies"] == ["numpy==1.26.0", "lib"]
    assert manifest["tool"]["shipyard"]["sources"] == {"lib": {"path": "lib"}}  # editable
    said = " ".join(result.stderr.split())
    assert (
        "environment.yml:4: numpy is also a requirement in the pip: section; that one is kept"
        in said
    )


def test_defaults_is_condas_default_channels_and_can_be_replaced(
    tmp_path: Path, make_index
) -> None:  # type: ignore[no-untyped-def]
    index = make_index(PACKAGES)
    empty = tmp_path / "empty-channels"
    empty.mkdir()
    with ChannelServer(empty) as server:
        project = new_project(
            tmp_path,
            index,
            [],
            extra=f'\n[tool.shipyard.conda]\ndefault-channels = ["{server.url}/main"]\n',
        )
        before = (project / "pyproject.toml").read_text()
        (project / "environment.yml").write_text(
            "channels:\n  - defaults\ndependencies:\n  - libfoo\n"
        )
        result = shipyard(project, "import", "environment.yml", "--no-sync", check=False)
        asked = list(server.requests)
    assert result.returncode == 1
    assert asked and all(path.startswith("/main/") for path in asked)
    said = " ".join(result.stderr.split())
    assert f"{server.url}/main" in said
    assert "import with --prefer-pypi" in said
    assert (project / "pyproject.toml").read_text() == before  # the failed import undone


def test_import_outside_a_project_points_to_init_from(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "environment.yml").write_text("dependencies:\n  - numpy\n")
    (empty / "requirements.txt").write_text("numpy\n")
    result = shipyard(empty, "import", "environment.yml", "--prefer-pypi", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "There is no project here to import into" in said
    assert "Run `shipyard init --from environment.yml --prefer-pypi` to create one from it." in said
    both = shipyard(empty, "import", "requirements.txt", "environment.yml", check=False)
    assert "`shipyard init --from requirements.txt --from environment.yml`" in " ".join(
        both.stderr.split()
    )
    assert sorted(p.name for p in empty.iterdir()) == ["environment.yml", "requirements.txt"]
