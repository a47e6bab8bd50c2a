"""Read-only enforced by the database, not by inspecting SQL.

Every transaction on a dbnb engine is either a read or a write. The mode is the
execution option ``dbnb_write`` of the SQLAlchemy connection, and each
database's guards (``dbnb/backends/NAME.py``: PostgreSQL's ``BEGIN READ ONLY``,
SQLite's ``query_only`` and authorizer) set the database up for it afresh at the
start of every transaction, so no state can leak through the pool from one mode
into the other. Other SQLAlchemy dialects get no server-side guard: reads are
rolled back, but only PostgreSQL and SQLite refuse writes on dbnb's behalf.

This module holds what every database shares: the mode, and the one refusal
message, whose remedy fits where the user is (``dbnb.engine.remedies``).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from dbnb.engine import remedies
from dbnb.engine.backend import backend_for
from dbnb.errors import ReadOnlyError

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


def install(engine: Engine, *, connection_name: str) -> None:
    """Attach the database's read-only guards to a new engine, and word its refusals."""
    backend = backend_for(engine.dialect.name)
    backend.install_guards(engine, connection_name)

    def translate(context: ExceptionContext) -> None:
        connection = context.connection
        if connection is None or connection.invalidated or is_write(connection):
            return
        reason = backend.refusal_reason(context.original_exception)
        if reason is not None:
            raise refusal(connection_name, reason, connection) from None

    event.listen(engine, "handle_error", translate)
