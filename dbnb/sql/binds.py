"""Values bound as the user means them, the same on SQLite and PostgreSQL.

``bind`` turns the user's values into what the drivers must receive, once per
statement (``dbnb.sql.prepared.prepare``, at each entry point: ``Database.query``
and its chunks, ``query_to_parquet``, ``aquery``, ``%%db`` cells), before either
read path sees them. What a driver takes is its database's ``BindRules``, from
its home (``dbnb/backends/NAME/binds.py``):

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

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray

from dbnb.errors import ParameterError
from dbnb.sql.sqltext import Statement

PLAIN = frozenset({type(None), bool, int, float, str, bytes})
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


class Refused(Exception):
    """A value the database's driver cannot take; the message says why, for a user."""


def as_it_is(value: Any) -> Any:
    """A value the driver takes as it is (its own adapters decide)."""
    return value


# Compared by identity: each is one database's, made once in its home.
@dataclass(frozen=True, eq=False)
class BindRules:
    """How one database's driver takes the guarded path's values."""

    # A plain Python value (a list for a sequence) as the driver must receive it;
    # ``Refused`` for one it cannot take.
    for_driver: Callable[[Any], Any] = as_it_is
    # A list binds as an array value (PostgreSQL: ``x = ANY(:ids)``), so an empty one
    # after IN is an array the server types (``Statement.to_text``).
    arrays: bool = False
    # The database's name where a list binds only after IN (it has no arrays), for the
    # refusal of one anywhere else; None: its driver decides.
    lists_only_after_in: str | None = None


def bind(
    statement: Statement | None,
    params: Mapping[str, Any] | None,
    rules: BindRules,
    connection: str,
    *,
    how_to_bind: Callable[[Sequence[str]], str] | None = None,
) -> dict[str, Any]:
    """``params`` as the driver must receive them (the module's table), for
    ``statement`` (None: a ``select()``, whose typed binds are SQLAlchemy's to convert
    and its IN to expand); ``connection`` names the connection in an error,
    ``how_to_bind`` the way to give placeholders without a value theirs
    (``remedies.how_to_bind``: in the words of the front end the user is in)."""
    values = dict(params or {})
    if statement is None:
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
            only = rules.lists_only_after_in
            if only is not None and isinstance(value, list) and name not in listed:
                raise Refused(f"a list value; {only} takes a list only after IN (x IN :ids)")
            values[name] = rules.for_driver(value)
        except Refused as refused:
            raise ParameterError(f"{connection}: cannot bind :{name}, {refused}") from None
    return values


def _python(value: Any) -> Any:
    """The plain Python value of a numpy, pandas or pyarrow value; a list for a sequence."""
    if type(value) in PLAIN:
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


def each(check: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """Each of a list's ``values`` through ``check``; a refusal names the list."""
    try:
        return [check(value) for value in values]
    except Refused as refused:
        raise Refused(f"a list holding {refused}") from None


def a_value(value: Any) -> str:
    """ "a str", "an int", "a decimal.Decimal": the type of ``value`` in a message."""
    kind = type(value)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
