"""MariaDB's and MySQL's guards: read-only enforced by the server, timeouts set by it.

The driver
    PyMySQL (``mysql+pymysql``), and aiomysql for async sessions. PyMySQL is pure
    Python: it installs from a wheel everywhere, with no MySQL/MariaDB client
    library to find, and serves MariaDB and MySQL alike; aiomysql is PyMySQL's
    protocol code under asyncio, so the sync and async connections fail the same
    way and take the same guards. (mysqlclient needs the C client library and its
    headers to build; MariaDB Connector/Python needs MariaDB Connector/C.) PyMySQL
    sends values escaped into the statement text for the connection's character
    set, which is why a read may not change that character set.

Read-only
    Every connection's session is read-only from the start (``SET SESSION
    TRANSACTION READ ONLY``), and a read runs in ``START TRANSACTION READ ONLY``:
    the server refuses writes (error 1792), and a DDL statement, which in MySQL
    first commits the transaction it is in, still runs in a read-only session
    and is refused too. Inside the transaction the server refuses ``SET
    TRANSACTION READ WRITE`` (error 1568). What the server would run anyway
    (``COMMIT``, ``SET SESSION TRANSACTION READ WRITE``, ``INTO OUTFILE``,
    ``CALL``, several statements in one call, ...) is refused before it is sent
    (``statements``); and a statement that ended the transaction all the same is
    caught after it ran, and that connection is thrown away. A write
    transaction sets the session read-write first. ``readonly: true`` also makes
    the session read-only when the connection opens (``init_command``).

Limits
    statement_timeout: MariaDB ends a statement of any kind past
    ``max_statement_time`` (seconds); MySQL ends only a ``SELECT`` past
    ``max_execution_time`` (milliseconds); both are set for the session at the
    start of every transaction. Ctrl-C: PyMySQL just stops reading, so the
    server would go on; dbnb sends ``KILL QUERY`` for the statement's thread
    from a second, short-lived connection (``cancel``), closes the interrupted
    one, and SQLAlchemy discards it from the pool. max_rows: the transaction of
    a capped read sets ``sql_select_limit`` to one row past it (every other
    transaction back to ``DEFAULT``), so the server stops producing rows there.
    It caps what the top-level statement sends, never a subquery, a derived
    table or a CTE inside it; a ``LIMIT`` of the statement's own wins over it.
    Such a result, or chunks closed early, stop on the server (``cancel``).

The session time zone is UTC (``+00:00``), so TIMESTAMP values come back as UTC
times (``types.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from dbnb.backends.mysql import cancel
from dbnb.engine import connecting, drivers, remedies
from dbnb.engine.limits import max_rows_of, timeout_of
from dbnb.engine.readonly import is_write, managed, refusal
from dbnb.errors import ReadOnlyError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, ExceptionContext
    from sqlalchemy.pool import ConnectionPoolEntry

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit

# Server errors that mean "this would have written".
READ_ONLY_ERRORS = {
    1792,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1568,  # ER_CANT_CHANGE_TX_CHARACTERISTICS: SET TRANSACTION inside a transaction
    1290,  # ER_OPTION_PREVENTS_STATEMENT: a server started --read-only
    1836,  # ER_READ_ONLY_MODE
}
_TIMEOUT_ERRORS = {
    1969,  # MariaDB: ER_STATEMENT_TIMEOUT (max_statement_time)
    3024,  # MySQL: ER_QUERY_TIMEOUT (max_execution_time)
}
_IN_TRANSACTION = 1  # SERVER_STATUS_IN_TRANS of the protocol's OK packet
# Sessions in UTC: TIMESTAMP columns come back as UTC times (types.py).
SESSION_TIME_ZONE = "+00:00"


def install_guards(engine: Engine, connection_name: str) -> None:
    event.listen(engine, "connect", _connect)
    event.listen(engine, "begin", _begin)

    def after_execute(connection: Connection, *_: Any) -> None:
        _after_execute(connection, connection_name)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", _commit)


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    def begin(connection: Connection) -> None:
        timeout = timeout_of(connection, config) or 0
        if connection.dialect.is_mariadb:  # type: ignore[attr-defined]
            setting = f"max_statement_time = {timeout:.6f}"
        else:  # MySQL: SELECT statements only
            setting = f"max_execution_time = {round(timeout * 1000)}"
        setting += f", sql_select_limit = {_select_limit(max_rows_of(connection))}"
        driver_connection = connection.connection.driver_connection
        drivers.call(driver_connection, "query", f"SET SESSION {setting}")

    def handle_error(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, KeyboardInterrupt):
            cancel.kill_running(context, config)

    event.listen(engine, "begin", begin)
    event.listen(engine, "handle_error", handle_error)
    _bound_greeting(engine)


# A connection whose read_timeout bounds its connect only (``_bound_greeting``).
_GREETING_ONLY = "dbnb_read_timeout_for_greeting"


def _bound_greeting(engine: Engine) -> None:
    """PyMySQL's connect_timeout covers the TCP connect only: the server's greeting is
    then read with read_timeout, None by default, so a server that accepts and never
    speaks would hold the connect for good. Such a connect reads with the connect
    timeout; the connection then reads statements without a limit, as before."""

    def connect(dialect: Any, record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        if dialect.driver != "pymysql" or "read_timeout" in cparams or record is None:
            return  # aiomysql: dbnb.connections.aio bounds the whole connect; or the user's own
        cparams["read_timeout"] = connecting.bounded(cparams.get("connect_timeout"))
        record.info[_GREETING_ONLY] = True

    def connected(driver_connection: Any, record: Any) -> None:
        if record.info.pop(_GREETING_ONLY, False):
            driver_connection._read_timeout = None  # noqa: SLF001  (PyMySQL's setting)

    event.listen(engine, "do_connect", connect)  # before the budget's, which connects
    event.listen(engine, "connect", connected)


# Global privileges a read-only transaction does not stop: files, and the server's
# own state (other sessions, settings); ALL PRIVILEGES holds them all.
_BEYOND_READING = re.compile(r"\bGRANT (?:ALL PRIVILEGES|.*?\b(?:SUPER|FILE)\b.*?) ON \*\.\*")


def excess_privilege(driver_connection: Any) -> str | None:
    """A user's reads that hold SUPER or FILE on every database (``SHOW GRANTS``)."""
    cursor = drivers.call(driver_connection, "cursor")
    try:
        drivers.call(cursor, "execute", "SHOW GRANTS")
        grants = [str(row[0]) for row in drivers.call(cursor, "fetchall")]
    finally:
        drivers.call(cursor, "close")
    if any(_BEYOND_READING.search(grant) for grant in grants):
        return "with SUPER or FILE privileges"
    return None


def _select_limit(max_rows: int | None) -> str:
    """The rows a result may send: one past max_rows, the row that shows it has more."""
    return "DEFAULT" if max_rows is None or max_rows < 0 else str(max_rows + 1)


def refusal_reason(error: BaseException) -> str | None:
    code = _code(error)
    if code in READ_ONLY_ERRORS:
        message = error.args[1] if len(error.args) > 1 else str(error)
        return str(message).strip().splitlines()[0]
    return None


def limit_reached(context: ExceptionContext) -> Limit | None:
    return "timeout" if _code(context.original_exception) in _TIMEOUT_ERRORS else None


def _code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


# --- the guards' events -------------------------------------------------------------


def _connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    driver_connection = record.driver_connection
    # Anything run outside a dbnb transaction (the dialect's start-up) reads only.
    drivers.call(driver_connection, "query", "SET SESSION TRANSACTION READ ONLY")
    drivers.call(driver_connection, "query", f"SET SESSION time_zone = '{SESSION_TIME_ZONE}'")


def _begin(connection: Connection) -> None:
    driver_connection = connection.connection.driver_connection
    if is_write(connection):
        drivers.call(driver_connection, "query", "SET SESSION TRANSACTION READ WRITE")
        drivers.call(driver_connection, "query", "START TRANSACTION READ WRITE")
        return
    if drivers.call(driver_connection, "get_autocommit"):
        raise ReadOnlyError(
            "a read-only session cannot run in autocommit mode; "
            + remedies.how_to_write(managed=managed(connection))
        )
    # The session too: a DDL statement commits the transaction, then runs in the session's.
    drivers.call(driver_connection, "query", "SET SESSION TRANSACTION READ ONLY")
    drivers.call(driver_connection, "query", "START TRANSACTION READ ONLY")


def _commit(connection: Connection) -> None:
    """A commit of a read (session.commit() in a read-only session) keeps nothing."""
    if not is_write(connection):
        drivers.call(connection.connection.driver_connection, "rollback")


def _after_execute(connection: Connection, connection_name: str) -> None:
    if is_write(connection):
        return
    driver_connection: Any = connection.connection.driver_connection
    status = driver_connection.server_status
    if status is not None and not status & _IN_TRANSACTION:
        # The statement ended dbnb's read-only transaction: no later one may run here.
        connection.invalidate()
        raise refusal(
            connection_name,
            "the statement ended the read-only transaction (COMMIT, or a statement "
            "that commits implicitly)",
            connection,
        )
