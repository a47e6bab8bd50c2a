"""MariaDB's and MySQL's type rules on the guarded path: a result's columns as the
server describes them.

PyMySQL keeps each column's description packet (type, flags, character set,
length, scale); dbnb reads it to type the column as the README's dtype table
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
  looks it up once the result is read, before its values are made; in chunks,
  the first chunk made while the server still sends the rest cannot, and the
  column stays text in every chunk (one decision for the whole read).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import pyarrow as pa
from sqlalchemy.engine import CursorResult

from dbnb.backends.mysql.typetable import TABLE
from dbnb.read.dtypes import OBJECT

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
    if _is_free(connection):  # a buffered result: its rows are all read
        json = json_fields(connection, fields)
        return [JSON if index in json else found for index, (_, found) in enumerate(described)]
    lookup = _LaterLookup(connection, fields)  # streamed: once the rows are read
    return [
        _MaybeJson(lookup, index) if field is not None and _could_be_json(field) else found
        for index, (field, found) in enumerate(described)
    ]


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
