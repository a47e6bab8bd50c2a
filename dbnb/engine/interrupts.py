"""Ctrl-C while a statement runs.

``interruptible``: for a driver that cannot be interrupted while it waits, the call
runs on a worker thread, and Ctrl-C (or a timeout) on the caller's thread asks the
database to stop it, then waits for the call to end, so a connection is never
closed under a statement still running. SQLite's and MariaDB's columnar reads use
it (``sqlite3_interrupt``, ``KILL QUERY``); so can any backend whose driver blocks
signals.

``wake_on_ctrl_c``: Ctrl-C must also wake the main thread from the system call it
blocks in (a driver's ``recv``, a wait for a worker). Python's own SIGINT handler
lets the kernel interrupt those calls and marks the signal for the interpreter.
Native libraries replace it at the C level, where Python cannot see it: polars
(which ADBC's DB-API module imports when it is installed) with one that has the
kernel resume such calls (``SA_RESTART``, pola-rs/polars#21739), ADBC for the
length of a call of its own. So, before each statement, dbnb installs the
Python-level handler again, which puts Python's own C handler back.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from dbnb.engine import stopping

T = TypeVar("T")


def wake_on_ctrl_c() -> None:
    """Give SIGINT back to Python's own handler (the Python-level one is kept: default,
    IPython's, the user's), so Ctrl-C interrupts the main thread's blocking calls."""
    if threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        signal.signal(signal.SIGINT, handler)


def interruptible(
    run: Callable[[], T], stop: Callable[[], None], timeout: float | None = None
) -> T:
    """``run()`` on a worker thread. Ctrl-C while it runs, or ``timeout`` seconds
    passing, calls ``stop()`` and waits for ``run`` to end; then raises
    ``KeyboardInterrupt`` or ``TimeoutError`` here. A background job's cancel calls
    ``stop()`` too (``dbnb.engine.stopping``)."""
    wake_on_ctrl_c()
    with stopping.stoppable(stop):  # before the submit: a cancelled job sends nothing
        future = _WORKERS.submit(run)
        return _result(future, stop, timeout)


def _result(future: futures.Future[T], stop: Callable[[], None], timeout: float | None) -> T:
    try:
        return future.result(timeout)
    except futures.TimeoutError:
        _stop_and_wait(future, stop)
        raise TimeoutError from None
    except KeyboardInterrupt:
        _stop_and_wait(future, stop)
        raise


def abandoned_on_ctrl_c(run: Callable[[], T], discard: Callable[[T], object]) -> T:
    """``run()`` on a worker thread, for a call nothing can stop that changes nothing
    on the server (a connect): Ctrl-C raises ``KeyboardInterrupt`` here at once, and
    what ``run`` returns after that is given to ``discard``."""
    wake_on_ctrl_c()
    future = _WORKERS.submit(run)
    try:
        return future.result()
    except KeyboardInterrupt:

        def late(done: futures.Future[T]) -> None:
            if not done.cancelled() and done.exception() is None:
                discard(done.result())

        future.add_done_callback(late)
        raise


def repeat_until(
    stop: Callable[[], object], done: Callable[[], bool], *, every: float, at_most: float
) -> None:
    """``stop()`` every ``every`` seconds until ``done()`` (``at_most`` seconds in all): a
    statement that had not reached the server yet, or was sent again, is stopped too."""
    deadline = time.monotonic() + at_most
    while not done() and time.monotonic() < deadline:
        stop()
        time.sleep(every)


def _stop_and_wait(future: futures.Future[Any], stop: Callable[[], None]) -> None:
    stop()
    while not future.done():  # the engine stops at its next step; wait for it
        try:
            futures.wait([future])
        except KeyboardInterrupt:
            stop()  # pressed again: still, never close the connection under it


# Threads that run the reads, one per concurrent read, started as needed and kept.
_WORKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="dbnb-interruptible")
