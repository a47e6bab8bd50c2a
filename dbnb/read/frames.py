"""Rows into DataFrames that keep their types.

A column's type comes from the best source there is: the SQLAlchemy types of a
``select()``; else the database's own description of the result (PostgreSQL
type OIDs; the declared type of a SQLite table's column, for the types
``sqlite_types.DECLARED`` lists); else the values themselves (SQLite's storage
classes). Each column becomes an Arrow-backed pandas dtype (the ones
``dtype_backend="pyarrow"`` gives) where Arrow holds the values exactly, and an
object column of Python values where it cannot: JSON, UUID, arrays,
unconstrained numerics.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.sql import Executable, Select

from dbnb.read import mysql_types, sqlite_describe, sqlite_types
from dbnb.read.dtypes import OBJECT, PG_TYPES, UTC_MICROS, arrow_type, decimal
from dbnb.read.sqlite_types import Declared

# Arrow types a column of unknown type may be inferred as; anything else stays objects.
_INFERABLE = (pa.types.is_integer, pa.types.is_floating, pa.types.is_string, pa.types.is_binary)


# A column's type: Arrow's, a SQLite declared type, a MySQL type with its conversion,
# or None (look at the values).
Kind: TypeAlias = "pa.DataType | Declared | mysql_types.Converted | None"


class TooManyRows(Exception):
    """The result had more rows than the caller allows."""


Fetch = Callable[[CursorResult[Any], int | None], Sequence[Row[Any]]]


def fetch_rows(result: CursorResult[Any], count: int | None) -> Sequence[Row[Any]]:
    """Every row of ``result`` (``count`` None), or at most ``count`` rows."""
    return result.fetchall() if count is None else result.fetchmany(count)


def to_frame(
    result: CursorResult[Any],
    statement: Executable | None = None,
    max_rows: int | None = None,
    *,
    fetch: Fetch = fetch_rows,
) -> pd.DataFrame:
    """Fetch the rows of ``result`` into a DataFrame (empty for a statement without rows).

    With ``max_rows``, fetch at most one row more than that, and raise
    ``TooManyRows`` if it came. ``fetch(result, count)`` fetches the rows
    (``count`` None: all of them); the query layer passes one that shows
    progress and reports the rows to the history.
    """
    if not result.returns_rows:
        return pd.DataFrame()
    names = list(result.keys())
    types = column_types(result, statement, len(names))
    with gc_paused():
        if max_rows is None:
            rows = fetch(result, None)
        else:
            with result:  # closes a server-side cursor left mid-way
                rows = fetch(result, max_rows + 1)
            if len(rows) > max_rows:
                raise TooManyRows(max_rows)
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        del rows  # freed before the collector is back, or its next pass walks every row
        frame = build_frame(names, columns, types)
        del columns
    return frame


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a result's rows and values are made.

    A million-row read makes tens of millions of objects, none in a cycle, and each
    collection the allocations trigger walks them all again: on the standard table
    that was a third of the read's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_frame(names: list[str], columns: list[Sequence[Any]], types: list[Kind]) -> pd.DataFrame:
    """A DataFrame from column-wise values and their types (None: infer)."""
    series = [column(values, kind) for values, kind in zip(columns, types, strict=True)]
    frame = pd.concat(series, axis=1) if series else pd.DataFrame()
    frame.columns = pd.Index(names, dtype=object)
    return frame


def column_types(result: CursorResult[Any], statement: Executable | None, count: int) -> list[Kind]:
    # The database's own description is exact (PostgreSQL keeps int2/int4/int8
    # apart); the statement's SQLAlchemy types fill in where it says nothing (SQLite),
    # and SQLite's declared types where there are none (plain SQL).
    from_cursor = _types_from_cursor(result, count)
    from_statement = _types_from_statement(statement, count)
    kinds: list[Kind] = [
        a if a is not None else b for a, b in zip(from_cursor, from_statement, strict=True)
    ]
    if result.dialect.name in ("mysql", "mariadb"):
        # MariaDB's JSON reaches the client as text: a select()'s JSON type says objects,
        # and SQLAlchemy has parsed the values already. A DATETIME holds what dbnb wrote
        # of a DateTime(timezone=True): the UTC time.
        kinds = [
            b
            if (b == OBJECT and not isinstance(a, mysql_types.Converted))
            or (b == UTC_MICROS and a == pa.timestamp("us"))
            else a
            for a, b in zip(kinds, from_statement, strict=True)
        ]
    if any(kind is None for kind in kinds) and result.dialect.name == "sqlite":
        declared = _types_from_sqlite(result, count)
        kinds = [a if a is not None else b for a, b in zip(kinds, declared, strict=True)]
    return kinds


def _types_from_statement(statement: Executable | None, count: int) -> list[pa.DataType | None]:
    if not isinstance(statement, Select):
        return [None] * count
    columns = list(statement.selected_columns)
    if len(columns) != count:
        return [None] * count
    return [arrow_type(column.type) for column in columns]


def _types_from_cursor(result: CursorResult[Any], count: int) -> list[Kind]:
    description = getattr(result.cursor, "description", None) or []
    # SQLAlchemy's async adapter keeps psycopg's cursor as `_cursor` (dbnb.aio).
    cursor = getattr(result.cursor, "_cursor", result.cursor)
    # PyMySQL keeps the description packets of the result it reads as `_result.fields`.
    fields = getattr(getattr(cursor, "_result", None), "fields", None)
    if fields is not None and result.dialect.name in ("mysql", "mariadb"):
        return list(mysql_types.from_fields(fields)) if len(fields) == count else [None] * count
    connection = getattr(cursor, "connection", None)
    adapters = getattr(connection, "adapters", None)
    if adapters is None or len(description) != count:  # not psycopg: nothing to learn
        return [None] * count
    kinds: list[pa.DataType | None] = []
    for column in description:
        info = adapters.types.get(column.type_code)
        name = info.name if info is not None else None
        if info is not None and getattr(info, "array_oid", None) == column.type_code:
            # psycopg finds an array's OID under its element type: int4[] is not int4.
            kinds.append(OBJECT)
        elif name == "numeric":
            kinds.append(decimal(column.precision, column.scale))
        elif name is not None and name in PG_TYPES:
            kinds.append(PG_TYPES[name])
        else:
            kinds.append(OBJECT if name is not None and name.startswith("_") else None)
    return kinds


def _types_from_sqlite(result: CursorResult[Any], count: int) -> list[Declared | None]:
    declared = sqlite_describe.of_result(result)
    if declared is None or len(declared) != count:
        return [None] * count
    return [sqlite_types.declared(name) for name in declared]


def column(values: Sequence[Any], kind: Kind) -> pd.Series:
    """One column's values as a Series of ``kind`` (None: as the values say)."""
    if isinstance(kind, Declared):
        converted, fits = sqlite_types.convert(values, kind)
        return _series(converted, kind.kind) if fits else _objects(converted)
    if isinstance(kind, mysql_types.Converted):
        return _series(kind.convert(values), kind.kind)
    return _series(values, kind)


def _series(values: Sequence[Any], kind: pa.DataType | None) -> pd.Series:
    if kind == OBJECT:
        return _objects(values)
    if kind == UTC_MICROS:
        values = [_as_utc(value) for value in values]
    try:
        array = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # A value the type cannot hold (SQLite stores anything anywhere):
        # keep the values as they are rather than lose them.
        return _objects(values)
    if kind is None and not any(check(array.type) for check in _INFERABLE):
        return _objects(values)  # all NULL, or Python values Arrow would reshape
    return pd.Series(pd.arrays.ArrowExtensionArray(array))


def _objects(values: Sequence[Any]) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def _as_utc(value: Any) -> Any:
    """Naive datetimes in a tz-aware column are UTC (SQLite stores no offset)."""
    if value is not None and getattr(value, "tzinfo", True) is None:
        return pd.Timestamp(value, tz="UTC").to_pydatetime()
    return value
