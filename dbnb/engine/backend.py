"""The engine layer's one view of a database: the ``Backend`` interface.

What is specific to one database (how it is made to refuse writes, how its
statements time out and stop on Ctrl-C, how it says it refused a write, how it
reads columnar results and describes its types, how it writes in bulk, how its
health is probed) lives in that database's home, ``dbnb/backends/NAME/``. The engine layer finds it
by the dialect's name at run time, as SQLAlchemy finds its dialects, and never
imports it: a backend builds on the engine layer, and adding a database adds a
module (``generic`` serves every other SQLAlchemy dialect, with no guard).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.engine.engines import EngineArguments
    from dbnb.facade import Facade
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.sql.readable import ReadRules
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.columns import WriteRules
    from dbnb.write.validate import Checked

Limit = Literal["timeout", "interrupt"]


class Backend(Protocol):
    """What the engine layer asks of a database's home."""

    name: str
    async_driver: str | None  # SQLAlchemy's async driver for async sessions; None: none
    write_rules: WriteRules  # what its columns hold, checked before a write sends anything
    # What a read may send, checked before it is sent; None: the server's guards alone.
    read_rules: ReadRules | None
    # What Ctrl-C does to a statement still running, as the notebook says it
    # ("cancelled on the server"); None: nothing dbnb can promise.
    interrupted: str | None

    def server_name(self, dialect: Dialect) -> str | None:
        """The server's name as health reports its version ("PostgreSQL"); None: the
        dialect's."""

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
        sending the rest (``result.close()`` where closing already stops it)."""

    # The engine (dbnb.engine.engines)

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """What the database's driver is given beyond the config's own (read-only
        sessions, ``connect_timeout`` seconds for health checks, files, pooling)."""

    # Reads and their types (dbnb.read)

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """The columnar (ADBC) reads of ``config``, or None: the guarded path only."""

    def result_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type as the database described a guarded result: exact, so it
        wins over the statement's own types; None where it says nothing."""

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type where neither the database nor the statement said one."""

    # Writes (dbnb.write)

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """How checked rows are sent in ``connection``'s open transaction."""

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """Ask the database to end the statement ``connection`` runs on another thread
        (Ctrl-C during a write); the statement then fails there, the connection still
        usable for the rollback. Nothing where the database cannot be asked."""

    # Health (dbnb.health)

    def write_probe(self, table: str) -> str | None:
        """A write creating ``table`` that the read-only transaction must refuse, to
        prove the guard works; None where there is no guard of dbnb's to prove."""

    # Seeing the data (dbnb.see, issue 14): the SQL of plots, profiles and plans

    def explain_statement(self, sql: str, analyze: bool) -> str | None:
        """The statement showing ``sql``'s plan; None: ``analyze`` runs ``sql`` itself."""

    def plan_text(self, rows: Sequence[Sequence[Any]]) -> str:
        """The plan's rows as text, one line per step."""

    def plan_summary(self, plan: str) -> str:
        """One line: the plan's estimated cost and rows (and actual ones, analyzed)."""

    def histogram_bin(self, value: str, low: str, high: str, bins: int) -> str:
        """SQL: the 0-based bin of ``value`` among ``bins`` from ``low`` to ``high``."""

    def quartiles(self, value: str, source: str) -> str:
        """SQL: one row ``n, low, q1, median, q3, high`` of ``value`` over ``source``."""

    def comparable(self, value: str, kind: str) -> str:
        """SQL: ``value`` ordered as Python orders the values read."""

    def most_frequent(self, value: str, ordered: str, source: str) -> str:
        """SQL: the most frequent non-NULL ``value`` of ``source``; of equals, the first
        in ``ordered``'s order."""

    def grouped_counts(self, keys: Sequence[str], source: str) -> str | None:
        """SQL: one row, ``g{i}_d`` the distinct non-NULL values of each of ``keys`` over
        ``source``, ``g{i}_v`` the most frequent (of equals the first in order), ``g{i}_n``
        the non-NULL values, ``g{i}_lo`` and ``g{i}_hi`` the smallest and largest, from
        one scan; None: the profile groups each key by a subquery of its own."""

    def epoch_seconds(self, value: str) -> str:
        """SQL: a date or timestamp as seconds since 1970 (for bins over time)."""

    def mean(self, value: str) -> str:
        """SQL: the mean of the numbers ``value``, as exact as pandas' float mean."""


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


# --- Databases reached without SQLAlchemy ----------------------------------------------
# A database with no SQLAlchemy dialect brings its own facade: the registry asks its
# home to open one per name, and every front end uses it as it uses ``Database``.


class FacadeBackend(Protocol):
    """The home of a database reached without SQLAlchemy."""

    def open(self, config: ConnectionConfig) -> Facade:
        """The facade of connection ``config`` (its client loads on first use)."""


# Each such database's home, by the backend name of its config.
_FACADE_HOMES = {
    "spark": "dbnb.backends.spark",
}


def facade_for(config: ConnectionConfig) -> Facade | None:
    """The facade ``config``'s own backend opens; None: SQLAlchemy's ``Database`` serves it."""
    home = _FACADE_HOMES.get(config.backend)
    if home is None:
        return None
    return cast("FacadeBackend", importlib.import_module(home)).open(config)
