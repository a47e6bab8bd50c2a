"""Any other SQLAlchemy dialect: no server-side guard (reads are rolled back, but
only PostgreSQL and SQLite refuse writes on dbnb's behalf), no timeout of dbnb's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit

name = "generic"


def install_guards(engine: Engine, connection_name: str) -> None:
    """Nothing to install: the dialect's reads are rolled back, not refused."""


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    """Nothing to install: statement_timeout is PostgreSQL's and SQLite's."""


def refusal_reason(error: BaseException) -> str | None:
    return None


def limit_reached(context: ExceptionContext) -> Limit | None:
    return None
