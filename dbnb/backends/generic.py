"""Any other SQLAlchemy dialect: no server-side guard (reads are rolled back, but
only PostgreSQL and SQLite refuse writes on dbnb's behalf), no timeout of dbnb's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked

server_name: str | None = None  # as health reports its version
# The async driver of async sessions (dbnb.aio), beside the sync one.
async_driver: str | None = None
write_rules = WriteRules()  # validation as SQLAlchemy's types say, no more
name = "generic"


def install_guards(engine: Engine, connection_name: str) -> None:
    """Nothing to install: the dialect's reads are rolled back, not refused."""


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    """Nothing to install: statement_timeout is PostgreSQL's and SQLite's."""


def refusal_reason(error: BaseException) -> str | None:
    return None


def limit_reached(context: ExceptionContext) -> Limit | None:
    return None


def columnar(config: ConnectionConfig) -> Columnar | None:
    return None  # reads take the guarded path


def result_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    return [None] * count  # the statement's types, else the values


def declared_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    return [None] * count


def bulk_writer(connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
    """SQLAlchemy's executemany; no upsert (its clause is each dialect's own)."""
    from dbnb.write.bulk import ExecutemanyWriter

    return ExecutemanyWriter(connection, checked, sent)


def write_probe(table: str) -> str | None:
    return None  # no guard of dbnb's to check
