"""Self-tests of the hermetic test infrastructure in ``tests/support`` and ``tests/conftest.py``."""

from __future__ import annotations

import csv
import email.parser
import email.utils
import hashlib
import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import tomllib
import urllib.parse
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version
from pyproject_hooks import BuildBackendHookCaller

from shipyard.index.pages import parse_html_page, parse_json_page
from support import (
    BACKEND_SRC_DIR,
    IndexServer,
    MakeIndex,
    PackageSpec,
    build_sdist,
    build_test_backend_wheel,
    build_wheel,
    pkg,
    record_hash,
)

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


# -- helpers ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


def get(url: str, headers: Mapping[str, str] | None = None, method: str = "GET") -> Reply:
    """One raw HTTP request: no redirects followed, no errors raised."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def read_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.BytesParser().parsebytes(archive.read(name))


def read_member(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(suffix))
        return archive.read(name).decode()


def install_wheel(wheel: Path, target: Path) -> dict[str, Path]:
    """Install ``wheel`` with ``installer`` into a scheme under ``target``; return the scheme."""
    scheme = {key: target / key for key in ("purelib", "platlib", "headers", "scripts", "data")}
    destination = SchemeDictionaryDestination(
        {k: str(v) for k, v in scheme.items()},
        interpreter=sys.executable,
        script_kind="posix",
    )
    with WheelFile.open(wheel) as source:
        source.validate_record(validate_contents=True)
        install(source, destination, {"INSTALLER": b"shipyard-tests"})
    return scheme


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Anchors(HTMLParser):
    """Collect ``<a>`` tags (attributes, unescaped) from an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def anchors(body: bytes) -> list[dict[str, str | None]]:
    parser = Anchors()
    parser.feed(body.decode())
    return parser.links


class HookRunner:
    """A pyproject_hooks runner that puts the test backend on PYTHONPATH and keeps stderr."""

    def __init__(self, backend_path: Path) -> None:
        self.backend_path = backend_path
        self.stderr: list[str] = []

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {**os.environ, **(extra_environ or {}), "PYTHONPATH": str(self.backend_path)}
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        self.stderr.append(result.stderr)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, cmd, result.stdout, result.stderr
            )


@pytest.fixture(scope="module")
def installed_backend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test backend wheel, unpacked as a site folder (as a build env would have it)."""
    wheel = build_test_backend_wheel(tmp_path_factory.mktemp("backend-wheel"))
    site = tmp_path_factory.mktemp("backend-site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def unpack_sdist(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (top,) = into.iterdir()
    return top


# -- wheels ----------------------------------------------------------------------------------


def test_wheel_name_metadata_and_wheel_file(wheel_dir: Path) -> None:
    wheel = build_wheel(
        wheel_dir,
        "Foo.Bar",
        "1.0.0",
        requires_dist=["requests>=2", 'rich; extra == "pretty"'],
        requires_python=">=3.9",
        provides_extra=["pretty"],
    )
    assert wheel.name == "foo_bar-1.0.0-py3-none-any.whl"
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, version, tags) == (
        "foo-bar",
        Version("1.0.0"),
        frozenset({Tag("py3", "none", "any")}),
    )

    meta = Metadata.from_email(read_member(wheel, ".dist-info/METADATA"), validate=True)
    assert meta.name == "Foo.Bar"
    assert meta.version == Version("1.0.0")
    assert meta.requires_python == SpecifierSet(">=3.9")
    assert meta.provides_extra == ["pretty"]
    assert [str(r) for r in meta.requires_dist or []] == ["requests>=2", 'rich; extra == "pretty"']

    wheel_file = email.parser.Parser().parsestr(read_member(wheel, ".dist-info/WHEEL"))
    assert wheel_file["Wheel-Version"] == "1.0"
    assert wheel_file["Root-Is-Purelib"] == "true"
    assert wheel_file.get_all("Tag") == ["py3-none-any"]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("Foo_Bar/__init__.py") == b"__version__ = '1.0.0'\n"


def test_compressed_tag_set_is_expanded_and_not_purelib(wheel_dir: Path) -> None:
    tag = "cp311.cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"
    wheel = build_wheel(wheel_dir, "native", "2.0", tag=tag)
    assert wheel.name == f"native-2.0-{tag}.whl"
    wheel_file = email.parser.Parser().parsestr(read_member(wheel, ".dist-info/WHEEL"))
    assert wheel_file["Root-Is-Purelib"] == "false"
    listed = wheel_file.get_all("Tag") or []
    assert listed == sorted(listed) and len(listed) == 4
    assert {str(t) for t in parse_wheel_filename(wheel.name)[3]} == set(listed)


def test_record_lists_every_file_with_its_hash_and_size(wheel_dir: Path) -> None:
    wheel = build_wheel(
        wheel_dir,
        "rec",
        "1.0",
        files={"rec/__init__.py": "", "rec/data,with,commas.txt": b"\x00\x01"},
        data={"scripts": {"rec-tool": "#!python\nprint('hi')\n"}},
    )
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        rows = list(csv.reader(io.StringIO(archive.read("rec-1.0.dist-info/RECORD").decode())))
        for path, digest, size in rows:
            if path == "rec-1.0.dist-info/RECORD":
                assert (digest, size) == ("", "")
                continue
            data = archive.read(path)
            assert digest == record_hash(data) and "=" not in digest.removeprefix("sha256=")
            assert int(size) == len(data)
    assert sorted(r[0] for r in rows) == sorted(names)
    assert names[-1] == "rec-1.0.dist-info/RECORD"


def test_wheel_installs_with_installer(wheel_dir: Path, tmp_path: Path) -> None:
    wheel = build_wheel(
        wheel_dir,
        "demo-pkg",
        "0.3",
        files={"demo_pkg/__init__.py": "def main():\n    return 0\n"},
        entry_points={"console_scripts": {"demo": "demo_pkg:main"}},
        data={"scripts": {"demo-raw": "#!/bin/sh\necho raw\n"}, "data": {"share/x.txt": "x"}},
    )
    scheme = install_wheel(wheel, tmp_path)
    purelib = scheme["purelib"]
    assert (purelib / "demo_pkg" / "__init__.py").read_text().startswith("def main")
    assert "from demo_pkg import main" in (scheme["scripts"] / "demo").read_text()
    assert (scheme["scripts"] / "demo-raw").read_text() == "#!/bin/sh\necho raw\n"
    assert (scheme["data"] / "share" / "x.txt").read_text() == "x"
    dist_info = purelib / "demo_pkg-0.3.dist-info"
    assert (dist_info / "INSTALLER").read_bytes() == b"shipyard-tests"
    assert "console_scripts" in (dist_info / "entry_points.txt").read_text()
    installed = {row[0] for row in csv.reader(io.StringIO((dist_info / "RECORD").read_text()))}
    assert "demo_pkg/__init__.py" in installed


def test_builds_are_deterministic(tmp_path: Path) -> None:
    def build_all(out: Path) -> list[str]:
        return [
            sha256(build_wheel(out, "det", "1.0", requires_dist=["a"], data={"data": {"f": "1"}})),
            sha256(build_sdist(out, "det", "1.0", requires_dist=['b; extra == "x"'])),
            sha256(build_test_backend_wheel(out)),
        ]

    assert build_all(tmp_path / "one") == build_all(tmp_path / "two")


# -- sdists and the test backend -------------------------------------------------------------


def test_sdist_layout_and_static_project_table(wheel_dir: Path) -> None:
    sdist = build_sdist(
        wheel_dir,
        "My.Project",
        "2.0",
        requires_dist=[
            "a>=1",
            "b; extra == 'fast'",
            "c; python_version < '3.12' and extra == 'fast'",
        ],
        requires_python=">=3.10",
        provides_extra=["fast", "empty"],
        entry_points={"console_scripts": {"mp": "my_project:main"}},
    )
    assert sdist.name == "my_project-2.0.tar.gz"
    assert parse_sdist_filename(sdist.name) == ("my-project", Version("2.0"))
    with tarfile.open(sdist) as archive:
        members = archive.getmembers()
        assert {m.name.split("/")[0] for m in members} == {"my_project-2.0"}
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
        pyproject_file = archive.extractfile("my_project-2.0/pyproject.toml")
        assert pyproject_file is not None
        pyproject = tomllib.load(pyproject_file)
        assert archive.extractfile("my_project-2.0/PKG-INFO") is not None
        assert archive.extractfile("my_project-2.0/My_Project/__init__.py") is not None
    assert pyproject["build-system"] == {
        "requires": ["shipyard-test-backend"],
        "build-backend": "shipyard_test_backend",
    }
    project = pyproject["project"]
    assert project["name"] == "My.Project" and project["version"] == "2.0"
    assert project["dependencies"] == ["a>=1"]
    assert project["requires-python"] == ">=3.10"
    assert project["optional-dependencies"] == {
        "fast": ["b", "c; python_version < '3.12'"],
        "empty": [],
    }
    assert project["scripts"] == {"mp": "my_project:main"}


def test_backend_builds_sdist_into_wheel(
    wheel_dir: Path, tmp_path: Path, installed_backend: Path
) -> None:
    sdist = build_sdist(
        wheel_dir,
        "built",
        "1.5",
        requires_dist=["a>=1", "b; sys_platform == 'linux' and extra == 'fast'"],
        requires_python=">=3.11",
        provides_extra=["fast"],
        files={"src/built/__init__.py": "def main():\n    return 0\n", "src/built/x.txt": "x"},
        entry_points={"console_scripts": {"built": "built:main"}},
    )
    source = unpack_sdist(sdist, tmp_path / "src")
    runner = HookRunner(installed_backend)
    hooks = BuildBackendHookCaller(
        str(source), "shipyard_test_backend", runner=runner, python_executable=sys.executable
    )
    assert hooks.get_requires_for_build_wheel() == []
    meta_dir = tmp_path / "meta"
    meta_dir.mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(meta_dir))
    assert dist_info == "built-1.5.dist-info"
    out = tmp_path / "out"
    out.mkdir()
    filename = hooks.build_wheel(str(out), metadata_directory=str(meta_dir / dist_info))
    assert filename == "built-1.5-py3-none-any.whl"
    assert any("shipyard_test_backend: build_wheel" in err for err in runner.stderr)

    wheel = out / filename
    meta = Metadata.from_email(read_member(wheel, ".dist-info/METADATA"), validate=True)
    assert meta.requires_python == SpecifierSet(">=3.11")
    assert meta.provides_extra == ["fast"]
    requires = [Requirement(str(r)) for r in meta.requires_dist or []]
    assert [r.name for r in requires] == ["a", "b"]
    marker = requires[1].marker
    assert marker is not None
    assert marker.evaluate({"sys_platform": "linux", "extra": "fast"})
    assert not marker.evaluate({"sys_platform": "linux", "extra": ""})
    assert (meta_dir / dist_info / "METADATA").read_text() == read_member(wheel, "METADATA")

    scheme = install_wheel(wheel, tmp_path / "env")
    assert (scheme["purelib"] / "built" / "x.txt").read_text() == "x"
    assert (scheme["scripts"] / "built").exists()


def test_backend_builds_editable_wheel_with_pth(tmp_path: Path, installed_backend: Path) -> None:
    project = tmp_path / "proj"
    (project / "src" / "edit_me").mkdir(parents=True)
    (project / "src" / "edit_me" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "Edit-Me"\nversion = "0.1"\ndependencies = ["a"]\n'
    )
    hooks = BuildBackendHookCaller(
        str(project),
        "shipyard_test_backend",
        runner=HookRunner(installed_backend),
        python_executable=sys.executable,
    )
    assert hooks.get_requires_for_build_editable() == []
    out = tmp_path / "out"
    out.mkdir()
    wheel = out / hooks.build_editable(str(out))
    assert wheel.name == "edit_me-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        pth = archive.read("_edit_me_editable.pth").decode().strip()
        assert Path(pth) == (project / "src").resolve()
        assert not any(n.startswith("edit_me/") for n in archive.namelist())
    assert read_metadata(wheel).get_all("Requires-Dist") == ["a"]
    install_wheel(wheel, tmp_path / "env")  # RECORD is valid


def test_backend_without_package_dir_gives_metadata_only_wheel(
    tmp_path: Path, installed_backend: Path
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "meta-only"\nversion = "3"\n')
    (project / "README.md").write_text("hello")
    (project / "docs").mkdir()  # a folder without __init__.py is not a package
    (project / "docs" / "index.md").write_text("docs")
    hooks = BuildBackendHookCaller(
        str(project), "shipyard_test_backend", runner=HookRunner(installed_backend)
    )
    out = tmp_path / "out"
    out.mkdir()
    wheel = out / hooks.build_wheel(str(out))
    with zipfile.ZipFile(wheel) as archive:
        assert all(n.startswith("meta_only-3.dist-info/") for n in archive.namelist())
    sdist = out / hooks.build_sdist(str(out))
    assert sdist.name == "meta_only-3.tar.gz"
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert "meta_only-3/README.md" in names and "meta_only-3/PKG-INFO" in names
    assert not any("out/" in n for n in names)  # build output lives outside the tree


def test_backend_fails_on_request(
    tmp_path: Path, installed_backend: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    runner = HookRunner(installed_backend)
    hooks = BuildBackendHookCaller(str(tmp_path), "shipyard_test_backend", runner=runner)
    monkeypatch.setenv("SHIPYARD_TEST_BACKEND_FAIL", "1")
    with pytest.raises(subprocess.CalledProcessError) as failure:
        hooks.build_wheel(str(tmp_path))
    assert "SHIPYARD_TEST_BACKEND_FAIL" in str(failure.value.stderr)
    monkeypatch.setenv("SHIPYARD_TEST_BACKEND_FAIL", "build_wheel")
    assert hooks.get_requires_for_build_wheel() == []  # only the named hook fails


def test_backend_source_is_packed_into_its_wheel(wheel_dir: Path) -> None:
    wheel = build_test_backend_wheel(wheel_dir)
    assert wheel.name == "shipyard_test_backend-1.0-py3-none-any.whl"
    source = (BACKEND_SRC_DIR / "shipyard_test_backend.py").read_text()
    assert read_member(wheel, "shipyard_test_backend.py") == source
    assert read_metadata(wheel)["Requires-Python"] == ">=3.11"


# -- the index server ------------------------------------------------------------------------


@pytest.fixture
def index(make_index: MakeIndex) -> IndexServer:
    server = make_index(
        [
            pkg("Alpha", "1.0", ["beta>=2"], requires_python="<4,>=3.9"),
            pkg("alpha", "1.1", extras={"fast": ["gamma"]}, tags=("py3-none-any", "py2-none-any")),
            pkg("beta", "2.0", sdist=True, requires_python=">=3.8"),
        ],
        yanked={"alpha-1.0-py3-none-any.whl": "broken build"},
    )
    return server


def json_page(server: IndexServer, project: str) -> Any:
    reply = get(server.project_url(project), {"Accept": JSON_ACCEPT})
    assert reply.status == 200
    assert reply.headers["content-type"] == JSON_ACCEPT
    return json.loads(reply.body)


def test_json_project_page(index: IndexServer) -> None:
    page = json_page(index, "alpha")
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "alpha"
    assert page["versions"] == ["1.0", "1.1"]
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.1-py2-none-any.whl",
        "alpha-1.1-py3-none-any.whl",
    }
    old = files["alpha-1.0-py3-none-any.whl"]
    path = index.root / "alpha-1.0-py3-none-any.whl"
    assert old["hashes"] == {"sha256": sha256(path)}
    assert old["size"] == path.stat().st_size
    assert old["requires-python"] == "<4,>=3.9"
    assert old["yanked"] == "broken build"
    assert old["upload-time"] == "2024-01-01T00:00:00.000000Z"
    assert files["alpha-1.1-py3-none-any.whl"]["yanked"] is False
    assert "requires-python" not in files["alpha-1.1-py3-none-any.whl"]

    file_url = urllib.parse.urljoin(index.project_url("alpha"), old["url"])
    assert file_url == index.files_url + "alpha-1.0-py3-none-any.whl"
    assert get(file_url).body == path.read_bytes()
    metadata = get(file_url + ".metadata")
    assert metadata.status == 200
    assert old["core-metadata"] == {"sha256": hashlib.sha256(metadata.body).hexdigest()}
    assert old["dist-info-metadata"] == old["core-metadata"]
    assert metadata.body.decode() == read_member(path, ".dist-info/METADATA")


def test_html_project_page(index: IndexServer) -> None:
    reply = get(index.project_url("alpha"), {"Accept": "text/html"})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert b"&lt;4,&gt;=3.9" in reply.body  # escaped in the attribute
    links = {a["href"]: a for a in anchors(reply.body)}
    assert len(links) == 3
    for href, attrs in links.items():
        assert href is not None
        url, _, fragment = urllib.parse.urljoin(index.project_url("alpha"), href).partition("#")
        filename = url.rsplit("/", 1)[1]
        assert fragment == f"sha256={sha256(index.root / filename)}"
        metadata = get(url + ".metadata").body
        assert attrs["data-core-metadata"] == f"sha256={hashlib.sha256(metadata).hexdigest()}"
        assert attrs["data-dist-info-metadata"] == attrs["data-core-metadata"]
        if filename == "alpha-1.0-py3-none-any.whl":
            assert SpecifierSet(attrs["data-requires-python"] or "") == SpecifierSet(">=3.9,<4")
            assert attrs["data-yanked"] == "broken build"
        else:
            assert "data-yanked" not in attrs and "data-requires-python" not in attrs


def test_html_and_json_agree_for_shipyards_parser(index: IndexServer) -> None:
    url = index.project_url("beta")
    from_json = parse_json_page(get(url, {"Accept": JSON_ACCEPT}).body, url)
    from_html = parse_html_page(get(url, {"Accept": "text/html"}).body, url)
    assert {f.filename for f in from_json} == {"beta-2.0-py3-none-any.whl", "beta-2.0.tar.gz"}
    for a, b in zip(from_json, from_html, strict=True):
        assert (a.filename, a.url, a.requires_python, a.yanked, a.metadata) == (
            b.filename,
            b.url,
            b.requires_python,
            b.yanked,
            b.metadata,
        )
    sdist = next(f for f in from_json if f.filename.endswith(".tar.gz"))
    assert sdist.requires_python == ">=3.8"  # read from PKG-INFO
    assert sdist.metadata is None  # .metadata only for wheels


@pytest.mark.parametrize(
    ("dialect", "accept", "expected"),
    [
        ("both", PIP_ACCEPT, "json"),
        ("both", None, "html"),
        ("both", "text/html", "html"),
        ("both", "*/*", "html"),
        ("both", "application/vnd.pypi.simple.v1+html", "html"),
        ("both", f"{JSON_ACCEPT};q=0.5, text/html;q=0.9", "html"),
        ("json", "text/html", "json"),
        ("html", JSON_ACCEPT, "html"),
    ],
)
def test_content_negotiation(
    make_index: MakeIndex, dialect: str, accept: str | None, expected: str
) -> None:
    server = make_index([pkg("a", "1")], dialect=dialect)
    headers = {"Accept": accept} if accept else {}
    for url in (server.index_url + "/", server.project_url("a")):
        reply = get(url, headers)
        assert reply.status == 200
        is_json = reply.headers["content-type"] == JSON_ACCEPT
        assert is_json == (expected == "json"), url
        if is_json:
            json.loads(reply.body)
        else:
            assert anchors(reply.body)
        assert reply.headers["vary"] == "Accept"


def test_root_lists_projects_and_backend(index: IndexServer) -> None:
    page = json.loads(get(index.index_url + "/", {"Accept": JSON_ACCEPT}).body)
    names = [p["name"] for p in page["projects"]]
    assert names == ["alpha", "beta", "shipyard-test-backend"]
    html_names = [a["href"] for a in anchors(get(index.index_url + "/").body)]
    assert html_names == ["alpha/", "beta/", "shipyard-test-backend/"]


def test_redirects_and_not_found(index: IndexServer) -> None:
    for path in ("/simple/Alpha/", "/simple/ALPHA", "/simple/alpha"):
        reply = get(index.url + path)
        assert reply.status == 301
        assert reply.headers["location"] == "/simple/alpha/"
    assert get(index.url + "/simple/nope/").status == 404
    assert get(index.files_url + "nope-1.0.tar.gz").status == 404
    assert get(index.files_url + "beta-2.0.tar.gz.metadata").status == 404


def test_metadata_options(make_index: MakeIndex) -> None:
    specs = [pkg("m", "1")]
    wheel = "m-1-py3-none-any.whl"
    off = make_index(specs, metadata=False)
    assert "core-metadata" not in json_page(off, "m")["files"][0]
    assert b"data-core-metadata" not in get(off.project_url("m")).body
    assert get(off.files_url + wheel + ".metadata").status == 404

    hidden = make_index(specs, metadata_unadvertised=True)
    assert "core-metadata" not in json_page(hidden, "m")["files"][0]
    assert b"data-dist-info-metadata" not in get(hidden.project_url("m")).body
    served = get(hidden.files_url + wheel + ".metadata")
    assert served.status == 200 and served.body.startswith(b"Metadata-Version: 2.1\nName: m\n")


def test_range_requests(index: IndexServer) -> None:
    path = index.root / "beta-2.0-py3-none-any.whl"
    data, size, url = path.read_bytes(), path.stat().st_size, index.files_url + path.name

    head = get(url, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(size)
    assert head.headers["accept-ranges"] == "bytes"

    part = get(url, {"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    assert part.body == data[10:20]

    tail = get(url, {"Range": "bytes=-100"})
    assert tail.status == 206 and tail.body == data[-100:]
    assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    with zipfile.ZipFile(io.BytesIO(get(url, {"Range": f"bytes=-{size * 2}"}).body)):
        pass  # a suffix longer than the file is the whole file

    assert get(url, {"Range": f"bytes={size}-"}).status == 416
    assert get(url, {"Range": "bytes=0-1", "If-Range": '"stale"'}).status == 200

    index.range_requests = False
    full = get(url, {"Range": "bytes=10-19"})
    assert full.status == 200 and full.body == data
    assert get(url, method="HEAD").headers["accept-ranges"] == "none"


def test_conditional_requests(index: IndexServer) -> None:
    for url, headers in (
        (index.project_url("alpha"), {"Accept": JSON_ACCEPT}),
        (index.project_url("alpha"), {}),
        (index.files_url + "beta-2.0.tar.gz", {}),
    ):
        first = get(url, headers)
        assert first.status == 200
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag == f'"{hashlib.sha256(first.body).hexdigest()}"'
        again = get(url, {**headers, "If-None-Match": etag})
        assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag)
        assert get(url, {**headers, "If-Modified-Since": modified}).status == 304
        assert get(url, {**headers, "If-None-Match": '"other"'}).status == 200
        assert (
            get(url, {**headers, "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status
            == 200
        )
    page = get(index.project_url("alpha"))
    assert page.headers["cache-control"] == "max-age=600"


def test_new_files_appear_and_change_validators(index: IndexServer) -> None:
    url = index.project_url("gamma")
    assert get(url).status == 404
    build_wheel(index.root, "gamma", "1.0")
    first = get(url, {"Accept": JSON_ACCEPT})
    assert first.status == 200
    build_wheel(index.root, "gamma", "1.1")
    second = get(url, {"Accept": JSON_ACCEPT, "If-None-Match": first.headers["etag"]})
    assert second.status == 200
    assert json.loads(second.body)["versions"] == ["1.0", "1.1"]


def test_upload_times_and_absolute_urls(make_index: MakeIndex) -> None:
    when = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    server = make_index(
        [pkg("t", "1")], absolute_urls=True, upload_times={"t-1-py3-none-any.whl": when}
    )
    (entry,) = json_page(server, "t")["files"]
    assert entry["upload-time"] == "2025-05-06T07:08:09.000000Z"
    assert entry["url"] == server.files_url + "t-1-py3-none-any.whl"
    (link,) = anchors(get(server.project_url("t")).body)
    assert (link["href"] or "").startswith(server.files_url)


def test_requests_are_recorded_and_failures_forced(index: IndexServer) -> None:
    index.clear_requests()
    index.fail["/simple/alpha/"] = 503
    index.fail_times["/simple/alpha/"] = 2
    statuses = [get(index.project_url("alpha"), {"Accept": JSON_ACCEPT}).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    recorded = index.requests_for("/simple/alpha/")
    assert [r.method for r in recorded] == ["GET"] * 3
    assert recorded[0].header("ACCEPT") == JSON_ACCEPT
    index.fail["/files/"] = 500  # no fail_times entry: fails every time
    assert get(index.files_url + "beta-2.0.tar.gz").status == 500
    assert get(index.files_url + "beta-2.0.tar.gz").status == 500
    assert len(index.requests) == 5
    index.clear_requests()
    assert index.requests == []


def test_find_links_page(index: IndexServer) -> None:
    reply = get(index.links_url)
    assert reply.status == 200
    hrefs = [a["href"] or "" for a in anchors(reply.body)]
    filenames = sorted(p.name for p in index.root.iterdir())
    assert [h.rsplit("/", 1)[1] for h in hrefs] == filenames
    first = urllib.parse.urljoin(index.links_url, hrefs[0])
    assert get(first).body == (index.root / filenames[0]).read_bytes()


def test_local_version_filenames_are_quoted(make_index: MakeIndex) -> None:
    server = make_index([pkg("loc", "1.0+cpu")])
    (entry,) = json_page(server, "loc")["files"]
    assert entry["url"] == "../../files/loc-1.0%2Bcpu-py3-none-any.whl"
    file_url = urllib.parse.urljoin(server.project_url("loc"), entry["url"])
    assert get(file_url).status == 200


def test_server_stops_and_closes_connections(tmp_path: Path) -> None:
    build_wheel(tmp_path, "s", "1")
    with IndexServer(tmp_path) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/simple/s/")
        assert conn.getresponse().read()
    with pytest.raises(RuntimeError):
        _ = server.url
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.request("GET", "/simple/s/")  # the kept-alive connection was closed
        conn.getresponse()
    conn.close()


# -- fixtures --------------------------------------------------------------------------------


def test_make_index_builds_specs_and_adds_backend(make_index: MakeIndex) -> None:
    server = make_index(
        [
            PackageSpec(
                name="multi", version="1", tags=("cp311-cp311-linux_x86_64", "py3-none-any")
            ),
            pkg("src-only", "2", wheel=False, sdist=True),
        ]
    )
    names = sorted(p.name for p in server.root.iterdir())
    assert names == [
        "multi-1-cp311-cp311-linux_x86_64.whl",
        "multi-1-py3-none-any.whl",
        "shipyard_test_backend-1.0-py3-none-any.whl",
        "src_only-2.tar.gz",
    ]


def test_pkg_shorthand_with_extras() -> None:
    spec = pkg("a", "1", ["b"], extras={"x": ["c", "d; os_name == 'nt' or os_name == 'posix'"]})
    assert spec.provides_extra == ("x",)
    assert spec.requires_dist[:2] == ("b", 'c; extra == "x"')
    marker = Requirement(spec.requires_dist[2]).marker
    assert marker is not None
    assert not marker.evaluate({"os_name": "nt", "extra": ""})
    assert marker.evaluate({"os_name": "nt", "extra": "x"})


def test_environment_is_isolated(isolated_env: Path) -> None:
    assert os.environ["SHIPYARD_CACHE_DIR"] == str(isolated_env)
    assert isolated_env.is_dir() and not any(isolated_env.iterdir())
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull
    assert os.environ["NO_COLOR"] == "1"
    leaked = [
        k
        for k in os.environ
        if k.startswith(("PIP_", "SHIPYARD_"))
        and k not in ("PIP_CONFIG_FILE", "SHIPYARD_CACHE_DIR")
    ]
    assert leaked == []


@dataclass
class _FakeItem:
    keywords: dict[str, object]
    markers: list[pytest.MarkDecorator]

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.markers.append(marker)


@pytest.mark.parametrize(
    ("env", "skipped"),
    [({}, True), ({"CI": "true"}, False), ({"SHIPYARD_NETWORK_TESTS": "1"}, False)],
)
def test_network_marker_skips_unless_enabled(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], skipped: bool
) -> None:
    import conftest

    monkeypatch.delenv("CI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    net, local = _FakeItem({"network": True}, []), _FakeItem({}, [])
    conftest.pytest_collection_modifyitems(None, [net, local])  # type: ignore[arg-type, list-item]
    assert [m.name for m in net.markers] == (["skip"] if skipped else [])
    assert local.markers == []
