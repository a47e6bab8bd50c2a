"""Ctrl-C for a driver that cannot be interrupted while it waits: the call runs on a
worker thread, and Ctrl-C (or a timeout) on the caller's thread asks the database
to stop it, then waits for the call to end, so a connection is never closed
under a statement still running. SQLite's columnar reads use it
(``sqlite3_interrupt``); so can any backend whose driver blocks signals.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def interruptible(
    run: Callable[[], T], stop: Callable[[], None], timeout: float | None = None
) -> T:
    """``run()`` on a worker thread. Ctrl-C while it runs, or ``timeout`` seconds
    passing, calls ``stop()`` and waits for ``run`` to end; then raises
    ``KeyboardInterrupt`` or ``TimeoutError`` here."""
    future = _WORKERS.submit(run)
    try:
        return future.result(timeout)
    except futures.TimeoutError:
        _stop_and_wait(future, stop)
        raise TimeoutError from None
    except KeyboardInterrupt:
        _stop_and_wait(future, stop)
        raise


def _stop_and_wait(future: futures.Future[Any], stop: Callable[[], None]) -> None:
    stop()
    while not future.done():  # the engine stops at its next step; wait for it
        try:
            futures.wait([future])
        except KeyboardInterrupt:
            stop()  # pressed again: still, never close the connection under it


# Threads that run the reads, one per concurrent read, started as needed and kept.
_WORKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="dbnb-interruptible")
