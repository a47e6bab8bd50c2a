"""Query monitoring: every statement a dbnb engine runs is timed and recorded.

``install(engine, config)`` (called where engines are made) listens to
SQLAlchemy's cursor events, so reads, write sessions, ``db.write`` and the
magics are all seen the same way. Each statement becomes a ``QueryRecord`` in
a bounded, thread-safe ``History``; ``dbnb.history()`` shows it as a DataFrame.
A statement slower than the connection's ``slow_query_ms`` is logged at
WARNING on the ``dbnb.engine.monitor`` logger; every statement is logged at DEBUG.

What is recorded is the SQL sent to the driver, whose parameters are
placeholders (``?``, ``%(name)s``). Parameter values are kept only for a
connection with ``log_parameters: true``, and the connection's password is
masked in anything recorded or logged.

Rows: a statement without a result has ``cursor.rowcount``. For a result, the
number of rows is only known once they are fetched, so the caller that fetches
them (``Database.query``) asks for the record to stay open with the execution
option ``REPORTS_FETCH`` and closes it with ``fetched()``: rows, and elapsed
time including the fetch. A result fetched by anyone else keeps the driver's
row count when the driver knows it (psycopg), else none (``<NA>``): a driver's
"unknown" (-1, None, PyMySQL's 2**64 - 1 for a result streamed from the
server) is never taken for a number of rows.

dbnb's own housekeeping never reaches these events: the read-only guards talk
to the driver connection directly, SQLAlchemy's first-connect set-up runs
without events, and health checks run with the execution option ``QUIET``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Engine, ExceptionContext, Row
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext

from dbnb.config import ConnectionConfig, masking
from dbnb.errors import OptionError, one_line

log = logging.getLogger("dbnb.monitor")  # the documented logger name

DEFAULT_HISTORY_SIZE = 1000
REPORTS_FETCH = "dbnb_reports_fetch"  # execution option: the caller calls fetched()
QUIET = "dbnb_quiet"  # execution option: housekeeping, not recorded

COLUMNS = ["started", "connection", "sql", "parameters", "elapsed_ms", "rows", "error", "path"]
_MAX_SQL = 10_000  # characters kept per statement, so a huge batch cannot bloat history
_MAX_PARAMETERS = 1_000
_PENDING = "_dbnb_pending"


@dataclass
class QueryRecord:
    """One statement as it ran: where, what, how long, how many rows, how it failed."""

    started: datetime  # UTC
    connection: str
    sql: str
    parameters: str | None  # None unless the connection has log_parameters: true
    elapsed_ms: float
    rows: int | None
    error: str | None = None
    # How it ran: "columnar" (read into Arrow outside SQLAlchemy, dbnb/read/arrow.py) or
    # "guarded" (through the SQLAlchemy engine and its guards); None: neither (a write).
    path: str | None = "guarded"


class History:
    """The most recent records, oldest first; bounded, and safe to share between threads."""

    def __init__(self, size: int = DEFAULT_HISTORY_SIZE) -> None:
        self._lock = threading.Lock()
        self._records: deque[QueryRecord] = deque(maxlen=_valid_size(size))

    @property
    def size(self) -> int:
        return self._records.maxlen or 0

    def resize(self, size: int) -> None:
        """Keep at most ``size`` records from now on (the newest, if there are more)."""
        with self._lock:
            self._records = deque(self._records, maxlen=_valid_size(size))

    def add(self, record: QueryRecord) -> None:
        with self._lock:
            self._records.append(record)

    def update(self, record: QueryRecord, **changes: Any) -> None:
        """Change a record already added (its rows once fetched), under the lock."""
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def records(self, limit: int | None = None) -> list[QueryRecord]:
        """Copies of the newest ``limit`` records (all when None), oldest first."""
        with self._lock:
            chosen = list(self._records)
            if limit is not None:
                chosen = chosen[max(len(chosen) - limit, 0) :]
            return [QueryRecord(**vars(record)) for record in chosen]

    def frame(self, limit: int | None = None) -> pd.DataFrame:
        """The records as a DataFrame, newest last."""
        records = self.records(limit)
        frame = pd.DataFrame(
            {
                "started": pd.to_datetime([r.started for r in records], utc=True),
                "connection": pd.Series([r.connection for r in records], dtype="string"),
                "sql": pd.Series([r.sql for r in records], dtype="string"),
                "parameters": pd.Series([r.parameters for r in records], dtype="string"),
                "elapsed_ms": pd.Series([r.elapsed_ms for r in records], dtype="float64"),
                "rows": pd.Series([r.rows for r in records], dtype="Int64"),
                "error": pd.Series([r.error for r in records], dtype="string"),
                "path": pd.Series([r.path for r in records], dtype="string"),
            },
            columns=COLUMNS,
        )
        return frame


def _valid_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise OptionError(f"history size must be a whole number of 1 or more, got {size!r}")
    return size


# The process-wide history behind dbnb.history(); engines record into it.
HISTORY = History()


def history(limit: int | None = None) -> pd.DataFrame:
    """The statements dbnb ran most recently, newest last, as a DataFrame.

    Columns: ``started`` (UTC), ``connection``, ``sql`` (with placeholders),
    ``parameters`` (only for connections with ``log_parameters: true``),
    ``elapsed_ms``, ``rows`` (``<NA>`` when unknown), ``error``.
    ``limit`` keeps the newest ``limit`` statements.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise OptionError(f"limit must be a whole number of 0 or more, got {limit!r}")
    return HISTORY.frame(limit)


def set_history_size(size: int) -> None:
    """Keep at most ``size`` statements in ``dbnb.history()`` (default 1000)."""
    HISTORY.resize(size)


def clear_history() -> None:
    """Forget every recorded statement."""
    HISTORY.clear()


# --- recording ----------------------------------------------------------------------


@dataclass
class _Monitor:
    """What one engine's listeners need to know about its connection."""

    connection: str
    slow_query_ms: float | None
    log_parameters: bool
    secrets: tuple[str, ...]
    history: History

    @classmethod
    def of(cls, config: ConnectionConfig, history: History) -> _Monitor:
        password = config.url.password
        return cls(
            connection=config.name,
            slow_query_ms=config.slow_query_ms,
            log_parameters=config.log_parameters,
            secrets=masking.secret_forms(password),
            history=history,
        )

    def mask(self, text: str, parameters: Any = None) -> str:
        """``text`` without the password, nor (unless opted in) the parameter values,
        which a database's error message may quote back: each shows as its ``:name``."""
        if not self.log_parameters:
            text = masking.mask_values(text, parameters)
        return masking.mask_secrets(text, self.secrets)


@dataclass
class _Pending:
    """A statement on its way: set by before_cursor_execute, finished later."""

    monitor: _Monitor
    started: datetime
    clock: float  # time.perf_counter() at the start
    parameters: Any  # kept to mask their values out of an error message, by name if known
    record: QueryRecord | None = field(default=None)  # in history once the statement ran
    closed: bool = False  # elapsed and rows are final, and the statement was logged

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.clock) * 1000.0


def install(engine: Engine, config: ConnectionConfig, *, into: History | None = None) -> None:
    """Time and record every statement ``engine`` runs, into ``into`` (default: HISTORY).

    Install before the read-only guards: their error handler may raise, which
    ends SQLAlchemy's chain of ``handle_error`` listeners.
    """
    monitor = _Monitor.of(config, into if into is not None else HISTORY)

    def before(
        connection: Connection,
        _cursor: DBAPICursor,
        _statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        _executemany: bool,
    ) -> None:
        if context is None or connection.get_execution_options().get(QUIET):
            return
        values = _compiled(context) or parameters
        pending = _Pending(monitor, datetime.now(UTC), time.perf_counter(), values)
        setattr(context, _PENDING, pending)

    def after(
        _connection: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        _executemany: bool,
    ) -> None:
        pending: _Pending | None = getattr(context, _PENDING, None)
        if context is None or pending is None or pending.record is not None:
            return
        elapsed = pending.elapsed_ms()
        rowcount = getattr(cursor, "rowcount", -1)
        record = _record(pending, statement, parameters, elapsed, rowcount, None)
        monitor.history.add(record)
        pending.record = record
        if cursor.description is not None and context.execution_options.get(REPORTS_FETCH):
            return  # stays open: the caller reports the rows it fetched
        pending.closed = True
        _log(monitor, record)

    def on_error(error: ExceptionContext) -> None:
        context = error.execution_context
        pending: _Pending | None = getattr(context, _PENDING, None)
        if context is None or pending is None:
            return
        message = one_line(error.original_exception)
        if pending.record is not None:
            # It ran, then failed: refused by a guard after it ran (a COMMIT in a
            # read-only session), or while its rows were fetched.
            if pending.record.error is None:
                masked = monitor.mask(message, pending.parameters)
                monitor.history.update(pending.record, error=masked)
            return
        record = _record(
            pending, error.statement or "", error.parameters, pending.elapsed_ms(), -1, message
        )  # masked by pending.parameters, which name the values
        monitor.history.add(record)
        pending.record, pending.closed = record, True
        _log(monitor, record)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", on_error)


def fetched(
    result: CursorResult[Any], rows: int | None, error: BaseException | None = None
) -> None:
    """Close the record of a statement run with ``REPORTS_FETCH``: the rows fetched
    (None if unknown), elapsed time up to now, and the error fetching raised, if any."""
    context = getattr(result, "context", None)
    pending: _Pending | None = getattr(context, _PENDING, None)
    if pending is None or pending.record is None or pending.closed:
        return
    pending.closed = True
    monitor, record = pending.monitor, pending.record
    changes: dict[str, Any] = {"elapsed_ms": pending.elapsed_ms()}
    if _known_rows(rows) is not None:
        changes["rows"] = rows
    if error is not None and record.error is None:
        changes["error"] = monitor.mask(one_line(error), pending.parameters)
    monitor.history.update(record, **changes)
    _log(monitor, record)


Fetch = Callable[[CursorResult[Any], int | None], Sequence[Row[Any]]]


def reported(fetch: Fetch) -> Fetch:
    """``fetch`` that closes each statement's record (run with ``REPORTS_FETCH``)
    with the rows it fetched, or with the error fetching raised."""

    def fetch_and_report(result: CursorResult[Any], count: int | None) -> Sequence[Row[Any]]:
        try:
            rows = fetch(result, count)
        except BaseException as error:
            fetched(result, None, error)
            raise
        fetched(result, len(rows))
        return rows

    return fetch_and_report


def record(
    config: ConnectionConfig,
    statement: str,
    parameters: Any,
    started: datetime,
    elapsed_ms: float,
    outcome: int | BaseException,
    path: str | None = "columnar",
) -> None:
    """Record a statement that ran outside SQLAlchemy's events (the columnar read
    path, ``dbnb/read/arrow.py``): its rows, or the error it ended with; masked and logged as
    the others are."""
    monitor = _Monitor.of(config, HISTORY)
    rows, error = (outcome, None) if isinstance(outcome, int) else (-1, one_line(outcome))
    entry = _record(
        _Pending(monitor, started, 0.0, parameters), statement, parameters, elapsed_ms, rows, error
    )
    entry.path = path
    monitor.history.add(entry)
    _log(monitor, entry)


class Recording:
    """A statement run outside SQLAlchemy's events, timed from its creation and
    recorded once, by ``finish``: its rows, or the error it ended with."""

    def __init__(
        self,
        config: ConnectionConfig,
        statement: str,
        parameters: Any,
        path: str | None = "columnar",
    ) -> None:
        self._args = (config, statement, parameters)
        self._path = path
        self._started = datetime.now(UTC)
        self._clock = time.perf_counter()
        self._done = False

    def finish(self, outcome: int | BaseException) -> None:
        if self._done:
            return
        self._done = True
        config = self._args[0]
        if isinstance(outcome, KeyboardInterrupt):
            outcome = KeyboardInterrupt("interrupted (Ctrl-C); the statement was cancelled")
        elif str(outcome).startswith(f"{config.name}: "):
            # The database's own message, as the guarded path records it.
            outcome = type(outcome)(str(outcome)[len(config.name) + 2 :])
        elapsed_ms = (time.perf_counter() - self._clock) * 1000.0
        record(*self._args, self._started, elapsed_ms, outcome, self._path)


def refused(result: CursorResult[Any], reason: str) -> None:
    """Mark the statement of ``result`` as failed: dbnb refused its result (``reason``)."""
    pending: _Pending | None = getattr(getattr(result, "context", None), _PENDING, None)
    if pending is not None and pending.record is not None and pending.record.error is None:
        pending.monitor.history.update(pending.record, error=reason)


def _record(
    pending: _Pending,
    statement: str,
    parameters: Any,
    elapsed_ms: float,
    rowcount: int,
    error: str | None,
) -> QueryRecord:
    monitor = pending.monitor
    shown = None
    if monitor.log_parameters and parameters:
        shown = monitor.mask(_truncate(repr(parameters), _MAX_PARAMETERS))
    return QueryRecord(
        started=pending.started,
        connection=monitor.connection,
        sql=monitor.mask(_truncate(statement.strip(), _MAX_SQL)),
        parameters=shown,
        elapsed_ms=elapsed_ms,
        rows=_known_rows(rowcount),
        error=monitor.mask(error, pending.parameters) if error is not None else None,
    )


# Past this, a row count is a driver's "unknown": PyMySQL's 2**64 - 1 for a result it
# has not read to its end (MySQLdb's convention), which no Int64 column holds.
_MAX_ROWS = 2**63 - 1


def _known_rows(rowcount: Any) -> int | None:
    """``rowcount`` as a number of rows, or None where the driver does not know it
    (-1, None, 2**64 - 1)."""
    if isinstance(rowcount, bool) or not isinstance(rowcount, int):
        return None
    return rowcount if 0 <= rowcount <= _MAX_ROWS else None


def _log(monitor: _Monitor, record: QueryRecord) -> None:
    slow = monitor.slow_query_ms is not None and record.elapsed_ms >= monitor.slow_query_ms
    level = logging.WARNING if slow else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    rows = "?" if record.rows is None else str(record.rows)
    outcome = f"failed ({record.error})" if record.error else f"{rows} rows"
    parameters = f" parameters {record.parameters}" if record.parameters else ""
    sql = " ".join(_truncate(record.sql, 1000).split())
    prefix = "slow query" if slow else "query"
    threshold = f" (slow_query_ms: {monitor.slow_query_ms:g})" if slow else ""
    log.log(
        level,
        "%s on %r: %.1f ms%s, %s: %s%s",
        prefix,
        record.connection,
        record.elapsed_ms,
        threshold,
        outcome,
        sql,
        parameters,
        extra={
            "dbnb_connection": record.connection,
            "dbnb_elapsed_ms": record.elapsed_ms,
            "dbnb_sql": sql,
        },
    )


def _compiled(context: ExecutionContext) -> list[dict[str, Any]] | None:
    """The values of a compiled statement by their ``:name`` (the driver's own
    parameters may be positional, ``?`` on SQLite)."""
    compiled = getattr(context, "compiled_parameters", None)
    if getattr(context, "compiled", None) is None or not compiled:
        return None
    return [dict(row) for row in compiled]


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"
