"""Results straight to a Parquet file, one chunk at a time.

The writer holds one chunk in memory, never the whole result. It writes to a
fresh hidden file beside the target and renames it at the end (``replace.py``), so
a failed query leaves no half-written file and keeps an older file of that name intact.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dbnb.errors import DbnbError
from dbnb.read.replace import replacing


def write(tables: Iterable[pa.Table], path: str | os.PathLike[str]) -> int:
    """Write every table to ``path`` as one Parquet file; returns the number of rows."""
    target = Path(path)
    rows = 0
    with replacing(target) as file:
        writer: pq.ParquetWriter | None = None
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(file, table.schema)
                elif table.schema != writer.schema:
                    table = _conform(table, writer.schema, target)
                writer.write_table(table)
                rows += table.num_rows
            if writer is None:
                raise DbnbError(f"{target}: the statement returned no result to write")
        finally:
            if writer is not None:
                writer.close()
    return rows


def _conform(table: pa.Table, schema: pa.Schema, target: Path) -> pa.Table:
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise DbnbError(
            f"{target}: a later chunk's columns do not fit the first chunk's types "
            f"({table.schema.to_string(show_schema_metadata=False)}); "
            "give the query explicit CASTs"
        ) from None


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame of dbnb's dtypes as Arrow: arrays as lists (where their items are of
    one type), JSON as arrow.json text, UUIDs as arrow.uuid, unconstrained numerics as
    their exact decimal text."""
    arrays = [_column(frame.iloc[:, index]) for index in range(frame.shape[1])]
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _column(series: pd.Series) -> pa.Array:
    if isinstance(series.dtype, pd.ArrowDtype):
        return pa.array(series.array)
    values = series.tolist()
    sample = next((value for value in values if value is not None), None)
    if isinstance(sample, list):
        listed = _lists(values)  # an array column (PostgreSQL's): Arrow's list
        if listed is not None:
            return listed
    if isinstance(sample, dict | list):
        texts = [None if value is None else json.dumps(value, default=_plain) for value in values]
        return pa.array(texts, pa.string()).cast(pa.json_())
    if isinstance(sample, uuid.UUID):
        return pa.array([None if value is None else value.bytes for value in values], pa.uuid())
    if isinstance(sample, Decimal):
        return pa.array([None if value is None else str(value) for value in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else _text(value) for value in values])


def _lists(values: list[Any]) -> pa.Array | None:
    """An object column of lists as Arrow lists of one item type (numbers, text,
    decimals, times); None when the items are of several types or nested documents
    (JSON arrays stay JSON)."""
    item = next((item for value in values if value for item in value if item is not None), None)
    try:
        if isinstance(item, uuid.UUID):  # Arrow takes UUIDs by their bytes, as storage
            values = [None if v is None else [i and i.bytes for i in v] for v in values]
            storage = pa.array(values, pa.list_(pa.binary(16)))
            items = pa.ExtensionArray.from_storage(pa.uuid(), storage.values)
            return pa.ListArray.from_arrays(storage.offsets, items, mask=storage.is_null())
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, AttributeError):
        return None
    item = array.type.value_type if pa.types.is_list(array.type) else None
    if item is None or pa.types.is_null(item) or pa.types.is_struct(item):
        return None
    return array


def _plain(value: Any) -> Any:
    """What JSON text holds of a value JSON has no type for: its exact text (a Decimal
    keeps its digits, a UUID its hex form, a time its ISO form)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
