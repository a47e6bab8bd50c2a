"""``Backend``: what dbnb does on one database, with defaults that work for any
SQLAlchemy dialect.

The base class is what a connection of a dialect dbnb has no backend for gets:
reads are rolled back, not refused (no guard of dbnb's), no timeout of dbnb's,
SQLAlchemy's ``executemany`` for writes, standard SQL for plots, profiles and
plans. Each database dbnb knows subclasses it and overrides what differs
(``postgresql.PostgreSQL``, ``sqlite.SQLite``, ``mysql.MySQL``); another package
adds one the same way and registers it by entry point (``dbnb.backends.registry``,
"Adding a database" in the manual). One instance serves every connection of its
database: it holds no state of a connection's.

The layers below ask for parts of it, each by a protocol of its own
(``dbnb.engine.backend.EngineBackend``, ``dbnb.read.backend.ReadBackend``,
``dbnb.write.bulk.WriteBackend``, ``dbnb.connections.health.HealthBackend``,
``dbnb.see.backend.SeeBackend``); this class answers them all, which mypy checks
where a connection hands its backend down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dbnb.sql.binds import BindRules
from dbnb.sql.prepared import SqlRules
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.connections.facade import Facade
    from dbnb.engine.backend import EngineArguments, Limit
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.sql.readable import ReadRules
    from dbnb.sql.sqlscan import LexicalRules
    from dbnb.typetable import TypeTable
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked


# Databases dbnb has no backend of its own for, whose SQLAlchemy dialect an extra of dbnb
# installs (pyproject.toml's optional-dependencies): (the package, the extra).
DIALECT_EXTRAS = {"duckdb": ("duckdb-engine", "duckdb")}


class Backend:
    """Any SQLAlchemy dialect: no guard of dbnb's, executemany, standard SQL."""

    name: str = "generic"  # the database it serves (a subclass: as it is registered)
    # What a read may send, checked before it is sent; None: no guard of dbnb's to back
    # an allow-list, reads are rolled back.
    read_rules: ReadRules | None = None
    write_rules: WriteRules = WriteRules()  # validation as SQLAlchemy's types say, no more
    async_driver: str | None = None  # SQLAlchemy's async driver for async sessions; None: none
    # What Ctrl-C does to a statement still running, as the notebook says it ("cancelled
    # on the server"); None: nothing dbnb can promise (the driver decides).
    interrupted: str | None = None
    bind_rules: BindRules = BindRules()  # values as they are: the dialect's driver adapts them
    # Its types as it spells them: the dtype each reads as, how a profile summarizes it
    # (``dbnb.typetable``, the README's dtype table); None: SQLAlchemy's types' rules alone.
    type_table: TypeTable | None = None
    # How the names of the schemas a database keeps its own catalog in begin, left out of
    # completion: the SQL standard's and PostgreSQL's (whose catalog DuckDB copies).
    system_schemas: tuple[str, ...] = ("pg_", "information_schema")
    # Whether a migration alters a table by copying it (Alembic's batch mode), as a
    # database whose ALTER TABLE changes little must.
    alters_by_copying: bool = False
    # Whether another SQL tool (jupysql) may be lent an engine whose transactions write
    # (``dbnb.sql_engine(write=True)``): only where that tool's autocommit commits each
    # statement dbnb's write transaction runs.
    lends_writing_engine: bool = False
    # The server's port where a URL names none, for messages ("no answer from host:5432");
    # None: a URL without one names its host alone.
    default_port: int | None = None

    @property
    def lexical_rules(self) -> LexicalRules:
        """How its SQL text reads (literals, comments, placeholders): any other dialect's
        as PostgreSQL's (DuckDB's parser is PostgreSQL's)."""
        from dbnb.backends.postgresql.lexical import LEXICAL_RULES

        return LEXICAL_RULES

    @functools.cached_property
    def sql_rules(self) -> SqlRules:
        """What the SQL layer takes of this database, as one object (``dbnb.sql.prepared``)."""
        return SqlRules(self.lexical_rules, self.bind_rules, self.read_rules)

    def open(self, config: ConnectionConfig) -> Facade | None:
        """The facade of a database reached without SQLAlchemy; None: ``Database`` serves it."""
        return None

    # --- the engine (dbnb.engine) ------------------------------------------------------

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """What the driver is given beyond the config's own: the dialect's defaults."""
        return arguments

    def driver_extra(self, name: str) -> tuple[str, str] | None:
        """The package that brings database ``name``'s SQLAlchemy dialect and the extra of
        dbnb that installs it, for the error when it is missing; None: nothing to name.
        Any database's, by ``DIALECT_EXTRAS``; a backend whose driver is an extra says so."""
        return DIALECT_EXTRAS.get(name)

    def install_guards(self, engine: Engine, connection_name: str) -> None:
        """Make the database refuse writes in read transactions: nothing, reads roll back."""

    def install_limits(self, engine: Engine, config: ConnectionConfig) -> None:
        """Make statement_timeout and Ctrl-C end a statement in the database: nothing here."""

    def excess_privilege(self, driver_connection: Any) -> str | None:
        """What a read may do beyond reading, for a warning: nothing known here."""
        return None

    def refusal_reason(self, error: BaseException) -> str | None:
        """Why the database refused a statement as a write, on one line; None: not that."""
        return None

    def limit_reached(self, context: ExceptionContext) -> Limit | None:
        """Whether a failure is a statement_timeout or Ctrl-C ending it; None: neither."""
        return None

    def close_result(self, result: CursorResult[Any], config: ConnectionConfig) -> None:
        """Close a result before its end: closing the cursor (on the server, if there)."""
        result.close()

    # --- reads and their types (dbnb.read) ---------------------------------------------

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """The columnar (Arrow) reads of ``config``; None: the guarded path only."""
        return None

    def result_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type as the database described a result; None: it said nothing."""
        return [None] * count

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type where neither the database nor the statement said one."""
        return [None] * count

    # --- writes (dbnb.write) -----------------------------------------------------------

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """How checked rows are sent: SQLAlchemy's executemany, no upsert."""
        from dbnb.write.bulk import ExecutemanyWriter

        return ExecutemanyWriter(connection, checked, sent)

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """End the statement another thread runs (Ctrl-C during a write, a background
        job's cancel): no way to ask; a write stops before its next batch."""

    # --- health (dbnb.connections.health) ----------------------------------------------

    def server_name(self, dialect: Dialect) -> str | None:
        """The server's name as health reports its version; None: the dialect's."""
        return None

    def write_probe(self, table: str) -> str | None:
        """A write the read-only transaction must refuse; None: no guard of dbnb's to prove."""
        return None

    # --- seeing the data (dbnb.see): standard SQL --------------------------------------

    def explain_statement(self, sql: str, analyze: bool) -> str | None:
        """``EXPLAIN sql``; None when analyzed (standard SQL has no EXPLAIN ANALYZE)."""
        return None if analyze else f"EXPLAIN {sql}"

    def plan_text(self, rows: Sequence[Sequence[Any]]) -> str:
        """The rows an EXPLAIN returned, one line each."""
        return "\n".join(
            " | ".join("" if cell is None else str(cell) for cell in row) for row in rows
        )

    def plan_summary(self, plan: str) -> str:
        """One line about the plan's estimates: none that dbnb reads here."""
        return "no cost estimate"

    def histogram_bin(self, value: str, low: str, high: str, bins: int) -> str:
        """SQL: the 0-based bin of ``value`` among ``bins`` from ``low`` to ``high``."""
        return bin_by_floor(value, low, high, bins, floor)

    def quartiles(self, value: str, source: str) -> str:
        """SQL: one row ``n, low, q1, median, q3, high`` of ``value`` over ``source``."""
        return quartiles_by_rank(value, source, floor)

    def comparable(self, value: str, kind: str) -> str:
        """SQL: ``value`` as it is, or its text for a kind with no order (json, other)."""
        return as_text(value, kind, "CHAR")

    def most_frequent(self, value: str, ordered: str, source: str) -> str:
        """SQL: the most frequent non-NULL ``value``, of equals the first by ``ordered``."""
        return most_frequent(value, ordered, source)

    def grouped_counts(self, keys: Sequence[str], source: str) -> str | None:
        """None: no GROUPING SETS assumed; the profile groups each column on its own."""
        return None

    def long_text(self, type_name: str) -> bool:
        """False: counting and grouping text costs the same whatever its declared type."""
        return False

    def within_width(self, value: str, width: int) -> str:
        """``value`` as it is (``long_text`` is False)."""
        return value

    def epoch_seconds(self, value: str) -> str:
        """SQL: a date or timestamp as seconds since 1970 (a naive one as if in UTC)."""
        return f"EXTRACT(EPOCH FROM {value})"

    def mean(self, value: str) -> str:
        """SQL: the mean of a number column, by the database's own ``avg``."""
        return f"avg({value})"


# --- standard SQL the backends' own spellings build on --------------------------------


def floor(expression: str) -> str:
    return f"FLOOR({expression})"


def bin_by_floor(value: str, low: str, high: str, bins: int, floor: Callable[[str], str]) -> str:
    """The 0-based bin of ``value`` among ``bins`` equal bins from ``low`` to ``high``,
    the last one closed (as numpy.histogram); 0 when every value is the same."""
    position = f"({value} - {low}) * 1.0 * {bins} / ({high} - {low})"
    return (
        f"CASE WHEN {high} = {low} THEN 0 WHEN {value} >= {high} THEN {bins - 1} "
        f"ELSE {floor(position)} END"
    )


QUANTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75}


def quartiles_by_rank(value: str, source: str, floor: Callable[[str], str]) -> str:
    """``quartiles`` for a database without percentile functions: each quartile lies
    between the values ranked at ``floor(p * (n - 1))`` and the next, picked by one
    pass over the ranked values (their rows never leave the database), interpolated
    linearly (pandas' and numpy's default)."""
    picks, results = [], []
    for name, p in QUANTILES.items():
        rank = floor(f"{p} * (n - 1)")
        picks.append(f"max(CASE WHEN i = {rank} THEN x END) AS {name}_a")
        picks.append(f"max(CASE WHEN i = {rank} + 1 THEN x END) AS {name}_b")
        fraction = f"({p} * (n - 1) - {floor(f'{p} * (n - 1)')})"
        results.append(
            f"{name}_a + (COALESCE({name}_b, {name}_a) - {name}_a) * {fraction} AS {name}"
        )
    return (
        "WITH ranked AS (SELECT x, row_number() OVER (ORDER BY x) - 1 AS i, "
        f"count(*) OVER () AS n FROM (SELECT {value} AS x FROM {source}) AS dbnb_values "
        "WHERE x IS NOT NULL), "
        f"picked AS (SELECT max(n) AS n, min(x) AS low, max(x) AS high, {', '.join(picks)} "
        "FROM ranked) "
        f"SELECT COALESCE(n, 0) AS n, low, {', '.join(results)}, high FROM picked"
    )


def most_frequent(value: str, ordered: str, source: str) -> str:
    """SQL: the most frequent non-NULL ``value`` of ``source``, of equals the first in
    ``ordered``'s order: a scalar subquery (a scan of its own, grouping by a hash where
    the database can)."""
    return (
        f"(SELECT {value} FROM {source} WHERE {value} IS NOT NULL GROUP BY {value} "
        f"ORDER BY count(*) DESC, {ordered} LIMIT 1)"
    )


def as_text(value: str, kind: str, text_type: str) -> str:
    """``value`` as min, max and a tie between most frequent values compare it, in the
    order Python compares the values read (``kind``: number, text, enum, bool, time,
    bytes); a value of a kind with no order or equality of its own (json, other) as its
    text (``text_type``), by which it is counted."""
    return f"CAST({value} AS {text_type})" if kind in ("json", "other") else value
