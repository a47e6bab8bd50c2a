"""Spark's Arrow results in dbnb's documented dtypes (the manual's dtype table).

Spark Connect sends results as Arrow batches, so a column needs no Python object per
value unless the table says so: integers, floats, booleans, decimals, text, binary,
dates, timestamps and day-time intervals stay Arrow; arrays, maps, structs and
year-month intervals become Python values (lists, dicts) as other databases' arrays do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dbnb.read.dtypes import UTC_MICROS


def normalise(table: pa.Table) -> pa.Table:
    """A result as Spark sent it -> dbnb's Arrow types (one cast per column at most)."""
    fields = [_documented(field.type) for field in table.schema]
    if all(kind is None for kind in fields):
        return table
    columns = [
        column if kind is None else column.cast(kind)
        for column, kind in zip(table.columns, fields, strict=True)
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _documented(kind: pa.DataType) -> pa.DataType | None:
    """The documented Arrow type of a Spark column's type; None: kept as it is."""
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    if pa.types.is_timestamp(kind):
        # TIMESTAMP is an instant (shown in the session's zone by Spark): UTC here, as
        # PostgreSQL's timestamptz; TIMESTAMP_NTZ stays naive, as timestamp.
        return UTC_MICROS if kind.tz is not None else pa.timestamp("us")
    if pa.types.is_duration(kind):
        return pa.duration("us")
    return None


def _objects(kind: pa.DataType) -> bool:
    """Whether a column is kept as Python values (arrays, maps, structs, ...)."""
    return bool(
        pa.types.is_nested(kind)
        or pa.types.is_interval(kind)
        or pa.types.is_null(kind)
        or pa.types.is_dictionary(kind)
        or isinstance(kind, pa.ExtensionType)
    )


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A normalised table as a DataFrame in the documented dtypes."""
    data: dict[int, Any] = {}
    for index, column in enumerate(table.columns):
        if _objects(column.type):
            values = [_python(value) for value in column.to_pylist()]
            data[index] = np.fromiter(values, dtype=object, count=len(values))
        else:
            data[index] = pd.arrays.ArrowExtensionArray(column)
    frame = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=range(table.num_rows))
    # Keyed by position, named after: duplicate column names stay apart.
    frame.columns = pd.Index(table.column_names, dtype=object)
    return frame


def _python(value: Any) -> Any:
    """A map's value as a dict (pyarrow gives its pairs as a list of tuples)."""
    if isinstance(value, list) and value and all(_pair(item) for item in value):
        return {key: _python(item) for key, item in value}
    if isinstance(value, list):
        return [_python(item) for item in value]
    if isinstance(value, dict):
        return {key: _python(item) for key, item in value.items()}
    return value


def _pair(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2
