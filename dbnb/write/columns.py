"""How each column type travels: its kind (its rule in ``dbnb.typetable``), and the
Arrow type its values are sent as.

Shared by ``dbnb.validate`` (which checks values against the kind) and
``dbnb.bulk`` (which sends them).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from dbnb.typetable import sql_rule
from dbnb.typetable import unwrap as unwrap  # the backends' bulk writers use it from here

_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class WriteRules:
    """What one database's columns hold, so a value that would not fit is named
    before anything is sent: each backend's ``write_rules``."""

    database: str = "the database"  # as messages name it
    integer: pa.DataType = field(default_factory=pa.int64)  # an Integer column's width
    small_integer: pa.DataType = field(default_factory=pa.int64)  # a SmallInteger column's
    single_float: bool = False  # REAL and Float(precision <= 24) hold 4 bytes
    keeps_nan: bool = True  # False: a NaN would be stored as NULL, so it is refused
    text_holds_nul: bool = True  # False: text and JSON cannot hold the NUL character
    # MySQL: BOOLEAN is TINYINT(1), and a table read from the database says TINYINT(1).
    tinyint1_is_bool: bool = False
    # Column types without a time zone that reads give as UTC instants (SQLite's DATETIME,
    # MySQL's TIMESTAMP in dbnb's UTC sessions): an aware timestamp is written as its UTC
    # time, so what a read gave writes back.
    utc_timestamps: tuple[type[sqltypes.TypeEngine[Any]], ...] = ()
    # Text types whose value is a comma-joined set of members (MySQL's SET: 'a,b').
    member_sets: tuple[type[sqltypes.TypeEngine[Any]], ...] = ()


@dataclass(frozen=True)
class Spec:
    """How one column's values are checked and sent."""

    kind: str
    arrow: pa.DataType | None
    sql_type: sqltypes.TypeEngine[Any]


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages and attributes)."""
    return value.item() if isinstance(value, np.generic) else value


def spec_for(sql_type: sqltypes.TypeEngine[Any], rules: WriteRules) -> Spec:
    """The kind and wire type of a column type on a database with these ``rules``: the
    kind is the type's rule in ``dbnb.typetable.SQLALCHEMY`` (what it reads as, too),
    but where the database's ``rules`` say more (MySQL's TINYINT(1) and SET)."""
    t = unwrap(sql_type)
    if rules.tinyint1_is_bool and getattr(t, "display_width", None) == 1:
        return Spec("bool", pa.bool_(), t)
    if isinstance(t, rules.member_sets):
        return Spec("set", pa.string(), t)
    rule = sql_rule(sql_type)
    kind = "other" if rule is None else rule.write
    wire = _wire(kind, t, rules)
    if kind == "array" and wire is None:
        kind = "other"  # an array of JSON, UUIDs, enums or arrays: sent as it is
    return Spec(kind, wire, t)


def _wire(kind: str, t: sqltypes.TypeEngine[Any], rules: WriteRules) -> pa.DataType | None:
    """The Arrow type a column of ``kind`` is sent as on a database with ``rules``."""
    if kind == "int":
        if isinstance(t, sqltypes.SmallInteger):
            width = rules.small_integer
        elif isinstance(t, sqltypes.BigInteger):
            width = pa.int64()
        else:  # PostgreSQL's integer is 4 bytes; SQLite's INTEGER holds 8.
            width = rules.integer
        if getattr(t, "unsigned", False):  # MySQL's INT UNSIGNED: 0 to 2**32 - 1
            width = pa.from_numpy_dtype(np.dtype(f"uint{width.bit_width}"))
        return width
    if kind == "float":
        single = isinstance(t, sqltypes.REAL) or (
            isinstance(t, sqltypes.Float) and t.precision is not None and t.precision <= 24
        )
        return pa.float32() if rules.single_float and single else pa.float64()
    if kind == "decimal":
        precision, scale = getattr(t, "precision", None), getattr(t, "scale", None)
        if precision is not None and precision <= 38:
            return pa.decimal128(precision, scale or 0)
        if precision is not None and precision <= 76:  # MySQL's DECIMAL(65, 30)
            return pa.decimal256(precision, scale or 0)
        return None  # unconstrained: the values decide
    if kind == "datetime":
        return _UTC_MICROS if getattr(t, "timezone", False) else pa.timestamp("us")
    if kind == "array" and isinstance(t, sqltypes.ARRAY):
        item = spec_for(t.item_type, rules)
        if item.arrow is None or item.kind in ("json", "uuid", "enum", "array"):
            return None
        return pa.list_(item.arrow)
    return _WIRE.get(kind)


# The Arrow type of each kind that does not depend on the column's own arguments.
_WIRE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "enum": pa.string(),
    "set": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "interval": pa.duration("us"),
    "json": pa.string(),
    "uuid": pa.binary(16),
    "string": pa.string(),
    "binary": pa.binary(),
}


def has_default(column: Column[Any]) -> bool:
    """Whether the database (or SQLAlchemy) fills the column in when no value is given."""
    table = column.table
    autoincrement = isinstance(table, Table) and table.autoincrement_column is column
    return (
        autoincrement
        or column.server_default is not None
        or column.default is not None
        or column.identity is not None
    )


def python_default(column: Column[Any], rows: int) -> list[Any] | None:
    """Values of a SQLAlchemy-side default (``Column(default=...)``), or None."""
    default = column.default
    if isinstance(default, ScalarElementColumnDefault):
        return [default.arg] * rows
    if isinstance(default, CallableColumnDefault):
        make: Callable[[Any], Any] = default.arg
        return [make(None) for _ in range(rows)]
    return None  # a SQL expression or a sequence: the database evaluates it


def json_encoder() -> Callable[[Any], str]:
    """A JSON encoder for a whole column; NaN is not JSON (PostgreSQL refuses it).

    ``JSONEncoder.encode`` builds a new C encoder on every call, which is most of
    the time spent on small documents; one C encoder made here serves the whole
    column (``json.encoder.c_make_encoder``, where the interpreter has it).
    """
    base = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return base.encode
    try:
        fast = make(
            {}, base.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, False
        )

        def encode(value: Any) -> str:
            return "".join(fast(value, 0))

        if encode({"a": [1, 2.5, None, "ü"]}) != base.encode({"a": [1, 2.5, None, "ü"]}):
            return base.encode
    except Exception:  # another interpreter's private signature: the public way is fine
        return base.encode
    return encode


def type_name(sql_type: sqltypes.TypeEngine[Any]) -> str:
    """The SQL name of a column type, as DDL would spell it: a dialect's own type as
    its dialect spells it (MySQL's ``SET('a','b')``, where the default says ``SET``)."""
    module = type(sql_type).__module__.split(".")
    if module[:2] == ["sqlalchemy", "dialects"] and len(module) > 2:
        try:
            dialect = importlib.import_module(".".join(module[:3])).dialect()
            return str(sql_type.compile(dialect=dialect))
        except Exception:  # the default dialect's spelling, below
            pass
    try:
        return str(sql_type.compile())
    except Exception:  # a dialect-specific type the default dialect cannot spell
        return type(sql_type).__name__.upper()
