"""Everything the command line shows: errors, summaries, progress.

Progress bars (rich, imported lazily) appear only on a terminal; otherwise, and
with ``-q``, output is plain lines on stderr. Colors follow ``--color`` and
``NO_COLOR``.
"""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
import traceback
from typing import Any, TextIO

__all__ = ["ConsoleReporter", "Output", "print_error"]


def _use_color(stream: TextIO, color: str) -> bool:
    if color == "always":
        return True
    if color == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def print_error(exc: BaseException, *, verbose: int = 0, color: str = "auto") -> None:
    """Print ``exc`` as one paragraph on stderr (a traceback first with ``-v``)."""
    from shipyard.errors import BuildError, ShipyardError

    stream = sys.stderr
    if verbose:
        traceback.print_exception(exc, file=stream)
    red = "\x1b[1;31m" if _use_color(stream, color) else ""
    reset = "\x1b[0m" if red else ""
    if isinstance(exc, ShipyardError):
        text = exc.message
        if exc.context:
            text += f" ({exc.context})"
        if exc.hint:
            text += f" {exc.hint}"
        if isinstance(exc, BuildError) and exc.output and verbose:
            stream.write(exc.output.rstrip() + "\n")
    elif isinstance(exc, OSError):
        text = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
        text += ". Check the path and its permissions."
    else:
        text = (
            f"shipyard hit an unexpected error ({type(exc).__name__}: {exc}). "
            "Run the command again with -v to see the traceback, and please report it."
        )
    # URLs and paths stay whole (copyable): no breaks at hyphens or inside long words.
    # A message of several lines (a resolver's derivation) keeps its line breaks.
    wrapped = "\n  ".join(
        textwrap.fill(
            line,
            width=100,
            initial_indent="" if index == 0 else "  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
            break_long_words=False,
        ).removeprefix("  " if index else "")
        for index, line in enumerate(text.split("\n"))
    )
    stream.write(f"{red}error{reset}: {wrapped}\n")


class Output:
    """Plain and styled lines on stderr for summaries (``-q`` silences them)."""

    def __init__(self, *, quiet: bool = False, color: str = "auto") -> None:
        self.quiet = quiet
        self.stream = sys.stderr
        self.color = _use_color(self.stream, color)
        #: called before a line is written (the reporter ends its live display there)
        self.before_write: Any = None
        #: ``-v`` given this many times: some summaries say more
        self.verbose = 0

    def _pause(self) -> None:
        if self.before_write is not None:
            self.before_write()

    def line(self, text: str) -> None:
        """One summary line."""
        self._pause()
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def change(self, sign: str, text: str) -> None:
        """A ``+ name==ver`` / ``- name==ver`` line, green or red on a color terminal."""
        if self.quiet:
            return
        self._pause()
        if self.color:
            code = "32" if sign == "+" else "31" if sign == "-" else "33"
            self.stream.write(f" \x1b[{code}m{sign}\x1b[0m {text}\n")
        else:
            self.stream.write(f" {sign} {text}\n")

    def warning(self, text: str) -> None:
        """A warning line (shown even with ``-q``)."""
        self._pause()
        prefix = "\x1b[1;33mwarning\x1b[0m" if self.color else "warning"
        self.stream.write(f"{prefix}: {text}\n")


class ConsoleReporter:
    """A :class:`~shipyard.reporting.Reporter` for the terminal.

    On a TTY (and not quiet) it shows a spinner while resolving and bars for
    downloads and installs; elsewhere it stays silent and leaves the summary
    lines to the commands.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.interactive = (not output.quiet) and output.stream.isatty()
        self._progress: Any = None
        self._lock = threading.Lock()
        self._resolve_task: Any = None
        self._resolved = 0
        self._downloads: dict[str, Any] = {}
        self._install_task: Any = None
        self._started = time.perf_counter()
        output.before_write = self.close

    def _bar(self) -> Any:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                ProgressColumn,
                SpinnerColumn,
                TextColumn,
            )
            from rich.text import Text

            class _Amount(ProgressColumn):
                """Bytes for downloads, ``done/total`` for counted tasks."""

                bytes_column = DownloadColumn()

                def render(self, task: Any) -> Any:
                    if task.fields.get("bytes"):
                        return self.bytes_column.render(task)
                    if task.total is None:
                        return Text("")
                    return Text(
                        f"{int(task.completed)}/{int(task.total)}", style="progress.download"
                    )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                _Amount(),
                console=Console(stderr=True, no_color=not self.output.color),
                transient=True,
            )
            self._progress.start()
        return self._progress

    def close(self) -> None:
        """Remove any progress display."""
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    # resolve
    def resolve_started(self) -> None:
        if self.interactive:
            with self._lock:
                self._resolve_task = self._bar().add_task("Resolving", total=None)

    def package_resolved(self, name: str, version: str) -> None:
        if self.interactive and self._resolve_task is not None:
            with self._lock:
                self._resolved += 1
                self._bar().update(
                    self._resolve_task,
                    description=f"Resolving ({self._resolved}) {name}=={version}",
                )

    def resolve_finished(self, count: int, seconds: float) -> None:
        if self.interactive and self._resolve_task is not None:
            with self._lock:
                self._bar().remove_task(self._resolve_task)
                self._resolve_task = None

    # download
    def download_started(self, name: str, size: int | None) -> None:
        if self.interactive:
            with self._lock:
                self._downloads[name] = self._bar().add_task(
                    f"Downloading {name}", total=size, bytes=True
                )

    def download_progress(self, name: str, nbytes: int) -> None:
        if self.interactive:
            with self._lock:
                task = self._downloads.get(name)
                if task is not None:
                    self._bar().advance(task, nbytes)

    def download_finished(self, name: str) -> None:
        if self.interactive:
            with self._lock:
                task = self._downloads.pop(name, None)
                if task is not None:
                    self._bar().remove_task(task)

    # build
    def build_started(self, name: str, kind: str) -> None:
        if not self.output.quiet and not self.interactive:
            self.output.line(f"Building {kind} for {name}")

    def build_finished(self, name: str, kind: str) -> None:
        pass

    # install
    def install_started(self, total: int) -> None:
        if self.interactive:
            with self._lock:
                self._install_task = self._bar().add_task("Installing", total=total)

    def package_installed(self, name: str, version: str) -> None:
        if self.interactive and self._install_task is not None:
            with self._lock:
                self._bar().advance(self._install_task, 1)

    def package_removed(self, name: str, version: str) -> None:
        self.package_installed(name, version)

    def install_finished(self, installed: int, removed: int, seconds: float) -> None:
        if self.interactive and self._install_task is not None:
            with self._lock:
                self._bar().remove_task(self._install_task)
                self._install_task = None

    def warning(self, message: str) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(f"[yellow]warning[/]: {message}", markup=True)
                return
        self.output.warning(message)

    def notice(self, message: str) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(message, markup=False, highlight=False)
                return
        self.output.line(message)
