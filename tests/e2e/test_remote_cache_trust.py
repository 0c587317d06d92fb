"""Signed artifacts in the team cache of built wheels, and ``cache prune --remote``,
against a real registry (Debian's ``docker-registry`` on 127.0.0.1, deletes enabled).

A CI runner signs what it pushes (``SHIPYARD_REMOTE_CACHE_SIGN_KEY``); a project that
names its public key (``[tool.shipyard] remote-cache-public-key``) uses only artifacts
carrying that key's signature and builds the others here, saying why. Pruning deletes
the artifacts (and their signatures) created before the cutoff; ``--dry-run`` deletes
nothing."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from support import pkg
from support.oci_tools import Registry, ensure_debian_tools, start_registry

from .test_local_index import installed, new_project, shipyard
from .test_remote_cache import _artifacts, _registry_get

REPOSITORY = "team/shipyard-cache"
PACKAGES = [
    pkg("srcone", "1.0", wheel=False, sdist=True, files={"srcone/__init__.py": "ONE = 1\n"}),
    pkg("srctwo", "2.0", wheel=False, sdist=True, files={"srctwo/__init__.py": "TWO = 2\n"}),
]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """An empty docker-registry on 127.0.0.1 (plain HTTP, no auth, deletes enabled)."""
    ensure_debian_tools()
    with start_registry(tmp_path / "registry") as running:
        yield running


def _key_pair(folder: Path, name: str, kind: str = "ecdsa") -> tuple[Path, str]:
    """A new key pair: the private key's PEM file and the public key's PEM text."""
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ecdsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    private = folder / f"{name}.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode("ascii")


def _env(registry: Registry, cache: Path, **more: str) -> dict[str, str]:
    return {
        "SHIPYARD_CACHE_DIR": str(cache),
        "SHIPYARD_REMOTE_CACHE": f"oci://{registry.host}/{REPOSITORY}",
        **more,
    }


def _project(tmp_path: Path, make_index, deps: list[str], name: str, public_key: str | None):  # type: ignore[no-untyped-def]
    """A locked project needing ``deps`` (sdist-only), trusting ``public_key`` if given."""
    extra = f'remote-cache-public-key = """\n{public_key}"""\n' if public_key else ""
    project = new_project(tmp_path, make_index(PACKAGES), deps, name=name, extra=extra)
    shipyard(project, "lock", SHIPYARD_CACHE_DIR=str(tmp_path / f"lock-cache-{name}"))
    return project


def _runner(tmp_path: Path, project: Path, name: str) -> Path:
    """Another checkout of ``project`` (the same manifest and lock), no environment."""
    other = tmp_path / name
    other.mkdir()
    for file in ("pyproject.toml", "pylock.toml"):
        shutil.copy(project / file, other / file)
    return other


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519"])
def test_a_runner_trusting_the_ci_key_uses_what_ci_signed(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
    kind: str,
) -> None:
    private, public = _key_pair(tmp_path, "ci", kind)
    project = _project(tmp_path, make_index, ["srcone", "srctwo"], "a", public)

    a = shipyard(
        project,
        "sync",
        "--remote-cache-push",
        **_env(registry, tmp_path / "cache-a", SHIPYARD_REMOTE_CACHE_SIGN_KEY=str(private)),
    )
    assert a.stderr.count("Building wheel for") == 2, a.stderr
    assert a.stderr.count("(signed)") == 2, a.stderr

    # Each artifact has a cosign signature tagged sha256-<hex>.sig that names it.
    artifacts = _artifacts(registry)
    wheels = {t: m for t, m in artifacts.items() if not t.endswith(".sig")}
    signatures = {t: m for t, m in artifacts.items() if t.endswith(".sig")}
    assert len(wheels) == 2 and len(signatures) == 2
    for manifest in wheels.values():
        assert "org.opencontainers.image.created" in manifest["annotations"]
    for tag, signature in signatures.items():
        assert signature["subject"]["digest"] == "sha256:" + tag[len("sha256-") : -len(".sig")]
        (layer,) = signature["layers"]
        assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
        assert layer["annotations"]["dev.cosignproject.cosign/signature"]

    b = _runner(tmp_path, project, "b")
    pulled = shipyard(b, "sync", **_env(registry, tmp_path / "cache-b"))
    assert "Building" not in pulled.stderr, pulled.stderr
    assert pulled.stderr.count("Fetched ") == 2 and "warning" not in pulled.stderr
    assert installed(b) == {"srcone": "1.0", "srctwo": "2.0"}


@pytest.mark.parametrize("pushed_with", ["no key", "another key"])
def test_unsigned_or_foreign_artifacts_are_refused_and_built_here(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
    pushed_with: str,
) -> None:
    _ci_private, ci_public = _key_pair(tmp_path, "ci")
    other_private, _other_public = _key_pair(tmp_path, "other")
    # Runner A's project does not ask for signatures; B's checkout names the CI key.
    project = _project(tmp_path, make_index, ["srcone", "srctwo"], "a", None)
    signing = {"SHIPYARD_REMOTE_CACHE_SIGN_KEY": str(other_private)}
    a = shipyard(
        project,
        "sync",
        "--remote-cache-push",
        **_env(registry, tmp_path / "cache-a", **(signing if pushed_with == "another key" else {})),
    )
    assert a.stderr.count("Pushed ") == 2, a.stderr

    b = _project(tmp_path, make_index, ["srcone", "srctwo"], "b", ci_public)
    built = shipyard(b, "sync", **_env(registry, tmp_path / "cache-b"))
    assert "Fetched " not in built.stderr, built.stderr
    assert built.stderr.count("Building wheel for") == 2, built.stderr
    why = (
        "it is not signed (no signature sha256-"
        if pushed_with == "no key"
        else "its signature is not by the key in remote-cache-public-key"
    )
    assert built.stderr.count("The remote cache's wheel of srcone 1.0 was refused") == 1
    assert built.stderr.count(why) == 2, built.stderr
    assert installed(b) == {"srcone": "1.0", "srctwo": "2.0"}
    stats = shipyard(b, "cache", "stats", **_env(registry, tmp_path / "cache-b")).stdout
    assert "0 hits, 0 misses, 0 pushed, 2 refused" in stats


def test_a_public_key_that_cannot_be_read_is_a_clear_error(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    project = _project(tmp_path, make_index, ["srcone"], "a", None)
    result = shipyard(
        project,
        "sync",
        check=False,
        **_env(
            registry,
            tmp_path / "cache",
            SHIPYARD_REMOTE_CACHE_PUBLIC_KEY=str(tmp_path / "missing.pub"),
        ),
    )
    assert result.returncode == 2, result.stderr
    assert "Cannot read the remote cache's public key" in result.stderr
    assert "Traceback" not in result.stderr


def test_prune_removes_only_artifacts_older_than_the_cutoff(
    tmp_path: Path,
    make_index,  # type: ignore[no-untyped-def]
    registry: Registry,
) -> None:
    private, public = _key_pair(tmp_path, "ci")
    signing = {"SHIPYARD_REMOTE_CACHE_SIGN_KEY": str(private)}
    old = _project(tmp_path, make_index, ["srcone"], "old", public)
    fresh = _project(tmp_path, make_index, ["srctwo"], "fresh", public)
    forty_days_ago = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shipyard(
        old,
        "sync",
        "--remote-cache-push",
        **_env(
            registry, tmp_path / "ci-1", SHIPYARD_REMOTE_CACHE_CREATED=forty_days_ago, **signing
        ),
    )
    shipyard(fresh, "sync", "--remote-cache-push", **_env(registry, tmp_path / "ci-2", **signing))
    before = _artifacts(registry)
    assert len(before) == 4
    (old_tag,) = [
        t for t, m in before.items() if m["annotations"].get("dev.shipyard.name") == "srcone"
    ]

    listed = shipyard(
        fresh,
        "cache",
        "prune",
        "--remote",
        "--older-than",
        "30d",
        "--dry-run",
        **_env(registry, tmp_path / "ci-2"),
    )
    assert old_tag in listed.stderr, listed.stderr
    assert "Would remove 1 artifacts and 1 signatures" in listed.stderr
    assert "2 tags kept" in listed.stderr
    assert _artifacts(registry) == before

    pruned = shipyard(
        fresh,
        "cache",
        "prune",
        "--remote",
        "--older-than",
        "2w",
        **_env(registry, tmp_path / "ci-2"),
    )
    assert "Removed 1 artifacts and 1 signatures" in pruned.stderr, pruned.stderr
    after = _artifacts(registry)
    assert len(after) == 2
    assert {
        m["annotations"].get("dev.shipyard.name")
        for t, m in after.items()
        if not t.endswith(".sig")
    } == {"srctwo"}
    (fresh_tag,) = [t for t in after if not t.endswith(".sig")]
    raw, _headers = _registry_get(registry, f"{REPOSITORY}/manifests/{fresh_tag}")
    assert f"sha256-{hashlib.sha256(raw).hexdigest()}.sig" in after  # its signature stays

    # The old artifact is gone: a runner of that project builds srcone again.
    again = _runner(tmp_path, old, "again")
    rebuilt = shipyard(again, "sync", **_env(registry, tmp_path / "cache-again"))
    assert rebuilt.stderr.count("Building wheel for") == 1, rebuilt.stderr
    assert "warning" not in rebuilt.stderr

    nothing = shipyard(
        fresh, "cache", "prune", "--remote", "--older-than", "12h", **_env(registry, tmp_path / "x")
    )
    assert "Removed 0 artifacts and 0 signatures" in nothing.stderr


def test_prune_needs_an_age_it_understands(tmp_path: Path) -> None:
    result = shipyard(
        tmp_path,
        "cache",
        "prune",
        "--remote",
        "--older-than",
        "a month",
        check=False,
        SHIPYARD_CACHE_DIR=str(tmp_path / "cache"),
        SHIPYARD_REMOTE_CACHE="oci://127.0.0.1:9/team/cache",
    )
    assert result.returncode == 2
    assert "'a month' is not an age" in result.stderr and "30d" in result.stderr
    result = shipyard(
        tmp_path, "cache", "prune", "--remote", check=False, SHIPYARD_CACHE_DIR=str(tmp_path / "c")
    )
    assert result.returncode == 2 and "--older-than" in result.stderr


def test_keygen_writes_a_key_pair_and_never_overwrites(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_pem_public_key,
    )

    made = shipyard(tmp_path, "cache", "keygen", "--output", "ci")
    assert "ci.key" in made.stdout and "remote-cache-public-key" in made.stdout
    private = load_pem_private_key((tmp_path / "ci.key").read_bytes(), password=None)
    public = load_pem_public_key((tmp_path / "ci.pub").read_bytes())
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.public_key().public_numbers() == public.public_numbers()  # type: ignore[union-attr]
    assert (tmp_path / "ci.key").stat().st_mode & 0o777 == 0o600
    again = shipyard(tmp_path, "cache", "keygen", "--output", "ci", check=False)
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert load_pem_private_key((tmp_path / "ci.key").read_bytes(), password=None)
