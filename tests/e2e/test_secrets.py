"""A planted index token never leaves the request headers.

The index requires HTTP Basic credentials. They reach shipyard four ways — in the
index URL in pyproject.toml, in ``SHIPYARD_INDEX_URL``, in ``~/.netrc`` (``NETRC``), and
as ``SHIPYARD_INDEX_USERNAME``/``SHIPYARD_INDEX_PASSWORD`` — and every command a user
runs (lock, sync, add, export in each format, pip compile and sync, cache listing,
failures, all with ``-v``) must work while no artifact — pylock.toml, exports, the
environment, every cache file and file name, stdout and stderr — contains the token.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from support import pkg

from .test_local_index import installed, shipyard

TOKEN = "pl4nted-T0KEN-zq93"
USER = "deploy-bot"
PACKAGES = [
    pkg("alpha", "1.0", ["beta"]),
    pkg("beta", "2.0"),
    pkg("gamma", "1.0", wheel=False, sdist=True),  # built from source through the index
]


def _leaks(text: str | bytes) -> bool:
    data = text.encode() if isinstance(text, str) else text
    header = base64.b64encode(f"{USER}:{TOKEN}".encode())
    return TOKEN.encode() in data or header in data


@pytest.mark.parametrize("source", ["pyproject-url", "env-url", "netrc", "env-vars"])
def test_index_credentials_are_never_written(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, isolated_env: Path, source: str
) -> None:
    index = make_index(PACKAGES, auth=(USER, TOKEN))
    host = f"127.0.0.1:{index.port}"
    secret_url = f"http://{USER}:{TOKEN}@{host}/simple"
    env: dict[str, str] = {}
    index_line = f'index-url = "{index.index_url}"'
    if source == "pyproject-url":
        index_line = f'index-url = "{secret_url}"'
    elif source == "env-url":
        env["SHIPYARD_INDEX_URL"] = secret_url
    elif source == "netrc":
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login {USER} password {TOKEN}\n")
        netrc.chmod(0o600)
        env["NETRC"] = str(netrc)
    else:
        env["SHIPYARD_INDEX_USERNAME"] = USER
        env["SHIPYARD_INDEX_PASSWORD"] = TOKEN
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["alpha"]\n\n[tool.shipyard]\n{index_line}\n'
    )
    (project / "requirements.in").write_text("alpha\ngamma\n")

    outputs: list[str] = []

    def run(*args: str, check: bool = True) -> int:
        result = shipyard(project, "-v", *args, check=check, **env)
        outputs.extend([result.stdout, result.stderr])
        return result.returncode

    run("lock")
    run("sync")
    run("add", "gamma")
    run("export", "--format", "requirements-txt", "-o", "requirements.txt")
    run("export", "--format", "constraints", "-o", "constraints.txt")
    run("export", "--format", "pylock", "-o", "pylock.ci.toml")
    # The pip interface takes its index from the command line (or SHIPYARD_INDEX_URL).
    index_option = [] if source == "env-url" else ["--index-url", index.index_url]
    if source == "pyproject-url":
        index_option = ["--index-url", secret_url]
    run(
        "pip",
        "compile",
        *index_option,
        "--generate-hashes",
        "requirements.in",
        "-o",
        "compiled.txt",
    )
    run("pip", "sync", *index_option, "compiled.txt", "--python", str(project / ".venv"))
    run("cache", "dir")
    assert run("add", "no-such-project", check=False) == 1  # an error names the index
    assert installed(project) == {"alpha": "1.0", "beta": "2.0", "gamma": "1.0"}
    # The credentials were needed: every request carried them.
    assert index.requests and all(r.header("Authorization") for r in index.requests)

    leaked = [i for i, text in enumerate(outputs) if _leaks(text)]
    assert not leaked, outputs[leaked[0]]
    user_file = project / "pyproject.toml"
    for path in [*project.rglob("*"), *isolated_env.rglob("*")]:
        assert not _leaks(str(path)), path
        if path.is_file() and not path.is_symlink() and path != user_file:
            assert not _leaks(path.read_bytes()), path
    if source == "pyproject-url":
        # The user's own manifest keeps what they wrote, after `add` rewrote it.
        assert secret_url in user_file.read_text()
    else:
        assert not _leaks(user_file.read_text())


def test_wrong_credentials_are_reported_without_the_secret(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index
) -> None:
    index = make_index(PACKAGES, auth=(USER, "the-right-one"))
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["alpha"]\n'
    )
    env = {"SHIPYARD_INDEX_URL": f"http://{USER}:{TOKEN}@127.0.0.1:{index.port}/simple"}
    result = shipyard(project, "-v", "lock", check=False, **env)
    assert result.returncode == 1
    assert "Authentication required (HTTP 401)" in result.stderr
    assert f"http://{USER}:****@127.0.0.1:{index.port}/simple/alpha/" in result.stderr
    assert not _leaks(result.stdout + result.stderr)


def test_git_and_named_index_credentials_are_never_written(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_index, isolated_env: Path
) -> None:
    from support.git_server import GitServer, make_repository

    public = make_index([pkg("beta", "2.0")])
    private = make_index([pkg("alpha", "1.0", ["beta"])], auth=(USER, TOKEN))
    root = tmp_path / "git" / "served"
    backend = (
        '[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n\n'
    )
    make_repository(
        root,
        "gitpkg",
        {
            "pyproject.toml": backend + '[project]\nname = "gitpkg"\nversion = "1.0"\n',
            "gitpkg/__init__.py": "VALUE = 1\n",
        },
    )
    server = GitServer(root, credentials=(USER, TOKEN))
    try:
        git_url = server.url.replace("http://", f"http://{USER}:{TOKEN}@")
        private_url = f"http://{USER}:{TOKEN}@127.0.0.1:{private.port}/simple"
        project = tmp_path / "proj"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            '[project]\nname = "proj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
            'dependencies = ["alpha", "gitpkg"]\n\n'
            f'[tool.shipyard]\nindex-url = "{public.index_url}"\n\n'
            f'[[tool.shipyard.index]]\nname = "private"\nurl = "{private_url}"\nexplicit = true\n\n'
            "[tool.shipyard.sources]\n"
            'alpha = { index = "private" }\n'
            f'gitpkg = {{ git = "{git_url}/gitpkg.git", branch = "main" }}\n'
        )
        outputs: list[str] = []
        for args in (
            ("lock",),
            ("sync",),
            ("export", "--format", "pylock", "-o", "pylock.out.toml"),
        ):
            result = shipyard(project, "-v", *args, **{"HOME": str(tmp_path / "home")})
            outputs.extend([result.stdout, result.stderr])
        # A fresh cache: sync --frozen fetches the locked commit with the manifest's
        # credentials, though the lock holds the URL without them.
        shutil.rmtree(project / ".venv")
        for bucket in [*isolated_env.glob("git-v*"), *isolated_env.glob("built-v*")]:
            shutil.rmtree(bucket)
        result = shipyard(project, "-v", "sync", "--frozen", HOME=str(tmp_path / "home"))
        outputs.extend([result.stdout, result.stderr])
        assert installed(project) == {"alpha": "1.0", "beta": "2.0", "gitpkg": "1.0"}
        assert server.requests and private.requests  # both needed the credentials
        leaked = [text for text in outputs if _leaks(text)]
        assert not leaked, leaked[0]
        user_file = project / "pyproject.toml"
        for path in [*project.rglob("*"), *isolated_env.rglob("*")]:
            assert not _leaks(str(path)), path
            if path.is_file() and not path.is_symlink() and path != user_file:
                assert not _leaks(path.read_bytes()), path
    finally:
        server.close()
