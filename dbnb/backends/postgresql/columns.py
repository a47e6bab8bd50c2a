"""Columns of the PostgreSQL columnar path: ADBC's Arrow -> dbnb's Arrow -> pandas.

ADBC's PostgreSQL driver names each column's PostgreSQL type in the field
metadata. ``layout`` gives each column its rule: passed through when ADBC
already gives the documented Arrow type (``dtypes.PG_TYPES``), cast
(``numeric(p, s)`` to ``decimal128``, ``interval`` to ``duration``), or made
into Python values (JSON, UUID, unconstrained numerics), as the guarded path
makes them. ``read_converting`` makes those Python values of one batch on a
worker thread while the driver reads the next.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.read import dtypes
from dbnb.read.columnar import OutOfRange, Unsupported

_PG_TYPE = b"POSTGRESQL:type"
_PG_TYPMOD = b"POSTGRESQL:typmod"


@dataclass(frozen=True)
class Column:
    """How one result column is normalised: to dbnb's Arrow type, then to pandas."""

    to_arrow: Callable[[pa.Array], pa.Array] | None = None
    to_python: Callable[[pa.Array], list[Any]] | None = None  # None: Arrow-backed
    # Python values for a column some of whose values ``to_arrow`` could not cast
    # (NaN in a numeric(p, s)): the whole column then becomes objects, as it does
    # on the guarded path, rather than the statement running again.
    fallback: Callable[[pa.Array], list[Any]] | None = None

    def as_objects(self) -> Column:
        assert self.fallback is not None
        return Column(to_python=self.fallback)


def layout(schema: pa.Schema) -> list[Column]:
    """The rule for each column of an ADBC result; ``Unsupported`` for any other type."""
    return [_pg_column(field) for field in schema]


def _pg_column(field: pa.Field) -> Column:
    metadata = field.metadata or {}
    name = metadata.get(_PG_TYPE, b"").decode()
    if name in _INFINITIES and dtypes.PG_TYPES.get(name) == field.type:
        kind = "date" if name == "date" else "timestamp"
        return Column(to_arrow=lambda array: _finite(array, kind, _INFINITIES[name]))
    if dtypes.PG_TYPES.get(name) == field.type:  # already the documented type
        return Column()
    if name == "numeric":
        typmod = int(metadata.get(_PG_TYPMOD, b"-1"))
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        if typmod >= 4 and precision <= 38:
            return Column(
                to_arrow=lambda array: _to_decimal(array, precision, scale), fallback=_decimals
            )
        return Column(to_arrow=_storage, to_python=_decimals)
    if name in ("json", "jsonb"):
        return Column(to_python=_json_values)
    if name == "uuid":
        return Column(to_python=lambda array: array.to_pylist())
    if name == "interval":
        return Column(to_arrow=_interval_as_duration)
    if name == "oid":
        return Column(to_arrow=lambda array: array.view(pa.uint32()).cast(pa.int64()))
    raise Unsupported(f"column {field.name!r}: {name or field.type}")


# PostgreSQL's infinity and -infinity as ADBC's driver hands them over: the server's
# largest and smallest value, shifted to the Unix epoch (wrapping round). psycopg
# refuses them on the guarded path; here they would be dates 290,000 years ago.
_INFINITIES: dict[str, tuple[int, int]] = {
    "timestamp": (-9222425352054775809, -9222425352054775808),
    "timestamptz": (-9222425352054775809, -9222425352054775808),
    "date": (-2147472692, -2147472691),
}


def _finite(array: pa.Array, kind: str, infinities: tuple[int, int]) -> pa.Array:
    """A copy of ``array`` (so the driver's batch is freed), once it holds no infinity.
    Both infinities sort below every finite value (year 4713 BC is far above them),
    so one minimum tells."""
    smallest = pc.min(array.view(pa.int32() if kind == "date" else pa.int64())).as_py()
    if smallest is not None and smallest <= max(infinities):
        words = "too small (before year 1): '-infinity'"
        if smallest == infinities[0]:
            words = "too large (after year 10K): 'infinity'"
        raise OutOfRange(f"{kind} {words}")
    return pa.concat_arrays([array]) if array.nbytes >= _COPY_FROM_BYTES else array


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def _to_decimal(array: pa.Array, precision: int, scale: int) -> pa.Array:
    """``decimal128(p, s)``; the text itself when a value is none (NaN, Infinity)."""
    try:
        return _storage(array).cast(pa.decimal128(precision, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _storage(array)


def _decimals(array: pa.Array) -> list[Any]:
    """Python Decimals from numeric text (or from decimals already cast)."""
    return [None if value is None else decimal.Decimal(value) for value in array.to_pylist()]


def _fell_back(chunks: list[pa.Array], column: Column) -> bool:
    """Whether some of a column's values could not take its Arrow type."""
    return column.fallback is not None and any(pa.types.is_string(c.type) for c in chunks)


# JSON documents are parsed this many at a time: each slice is one C call that holds
# the GIL, so slices this small (a few ms) let the driver's thread go on reading.
_JSON_SLICE = 4_096
_JSON_DECODER = msgspec.json.Decoder()


def _json_values(array: pa.Array) -> list[Any]:
    """JSON documents as psycopg reads them (``json.loads``), a slice at a time."""
    texts = _storage(array)
    if texts.null_count:  # SQL NULL and JSON null both become None, as on the guarded path
        texts = texts.fill_null("null")
    values: list[Any] = []
    for start in range(0, len(texts), _JSON_SLICE):
        values.extend(_parse_documents(texts.slice(start, _JSON_SLICE)))
    return values


def _parse_documents(texts: pa.Array) -> list[Any]:
    """Every document of ``texts`` in one parse of ``[doc,doc,...]``: each document is
    complete JSON, so the joined text is one array whose items are exactly the
    documents. msgspec builds the same values as ``json.loads`` in two thirds of
    the time, and refuses what it would build differently (a lone surrogate, a number
    beyond a float), which ``json.loads`` then parses as psycopg would."""
    if len(texts) == 0:
        return []
    # "doc," for each document, in one buffer (Arrow's kernel, no Python per value).
    joined = pc.binary_join_element_wise(texts, "", ",")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    start, stop = offsets[joined.offset], offsets[joined.offset + len(joined)]
    data = b"[" + joined.buffers()[2].to_pybytes()[start : stop - 1] + b"]"
    try:
        values: list[Any] = _JSON_DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        values = json.loads(data)
    return values


def _interval_as_duration(array: pa.Array) -> pa.Array:
    """PostgreSQL intervals as psycopg reads them: a year is 365 days, a month 30."""
    parts = np.frombuffer(
        array.buffers()[1], dtype=np.dtype([("m", "<i4"), ("d", "<i4"), ("n", "<i8")])
    )[array.offset : array.offset + len(array)]
    months = parts["m"].astype(np.int64)
    years = np.trunc(months / 12).astype(np.int64)
    days = years * 365 + (months - years * 12) * 30 + parts["d"]
    micros = days * 86_400_000_000 + parts["n"] // 1000
    mask = np.asarray(array.is_null()) if array.null_count else None
    return pa.array(micros, type=pa.duration("us"), mask=mask)


def normalise(table: pa.Table, columns: list[Column]) -> pa.Table:
    """ADBC's Arrow types as dbnb's (JSON and UUID stay Arrow extension types)."""
    arrays = []
    for chunked, column in zip(table.columns, columns, strict=True):
        if column.to_arrow is not None:
            chunked = pa.chunked_array(
                [column.to_arrow(chunk) for chunk in chunked.chunks]
                or [column.to_arrow(pa.array([], type=chunked.type))]
            )
        arrays.append(chunked)
    return pa.Table.from_arrays(arrays, names=table.column_names)


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
        if pending is not None:
            finished.append(_CONVERTER.submit(_finish_batch, pending, columns, objects))
        pending = batch
    if pending is None:
        pending = pa.RecordBatch.from_pylist([], reader.schema)
    finished.append(_finish_batch(pending, columns, objects))
    parts = [done.result() if isinstance(done, Future) else done for done in finished]
    batches = [batch for batch, _ in parts]
    python = {
        index: np.concatenate([values[position] for _, values in parts])
        for position, index in enumerate(objects)
    }
    for index, column in enumerate(columns):
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
    copy = batch.nbytes >= _COPY_FROM_BYTES
    arrays = []
    for array, column in zip(batch.columns, columns, strict=True):
        if column.to_arrow is not None:
            array = column.to_arrow(array)  # new buffers
        elif column.to_python is None and copy:
            array = pa.concat_arrays([array])  # a copy (object columns are dropped soon)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


_COPY_FROM_BYTES = 1 << 16


def _convert_batch(
    batch: pa.RecordBatch, columns: list[Column], objects: list[int]
) -> list[np.ndarray]:
    return [python_values([batch.column(index)], columns[index]) for index in objects]


# One worker makes the Python values while the caller's thread reads; its thread
# starts at the first submit, not at import.
_CONVERTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbnb-arrow")
