"""SQLite's types: each declared type's Arrow type, pandas dtype, write kind and
category (``dbnb.typetable``).

SQLite has storage classes, not types: a column declared as one of the types with a
``reads_as`` here reads (by plain SQL, on both paths) as a ``select()`` of that
SQLAlchemy type reads (``types.DECLARED``, ``types.declared``); any other column by
its values' storage classes (INTEGER, REAL, TEXT, BLOB), and with no value at all by
its declared type's affinity (``types.affinity``, SQLite's own substring rules, which
no table of names can hold). The rules without ``reads_as`` say what those storage
classes give the names SQLAlchemy declares. ``NUMERIC(p, s)`` and ``CHAR(32)`` (a
``Uuid``) take their parameters from the declaration (``types.declared``).
"""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import types as sqltypes

from dbnb.typetable import (
    BOOL,
    BYTES,
    DECIMAL,
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

TABLE = TypeTable(
    "SQLite: type in a `select()` / declared type for plain SQL",
    [
        TypeRule(
            "integers",
            ("smallint",),
            pa.int16(),
            "int",
            NUMBER,
            "`SmallInteger` / `Integer`, `BigInteger` <br> `SMALLINT` / `INTEGER`, `BIGINT`",
            reads_as=sqltypes.SmallInteger(),
        ),
        # Storage class INTEGER.
        TypeRule("integers", ("integer", "int", "bigint"), pa.int64(), "int", NUMBER),
        TypeRule(
            "boolean",
            ("boolean",),
            pa.bool_(),
            "bool",
            BOOL,
            "`Boolean` <br> `BOOLEAN`",
            reads_as=sqltypes.Boolean(),
        ),
        # Storage class REAL.
        TypeRule(
            "floats",
            ("float", "real", "double", "double precision"),
            pa.float64(),
            "float",
            NUMBER,
            "`Float` <br> `FLOAT`, `REAL`",
        ),
        TypeRule(
            "numeric",
            ("numeric(p, s)", "decimal(p, s)"),
            DECIMAL,
            "decimal",
            NUMBER,
            "`Numeric(p, s)` <br> `NUMERIC(p, s)`, `DECIMAL(p, s)`",
        ),
        # A select()'s Numeric() (no precision): SQLAlchemy's Decimals. A bare NUMERIC
        # declared follows its storage classes.
        TypeRule("wide numeric", (), OBJECT, "decimal", NUMBER, "`Numeric()` <br> —"),
        # Storage class TEXT.
        TypeRule(
            "text",
            ("varchar", "text", "char", "nvarchar", "nchar", "clob"),
            pa.string(),
            "string",
            TEXT,
            "`String`, `Text` <br> `VARCHAR`, `TEXT`",
        ),
        TypeRule(
            "timestamptz",
            ("datetime", "timestamp"),
            UTC_MICROS,
            "datetime",
            TIME,
            "`DateTime(timezone=True)`, stored as UTC <br> `DATETIME`, `TIMESTAMP`",
            # UTC, as dbnb stores aware datetimes and as SQLModel's datetime fields are:
            # SQLite declares DateTime and DateTime(timezone=True) alike.
            reads_as=sqltypes.DateTime(timezone=True),
        ),
        TypeRule("timestamp", (), pa.timestamp("us"), "datetime", TIME, "`DateTime` <br> —"),
        TypeRule(
            "date",
            ("date",),
            pa.date32(),
            "date",
            TIME,
            "`Date` <br> `DATE`",
            reads_as=sqltypes.Date(),
        ),
        TypeRule(
            "time",
            ("time",),
            pa.time64("us"),
            "time",
            TIME,
            "`Time` <br> `TIME`",
            reads_as=sqltypes.Time(),
        ),
        TypeRule("interval", (), pa.duration("us"), "interval", TIME, "`Interval` <br> —"),
        # Storage class BLOB.
        TypeRule("bytes", ("blob",), pa.binary(), "binary", BYTES, "`LargeBinary` <br> `BLOB`"),
        TypeRule(
            "json",
            ("json",),
            OBJECT,
            "json",
            JSON,
            "`JSON` <br> `JSON`",
            reads_as=sqltypes.JSON(),
        ),
        # Reflected as CHAR(32), a string: the writer sends a UUID as its 32 hex digits.
        TypeRule("uuid", ("char(32)",), OBJECT, "string", OTHER, "`Uuid` <br> `CHAR(32)`"),
    ],
)
