"""Solving conda dependencies with py-rattler, one platform (conda subdir) at a time.

Each platform is solved with its own virtual packages (``__glibc``, ``__osx``,
``__win``, ``__cuda`` …):

* on this machine's platform, the ones py-rattler detects, with the
  ``CONDA_OVERRIDE_*`` variables applied (as conda does);
* on other platforms, conservative defaults (:data:`DEFAULT_VIRTUAL_PACKAGES`:
  glibc 2.17, macOS 10.13 on Intel and 11.0 on Apple silicon);
* ``[tool.shipyard.conda.virtual-packages.<subdir>]`` replaces either, entry by
  entry, so a lock made on a laptop can promise a CUDA driver the laptop lacks.

py-rattler's async calls run on its own runtime; :func:`run_async` waits for
that runtime to settle before returning, because its threads can crash the
process if the interpreter shuts down right after the last call
(PyO3/pyo3-async-runtimes#40; the CLI also exits through ``os._exit`` once
py-rattler was used).
"""

from __future__ import annotations

import asyncio
import platform as host
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from shipyard.conda.config import CondaConfig
from shipyard.conda.records import CondaRecord
from shipyard.errors import NetworkError, ResolutionError, ShipyardError

if TYPE_CHECKING:
    from rattler import Client, GenericVirtualPackage, Version
    from rattler.platform.subdir import SubdirLiteral

__all__ = [
    "DEFAULT_VIRTUAL_PACKAGES",
    "host_platform",
    "make_client",
    "run_async",
    "solve_platforms",
    "virtual_packages",
]

T = TypeVar("T")

#: name → (version, build string) of the virtual packages assumed for a platform that
#: is not this machine's, when the manifest says nothing.
DEFAULT_VIRTUAL_PACKAGES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "linux-64": {
        "__unix": ("0", "0"),
        "__linux": ("5.10", "0"),
        "__glibc": ("2.17", "0"),
        "__archspec": ("1", "x86_64"),
    },
    "linux-aarch64": {
        "__unix": ("0", "0"),
        "__linux": ("5.10", "0"),
        "__glibc": ("2.17", "0"),
        "__archspec": ("1", "aarch64"),
    },
    "osx-64": {"__unix": ("0", "0"), "__osx": ("10.13", "0"), "__archspec": ("1", "x86_64")},
    "osx-arm64": {"__unix": ("0", "0"), "__osx": ("11.0", "0"), "__archspec": ("1", "arm64")},
    "win-64": {"__win": ("0", "0"), "__archspec": ("1", "x86_64")},
}

#: seconds the py-rattler runtime is given to settle after the last call
_SETTLE_SECONDS = 0.05


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run one py-rattler coroutine to completion and let its runtime settle.

    :param factory: makes the coroutine (called inside the event loop).
    :returns: the coroutine's result.
    """

    async def main() -> T:
        try:
            return await factory()
        finally:
            await asyncio.sleep(_SETTLE_SECONDS)

    return asyncio.run(main())


def host_platform() -> str | None:
    """This machine's conda subdir (``linux-64``, ``osx-arm64`` …), or ``None``."""
    machine = host.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}.get(machine)
    if arch is None:
        return None
    if sys.platform.startswith("linux"):
        return f"linux-{arch}"
    if sys.platform == "darwin":
        return f"osx-{arch}"
    if sys.platform == "win32" and arch == "64":
        return "win-64"
    return None


def _virtual(name: str, version: str, build: str) -> GenericVirtualPackage:
    from rattler import BuildString, GenericVirtualPackage, PackageName
    from rattler import Version as RattlerVersion

    parsed: Version = RattlerVersion(version)
    return GenericVirtualPackage(PackageName(name), parsed, BuildString(build))


def virtual_packages(
    subdir: str, overrides: Mapping[str, str] | None = None
) -> list[GenericVirtualPackage]:
    """The virtual packages a solve for ``subdir`` assumes.

    :param subdir: the conda platform being solved.
    :param overrides: virtual package name → version from the manifest (win over
        detection and defaults).
    On this machine, ``SHIPYARD_ACCELERATOR`` (``cpu``, ``cuda12.4``) sets ``__cuda``
    as it sets the PyPI side's accelerator variant.

    :raises ResolutionError: when a version (from the manifest or a
        ``CONDA_OVERRIDE_*`` variable) is not a valid conda version.
    """
    found: dict[str, tuple[str, str]] = {}
    if subdir == host_platform():
        from rattler import VirtualPackage, VirtualPackageOverrides

        try:
            detected = VirtualPackage.detect(VirtualPackageOverrides.from_env())
        except Exception as exc:  # DetectVirtualPackageError: a malformed CONDA_OVERRIDE_*
            raise ResolutionError(
                f"Could not detect this machine's virtual packages: {exc}.",
                hint="Check the CONDA_OVERRIDE_* variables (e.g. CONDA_OVERRIDE_GLIBC=2.28).",
            ) from exc
        for package in detected:
            generic = package.into_generic()
            found[generic.name.normalized] = (str(generic.version), str(generic.build_string))
        # SHIPYARD_ACCELERATOR speaks for this machine on both sides: the PyPI variant
        # it picks and conda's __cuda agree.
        from shipyard.accelerators import detect_host
        from shipyard.settings import from_environment

        if from_environment("accelerator"):
            host = detect_host()
            found.pop("__cuda", None)
            if host.cuda is not None:
                found["__cuda"] = (str(host.cuda), "0")
    else:
        found.update(DEFAULT_VIRTUAL_PACKAGES.get(subdir, {}))
    for name, version in (overrides or {}).items():
        build = found.get(name, ("", "0"))[1]
        found[name] = (version, build)
    result = []
    for name, (version, build) in sorted(found.items()):
        try:
            result.append(_virtual(name, version, build))
        except Exception as exc:
            raise ResolutionError(
                f"The virtual package {name} has an invalid version {version!r}.",
                context=f"[tool.shipyard.conda.virtual-packages.{subdir}]",
                hint='Write a conda version such as "2.28" or "12.4".',
            ) from exc
    return result


def make_client(config: CondaConfig) -> Client:
    """A py-rattler HTTP client with the manifest's mirrors, retries and the
    credentials conda tools store (``~/.rattler``/keyring, ``RATTLER_AUTH_FILE``)."""
    from rattler import Client
    from rattler.networking import AuthenticationMiddleware, MirrorMiddleware, RetryMiddleware

    middlewares: list[Any] = [RetryMiddleware(), AuthenticationMiddleware()]
    if config.mirrors:
        middlewares.insert(0, MirrorMiddleware({k: list(v) for k, v in config.mirrors.items()}))
    return Client(middlewares, user_agent="shipyard")


def solve_platforms(
    config: CondaConfig,
    platforms: Sequence[str],
    specs: Mapping[str, Sequence[str]],
    *,
    cache_dir: Path,
    locked: Mapping[str, Sequence[CondaRecord]] | None = None,
) -> dict[str, tuple[CondaRecord, ...]]:
    """Solve the conda specs of each platform.

    :param config: the project's conda table (channels, mirrors, virtual packages).
    :param platforms: conda subdirs to solve, e.g. ``["linux-64", "osx-arm64"]``.
    :param specs: subdir → MatchSpec strings to satisfy there.
    :param cache_dir: where py-rattler caches repodata (a shipyard cache bucket).
    :param locked: subdir → records of the previous lock, preferred when still valid
        (so a re-lock changes nothing it need not change).
    :returns: subdir → the solved records, sorted by name.
    :raises ResolutionError: when a platform's specs cannot be satisfied (py-rattler's
        explanation, with the platform named).
    :raises NetworkError: when a channel cannot be read.
    """
    from rattler import Gateway, MatchSpec, solve
    from rattler.exceptions import SolverError

    parsed: dict[str, list[MatchSpec]] = {}
    for subdir in platforms:
        parsed[subdir] = []
        for text in specs[subdir]:
            try:
                # conda's own reading (name=version=build as in environment.yml), not
                # the strict one solve() applies to strings
                parsed[subdir].append(MatchSpec(text, strict=False))
            except Exception as exc:
                raise ResolutionError(
                    f"The conda dependency {text!r} is not a valid MatchSpec: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.",
                    context="[tool.shipyard.conda] dependencies",
                    hint='Write it as conda does, e.g. "numpy >=1.26", "python 3.12.*".',
                ) from exc

    client = make_client(config)
    gateway = Gateway(cache_dir=cache_dir, client=client)
    channels = list(config.channels)

    async def solve_all() -> dict[str, tuple[CondaRecord, ...]]:
        solved: dict[str, tuple[CondaRecord, ...]] = {}
        for subdir in platforms:
            previous = [r.to_rattler() for r in (locked or {}).get(subdir, ())]
            try:
                records = await solve(
                    channels,
                    parsed[subdir],
                    gateway=gateway,
                    platforms=[cast("SubdirLiteral", subdir), "noarch"],
                    locked_packages=previous or None,
                    virtual_packages=virtual_packages(subdir, config.virtual_packages.get(subdir)),
                )
            except SolverError as exc:
                raise ResolutionError(
                    f"The conda dependencies cannot be satisfied on {subdir}:\n{_tree(exc)}",
                    context="[tool.shipyard.conda]",
                    hint="Loosen the conda dependencies, add a channel that has the missing "
                    "packages, set the platform's virtual packages "
                    f"([tool.shipyard.conda.virtual-packages.{subdir}]), or leave {subdir} out "
                    "of [tool.shipyard.conda] platforms.",
                ) from exc
            except ShipyardError:
                raise
            except Exception as exc:  # GatewayError, FetchRepoDataError, InvalidMatchSpecError …
                raise _channel_error(exc, channels) from exc
            solved[subdir] = tuple(
                sorted((CondaRecord.from_rattler(r) for r in records), key=lambda r: r.name)
            )
        return solved

    return run_async(solve_all)


def _tree(exc: BaseException) -> str:
    text = str(exc).strip()
    prefix = "Cannot solve the request because of: "
    return "  " + text.removeprefix(prefix).replace("\n", "\n  ")


def _channel_error(exc: BaseException, channels: Sequence[str]) -> ShipyardError:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if "MatchSpec" in name or "matchspec" in text.lower():
        return ResolutionError(
            f"A conda dependency is not a valid MatchSpec: {text}.",
            context="[tool.shipyard.conda] dependencies",
            hint='Write specs as conda does, e.g. "numpy >=1.26", "python 3.12.*".',
        )
    return NetworkError(
        f"Could not read the conda channels ({name}: {text}).",
        url=", ".join(channels),
        hint="Check the channel URLs and your network, or configure [tool.shipyard.conda] mirrors.",
    )
