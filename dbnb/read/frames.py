"""Rows into DataFrames that keep their types.

A column's type comes from the best source there is: the SQLAlchemy types of a
``select()``; else the database's own description of the result (PostgreSQL
type OIDs; the declared type of a SQLite table's column, for the types
``SQLITE_DECLARED`` lists); else the values themselves (SQLite's storage
classes). Each column becomes an Arrow-backed pandas dtype (the ones
``dtype_backend="pyarrow"`` gives) where Arrow holds the values exactly, and an
object column of Python values where it cannot: JSON, UUID, arrays,
unconstrained numerics.
"""

from __future__ import annotations

import functools
import gc
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.sql import Executable, Select

from dbnb.read import sqlite_describe

# Marker: keep the column as Python objects.
OBJECT = pa.null()

_UTC_MICROS = pa.timestamp("us", tz="UTC")

# PostgreSQL type names and their documented Arrow types (the README's dtype table);
# the columnar path passes through any column ADBC already gives as this type.
PG_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "bool": pa.bool_(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "char": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": _UTC_MICROS,
    "interval": pa.duration("us"),
    "bytea": pa.binary(),
    "json": OBJECT,
    "jsonb": OBJECT,
    "uuid": OBJECT,
}

# Arrow types a column of unknown type may be inferred as; anything else stays objects.
_INFERABLE = (pa.types.is_integer, pa.types.is_floating, pa.types.is_string, pa.types.is_binary)


@dataclass(frozen=True)
class Declared:
    """A SQLite column's declared type, read as a ``select()`` of it is read: each value
    through ``convert`` (SQLAlchemy's own SQLite processor, which raises ``ValueError``
    or ``TypeError`` for a value that does not fit), the column as ``kind``. ``whole``
    converts a column Arrow already holds at once, or says None when it cannot vouch
    that each value would come out as ``convert`` makes it."""

    kind: pa.DataType
    convert: Callable[[Any], Any]
    whole: Callable[[pa.ChunkedArray], pa.ChunkedArray | None] | None = None


# A column's type: Arrow's, a SQLite declared type, or None (look at the values).
Kind: TypeAlias = "pa.DataType | Declared | None"


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


def _types_from_cursor(result: CursorResult[Any], count: int) -> list[pa.DataType | None]:
    description = getattr(result.cursor, "description", None) or []
    # SQLAlchemy's async adapter keeps psycopg's cursor as `_cursor` (dbnb.aio).
    cursor = getattr(result.cursor, "_cursor", result.cursor)
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
            kinds.append(_decimal(column.precision, column.scale))
        elif name is not None and name in PG_TYPES:
            kinds.append(PG_TYPES[name])
        else:
            kinds.append(OBJECT if name is not None and name.startswith("_") else None)
    return kinds


def _types_from_sqlite(result: CursorResult[Any], count: int) -> list[Declared | None]:
    declared = sqlite_describe.of_result(result)
    if declared is None or len(declared) != count:
        return [None] * count
    return [sqlite_declared(name) for name in declared]


def _decimal(precision: int | None, scale: int | None) -> pa.DataType:
    if precision is None or precision > 38:
        return OBJECT  # unconstrained numeric: Python Decimals keep every digit
    return pa.decimal128(precision, scale or 0)


def arrow_type(sql_type: sqltypes.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type for a SQLAlchemy column type, or None to look at the values."""
    if isinstance(sql_type, sqltypes.TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, sqltypes.Boolean):
        return pa.bool_()
    if isinstance(sql_type, sqltypes.SmallInteger):
        return pa.int16()
    if isinstance(sql_type, sqltypes.Integer):
        return pa.int64()
    if isinstance(sql_type, sqltypes.Float):
        return pa.float64()
    if isinstance(sql_type, sqltypes.Numeric):
        if not sql_type.asdecimal:
            return pa.float64()
        return _decimal(sql_type.precision, sql_type.scale)
    if isinstance(sql_type, sqltypes.DateTime):
        return _UTC_MICROS if sql_type.timezone else pa.timestamp("us")
    if isinstance(sql_type, sqltypes.Date):
        return pa.date32()
    if isinstance(sql_type, sqltypes.Time):
        return pa.time64("us")
    if isinstance(sql_type, sqltypes.Interval):
        return pa.duration("us")
    if isinstance(sql_type, sqltypes.Enum):
        return OBJECT if sql_type.enum_class is not None else pa.string()
    if isinstance(sql_type, sqltypes.String):
        return pa.string()
    if isinstance(sql_type, sqltypes.LargeBinary):
        return pa.binary()
    if isinstance(sql_type, sqltypes.JSON | sqltypes.Uuid | sqltypes.ARRAY):
        return OBJECT
    return None


def column(values: Sequence[Any], kind: Kind) -> pd.Series:
    """One column's values as a Series of ``kind`` (None: as the values say)."""
    if isinstance(kind, Declared):
        return _declared(values, kind)
    return _series(values, kind)


def _series(values: Sequence[Any], kind: pa.DataType | None) -> pd.Series:
    if kind == OBJECT:
        return _objects(values)
    if kind == _UTC_MICROS:
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


# --- SQLite's declared types ----------------------------------------------------------

# The declared types (sqlite3_column_decltype) that give a plain query's column the
# dtype a select() of it has: what SQLAlchemy (and so SQLModel and dbnb.write) declare
# on SQLite. DATETIME is UTC, as dbnb stores aware datetimes and as SQLModel's
# datetime fields are. A declared INTEGER, REAL, TEXT or BLOB column's storage class
# already gives a select()'s dtype.
# Also NUMERIC(p, s) and DECIMAL(p, s) (with a precision: a bare NUMERIC follows its
# storage classes), and CHAR(32), SQLAlchemy's Uuid on SQLite (32 hex digits).
SQLITE_DECLARED: dict[str, sqltypes.TypeEngine[Any]] = {
    "DATETIME": sqltypes.DateTime(timezone=True),
    "TIMESTAMP": sqltypes.DateTime(timezone=True),
    "DATE": sqltypes.Date(),
    "TIME": sqltypes.Time(),
    "BOOLEAN": sqltypes.Boolean(),
    "SMALLINT": sqltypes.SmallInteger(),
    "JSON": sqltypes.JSON(),
}
_DECLTYPE = re.compile(r"\s*([A-Za-z][A-Za-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*")
_SQLITE = pysqlite.dialect()


class _Misfit(ValueError):
    """A value its column's declared type does not hold."""


@functools.lru_cache(maxsize=256)
def sqlite_declared(decltype: str | None) -> Declared | None:
    """How a SQLite column declared as ``decltype`` reads, or None: by storage classes."""
    match = _DECLTYPE.fullmatch(decltype or "")
    if match is None:
        return None
    name = match.group(1).upper()
    precision = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else None
    sql_type: sqltypes.TypeEngine[Any] | None
    if name in ("NUMERIC", "DECIMAL") and precision is not None:
        sql_type = sqltypes.Numeric(precision, scale)
    elif name == "CHAR" and precision == 32 and scale is None:
        sql_type = sqltypes.Uuid()
    else:
        sql_type = SQLITE_DECLARED.get(name) if precision is None else None
    if sql_type is None:
        return None
    kind = arrow_type(sql_type)
    assert kind is not None
    whole = _WHOLE.get(type(sql_type))
    if pa.types.is_decimal(kind):
        whole = _decimals(kind)
    return Declared(kind, _converter(sql_type), whole)


def _converter(sql_type: sqltypes.TypeEngine[Any]) -> Callable[[Any], Any]:
    """A value as a select() of ``sql_type`` reads it; ``_Misfit`` when the type does
    not hold it exactly (the processors alone would turn 2 into True, 0.125 into 0.12)."""
    process = sql_type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
    if isinstance(sql_type, sqltypes.Boolean):
        return _boolean
    if isinstance(sql_type, sqltypes.Integer):
        return _integer
    if isinstance(sql_type, sqltypes.Uuid):
        return _uuid
    assert process is not None
    if isinstance(sql_type, sqltypes.Numeric):
        return functools.partial(_number, process)
    if isinstance(sql_type, sqltypes.JSON):
        return functools.partial(_json, process)
    return functools.partial(_text, process, naive=isinstance(sql_type, sqltypes.Time))


def _boolean(value: Any) -> bool:
    if type(value) is not int or value not in (0, 1):
        raise _Misfit(value)
    return value == 1


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise _Misfit(value)
    return value


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str or len(value) != 32:
        raise _Misfit(value)
    found = uuid.UUID(value)
    if found.hex != value:  # upper case, say: not what SQLAlchemy stores
        raise _Misfit(value)
    return found


def _number(process: Callable[[Any], Any], value: Any) -> Any:
    if type(value) not in (int, float):
        raise _Misfit(value)
    found = process(value)  # a Decimal at the column's scale
    if (float(found) if type(value) is float else found) != value:
        raise _Misfit(value)  # digits beyond the scale, or an integer a double rounds
    return found


def _json(process: Callable[[Any], Any], value: Any) -> Any:
    if type(value) not in (str, int, float):  # numbers: JSON's numeric affinity stored them
        raise _Misfit(value)
    return process(value)


def _text(process: Callable[[Any], Any], value: Any, *, naive: bool = False) -> Any:
    if type(value) is not str:
        raise _Misfit(value)
    found = process(value)
    if naive and found.tzinfo is not None:
        raise _Misfit(value)  # a time with an offset: time64 has none
    return found


def whole_column(array: pa.Array | pa.ChunkedArray, declared: Declared) -> Any:
    """A column Arrow holds (integers or reals, text, ...) read as declared, all at once;
    None when only the per-value conversion (``column``) can say what it becomes."""
    converted = declared.whole(array) if declared.whole is not None else None
    return pd.arrays.ArrowExtensionArray(converted) if converted is not None else None


# The text SQLAlchemy stores a DATETIME or DATE as (microseconds optional): Arrow
# parses exactly these as datetime.fromisoformat does, rejecting the same impossible
# dates and times; all but year 0, which is checked apart.
_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"


def _parsed(chunked: pa.ChunkedArray, pattern: str, kind: pa.DataType) -> pa.ChunkedArray | None:
    if not pa.types.is_string(chunked.type) or chunked.null_count == len(chunked):
        return None
    if not pc.all(pc.match_substring_regex(chunked, pattern)).as_py():
        return None
    try:
        parsed = chunked.cast(kind)
    except pa.ArrowInvalid:
        return None  # Feb 30, 24:00: the per-value path keeps them as they are
    if pc.min(pc.year(parsed)).as_py() < 1:
        return None
    return parsed


def _datetimes(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    parsed = _parsed(chunked, _DATETIME_TEXT, pa.timestamp("us"))
    return parsed.cast(_UTC_MICROS) if parsed is not None else None  # naive is UTC


def _dates(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    return _parsed(chunked, _DATE_TEXT, pa.date32())


def _decimals(kind: pa.DataType) -> Callable[[pa.ChunkedArray], pa.Array | None]:
    """Integers and reals as the Decimals of ``kind`` a select() makes of them. Each value
    fits when a Decimal of the column's scale reads back as it exactly; where no two such
    Decimals read back as the same double (below 2**52 / 10**scale), that one is the one
    SQLAlchemy's processor makes (it rounds the value to the scale)."""
    scale = 10.0**kind.scale

    def decimals(array: pa.ChunkedArray) -> pa.Array | None:
        if array.null_count == len(array) or kind.scale > 15:
            return None
        if pa.types.is_integer(array.type):
            bounds = pc.min_max(array)
            if max(-bounds["min"].as_py(), bounds["max"].as_py()) > 2**53:
                return None  # SQLAlchemy's processor rounds it through a double
        elif not pa.types.is_floating(array.type):
            return None
        values = pc.fill_null(array.cast(pa.float64()), 0).to_numpy(zero_copy_only=False)
        if not (np.abs(values) < 2.0**52 / scale).all():  # NaN and infinities too
            return None
        unscaled = np.rint(values * scale)
        if (
            not (unscaled / scale == values).all()
            or not (np.abs(unscaled) < 10.0**kind.precision).all()
        ):
            return None  # digits beyond the scale, or beyond the precision
        valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
        integers = pa.array(unscaled.astype(np.int64), mask=~valid)
        exact = integers.cast(pa.decimal128(38, 0))  # 128 bits: the unscaled Decimals
        return pa.Array.from_buffers(kind, len(exact), exact.buffers(), exact.null_count)

    return decimals


def _booleans(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    if not pa.types.is_integer(chunked.type) or chunked.null_count == len(chunked):
        return None
    bounds = pc.min_max(chunked)
    if bounds["min"].as_py() < 0 or bounds["max"].as_py() > 1:
        return None
    return pc.equal(chunked, 1)


_WHOLE: dict[type[Any], Callable[[pa.ChunkedArray], pa.ChunkedArray | None]] = {
    sqltypes.DateTime: _datetimes,
    sqltypes.Date: _dates,
    sqltypes.Boolean: _booleans,
}


def _declared(values: Sequence[Any], declared: Declared) -> pd.Series:
    """Each value converted as its declared type says; if one does not fit, every value
    is kept (converted where it fits, as it is where it does not) in an object column."""
    converted: list[Any] = []
    fits = True
    convert = declared.convert
    for value in values:
        if value is None:
            converted.append(None)
            continue
        try:
            converted.append(convert(value))
        except (ValueError, TypeError, OverflowError):
            converted.append(value)
            fits = False
    return _series(converted, declared.kind) if fits else _objects(converted)
