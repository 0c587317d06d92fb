"""A PEP 517 / PEP 660 build front end with isolated build environments.

For an sdist (or the project itself) shipyard:

1. unpacks the source tree into the cache's scratch space (``tarfile``'s ``data``
   filter refuses links and paths outside the tree);
2. reads ``[build-system]`` (PEP 518; without one, setuptools' legacy backend);
3. resolves the build requirements for the build interpreter alone, with the same
   resolver and index as locking, and installs them with shipyard's own installer
   into a fresh virtual environment (kept in the cache and reused for the same
   interpreter and requirement set);
4. calls the backend through ``pyproject_hooks`` in that environment
   (``get_requires_for_build_*``, then ``prepare_metadata_for_build_wheel``,
   ``build_wheel``, ``build_editable`` or ``build_sdist``), capturing its output. A failing hook
   becomes :class:`~shipyard.errors.BuildError` with the output attached.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shipyard.archives import archive_size, check_tar, check_zip
from shipyard.atomic import atomic_write_bytes
from shipyard.cache import Cache
from shipyard.errors import BuildError, ShipyardError
from shipyard.index.http import HttpClient
from shipyard.models import CoreMetadata, DistFile, Interpreter, parse_core_metadata
from shipyard.reporting import Reporter

__all__ = ["Builder", "read_build_system", "static_metadata", "unpack_sdist"]

#: Seconds a failed sdist metadata build is remembered (per sdist and interpreter).
FAILED_BUILD_TTL = 24 * 3600

_DEFAULT_BUILD_SYSTEM = {
    "requires": ["setuptools>=40.8.0"],
    "build-backend": "setuptools.build_meta:__legacy__",
}


def read_build_system(source_dir: Path) -> dict[str, Any]:
    """The ``[build-system]`` table of ``source_dir/pyproject.toml`` (PEP 518 defaults
    when the file or the table is absent).

    :raises BuildError: when pyproject.toml is not valid TOML.
    """
    path = source_dir / "pyproject.toml"
    if not path.is_file():
        return dict(_DEFAULT_BUILD_SYSTEM)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"pyproject.toml is not valid TOML: {exc}.", context=str(path)) from exc
    table = data.get("build-system")
    if not isinstance(table, dict):
        return dict(_DEFAULT_BUILD_SYSTEM)
    result = dict(table)
    if "build-backend" not in result:
        result["build-backend"] = _DEFAULT_BUILD_SYSTEM["build-backend"]
        result.setdefault("requires", _DEFAULT_BUILD_SYSTEM["requires"])
    result.setdefault("requires", [])
    return result


#: the fields a resolver needs, besides Name and Version (which are never dynamic)
_RESOLVER_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})
_PROJECT_FIELDS = frozenset({"version", "dependencies", "optional-dependencies", "requires-python"})


def static_metadata(source_dir: Path) -> CoreMetadata | None:
    """The core metadata a build of ``source_dir`` would produce, when the tree states
    it statically, so no build backend has to run; ``None`` when it does not.

    Two standards make the statement:

    - PEP 643: a ``PKG-INFO`` of Metadata-Version 2.2 or later whose ``Dynamic``
      fields include none of Requires-Dist, Requires-Python and Provides-Extra;
    - PEP 621: a ``pyproject.toml`` ``[project]`` table whose ``version``,
      ``dependencies``, ``optional-dependencies`` and ``requires-python`` are not
      listed in ``dynamic`` (a backend must then write exactly those values).

    Anything malformed returns ``None``: the backend decides, as it would have.
    """
    pkg_info = source_dir / "PKG-INFO"
    try:
        data = pkg_info.read_bytes() if pkg_info.is_file() else None
    except OSError:
        data = None
    if data is not None:
        found = _from_pkg_info(data, str(pkg_info))
        if found is not None:
            return found
    return _from_project_table(source_dir / "pyproject.toml")


def _from_pkg_info(data: bytes, source: str) -> CoreMetadata | None:
    try:
        raw, _unparsed = parse_email(data)
    except (ValueError, UnicodeError):  # not readable as metadata: the backend decides
        return None
    try:
        if Version(raw.get("metadata_version", "0")) < Version("2.2"):
            return None
    except InvalidVersion:
        return None
    if {field.lower() for field in raw.get("dynamic", ())} & _RESOLVER_FIELDS:
        return None
    try:
        return parse_core_metadata(data, source=source)
    except ShipyardError:
        return None


def _from_project_table(path: Path) -> CoreMetadata | None:
    try:
        with open(path, "rb") as handle:
            project = tomllib.load(handle).get("project")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(project, dict):
        return None
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or _PROJECT_FIELDS & set(map(str, dynamic)):
        return None
    name, version = project.get("name"), project.get("version")
    dependencies = project.get("dependencies", [])
    optional = project.get("optional-dependencies", {})
    requires_python = project.get("requires-python")
    if not (
        isinstance(name, str)
        and isinstance(version, str)
        and isinstance(dependencies, list)
        and isinstance(optional, dict)
        and (requires_python is None or isinstance(requires_python, str))
    ):
        return None
    try:
        Version(version)
        if requires_python is not None:
            SpecifierSet(requires_python)
        requires = [str(Requirement(str(text))) for text in dependencies]
        extras: list[str] = []
        for extra_name, texts in optional.items():
            if not isinstance(texts, list):
                return None
            extra = canonicalize_name(str(extra_name))
            extras.append(extra)
            for text in texts:
                requirement = Requirement(str(text))
                condition = f'extra == "{extra}"'
                if requirement.marker is not None:
                    condition = f"({requirement.marker}) and {condition}"
                requirement.marker = Marker(condition)
                requires.append(str(requirement))  # "name @ url ; marker" where needed
    except (InvalidVersion, InvalidSpecifier, InvalidRequirement):
        return None
    return CoreMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(requires),
        requires_python=requires_python or None,
        provides_extra=tuple(extras),
    )


def unpack_sdist(archive: Path, dest: Path) -> Path:
    """Unpack an sdist (``.tar.gz``, ``.tgz``, ``.tar`` or ``.zip``) into the existing
    directory ``dest`` and return its single top-level directory (or ``dest``).

    The whole archive is checked first (:mod:`shipyard.archives`: names, links, device
    files, duplicates, decompression bombs), then extracted with tarfile's ``data``
    filter (PEP 706).

    :raises UnsafeArchiveError: when the archive is refused; nothing was written.
    :raises BuildError: when it is not a readable archive of a known format.
    """
    name = archive.name
    size = archive_size(archive)
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tar:
                members = check_tar(tar, what=name, archive_size=size)
                tar.extractall(dest, members=members, filter="data")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                check_zip(zf, what=name, archive_size=size)
                zf.extractall(dest)
        else:
            raise BuildError("Unknown source archive format.", context=name)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BuildError(f"Could not unpack the source archive: {exc}.", context=name) from exc
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


class Builder:
    """Builds metadata, wheels and editable wheels for one interpreter.

    :param interpreter: the Python the build runs with (and that the wheel is for).
    :param install_requirements: installs requirement strings into an environment;
        supplied by the caller (it resolves against the project's index with the
        same resolver, then links the wheels) so that this module stays free of the
        resolver and the sync use case.
    """

    def __init__(
        self,
        *,
        interpreter: Interpreter,
        cache: Cache,
        client: HttpClient,
        reporter: Reporter,
        install_requirements: Any,
    ) -> None:
        self.interpreter = interpreter
        self.cache = cache
        self.client = client
        self.reporter = reporter
        self.install_requirements = install_requirements
        self._envs: dict[str, Path] = {}

    # -- environments -------------------------------------------------------------------

    def _environment(self, requires: Sequence[str]) -> Path:
        """A virtual environment with ``requires`` installed; returns its root."""
        from shipyard.venv import create_venv, inspect_venv

        key_source = "\n".join(
            [str(self.interpreter.executable), self.interpreter.version, *sorted(requires)]
        )
        key = hashlib.sha256(key_source.encode()).hexdigest()[:20]
        if key in self._envs:
            return self._envs[key]
        root = self.cache.bucket("buildenvs") / key
        ready = root / ".shipyard-ready"
        from filelock import FileLock

        with FileLock(str(root) + ".lock"):
            if not (ready.is_file() and inspect_venv(root) is not None):
                # A half-made environment from an interrupted run is thrown away.
                shutil.rmtree(root, ignore_errors=True)
                env = create_venv(root, self.interpreter)
                if requires:
                    self.install_requirements(list(requires), env)
                ready.write_text("ok")
        self._envs[key] = root
        return root

    def _what(self, label: str) -> str:
        """``"numpy-1.24.4.tar.gz on Python 3.12.1"``, for messages."""
        return f"{label} on Python {self.interpreter.version}"

    def _hook_failed(self, exc: Exception, label: str, step: str, backend: str) -> BuildError:
        """The one-paragraph error for a hook that raised (rather than exited non-zero):
        pyproject_hooks' ``BackendUnavailable`` (the backend does not import: a missing
        ``distutils`` on Python 3.12, say), ``HookMissing`` and the rest."""
        from pyproject_hooks import BackendUnavailable, HookMissing

        if isinstance(exc, BackendUnavailable):
            lines = [line for line in exc.traceback.strip().splitlines() if line.strip()]
            cause = lines[-1].strip() if lines else "no reason given"
            return BuildError(
                f"Building {self._what(label)} failed: its build backend {backend} cannot "
                f"be imported there ({cause}).",
                hint="The package's build system may not support this Python: use a version "
                "of it that has a wheel for this Python (`shipyard lock --upgrade-package "
                "NAME`), or another Python. Run with -v for the backend's traceback.",
                output=exc.traceback,
            )
        if isinstance(exc, HookMissing):
            return BuildError(
                f"Building {self._what(label)} failed: its build backend {backend} has no "
                f"{exc.hook_name} hook, so it cannot make {step}.",
                hint="Use a version of the package that publishes a wheel.",
            )
        return BuildError(
            f"Building {step} of {self._what(label)} failed: {exc}.",
            hint="Run with -v to see the backend's output.",
        )

    def _hooks(
        self, source_dir: Path, build_system: Mapping[str, Any], env_root: Path, label: str
    ) -> Any:
        from pyproject_hooks import BuildBackendHookCaller

        from shipyard.venv import inspect_venv

        env = inspect_venv(env_root)
        assert env is not None
        backend = str(build_system["build-backend"])
        backend_path = build_system.get("backend-path")

        def runner(
            cmd: Sequence[str],
            cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None,
        ) -> None:
            environ = {
                k: v
                for k, v in os.environ.items()
                if k not in ("PYTHONPATH", "PYTHONHOME") and not k.startswith("PIP_")
            }
            environ["PATH"] = f"{env.scripts}{os.pathsep}{environ.get('PATH', '')}"
            environ["VIRTUAL_ENV"] = str(env.root)
            environ.update(extra_environ or {})
            result = subprocess.run(
                list(cmd),
                cwd=cwd,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if result.returncode != 0:
                output = result.stdout.decode("utf-8", errors="replace")
                raise BuildError(
                    f"Building {self._what(label)} failed: the build backend {backend} "
                    f"exited with code {result.returncode}.",
                    context=str(source_dir),
                    hint="Run with -v to see its output; the package may need system "
                    "libraries or a compiler, or a wheel may exist for another version.",
                    output=output,
                )

        return BuildBackendHookCaller(
            str(source_dir),
            backend,
            backend_path=backend_path,
            python_executable=str(env.python),
            runner=runner,
        )

    def _prepared(self, source_dir: Path, kind: str, label: str) -> tuple[Any, Path]:
        build_system = read_build_system(source_dir)
        requires = [str(r) for r in build_system.get("requires", [])]
        for text in requires:
            try:
                Requirement(text)
            except InvalidRequirement as exc:
                raise BuildError(
                    f"Invalid build requirement {text!r}: {exc}.", context=str(source_dir)
                ) from exc
        env_root = self._environment(requires)
        hooks = self._hooks(source_dir, build_system, env_root, label)
        getter = {
            "editable": hooks.get_requires_for_build_editable,
            "sdist": hooks.get_requires_for_build_sdist,
        }.get(kind, hooks.get_requires_for_build_wheel)
        try:
            extra = [str(r) for r in getter({})]
        except ShipyardError:
            raise
        except Exception as exc:  # the hook library's own errors (a backend that won't import)
            raise self._hook_failed(
                exc, label, "its build requirements", str(build_system["build-backend"])
            ) from exc
        if extra:
            env_root = self._environment([*requires, *extra])
            hooks = self._hooks(source_dir, build_system, env_root, label)
        return hooks, env_root

    # -- public operations -------------------------------------------------------------

    def source_tree(self, archive: Path) -> Path:
        """Unpack an sdist archive into a fresh scratch directory; returns the tree."""
        return unpack_sdist(archive, self.cache.tempdir("sdist"))

    def metadata(
        self,
        source_dir: Path,
        name: str,
        *,
        before_build: Callable[[], None] | None = None,
    ) -> CoreMetadata:
        """Core metadata of a source tree: its static metadata (:func:`static_metadata`)
        when it has it, else from the backend's ``prepare_metadata_for_build_wheel``.

        :param before_build: called just before the backend would run (to announce it).
        :raises BuildError: when the backend fails.
        """
        found = static_metadata(source_dir)
        if found is not None:
            return found
        if before_build is not None:
            before_build()
        self.reporter.build_started(name, "metadata")
        hooks, _env = self._prepared(source_dir, "wheel", name)
        out = self.cache.tempdir("metadata")
        try:
            dist_info = hooks.prepare_metadata_for_build_wheel(str(out), {}, _allow_fallback=True)
            data = (out / dist_info / "METADATA").read_bytes()
        except ShipyardError:
            raise
        except Exception as exc:  # the hook library's own errors (missing backend …)
            raise self._hook_failed(exc, name, "its metadata", hooks.build_backend) from exc
        finally:
            shutil.rmtree(out, ignore_errors=True)
        self.reporter.build_finished(name, "metadata")
        return parse_core_metadata(data, source=name)

    def metadata_for_sdist(
        self, dist: DistFile, *, before_build: Callable[[], None] | None = None
    ) -> CoreMetadata:
        """Download an sdist (verified when its sha256 is known) and read its static
        metadata, or build it (:meth:`metadata`; ``before_build`` is passed on).

        A failed build of an sdist with a known sha256 is remembered for
        :data:`FAILED_BUILD_TTL` seconds per interpreter: resolvers walk past such
        versions on every lock, and each failed build costs seconds.

        :raises BuildError: when the build fails now, or failed within the TTL.
        """
        record = self._failure_record(dist)
        remembered = self._remembered(record)
        if remembered is not None:
            raise remembered
        try:
            return self._metadata_for_sdist(dist, before_build)
        except BuildError as exc:
            if record is not None:
                entry = {"time": time.time(), "message": exc.message, "hint": exc.hint}
                try:
                    atomic_write_bytes(record, json.dumps(entry).encode(), fsync=False)
                except ShipyardError:
                    pass
            raise

    def remembered_failure(self, dist: DistFile) -> BuildError | None:
        """The error of a metadata build of ``dist`` that failed with this interpreter
        less than :data:`FAILED_BUILD_TTL` seconds ago, or ``None``."""
        return self._remembered(self._failure_record(dist))

    def _remembered(self, record: Path | None) -> BuildError | None:
        if record is None:
            return None
        try:
            known = json.loads(record.read_bytes())
            age = time.time() - float(known["time"])
            message = str(known["message"]).rstrip(".")
            hint = known.get("hint")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not 0 <= age < FAILED_BUILD_TTL:
            return None
        when = f"{round(age / 3600)} h" if age >= 3600 else f"{max(1, round(age / 60))} min"
        return BuildError(
            f"{message} (remembered from a build {when} ago; `shipyard cache clean` retries it)",
            hint=hint if isinstance(hint, str) else None,
        )

    def _failure_record(self, dist: DistFile) -> Path | None:
        if not dist.sha256:
            return None
        python = self.interpreter
        # "2": failures remembered before static metadata was read (PEP 643/621) may
        # not be failures any more
        key = f"2-{dist.sha256}-{python.implementation}{python.version}-{python.platform}"
        try:
            return self.cache.bucket("build-failures") / f"{key}.json"
        except ShipyardError:
            return None

    def _metadata_for_sdist(
        self, dist: DistFile, before_build: Callable[[], None] | None
    ) -> CoreMetadata:
        scratch = self.cache.tempdir("sdist-dl")
        try:
            archive = scratch / dist.filename
            self.client.download(dist.url, archive, expected_sha256=dist.sha256)
            tree = self.source_tree(archive)
            try:
                return self.metadata(tree, dist.filename, before_build=before_build)
            finally:
                shutil.rmtree(tree, ignore_errors=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def wheel(self, source_dir: Path, name: str, *, editable: bool = False) -> Path:
        """Build a wheel (or a PEP 660 editable wheel) into the scratch space; returns its path.

        :raises BuildError: when the backend fails.
        """
        kind = "editable" if editable else "wheel"
        self.reporter.build_started(name, kind)
        hooks, _env = self._prepared(source_dir, kind, name)
        out = self.cache.tempdir("wheel")
        try:
            if editable:
                filename = hooks.build_editable(str(out), {})
            else:
                filename = hooks.build_wheel(str(out), {})
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._hook_failed(exc, name, f"the {kind}", hooks.build_backend) from exc
        self.reporter.build_finished(name, kind)
        return out / str(filename)

    def sdist(self, source_dir: Path, name: str) -> Path:
        """Build an sdist of ``source_dir`` (PEP 517 ``build_sdist``, after
        ``get_requires_for_build_sdist``) into the scratch space; returns its path.

        :raises BuildError: when the backend fails or has no ``build_sdist`` hook.
        """
        self.reporter.build_started(name, "sdist")
        hooks, _env = self._prepared(source_dir, "sdist", name)
        out = self.cache.tempdir("sdist-out")
        try:
            filename = hooks.build_sdist(str(out), {})
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._hook_failed(exc, name, "the sdist", hooks.build_backend) from exc
        self.reporter.build_finished(name, "sdist")
        return out / str(filename)
