"""PostgreSQL's types: each one's Arrow type, pandas dtype, write kind and category
(``dbnb.typetable``).

Both read paths take their Arrow types from here: the columnar path passes through
a column ADBC's driver already gives as ``PG_TYPES`` says (``columns.py``), the
guarded path types psycopg's description by it (``types.py``). A name is the type's
``typname`` (as both drivers name it) or its SQL spelling (as reflection and DDL
spell it: ``integer``, ``timestamp with time zone``).

What depends on more than the name stays with its reader: ``numeric``'s precision
and scale (``typmod``), ``money``'s scale (the server's ``lc_monetary``), a type of
the database's own (an enum, a composite, a range: ``catalog.py`` asks ``pg_type``),
and how a value is decoded (``columns.py``, ``binary.py``, ``ranges.py``).
"""

from __future__ import annotations

import pyarrow as pa

from dbnb.typetable import (
    BOOL,
    BYTES,
    DECIMAL,
    ENUM,
    FITTED,
    JSON,
    MONEY,
    NUMBER,
    OBJECT,
    OTHER,
    TEXT,
    TIME,
    UTC_MICROS,
    TypeRule,
    TypeTable,
)

# The built-in ranges and multiranges, read as the server writes them ('[1,5)').
RANGES = tuple(
    f"{subtype}{kind}"
    for subtype in ("int4", "int8", "num", "date", "ts", "tstz")
    for kind in ("range", "multirange")
)
# Any type the database defines that is not an array (an enum, a composite, a
# range) is text: its label, or the server's text of its value.
PG_USER_TYPE = pa.string()
# money: the currency's smallest unit in 8 bytes, 19 digits, at the scale of the
# server's lc_monetary (2 for most currencies).
MONEY_DIGITS = 19

TABLE = TypeTable(
    "PostgreSQL",
    [
        TypeRule("integers", ("int2", "smallint"), pa.int16(), "int", NUMBER, "`smallint`"),
        TypeRule("integers", ("int4", "integer", "int"), pa.int32(), "int", NUMBER, "`integer`"),
        TypeRule("integers", ("int8", "bigint"), pa.int64(), "int", NUMBER, "`bigint`"),
        TypeRule("integers", ("oid",), pa.int64(), "other", NUMBER),
        TypeRule("boolean", ("bool", "boolean"), pa.bool_(), "bool", BOOL, "`boolean`"),
        TypeRule(
            "floats",
            ("float4", "real"),
            pa.float32(),
            "float",
            NUMBER,
            "`real`, `double precision`",
        ),
        TypeRule("floats", ("float8", "double precision"), pa.float64(), "float", NUMBER),
        TypeRule(
            "numeric",
            ("numeric(p, s)", "decimal(p, s)"),
            DECIMAL,
            "decimal",
            NUMBER,
            "`numeric(p, s)`",
        ),
        TypeRule(
            "unconstrained numeric",
            ("numeric", "decimal"),
            FITTED,
            "decimal",
            NUMBER,
            "`numeric` (no precision: what `sum` and `avg` of `numeric`, and `sum` of"
            " `bigint`, give)",
        ),
        # numeric(p, s) past 38 digits: DECIMAL's rule gives Python Decimals.
        TypeRule(
            "wide numeric", (), OBJECT, "decimal", NUMBER, "`numeric(p, s)` wider than 38 digits"
        ),
        TypeRule("money", ("money",), MONEY, "other", NUMBER, "`money`"),
        TypeRule(
            "text",
            ("text", "varchar", "character varying", "bpchar", "character", "char", "name"),
            pa.string(),
            "string",
            TEXT,
            "`text`, `varchar`, `char`; an enum (its label); a domain takes its base type's row",
        ),
        # An enum has a name of its own: known by pg_type (``catalog.py``), not by name.
        TypeRule("text", (), PG_USER_TYPE, "enum", ENUM),
        TypeRule(
            "server text",
            ("inet", "cidr", "macaddr", "macaddr8", "bit", "varbit", "bit varying", "xml"),
            pa.string(),
            "other",
            OTHER,
            "`inet`, `cidr`, `macaddr`, `macaddr8`, `bit`, `varbit`, `xml`; a range or"
            " multirange (`int4range`, `tstzrange`, `datemultirange`, ..., or the"
            " database's own); a composite type",
        ),
        TypeRule("server text", RANGES, pa.string(), "other", OTHER),
        TypeRule(
            "timestamptz",
            ("timestamptz", "timestamp with time zone"),
            UTC_MICROS,
            "datetime",
            TIME,
            "`timestamptz`",
        ),
        TypeRule(
            "timestamp",
            ("timestamp", "timestamp without time zone"),
            pa.timestamp("us"),
            "datetime",
            TIME,
            "`timestamp`",
        ),
        TypeRule("date", ("date",), pa.date32(), "date", TIME, "`date`"),
        TypeRule(
            "time", ("time", "time without time zone"), pa.time64("us"), "time", TIME, "`time`"
        ),
        # SQLAlchemy's reflected INTERVAL is no Interval of its own: written as it is.
        TypeRule("interval", ("interval",), pa.duration("us"), "other", TIME, "`interval`"),
        TypeRule("bytes", ("bytea",), pa.binary(), "binary", BYTES, "`bytea`"),
        TypeRule("json", ("json", "jsonb"), OBJECT, "json", JSON, "`json`, `jsonb`"),
        TypeRule("uuid", ("uuid",), OBJECT, "uuid", OTHER, "`uuid`"),
        # An array is ``_name`` to the drivers, ``name[]`` to SQL: both are found here.
        TypeRule(
            "arrays",
            ("array",),
            OBJECT,
            "array",
            OTHER,
            "arrays (`text[]`, `int[]`, `numeric[]`, an enum's, ...)",
        ),
    ],
)

# Type name -> its Arrow type, for every type whose Arrow type is the same for each
# column: the columnar path passes through a column ADBC already gives as this type,
# the guarded path types a result's column by it.
PG_TYPES: dict[str, pa.DataType] = TABLE.arrow_types()
# The names ADBC's driver gives text for, besides an enum's own name (kEnum).
TEXT_NAMES = frozenset(TABLE.names("text"))
