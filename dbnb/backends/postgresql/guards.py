"""PostgreSQL's guards: read-only enforced by the server, statement_timeout set by it.

Read-only
    A read runs in ``BEGIN READ ONLY``, and a first ``SELECT`` takes the
    transaction's snapshot at once: after that the server refuses
    ``SET TRANSACTION READ WRITE`` ("must be set before any query").
    Statements go through the extended protocol (``prepare_threshold = 0``),
    where the server accepts one statement per call, so ``SELECT 1; COMMIT;
    INSERT ...`` is refused. A statement that ends the transaction (``COMMIT``,
    ``ROLLBACK``, ``PREPARE TRANSACTION``) is caught right after it runs: the
    connection is thrown away, so nothing it set can outlive the session.

Limits
    ``SET LOCAL statement_timeout`` at the start of every transaction, so the
    server itself cancels a statement that runs too long. On Ctrl-C psycopg
    cancels the running statement on the server when the wait for its result is
    interrupted; SQLAlchemy then discards the connection.

The guards call the driver through ``dbnb.engine.drivers``, so they serve
psycopg's sync and async connections alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from dbnb.backends.postgresql.lexical import LEXICAL_RULES
from dbnb.engine import drivers, remedies
from dbnb.engine.limits import timeout_of
from dbnb.engine.readonly import is_write, managed, refusal
from dbnb.errors import ReadOnlyError
from dbnb.sql import sqlscan

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, ExceptionContext
    from sqlalchemy.pool import ConnectionPoolEntry

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit


# SQLSTATEs that mean "this would have written".
READ_ONLY_STATES = {
    "25006",  # read_only_sql_transaction
    "25001",  # active_sql_transaction: SET TRANSACTION READ WRITE after the first query
}
# The same refusals as words: an error from the middle of a columnar stream reaches
# dbnb as text, without its SQLSTATE.
_READ_ONLY_WORDS = ("in a read-only transaction", "read-write mode must be set before")
_MULTIPLE_STATEMENTS = "cannot insert multiple commands into a prepared statement"
_ONE_STATEMENT = (
    "one statement per call (several statements in one call could leave read-only mode)"
)
_DEFAULT_PREPARE_THRESHOLD = "dbnb_prepare_threshold"
# The execution option naming a connection's read_role (set on its engine).
READ_ROLE_OPTION = "dbnb_read_role"


def install_guards(engine: Engine, connection_name: str) -> None:
    event.listen(engine, "connect", _connect)
    event.listen(engine, "begin", _begin)

    def after_execute(connection: Connection, *_: Any) -> None:
        _after_execute(connection, connection_name)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", _commit)


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
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


def excess_privilege(driver_connection: Any) -> str | None:
    """A superuser's reads (the server says so when the connection opens)."""
    if driver_connection.info.parameter_status("is_superuser") == "on":
        return f"as the superuser {driver_connection.info.user!r}"
    return None


def refusal_reason(error: BaseException) -> str | None:
    sqlstate = getattr(error, "sqlstate", None)
    text = " ".join(str(error).split())
    if sqlstate == "42601" and _MULTIPLE_STATEMENTS in text:
        return _ONE_STATEMENT
    if sqlstate in READ_ONLY_STATES or any(words in text for words in _READ_ONLY_WORDS):
        primary = getattr(getattr(error, "diag", None), "message_primary", None)
        return primary or str(error).strip().splitlines()[0]
    return None


def limit_reached(context: ExceptionContext) -> Limit | None:
    error = context.original_exception
    if getattr(error, "sqlstate", None) == "57014" and "statement timeout" in str(error):
        return "timeout"
    return None


def leading_keywords(statement: str) -> tuple[str, str]:
    """The first two words of a statement, past whitespace and comments, upper-cased
    (``sqlscan.leading_keywords``: PostgreSQL's comments nest)."""
    words = sqlscan.leading_keywords(statement, LEXICAL_RULES)
    return (words[0] if words else "", words[1] if len(words) > 1 else "")


# --- the guards' events -------------------------------------------------------------


def _connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    driver_connection: Any = record.driver_connection
    record.info[_DEFAULT_PREPARE_THRESHOLD] = driver_connection.prepare_threshold
    # Anything run outside a dbnb transaction (pings, dialect start-up) reads only.
    drivers.call(driver_connection, "set_read_only", True)


def _begin(connection: Connection) -> None:
    driver_connection: Any = connection.connection.driver_connection
    if is_write(connection):
        # BEGIN READ WRITE, whatever the session default.
        drivers.call(driver_connection, "set_read_only", False)
        driver_connection.prepare_threshold = connection.connection.info.get(
            _DEFAULT_PREPARE_THRESHOLD, 5
        )
        return
    if driver_connection.autocommit:
        raise ReadOnlyError(
            "a read-only session cannot run in autocommit mode; "
            + remedies.how_to_write(managed=managed(connection))
        )
    drivers.call(driver_connection, "set_read_only", True)
    driver_connection.prepare_threshold = 0
    # Take the snapshot now (psycopg sends BEGIN READ ONLY first): from here on
    # the server refuses SET TRANSACTION READ WRITE. With a read_role, the same
    # statement makes the transaction's role that one (SET LOCAL ROLE): the
    # database's own privileges, not dbnb's list, bound what the read can reach.
    role = connection.get_execution_options().get(READ_ROLE_OPTION)
    if role:
        drivers.run(driver_connection, "SELECT set_config('role', %s, true)", [role])
    else:
        drivers.run(driver_connection, "SELECT 1")


def _commit(connection: Connection) -> None:
    """A commit of a read (session.commit() in a read-only session) keeps nothing."""
    if not is_write(connection):
        drivers.call(connection.connection.driver_connection, "rollback")


def _after_execute(connection: Connection, connection_name: str) -> None:
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
