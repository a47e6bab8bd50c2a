"""SQL over DataFrames held in memory, through DuckDB: ``dbnb.query_frames`` and ``%%db frames``.

``query_frames(sql, {"orders": orders_df, "regions": regions_pl})`` runs ``sql``
in a DuckDB database of its own, made for the call and closed after it, where
each frame is a view by its name: pandas DataFrames, Arrow tables and polars
DataFrames (DuckDB reads them in place, without a copy). ``%%db frames`` does the
same with the notebook's frames named in the cell.

It reads only, and nothing but the frames:

- DuckDB's external access is off (``enable_external_access=false``): no file is
  read or written (``read_csv``, ``COPY ... TO``, ``ATTACH``), no extension is
  installed or loaded, nothing spills to a temporary folder, and the settings
  are locked, so a statement cannot turn any of it back on;
- each statement must be a query (``SELECT``, ``WITH``, ``VALUES``, ``TABLE``);
  anything else is a ``ReadOnlyError`` before it runs. The frames are views, so
  no statement can change them, and no variable is ever assigned.

``:name`` placeholders are bound as parameters (never spliced), as on every
connection, and each statement is recorded in ``dbnb.history()`` under the
connection name ``frames``. Results come back in dbnb's documented dtypes (or
as polars or Arrow with ``output=``): DuckDB's ``INTEGER`` is ``int32``,
``TIMESTAMPTZ`` is ``timestamp[us, tz=UTC]``, ``DECIMAL(p, s)`` is
``decimal128(p, s)``, ``INTERVAL`` is ``duration[us]`` (a month is 30 days, a
year 365, as PostgreSQL intervals are read), and ``JSON`` and ``UUID`` come as
text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy.engine import make_url

from dbnb.backends.registry import backend_for
from dbnb.config import ConnectionConfig
from dbnb.engine import monitor
from dbnb.errors import DbnbError, QueryError, ReadOnlyError, one_line
from dbnb.read import formats
from dbnb.sql import params, prepared, sqltext

NAME = "frames"
_QUERIES = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
# DuckDB takes $n binds, and a query alone here.
_POSITIONAL = params.PositionalRules(mark="$", queries=_QUERIES)
# What the history records these statements under: an in-memory DuckDB.
_CONFIG = ConnectionConfig(name=NAME, url=make_url("duckdb:///:memory:"))
_SETTINGS = {
    "enable_external_access": False,  # no files, no COPY TO, no ATTACH, no INSTALL
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "temp_directory": "",  # nothing spills to disk
    "threads": 1,  # a notebook's query over its frames; no pool of threads left behind
}


def is_frame(value: Any) -> bool:
    """Whether ``value`` is a frame DuckDB can read: pandas, Arrow or polars (not loaded here)."""
    kind = type(value)
    module = kind.__module__.split(".", 1)[0]
    if module == "pandas":
        return kind.__name__ == "DataFrame"
    if module == "polars":
        return kind.__name__ in ("DataFrame", "LazyFrame")
    return isinstance(value, pa.Table | pa.RecordBatch)


def query_frames(
    sql: str,
    frames: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    output: formats.Output = "pandas",
) -> Any:
    """Run ``sql`` over ``frames`` (name -> pandas/polars DataFrame or Arrow table) with
    DuckDB, read-only, binding ``:name`` from ``params``; the last statement's rows as
    a DataFrame (``output="polars"``/``"arrow"``: as those)."""
    formats.check(output)
    statements = sqltext.split(sql, _rules().lexical)
    if not statements:
        raise DbnbError("there is no SQL to run (the cell is empty or only comments)")
    plans = [_plan(statement, params or {}) for statement in statements]
    duckdb = _duckdb()
    connection = duckdb.connect(":memory:", config=_SETTINGS)
    try:
        connection.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ as UTC, as elsewhere
        connection.execute("SET lock_configuration = true")
        for name, frame in frames.items():
            connection.register(name, frame)
        table: pa.Table | None = None
        for positional, values in plans:
            recording = monitor.Recording(_CONFIG, positional.sql, values)
            try:
                relation = connection.sql(positional.sql, params=values or None)
                table = relation.to_arrow_table() if relation is not None else None
            except duckdb.Error as error:
                recording.finish(error)
                raise QueryError(f"{NAME}: {one_line(error)}") from None
            recording.finish(table.num_rows if table is not None else 0)
    finally:
        connection.close()
    assert table is not None  # every statement is a query, so each returns rows
    return formats.from_arrow(_documented(table), output)


def _rules() -> prepared.SqlRules:
    """DuckDB's parser is PostgreSQL's: its text is read, and its values checked, as
    PostgreSQL's home reads and binds them."""
    return backend_for("postgresql").sql_rules


def _plan(statement: sqltext.Statement, given: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    positional = params.to_positional(statement, _POSITIONAL)
    first = statement.keywords[0] if statement.keywords else ""
    if positional is None and first not in _QUERIES:
        raise ReadOnlyError(
            f"{NAME}: SQL over frames reads only, so {first or 'this statement'} is refused; "
            "write a query (SELECT, WITH, VALUES, TABLE)"
        )
    if positional is None:
        raise DbnbError(
            f"{NAME}: a list after a bare IN is not expanded here; "
            "write x IN (SELECT unnest(:list))"
        )
    missing = [name for name in positional.names if name not in given]
    if missing:
        raise DbnbError(f"{NAME}: no value to bind to :{missing[0]} (assign it first)")
    bound = {name: given[name] for name in positional.names}
    values = prepared.prepare(statement, bound, _rules(), NAME).values
    return positional, [values[name] for name in positional.names]


def _documented(table: pa.Table) -> pa.Table:
    """DuckDB's Arrow types as dbnb's documented ones (UTC time stamps, intervals)."""
    arrays = []
    for chunked in table.columns:
        kind = chunked.type
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            chunked = chunked.cast(pa.timestamp("us", tz="UTC"))
        elif kind == pa.month_day_nano_interval():
            chunked = pa.chunked_array(
                [_duration(chunk) for chunk in chunked.chunks], pa.duration("us")
            )
        arrays.append(chunked)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _duration(array: pa.Array) -> pa.Array:
    """Intervals counted as psycopg counts PostgreSQL's: a year is 365 days, a month 30."""
    values = array.to_pylist()
    micros: list[int | None] = []
    for value in values:
        if value is None:
            micros.append(None)
            continue
        months, days, nanos = value.months, value.days, value.nanoseconds
        years = int(np.trunc(months / 12))
        total_days = years * 365 + (months - years * 12) * 30 + days
        micros.append(total_days * 86_400_000_000 + nanos // 1000)
    return pa.array(micros, pa.duration("us"))


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise DbnbError('SQL over frames needs DuckDB: pip install "dbnb[duckdb]"') from None
    return duckdb
