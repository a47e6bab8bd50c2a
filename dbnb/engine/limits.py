"""Limits on one statement: how long it may run, and Ctrl-C.

statement_timeout (seconds; per connection in the YAML, per call with
``query(..., timeout=)``):

- PostgreSQL: ``SET LOCAL statement_timeout`` at the start of every
  transaction, so the server itself cancels a statement that runs too long.
- SQLite: a progress handler aborts the statement once its deadline passes.
- The columnar path (``arrow.py``) keeps the same deadline on the client and
  cancels the statement when it passes (``PQcancel`` on PostgreSQL,
  ``sqlite3_interrupt`` on SQLite), with the same error.

Interrupts (Ctrl-C in a terminal, the kernel's interrupt in Jupyter):

- PostgreSQL: psycopg cancels the running statement on the server when the
  wait for its result is interrupted; SQLAlchemy then discards the connection,
  so the pool stays healthy.
- SQLite: the same progress handler lets the interrupt abort the statement
  between two steps of SQLite's engine, instead of when it finishes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry

from dbnb.config import ConnectionConfig
from dbnb.engine import drivers, remedies
from dbnb.errors import QueryTimeoutError

TIMEOUT_OPTION = "dbnb_timeout"
_WATCH = "dbnb_watch"
_SQLITE_STEPS = 10_000  # SQLite engine steps between two looks at the clock (~1 ms)


class _SqliteWatch:
    """The progress handler of one SQLite connection: aborts past the deadline."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.timed_out = False

    def __call__(self) -> int:
        # A KeyboardInterrupt raised in here (the signal handler runs at the next
        # Python instruction, which is this function) also aborts the statement.
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def timeout_of(connection: Connection, config: ConnectionConfig) -> float | None:
    """The statement timeout in force: the call's own, else the connection's."""
    timeout = connection.get_execution_options().get(TIMEOUT_OPTION)
    return config.statement_timeout if timeout is None else float(timeout) or None


def install(engine: Engine, config: ConnectionConfig) -> None:
    backend = engine.dialect.name
    if backend == "sqlite":

        def connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            watch = record.info[_WATCH] = _SqliteWatch()
            drivers.call(record.driver_connection, "set_progress_handler", watch, _SQLITE_STEPS)

        def before_execute(connection: Connection, *_: Any) -> None:
            watch: _SqliteWatch = connection.connection.info[_WATCH]
            timeout = timeout_of(connection, config)
            watch.deadline = time.monotonic() + timeout if timeout else None
            watch.timed_out = False

        event.listen(engine, "connect", connect)
        event.listen(engine, "before_cursor_execute", before_execute)
    elif backend == "postgresql":

        def begin(connection: Connection) -> None:
            timeout = timeout_of(connection, config)
            if timeout:
                milliseconds = max(1, round(timeout * 1000))
                drivers.run(
                    connection.connection.driver_connection,
                    "SELECT set_config('statement_timeout', %s, true)",
                    [f"{milliseconds}ms"],
                )

        event.listen(engine, "begin", begin)

    def translate(context: ExceptionContext) -> None:
        _close_interrupted_cursor(context)
        _translate(context, config)

    event.listen(engine, "handle_error", translate)


def _close_interrupted_cursor(context: ExceptionContext) -> None:
    """Ctrl-C counts as a lost connection to SQLAlchemy, which then leaves the cursor
    open; a server-side cursor (chunks, max_rows) would complain when collected. The
    driver already cancelled the statement; closing the cursor sends nothing then."""
    cursor = getattr(context.execution_context, "cursor", None)
    if isinstance(context.original_exception, KeyboardInterrupt) and cursor is not None:
        with contextlib.suppress(Exception):
            cursor.close()


def _translate(context: ExceptionContext, config: ConnectionConfig) -> None:
    error = context.original_exception
    connection = context.connection
    if isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted":
        watch = connection.connection.info.get(_WATCH) if connection is not None else None
        if watch is None or not watch.timed_out:
            raise KeyboardInterrupt from None
    elif not (getattr(error, "sqlstate", None) == "57014" and "statement timeout" in str(error)):
        return
    timeout = timeout_of(connection, config) if connection is not None else None
    raise timeout_error(config, timeout) from None


def timeout_error(config: ConnectionConfig, timeout: float | None) -> QueryTimeoutError:
    """The one error of a statement cancelled at its statement_timeout, on either path."""
    where = f" ({config.source})" if config.source else ""
    return QueryTimeoutError(
        f"connection {config.name!r}: the statement ran past its statement_timeout of "
        f"{timeout:g} s and was cancelled; raise statement_timeout in the config{where} "
        f"{remedies.how_to_raise_timeout()}"
    )
