"""A table's profile: per-column statistics computed by the database in one statement.

``count`` (non-NULL values), ``nulls``, ``distinct`` (non-NULL), ``min``, ``max``,
``mean`` (numbers only) and ``top`` (the most frequent non-NULL value; of equally
frequent ones the smallest) for every column, as pandas computes them on the
same rows: text compared as Python compares str, values typed as ``db.query``
types the table's columns. The statements: the table's columns from the catalog,
one read of no rows for their dtypes, and one aggregate statement (``top`` is
PostgreSQL's ``mode()`` in the same scan, elsewhere a subquery scanning again);
no row of the table is fetched.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy
from sqlalchemy import exc, types

from dbnb.engine.backend import backend_for
from dbnb.errors import QueryError
from dbnb.see import sources
from dbnb.sql import identifiers

if TYPE_CHECKING:
    from dbnb.database import Database

COLUMNS = ["column", "type", "count", "nulls", "distinct", "min", "max", "mean", "top"]


def profile(db: Database, table: str) -> pd.DataFrame:
    """One row per column of ``table`` (``schema.table`` too); see the module's doc."""
    schema, name = _locate(db, table)
    where = sources.quote_table(db, f"{schema}.{name}" if schema else name)
    shapes = db.query(f"SELECT * FROM {where} WHERE 1 = 0", progress=False)  # dtypes, no rows
    columns = _as_read(_columns(db, schema, name), shapes) or _columns_of(shapes)
    statement = profile_sql(db, where, [(column, kind) for column, _, kind in columns])
    row = db.query(statement, progress=False).iloc[0]
    total = int(row["total"])
    found = []
    for index, (column, type_name, kind) in enumerate(columns):
        values = [
            row[f"c{index}_{stat}"] if kind != "other" or stat == "top" else None
            for stat in ("min", "max", "top")
        ]
        low, high, top = _typed(values, shapes[column].dtype if column in shapes else None, kind)
        count = int(row[f"c{index}_count"])
        mean = row.get(f"c{index}_mean")
        found.append(
            (
                column,
                type_name,
                count,
                total - count,
                int(row[f"c{index}_distinct"]),
                low,
                high,
                None if mean is None or pd.isna(mean) else float(mean),
                top,
            )
        )
    frame = pd.DataFrame(found, columns=COLUMNS)
    return frame.astype(
        {
            "column": "string",
            "type": "string",
            "count": "Int64",
            "nulls": "Int64",
            "distinct": "Int64",
            "mean": "Float64",
        }
    )


def profile_sql(db: Database, where: str, columns: list[tuple[str, str]]) -> str:
    """The one aggregate statement: ``total`` and ``c{i}_{stat}`` for each column."""
    backend = backend_for(db.engine.dialect.name)
    dialect = db.engine.dialect
    items = ["count(*) AS total"]
    for index, (column, kind) in enumerate(columns):
        value = identifiers.quote(dialect, column)
        ordered = backend.comparable(value, kind)
        # A value with no ordering or equality (json) is counted as its text.
        counted = f"CAST({value} AS {_text_type(db)})" if kind == "other" else value
        if kind == "text":  # distinct as Python's str: not by a case-insensitive collation
            counted = ordered
        prefix = f"c{index}_"
        items.append(f"count({value}) AS {prefix}count")
        items.append(f"count(DISTINCT {counted}) AS {prefix}distinct")
        if kind != "other":
            items.append(f"min({ordered}) AS {prefix}min")
            items.append(f"max({ordered}) AS {prefix}max")
        if kind == "number":
            items.append(f"{backend.mean(value)} AS {prefix}mean")
        top_order = counted if kind == "other" else ordered
        items.append(f"{backend.most_frequent(counted, top_order, where)} AS {prefix}top")
    return f"SELECT {', '.join(items)} FROM {where}"


def _text_type(db: Database) -> str:
    return "TEXT" if db.engine.dialect.name in ("sqlite", "postgresql") else "CHAR"


def kind_of(column_type: Any) -> str:
    """How a column is summarized: number, bool, text, time or other."""
    if isinstance(column_type, types.Boolean):
        return "bool"
    if isinstance(column_type, types.Integer | types.Numeric | types.Float):
        return "number"
    if isinstance(column_type, types.String):  # Text, VARCHAR, Enum
        return "text"
    if isinstance(column_type, types.Date | types.DateTime | types.Time | types.Interval):
        return "time"
    if isinstance(column_type, types.NullType):  # SQLite: declared without a type
        return "text"
    return "other"


def _typed(values: list[Any], dtype: Any, kind: str) -> list[Any]:
    """min, max and top as ``db.query`` types the column: an aggregate's value may come
    back untyped on SQLite (a timestamp as text, a boolean as 0/1)."""
    typed: list[Any] = []
    for value in values:
        if _missing(value):
            typed.append(None)
        elif kind == "bool":
            typed.append(bool(value))
        elif dtype is None or str(dtype) == "object" or kind in ("number", "text", "other"):
            typed.append(value)
        else:
            try:
                typed.append(pd.Series([value], dtype=object).astype(dtype).iloc[0])
            except (TypeError, ValueError):
                typed.append(value)
    return typed


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _columns(db: Database, schema: str | None, table: str) -> list[tuple[str, str, str]]:
    """The columns of ``table``: name, type as the database spells it, kind; none when
    the dialect cannot reflect them (duckdb-engine's reflection has gaps)."""
    with db.connection() as connection:
        try:
            reflected = sqlalchemy.inspect(connection).get_columns(table, schema=schema)
        except exc.SQLAlchemyError:
            connection.rollback()
            return []
        dialect = connection.dialect
        return [
            (column["name"], _type_name(column["type"], dialect), kind_of(column["type"]))
            for column in reflected
        ]


def _as_read(
    columns: list[tuple[str, str, str]], shapes: pd.DataFrame
) -> list[tuple[str, str, str]]:
    """A column ``db.query`` reads as booleans is summarized as booleans, whatever its
    declared type (MariaDB's BOOLEAN is a TINYINT(1), reflected as an integer)."""
    return [
        (
            column,
            type_name,
            "bool"
            if column in shapes and pd.api.types.is_bool_dtype(shapes[column].dtype)
            else kind,
        )
        for column, type_name, kind in columns
    ]


def _columns_of(shapes: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The columns as a read of no rows types them, where the catalog says nothing."""
    found = []
    for column in shapes.columns:
        dtype = shapes[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind = "bool"
        elif pd.api.types.is_numeric_dtype(dtype):
            kind = "number"
        elif pd.api.types.is_string_dtype(dtype) and str(dtype) != "object":
            kind = "text"
        elif "date" in str(dtype) or "time" in str(dtype):
            kind = "time"
        else:
            kind = "other"
        found.append((str(column), str(dtype), kind))
    return found


def _type_name(column_type: Any, dialect: Any) -> str:
    try:
        return str(column_type.compile(dialect=dialect))
    except exc.CompileError:
        return ""


def _locate(db: Database, table: str) -> tuple[str | None, str]:
    """The schema and name of ``table``; ``schema.table`` split when no table has the dots."""
    with db.connection() as connection:
        inspector = sqlalchemy.inspect(connection)
        if inspector.has_table(table):
            return None, table
        head, dot, tail = table.partition(".")
        if dot and inspector.has_table(tail, schema=head):
            return head, tail
        known = inspector.get_table_names() + inspector.get_view_names()
    if table in known:  # a view
        return None, table
    close = difflib.get_close_matches(table, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"tables: {', '.join(sorted(known))}"
    raise QueryError(f"{db.name}: no table {table!r} to profile; {hint}")
