"""MariaDB's and MySQL's type rules on the guarded path: a result's columns as the
server describes them.

PyMySQL keeps each column's description packet (type, flags, character set,
length, scale); dbnb reads it to type the column as the manual's dtype table
says. It is exact (``result_kinds``), and wins over a ``select()``'s own types,
but for two kinds of column where the statement knows more: text (MariaDB's
``JSON`` is text on the wire) and ``DATETIME`` (where dbnb stores a
``DateTime(timezone=True)`` as its UTC time); those come from the statement, or
for plain SQL from the description as well (``declared_kinds``):

- integers by size and sign: ``TINYINT`` int8 (unsigned int16), ``SMALLINT``
  int16 (int32), ``MEDIUMINT`` and ``INT`` int32 (int64), ``BIGINT`` int64
  (unsigned: uint64); ``TINYINT(1)``, which ``BOOLEAN`` is, bool;
- ``DECIMAL(p, s)`` decimal128(p, s), exact (the packet's length is p, plus one
  for the point and one for the sign);
- ``FLOAT`` float32, ``DOUBLE`` float64;
- ``DATETIME`` timestamp[us]; ``TIMESTAMP`` timestamp[us, tz=UTC]: dbnb's
  sessions run with ``time_zone = '+00:00'``, so the server converts the stored
  instant to UTC; ``DATE`` date32; ``TIME`` time64[us] when every value is a time
  of day (MySQL's TIME reaches -838:59:59 to 838:59:59: then Python timedeltas);
- ``CHAR``/``VARCHAR``/``TEXT``/``ENUM``/``SET`` string (a ``SET`` value is its
  members joined by commas, as the server sends it); ``BINARY``/``VARBINARY``/
  ``BLOB``/``BIT`` binary (the binary character set, 63, tells them apart);
- ``JSON`` Python values (parsed), as a ``select()`` of a SQLAlchemy ``JSON``
  column gives them. MySQL's is a type of its own; MariaDB's is a ``LONGTEXT`` with
  a ``CHECK (json_valid(col))`` and reaches the client as text, described exactly
  as any ``LONGTEXT COLLATE utf8mb4_bin`` (type, flags, character set and length
  alike: MariaDB says "json" only to clients that ask for its extended metadata,
  which PyMySQL and connectorx do not). So a ``LONGTEXT`` column of a table (the
  packet names its table and column) is JSON when the catalog holds that check
  (``json_fields``: one look-up in ``information_schema.CHECK_CONSTRAINTS`` per
  read that has such a column). A read streamed from the server (under max_rows)
  looks it up once the result is read, before its values are made. A read in
  chunks makes its first chunk while the server still sends the rest, when its
  connection can ask nothing: so it is described before it runs
  (``install``: prepared, ``COM_STMT_PREPARE``, which runs nothing), and every
  chunk parses the same columns.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa
from sqlalchemy import event
from sqlalchemy.engine import CursorResult

from dbnb.backends.mysql.typetable import TABLE
from dbnb.read.dtypes import OBJECT
from dbnb.read.frames import IN_CHUNKS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, ExecutionContext

_BINARY_CHARSET = 63
_UNSIGNED = 32
_DAY = dt.timedelta(days=1)

# The type each wire code (pymysql.constants.FIELD_TYPE) stands for, by its name in
# the type table, which gives its Arrow type.
CODES = {
    1: "tinyint",  # TINY
    2: "smallint",  # SHORT
    9: "mediumint",  # INT24
    3: "int",  # LONG
    8: "bigint",  # LONGLONG
    13: "year",  # YEAR
    4: "float",  # FLOAT
    5: "double",  # DOUBLE
    10: "date",  # DATE
    14: "date",  # NEWDATE
    12: "datetime",  # DATETIME
    7: "timestamp",  # TIMESTAMP
    16: "bit",  # BIT
}
_ARROW = TABLE.arrow_types()
# type code -> (signed, unsigned) integer types
_INTEGERS = {
    code: (_ARROW[name], _ARROW.get(f"{name} unsigned", _ARROW[name]))
    for code, name in CODES.items()
    if name in TABLE.names("integers")
}
_FIXED = {code: _ARROW[name] for code, name in CODES.items() if code not in _INTEGERS}
_DECIMAL = TABLE["decimal(p, s)"]
_DECIMALS = {0, 246}  # DECIMAL, NEWDECIMAL
_TIME = 11
_JSON = 245
_TEXTS = {15, 249, 250, 251, 252, 253, 254}  # VARCHAR, the BLOBs, VAR_STRING, STRING


class Converted:
    """A column whose values the driver gives in another form than its Arrow type's
    (``dbnb.read.frames.Converter``)."""

    def __init__(
        self, kind: pa.DataType, convert: Callable[[Sequence[Any]], tuple[list[Any], bool]]
    ) -> None:
        self.kind = kind
        self.convert = convert

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        return self.convert(values)


Kind: TypeAlias = "pa.DataType | Converted | None"


def result_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    """The exact types of a result's columns; None for text and DATETIME columns,
    which a ``select()``'s types may say more of."""
    return [
        None if _statement_knows_more(field) else found
        for field, found in _described(result, count)
    ]


def declared_kinds(result: CursorResult[Any], count: int) -> list[Kind | _MaybeJson]:
    """Every column's type as described, for what neither said: plain SQL's text and
    DATETIME columns; MariaDB's JSON columns parsed (``json_fields``) where the result
    is read whole, so its connection is free to look them up."""
    described = _described(result, count)
    fields = [field for field, _ in described]
    connection = _pymysql_connection(result)
    if connection is None or not any(f is not None and _could_be_json(f) for f in fields):
        return [found for _, found in described]
    json = _AHEAD.pop(result.cursor, None)  # a read in chunks, described before it ran
    if json is not None or _is_free(connection):  # or a buffered one: its rows are read
        json = json if json is not None else json_fields(connection, fields)
        return [JSON if index in json else found for index, (_, found) in enumerate(described)]
    lookup = _LaterLookup(connection, fields)  # streamed: once the rows are read
    return [
        _MaybeJson(lookup, index) if field is not None and _could_be_json(field) else found
        for index, (field, found) in enumerate(described)
    ]


# The JSON columns of reads in chunks, found before they ran, by their driver cursor.
_AHEAD: weakref.WeakKeyDictionary[Any, set[int]] = weakref.WeakKeyDictionary()


def install(engine: Engine) -> None:
    """Reads in chunks described before they run (``_described_first``)."""
    event.listen(engine, "before_cursor_execute", _described_first)


def _described_first(
    _connection: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    """The JSON columns of a read in chunks (``IN_CHUNKS``), before it runs: the text
    PyMySQL is about to send, prepared on the same connection (described, nothing run),
    and the catalog asked only when a column could be JSON. A statement the server will
    not prepare is left to say why when it runs (its columns stay text)."""
    import pymysql

    if context is None or not context.execution_options.get(IN_CHUNKS):
        return
    connection = getattr(cursor, "connection", None)
    if not isinstance(connection, pymysql.connections.Connection):
        return  # aiomysql's
    if "mariadb" not in connection.get_server_info().lower():
        return  # MySQL's JSON is a type of its own
    try:
        fields = prepared_fields(connection, cursor.mogrify(statement, parameters))
    except (pymysql.Error, TypeError, ValueError, KeyError):
        return
    if any(_could_be_json(field) for field in fields):
        _AHEAD[cursor] = json_fields(connection, fields)


def prepared_fields(connection: Any, sql: str) -> list[Any]:
    """The result columns of ``sql`` as the server describes them when it prepares it
    (``COM_STMT_PREPARE``; nothing runs), in PyMySQL's own packets. PyMySQL has no
    prepared statements of its own: this speaks the protocol through its reader."""
    from pymysql.constants import COMMAND
    from pymysql.protocol import FieldDescriptorPacket

    # PyMySQL's own packet writer and reader: the one place dbnb reaches inside it.
    send, read = connection._execute_command, connection._read_packet  # noqa: SLF001
    send(COMMAND.COM_STMT_PREPARE, sql)
    reply = read()  # an error packet raises the server's error
    reply.read_uint8()  # status
    statement_id = reply.read_uint32()
    columns = reply.read_uint16()
    parameters = reply.read_uint16()
    for _ in range(parameters + 1 if parameters else 0):  # their packets, then EOF
        read()
    fields = [read(FieldDescriptorPacket) for _ in range(columns)]
    if columns:
        read()  # EOF
    send(COMMAND.COM_STMT_CLOSE, struct.pack("<I", statement_id))
    return fields


def _pymysql_connection(result: CursorResult[Any]) -> Any:
    """PyMySQL's connection of ``result``; None for aiomysql's (async: no look-up)."""
    import pymysql

    connection = getattr(result.cursor, "connection", None)
    return connection if isinstance(connection, pymysql.connections.Connection) else None


def _is_free(connection: Any) -> bool:
    """Whether ``connection`` can run a statement: no result of it is still arriving."""
    arriving = getattr(connection, "_result", None)  # PyMySQL keeps no public handle
    return arriving is None or not arriving.unbuffered_active


class _LaterLookup:
    """The JSON columns of a streamed result, looked up the first time a column asks:
    when the rows are all read (under max_rows: fetched, then closed), else never (the
    first chunk of a read in chunks): one answer for every chunk of the read."""

    def __init__(self, connection: Any, fields: Sequence[Any]) -> None:
        self._connection = connection
        self._fields = list(fields)
        self._found: set[int] | None = None

    def json(self, index: int) -> bool:
        if self._found is None:
            free = _is_free(self._connection)
            self._found = json_fields(self._connection, self._fields) if free else set()
        return index in self._found


class _MaybeJson:
    """A LONGTEXT column of a streamed result (``frames.Converter``): parsed if the
    look-up finds it is JSON, else text."""

    def __init__(self, lookup: _LaterLookup, index: int) -> None:
        self._lookup = lookup
        self._index = index

    @property
    def kind(self) -> pa.DataType:
        return OBJECT if self._lookup.json(self._index) else pa.string()

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        if self._lookup.json(self._index):
            return _documents(values)
        return list(values), True


def _described(result: CursorResult[Any], count: int) -> list[tuple[Any, Kind]]:
    # SQLAlchemy's async adapter keeps aiomysql's cursor as `_cursor` (dbnb.connections.aio);
    # PyMySQL keeps the description packets of the result it read as `_result.fields`.
    cursor = getattr(result.cursor, "_cursor", result.cursor)
    fields = getattr(getattr(cursor, "_result", None), "fields", None)
    if fields is None or len(fields) != count:
        return [(None, None)] * count
    return [(field, kind(field)) for field in fields]


def _statement_knows_more(field: Any) -> bool:
    if field is None:
        return True
    text = field.type_code in _TEXTS and field.charsetnr != _BINARY_CHARSET
    return bool(text or field.type_code == 12)  # DATETIME


def kind(field: Any) -> Kind:
    """The type of the column a description packet describes (None: not known here)."""
    code: int = field.type_code
    flags: int = field.flags
    if code == 1 and field.length == 1:  # TINYINT(1): BOOLEAN
        return Converted(_ARROW["tinyint(1)"], _booleans)
    if code in _INTEGERS:
        signed, unsigned = _INTEGERS[code]
        return unsigned if flags & _UNSIGNED else signed
    if code in _FIXED:
        return _FIXED[code]
    if code in _DECIMALS:
        point = 1 if field.scale else 0
        sign = 0 if flags & _UNSIGNED else 1
        return _DECIMAL.arrow_for(field.length - point - sign, field.scale)
    if code == _TIME:
        return Converted(_ARROW["time"], _times)
    if code == _JSON:
        return Converted(OBJECT, _documents)
    if code in _TEXTS:
        return _ARROW["blob" if field.charsetnr == _BINARY_CHARSET else "text"]
    return None


def is_json(field: Any) -> bool:
    """MySQL's JSON type (MariaDB's JSON is text: ``json_fields``)."""
    return bool(field.type_code == _JSON)


# JSON's kind: the text parsed into Python values.
JSON = Converted(OBJECT, lambda values: _documents(values))
_LONGTEXT = 2**32 - 1  # the length a LONGTEXT column is described with, any character set
_JSON_CHECKS = """SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE
FROM information_schema.CHECK_CONSTRAINTS WHERE (CONSTRAINT_SCHEMA, TABLE_NAME) IN ({})"""


def _could_be_json(field: Any) -> bool:
    text = field.type_code in _TEXTS and field.charsetnr != _BINARY_CHARSET
    return bool(text and field.length == _LONGTEXT and field.org_table and field.org_name)


def json_fields(connection: Any, fields: Sequence[Any]) -> set[int]:
    """The positions of the fields that are MariaDB JSON columns of a table: LONGTEXT
    whose table holds ``CHECK (json_valid(column))``, as MariaDB makes for JSON. One
    statement on ``connection`` (PyMySQL's, with no result left unread), and only when
    a field could be one."""
    wanted: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for index, field in enumerate(fields):
        if _could_be_json(field):
            schema = field.db.decode() if isinstance(field.db, bytes) else str(field.db)
            wanted.setdefault((schema, field.org_table), []).append((index, field.org_name))
    if not wanted or "mariadb" not in connection.get_server_info().lower():
        return set()  # MySQL's JSON is a type of its own
    rows = ", ".join(["(%s, %s)"] * len(wanted))
    with connection.cursor() as cursor:
        cursor.execute(_JSON_CHECKS.format(rows), [part for key in wanted for part in key])
        checks = {(schema, table, clause) for schema, table, clause in cursor.fetchall()}
    return {
        index
        for (schema, table), columns in wanted.items()
        for index, column in columns
        if (schema, table, f"json_valid(`{column.replace('`', '``')}`)") in checks
    }


def _booleans(values: Sequence[Any]) -> tuple[list[Any], bool]:
    return [None if value is None else bool(value) for value in values], True


def _times(values: Sequence[Any]) -> tuple[list[Any], bool]:
    """TIME values come as timedeltas (or times, through SQLAlchemy's Time): times of day
    when all of them are one."""
    if all(
        not isinstance(value, dt.timedelta) or dt.timedelta(0) <= value < _DAY for value in values
    ):
        return [
            (dt.datetime.min + value).time() if isinstance(value, dt.timedelta) else value
            for value in values
        ], True
    return list(values), False  # past a day or negative: kept as timedeltas (objects)


def _documents(values: Sequence[Any]) -> tuple[list[Any], bool]:
    parsed = [json.loads(value) if isinstance(value, str | bytes) else value for value in values]
    return parsed, True
