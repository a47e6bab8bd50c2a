"""Read-only enforced by the database, not by inspecting SQL.

Every transaction on a dbnb engine is either a read or a write. The mode is the
execution option ``dbnb_write`` of the SQLAlchemy connection, and each
database's guards (its backend's, ``dbnb/backends/NAME/``: PostgreSQL's ``BEGIN
READ ONLY``, SQLite's ``query_only`` and authorizer, MariaDB's ``START TRANSACTION
READ ONLY``) set the database up for it afresh at the start of every transaction,
so no state can leak through the pool from one mode into the other. Other
SQLAlchemy dialects get no server-side guard (the base ``Backend``): reads are
rolled back, not refused.

This module holds what every database shares: the mode, and the one refusal
message, whose remedy fits where the user is (``dbnb.engine.remedies``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from dbnb.engine import remedies
from dbnb.engine.backend import EngineBackend
from dbnb.errors import QueryError, ReadOnlyError
from dbnb.sql import readable

WRITE_OPTION = "dbnb_write"


def is_write(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(WRITE_OPTION, False))


def managed(connection: Connection | None) -> bool:
    """Whether dbnb opened ``connection`` for a purpose (it says whether it writes);
    one taken straight from ``db.engine`` by another tool does not, and its refusal
    names that tool's remedies."""
    return connection is not None and WRITE_OPTION in connection.get_execution_options()


def refusal(
    connection_name: str, reason: str, connection: Connection | None = None
) -> ReadOnlyError:
    """The one read-only refusal: what was refused, and how to write from where it was."""
    how = remedies.how_to_write(managed=connection is None or managed(connection))
    return ReadOnlyError(f"connection {connection_name!r} is read-only here: {reason}; {how}")


def install(engine: Engine, backend: EngineBackend, *, connection_name: str) -> None:
    """Attach the database's read-only guards (its ``backend``'s) to a new engine, and
    word its refusals."""
    backend.install_guards(engine, connection_name)
    rules = backend.read_rules
    if rules is not None:

        def allow_list(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
            # Before the database's own guards see it: a read sends only what reads.
            if not is_write(connection):
                refused = readable.refusal(statement, rules)
                if refused is not None and refused.syntax:
                    raise QueryError(f"{connection_name}: {refused}")
                if refused is not None:
                    raise refusal(connection_name, refused.reason, connection)

        event.listen(engine, "before_cursor_execute", allow_list)
        _start_writes_afresh(engine, rules)

    def translate(context: ExceptionContext) -> None:
        connection = context.connection
        if connection is None or connection.invalidated or is_write(connection):
            return
        reason = backend.refusal_reason(context.original_exception)
        if reason is not None:
            raise refusal(connection_name, reason, connection) from None

    event.listen(engine, "handle_error", translate)


_SESSION_CHANGED = "dbnb_session_changed"


def _start_writes_afresh(engine: Engine, rules: readable.ReadRules) -> None:
    """A write session that changed its session (``SET sql_mode``, ``USE``, ``SET
    search_path``, a lock) gives its connection back to be closed: every session starts
    from the configured state, never from what an earlier one left."""

    def note(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if is_write(connection) and readable.changes_session(statement, rules):
            connection.connection.info[_SESSION_CHANGED] = True

    def checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_SESSION_CHANGED, False):
            raise exc.DisconnectionError("its session was changed by a write")  # a new one

    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine.pool, "checkout", checkout)
