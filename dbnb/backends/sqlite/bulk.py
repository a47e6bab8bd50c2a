"""SQLite's bulk writes: ``executemany`` in batches, each value prepared by the
column type's own SQLAlchemy bind processor, so rows read back exactly as
SQLAlchemy wrote them; an upsert is ``INSERT ... ON CONFLICT (key) DO UPDATE``.
A refused row is found from SQLite's count of rows already inserted.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from dbnb.errors import WriteError
from dbnb.write.bulk import BATCH_ROWS, on_conflict, python_values, rejected
from dbnb.write.columns import unwrap
from dbnb.write.validate import Checked

# SQLAlchemy's default text forms of SQLite dates and datetimes (microseconds always).
_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"

_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")


class SQLiteWriter:
    """Rows sent by ``executemany`` in batches (``dbnb.write.bulk``'s ``BulkWriter``)."""

    def __init__(
        self, connection: Connection, checked: Checked, sent: Callable[[int], object]
    ) -> None:
        self.connection = connection
        self.checked = checked
        self.sent = sent
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
            statement += " " + on_conflict(self.quote, table, names, keys, "IS NOT", True)
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
                self.sent(len(batch))
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


def interrupt(connection: Connection) -> None:
    """End the statement the connection runs on another thread: ``sqlite3_interrupt``,
    which SQLite allows from any thread; the statement fails with "interrupted"."""
    raw = connection.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        raw.interrupt()
