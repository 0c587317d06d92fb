"""Background work that the thread waiting for it can take over.

A :class:`BackgroundTask` is queued on a thread pool, but whoever asks for its
result while it is still queued runs it right there instead of waiting. So no
thread ever blocks on work queued behind it on its own pool: a worker that
builds an sdist (holding the builder's lock, which other workers wait for) and
needs an index page for the build's requirements fetches that page itself
rather than waiting for a pool whose every thread is blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

__all__ = ["BackgroundTask"]

T = TypeVar("T")

_QUEUED, _RUNNING, _DONE = 0, 1, 2


class BackgroundTask(Generic[T]):
    """One call of ``function(*args)``, run once: by a pool worker, or by the first
    thread that needs the result before a worker has started it.

    :param function: the work; its exception, if any, is raised to every caller of
        :meth:`result`.
    """

    __slots__ = ("_args", "_done", "_error", "_function", "_lock", "_state", "_value")

    def __init__(self, function: Callable[..., T], *args: object) -> None:
        self._function = function
        self._args = args
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._state = _QUEUED
        self._value: T | None = None
        self._error: BaseException | None = None

    def submit(self, executor: Executor) -> BackgroundTask[T]:
        """Queue the work on ``executor``; returns ``self``. A pool that is shut down
        leaves the work to the first caller of :meth:`result`."""
        try:
            executor.submit(self._run_if_unclaimed)
        except RuntimeError:
            pass  # the pool is shutting down: result() runs it in the caller
        return self

    def _claim(self) -> bool:
        with self._lock:
            if self._state != _QUEUED:
                return False
            self._state = _RUNNING
            return True

    def _run_if_unclaimed(self) -> None:
        if self._claim():
            self._run()

    def _run(self) -> None:
        try:
            self._value = self._function(*self._args)
        except BaseException as exc:  # handed to every caller of result()
            self._error = exc
        finally:
            self._state = _DONE
            self._args = ()
            self._done.set()

    def done(self) -> bool:
        """Whether the result (or error) is there."""
        return self._done.is_set()

    def result(self) -> T:
        """The work's return value, running the work in this thread if no worker has
        started it yet, else waiting for the worker.

        :raises BaseException: whatever the work raised.
        """
        if self._claim():
            self._run()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
