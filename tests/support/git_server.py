"""Git repositories made by the tests, served over HTTP on 127.0.0.1 by ``git
http-backend`` (the smart HTTP protocol, as GitHub and GitLab speak it), optionally
behind basic auth."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["GitServer", "commit_files", "git", "make_repository"]

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and no user configuration; its stdout."""
    environment = {
        **os.environ,
        **_IDENTITY,
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def make_repository(served: Path, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare repository ``served/<name>.git`` and a working clone beside it holding
    ``files`` as the first commit on ``main``; returns ``(bare, clone)``."""
    bare = served / f"{name}.git"
    bare.mkdir(parents=True)
    git(bare, "init", "--bare", "--quiet", "--initial-branch=main")
    git(bare, "config", "http.receivepack", "true")
    clone = served.parent / f"{name}-work"
    git(served.parent, "clone", "--quiet", str(bare), str(clone))
    git(clone, "checkout", "--quiet", "-b", "main")
    commit_files(clone, files, "first")
    return bare, clone


def commit_files(clone: Path, files: dict[str, str], message: str) -> str:
    """Write ``files`` in the clone, commit and push ``main``; the new commit's id."""
    for relative, text in files.items():
        path = clone / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "-m", message)
    git(clone, "push", "--quiet", "origin", "main")
    return git(clone, "rev-parse", "HEAD")


class GitServer:
    """``git http-backend`` for every repository under ``root``, on 127.0.0.1.

    :param credentials: ``(user, password)`` every request must carry, or ``None``.
    """

    def __init__(self, root: Path, credentials: tuple[str, str] | None = None) -> None:
        self.root = root
        self.credentials = credentials
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                server.requests.append(self.path)
                if server.credentials is not None:
                    expected = base64.b64encode(":".join(server.credentials).encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {expected}":
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="git"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                environment = {
                    **os.environ,
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_GLOBAL": "/dev/null",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(length),
                    "REMOTE_ADDR": "127.0.0.1",
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                }
                result = subprocess.run(
                    ["git", "http-backend"], input=body, env=environment, capture_output=True
                )
                head, _, payload = result.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
