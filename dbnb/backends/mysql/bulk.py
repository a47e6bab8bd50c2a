"""Validated rows into MariaDB or MySQL, inside the caller's transaction.

Rows go as multi-row ``INSERT`` statements of about a mebibyte each (well under
the server's ``max_allowed_packet``), each value prepared by the column type's
own SQLAlchemy bind processor and escaped by PyMySQL for the connection's
character set. An upsert is ``INSERT ... ON DUPLICATE KEY UPDATE col =
VALUES(col)``; the server leaves a row whose values are all unchanged alone,
and the count of rows written is the rows inserted or changed: the statement's
affected rows (with ``CLIENT_FOUND_ROWS``, as SQLAlchemy connects: 1 per
insert, 2 per change, 1 per unchanged row) less its ``Duplicates``. ``replace``
empties the table with ``DELETE`` (``TRUNCATE`` would commit at once).

A row the server refuses (``Duplicate entry 'a' for key 'code'``) is found
again by its key's values and named in a ``WriteError``; the caller's
transaction rolls everything back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.engine import Connection

from dbnb.errors import WriteError
from dbnb.sql import identifiers
from dbnb.write.bulk import python_values, rejected
from dbnb.write.columns import unwrap
from dbnb.write.validate import Checked

STATEMENT_BYTES = 1 << 20
_SUMMARY = re.compile(r"Records:\s*(\d+)\s+Duplicates:\s*(\d+)")
_DUPLICATE = re.compile(r"Duplicate entry '(.*)' for key '(?:[^']*\.)?([^']*)'")
# "... a foreign key constraint fails (`db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`a`, `b`)
# REFERENCES `parent` (`x`, `y`) ...)": the columns here, the table and columns there.
_FOREIGN_KEY = re.compile(
    r"FOREIGN KEY \((?P<columns>[^)]*)\) REFERENCES (?P<table>`[^`]*`(?:\.`[^`]*`)?) "
    r"\((?P<referenced>[^)]*)\)"
)


class MySQLWriter:
    """Rows sent as multi-row INSERTs (``dbnb.write.bulk``'s ``BulkWriter``)."""

    def __init__(
        self, connection: Connection, checked: Checked, sent: Callable[[int], object]
    ) -> None:
        self.connection = connection
        self.checked = checked
        self.sent = sent
        self.raw: Any = connection.connection.driver_connection
        dialect = connection.dialect
        self.quote: Callable[[str], str] = functools.partial(identifiers.quote, dialect)
        self.target = identifiers.table(dialect, checked.table)

    def send(self, mode: str, keys: Sequence[str]) -> int:
        names = self.checked.names
        head = f"INSERT INTO {self.target} ({', '.join(self.quote(n) for n in names)}) VALUES "
        tail = ""
        if mode == "upsert":
            updates = [name for name in names if name not in keys] or list(keys)[:1]
            sets = ", ".join(f"{self.quote(n)} = VALUES({self.quote(n)})" for n in updates)
            tail = f" ON DUPLICATE KEY UPDATE {sets}"
        cursor = self.raw.cursor()
        try:
            if mode == "replace":
                self._run(cursor, f"DELETE FROM {self.target}", range(0), upsert=False)
            return self._insert(cursor, head, tail, names, upsert=mode == "upsert")
        finally:
            cursor.close()

    def _insert(self, cursor: Any, head: str, tail: str, names: list[str], *, upsert: bool) -> int:
        columns = [self._values(name) for name in names]
        escape = self.raw.escape
        written = 0
        start, rows, size = 0, [], 0
        for position, row in enumerate(zip(*columns, strict=True)):
            try:
                text = "(" + ", ".join(escape(value) for value in row) + ")"
            except Exception:  # PyMySQL's: "inf can not be used with MySQL", ...
                raise self._unsendable(position, names, row) from None
            rows.append(text)
            size += len(text) + 2
            if size >= STATEMENT_BYTES:
                batch = range(start, position + 1)
                written += self._run(cursor, head + ", ".join(rows) + tail, batch, upsert=upsert)
                self.sent(len(rows))
                start, rows, size = position + 1, [], 0
        if rows:
            batch = range(start, start + len(rows))
            written += self._run(cursor, head + ", ".join(rows) + tail, batch, upsert=upsert)
            self.sent(len(rows))
        return written

    def _run(self, cursor: Any, statement: str, batch: range, *, upsert: bool) -> int:
        import pymysql

        try:
            affected = int(cursor.execute(statement))
        except pymysql.MySQLError as error:
            raise self._rejected(error, cursor, batch) from None
        if not upsert:
            return affected
        # PyMySQL keeps the OK packet's summary ("Records: 3  Duplicates: 1  Warnings: 0").
        message = getattr(getattr(cursor, "_result", None), "message", None) or b""
        found = _SUMMARY.search(message.decode(errors="replace"))
        return affected - int(found.group(2)) if found else affected

    def _values(self, name: str) -> list[Any]:
        spec = self.checked.specs[name]
        values = python_values(self.checked, name)
        if spec.kind == "json":
            return values  # JSON text already, as SQLAlchemy stores it
        dialect = self.connection.dialect
        process = unwrap(spec.sql_type).dialect_impl(dialect).bind_processor(dialect)
        return values if process is None else list(map(process, values))

    def _unsendable(self, position: int, names: list[str], row: tuple[Any, ...]) -> WriteError:
        """A value MySQL has no form for (an infinite or NaN float), named."""
        for name, value in zip(names, row, strict=True):
            try:
                self.raw.escape(value)
            except Exception as error:
                reason = f"MariaDB/MySQL cannot store {value!r} ({error})"
                return rejected(self.checked, reason, position, name)
        return rejected(self.checked, "MariaDB/MySQL cannot store a value", position, None)

    def _rejected(self, error: Exception, cursor: Any, batch: range) -> WriteError:
        message = str(error.args[1]) if len(error.args) > 1 else str(error)
        reason = f"MariaDB/MySQL refused the row: {message}"
        reference = _FOREIGN_KEY.search(message)
        if reference is not None:
            # The server does not say which row: the first of the batch whose key is not
            # in the referenced table, asked in the same transaction (the failed statement
            # alone was rolled back).
            columns = _names(reference["columns"])
            position = self._unreferenced(cursor, batch, columns, reference)
            if position is not None:
                return rejected(self.checked, reason, position, ", ".join(columns))
            return rejected(self.checked, reason, None, None)
        found = _DUPLICATE.search(message)
        if found is None:
            return rejected(self.checked, reason, None, None)
        entry, key = found.groups()
        reason = f"MariaDB/MySQL refused the row (unique key {key!r}): {message}"
        for columns in _key_columns(self.checked.table, key):
            position = _refused_row(self.checked, columns, entry)
            if position is not None:
                return rejected(self.checked, reason, position, ", ".join(columns))
        return rejected(self.checked, reason, None, None)

    def _unreferenced(
        self, cursor: Any, batch: range, columns: list[str], reference: re.Match[str]
    ) -> int | None:
        """The first row of ``batch`` whose ``columns`` (none NULL) name no row of the
        referenced table; None if that cannot be told."""
        import pymysql

        if not all(column in self.checked.columns for column in columns):
            return None
        values = [self._values(column)[batch.start : batch.stop] for column in columns]
        keys = [key for key in zip(*values, strict=True) if None not in key]
        if not keys:
            return None
        referenced = ", ".join(f"`{name}`" for name in _names(reference["referenced"]))
        wanted = ", ".join(f"({', '.join(['%s'] * len(columns))})" for _ in keys)
        try:
            cursor.execute(
                f"SELECT {referenced} FROM {reference['table']} WHERE ({referenced}) IN ({wanted})",
                [value for key in keys for value in key],
            )
            present = {tuple(str(value) for value in row) for row in cursor.fetchall()}
        except pymysql.MySQLError:
            return None
        for position, key in zip(batch, zip(*values, strict=True), strict=True):
            if None not in key and tuple(str(value) for value in key) not in present:
                return position
        return None


def _names(quoted: str) -> list[str]:
    """```a`, `b``` -> ['a', 'b']."""
    return [name.strip().strip("`") for name in quoted.split(",")]


def _key_columns(table: Table, key: str) -> list[list[str]]:
    """The column lists the key called ``key`` may be: the named one first."""
    primary = [column.name for column in table.primary_key.columns]
    uniques = [
        (constraint.name, [column.name for column in constraint.columns])
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ] + [
        (index.name, [column.name for column in index.columns])
        for index in table.indexes
        if index.unique
    ]
    named = [columns for name, columns in uniques if name == key]
    if key == "PRIMARY":
        named = [primary]
    elif key in table.columns:
        named.append([key])
    return named + [primary] + [columns for _, columns in uniques]


def _refused_row(checked: Checked, columns: list[str], entry: str) -> int | None:
    """The row the server refused: the second of two rows with the same key in this
    write, else the one whose key is that of a row already in the table."""
    if not all(column in checked.columns for column in columns):
        return None
    values = [python_values(checked, column) for column in columns]
    texts = ["-".join(str(value) for value in row) for row in zip(*values, strict=True)]
    matching = [position for position, text in enumerate(texts) if text == entry]
    if not matching:
        return None
    return matching[1] if len(matching) > 1 else matching[0]
