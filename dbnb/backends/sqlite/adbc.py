"""The columnar read path on SQLite: ADBC's SQLite driver, made to stop and to tell.

ADBC's SQLite driver reads a result straight into Arrow, three times as fast as
sqlite3's rows, but out of the box it breaks three of dbnb's rules, and a small
SQLite extension of dbnb's own (``_sqlite_watch.c``, loaded into each of these
connections) mends them:

- **Ctrl-C stops the read in the engine.** The driver cannot cancel a
  statement. The read runs on a worker thread; Ctrl-C on the caller's thread
  calls ``sqlite3_interrupt`` on the connection (through the extension, as the
  driver links its own SQLite) and waits for the engine to stop.
- **A column's values keep their storage classes.** The driver types a column
  from its values and silently turns values of another class into text, bytes
  or doubles (``1`` into ``'1'``, a REAL into six digits of text). The
  extension lets only the values of each column's first class through to the
  driver, so its columns hold exactly what SQLite had, and keeps every other
  value aside, exact, to be put back in its row here: the frame is the guarded
  path's, whatever the classes.
- **A statement runs once.** Its columns' names and declared types come from
  preparing it, never stepping it (``dbnb_describe``); whatever cannot be read
  here is known then, and takes the guarded path before anything ran. Once it
  has run, its result or its error is final (``Failed``), never a second run.

A column declared as one of ``types.DECLARED`` reads as a ``select()``
of it would, exactly as the guarded path reads it (``frames.column``; a whole
column at once where Arrow vouches for each value, ``types.whole_column``).

Read-only as the guarded path is: files open with ``mode=ro`` and
``PRAGMA query_only``, only one statement that starts as a query ever runs
(``params.to_positional``; the extension also refuses to describe anything
else), and the driver's ``load_extension`` is switched off again once the
extension is in.

Without the compiled extension (dbnb installed where there was no C compiler
or no SQLite headers), SQLite reads take the guarded path.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import struct
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc_sqlite
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.backends.sqlite import binds
from dbnb.backends.sqlite import types as sqlite_types
from dbnb.config import ConnectionConfig
from dbnb.engine.interrupts import interruptible
from dbnb.errors import QueryError
from dbnb.read import frames
from dbnb.read.arrow_plan import Plan
from dbnb.read.columnar import Failed, ReadWhole, Rules, TimedOut, Unsupported
from dbnb.sql.params import Positional, PositionalRules

_EXTENSION_SPEC = importlib.util.find_spec("dbnb._sqlite_watch")
_EXTENSION = _EXTENSION_SPEC.origin if _EXTENSION_SPEC is not None else None
_ENTRY_POINT = "dbnb_watch_init"
# Storage classes (sqlite3_value_type).
INTEGER, REAL, TEXT, BLOB = 1, 2, 3, 4
# The whole result in one batch: the driver then types each column from all of it
# and never stops half-way with "type mismatch".
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}
# What pysqlite waits for a lock by default (sqlite3.connect's timeout), so a read
# that meets a writer waits as the guarded path would, instead of failing at once.
_BUSY_TIMEOUT_MS = 5000
# The subquery reads the schema table: SQLite then checks the schema cookie before the
# describe prepares the statement, so a table another connection dropped and made
# again is described as it is now, not as this connection last saw it.
_DESCRIBE = "SELECT dbnb_describe('{}'), (SELECT 1 FROM sqlite_schema LIMIT 1)"
_KEPT = "SELECT dbnb_kept(0), dbnb_kept(1)"
# A statement that calls the extension's functions itself could upset a read.
_OWN_FUNCTIONS = re.compile(r"dbnb_(?:describe|value|number|row|kept|connection_handle)\W*\(", re.I)
_STEP_FAILED = re.compile(r"^(?:\w+: )?(?:\[SQLite\] )?Failed to step query: ", re.DOTALL)
# Kept integers and reals: row, column, storage class, the value's 64 bits.
_FIXED = np.dtype([("row", "=i8"), ("column", "=i4"), ("type", "=i4"), ("value", "=i8")])
_VARIABLE = struct.Struct("=qiiq")  # row, column, storage class, length; then the bytes
_EXACT = 2**53  # a double holds every integer up to this exactly


# Each connection's sqlite3 handle, for sqlite3_interrupt.
_HANDLES: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


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
            cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
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


@dataclass(frozen=True)
class _Described:
    names: list[str]
    declared: list[str | None]  # sqlite3_column_decltype: None for an expression


@dataclass
class _Read:
    described: _Described
    table: pa.Table  # the values that passed, then the dbnb_row() column
    fixed: bytes = b""  # kept integers and reals
    variable: bytes = b""  # kept text and blobs


def read_frame(
    connection: Any,
    statement: Positional,
    bind: pa.RecordBatch | None,
    timeout: float | None = None,
) -> pd.DataFrame:
    """The result of ``statement`` as the guarded path would give it, the statement run
    once. ``Unsupported`` before it ran when it cannot be read here; ``Failed`` when it
    ran and failed; ``KeyboardInterrupt`` (Ctrl-C) or ``TimedOut`` (``timeout``
    seconds) once the engine has stopped."""
    if _OWN_FUNCTIONS.search(statement.sql):
        raise Unsupported("the statement calls dbnb's own SQLite functions")
    if "\x00" in statement.sql:  # the driver would cut the statement there
        raise Unsupported("a NUL character in the statement")

    def read() -> _Read:
        with connection.cursor() as cursor:
            described = _describe(cursor, statement.sql)
            sql = _wrapped(statement.sql, described.declared)
            try:
                cursor.adbc_statement.set_options(**_ONE_BATCH)
                cursor.adbc_prepare(sql)  # execute() below runs this very statement
            except adbc_driver_manager.Error as error:
                raise Unsupported(str(error)) from None
            try:
                cursor.execute(sql, bind)
                read = _Read(described, cursor.fetch_arrow_table())
                rows = read.table.column(read.table.num_columns - 1)
                if rows.null_count < len(rows):
                    cursor.execute(_KEPT)  # a row said a value of it was kept
                    read.fixed, read.variable = cursor.fetchone()
            except adbc_driver_manager.Error as error:
                raise Failed(_STEP_FAILED.sub("", str(error))) from None
        return read

    try:
        done = interruptible(read, lambda: interrupt(connection), timeout)
    except TimeoutError:
        raise TimedOut from None
    try:
        return _to_frame(done)
    except Failed:
        raise
    except Exception as error:
        # The statement ran: no other path may run it again to make up for this.
        raise QueryError(f"dbnb could not make a frame of a SQLite result: {error}") from error


def _describe(cursor: Any, sql: str) -> _Described:
    """The result columns of ``sql``, prepared and never run; ``Unsupported`` when SQLite
    will not prepare it (the guarded path then gives its error)."""
    try:
        # The statement as a literal: binding it would cost more than the rest together.
        cursor.execute(_DESCRIBE.format(sql.replace("'", "''")))
        blob = cursor.fetch_arrow_table().column(0)[0].as_py()
    except adbc_driver_manager.Error as error:
        raise Unsupported(str(error)) from None
    (count,) = struct.unpack_from("=i", blob)
    offset = 4
    texts: list[str | None] = []
    for _ in range(2 * count):
        (length,) = struct.unpack_from("=i", blob, offset)
        offset += 4
        if length < 0:
            texts.append(None)
            continue
        texts.append(blob[offset : offset + length].decode())
        offset += length
    names = texts[0::2]
    if any(name is None for name in names):
        raise Unsupported("a column without a name")
    return _Described([str(name) for name in names], texts[1::2])


def _wrapped(sql: str, declared: list[str | None]) -> str:
    """``sql`` with each value through ``dbnb_value`` (``dbnb_number`` for a column whose
    declared type reads integers and reals alike) and each row's ``dbnb_row()`` last.
    The columns are renamed by position, so repeated names read as they are."""
    columns = ", ".join(f"c{index}" for index in range(len(declared)))
    values = "".join(
        f"{_guard(decltype)}({index}, c{index}), " for index, decltype in enumerate(declared)
    )
    # On lines of their own: a comment at the end of `sql` cannot hide the parenthesis.
    return f"WITH dbnb_result({columns}) AS (\n{sql}\n)\nSELECT {values}dbnb_row() FROM dbnb_result"


def _guard(decltype: str | None) -> str:
    found = sqlite_types.declared(decltype)
    return "dbnb_number" if found is not None and found.numbers_alike else "dbnb_value"


# --- the frame -------------------------------------------------------------------------


class _NotUtf8(bytes):
    """Text that is not UTF-8, as SQLite had it."""


@dataclass
class _Kept:
    """The values of one column kept aside, at the positions of their rows."""

    positions: np.ndarray  # of the integers and reals
    integers: np.ndarray  # which of them are integers (bool)
    bits: np.ndarray  # their 64 bits (int64; a real's viewed as float64)
    others: list[tuple[int, Any]]  # text (str, or _NotUtf8) and blobs: position, value

    def check(self, chunked: pa.ChunkedArray) -> None:
        """A kept value's row has NULL in its place, and no other value of this column:
        what SQLite's order of evaluation (a row's values, then its dbnb_row()) gives."""
        positions = np.concatenate(
            [self.positions, np.array([at for at, _ in self.others], dtype=np.int64)]
        )
        in_place = chunked.take(pa.array(positions, type=pa.int64()))
        if len(np.unique(positions)) != len(positions) or in_place.null_count != len(in_place):
            raise AssertionError("kept values do not match their rows")

    def numbers(self) -> list[tuple[int, Any]]:
        integers, reals = self.bits.tolist(), self.bits.view(np.float64).tolist()
        values = [
            integer if is_integer else real
            for integer, real, is_integer in zip(
                integers, reals, self.integers.tolist(), strict=True
            )
        ]
        return list(zip(self.positions.tolist(), values, strict=True))


def _to_frame(read: _Read) -> pd.DataFrame:
    described = read.described
    count = len(described.names)
    kept = _kept_by_column(read, count)
    data: dict[int, Any] = {}
    bad: list[tuple[int, int, bytes]] = []  # text that is not UTF-8: row, column, bytes
    for index in range(count):
        chunked = read.table.column(index)
        found = kept.get(index)
        if found is not None:
            found.check(chunked)
        if pa.types.is_string(chunked.type) and not _is_utf8(chunked):
            bad.append(_first_not_utf8(chunked, index))
        if found is not None:
            bad.extend(
                (position, index, value)
                for position, value in found.others
                if isinstance(value, _NotUtf8)
            )
        if bad:
            continue  # an error is coming: no need to build the rest
        declared = sqlite_types.declared(described.declared[index])
        whole: Any = None  # the column in Arrow, all at once
        # The driver's column, kept integers and reals put back (None: they cannot be).
        merged = chunked if found is None else _merged(chunked, found)
        if found is None and declared is None:
            whole = _as_stored(chunked, sqlite_types.affinity(described.declared[index]))
        elif merged is not None and declared is None:
            whole = pd.arrays.ArrowExtensionArray(merged)
        elif merged is not None and declared is not None:
            whole = sqlite_types.whole_column(merged, declared)
        # Else one Python value per row, as sqlite3 gives them to the guarded path.
        data[index] = (
            whole if whole is not None else frames.column(_values(chunked, found), declared)
        )
    if bad:
        # The guarded path fails at the first such value, row by row: its message.
        _, index, raw = min(bad)
        text = raw.decode("utf-8", "replace")
        raise Failed(
            f"Could not decode to UTF-8 column '{described.names[index]}' with text '{text}'"
        )
    # Keyed by position, named after, as the guarded path's frames are.
    frame = pd.DataFrame(data) if data else pd.DataFrame()
    frame.columns = pd.Index(described.names, dtype=object)
    return frame


def _as_stored(chunked: pa.ChunkedArray, empty: pa.DataType | None) -> Any:
    """A column the driver read whole: its Arrow array, as the guarded path types it;
    with no value at all (or no row), NULLs of its declared type's affinity (``empty``),
    or objects where it has none (an expression)."""
    if chunked.null_count == len(chunked):
        if empty is not None:
            return frames.no_values(len(chunked), empty)
        return pd.Series([None] * len(chunked), dtype=object)
    return pd.arrays.ArrowExtensionArray(chunked)


def _values(chunked: pa.ChunkedArray, found: _Kept | None) -> list[Any]:
    """Every value of a column as sqlite3 gives it: the driver's, the kept ones put back."""
    values: list[Any] = chunked.to_pylist()
    if found is not None:
        for position, value in [*found.numbers(), *found.others]:
            values[position] = value
    return values


def _merged(chunked: pa.ChunkedArray, found: _Kept) -> pa.Array | None:
    """A column's integers and reals, the driver's and the kept ones, in one Arrow array
    typed as Arrow infers them from sqlite3's values (int64, or double when there are
    reals); None when there is text or a blob, or an integer a double cannot hold
    beside a real (Arrow refuses those: the guarded path makes Python objects of them)."""
    if found.others:
        return None
    main = chunked.combine_chunks()
    if main.null_count == len(main):
        main = pa.nulls(len(main), pa.int64())
    elif not (pa.types.is_integer(main.type) or pa.types.is_floating(main.type)):
        return None
    kept_integers = found.bits[found.integers]
    main_integers = pa.types.is_integer(main.type) and main.null_count < len(main)
    has_integer = len(kept_integers) > 0 or main_integers
    has_real = not found.integers.all() or pa.types.is_floating(main.type)
    if has_integer and has_real and not _all_exact(main, kept_integers):
        return None
    target = pa.float64() if has_real else pa.int64()
    order = np.argsort(found.positions)  # replace_with_mask takes them in row order
    bits, integers = found.bits[order], found.integers[order]
    values = (
        np.where(integers, bits.astype(np.float64), bits.view(np.float64)) if has_real else bits
    )
    mask = np.zeros(len(main), dtype=bool)
    mask[found.positions] = True
    return pc.replace_with_mask(main.cast(target), pa.array(mask), pa.array(values, type=target))


def _all_exact(main: pa.Array, kept_integers: np.ndarray) -> bool:
    """Whether a double holds every integer of the column exactly."""
    if len(kept_integers) and np.abs(kept_integers.astype(np.float64)).max() > _EXACT:
        # np.abs(-2**63) overflows as int64; float64 rounds, but only beyond 2**53
        return False
    if not pa.types.is_integer(main.type) or main.null_count == len(main):
        return True
    bounds = pc.min_max(main)
    return bool(bounds["min"].as_py() >= -_EXACT and bounds["max"].as_py() <= _EXACT)


def _kept_by_column(read: _Read, count: int) -> dict[int, _Kept]:
    """The kept values of each column, at the positions of their rows in the result."""
    if not read.fixed and not read.variable:
        return {}
    # dbnb_row() numbered each row that had a value kept; rows SQLite computed and then
    # dropped (past a LIMIT, say) are not in the result, nor are their values.
    rows = read.table.column(count).combine_chunks()
    where = np.flatnonzero(rows.is_valid().to_numpy(zero_copy_only=False))
    numbers = rows.drop_null().to_numpy(zero_copy_only=False)
    order = np.argsort(numbers, kind="stable")
    ordered = numbers[order]

    def positions_of(row_numbers: np.ndarray) -> np.ndarray:
        if not len(ordered):
            return np.full(len(row_numbers), -1)
        index = np.searchsorted(ordered, row_numbers).clip(max=len(ordered) - 1)
        return np.where(ordered[index] == row_numbers, where[order[index]], -1)

    fixed = np.frombuffer(read.fixed, dtype=_FIXED)
    fixed_at = positions_of(fixed["row"])
    others: dict[int, list[tuple[int, Any]]] = {}
    offset = 0
    variable = read.variable
    while offset < len(variable):
        row, column, kind, length = _VARIABLE.unpack_from(variable, offset)
        offset += _VARIABLE.size
        raw = variable[offset : offset + length]
        offset += length
        (position,) = positions_of(np.array([row], dtype=np.int64)).tolist()
        if position >= 0:
            others.setdefault(column, []).append((position, _text(raw) if kind == TEXT else raw))
    kept = {}
    for column in {*np.unique(fixed["column"][fixed_at >= 0]).tolist(), *others}:
        mine = (fixed["column"] == column) & (fixed_at >= 0)
        kept[column] = _Kept(
            fixed_at[mine],
            fixed["type"][mine] == INTEGER,
            fixed["value"][mine],
            others.get(column, []),
        )
    return kept


def _text(raw: bytes) -> str | _NotUtf8:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return _NotUtf8(raw)


def _is_utf8(chunked: pa.ChunkedArray) -> bool:
    """Whether each text of a column the driver read is UTF-8 (it copies SQLite's bytes as
    they are; Arrow's string type promises UTF-8). Text that is all ASCII, as most is,
    is UTF-8 however it is cut into values: one pass over the bytes; else Arrow checks
    each value."""
    if all(_ascii(chunk) for chunk in chunked.chunks):
        return True
    try:
        chunked.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _ascii(array: pa.Array) -> bool:
    """Whether the bytes of a string array's values are all ASCII."""
    _, offsets, data = array.buffers()
    if len(array) == 0 or data is None:
        return True  # no bytes
    assert offsets is not None
    ends = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=4 * array.offset)
    start, stop = int(ends[0]), int(ends[-1])
    if stop == start:
        return True
    return bool(np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start).max() < 0x80)


def _first_not_utf8(chunked: pa.ChunkedArray, index: int) -> tuple[int, int, bytes]:
    for position, raw in enumerate(chunked.cast(pa.binary()).to_pylist()):
        if raw is not None and isinstance(_text(raw), _NotUtf8):
            return position, index, raw
    raise AssertionError("Arrow found text that is not UTF-8, Python none")


def serves(config: ConnectionConfig) -> bool:
    """Whether ``config``'s reads can take this path: a SQLite file through sqlite3,
    the extension built. An in-memory database stays on the guarded path (another
    connection would see another database), as does a URI with options of its own."""
    database = config.url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    return (
        config.url.drivername == "sqlite+pysqlite"
        and not in_memory
        and not config.url.query
        and available()
    )


class SQLiteColumnar(ReadWhole):
    """The columnar reads of one SQLite file (``dbnb.read.columnar.Columnar``). Its
    statements are described as they run (``read_frame``), so none is described
    ahead, and a type can change from one row to the next: no streams."""

    binds: PositionalRules = binds.POSITIONAL_RULES
    errors: tuple[type[BaseException], ...] = (
        adbc_driver_manager.Error,
        pa.ArrowException,
        OSError,
    )

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config

    def connect(self) -> Any:
        # On a worker thread, as every ADBC call here: a call from the main thread takes
        # SIGINT over while it lasts, and turns Ctrl-C into a cancel SQLite ignores.
        path = self.config.url.database or ""
        return interruptible(lambda: connect(path), lambda: None)

    def read_frame(
        self, connection: Any, plan: Plan, timeout: float | None, rules: Rules
    ) -> pd.DataFrame:
        return read_frame(connection, plan.statement, plan.bind, timeout)

    def final_error(self, error: BaseException, name: str) -> BaseException:
        return QueryError(f"{name}: {' '.join(str(error).split())}")
