"""Results as pandas, polars or Arrow: ``db.query(..., output="polars")``, ``%%db --as arrow``.

dbnb's columnar path holds a result as Arrow before any pandas frame exists;
``from_arrow`` hands that table on as it is, so every type stays exact. Where
the result was read as a DataFrame (the guarded path, SQLite's columnar path),
``from_frame`` turns it into Arrow: the Arrow-backed columns are passed on as
they are (no copy, no conversion), and the columns of Python values take the
Arrow types Parquet files get (``parquet.frame_to_arrow``).

Types in Arrow (and so in polars, which reads Arrow):

- integers, floats, booleans, text, bytes, dates, times, ``timestamp``,
  ``timestamptz`` (``timestamp[us, tz=UTC]``), ``interval`` (``duration[us]``),
  ``numeric(p, s)`` (``decimal128(p, s)``): exact, the documented dtypes' Arrow types;
- JSON: Arrow's JSON type (``arrow.json``, the document's text); polars: text;
- UUID: Arrow's UUID type (``arrow.uuid``, 16 bytes); polars: its 36-character text;
- ``numeric`` without precision: its exact decimal text (Arrow's decimals hold 38 digits);
- arrays (PostgreSQL): their JSON text, as in Parquet files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pandas as pd
import pyarrow as pa

from dbnb.errors import DbnbError, OptionError
from dbnb.read import parquet

if TYPE_CHECKING:
    import polars as pl

Output = Literal["pandas", "polars", "arrow"]
OUTPUTS: tuple[Output, ...] = ("pandas", "polars", "arrow")
# A result in one of them; a read's: one, or chunks of one (``chunksize``).
Frame: TypeAlias = "pd.DataFrame | pl.DataFrame | pa.Table"
Result: TypeAlias = "Frame | Iterator[Frame]"


def check(output: str) -> Output:
    """``output`` if it names a format; else an ``OptionError`` that lists them."""
    for known in OUTPUTS:
        if output == known:
            return known
    raise OptionError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")


def from_frame(frame: pd.DataFrame, output: Output) -> Frame:
    """A DataFrame of dbnb's dtypes in the ``output`` format."""
    if output == "pandas":
        return frame
    return from_arrow(parquet.frame_to_arrow(frame), output)


def from_arrow(table: pa.Table, output: Output) -> Frame:
    """An Arrow table of dbnb's Arrow types in the ``output`` format (pandas: the
    documented dtypes, every column Arrow-backed)."""
    if output == "arrow":
        return table
    if output == "polars":
        polars = _polars()
        polars_frame: pl.DataFrame = polars.from_arrow(_for_polars(table))  # not a Series
        return polars_frame
    columns = {
        index: pd.arrays.ArrowExtensionArray(table.column(index))
        for index in range(table.num_columns)
    }
    frame = pd.DataFrame(columns, copy=False) if columns else pd.DataFrame()
    frame.columns = pd.Index(table.column_names, dtype=object)
    return frame


def frames_as(frames: Iterable[pd.DataFrame], output: Output) -> Iterator[Frame]:
    """Chunks read as DataFrames, each in the ``output`` format. A column of Python
    values (JSON) takes its Arrow type from its values: a later chunk where it holds
    only NULLs keeps the first chunk's type for it, not Arrow's null."""
    if output == "pandas":
        yield from frames
        return
    first: pa.Schema | None = None
    for frame in frames:
        table = parquet.frame_to_arrow(frame)
        first = table.schema if first is None else first
        yield from_arrow(_nulls_as(table, first), output)


def _nulls_as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema == schema or table.num_columns != len(schema):
        return table
    columns = [
        column.cast(schema.field(index).type) if pa.types.is_null(column.type) else column
        for index, column in enumerate(table.columns)
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def tables_as(tables: Iterable[pa.Table], output: Output) -> Iterator[Frame]:
    """Chunks read as Arrow tables, each in the ``output`` format."""
    for table in tables:
        yield from_arrow(table, output)


def _for_polars(table: pa.Table) -> pa.Table:
    """Arrow's JSON and UUID extension types, which polars does not read, as text."""
    arrays = []
    for chunked in table.columns:
        if isinstance(chunked.type, pa.JsonType):
            chunked = pa.chunked_array([chunk.storage for chunk in chunked.chunks], pa.string())
        elif isinstance(chunked.type, pa.UuidType):
            chunked = pa.chunked_array(
                [_uuid_text(chunk.storage) for chunk in chunked.chunks], pa.string()
            )
        arrays.append(chunked)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _uuid_text(array: pa.Array) -> pa.Array:
    return pa.array(
        [None if raw is None else str(uuid.UUID(bytes=raw)) for raw in array.to_pylist()],
        pa.string(),
    )


def _polars() -> Any:
    try:
        import polars
    except ImportError:
        raise DbnbError('output="polars" needs polars: pip install "dbnb[polars]"') from None
    return polars
