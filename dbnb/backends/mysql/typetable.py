"""MariaDB's and MySQL's types: each one's Arrow type, pandas dtype, write kind and
category (``dbnb.typetable``).

The reader (``types.py``, both paths) takes the Arrow type of each column the
server describes from here, by the name of the type its wire code stands for
(``types.CODES``). What the name alone does not tell stays there: ``TINYINT(1)``
(a length of 1) is a boolean, a ``DECIMAL``'s digits come with each description,
the binary character set (63) makes a text type binary, MariaDB's ``JSON`` is a
``LONGTEXT`` its table checks with ``json_valid`` (a catalog look-up), and a
``TIME`` past a day is a timedelta.
"""

from __future__ import annotations

import pyarrow as pa

from dbnb.typetable import (
    BOOL,
    BYTES,
    DECIMAL,
    ENUM,
    JSON,
    NUMBER,
    OBJECT,
    OTHER,
    TEXT,
    TIME,
    UTC_MICROS,
    TypeRule,
    TypeTable,
)


def _integers(
    names: tuple[str, ...], signed: pa.DataType, unsigned: pa.DataType, readme: str = ""
) -> list[TypeRule]:
    """A signed integer type and its unsigned one (the next size up)."""
    unsigned_names = tuple(f"{name} unsigned" for name in names)
    return [
        TypeRule("integers", names, signed, "int", NUMBER, readme),
        TypeRule("integers", unsigned_names, unsigned, "int", NUMBER),
    ]


TABLE = TypeTable(
    "MariaDB, MySQL",
    [
        *_integers(
            ("smallint",),
            pa.int16(),
            pa.int32(),
            "`SMALLINT` / `INT`, `MEDIUMINT` / `BIGINT` (`TINYINT`: `int8`; `YEAR`: `int16`;"
            " unsigned: the next size up, `BIGINT UNSIGNED` `uint64`)",
        ),
        *_integers(("int", "integer"), pa.int32(), pa.int64()),
        *_integers(("mediumint",), pa.int32(), pa.int32()),
        *_integers(("bigint",), pa.int64(), pa.uint64()),
        *_integers(("tinyint",), pa.int8(), pa.int16()),
        # BOOLEAN is TINYINT(1): that spelling is more exact than TINYINT's.
        TypeRule(
            "boolean",
            ("tinyint(1)", "boolean", "bool"),
            pa.bool_(),
            "bool",
            BOOL,
            "`BOOLEAN` (`TINYINT(1)`)",
        ),
        # YEAR: a number to SQLAlchemy's reflection only by its dtype; written as it is.
        TypeRule("integers", ("year",), pa.int16(), "other", NUMBER),
        TypeRule("floats", ("float",), pa.float32(), "float", NUMBER, "`FLOAT`, `DOUBLE`"),
        TypeRule("floats", ("double", "double precision", "real"), pa.float64(), "float", NUMBER),
        TypeRule(
            "numeric",
            ("decimal(p, s)", "numeric(p, s)", "decimal", "numeric"),
            DECIMAL,
            "decimal",
            NUMBER,
            "`DECIMAL(p, s)`",
        ),
        # DECIMAL(p, s) past 38 digits: DECIMAL's rule gives Python Decimals.
        TypeRule(
            "wide numeric",
            (),
            OBJECT,
            "decimal",
            NUMBER,
            "`DECIMAL(65, 30)`, what dbnb declares for `Numeric()`, and any `DECIMAL` wider"
            " than 38 digits",
        ),
        TypeRule(
            "text",
            ("char", "varchar", "tinytext", "text", "mediumtext", "longtext"),
            pa.string(),
            "string",
            TEXT,
            "`CHAR`, `VARCHAR`, `TEXT`, `ENUM`, `SET` (`'a,b'`), `INET4`, `INET6`, `UUID`"
            " (plain SQL)",
        ),
        TypeRule("text", ("enum",), pa.string(), "enum", ENUM),
        TypeRule("text", ("set",), pa.string(), "set", TEXT),
        # MariaDB's own types, read as their text; counted by it (no collation of their own).
        TypeRule("text", ("inet4", "inet6", "uuid"), pa.string(), "other", OTHER),
        TypeRule(
            "timestamptz",
            ("timestamp",),
            UTC_MICROS,
            "datetime",
            TIME,
            "`TIMESTAMP(6)` (the session's time zone is UTC); `DateTime(timezone=True)` in a"
            " `select()`, stored as UTC",
        ),
        TypeRule("timestamp", ("datetime",), pa.timestamp("us"), "datetime", TIME, "`DATETIME(6)`"),
        TypeRule("date", ("date",), pa.date32(), "date", TIME, "`DATE`"),
        TypeRule(
            "time",
            ("time",),
            pa.time64("us"),
            "time",
            TIME,
            "`TIME(6)` within a day (else `object` of `timedelta`)",
        ),
        TypeRule(
            "bytes",
            ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"),
            pa.binary(),
            "binary",
            BYTES,
            "`BINARY`, `VARBINARY`, `BLOB`, `BIT` (`b'\\x05'`)",
        ),
        # BIT's bytes have no order a profile could show: counted by their text.
        TypeRule("bytes", ("bit",), pa.binary(), "other", OTHER),
        TypeRule(
            "json",
            ("json",),
            OBJECT,
            "json",
            JSON,
            "`JSON` (MariaDB's: a `LONGTEXT` whose table checks `json_valid`)",
        ),
        # A select()'s Uuid: stored as CHAR(32), or MariaDB's UUID (text by plain SQL).
        TypeRule("uuid", (), OBJECT, "uuid", OTHER, "`Uuid` in a `select()` (plain SQL: its text)"),
    ],
)
