"""The global cache: versioned buckets of index pages, metadata, downloads and unpacked wheels.

Layout (every bucket carries a format version in its name, so a new shipyard never
reads an old format)::

    <root>/CACHEDIR.TAG
    <root>/simple-v2/<index hash>/<name>.marshal    parsed index pages + HTTP validators
    <root>/metadata-v1/<hash>.json                  parsed core metadata per file
    <root>/wheels-v1/<sha256>/                      unpacked wheels, linked into environments
    <root>/built-v1/<sdist sha256>/<tag>/*.whl      wheels built from sdists
    <root>/interpreters-v1/<hash>.json              interpreter probes
    <root>/buildenvs-v1/<hash>/                     PEP 517 build environments, reused
    <root>/locks-v1/<sha256>.marshal                parsed pylock.toml files, by content
    <root>/conda-repodata-v1/                       py-rattler's repodata cache (its layout)
    <root>/conda-pkgs-v1/                           py-rattler's package cache: extracted
                                                    conda packages, linked into prefixes
    <root>/conda-mapping-v1/<url hash>.json         the published conda→PyPI name mapping
    <root>/activation-v1/<key>.json                 environments' activation (activate.d results)
    <root>/notices-v1/<key>.kernel-hint             `kernel install` suggested once (per project)
    <root>/stats-v1/counters.json                   built-wheel hits, remote pulls (`cache stats`)
    <root>/tmp/                                     scratch space on the same filesystem

Entries are written to a temporary name and renamed into place, so concurrent
processes sharing a cache never read a partial entry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from shipyard.atomic import os_error
from shipyard.errors import CacheError

__all__ = ["BUCKETS", "Cache", "default_cache_dir"]

#: bucket name → format version; bump a version when the entry format changes.
BUCKETS: dict[str, int] = {
    "simple": 2,
    "metadata": 1,
    "wheels": 1,
    "built": 1,
    "interpreters": 1,
    "downloads": 1,
    "buildenvs": 1,
    "build-failures": 1,
    "locks": 1,
    "project-locks": 1,
    "conda-repodata": 1,
    "conda-pkgs": 1,
    "conda-mapping": 1,
    "oci": 1,
    "git": 1,
    "scripts": 1,
    "tools": 1,
    "activation": 1,  # environments' activation variables (activate.d results)
    "notices": 1,  # one-time suggestions already shown, per project
    "stats": 1,  # counters of built-wheel cache hits (`cache stats`)
}

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by shipyard.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def default_cache_dir() -> Path:
    """The per-user cache directory (``platformdirs.user_cache_dir("shipyard")``)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("shipyard", appauthor=False))


class Cache:
    """A cache rooted at one directory.

    :param root: the cache directory; created on first use.
    :raises CacheError: (from methods) when the directory cannot be created or written.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ready = False

    def _ensure_root(self) -> None:
        if self._ready:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tag = self.root / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(_CACHEDIR_TAG)
        except OSError as exc:
            raise CacheError(
                f"Cannot use the cache directory: {exc.strerror or exc}.",
                context=str(self.root),
                hint="Pass --cache-dir or set SHIPYARD_CACHE_DIR to a writable directory.",
            ) from exc
        self._ready = True

    def bucket(self, name: str) -> Path:
        """The directory of bucket ``name`` (a key of :data:`BUCKETS`), created if missing."""
        self._ensure_root()
        path = self.root / f"{name}-v{BUCKETS[name]}"
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            raise os_error(exc, what="create a cache directory", path=path) from exc
        return path

    def tempdir(self, prefix: str = "tmp") -> Path:
        """A new empty scratch directory inside the cache (same filesystem as the buckets)."""
        self._ensure_root()
        scratch = self.root / "tmp"
        scratch.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=scratch))

    def clean(self) -> int:
        """Remove every entry; returns the number of bytes freed."""
        if not self.root.exists():
            return 0
        freed = _tree_size(self.root)
        for child in self.root.iterdir():
            _remove(child)
        return freed

    def prune(self) -> int:
        """Remove what no current shipyard can use: old bucket versions, scratch leftovers.

        :returns: the number of bytes freed.
        """
        if not self.root.exists():
            return 0
        current = {f"{name}-v{version}" for name, version in BUCKETS.items()}
        freed = 0
        for child in self.root.iterdir():
            if child.name == "CACHEDIR.TAG" or child.name in current:
                continue
            freed += _tree_size(child)
            _remove(child)
        return freed


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for filename in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, filename)).st_size
            except OSError:
                pass
    return total


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
