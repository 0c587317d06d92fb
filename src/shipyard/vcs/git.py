"""Git sources: resolve a requested revision to a commit and export that commit's tree.

Uses the ``git`` command, as uv does, so the user's git configuration, credential
helpers and ``~/.netrc`` apply. Repositories are kept bare under the cache's ``git``
bucket, one per repository URL (credentials removed from the key) and shared between
projects; every operation on one takes its file lock. A requested tag or branch is
fetched shallowly (``--depth 1``) by its full ref name after ``git ls-remote`` says
which it is; a commit is fetched shallowly when the server allows it, else with the
repository's branches and tags. The tree of a commit is exported once to
``checkouts/<repository>/<commit>`` (``git archive``, checked like any archive) and
never changed afterwards: builds of it are cached by commit.

PEP 440/508 direct references name git sources as
``git+https://host/repo.git@<revision>#subdirectory=<path>`` (:class:`GitUrl`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError
from shipyard.index.credentials import public_url as _public

__all__ = ["GitRepositories", "GitUrl", "is_commit"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_ABBREVIATED = re.compile(r"^[0-9a-f]{7,40}$")


def is_commit(revision: str) -> bool:
    """Whether ``revision`` is a full 40-hex-digit commit id."""
    return bool(_COMMIT.match(revision))


@dataclass(frozen=True, slots=True)
class GitUrl:
    """A git direct reference, taken apart.

    :param repository: the URL git fetches (``https://…``, ``http://…``, ``ssh://…``,
        ``file://…``), credentials included when the user wrote them.
    :param revision: the tag, branch or commit asked for; ``None`` for the default branch.
    :param subdirectory: the project's directory inside the repository, if not the root.
    """

    repository: str
    revision: str | None = None
    subdirectory: str | None = None

    @classmethod
    def parse(cls, url: str) -> GitUrl:
        """Parse ``git+<repository>[@<revision>][#subdirectory=<path>]`` (PEP 508, pip's
        VCS URL form).

        :raises GitError: for a URL that is not a git URL.
        """
        if not url.startswith("git+"):
            raise GitError(f"{url} is not a git URL (git+https://…).", context=url)
        rest, _, fragment = url[len("git+") :].partition("#")
        parts = urllib.parse.urlsplit(rest)
        path, revision = parts.path, None
        if "@" in path:
            path, _, revision = path.rpartition("@")
        repository = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        subdirectory = None
        for item in fragment.split("&") if fragment else ():
            key, _, value = item.partition("=")
            if key == "subdirectory" and value:
                subdirectory = value.strip("/")
        if subdirectory is not None and (
            subdirectory.startswith("/") or ".." in subdirectory.split("/")
        ):
            raise GitError(
                f"The subdirectory of {url} must stay inside the repository.", context=url
            )
        return cls(repository, revision or None, subdirectory)

    def with_revision(self, revision: str | None) -> GitUrl:
        """The same source at another revision."""
        return GitUrl(self.repository, revision, self.subdirectory)

    def __str__(self) -> str:
        text = f"git+{self.repository}"
        if self.revision:
            text += f"@{self.revision}"
        if self.subdirectory:
            text += f"#subdirectory={self.subdirectory}"
        return text


class GitRepositories:
    """The cache of bare repositories and exported trees.

    :param root: the cache's ``git`` bucket.
    :param offline: never fetch: only commits already in the cache can be used.
    :param timeout: seconds one git command may take.
    :param credential_urls: repository URLs with ``user:password@`` (from the
        manifest's sources); a fetch of the same repository by its public URL uses
        them. They are never written anywhere.
    """

    def __init__(
        self,
        root: Path,
        *,
        offline: bool = False,
        timeout: float = 600.0,
        credential_urls: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.offline = offline
        self.timeout = timeout
        self._credentialed = {_public(url).rstrip("/"): url for url in credential_urls}

    def _remote(self, repository: str) -> str:
        """The URL to fetch ``repository`` from: the manifest's own spelling of it when
        that carries credentials (a lock holds the URL without them)."""
        return self._credentialed.get(_public(repository).rstrip("/"), repository)

    # -- plumbing ------------------------------------------------------------------

    def _key(self, repository: str) -> str:
        return hashlib.sha256(_public(repository).rstrip("/").encode()).hexdigest()[:20]

    def _git(self, *args: str, cwd: Path | None = None, what: str) -> str:
        environment = dict(os.environ)
        environment["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a tty
        environment.setdefault("GIT_ASKPASS", "")
        try:
            result = subprocess.run(
                ["git", *args],
                cwd=cwd,
                env=environment,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError(
                "Git sources need the git command, and it is not on PATH.",
                hint="Install git (apt-get install git, brew install git).",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(
                f"git took more than {self.timeout:.0f} s to {what}.",
                hint="Check the network and the repository URL.",
            ) from exc
        if result.returncode != 0:
            lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            # git's reason is its "fatal:" line; what follows it is often advice.
            reason = next((line for line in lines if line.startswith("fatal:")), None)
            detail = _public_text([reason] if reason else lines[-1:] or ["(no output)"])
            raise GitError(
                f"git could not {what}: {detail.rstrip('.')}.",
                hint="Check the repository URL and that this machine can reach it; "
                "credentials come from the URL, ~/.netrc or git's credential helper.",
            )
        return result.stdout

    def _database(self, repository: str) -> Path:
        database = self.root / "db" / self._key(repository)
        if not (database / "HEAD").is_file():
            database.parent.mkdir(parents=True, exist_ok=True)
            self._git("init", "--bare", "--quiet", str(database), what="create a cache repository")
        return database

    def _lock(self, repository: str):  # type: ignore[no-untyped-def]
        from filelock import FileLock

        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{self._key(repository)}.lock"))

    def _has_commit(self, database: Path, commit: str) -> bool:
        try:
            self._git(
                "--git-dir", str(database), "cat-file", "-e", f"{commit}^{{commit}}", what="look"
            )
        except GitError:
            return False
        return True

    def _fetch_everything(self, database: Path, repository: str) -> None:
        self._git(
            "--git-dir",
            str(database),
            "fetch",
            "--quiet",
            "--force",
            self._remote(repository),
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            what=f"fetch {_public(repository)}",
        )

    # -- what callers use ----------------------------------------------------------

    def resolve(self, url: GitUrl) -> str:
        """The commit ``url``'s revision names now (the default branch's head when it
        names none), fetched into the cache.

        :raises GitError: when the repository cannot be reached, the revision is not in
            it, or the cache is offline and does not have it.
        """
        repository = url.repository
        revision = url.revision
        with self._lock(repository):
            database = self._database(repository)
            if revision is not None and is_commit(revision):
                self._ensure(database, repository, revision)
                return revision
            if self.offline:
                raise GitError(
                    f"{_public(repository)} at {revision or 'its default branch'} cannot be "
                    "resolved offline.",
                    hint="Lock once online, or name a commit that is already cached.",
                )
            wanted = revision or "HEAD"
            listing = self._git(
                "ls-remote", self._remote(repository), wanted, what=f"list {_public(repository)}"
            )
            refs: dict[str, str] = {}
            for line in listing.splitlines():
                commit_id, _, ref_name = line.partition("\t")
                if ref_name:
                    refs[ref_name] = commit_id
            for ref in (
                f"refs/tags/{wanted}^{{}}",
                f"refs/tags/{wanted}",
                f"refs/heads/{wanted}",
                wanted,
            ):
                if ref in refs:
                    commit = refs[ref]
                    full = ref.removesuffix("^{}")
                    self._git(
                        "--git-dir",
                        str(database),
                        "fetch",
                        "--quiet",
                        "--depth",
                        "1",
                        "--force",
                        self._remote(repository),
                        f"+{full}:{full if full.startswith('refs/') else 'refs/shipyard/head'}",
                        what=f"fetch {wanted} from {_public(repository)}",
                    )
                    return commit
            if revision is not None and _ABBREVIATED.match(revision):
                self._fetch_everything(database, repository)
                try:
                    found = self._git(
                        "--git-dir",
                        str(database),
                        "rev-parse",
                        "--verify",
                        "--quiet",
                        f"{revision}^{{commit}}",
                        what=f"find {revision}",
                    )
                    return found.strip()
                except GitError:
                    pass
            raise GitError(
                f"{_public(repository)} has no tag, branch or commit {wanted!r}.",
                context=_public(repository),
                hint="Check the tag, branch or rev in [tool.shipyard.sources].",
            )

    def _ensure(self, database: Path, repository: str, commit: str) -> None:
        if self._has_commit(database, commit):
            return
        if self.offline:
            raise GitError(
                f"Commit {commit[:12]} of {_public(repository)} is not in the cache, and "
                "shipyard is offline.",
                hint="Sync once online to fetch it.",
            )
        try:
            self._git(
                "--git-dir",
                str(database),
                "fetch",
                "--quiet",
                "--depth",
                "1",
                self._remote(repository),
                commit,
                what=f"fetch commit {commit[:12]}",
            )
        except GitError:
            self._fetch_everything(database, repository)  # a server that refuses a bare id
        if not self._has_commit(database, commit):
            raise GitError(
                f"{_public(repository)} has no commit {commit}.",
                context=_public(repository),
                hint="The commit may have been force-pushed away; run "
                "`shipyard lock --upgrade-package NAME` to lock another.",
            )

    def checkout(self, url: GitUrl, commit: str) -> Path:
        """The tree of ``commit`` (fetched when missing), exported once and shared; the
        project directory inside it when ``url`` names a subdirectory.

        :raises GitError: when the commit cannot be had, or the subdirectory is missing.
        """
        from shipyard.archives import archive_size, check_tar

        repository = url.repository
        target = self.root / "checkouts" / self._key(repository) / commit
        if not (target / ".shipyard-complete").is_file():
            with self._lock(repository):
                if not (target / ".shipyard-complete").is_file():
                    database = self._database(repository)
                    self._ensure(database, repository, commit)
                    scratch = target.with_name(f".{commit}.partial")
                    shutil.rmtree(scratch, ignore_errors=True)
                    scratch.mkdir(parents=True)
                    archive = scratch.with_suffix(".tar")
                    self._git(
                        "--git-dir",
                        str(database),
                        "archive",
                        "--format=tar",
                        "-o",
                        str(archive),
                        commit,
                        what=f"export commit {commit[:12]}",
                    )
                    try:
                        with tarfile.open(archive) as tar:
                            members = check_tar(
                                tar,
                                what=f"{_public(repository)}@{commit[:12]}",
                                archive_size=archive_size(archive),
                            )
                            tar.extractall(scratch, members=members, filter="data")
                    finally:
                        archive.unlink(missing_ok=True)
                    (scratch / ".shipyard-complete").write_text(commit + "\n")
                    shutil.rmtree(target, ignore_errors=True)
                    os.replace(scratch, target)
        project = target / url.subdirectory if url.subdirectory else target
        if not project.is_dir():
            raise GitError(
                f"{_public(repository)} at {commit[:12]} has no directory {url.subdirectory!r}.",
                context=str(url),
                hint="Fix the subdirectory in [tool.shipyard.sources].",
            )
        return project


def _public_text(lines: list[str]) -> str:
    """Git's last error line with any ``user:password@`` removed."""
    return re.sub(r"//[^/@\s]+@", "//", " ".join(lines))
