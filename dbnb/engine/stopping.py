"""Stopping a statement from another thread: what Ctrl-C does, for a background job.

Ctrl-C reaches the main thread only (``dbnb.engine.interrupts``). A thread that runs a
read for a background job (``dbnb.read.jobs``) is watched instead: it makes a ``Watch``
its current one (``watched``), and wherever a read path runs a statement it says how to
stop it there (``stoppable``, ``statement_on``), with the same stop its Ctrl-C uses
(psycopg's or ADBC's cancel request, ``KILL QUERY``, ``sqlite3_interrupt``), for as long
as the statement may run on the server. ``Watch.stop()``, from any thread, calls them;
a statement about to start after it raises ``KeyboardInterrupt`` instead, never sent.

A stop belongs to one connection while the read holds it: the guarded path's is
dropped when its connection goes back to the pool (``released``), under the watch's
lock, so a stop never reaches a statement that another read runs on that connection
later.

The watch also counts the rows read so far (``add_rows``), for a job's status line.
Without a watch (every read on the main thread), each of these does nothing.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("dbnb")

Stop = Callable[[], object]


class Watch:
    """The statements one thread runs for someone who may stop them from another."""

    def __init__(self) -> None:
        # Reentrant: a stop that fails may log, and a release may come from a
        # garbage collection on a thread that holds it.
        self._lock = threading.RLock()
        self._stops: dict[object, Stop] = {}  # by what runs the statement
        self.stopped = False
        self.rows = 0  # rows read so far

    @property
    def running(self) -> bool:
        """Whether a statement may be running now (a stop is registered)."""
        with self._lock:
            return bool(self._stops)

    def stop(self) -> bool:
        """Ask the database to end every statement running now, and refuse any later
        one; whether a statement was running."""
        with self._lock:
            self.stopped = True
            stops = list(self._stops.values())
            for stop in stops:  # under the lock: its connection is not given back meanwhile
                try:
                    stop()
                except Exception as error:  # the others, and the cancel, must go on
                    log.warning("could not stop a background statement: %s", error)
            return bool(stops)

    def add(self, key: object, stop: Stop) -> None:
        """``stop`` ends what runs on ``key`` until ``remove(key)``; raises
        ``KeyboardInterrupt`` (the statement is not sent) once the watch was stopped."""
        with self._lock:
            if self.stopped:
                raise KeyboardInterrupt("the job was cancelled before its statement was sent")
            self._stops[key] = stop

    def remove(self, key: object) -> None:
        with self._lock:
            self._stops.pop(key, None)


_CURRENT: contextvars.ContextVar[Watch | None] = contextvars.ContextVar("dbnb_watch", default=None)


@contextmanager
def watched(watch: Watch) -> Iterator[Watch]:
    """The reads of this block (this thread's, or this task's) are ``watch``'s."""
    token = _CURRENT.set(watch)
    try:
        yield watch
    finally:
        _CURRENT.reset(token)


def current() -> Watch | None:
    """The watch of the reads running here, if any."""
    return _CURRENT.get()


@contextmanager
def stoppable(stop: Stop) -> Iterator[None]:
    """While the block runs a statement, the current watch (if any) may call ``stop``."""
    watch = _CURRENT.get()
    if watch is None:
        yield
        return
    key = object()
    watch.add(key, stop)
    try:
        yield
    finally:
        watch.remove(key)


# Where a pooled connection's entry keeps the watch of the statement it runs.
_HOLDER = "dbnb_watch"


def statement_on(entry_info: dict[str, Any], stop: Stop) -> None:
    """A statement is about to run on the pooled connection whose pool entry keeps
    ``entry_info`` (SQLAlchemy's ``record_info``); ``stop`` ends it until the entry goes
    back to its pool (``released``)."""
    watch = _CURRENT.get()
    if watch is None:
        return
    watch.add(id(entry_info), stop)
    entry_info[_HOLDER] = watch


def released(entry_info: dict[str, Any]) -> None:
    """The pool entry keeping ``entry_info`` is back in its pool, from whatever thread:
    the statements run on its connection are over."""
    watch = entry_info.pop(_HOLDER, None)
    if watch is not None:
        watch.remove(id(entry_info))


def add_rows(count: int) -> None:
    """``count`` more rows were read for the current watch (if any)."""
    watch = _CURRENT.get()
    if watch is not None:
        watch.rows += count
