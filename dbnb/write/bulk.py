"""Validated rows into the database, fast, inside the caller's transaction.

Each database sends rows its own way, through its backend's ``bulk_writer``
(PostgreSQL: a binary ``COPY`` from Arrow, ``dbnb/backends/postgresql/bulk.py``;
SQLite: ``executemany`` of SQLAlchemy's own stored forms,
``dbnb/backends/sqlite/bulk.py``; any other dialect: SQLAlchemy's executemany,
``ExecutemanyWriter`` here, the base ``Backend``'s). What they share is here: the progress bar, the
keys an upsert takes once, the ``ON CONFLICT`` clause, and naming the row a
database refused in a ``WriteError``. The caller's transaction then rolls
everything back.

Ctrl-C: the writer runs on a worker thread (``dbnb.engine.interrupts``), so a
Ctrl-C reaches the caller's thread, never the driver in the middle of a reply.
The backend then asks the database to end the statement (``stop_statement``:
PostgreSQL's cancel, MariaDB's ``KILL QUERY``, ``sqlite3_interrupt``), the
writer sends no further batch, and once it has returned ``KeyboardInterrupt``
is raised here: the connection, its statement over, rolls back as after any
error and goes back to the pool.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import exc
from sqlalchemy.engine import Connection
from tqdm import tqdm

from dbnb.config import ConnectionConfig
from dbnb.engine import interrupts
from dbnb.errors import ValidationError, WriteError, one_line
from dbnb.write.columns import WriteRules
from dbnb.write.validate import Checked

BATCH_ROWS = 20_000
# Told the number of rows each time some are sent (the progress bar).
Sent = Callable[[int], object]


class BulkWriter(Protocol):
    """One database's way of sending checked rows, made by its backend's ``bulk_writer``
    for one connection (in its open transaction), one table's rows and a ``Sent``."""

    def send(self, mode: str, keys: Sequence[str]) -> int:
        """Send every row (``replace`` empties the table first; ``upsert`` by ``keys``);
        the rows written. A refused row: ``WriteError`` naming it (see ``rejected``)."""


class WriteBackend(Protocol):
    """What the write layer asks of a database's backend (resolved once per connection,
    ``dbnb.backends.base.Backend``)."""

    @property
    def write_rules(self) -> WriteRules:
        """What its columns hold, checked before a write sends anything."""

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """How checked rows are sent in ``connection``'s open transaction."""

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """Ask the database to end the statement ``connection`` runs on another thread
        (Ctrl-C during a write); nothing where the database cannot be asked."""


# Show the bar only for writes that last longer than this (seconds).
PROGRESS_DELAY = 1.0
# After Ctrl-C, the statement is asked to stop this often (seconds), until the writer has
# returned: a statement that had not reached the server yet is stopped too.
_STOP_EVERY = 0.05
_STOP_AT_MOST = 10.0


class _Stopped(Exception):
    """Ctrl-C came: the writer sends no further batch (raised on the worker thread)."""


def send(
    connection: Connection,
    checked: Checked,
    mode: str,
    keys: Sequence[str],
    *,
    config: ConnectionConfig,
    backend: WriteBackend,
    progress: bool | None,
) -> int:
    """Send every checked row in the connection's open transaction, as its database's
    ``backend`` sends them; rows written.

    ``progress``: True always shows a bar, False never, None (the default) only
    where someone watches (a terminal or a Jupyter kernel) and the write lasts.
    Ctrl-C ends the statement on the server, then raises ``KeyboardInterrupt``.
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
        stopping, finished = threading.Event(), threading.Event()

        def sent(count: int) -> None:
            if stopping.is_set():
                raise _Stopped
            bar.update(count)

        def run() -> int:
            try:
                return backend.bulk_writer(connection, checked, sent).send(mode, keys)
            finally:
                finished.set()

        def stop() -> None:
            stopping.set()
            interrupts.repeat_until(
                lambda: backend.stop_statement(connection, config),
                finished.is_set,
                every=_STOP_EVERY,
                at_most=_STOP_AT_MOST,
            )

        return interrupts.interruptible(run, stop)


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


def on_conflict(
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


def find_key(checked: Checked, columns: str, values: str) -> int | None:
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


def castable(source: pa.DataType, wire: pa.DataType) -> bool:
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


class ExecutemanyWriter:
    """Any other SQLAlchemy dialect: SQLAlchemy's own ``executemany`` of the table's
    ``INSERT``, in batches, the column types' bind processors applied by SQLAlchemy.
    An upsert needs the dialect's own clause, which only a backend knows."""

    def __init__(self, connection: Connection, checked: Checked, sent: Sent) -> None:
        self.connection = connection
        self.checked = checked
        self.sent = sent

    def send(self, mode: str, keys: Sequence[str]) -> int:
        table = self.checked.table
        if mode == "upsert":
            raise WriteError.at(
                table.name,
                f"upsert is not available on {self.connection.dialect.name}; "
                "use mode='append' or 'replace'",
            )
        if mode == "replace":
            self.connection.execute(table.delete())
        names = self.checked.names
        columns = [python_values(self.checked, name) for name in names]
        rows = (dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True))
        written = 0
        while batch := list(islice(rows, BATCH_ROWS)):
            try:
                self.connection.execute(table.insert(), batch)
            except exc.DBAPIError as error:
                raise WriteError.at(
                    table.name,
                    f"the database refused a row of {written + 1} to "
                    f"{written + len(batch)}: {one_line(error.orig)}",
                ) from None
            written += len(batch)
            self.sent(len(batch))
        return written
