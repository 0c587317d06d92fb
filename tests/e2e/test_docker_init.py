"""``shipyard docker init``: the Dockerfile a reviewer would approve, checked by hadolint
(no findings at any level) and by running its builder steps with a real pip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import IndexServer, pkg

from .test_local_index import new_project, shipyard

PACKAGES = [
    pkg("greet", "1.0", ["colors>=1"], files={"greet/__init__.py": "WORD = 'hello'\n"}),
    pkg("colors", "1.2", files={"colors/__init__.py": "RED = 'red'\n"}),
]


def hadolint(dockerfile: Path) -> list[dict[str, object]]:
    """hadolint's findings (JSON), at every level from error to style."""
    executable = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(executable), "--no-fail", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=True,
    )
    findings: list[dict[str, object]] = json.loads(result.stdout)
    return findings


def _app(tmp_path: Path, index: IndexServer, extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    project = new_project(
        tmp_path,
        index,
        ["greet>=1"],
        name="hello-app",
        extra=extra + '\n[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n',
    )
    package = project / "src" / "hello_app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import colors, greet\nprint(greet.WORD, colors.RED)\n")
    return project


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.startswith("#") and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line.strip()).strip()
        pending = ""
        if full:
            joined.append(full)
    return joined


def test_docker_init_writes_a_dockerfile_hadolint_accepts(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    result = shipyard(project, "docker", "init")
    assert "Wrote Dockerfile" in result.stderr
    dockerfile = project / "Dockerfile"
    assert hadolint(dockerfile) == []
    text = dockerfile.read_text()
    steps = _instructions(text)
    froms = [s for s in steps if s.startswith("FROM ")]
    assert froms == ["FROM ${BUILDER_IMAGE} AS builder", "FROM ${RUNTIME_IMAGE} AS runtime"]
    assert "ARG RUNTIME_IMAGE=python:3.11-slim-bookworm" in steps
    # the dependency layer comes before the project's code is copied in
    install_deps = next(i for i, s in enumerate(steps) if "--require-hashes" in s)
    copy_code = steps.index("COPY . .")
    assert steps.index("COPY requirements.lock.txt ./") < install_deps < copy_code
    assert all("--mount=type=cache" in s for s in steps if "pip install" in s)
    runtime = steps[steps.index("FROM ${RUNTIME_IMAGE} AS runtime") :]
    env = " ".join(s for s in runtime if s.startswith("ENV "))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    assert 'PATH="/app/.venv/bin:${PATH}"' in env
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    assert not any(s.startswith("COPY . ") for s in runtime), "the runtime copies only the venv"
    user = [s for s in runtime if s.startswith("USER ")]
    assert user == ["USER 10001:10001"]
    assert runtime.index(user[0]) > max(i for i, s in enumerate(runtime) if s.startswith("RUN"))
    assert runtime[-1] == 'CMD ["python", "-m", "hello_app"]'
    assert "HEALTHCHECK NONE" in runtime
    ignore = (project / ".dockerignore").read_text().splitlines()
    for pattern in (".venv", ".git", ".env", "**/__pycache__"):
        assert pattern in ignore
    # the header names the lock it came from
    import hashlib

    digest = hashlib.sha256((project / "pylock.toml").read_bytes()).hexdigest()
    assert f"sha256:{digest}" in text


def test_the_builder_steps_install_the_lock_with_pip(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    """What the builder stage runs, run here with a real pip: a fresh venv, the exported
    requirements with --require-hashes --no-deps, then the app runs."""
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "docker", "init")
    requirements = (project / "requirements.lock.txt").read_text()
    assert "--hash=sha256:" in requirements
    assert not any(line.startswith(("hello-app", "-e")) for line in requirements.splitlines())
    venv = tmp_path / "image-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": index.index_url}
    builder_pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    subprocess.run(
        [
            *builder_pip,
            "install",
            "-q",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "-r",
            str(project / "requirements.lock.txt"),
        ],
        check=True,
        env=env,
    )
    assert not list(venv.glob("lib/python3*/site-packages/pip")), "no pip in the environment"
    ran = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "hello_app"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(project / "src")},
        check=True,
    )
    assert ran.stdout == "hello red\n"
    # a tampered requirements file is refused by pip: the hashes are real
    first_hash = requirements.index("--hash=sha256:") + len("--hash=sha256:")
    tampered = requirements[:first_hash] + "0" * 64 + requirements[first_hash + 64 :]
    (project / "tampered.txt").write_text(tampered)
    broken = tmp_path / "broken-venv"
    subprocess.run([sys.executable, "-m", "venv", str(broken)], check=True)
    refused = subprocess.run(
        [
            str(broken / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "-r",
            str(project / "tampered.txt"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode != 0 and "HASH" in refused.stderr.upper()


def test_settings_give_the_command_port_health_check_env_and_user(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = _app(
        tmp_path,
        index,
        extra='\n[tool.shipyard.docker]\ncmd = "hello-app serve --port 8080"\nport = 8080\n'
        'health-path = "/health"\nenv = {LOG_LEVEL = "info", GREETING = "hello world"}\n'
        "user-id = 4242\n",
    )
    shipyard(project, "docker", "init", "--base", "python:3.12-slim-bookworm")
    dockerfile = project / "Dockerfile"
    assert hadolint(dockerfile) == []
    steps = _instructions(dockerfile.read_text())
    assert "ARG RUNTIME_IMAGE=python:3.12-slim-bookworm" in steps
    assert "ARG BUILDER_IMAGE=python:3.12-slim-bookworm" in steps
    assert steps[-1] == 'CMD ["hello-app", "serve", "--port", "8080"]'
    assert "EXPOSE 8080" in steps and "USER 4242:4242" in steps
    health = next(s for s in steps if s.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:8080/health" in health
    env = next(s for s in steps if s.startswith("ENV PYTHONDONTWRITEBYTECODE"))
    assert "LOG_LEVEL=info" in env and 'GREETING="hello world"' in env

    # --entrypoint replaces the command with an ENTRYPOINT
    shipyard(project, "docker", "init", "--entrypoint", "hello-app serve")
    steps = _instructions(dockerfile.read_text())
    assert steps[-1] == 'ENTRYPOINT ["hello-app", "serve"]'
    assert not any(s.startswith("CMD") for s in steps)
    assert hadolint(dockerfile) == []


def test_docker_init_never_overwrites_a_users_dockerfile(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    mine = 'FROM python:3.11\nCMD ["python"]\n'
    (project / "Dockerfile").write_text(mine)
    refused = shipyard(project, "docker", "init", check=False)
    assert refused.returncode == 1
    assert "was not written by shipyard" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (project / "Dockerfile").read_text() == mine
    assert not (project / ".dockerignore").exists()
    assert not (project / "requirements.lock.txt").exists()
    shipyard(project, "docker", "init", "--force")
    generated = (project / "Dockerfile").read_text()
    assert generated != mine
    # its own file is rewritten without --force
    (project / "src" / "hello_app" / "__main__.py").unlink()
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + '\n[project.scripts]\nhello = "hello_app:main"\n'
    )
    shipyard(project, "docker", "init")
    assert _instructions((project / "Dockerfile").read_text())[-1] == 'CMD ["hello"]'


def test_docker_init_bad_input_is_a_clear_error(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    index = make_index(PACKAGES)
    project = new_project(tmp_path, index, ["greet"], name="nothing-to-run")
    unknown = shipyard(project, "docker", "init", check=False)
    assert unknown.returncode == 2
    assert "cannot tell what the image should run" in unknown.stderr
    assert "--entrypoint" in unknown.stderr
    assert not (project / "Dockerfile").exists()

    bad = _app(tmp_path / "bad", index, extra='\n[tool.shipyard.docker]\nport = "eighty"\n')
    result = shipyard(bad, "docker", "init", check=False)
    assert result.returncode == 1
    assert "[tool.shipyard.docker] port must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr
    typo = _app(tmp_path / "typo", index, extra='\n[tool.shipyard.docker]\ncommand = "x"\n')
    result = shipyard(typo, "docker", "init", check=False)
    assert result.returncode == 1 and "command is not a known key" in result.stderr
    quote = shipyard(bad, "docker", "init", "--entrypoint", "'unclosed", check=False)
    assert quote.returncode in (1, 2) and "Traceback" not in quote.stderr


def test_sync_without_the_project_then_not_editable(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    """The two steps of the shipyard installer's builder stage."""
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "sync", "--no-install-project")
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    names = {p.name.split("-")[0] for p in site.glob("*.dist-info")}
    assert names == {"greet", "colors"}
    shipyard(project, "sync", "--no-editable")
    infos = list(site.glob("hello_app-*.dist-info"))
    assert len(infos) == 1
    direct = json.loads((infos[0] / "direct_url.json").read_text())
    assert direct["dir_info"].get("editable") is not True
    assert (site / "hello_app" / "__main__.py").is_file(), "installed as files, not a link"
    ran = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-m", "hello_app"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert ran.stdout == "hello red\n"


@pytest.mark.parametrize("installer", ["pip", "shipyard"])
def test_installers_both_pass_hadolint(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    installer: str,
) -> None:
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    shipyard(project, "docker", "init", "--installer", installer)
    assert hadolint(project / "Dockerfile") == []
    text = (project / "Dockerfile").read_text()
    if installer == "shipyard":
        steps = _instructions(text)
        assert any(
            "shipyard sync --frozen --no-default-groups --no-install-project" in s for s in steps
        )
        assert any("--no-editable" in s for s in steps)
        assert not (project / "requirements.lock.txt").exists()


def test_git_and_path_sources_get_the_shipyard_builder_with_git(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
) -> None:
    from support.git_server import make_repository

    backend = (
        '[build-system]\nrequires = ["shipyard-test-backend"]\n'
        'build-backend = "shipyard_test_backend"\n\n'
    )
    bare, _clone = make_repository(
        tmp_path / "git" / "served",
        "gitpkg",
        {
            "pyproject.toml": backend + '[project]\nname = "gitpkg"\nversion = "1.0"\n',
            "gitpkg/__init__.py": "",
        },
    )
    index = make_index(PACKAGES)
    project = _app(tmp_path, index)
    text = (project / "pyproject.toml").read_text()
    text = text.replace('["greet>=1"]', '["gitpkg", "core", "greet>=1"]')
    text += (
        "\n[tool.shipyard.sources]\n"
        f'gitpkg = {{ git = "{bare.as_uri()}", branch = "main" }}\n'
        'core = { path = "libs/core" }\n'
    )
    (project / "pyproject.toml").write_text(text)
    (project / "libs" / "core" / "core").mkdir(parents=True)
    (project / "libs" / "core" / "core" / "__init__.py").write_text("")
    (project / "libs" / "core" / "pyproject.toml").write_text(
        backend + '[project]\nname = "core"\nversion = "0.1"\n'
    )
    refused = shipyard(project, "docker", "init", "--installer", "pip", check=False)
    assert refused.returncode == 2 and "--require-hashes" in " ".join(refused.stderr.split())
    shipyard(project, "docker", "init")
    dockerfile = (project / "Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends git" in dockerfile
    assert "--no-install-local" in dockerfile and "COPY . ." in dockerfile
    assert hadolint(project / "Dockerfile") == []

    # The two builder steps as the Dockerfile runs them.
    shipyard(project, "sync", "--frozen", "--no-install-local")
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    names = {p.name.split("-")[0] for p in site.glob("*.dist-info")}
    assert "gitpkg" in names and "core" not in names and "hello_app" not in names
    shipyard(project, "sync", "--frozen", "--no-editable")
    names = {p.name.split("-")[0] for p in site.glob("*.dist-info")}
    assert {"gitpkg", "core", "hello_app"} <= names
