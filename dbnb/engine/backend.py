"""What the engine layer asks of a database's backend: ``EngineBackend``.

What is specific to one database (how it is made to refuse writes, how its
statements time out and stop on Ctrl-C, how it says it refused a write, what its
driver is given) lives in that database's backend, a ``dbnb.backends.base.Backend``
subclass. The engine layer never imports one: whoever opens a connection resolves
its backend once (``dbnb.backends.registry``) and hands it down as an argument,
typed by this protocol, which names nothing above the engine layer. Each layer
above says what it asks in the same way (``dbnb.read.backend``, ``dbnb.write.bulk``,
``dbnb.connections.health``, ``dbnb.see.backend``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, CursorResult, Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.engine.budget import ConnectionBudget
    from dbnb.sql.readable import ReadRules

Limit = Literal["timeout", "interrupt"]


@dataclass(frozen=True)
class EngineArguments:
    """What ``sqlalchemy.create_engine`` (or its async twin) is given for a connection:
    built once (``dbnb.engine.engines``), for the sync and async engines alike, and
    completed by the backend (``EngineBackend.engine_arguments``)."""

    url: URL
    connect_args: dict[str, Any]
    options: dict[str, Any]
    budget: ConnectionBudget | None  # None: an in-memory SQLite database, or unpooled


class EngineBackend(Protocol):
    """What the engine layer asks of a database's backend."""

    # What a read may send, checked before it is sent; None: the server's guards alone.
    @property
    def read_rules(self) -> ReadRules | None: ...

    # The server's port where a URL names none, for messages; None: not known.
    @property
    def default_port(self) -> int | None: ...

    def driver_extra(self, name: str) -> tuple[str, str] | None:
        """The package that brings database ``name``'s SQLAlchemy dialect and dbnb's extra
        that installs it (``pip install 'dbnb[EXTRA]'``); None: nothing to name."""

    def install_guards(self, engine: Engine, connection_name: str) -> None:
        """Make the database itself refuse writes in every read transaction."""

    def install_limits(self, engine: Engine, config: ConnectionConfig) -> None:
        """Make statement_timeout (and Ctrl-C) end a statement in the database."""

    def excess_privilege(self, driver_connection: Any) -> str | None:
        """What a connection may do beyond reading that a read-only transaction does
        not stop ("as the superuser postgres"), for a warning; None: nothing."""

    def refusal_reason(self, error: BaseException) -> str | None:
        """Why the database refused a statement as a write, on one line; None if not."""

    def limit_reached(self, context: ExceptionContext) -> Limit | None:
        """Whether a failure is a statement_timeout or an interrupt ending it."""

    def close_result(self, result: CursorResult[Any], config: ConnectionConfig) -> None:
        """Close a result whose rows may not all have been read, without the server
        sending the rest."""

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """Ask the database to end the statement ``connection`` runs on another thread
        (a background job's cancel, ``dbnb.engine.stopping``); nothing where it cannot."""

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """What the database's driver is given beyond the config's own."""
