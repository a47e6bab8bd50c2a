"""The engine layer's one view of a database: the ``Backend`` interface.

What is specific to one database (how it is made to refuse writes, how its
statements time out and stop on Ctrl-C, how it says it refused a write) lives
in that database's home, ``dbnb/backends/NAME.py``. The engine layer finds it
by the dialect's name at run time, as SQLAlchemy finds its dialects, and never
imports it: a backend builds on the engine layer, and adding a database adds a
module (``generic`` serves every other SQLAlchemy dialect, with no guard).
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Literal, Protocol, cast

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, ExceptionContext

    from dbnb.config import ConnectionConfig

Limit = Literal["timeout", "interrupt"]


class Backend(Protocol):
    """What the engine layer asks of a database's home."""

    name: str

    def install_guards(self, engine: Engine, connection_name: str) -> None:
        """Make the database itself refuse writes in every read transaction."""

    def install_limits(self, engine: Engine, config: ConnectionConfig) -> None:
        """Make statement_timeout (and Ctrl-C) end a statement in the database."""

    def refusal_reason(self, error: BaseException) -> str | None:
        """Why the database refused a statement as a write, on one line; None if not."""

    def limit_reached(self, context: ExceptionContext) -> Limit | None:
        """Whether a failure is a statement_timeout or an interrupt ending it."""


# Each database's home, by SQLAlchemy dialect name.
_HOMES = {
    "postgresql": "dbnb.backends.postgresql",
    "sqlite": "dbnb.backends.sqlite",
    "mysql": "dbnb.backends.mysql",
    "mariadb": "dbnb.backends.mysql",  # SQLAlchemy's name for a mariadb:// URL's dialect
}


@functools.cache
def backend_for(dialect: str) -> Backend:
    """The home of the database SQLAlchemy names ``dialect``."""
    return cast("Backend", importlib.import_module(_HOMES.get(dialect, "dbnb.backends.generic")))
