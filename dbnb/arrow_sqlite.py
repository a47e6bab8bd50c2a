"""The columnar read path on SQLite: ADBC's SQLite driver, made to stop and to tell.

ADBC's SQLite driver reads a result straight into Arrow, three times as fast as
sqlite3's rows, but out of the box it breaks two of dbnb's rules, and a small
SQLite extension of dbnb's own (``_sqlite_watch.c``, loaded into each of these
connections) mends both:

- **Ctrl-C stops the read in the engine.** The driver cannot cancel a
  statement. The read runs on a worker thread; Ctrl-C on the caller's thread
  calls ``sqlite3_interrupt`` on the connection (through the extension, as the
  driver links its own SQLite) and waits for the engine to stop.
- **A column's values keep their storage classes.** The driver types a column
  from its values and silently turns values of another class into text or
  bytes (``1`` into ``'1'``). The query is run as ``SELECT q.*,
  dbnb_classes(q.a, ...) FROM (<query>) AS q``; the extension packs each row's
  storage classes into one integer, and the frame is kept only when every
  column held what its Arrow type says, as the guarded path would have read
  it: integers in ``int64``, reals (and integers a double holds exactly) in
  ``double``, text in ``string``, blobs in ``binary``, and a column with no
  value at all as Python objects. Anything else takes the guarded path.

Read-only as the guarded path is: files open with ``mode=ro`` and
``PRAGMA query_only``, only one statement that starts as a query ever runs
(``params.to_positional``), and the driver's ``load_extension`` is switched
off again once the extension is in.

Without the compiled extension (dbnb installed where there was no C compiler
or no SQLite headers), SQLite reads take the guarded path.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import urllib.parse
import weakref
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.arrow_columns import TimedOut
from dbnb.params import Positional

T = TypeVar("T")

_EXTENSION_SPEC = importlib.util.find_spec("dbnb._sqlite_watch")
_EXTENSION = _EXTENSION_SPEC.origin if _EXTENSION_SPEC is not None else None
_ENTRY_POINT = "dbnb_watch_init"
_RENAMED = re.compile(r"(.*):\d+", re.DOTALL)
_CLASSES_PER_CALL = 21  # dbnb_classes packs 21 three-bit codes into one integer
# Storage class codes (sqlite3_value_type, and 6 from the extension).
INTEGER, REAL, TEXT, BLOB, NULL, WIDE_INTEGER = 1, 2, 3, 4, 5, 6
# Which classes each Arrow type of the driver's holds exactly as sqlite3 reads them.
_FAITHFUL: dict[pa.DataType, frozenset[int]] = {
    pa.int64(): frozenset({INTEGER, WIDE_INTEGER, NULL}),
    pa.float64(): frozenset({REAL, INTEGER, NULL}),
    pa.string(): frozenset({TEXT, NULL}),
    pa.binary(): frozenset({BLOB, NULL}),
}
# The whole result in one batch: the driver then types each column from all of it
# and never stops half-way with "type mismatch".
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}


# Each connection's sqlite3 handle, for sqlite3_interrupt.
_HANDLES: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


class Unfaithful(Exception):
    """The driver's Arrow would differ from what the guarded path reads."""


def available() -> bool:
    """Whether the extension was built, so this path can run at all."""
    return _EXTENSION is not None


def connect(path: str) -> Any:
    """A read-only ADBC connection to the SQLite file ``path``, the extension loaded."""
    assert _EXTENSION is not None
    uri = f"file:{urllib.parse.quote(path)}?mode=ro"
    connection = adbc_sqlite.connect(uri, autocommit=False)
    try:
        handle = connection.adbc_connection
        handle.set_options(**{"adbc.sqlite.load_extension.enabled": "true"})
        handle.set_options(**{"adbc.sqlite.load_extension.path": _EXTENSION})
        handle.set_options(**{"adbc.sqlite.load_extension.entrypoint": _ENTRY_POINT})
        # Off again: no query of the caller's may load an extension.
        handle.set_options(**{"adbc.sqlite.load_extension.enabled": "false"})
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = ON")
            cursor.execute("SELECT dbnb_connection_handle()")
            _HANDLES[connection] = int(cursor.fetch_arrow_table().column(0)[0].as_py())
        connection.rollback()
    except BaseException:
        connection.close()
        raise
    return connection


def interrupt(connection: Any) -> None:
    """Stop what ``connection`` (pooled or not) is running, from any thread."""
    handle = _HANDLES[getattr(connection, "dbapi_connection", connection)]
    library = ctypes.CDLL(_EXTENSION)
    library.dbnb_watch_interrupt.argtypes = [ctypes.c_ssize_t]
    library.dbnb_watch_interrupt(handle)


def read_frame(
    connection: Any,
    statement: Positional,
    bind: pa.RecordBatch | None,
    timeout: float | None = None,
) -> pd.DataFrame:
    """The result of ``statement`` as the guarded path would give it; ``Unfaithful``
    when it would not; ``KeyboardInterrupt`` (Ctrl-C) or ``TimedOut`` (``timeout``
    seconds) once the engine has stopped."""

    def read() -> tuple[list[str], pa.Table, list[str]]:
        # The names first: the storage classes are asked for by column name.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({statement.sql}) LIMIT 0", bind)
            names = [column[0] for column in cursor.description]
        # A subquery renames a repeated column "a" to "a:1": the guarded path keeps
        # both "a", and a query of its own cannot name either apart.
        repeated = [match.group(1) for name in names if (match := _RENAMED.fullmatch(name))]
        if any(original in names for original in repeated):
            raise Unfaithful("repeated column names")
        sql, markers = _with_classes(statement.sql, names)
        with connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**_ONE_BATCH)
            cursor.execute(sql, bind)
            table: pa.Table = cursor.fetch_arrow_table()
        return names, table, markers

    names, table, markers = interruptible(read, lambda: interrupt(connection), timeout)
    return _to_frame(table.select(range(len(names))), table.select(markers), names)


def _with_classes(sql: str, names: list[str]) -> tuple[str, list[str]]:
    """``sql`` with each row's storage classes packed into extra columns at the end."""
    columns = [f'q."{name.replace(chr(34), chr(34) * 2)}"' for name in names]
    markers = []
    calls = []
    for start in range(0, len(columns), _CLASSES_PER_CALL):
        marker = f"dbnb_classes_{start}"
        while marker in names:
            marker += "_"
        markers.append(marker)
        calls.append(
            f'dbnb_classes({", ".join(columns[start : start + _CLASSES_PER_CALL])}) AS "{marker}"'
        )
    extra = "".join(f", {call}" for call in calls)
    return f"SELECT q.*{extra} FROM ({sql}) AS q", markers


def _to_frame(table: pa.Table, classes: pa.Table, names: list[str]) -> pd.DataFrame:
    found = _classes_by_column(classes, len(names))
    data: dict[int, Any] = {}
    for index, chunked in enumerate(table.columns):
        held = found[index]
        if held <= {NULL}:  # no value at all (or no row): nothing to type it by
            data[index] = pd.Series([None] * table.num_rows, dtype=object)
            continue
        if not held <= _FAITHFUL.get(chunked.type, frozenset()):
            raise Unfaithful(f"column {names[index]!r}: {sorted(held)} as {chunked.type}")
        if pa.types.is_string(chunked.type):
            chunked.validate(full=True)  # TEXT that is not UTF-8: the guarded path says so
        data[index] = pd.arrays.ArrowExtensionArray(chunked)
    # Keyed by position, named after, as the guarded path's frames are.
    frame = pd.DataFrame(data) if data else pd.DataFrame()
    frame.columns = pd.Index(names, dtype=object)
    return frame


def _classes_by_column(classes: pa.Table, count: int) -> list[set[int]]:
    """The storage classes each column held, from the packed codes of every row."""
    found: list[set[int]] = [set() for _ in range(count)]
    for call, chunked in enumerate(classes.columns):
        for packed in pc.unique(chunked).to_pylist():
            for offset in range(min(_CLASSES_PER_CALL, count - call * _CLASSES_PER_CALL)):
                found[call * _CLASSES_PER_CALL + offset].add((packed >> (3 * offset)) & 7)
    return found


def interruptible(
    run: Callable[[], T], stop: Callable[[], None], timeout: float | None = None
) -> T:
    """``run()`` on a worker thread. Ctrl-C while it runs, or ``timeout`` seconds
    passing, calls ``stop()`` and waits for ``run`` to end; then raises
    ``KeyboardInterrupt`` or ``TimedOut`` here."""
    future = _WORKERS.submit(run)
    try:
        return future.result(timeout)
    except futures.TimeoutError:
        _stop_and_wait(future, stop)
        raise TimedOut from None
    except KeyboardInterrupt:
        _stop_and_wait(future, stop)
        raise


def _stop_and_wait(future: futures.Future[Any], stop: Callable[[], None]) -> None:
    stop()
    while not future.done():  # the engine stops at its next step; wait for it
        try:
            futures.wait([future])
        except KeyboardInterrupt:
            stop()  # pressed again: still, never close the connection under it


# Threads that run the reads, one per concurrent read, started as needed and kept.
_WORKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="dbnb-sqlite-read")
