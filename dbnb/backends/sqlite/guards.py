"""SQLite's guards: read-only enforced by the engine, statements stopped between steps.

Read-only
    A read sets ``PRAGMA query_only`` and an authorizer that allows only reads,
    so SQLite itself refuses writes, ``ATTACH`` (and ``VACUUM INTO``, which
    attaches), and any ``PRAGMA`` that would switch ``query_only`` off. A
    connection starts locked this way and is unlocked only by a write
    transaction.

Limits
    A progress handler aborts a statement once its statement_timeout passes, and
    lets Ctrl-C abort it between two steps of SQLite's engine instead of when it
    finishes.

The guards call the driver through ``dbnb.engine.drivers``, so they serve
sqlite3 and aiosqlite alike.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from dbnb.engine import drivers
from dbnb.engine.limits import timeout_of
from dbnb.engine.readonly import is_write

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, ExceptionContext
    from sqlalchemy.pool import ConnectionPoolEntry

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit


# Authorizer actions a read may take.
_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    # Transaction control cannot unlock anything: query_only stays on.
    sqlite3.SQLITE_TRANSACTION,
    sqlite3.SQLITE_SAVEPOINT,
}
# Pragmas that only describe the schema, allowed with an argument.
_INTROSPECTION_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
}
# Pragmas that write even without an argument.
_WRITING_PRAGMAS = {"optimize", "wal_checkpoint", "incremental_vacuum"}
_SCHEMA_TABLES = {"sqlite_master", "sqlite_temp_master", "sqlite_schema"}
_MULTIPLE_STATEMENTS = "You can only execute one statement at a time."
_ONE_STATEMENT = (
    "one statement per call (several statements in one call could leave read-only mode)"
)

_WATCH = "dbnb_watch"
_STEPS = 10_000  # engine steps between two looks at the clock (~1 ms)


def install_guards(engine: Engine, connection_name: str) -> None:
    event.listen(engine, "connect", _connect)
    event.listen(engine, "begin", _begin)


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    def connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        watch = record.info[_WATCH] = _Watch()
        drivers.call(record.driver_connection, "set_progress_handler", watch, _STEPS)

    def before_execute(connection: Connection, *_: Any) -> None:
        watch: _Watch = connection.connection.info[_WATCH]
        timeout = timeout_of(connection, config)
        watch.deadline = time.monotonic() + timeout if timeout else None
        watch.timed_out = False

    event.listen(engine, "connect", connect)
    event.listen(engine, "before_cursor_execute", before_execute)


def refusal_reason(error: BaseException) -> str | None:
    if isinstance(error, sqlite3.ProgrammingError):
        return _ONE_STATEMENT if str(error) == _MULTIPLE_STATEMENTS else None
    if not isinstance(error, sqlite3.Error):
        return None
    # SQLITE_READONLY (query_only) and SQLITE_AUTH (the authorizer).
    refused = getattr(error, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_AUTH,
    ) or str(error) in ("not authorized", "authorization denied")
    return f"SQLite refused a statement that would write ({error})" if refused else None


def limit_reached(context: ExceptionContext) -> Limit | None:
    error = context.original_exception
    if not (isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted"):
        return None
    connection = context.connection
    watch = connection.connection.info.get(_WATCH) if connection is not None else None
    return "timeout" if watch is not None and watch.timed_out else "interrupt"


class _Watch:
    """The progress handler of one connection: aborts past the deadline."""

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


# --- the guards' events -------------------------------------------------------------


def authorize_read(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """The authorizer of a read: SQLite denies everything else."""
    if action in _READ_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
        pragma = arg1.lower()
        if pragma in _INTROSPECTION_PRAGMAS:
            return sqlite3.SQLITE_OK
        if arg2 is None and pragma not in _WRITING_PRAGMAS:
            return sqlite3.SQLITE_OK
    # Table-valued pragma functions (pragma_table_info) report the schema table
    # as updated while they plan; query_only still refuses any real write.
    if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Transactions are begun by the `begin` event below, not by the driver
    # (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl);
    # SQLAlchemy's aiosqlite adapter sets it on aiosqlite's own thread.
    dbapi_connection.isolation_level = None
    _lock(record.driver_connection)


def _lock(driver_connection: Any) -> None:
    drivers.call(driver_connection, "set_authorizer", None)
    drivers.run(driver_connection, "PRAGMA query_only = ON")
    drivers.call(driver_connection, "set_authorizer", authorize_read)


def _begin(connection: Connection) -> None:
    driver_connection = connection.connection.driver_connection
    if is_write(connection):
        drivers.call(driver_connection, "set_authorizer", None)
        drivers.run(driver_connection, "PRAGMA query_only = OFF")
        # IMMEDIATE takes the write lock up front, so a write that first reads
        # cannot deadlock against another writer when it upgrades.
        drivers.run(driver_connection, "BEGIN IMMEDIATE")
    else:
        _lock(driver_connection)
        drivers.run(driver_connection, "BEGIN")
