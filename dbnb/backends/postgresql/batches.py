"""The batches of a PostgreSQL columnar read, through each column's rule
(``columns.py``): ADBC's Arrow -> dbnb's Arrow -> pandas. ``read_converting`` makes
the Python values of one batch on a worker thread while the driver reads the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dbnb.backends.postgresql.columns import COPY_FROM_BYTES, Column
from dbnb.engine import stopping


def _fell_back(chunks: list[pa.Array], column: Column) -> bool:
    """Whether some of a column's values could not take its Arrow type."""
    return column.fallback is not None and any(pa.types.is_string(c.type) for c in chunks)


def normalise(table: pa.Table, columns: list[Column]) -> pa.Table:
    """ADBC's Arrow types as dbnb's (JSON and UUID stay Arrow extension types)."""
    arrays = []
    for chunked, column in zip(table.columns, columns, strict=True):
        if column.to_arrow is not None:
            chunked = pa.chunked_array(
                [column.to_arrow(chunk) for chunk in chunked.chunks]
                or [column.to_arrow(pa.nulls(0, chunked.type))]
            )
        whole = _whole(chunked.chunks, column)  # (an empty one is falsy: no `or`)
        arrays.append(chunked if whole is None else whole)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _whole(chunks: list[pa.Array], column: Column) -> pa.ChunkedArray | None:
    """A column whose type its values choose, in that type (None: kept as it is,
    for its ``fallback`` to make Python values of)."""
    if column.whole is None:
        return None
    arrays = column.whole(chunks)
    return None if arrays is None else pa.chunked_array(arrays)


def to_frame(
    table: pa.Table, columns: list[Column], python: Mapping[int, np.ndarray] | None = None
) -> pd.DataFrame:
    """A normalised table as a DataFrame with the documented dtypes; ``python`` holds
    the Python values of object columns already converted (by column index)."""
    data: dict[int, Any] = {}
    for index, (chunked, column) in enumerate(zip(table.columns, columns, strict=True)):
        if _fell_back(chunked.chunks, column):
            column = column.as_objects()
        if column.to_python is None:
            data[index] = pd.arrays.ArrowExtensionArray(chunked)
        else:
            values = python[index] if python is not None and index in python else None
            if values is None:
                values = python_values(chunked.chunks, column)
            data[index] = values  # an object ndarray: pandas keeps it as it is
    # Keyed by position, named after: duplicate column names stay apart. The arrays
    # are this frame's alone, so pandas need not copy them.
    frame = pd.DataFrame(data, copy=False) if data else pd.DataFrame()
    frame.columns = pd.Index(table.column_names, dtype=object)
    return frame


def python_values(arrays: list[pa.Array], column: Column) -> np.ndarray:
    """The Python values of an object column, as the object array pandas keeps."""
    assert column.to_python is not None
    parts = [_object_array(column.to_python(array)) for array in arrays]
    return np.concatenate(parts) if parts else _object_array([])


def _object_array(values: list[Any]) -> np.ndarray:
    # fromiter keeps each value one item: a JSON array is not spread over rows.
    return np.fromiter(values, dtype=object, count=len(values))


def read_converting(reader: pa.RecordBatchReader, columns: list[Column]) -> pd.DataFrame:
    """Read every batch and build the frame. Each batch is finished (cast to dbnb's
    types, its Python values made) on a worker thread while the driver reads the
    next one, so this thread does nothing but wait on the driver, which releases
    the GIL while it reads and decodes. The last batch, and so a small result, is
    finished here without a thread hand-off."""
    objects = [index for index, column in enumerate(columns) if column.to_python is not None]
    finished: list[Future[_Finished] | _Finished] = []
    pending: pa.RecordBatch | None = None
    for batch in reader:
        stopping.add_rows(batch.num_rows)  # a background job's rows so far
        if pending is not None:
            finished.append(_CONVERTER.submit(_finish_batch, pending, columns, objects))
        pending = batch
    if pending is None:
        # An empty batch of the result's types (pa.nulls: from_pylist cannot make a
        # list of an extension type).
        schema = reader.schema
        pending = pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)
    finished.append(_finish_batch(pending, columns, objects))
    parts = [done.result() if isinstance(done, Future) else done for done in finished]
    batches = [batch for batch, _ in parts]
    python = {
        index: np.concatenate([values[position] for _, values in parts])
        for position, index in enumerate(objects)
    }
    for index, column in enumerate(columns):
        whole = _whole([batch.column(index) for batch in batches], column)
        if whole is not None:
            batches = [
                batch.set_column(index, batch.schema.field(index).with_type(whole.type), chunk)
                for batch, chunk in zip(batches, whole.chunks, strict=True)
            ]
        if _fell_back([batch.column(index) for batch in batches], column):
            columns = [*columns[:index], column.as_objects(), *columns[index + 1 :]]
            python[index] = python_values([b.column(index) for b in batches], columns[index])
            batches = [_without(batch, [index]) for batch in batches]
    return to_frame(pa.Table.from_batches(batches), columns, python)


_Finished = tuple[pa.RecordBatch, list[np.ndarray]]


def _finish_batch(batch: pa.RecordBatch, columns: list[Column], objects: list[int]) -> _Finished:
    """A driver's batch in dbnb's types, its object columns' Python values apart."""
    normalised = _normalise_batch(batch, columns)
    if not objects:
        return normalised, []
    return _without(normalised, objects), _convert_batch(normalised, columns, objects)


def _without(batch: pa.RecordBatch, objects: list[int]) -> pa.RecordBatch:
    """The batch with its object columns emptied to nulls: their Python values are
    made, so their Arrow text would only take memory."""
    arrays = list(batch.columns)
    for index in objects:
        arrays[index] = pa.nulls(batch.num_rows, pa.null())
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _normalise_batch(batch: pa.RecordBatch, columns: list[Column]) -> pa.RecordBatch:
    """The batch in dbnb's types, every column in memory of pyarrow's own. The
    driver frees a batch only when none of its columns is referenced, so a column
    kept as it came would keep the batch's JSON and numeric text alive too."""
    # A small batch (a one-row read) is not worth the copies: what it keeps alive is small.
    copy = batch.nbytes >= COPY_FROM_BYTES
    arrays = []
    for array, column in zip(batch.columns, columns, strict=True):
        if column.to_arrow is not None:
            array = column.to_arrow(array)  # new buffers
        elif column.to_python is None and copy:
            array = pa.concat_arrays([array])  # a copy (object columns are dropped soon)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _convert_batch(
    batch: pa.RecordBatch, columns: list[Column], objects: list[int]
) -> list[np.ndarray]:
    return [python_values([batch.column(index)], columns[index]) for index in objects]


# One worker makes the Python values while the caller's thread reads; its thread
# starts at the first submit, not at import.
_CONVERTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbnb-arrow")
