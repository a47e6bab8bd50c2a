"""The declared types of a statement's result columns, on Python's own sqlite3 connections.

SQLite says what a result column was declared as when it is a table's column
(``sqlite3_column_decltype``), but Python's ``sqlite3`` module does not pass
that on, nor can it load dbnb's SQLite extension here (``enable_load_extension``
is compiled out of many Pythons). So this asks the SQLite library that
``sqlite3`` itself links, through ctypes: it prepares the statement on the very
connection that ran it (an in-memory database has no other), reads each
column's declared type, and finalizes it, never stepping it.

The connection's ``sqlite3 *`` is the first field after the object header of
CPython's ``sqlite3.Connection``. That layout is proven once per process, before
any use: while a probe connection opens, an auto-extension (a callback SQLite
calls with each new connection's handle) reports the handle SQLite gave it, and
it must be the one read from the object. Anything else (another Python, a
``sqlite3`` module whose library does not export its symbols, a statement that
will not prepare) answers None: the columns then follow their storage classes.
"""

from __future__ import annotations

import ctypes
import sqlite3
import sys
import threading
from typing import Any

_HEADER = object.__basicsize__  # sqlite3.Connection: the object header, then `sqlite3 *db`
_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class _Library:
    """The SQLite functions this needs, from the library Python's sqlite3 links."""

    def __init__(self) -> None:
        import _sqlite3

        # Symbols resolve through the module's own dependencies: its libsqlite3.
        library = ctypes.CDLL(_sqlite3.__file__)
        self.prepare = library.sqlite3_prepare_v2
        self.prepare.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_void_p,
        ]
        self.prepare.restype = ctypes.c_int
        self.column_count = library.sqlite3_column_count
        self.column_count.argtypes = [ctypes.c_void_p]
        self.column_count.restype = ctypes.c_int
        self.column_decltype = library.sqlite3_column_decltype
        self.column_decltype.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.column_decltype.restype = ctypes.c_char_p
        self.finalize = library.sqlite3_finalize
        self.finalize.argtypes = [ctypes.c_void_p]
        self.finalize.restype = ctypes.c_int
        self.auto_extension = library.sqlite3_auto_extension
        self.auto_extension.argtypes = [_ENTRY]
        self.cancel_auto_extension = library.sqlite3_cancel_auto_extension
        self.cancel_auto_extension.argtypes = [_ENTRY]


def _handle_at_header(connection: sqlite3.Connection) -> int | None:
    """The pointer just after ``connection``'s object header (an open connection's
    ``sqlite3 *`` once the layout is proven; read only, never followed here)."""
    value = ctypes.c_void_p.from_address(id(connection) + _HEADER).value
    return int(value) if value else None


def _proven(library: _Library) -> bool:
    """Whether ``sqlite3.Connection`` keeps its handle where ``_handle_at_header`` reads."""
    opened: list[int] = []

    def entry(db: int | None, _error: Any, _api: Any) -> int:
        if db:
            opened.append(db)  # any connection opened meanwhile, the probe's among them
        return 0  # SQLITE_OK

    callback = _ENTRY(entry)
    if library.auto_extension(callback) != 0:
        return False
    try:
        probe = sqlite3.connect(":memory:")
    finally:
        library.cancel_auto_extension(callback)
    try:
        return _handle_at_header(probe) in opened
    finally:
        probe.close()


_lock = threading.Lock()
_state: dict[str, _Library | None] = {}


def _library() -> _Library | None:
    with _lock:
        if "library" not in _state:
            library: _Library | None = None
            if sys.implementation.name == "cpython":
                try:
                    library = _Library()
                except (ImportError, OSError, AttributeError):
                    library = None  # no such symbols: a statically linked, hidden SQLite
                if library is not None and not _proven(library):
                    library = None
            _state["library"] = library
        return _state["library"]


def declared_types(connection: Any, sql: str) -> list[str | None] | None:
    """Each result column's declared type (None for an expression) of ``sql``, prepared
    on ``connection`` (a ``sqlite3.Connection``) and never run; None when it cannot say."""
    if not isinstance(connection, sqlite3.Connection):
        return None
    library = _library()
    if library is None:
        return None
    try:
        text = sql.encode()
    except UnicodeEncodeError:
        return None
    handle = _handle_at_header(connection)  # None once closed
    if handle is None:
        return None
    statement = ctypes.c_void_p()
    try:
        if library.prepare(handle, text, len(text), ctypes.byref(statement), None) != 0:
            return None
        if not statement.value:
            return None
        declared = []
        for index in range(library.column_count(statement)):
            name = library.column_decltype(statement, index)
            declared.append(name.decode(errors="replace") if name is not None else None)
        return declared
    finally:
        library.finalize(statement)


def of_result(result: Any) -> list[str | None] | None:
    """The declared types of a SQLAlchemy result's columns, asked of the connection that
    ran its statement (pysqlite's, or the one aiosqlite wraps for dbnb.connections.aio)."""
    cursor = result.cursor
    connection = getattr(cursor, "connection", None)
    if not isinstance(connection, sqlite3.Connection):
        adapted = getattr(getattr(cursor, "_adapt_connection", None), "_connection", None)
        connection = getattr(adapted, "_conn", None)
    statement = getattr(result.context, "statement", None)
    if not isinstance(statement, str):
        return None
    return declared_types(connection, statement)
