"""Rows into DataFrames that keep their types.

A column's type comes from the best source there is: the SQLAlchemy types of a
``select()``; else the database's own description of the result (PostgreSQL
type OIDs; the declared type of a SQLite table's column, for the types
``backends/sqlite/types.DECLARED`` lists: each backend's ``result_kinds`` and
``declared_kinds``); else the values themselves (SQLite's storage
classes). Each column becomes an Arrow-backed pandas dtype (the ones
``dtype_backend="pyarrow"`` gives) where Arrow holds the values exactly, and an
object column of Python values where it cannot: JSON, UUID, arrays,
unconstrained numerics.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.sql import Executable, Select

from dbnb.read.dtypes import OBJECT, UTC_MICROS, arrow_type, fitted_decimal

# Execution option: this statement's rows become a frame (a backend may load some types
# differently for it than for a session: PostgreSQL's inet as text).
AS_FRAME = "dbnb_as_frame"

# Arrow types a column of unknown type may be inferred as; anything else stays objects.
_INFERABLE = (pa.types.is_integer, pa.types.is_floating, pa.types.is_string, pa.types.is_binary)


@runtime_checkable
class Converter(Protocol):
    """A column whose values a backend converts first (SQLite's declared types), then
    makes a column of ``kind`` if they all fit."""

    kind: pa.DataType

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        """Each value converted, and whether all of them fit (else kept as they are)."""


class FittedDecimals:
    """A column of Decimals whose type its values choose: ``decimal128(38, s)``, ``s``
    the most digits after the point among them (``dtypes.fitted_decimal``), when every
    value fits; else the Decimals as they are (NaN, too many digits)."""

    def array(self, values: Sequence[Any]) -> pa.Array | None:
        scale = integer = 0
        for value in values:
            if value is None:
                continue
            if not value.is_finite():
                return None
            _, digits, exponent = value.as_tuple()
            scale = max(scale, -exponent)
            integer = max(integer, len(digits) + exponent)
        try:
            return pa.array(values, type=fitted_decimal(scale, integer))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None


FITTED_DECIMALS = FittedDecimals()


@dataclass(frozen=True)
class ByValues:
    """A column typed by its values (SQLite's storage classes), and as ``empty`` when it
    has none (no row, or NULL in every one): the type a full read of it gives, so an
    empty result has the dtypes of a full one (SQLite's affinity of the declared type)."""

    empty: pa.DataType


# A column's type: Arrow's, a backend's converter, Decimals typed by their values,
# typed by its values with a type for when it has none, or None (look at the values).
Kind: TypeAlias = "pa.DataType | Converter | FittedDecimals | ByValues | None"


class Kinds(Protocol):
    """What a guarded result's frame asks of the database's backend: its column types."""

    def result_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type as the database described a guarded result: exact, so it
        wins over the statement's own types; None where it says nothing."""

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type where neither the database nor the statement said one."""


class TooManyRows(Exception):
    """The result had more rows than the caller allows."""


Fetch = Callable[[CursorResult[Any], int | None], Sequence[Row[Any]]]


def fetch_rows(result: CursorResult[Any], count: int | None) -> Sequence[Row[Any]]:
    """Every row of ``result`` (``count`` None), or at most ``count`` rows."""
    return result.fetchall() if count is None else result.fetchmany(count)


def to_frame(
    result: CursorResult[Any],
    kinds: Kinds,
    statement: Executable | None = None,
    max_rows: int | None = None,
    *,
    fetch: Fetch = fetch_rows,
    close: Callable[[CursorResult[Any]], None] = CursorResult.close,
) -> pd.DataFrame:
    """Fetch the rows of ``result`` into a DataFrame (empty for a statement without rows).

    With ``max_rows``, fetch at most one row more than that, and raise
    ``TooManyRows`` if it came; ``close(result)`` then closes the result, rows
    past it unread (``limits.close_result`` stops the server sending them).
    ``fetch(result, count)`` fetches the rows (``count`` None: all of them); the
    query layer passes one that shows progress and reports the rows to the history.
    ``kinds``: the connection's backend, which says what the database said of the types.
    """
    if not result.returns_rows:
        return pd.DataFrame()
    names = list(result.keys())
    types = column_types(result, statement, len(names), kinds)
    with gc_paused():
        if max_rows is None:
            rows = fetch(result, None)
        else:
            try:
                rows = fetch(result, max_rows + 1)
            finally:
                close(result)  # a server-side cursor, perhaps left mid-way
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


def column_types(
    result: CursorResult[Any], statement: Executable | None, count: int, kinds: Kinds
) -> list[Kind]:
    # The database's own description is exact (PostgreSQL keeps int2/int4/int8
    # apart); the statement's SQLAlchemy types fill in where it says nothing (SQLite),
    # and SQLite's declared types where there are none (plain SQL).
    found = _either(kinds.result_kinds(result, count), _types_from_statement(statement, count))
    if any(kind is None for kind in found):
        found = _either(found, kinds.declared_kinds(result, count))
    return found


def _either(first: Sequence[Kind], then: Sequence[Kind]) -> list[Kind]:
    return [a if a is not None else b for a, b in zip(first, then, strict=True)]


def _types_from_statement(statement: Executable | None, count: int) -> list[pa.DataType | None]:
    if not isinstance(statement, Select):
        return [None] * count
    columns = list(statement.selected_columns)
    if len(columns) != count:
        return [None] * count
    return [arrow_type(column.type) for column in columns]


def column(values: Sequence[Any], kind: Kind) -> pd.Series:
    """One column's values as a Series of ``kind`` (None: as the values say)."""
    if isinstance(kind, Converter):
        converted, fits = kind.convert_all(values)
        return _series(converted, kind.kind) if fits else _objects(converted)
    if isinstance(kind, FittedDecimals):
        array = kind.array(values)
        return (
            _objects(values) if array is None else pd.Series(pd.arrays.ArrowExtensionArray(array))
        )
    if isinstance(kind, ByValues):
        if all(value is None for value in values):
            return no_values(len(values), kind.empty)
        return _series(values, None)
    return _series(values, kind)


def no_values(length: int, kind: pa.DataType) -> pd.Series:
    """A column of ``length`` NULLs of ``kind``."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.nulls(length, kind)))


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
