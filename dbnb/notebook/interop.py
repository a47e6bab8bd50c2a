"""Using a named dbnb connection from other SQL tools, such as jupysql's ``%sql``.

``dbnb.sql_engine("replica")`` is the connection's pooled engine with dbnb's
read-only guards on: hand it to jupysql (``%sql replica_engine --alias replica``)
after ``%config SqlMagic.autocommit = False``, because dbnb refuses to read in
autocommit mode (the server's read-only transaction is what keeps a read a
read). ``write=True`` asks for an engine whose transactions may write; the
connection must allow writes (no ``readonly: true``), and it is offered on
PostgreSQL only: there, with jupysql's autocommit on, each statement commits.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from dbnb.backends.registry import backend_for
from dbnb.connections.facade import Facade
from dbnb.connections.registry import connect
from dbnb.engine import readonly
from dbnb.errors import DbnbError


def sql_engine(connection: Facade | str | None = None, *, write: bool = False) -> Engine:
    """The engine of a dbnb connection for another SQL tool: read-only unless ``write``."""
    db = connection if isinstance(connection, Facade) else connect(connection)
    if not write:
        return db.engine
    db.require_writable()
    if not backend_for(db.config.backend).lends_writing_engine:
        raise DbnbError(
            f"connection {db.name!r}: a writing engine for other tools is offered on PostgreSQL "
            f"only, not {db.config.backend}; write with %%db --write or db.session(write=True)"
        )
    return db.engine.execution_options(**{readonly.WRITE_OPTION: True})
