"""BackgroundTask: work on a pool that the thread waiting for it can take over."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.background import BackgroundTask


def test_a_result_needed_while_the_pool_is_busy_is_computed_by_the_caller() -> None:
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait)  # the only worker is taken
        task = BackgroundTask(lambda: threading.current_thread().name).submit(pool)
        assert task.result() == threading.current_thread().name
        release.set()


def test_a_worker_that_started_first_is_waited_for_and_runs_it_once() -> None:
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()

    def work() -> int:
        calls.append(threading.current_thread().name)
        started.set()
        release.wait()
        return 42

    with ThreadPoolExecutor(1, thread_name_prefix="worker") as pool:
        task = BackgroundTask(work).submit(pool)
        started.wait()
        waiter = threading.Thread(target=lambda: calls.append(str(task.result())))
        waiter.start()
        release.set()
        waiter.join()
    assert calls[0].startswith("worker") and calls[1:] == ["42"]


def test_the_error_reaches_every_caller() -> None:
    def fail() -> None:
        raise ValueError("no page")

    task = BackgroundTask(fail)
    for _ in range(2):
        with pytest.raises(ValueError, match="no page"):
            task.result()


def test_a_shut_down_pool_leaves_the_work_to_the_caller() -> None:
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    assert BackgroundTask(lambda: 7).submit(pool).result() == 7
