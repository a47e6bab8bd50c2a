"""Values bound as the user means them, the same on SQLite and PostgreSQL.

``prepare`` turns the user's values into what the drivers must receive, once,
at each entry point (``Database.query`` and its chunks, ``query_to_parquet``,
``aquery``, ``%%db`` cells), before either read path sees them:

- numpy scalars (``np.int64``, ``np.float64``, ``np.bool_``, ``np.str_``, ...):
  the Python value (sqlite3 would bind an ``np.int64`` as a BLOB, matching nothing).
- ``pd.Timestamp``, ``np.datetime64``: a ``datetime`` (a tz-aware one stays
  aware); a day-unit ``datetime64`` (``np.datetime64("2024-03-04")``) a ``date``.
  ``pd.Timedelta``, ``np.timedelta64``: a ``timedelta``.
- ``None``, ``pd.NA``, ``pd.NaT``, a NaT ``datetime64``: NULL.
- a pyarrow scalar (``table.column("x")[0]``): its ``as_py()`` value, as above.
- a list, tuple, set, ``np.ndarray``, ``pd.Series``, ``pd.Index``, pandas or
  pyarrow array: a list of the above. Right after ``IN`` / ``NOT IN`` (``x IN
  :ids``, ``x IN (:ids)``) it expands, one placeholder per item (SQLAlchemy's
  expanding parameter: an empty list matches no row, and every row for ``NOT
  IN``); a single value there is a list of one. Elsewhere it is a PostgreSQL
  array (``x = ANY(:ids)``); SQLite has no arrays, and says so.
- ``datetime``, ``date``, ``time``, ``timedelta``, ``Decimal``, ``UUID``: on
  PostgreSQL as psycopg adapts them. On SQLite as SQLAlchemy's SQLite types
  store them, which is how ``db.write`` wrote them, so a value read back (or the
  value written) compares equal: a datetime as the text ``'YYYY-MM-DD
  HH:MM:SS.ffffff'`` (a tz-aware one at its UTC time, as ``db.write`` stores
  it), a date as ``'YYYY-MM-DD'``, a time as ``'HH:MM:SS.ffffff'``, a Decimal as
  a float (SQLAlchemy's ``Numeric`` on SQLite, stored as REAL), a UUID as its 32
  hex digits, a timedelta as the datetime 1970-01-01 plus it (SQLAlchemy's
  ``Interval``).

A placeholder without a value, or a value the driver cannot take, is a
``ParameterError`` naming ``:name`` (and the value's type), before anything is
sent. A ``select()`` keeps its typed binds for SQLAlchemy to convert: only
numpy, pandas and pyarrow values are made plain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray
from sqlalchemy.sql import Executable

from dbnb.errors import ParameterError
from dbnb.sql import sqltext

_PLAIN = frozenset({type(None), bool, int, float, str, bytes})
# What psycopg adapts without a look at its adapters.
_POSTGRESQL = _PLAIN | {Decimal, datetime, date, time, timedelta, UUID}
_SEQUENCES = (
    Sequence,
    Set,
    np.ndarray,
    pd.Series,
    pd.Index,
    ExtensionArray,
    pa.Array,
    pa.ChunkedArray,
)
_NOT_SEQUENCES = (str, bytes, bytearray, memoryview)
_EPOCH = datetime(1970, 1, 1)
_INT64 = 2**63


class _Refused(Exception):
    """A value the database's driver cannot take; the message says why, for a user."""


def prepare(
    sql: str | Executable | sqltext.Statement,
    params: Mapping[str, Any] | None,
    dialect: str,
    connection: str,
    *,
    how_to_bind: Callable[[Sequence[str]], str] | None = None,
) -> dict[str, Any]:
    """``params`` as the driver of ``dialect`` must receive them (the module's table),
    for ``sql``; ``connection`` names the connection in an error, ``how_to_bind`` the
    way to give placeholders without a value theirs (``remedies.how_to_bind``: in the
    words of the front end the user is in)."""
    values = dict(params or {})
    statement = sqltext.parse(sql, dialect) if isinstance(sql, str) else sql
    if not isinstance(statement, sqltext.Statement):
        # A select(): its typed binds are SQLAlchemy's to convert, and its IN to expand.
        return {name: _python(value) for name, value in values.items()}
    missing = [name for name in statement.params if name not in values]
    if missing:
        placeholders = ", ".join(f":{name}" for name in missing)
        raise ParameterError(
            f"{connection}: no value for {placeholders}; "
            + (how_to_bind(missing) if how_to_bind else "give each a value in params")
        )
    listed = statement.in_bare | statement.in_parens
    for name in statement.params:
        try:
            value = _python(values[name])
            if name in statement.in_bare and not isinstance(value, list):
                value = [value]  # `IN :ids` with one value
            if dialect in _NO_ARRAYS and isinstance(value, list) and name not in listed:
                raise _Refused(
                    f"a list value; {_NO_ARRAYS[dialect]} takes a list only after IN (x IN :ids)"
                )
            values[name] = _for_driver(value, dialect)
        except _Refused as refused:
            raise ParameterError(f"{connection}: cannot bind :{name}, {refused}") from None
    return values


def executable(sql: str | Executable, values: Mapping[str, Any], dialect: str) -> Executable:
    """What the guarded path executes: ``text()`` of ``sql`` (lists after IN expanding,
    ``sqltext``), or the user's own ``select()``."""
    if not isinstance(sql, str):
        return sql
    return sqltext.parse(sql, dialect).to_text(values, empty_as_array=has_arrays(dialect))


def has_arrays(dialect: str) -> bool:
    """Whether an empty list after IN is bound as an array the server types (PostgreSQL)."""
    return dialect == "postgresql"


def _python(value: Any) -> Any:
    """The plain Python value of a numpy, pandas or pyarrow value; a list for a sequence."""
    if type(value) in _PLAIN:
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(value, np.datetime64) and isinstance(item, int):  # ns: no datetime holds it
            return pd.Timestamp(value).to_pydatetime(warn=False)
        if isinstance(value, np.timedelta64) and isinstance(item, int):
            return pd.Timedelta(value).to_pytimedelta()
        return item
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(warn=False)
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, pa.Scalar):
        return _python(value.as_py())
    if isinstance(value, _SEQUENCES) and not isinstance(value, _NOT_SEQUENCES):
        return [_python(item) for item in value]
    return value


def _for_driver(value: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return _for_sqlite(value)
    if dialect == "postgresql":
        _check_postgresql(value)
    if dialect in ("mysql", "mariadb"):
        return _for_mysql(value)
    return value


def _for_mysql(value: Any) -> Any:
    """The value as PyMySQL escapes it; an aware datetime at its UTC time, the time zone
    of dbnb's sessions (PyMySQL would drop the offset). PyMySQL would send any other
    object as its str(): refused instead."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, list):
        return _each(_for_mysql, value)
    if isinstance(value, UUID):
        return str(value)
    if value is None or isinstance(value, _MYSQL):
        return value
    raise _Refused(
        f"{_a(value)} value; PyMySQL takes numbers, text, bytes, dates and times, Decimal, "
        "UUID, None, and lists after IN"
    )


# Databases without array values: a list binds only after IN.
_NO_ARRAYS = {"sqlite": "SQLite", "mysql": "MySQL", "mariadb": "MySQL"}

# What PyMySQL escapes as itself (pymysql.converters.encoders).
_MYSQL = (bool, int, float, str, bytes, bytearray, Decimal, datetime, date, time, timedelta)


def _for_sqlite(value: Any) -> Any:
    """The value as SQLAlchemy's SQLite types store it (sqlalchemy.dialects.sqlite)."""
    kind = type(value)
    if kind is int or isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise _Refused("an int value beyond 64 bits; SQLite's integers have 64 (bind a str)")
        return value
    if kind in _PLAIN or isinstance(value, float | str | bytes | bytearray | memoryview):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # db.write stores aware datetimes in UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        return _sqlite_datetime(value)
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    if isinstance(value, timedelta):
        try:
            return _sqlite_datetime(_EPOCH + value)
        except OverflowError:
            raise _Refused("a timedelta value too large for SQLite's Interval form") from None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, list):
        return _each(_for_sqlite, value)
    if (kind, sqlite3.PrepareProtocol) in sqlite3.adapters or hasattr(value, "__conform__"):
        return value  # an adapter registered with sqlite3
    raise _Refused(
        f"{_a(value)} value; SQLite takes numbers, text, bytes, dates and times, Decimal, "
        "UUID, None, and lists after IN"
    )


def _each(check: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    try:
        return [check(value) for value in values]
    except _Refused as refused:
        raise _Refused(f"a list holding {refused}") from None


def _sqlite_datetime(value: datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _check_postgresql(value: Any) -> None:
    """Refuse a value psycopg has no adapter for (psycopg.adapters)."""
    if type(value) in _POSTGRESQL:
        return
    if isinstance(value, list):
        _each(_check_postgresql, value)
        return
    import psycopg
    from psycopg.adapt import PyFormat

    try:
        psycopg.adapters.get_dumper(type(value), PyFormat.AUTO)
    except psycopg.ProgrammingError:
        raise _Refused(
            f"{_a(value)} value; psycopg has no adapter for it (a dict or list as JSON: "
            "psycopg.types.json.Jsonb(value))"
        ) from None


def _a(value: Any) -> str:
    kind = type(value)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
