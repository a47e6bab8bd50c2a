"""dbnb's documented dtypes as Arrow types (the README's dtype table): for each
PostgreSQL type name, and for each SQLAlchemy column type. ``OBJECT`` marks a column
kept as Python values (JSON, UUID, arrays, numerics wider than Arrow's decimals).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import types as sqltypes

# Marker: keep the column as Python objects.
OBJECT = pa.null()

UTC_MICROS = pa.timestamp("us", tz="UTC")

# PostgreSQL type names and their documented Arrow types (the README's dtype table);
# the columnar path passes through any column ADBC already gives as this type.
PG_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "bool": pa.bool_(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "char": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": UTC_MICROS,
    "interval": pa.duration("us"),
    "bytea": pa.binary(),
    "json": OBJECT,
    "jsonb": OBJECT,
    "uuid": OBJECT,
    # Read as the server writes them (its text), on both paths.
    "inet": pa.string(),
    "cidr": pa.string(),
    "macaddr": pa.string(),
    "macaddr8": pa.string(),
    "bit": pa.string(),
    "varbit": pa.string(),
    "xml": pa.string(),
    # Ranges and multiranges, as the server writes them ('[1,5)'), on both paths.
    **dict.fromkeys(
        [
            f"{sub}{kind}"
            for sub in ("int4", "int8", "num", "date", "ts", "tstz")
            for kind in ("range", "multirange")
        ],
        pa.string(),
    ),
}
# Any type the database defines that is not an array (an enum, a composite, a
# range) is text: its label, or the server's text of its value.
PG_USER_TYPE = pa.string()
# money: the currency's smallest unit in 8 bytes, 19 digits, at the scale of the
# server's lc_monetary (2 for most currencies).
MONEY_DIGITS = 19
# An unconstrained numeric (what sum() and avg() of numeric give) as decimal128(38, s)
# when its values fit (``fitted_decimal``); an empty result has no digits to go by.
FITTED_PRECISION = 38


def fitted_decimal(scale: int, integer_digits: int) -> pa.DataType:
    """The decimal128 for values of at most ``integer_digits`` digits before the point
    and ``scale`` after: fewer after the point when 38 digits cannot hold both (the
    values must then have zeros there, or do not fit)."""
    return pa.decimal128(
        FITTED_PRECISION, max(0, min(scale, FITTED_PRECISION - max(integer_digits, 1)))
    )


def decimal(precision: int | None, scale: int | None) -> pa.DataType:
    if precision is None or precision > 38:
        return OBJECT  # unconstrained numeric: Python Decimals keep every digit
    return pa.decimal128(precision, scale or 0)


def arrow_type(sql_type: sqltypes.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type for a SQLAlchemy column type, or None to look at the values."""
    if isinstance(sql_type, sqltypes.TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, sqltypes.Boolean):
        return pa.bool_()
    if isinstance(sql_type, sqltypes.SmallInteger):
        return pa.int16()
    if isinstance(sql_type, sqltypes.Integer):
        return pa.int64()
    if isinstance(sql_type, sqltypes.Float):
        return pa.float64()
    if isinstance(sql_type, sqltypes.Numeric):
        if not sql_type.asdecimal:
            return pa.float64()
        return decimal(sql_type.precision, sql_type.scale)
    if isinstance(sql_type, sqltypes.DateTime):
        return UTC_MICROS if sql_type.timezone else pa.timestamp("us")
    if isinstance(sql_type, sqltypes.Date):
        return pa.date32()
    if isinstance(sql_type, sqltypes.Time):
        return pa.time64("us")
    if isinstance(sql_type, sqltypes.Interval):
        return pa.duration("us")
    if isinstance(sql_type, sqltypes.Enum):
        return OBJECT if sql_type.enum_class is not None else pa.string()
    if isinstance(sql_type, sqltypes.String):
        return pa.string()
    if isinstance(sql_type, sqltypes.LargeBinary):
        return pa.binary()
    if isinstance(sql_type, sqltypes.JSON | sqltypes.Uuid | sqltypes.ARRAY):
        return OBJECT
    return None
