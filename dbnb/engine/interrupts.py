"""Ctrl-C while a statement runs.

``interruptible``: for a driver that cannot be interrupted while it waits, the call
runs on a worker thread, and Ctrl-C (or a timeout) on the caller's thread asks the
database to stop it, then waits for the call to end, so a connection is never
closed under a statement still running. SQLite's and MariaDB's columnar reads use
it (``sqlite3_interrupt``, ``KILL QUERY``); so can any backend whose driver blocks
signals.

``wake_on_ctrl_c``: Ctrl-C must also wake the main thread from the system call it
blocks in (a driver's ``recv``, a wait for a worker). Python's own SIGINT handler
lets the kernel interrupt those calls; polars, which ADBC's DB-API module imports
when it is installed, replaces it with one that has the kernel resume them
(``SA_RESTART``, pola-rs/polars#21739), so ``KeyboardInterrupt`` would come only
once the statement had ended. dbnb clears that flag before each statement and
keeps the handler itself (it passes the signal on to Python's).
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_SA_RESTART = 0x10000000  # Linux


class _SigAction(ctypes.Structure):
    """glibc's ``struct sigaction`` on Linux (x86-64 and AArch64 alike)."""

    _fields_ = (
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_ulong * 16),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    )


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


_LIBC = _libc() if sys.platform == "linux" else None


def wake_on_ctrl_c() -> None:
    """Make Ctrl-C interrupt the main thread's blocking system calls again, if a
    library's SIGINT handler asked the kernel to resume them (the handler stays)."""
    if _LIBC is None or threading.current_thread() is not threading.main_thread():
        return
    current = _SigAction()
    if _LIBC.sigaction(signal.SIGINT, None, ctypes.byref(current)) != 0:
        return
    if current.flags & _SA_RESTART:
        current.flags &= ~_SA_RESTART
        _LIBC.sigaction(signal.SIGINT, ctypes.byref(current), None)


def interruptible(
    run: Callable[[], T], stop: Callable[[], None], timeout: float | None = None
) -> T:
    """``run()`` on a worker thread. Ctrl-C while it runs, or ``timeout`` seconds
    passing, calls ``stop()`` and waits for ``run`` to end; then raises
    ``KeyboardInterrupt`` or ``TimeoutError`` here."""
    wake_on_ctrl_c()
    future = _WORKERS.submit(run)
    try:
        return future.result(timeout)
    except futures.TimeoutError:
        _stop_and_wait(future, stop)
        raise TimeoutError from None
    except KeyboardInterrupt:
        _stop_and_wait(future, stop)
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
