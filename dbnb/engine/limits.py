"""Limits on one statement: how long it may run, how many rows it may send, and Ctrl-C.

statement_timeout is in seconds: per connection in the YAML, per call with
``query(..., timeout=)`` (the ``dbnb_timeout`` execution option). Each
database's backend (``dbnb/backends/NAME/``) makes the database end a statement
that runs too long, or that Ctrl-C interrupts (PostgreSQL: ``SET LOCAL
statement_timeout``, psycopg's cancel; SQLite: a progress handler); the
columnar path (``dbnb/read/arrow.py``) keeps the same deadline on the client.
This module holds what they share: the limit in force and the one error.

max_rows: a read that caps its result says so with the ``dbnb_max_rows``
execution option, set before its transaction begins, and a database that can
stop producing rows past the cap does (MariaDB/MySQL: ``sql_select_limit``).
A result closed before its end goes through ``close_result``, so a database
whose driver would otherwise read every row left to throw them away (PyMySQL's
unbuffered results) stops the statement on the server first.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Engine, ExceptionContext

from dbnb.config import ConnectionConfig
from dbnb.engine import interrupts, remedies
from dbnb.engine.backend import EngineBackend
from dbnb.errors import QueryTimeoutError

TIMEOUT_OPTION = "dbnb_timeout"
MAX_ROWS_OPTION = "dbnb_max_rows"


def timeout_of(connection: Connection, config: ConnectionConfig) -> float | None:
    """The statement timeout in force: the call's own, else the connection's."""
    timeout = connection.get_execution_options().get(TIMEOUT_OPTION)
    return config.statement_timeout if timeout is None else float(timeout) or None


def max_rows_of(connection: Connection) -> int | None:
    """The max_rows of the reads in the transaction about to begin, if one was set."""
    rows = connection.get_execution_options().get(MAX_ROWS_OPTION)
    return None if rows is None else int(rows)


def close_result(
    result: CursorResult[Any], config: ConnectionConfig, backend: EngineBackend
) -> None:
    """Close ``result``, perhaps before its last row: its database stops sending the rest
    rather than have its driver read it all to throw it away (``Backend.close_result``)."""
    backend.close_result(result, config)


def install(engine: Engine, config: ConnectionConfig, backend: EngineBackend) -> None:
    """Attach the database's statement_timeout and interrupts to a new engine
    (its ``backend``'s), and turn what they end into dbnb's errors."""
    backend.install_limits(engine, config)

    def translate(context: ExceptionContext) -> None:
        _close_interrupted_cursor(context)
        reached = backend.limit_reached(context)
        if reached == "interrupt":
            raise KeyboardInterrupt from None
        if reached == "timeout":
            connection = context.connection
            timeout = timeout_of(connection, config) if connection is not None else None
            raise timeout_error(config, timeout) from None

    event.listen(engine, "handle_error", translate)
    # Ctrl-C must wake a driver blocked in recv() (dbnb.engine.interrupts says why not).
    event.listen(engine, "before_cursor_execute", lambda *_: interrupts.wake_on_ctrl_c())


def _close_interrupted_cursor(context: ExceptionContext) -> None:
    """Ctrl-C counts as a lost connection to SQLAlchemy, which then leaves the cursor
    open; a server-side cursor (chunks, max_rows) would complain when collected. The
    driver already cancelled the statement; closing the cursor sends nothing then."""
    cursor = getattr(context.execution_context, "cursor", None)
    if isinstance(context.original_exception, KeyboardInterrupt) and cursor is not None:
        with contextlib.suppress(Exception):
            cursor.close()


def timeout_error(config: ConnectionConfig, timeout: float | None) -> QueryTimeoutError:
    """The one error of a statement cancelled at its statement_timeout, on either path."""
    ran = (
        f"connection {config.name!r}: the statement ran past its statement_timeout of "
        f"{timeout:g} s and was cancelled"
    )
    if timeout != config.statement_timeout:  # the call's own (timeout=, --timeout)
        return QueryTimeoutError(f"{ran} (this call's); {remedies.how_to_pass_a_longer_timeout()}")
    where = f" ({config.source})" if config.source else ""
    return QueryTimeoutError(
        f"{ran}; raise statement_timeout in the config{where} {remedies.how_to_raise_timeout()}"
    )
