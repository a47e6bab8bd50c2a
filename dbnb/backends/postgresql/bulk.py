"""PostgreSQL's bulk writes: rows through ``COPY ... FROM STDIN (FORMAT binary)``.

Rows go on the pooled psycopg connection, encoded from Arrow by pgpq (no Python
object per value). The wire type of each column is the server's own (asked
with a ``SELECT ... WHERE false``), so a model that says ``Integer`` for a
``bigint`` column still sends what the server expects. An upsert copies into a
temporary table dropped at commit, then runs one ``MERGE`` (PostgreSQL 15 and
later; ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`` before that, or
when a concurrent insert of the same key makes MERGE fail). Columns pgpq cannot
encode (arrays, numerics wider than 38 digits, types dbnb does not know) send
the whole write through a text COPY. A refused row is found again from COPY's
line, or from the key values in the server's detail.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

import psycopg
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder, encoders, schema
from sqlalchemy.engine import Connection

from dbnb.errors import WriteError
from dbnb.sql import identifiers
from dbnb.write.bulk import (
    BATCH_ROWS,
    castable,
    find_key,
    on_conflict,
    python_values,
    rejected,
)
from dbnb.write.validate import Checked

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

# Types whose equality is the values' own: an upsert can tell an unchanged row (json has
# no equality; box's "=" compares areas, so it is not here). psycopg files an array under
# its element's name, and array equality is its elements'.
_PG_COMPARABLE = {
    *_PG_WIRE,
    *("numeric", "enum", "inet", "cidr", "macaddr", "macaddr8", "money", "bit", "varbit"),
    "timetz",
} - {"json"}

log = logging.getLogger("dbnb")

_COPY_LINE = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:\n]+))?")
_PG_KEY = re.compile(r"Key \((.*)\)=\((.*)\) (?:already exists|is not present in table)")


class PostgreSQLWriter:
    """Rows sent by a binary COPY from Arrow (``dbnb.write.bulk``'s ``BulkWriter``)."""

    def __init__(
        self, connection: Connection, checked: Checked, sent: Callable[[int], object]
    ) -> None:
        self.checked = checked
        self.sent = sent
        self.raw: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
        dialect = connection.dialect
        self.target = identifiers.table(dialect, checked.table)
        self.names = checked.names
        self.quote: Callable[[str], str] = functools.partial(identifiers.quote, dialect)
        self.columns = ", ".join(self.quote(name) for name in self.names)

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
        action = on_conflict(
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
            # User-defined types psycopg does not know: enums (and arrays of them, filed
            # under their element's name as psycopg files arrays) read and write as text.
            cursor.execute(
                "SELECT t.oid FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem "
                "WHERE t.oid = ANY(%s) AND 'e' IN (t.typtype, e.typtype)",
                [unknown],
            )
            names.update((oid, "enum") for (oid,) in cursor.fetchall())
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
                self.sent(batch.num_rows)
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
            if wire is None or not castable(values.type, wire):
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
                self.sent(len(batch))

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
                position = find_key(self.checked, key.group(1), key.group(2))
        return rejected(self.checked, reason, position, column)


_CANCEL_TIMEOUT = 5.0  # seconds to reach the server with a cancel request


def cancel(connection: Connection) -> None:
    """Cancel the statement the connection runs on another thread (psycopg's cancel
    request, over a connection of its own): it fails there with ``QueryCanceled``, and
    a COPY stops taking rows. The server ignores a cancel that finds no statement."""
    raw: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
    try:
        raw.cancel_safe(timeout=_CANCEL_TIMEOUT)
    except Exception as error:  # the interrupt itself must go on
        log.warning("could not cancel the write's statement: %s", error)
