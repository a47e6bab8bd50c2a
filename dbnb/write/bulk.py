"""Validated rows into the database, fast, inside the caller's transaction.

PostgreSQL
    Rows go through ``COPY ... FROM STDIN (FORMAT binary)`` on the pooled
    psycopg connection, encoded from Arrow by pgpq (no Python object per
    value). The wire type of each column is the server's own (asked with a
    ``SELECT ... WHERE false``), so a model that says ``Integer`` for a
    ``bigint`` column still sends what the server expects. An upsert copies
    into a temporary table dropped at commit, then runs one ``MERGE``
    (PostgreSQL 15 and later; ``INSERT ... SELECT ... ON CONFLICT (key) DO
    UPDATE`` before that, or when a concurrent insert of the same key makes
    MERGE fail). Columns pgpq cannot encode (arrays, numerics wider than 38
    digits, types dbnb does not know) send the whole write through a text COPY.

SQLite
    ``executemany`` in batches, each value prepared by the column type's own
    SQLAlchemy bind processor, so rows read back exactly as SQLAlchemy wrote
    them; an upsert is ``INSERT ... ON CONFLICT (key) DO UPDATE``.

MariaDB and MySQL
    ``dbnb/write/bulk_mysql.py``: PyMySQL's ``executemany``, which sends a batch
    as one multi-row ``INSERT``; an upsert is ``INSERT ... ON DUPLICATE KEY UPDATE``.

A row the database refuses is found again from the error (PostgreSQL's COPY
line, or the key values in its detail; SQLite's count of rows already
inserted) and named in a ``WriteError``. The caller's transaction then rolls
everything back.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import uuid
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pgpq import ArrowToPostgresBinaryEncoder, encoders, schema
from sqlalchemy.engine import Connection
from tqdm import tqdm

from dbnb.errors import ValidationError, WriteError
from dbnb.write.columns import unwrap
from dbnb.write.validate import Checked

BATCH_ROWS = 20_000
# The writers of databases whose module builds on this one (dbnb/write/bulk_mysql.py),
# by dialect name; dbnb.write loads them.
WRITERS: dict[str, Callable[[Connection, Checked, tqdm[Any]], Any]] = {}
# Show the bar only for writes that last longer than this (seconds).
PROGRESS_DELAY = 1.0

# PostgreSQL type names pgpq encodes, and the Arrow type each is sent as.
_PG_WIRE: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "interval": pa.duration("us"),
    "bytea": pa.binary(),
    "uuid": pa.binary(16),
}

# Types with an equality operator: an upsert can tell an unchanged row (json has none).
_PG_COMPARABLE = {*_PG_WIRE, "numeric", "enum"} - {"json"}

# SQLAlchemy's default text forms of SQLite dates and datetimes (microseconds always).
_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"

_COPY_LINE = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:\n]+))?")
_PG_KEY = re.compile(r"Key \((.*)\)=\((.*)\) (?:already exists|is not present in table)")
_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")


def send(
    connection: Connection,
    checked: Checked,
    mode: str,
    keys: Sequence[str],
    *,
    progress: bool | None,
) -> int:
    """Send every checked row in the connection's open transaction; rows written.

    ``progress``: True always shows a bar, False never, None (the default) only
    where someone watches (a terminal or a Jupyter kernel) and the write lasts.
    """
    with tqdm(
        total=len(checked),
        unit="rows",
        desc=f"writing {checked.table.name}",
        disable=not (progress or (progress is None and _interactive())),
        delay=0 if progress else PROGRESS_DELAY,
        leave=False,
        file=sys.stderr,
    ) as bar:
        if connection.dialect.name == "postgresql":
            return _PostgreSQL(connection, checked, bar).send(mode, keys)
        writer = WRITERS.get(connection.dialect.name)
        if writer is not None:
            return int(writer(connection, checked, bar).send(mode, keys))
        return _SQLite(connection, checked, bar).send(mode, keys)


def _interactive() -> bool:
    # Looking into sys.modules imports nothing: the core never imports IPython.
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def check_unique_keys(checked: Checked, keys: Sequence[str]) -> None:
    """An upsert cannot give the same key twice: the database would refuse the second."""
    frame = pd.DataFrame({name: _hashable(checked.columns[name]) for name in keys})
    duplicated = frame.duplicated().to_numpy(dtype=bool)
    if duplicated.any():
        position = int(duplicated.argmax())
        first = int((frame == frame.iloc[position]).all(axis=1).to_numpy().argmax())
        value = tuple(frame.iloc[position]) if len(keys) > 1 else frame.iloc[position, 0]
        raise ValidationError.at(
            checked.table.name,
            f"the same key as row {checked.label(first)!r}; an upsert takes each key once",
            row=checked.label(position),
            column=", ".join(keys),
            value=_readable(value),
        )


def _hashable(values: pa.Array | list[Any]) -> pd.Series:
    if isinstance(values, pa.Array):  # Arrow-backed: pandas hashes it without Python objects
        return pd.Series(pd.arrays.ArrowExtensionArray(values))
    return pd.Series(values, dtype=object)


def _readable(value: Any) -> Any:
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes=value)
    if isinstance(value, tuple):
        return tuple(_readable(v) for v in value)
    return value


class _PostgreSQL:
    def __init__(self, connection: Connection, checked: Checked, bar: tqdm[Any]) -> None:
        self.checked = checked
        self.bar = bar
        self.raw: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
        preparer = connection.dialect.identifier_preparer
        self.target = preparer.format_table(checked.table)
        self.names = checked.names
        self.columns = ", ".join(preparer.quote(name) for name in self.names)
        self.quote: Callable[[str], str] = preparer.quote

    def send(self, mode: str, keys: Sequence[str]) -> int:
        with self.raw.cursor() as cursor:
            try:
                return self._send(cursor, mode, keys)
            except psycopg.Error as error:
                raise self._rejected(error) from None

    def _send(self, cursor: psycopg.Cursor[Any], mode: str, keys: Sequence[str]) -> int:
        if mode == "replace":
            cursor.execute(f"DELETE FROM {self.target}")
        types = self._server_types(cursor)
        if mode != "upsert":
            self._copy(cursor, self.target, types)
            return len(self.checked)
        stage = f"dbnb_stage_{uuid.uuid4().hex[:16]}"
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {self.columns} FROM {self.target} WITH NO DATA"
        )
        self._copy(cursor, stage, types)
        comparable = all(kind in _PG_COMPARABLE for kind in types)
        if self.raw.info.server_version >= 150000:
            # MERGE joins the staged rows to the table in one pass, where ON CONFLICT
            # probes the key index row by row: about twice as fast on 100,000 rows.
            # A key inserted meanwhile by another transaction makes MERGE fail where
            # ON CONFLICT would update it, so that case runs again as ON CONFLICT.
            cursor.execute("SAVEPOINT dbnb_merge")
            try:
                cursor.execute(self._merge(stage, keys, comparable))
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT dbnb_merge")
            else:
                return int(cursor.rowcount)
        action = _on_conflict(
            self.quote, "dbnb_target", self.names, keys, "IS DISTINCT FROM", comparable
        )
        cursor.execute(
            f"INSERT INTO {self.target} AS dbnb_target ({self.columns}) "
            f"SELECT {self.columns} FROM {stage} {action}"
        )
        return int(cursor.rowcount)

    def _merge(self, stage: str, keys: Sequence[str], comparable: bool) -> str:
        q = self.quote
        on = " AND ".join(f"dbnb_target.{q(k)} = dbnb_stage.{q(k)}" for k in keys)
        values = ", ".join(f"dbnb_stage.{q(name)}" for name in self.names)
        statement = f"MERGE INTO {self.target} AS dbnb_target USING {stage} AS dbnb_stage ON {on} "
        updates = [name for name in self.names if name not in keys]
        if updates:
            changed = ""
            if comparable:  # leave unchanged rows alone, as the ON CONFLICT form does
                old = ", ".join(f"dbnb_target.{q(name)}" for name in updates)
                new = ", ".join(f"dbnb_stage.{q(name)}" for name in updates)
                changed = f" AND ({old}) IS DISTINCT FROM ({new})"
            sets = ", ".join(f"{q(name)} = dbnb_stage.{q(name)}" for name in updates)
            statement += f"WHEN MATCHED{changed} THEN UPDATE SET {sets} "
        return statement + f"WHEN NOT MATCHED THEN INSERT ({self.columns}) VALUES ({values})"

    def _server_types(self, cursor: psycopg.Cursor[Any]) -> list[str | None]:
        """The server's type name of each column sent ('enum' for any enum type)."""
        cursor.execute(f"SELECT {self.columns} FROM {self.target} WHERE false")
        oids = [column.type_code for column in cursor.description or []]
        names: dict[int, str] = {}
        for oid in oids:
            info = self.raw.adapters.types.get(oid)
            if info is not None:
                names[oid] = info.name
        unknown = [oid for oid in oids if oid not in names]
        if unknown:
            # User-defined types psycopg does not know: enums read and write as text.
            cursor.execute("SELECT oid, typtype FROM pg_type WHERE oid = ANY(%s)", [unknown])
            names.update((oid, "enum") for oid, typtype in cursor.fetchall() if typtype == "e")
        return [names.get(oid) for oid in oids]

    def _copy(self, cursor: psycopg.Cursor[Any], into: str, types: list[str | None]) -> None:
        table = self._wire_table(types)
        statement = f"COPY {into} ({self.columns}) FROM STDIN"
        if table is None:
            self._copy_text(cursor, statement)
            return
        builders: dict[str, Any] = {}
        for name, kind in zip(self.names, types, strict=True):
            field = table.schema.field(name)
            if kind == "jsonb":  # jsonb's binary form starts with a version byte
                builders[name] = encoders.StringEncoderBuilder.new_with_output(
                    field, schema.Jsonb()
                )
            else:
                builders[name] = ArrowToPostgresBinaryEncoder.infer_encoder(field)
        encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(table.schema, builders)
        with cursor.copy(statement + " (FORMAT binary)") as copy:
            copy.write(encoder.write_header())
            for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                copy.write(encoder.write_batch(batch))
                self.bar.update(batch.num_rows)
            copy.write(encoder.finish())

    def _wire_table(self, types: list[str | None]) -> pa.Table | None:
        """The rows as Arrow in the server's exact types, or None when pgpq cannot send them."""
        arrays = {}
        for name, type_name in zip(self.names, types, strict=True):
            values = self.checked.columns[name]
            if not isinstance(values, pa.Array):
                return None
            wire = _PG_WIRE.get(type_name or "")
            if wire is None and type_name == "numeric" and pa.types.is_decimal128(values.type):
                wire = values.type
            if type_name == "enum":
                wire = pa.string()
            if wire is None or not _castable(values.type, wire):
                return None
            try:
                arrays[name] = values if values.type == wire else values.cast(wire)
            except pa.ArrowInvalid:  # the table's column is narrower than the model's
                return None
        return pa.table(arrays)

    def _copy_text(self, cursor: psycopg.Cursor[Any], statement: str) -> None:
        columns = [python_values(self.checked, name) for name in self.names]
        rows = zip(*columns, strict=True)
        with cursor.copy(statement) as copy:
            while batch := list(islice(rows, BATCH_ROWS)):
                for row in batch:
                    copy.write_row(row)
                self.bar.update(len(batch))

    def _rejected(self, error: psycopg.Error) -> WriteError:
        diag = error.diag
        reason = diag.message_primary or str(error).splitlines()[0]
        if diag.message_detail:
            reason += f" ({diag.message_detail.rstrip('.')})"
        line = _COPY_LINE.search(diag.context or "")
        position = int(line.group(1)) - 1 if line else None
        column = diag.column_name or (line.group(2).strip() if line and line.group(2) else None)
        key = _PG_KEY.search(diag.message_detail or "")
        if key:
            column = column or key.group(1)
            if position is None:
                position = _find_key(self.checked, key.group(1), key.group(2))
        return rejected(self.checked, reason, position, column)


class _SQLite:
    def __init__(self, connection: Connection, checked: Checked, bar: tqdm[Any]) -> None:
        self.connection = connection
        self.checked = checked
        self.bar = bar
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        self.raw = raw
        preparer = connection.dialect.identifier_preparer
        self.quote: Callable[[str], str] = preparer.quote
        self.target = preparer.format_table(checked.table)

    def send(self, mode: str, keys: Sequence[str]) -> int:
        names = self.checked.names
        columns = ", ".join(self.quote(name) for name in names)
        marks = ", ".join("?" for _ in names)
        statement = f"INSERT INTO {self.target} ({columns}) VALUES ({marks})"
        if mode == "upsert":
            table = self.quote(self.checked.table.name)
            statement += " " + _on_conflict(self.quote, table, names, keys, "IS NOT", True)
        if mode == "replace":
            try:
                self.raw.execute(f"DELETE FROM {self.target}")
            except sqlite3.Error as error:
                raise WriteError.at(
                    self.checked.table.name, f"SQLite refused to empty the table: {error}"
                ) from None
        values = [self._values(name) for name in names]
        rows = zip(*values, strict=True)
        start = self.raw.total_changes
        sent = 0
        cursor = self.raw.cursor()
        try:
            while batch := list(islice(rows, BATCH_ROWS)):
                before = self.raw.total_changes
                try:
                    cursor.executemany(statement, batch)
                except sqlite3.Error as error:
                    # Each row of executemany is its own statement: the rows before
                    # the refused one have changed one row each.
                    position = sent + (self.raw.total_changes - before)
                    raise self._rejected(error, position) from None
                sent += len(batch)
                self.bar.update(len(batch))
        finally:
            cursor.close()
        return self.raw.total_changes - start

    def _values(self, name: str) -> list[Any]:
        spec = self.checked.specs[name]
        column = self.checked.columns[name]
        if spec.kind == "json":
            return python_values(self.checked, name)  # JSON text, as SQLAlchemy stores it
        dialect = self.connection.dialect
        impl = unwrap(spec.sql_type).dialect_impl(dialect)
        if isinstance(column, pa.Array):
            # The text SQLAlchemy's SQLite types store, made by Arrow for the whole column
            # (a Python datetime per value is most of the time of a SQLite write).
            text_format = getattr(impl, "_storage_format", None)
            if spec.kind == "datetime" and text_format == _SQLITE_DATETIME:
                naive = column.cast(pa.timestamp("us"))  # UTC for a column with time zone
                return pc.strftime(naive, "%Y-%m-%d %H:%M:%S").to_pylist()  # type: ignore[no-any-return]
            if spec.kind == "date" and text_format == _SQLITE_DATE:
                return column.cast(pa.string()).to_pylist()  # type: ignore[no-any-return]
        values = python_values(self.checked, name)
        process = impl.bind_processor(dialect)
        return values if process is None else list(map(process, values))

    def _rejected(self, error: sqlite3.Error, position: int) -> WriteError:
        message = str(error)
        found = _SQLITE_COLUMNS.search(message)
        column = None
        if found:
            names = [part.strip().rpartition(".")[2] for part in found.group(1).split(",")]
            column = ", ".join(names)
        if position >= len(self.checked):
            position = len(self.checked) - 1
        return rejected(self.checked, f"SQLite refused the row: {message}", position, column)


def _on_conflict(
    quote: Callable[[str], str],
    target: str,
    names: Sequence[str],
    keys: Sequence[str],
    differs: str,
    comparable: bool,
) -> str:
    """The ON CONFLICT clause of an upsert.

    Rows whose values are all unchanged are left alone (no new row version, no
    trigger), so the count of rows written is the rows inserted or changed.
    """
    conflict = ", ".join(quote(name) for name in keys)
    updates = [name for name in names if name not in keys]
    if not updates:
        return f"ON CONFLICT ({conflict}) DO NOTHING"
    sets = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in updates)
    clause = f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
    if comparable:
        old = ", ".join(f"{target}.{quote(name)}" for name in updates)
        new = ", ".join(f"excluded.{quote(name)}" for name in updates)
        clause += f" WHERE ({old}) {differs} ({new})"
    return clause


def rejected(checked: Checked, reason: str, position: int | None, column: str | None) -> WriteError:
    value = None
    if position is not None and column is not None:
        names = [name.strip().strip('"') for name in column.split(",")]
        if all(name in checked.columns for name in names):
            values = tuple(python_values(checked, name, position)[0] for name in names)
            value = values[0] if len(values) == 1 else values
    return WriteError.at(
        checked.table.name,
        f"the database refused it: {reason}",
        row=checked.label(position) if position is not None else None,
        column=column,
        value=value,
    )


def _find_key(checked: Checked, columns: str, values: str) -> int | None:
    """The first row whose key reads as PostgreSQL printed it, or None."""
    names = [name.strip().strip('"') for name in columns.split(", ")]
    texts = values.split(", ")
    if len(names) != len(texts) or not all(name in checked.columns for name in names):
        return None
    mask = None
    for name, text in zip(names, texts, strict=True):
        column = python_values(checked, name)
        try:
            as_text = pa.array([None if v is None else str(v) for v in column], pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        equal = pc.fill_null(pc.equal(as_text, text), False)
        mask = equal if mask is None else pc.and_(mask, equal)
    if mask is None or not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())


def python_values(checked: Checked, name: str, position: int | None = None) -> list[Any]:
    """A column's values as the Python objects a driver adapts (UUIDs, Decimals, datetimes)."""
    values = checked.columns[name]
    if position is not None:
        values = values[position : position + 1]
    if not isinstance(values, pa.Array):
        return list(values)
    out: list[Any] = values.to_pylist()
    if checked.specs[name].kind == "uuid":
        return [None if v is None else uuid.UUID(bytes=v) for v in out]
    return out


def _castable(source: pa.DataType, wire: pa.DataType) -> bool:
    if source == wire:
        return True
    kinds = (
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_string,
        pa.types.is_timestamp,
        pa.types.is_binary,
        pa.types.is_fixed_size_binary,
    )
    return any(kind(source) and kind(wire) for kind in kinds)
