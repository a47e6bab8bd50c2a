"""Read-only enforced by the database, not by inspecting SQL.

Every transaction on a dbnb engine is either a read or a write. The mode is the
execution option ``dbnb_write`` of the SQLAlchemy connection, and the ``begin``
event below sets the database up for it afresh on every transaction, so no
state can leak through the pool from one mode into the other.

PostgreSQL
    A read runs in ``BEGIN READ ONLY``, and a first ``SELECT`` takes the
    transaction's snapshot at once: after that the server refuses
    ``SET TRANSACTION READ WRITE`` ("must be set before any query").
    Statements go through the extended protocol (``prepare_threshold = 0``),
    where the server accepts one statement per call, so ``SELECT 1; COMMIT;
    INSERT ...`` is refused. A statement that ends the transaction (``COMMIT``,
    ``ROLLBACK``, ``PREPARE TRANSACTION``) is caught right after it runs: the
    connection is thrown away, so nothing it set can outlive the session.

SQLite
    A read sets ``PRAGMA query_only`` and an authorizer that allows only reads,
    so SQLite itself refuses writes, ``ATTACH`` (and ``VACUUM INTO``, which
    attaches), and any ``PRAGMA`` that would switch ``query_only`` off. A
    connection starts locked this way and is unlocked only by a write
    transaction.

Other SQLAlchemy dialects get no server-side guard: reads are rolled back, but
only PostgreSQL and SQLite refuse writes on dbnb's behalf.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry

from dbnb.engine import drivers, remedies
from dbnb.errors import ReadOnlyError
from dbnb.sql import sqlscan

WRITE_OPTION = "dbnb_write"

# PostgreSQL error codes (SQLSTATE) that mean "this would have written".
PG_READ_ONLY = {
    "25006",  # read_only_sql_transaction
    "25001",  # active_sql_transaction: SET TRANSACTION READ WRITE after the first query
}
_PG_TRANSACTION_CONTROL = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"}
_PG_MULTIPLE_STATEMENTS = "cannot insert multiple commands into a prepared statement"
_PG_DEFAULT_PREPARE_THRESHOLD = "dbnb_prepare_threshold"
_SQLITE_MULTIPLE_STATEMENTS = "You can only execute one statement at a time."
_ONE_STATEMENT = (
    "one statement per call (several statements in one call could leave read-only mode)"
)

# SQLite authorizer actions a read may take.
_SQLITE_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    # Transaction control cannot unlock anything: query_only stays on.
    sqlite3.SQLITE_TRANSACTION,
    sqlite3.SQLITE_SAVEPOINT,
}
# Pragmas that only describe the schema, allowed with an argument.
_SQLITE_INTROSPECTION_PRAGMAS = {
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
_SQLITE_WRITING_PRAGMAS = {"optimize", "wal_checkpoint", "incremental_vacuum"}
_SQLITE_SCHEMA_TABLES = {"sqlite_master", "sqlite_temp_master", "sqlite_schema"}


# A connection dbnb opened itself says whether it writes; one taken straight from
# db.engine by another tool does not, and its refusal names that tool's remedies.
def _managed(connection: Connection | None) -> bool:
    return connection is not None and WRITE_OPTION in connection.get_execution_options()


def refusal(
    connection_name: str, reason: str, connection: Connection | None = None
) -> ReadOnlyError:
    """The one read-only refusal: what was refused, and how to write from where it was."""
    how = remedies.how_to_write(managed=connection is None or _managed(connection))
    return ReadOnlyError(f"connection {connection_name!r} is read-only here: {reason}; {how}")


def _authorize_read(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in _SQLITE_READ_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
        name = arg1.lower()
        if name in _SQLITE_INTROSPECTION_PRAGMAS:
            return sqlite3.SQLITE_OK
        if arg2 is None and name not in _SQLITE_WRITING_PRAGMAS:
            return sqlite3.SQLITE_OK
    # Table-valued pragma functions (pragma_table_info) report the schema table
    # as updated while they plan; query_only still refuses any real write.
    if action == sqlite3.SQLITE_UPDATE and arg1 in _SQLITE_SCHEMA_TABLES:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def is_write(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(WRITE_OPTION, False))


def install(engine: Engine, *, connection_name: str) -> None:
    """Attach the read-only guards to a new engine."""
    backend = engine.dialect.name
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif backend == "postgresql":
        event.listen(engine, "connect", _pg_connect)
        event.listen(engine, "begin", _pg_begin)

        def before_execute(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
            _pg_before_execute(connection, statement, connection_name)

        def after_execute(connection: Connection, *_: Any) -> None:
            _pg_after_execute(connection, connection_name)

        event.listen(engine, "before_cursor_execute", before_execute)
        event.listen(engine, "after_cursor_execute", after_execute)
        event.listen(engine, "commit", _pg_commit)

    def translate(context: ExceptionContext) -> None:
        _translate_error(context, connection_name)

    event.listen(engine, "handle_error", translate)


# --- SQLite -------------------------------------------------------------------------


def _sqlite_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Transactions are begun by the `begin` event below, not by the driver
    # (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl);
    # SQLAlchemy's aiosqlite adapter sets it on aiosqlite's own thread.
    dbapi_connection.isolation_level = None
    _sqlite_lock(record.driver_connection)


def _sqlite_lock(driver_connection: Any) -> None:
    drivers.call(driver_connection, "set_authorizer", None)
    drivers.run(driver_connection, "PRAGMA query_only = ON")
    drivers.call(driver_connection, "set_authorizer", _authorize_read)


def _sqlite_begin(connection: Connection) -> None:
    driver_connection = connection.connection.driver_connection
    if is_write(connection):
        drivers.call(driver_connection, "set_authorizer", None)
        drivers.run(driver_connection, "PRAGMA query_only = OFF")
        # IMMEDIATE takes the write lock up front, so a write that first reads
        # cannot deadlock against another writer when it upgrades.
        drivers.run(driver_connection, "BEGIN IMMEDIATE")
    else:
        _sqlite_lock(driver_connection)
        drivers.run(driver_connection, "BEGIN")


# --- PostgreSQL ---------------------------------------------------------------------


def _pg_connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    driver_connection: Any = record.driver_connection
    record.info[_PG_DEFAULT_PREPARE_THRESHOLD] = driver_connection.prepare_threshold
    # Anything run outside a dbnb transaction (pings, dialect start-up) reads only.
    drivers.call(driver_connection, "set_read_only", True)


def _pg_begin(connection: Connection) -> None:
    driver_connection: Any = connection.connection.driver_connection
    if is_write(connection):
        # BEGIN READ WRITE, whatever the session default.
        drivers.call(driver_connection, "set_read_only", False)
        driver_connection.prepare_threshold = connection.connection.info.get(
            _PG_DEFAULT_PREPARE_THRESHOLD, 5
        )
        return
    if driver_connection.autocommit:
        raise ReadOnlyError(
            "a read-only session cannot run in autocommit mode; "
            + remedies.how_to_write(managed=_managed(connection))
        )
    drivers.call(driver_connection, "set_read_only", True)
    driver_connection.prepare_threshold = 0
    # Take the snapshot now (psycopg sends BEGIN READ ONLY first): from here on
    # the server refuses SET TRANSACTION READ WRITE.
    drivers.run(driver_connection, "SELECT 1")


def _leading_keywords(statement: str) -> tuple[str, str]:
    """The first two words of a statement, past whitespace and comments, upper-cased
    (``sqlscan.leading_keywords``: PostgreSQL's comments nest)."""
    words = sqlscan.leading_keywords(statement, "postgresql")
    return (words[0] if words else "", words[1] if len(words) > 1 else "")


def _pg_before_execute(connection: Connection, statement: str, connection_name: str) -> None:
    # Some side effects are allowed inside a read-only transaction and kept by
    # a COMMIT (large objects, for one): transaction control never reaches the
    # server from a read. One statement per call is guaranteed by the extended
    # protocol, so its first word says what it is.
    if is_write(connection):
        return
    first, second = _leading_keywords(statement)
    if first in _PG_TRANSACTION_CONTROL or (first == "PREPARE" and second == "TRANSACTION"):
        if first == "ROLLBACK" and second == "TO":
            return  # ROLLBACK TO SAVEPOINT stays inside the read-only transaction
        raise refusal(
            connection_name,
            f"transaction control ({first}) is refused in a read-only session",
            connection,
        )


def _pg_commit(connection: Connection) -> None:
    """A commit of a read (session.commit() in a read-only session) keeps nothing."""
    if not is_write(connection):
        drivers.call(connection.connection.driver_connection, "rollback")


def _pg_after_execute(connection: Connection, connection_name: str) -> None:
    if is_write(connection):
        return
    driver_connection: Any = connection.connection.driver_connection
    if driver_connection.info.transaction_status == 0:  # IDLE: the statement ended our transaction
        connection.invalidate()
        raise refusal(
            connection_name,
            "transaction control (COMMIT, ROLLBACK, ...) is refused in a read-only session",
            connection,
        )


# --- errors -------------------------------------------------------------------------


def _translate_error(context: ExceptionContext, connection_name: str) -> None:
    connection = context.connection
    if connection is None or connection.invalidated or is_write(connection):
        return
    if _is_read_only_refusal(context.original_exception):
        message = _first_line(context.original_exception)
        raise refusal(connection_name, message, connection) from None


def _is_read_only_refusal(error: BaseException) -> bool:
    if isinstance(error, sqlite3.ProgrammingError):
        return str(error) == _SQLITE_MULTIPLE_STATEMENTS
    if isinstance(error, sqlite3.Error):
        # SQLITE_READONLY (query_only) and SQLITE_AUTH (the authorizer).
        return getattr(error, "sqlite_errorcode", None) in (
            sqlite3.SQLITE_READONLY,
            sqlite3.SQLITE_AUTH,
        ) or str(error) in ("not authorized", "authorization denied")
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate in PG_READ_ONLY:
        return True
    return sqlstate == "42601" and _PG_MULTIPLE_STATEMENTS in str(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    if text == _SQLITE_MULTIPLE_STATEMENTS or getattr(error, "sqlstate", None) == "42601":
        return _ONE_STATEMENT
    if isinstance(error, sqlite3.Error):
        return f"SQLite refused a statement that would write ({text})"
    return text.splitlines()[0] if text else type(error).__name__
