"""Spark writes: ``db.write`` through Spark's DataFrame writer, and ``%%db --write`` cells.

``db.write(df, "table", mode=...)`` checks every row against the table's columns
in Arrow (names, types, NULLs), before anything is sent; then the data goes to
Spark as Arrow (``createDataFrame`` of a ``pyarrow.Table``) and into the table by
``insertInto`` (``replace``: with overwrite, so the table keeps its definition).
``create=True`` creates a missing table from the data's columns (``saveAsTable``).
Spark's tables have no primary key, so ``upsert`` is refused: it needs a table
format with ``MERGE INTO`` (Delta Lake, Iceberg), which a cell can run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from dbnb.backends.spark import reads, types
from dbnb.connections.facade import CellRun
from dbnb.engine import monitor
from dbnb.errors import DbnbError, QueryError, ValidationError, WriteError

if TYPE_CHECKING:
    from dbnb.backends.spark.session import Connected

_MODES = ("append", "replace")


def write(
    db: Connected,
    data: Any,
    target: Any,
    mode: str,
    *,
    key: str | Sequence[str] | None = None,
    create: bool = False,
) -> int:
    """Validate ``data`` against ``target``'s columns, then write it; the rows written."""
    if mode not in (*_MODES, "upsert"):
        raise DbnbError(f"unknown write mode {mode!r}; use one of {', '.join(_MODES)}")
    db.require_writable()
    if mode == "upsert" or key is not None:
        raise DbnbError(
            f"connection {db.name!r} (spark): upsert needs a primary key, which Spark tables "
            "have not; write with mode='append' or 'replace', or run MERGE INTO in a "
            "%%db --write cell on a Delta Lake or Iceberg table"
        )
    name = _table_name(target)
    table = _arrow(data, name)
    spark = db.spark
    schema = _schema(db, name)
    recording = monitor.Recording(db.config, f"-- db.write {mode} into {name}", None, None)
    try:
        if schema is None:
            if not create:
                raise DbnbError(
                    f"connection {db.name!r} has no table {name!r}; create it with "
                    "write(..., create=True), from the data's columns"
                )
            writer = _frame(spark, table).write.mode("error")
            reads.run_tagged(spark, lambda: writer.saveAsTable(name), db.config, None)
        else:
            checked = check(table, schema, name)
            writer = _frame(spark, checked).write
            overwrite = mode == "replace"
            reads.run_tagged(
                spark, lambda: writer.insertInto(name, overwrite=overwrite), db.config, None
            )
    except reads.spark_errors() as error:
        failure = WriteError(f"table {name!r}: Spark refused the write: {reads.message(error)}")
        recording.finish(failure)
        raise failure from None
    except BaseException as error:
        recording.finish(error)
        raise
    recording.finish(table.num_rows)
    return int(table.num_rows)


def _table_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    name = getattr(target, "__tablename__", None) or getattr(target, "name", None)
    if isinstance(name, str):
        return name
    raise DbnbError(f"a Spark write takes a table name or a model class, not {target!r}")


def _arrow(data: Any, name: str) -> pa.Table:
    """``data`` (a DataFrame, dicts or model instances) as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if not isinstance(data, pd.DataFrame):
        rows = [row.model_dump() if hasattr(row, "model_dump") else dict(row) for row in data]
        data = pd.DataFrame(rows)
    try:
        # NaN in a float column is pandas' missing value: NULL, as other databases write it.
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValidationError(f"table {name!r}: {error}; nothing was written") from None


def _schema(db: Connected, name: str) -> pa.Schema | None:
    """The Arrow schema of table ``name`` in Spark (analysed, nothing run), or None."""
    from pyspark.sql.pandas.types import to_arrow_schema

    spark = db.spark
    if not spark.catalog.tableExists(name):
        return None
    return to_arrow_schema(spark.table(name).schema, timezone="UTC")


def check(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """``table`` in the table's columns, order and types; ``ValidationError`` naming the
    column (and row and value) that does not fit, before anything is sent."""
    known = schema.names
    for column in table.column_names:
        if column not in known:
            raise ValidationError(
                f"table {name!r}, column {column!r}: no such column (the table has: "
                f"{', '.join(known)}); nothing was written"
            )
    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        arrays.append(_cast(table.column(field.name), field, name))
    return pa.Table.from_arrays(arrays, schema=schema)


def _cast(column: pa.ChunkedArray, field: pa.Field, name: str) -> pa.ChunkedArray:
    try:
        return column.cast(field.type)  # safe: an overflow or a lost fraction fails
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        for row, value in enumerate(column.to_pylist(), 1):
            try:
                pa.array([value], type=column.type).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                raise ValidationError(
                    f"table {name!r}, row {row}, column {field.name!r}, value {value!r}: "
                    f"not a {field.type}; nothing was written"
                ) from None
        raise ValidationError(
            f"table {name!r}, column {field.name!r}: {column.type} is not {field.type} "
            f"({error}); nothing was written"
        ) from None


def _frame(spark: Any, table: pa.Table) -> Any:
    """A Spark DataFrame of ``table``, sent as Arrow."""
    return spark.createDataFrame(table)


def run_commands(
    db: Connected, statements: Sequence[str], values: Sequence[Mapping[str, Any]]
) -> CellRun:
    """A ``%%db --write`` cell: each statement as Spark runs SQL, in order (Spark has
    no transactions: those before a failing one stay done; the error says which)."""
    db.require_writable()
    spark = db.spark
    frame = None
    source = None
    for index, (sql, params) in enumerate(zip(statements, values, strict=True)):
        recording = monitor.Recording(db.config, sql, params)

        def run(sql: str = sql, params: Mapping[str, Any] = params) -> pa.Table:
            return spark.sql(reads.statement(sql), args=dict(params)).toArrow()

        try:
            result = reads.run_tagged(spark, run, db.config, db.config.statement_timeout)
        except reads.spark_errors() as error:
            where = f"statement {index + 1} of {len(statements)}: " if len(statements) > 1 else ""
            failure = QueryError(f"{db.name}: {where}{reads.message(error)}")
            recording.finish(failure)
            raise failure from None
        except BaseException as error:
            recording.finish(error)
            raise
        recording.finish(result.num_rows)
        if result.num_columns:
            frame, source = types.to_frame(types.normalise(result)), index
    return CellRun(frame=frame, source=source, changed=0)
