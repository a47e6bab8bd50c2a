"""Spark's types, as its catalog names them (``int``, ``decimal(10,2)``,
``timestamp_ntz``, ``array<int>``): each one's Arrow type, pandas dtype, write kind
and category (``dbnb.typetable``).

Spark Connect sends results as Arrow, so the reader (``types.normalise``) works on
the Arrow types Spark sends (a large string is a string, a timestamp with a zone is
UTC), not on these names; completion types Spark's columns from here, and the
manual's Spark column is this table's. A write goes through Spark's own DataFrame
writer (``writes.py``): the kinds say what a value of each becomes there.
"""

from __future__ import annotations

import pyarrow as pa

from dbnb.typetable import (
    BOOL,
    BYTES,
    DECIMAL,
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
    "Spark",
    [
        TypeRule(
            "integers",
            ("smallint", "short"),
            pa.int16(),
            "int",
            NUMBER,
            "`SMALLINT` / `INT` / `BIGINT` (`TINYINT`: `int8`)",
        ),
        TypeRule("integers", ("int", "integer"), pa.int32(), "int", NUMBER),
        TypeRule("integers", ("bigint", "long"), pa.int64(), "int", NUMBER),
        TypeRule("integers", ("tinyint", "byte"), pa.int8(), "int", NUMBER),
        TypeRule("boolean", ("boolean",), pa.bool_(), "bool", BOOL, "`BOOLEAN`"),
        TypeRule("floats", ("float", "real"), pa.float32(), "float", NUMBER, "`FLOAT`, `DOUBLE`"),
        TypeRule("floats", ("double",), pa.float64(), "float", NUMBER),
        TypeRule(
            "numeric", ("decimal(p, s)", "decimal"), DECIMAL, "decimal", NUMBER, "`DECIMAL(p, s)`"
        ),
        TypeRule(
            "text",
            ("string", "varchar", "char"),
            pa.string(),
            "string",
            TEXT,
            "`STRING`, `VARCHAR`, `CHAR`",
        ),
        # TIMESTAMP is an instant (shown in the session's zone by Spark): UTC here.
        TypeRule("timestamptz", ("timestamp",), UTC_MICROS, "datetime", TIME, "`TIMESTAMP`"),
        TypeRule(
            "timestamp", ("timestamp_ntz",), pa.timestamp("us"), "datetime", TIME, "`TIMESTAMP_NTZ`"
        ),
        TypeRule("date", ("date",), pa.date32(), "date", TIME, "`DATE`"),
        TypeRule(
            "interval",
            ("interval day to second", "interval day", "interval hour", "interval second"),
            pa.duration("us"),
            "interval",
            TIME,
            "`INTERVAL DAY TO SECOND`",
        ),
        TypeRule("bytes", ("binary",), pa.binary(), "binary", BYTES, "`BINARY`"),
        TypeRule(
            "arrays",
            ("array", "map", "struct"),
            OBJECT,
            "array",
            OTHER,
            "`ARRAY` (`MAP`, `STRUCT`: dicts)",
        ),
        # Year-month intervals have no Arrow type pandas keeps: Python values.
        TypeRule("arrays", ("interval year to month",), OBJECT, "other", OTHER),
    ],
    absent={"json": "— (`STRING`)"},
)
