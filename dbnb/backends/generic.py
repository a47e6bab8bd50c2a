"""Any other SQLAlchemy dialect: no server-side guard (reads are rolled back, but
only PostgreSQL and SQLite refuse writes on dbnb's behalf), no timeout of dbnb's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dbnb.sql.binds import BindRules
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ExceptionContext

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import Limit
    from dbnb.engine.engines import EngineArguments
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked

# The async driver of async sessions (dbnb.connections.aio), beside the sync one.
async_driver: str | None = None
read_rules = None  # no server-side guard to back an allow-list: reads are rolled back
bind_rules = BindRules()  # values as they are: the dialect's driver adapts them
write_rules = WriteRules()  # validation as SQLAlchemy's types say, no more
name = "generic"
interrupted: str | None = None  # the dialect's driver decides what Ctrl-C stops


def install_guards(engine: Engine, connection_name: str) -> None:
    """Nothing to install: the dialect's reads are rolled back, not refused."""


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    """Nothing to install: statement_timeout is PostgreSQL's and SQLite's."""


def refusal_reason(error: BaseException) -> str | None:
    return None


def limit_reached(context: ExceptionContext) -> Limit | None:
    return None


def close_result(result: CursorResult[Any], config: ConnectionConfig) -> None:
    """Closing the cursor is all a driver needs (a server-side cursor is closed on the
    server: psycopg's ``CLOSE``)."""
    result.close()


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


def stop_statement(connection: Connection, config: ConnectionConfig) -> None:
    pass  # no way to ask: the write stops before its next batch (``dbnb.write.bulk``)


def server_name(dialect: Dialect) -> str | None:
    return None  # health names the server by its dialect


def write_probe(table: str) -> str | None:
    return None  # no guard of dbnb's to check


# --- seeing the data (issue 14): the SQL dbnb.see sends, in standard SQL -------------
# Shared by the databases whose home does not say otherwise (SQLite reuses most of it).


def explain_statement(sql: str, analyze: bool) -> str | None:
    """The statement showing ``sql``'s plan; None when only running ``sql`` can
    measure it (``analyze``), as here: EXPLAIN ANALYZE is not standard."""
    return None if analyze else f"EXPLAIN {sql}"


def plan_text(rows: Sequence[Sequence[Any]]) -> str:
    """The rows an EXPLAIN returned, one line each."""
    return "\n".join(" | ".join("" if cell is None else str(cell) for cell in row) for row in rows)


def plan_summary(plan: str) -> str:
    """One line about the plan's estimates: none that dbnb reads here."""
    return "no cost estimate"


def floor(expression: str) -> str:
    return f"FLOOR({expression})"


def histogram_bin(value: str, low: str, high: str, bins: int) -> str:
    """The 0-based bin of ``value`` among ``bins`` equal bins from ``low`` to ``high``,
    the last one closed (as numpy.histogram); 0 when every value is the same."""
    return bin_by_floor(value, low, high, bins, floor)


def bin_by_floor(value: str, low: str, high: str, bins: int, floor: Callable[[str], str]) -> str:
    position = f"({value} - {low}) * 1.0 * {bins} / ({high} - {low})"
    return (
        f"CASE WHEN {high} = {low} THEN 0 WHEN {value} >= {high} THEN {bins - 1} "
        f"ELSE {floor(position)} END"
    )


def quartiles(value: str, source: str) -> str:
    """One row: ``n, low, q1, median, q3, high`` of the non-NULL ``value``s of ``source``,
    the quartiles interpolated linearly (pandas' and numpy's default)."""
    return quartiles_by_rank(value, source, floor)


QUANTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75}


def quartiles_by_rank(value: str, source: str, floor: Callable[[str], str]) -> str:
    """``quartiles`` for a database without percentile functions: each quartile lies
    between the values ranked at ``floor(p * (n - 1))`` and the next, picked by one
    pass over the ranked values (their rows never leave the database)."""
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


def grouped_counts(keys: Sequence[str], source: str) -> str | None:
    """None: no GROUPING SETS assumed; the profile groups each column on its own."""
    return None


def epoch_seconds(value: str) -> str:
    """SQL: a date or timestamp as seconds since 1970-01-01 00:00 (a timestamp without
    a time zone as if in UTC), for bins over time."""
    return f"EXTRACT(EPOCH FROM {value})"


def mean(value: str) -> str:
    """SQL: the mean of a number column (the database's own ``avg``)."""
    return f"avg({value})"


def comparable(value: str, kind: str) -> str:
    """``value`` as min, max and a tie between most frequent values compare it, in the
    order Python compares the values read (``kind``: number, text, enum, bool, time,
    bytes); a value of a kind with no order or equality of its own (json, other) as its
    text, by which it is counted."""
    return as_text(value, kind, "CHAR")


def as_text(value: str, kind: str, text_type: str) -> str:
    """``value`` as it is (most kinds), or its text for json and other kinds."""
    return f"CAST({value} AS {text_type})" if kind in ("json", "other") else value


def engine_arguments(
    arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
) -> EngineArguments:
    return arguments  # the dialect's own defaults


def excess_privilege(driver_connection: Any) -> str | None:
    """Nothing known of another database's privileges."""
    return None


def __getattr__(name: str) -> Any:
    """``lexical_rules``: any other dialect's text is read as PostgreSQL reads it (DuckDB's
    parser is PostgreSQL's). Found when first asked for, as PostgreSQL's home, which
    builds on this module, cannot be imported while this one is."""
    if name == "lexical_rules":
        from dbnb.backends.postgresql.lexical import LEXICAL_RULES

        return LEXICAL_RULES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
