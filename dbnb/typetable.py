"""Every common type's one rule: what it reads as, writes as, and how it is summarized.

Two kinds of table, built from the dataclasses here:

- Each database's ``TypeTable`` (``dbnb/backends/NAME/typetable.py``): its type names
  (as its catalog and drivers name them, and as DDL spells them) -> one ``TypeRule``:
  the Arrow type a read gives (or a ``Param`` rule, for ``numeric(p, s)``, ``money``,
  an unconstrained ``numeric``), the pandas dtype users see, the write kind a value of
  it is checked and sent as (``dbnb.write.columns.Spec.kind``), and its ``category``
  (how ``db.profile`` and ``db.plot`` treat it). The readers take their Arrow types
  from it, profile, plot and completion their categories and dtypes; the manual's
  dtype table is generated from these tables (``dbnb.backends.typetables``).
- ``SQLALCHEMY``: the same for SQLAlchemy's types, as a ``select()`` or a model
  declares them on any database: the statement's types on the guarded path
  (``dbnb.read.dtypes.arrow_type``), the writer's kinds (``dbnb.write.columns``),
  and profile's category of a reflected column.

This module sits below ``dbnb.read`` and ``dbnb.write`` (which may not import each
other) so that both read the one table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import types as sqltypes

# Marker: a column kept as Python objects (JSON, UUID, arrays, numerics wider than
# Arrow's decimals).
OBJECT = pa.null()
UTC_MICROS = pa.timestamp("us", tz="UTC")

# How profile and plot treat a column (``dbnb.see``): min, max and mean of numbers,
# text compared as Python compares str, an enum by its labels' text, times binned
# over time; json and other (arrays, inet, uuid, ranges, ...) counted by their text.
NUMBER = "number"
BOOL = "bool"
TEXT = "text"
ENUM = "enum"
TIME = "time"
BYTES = "bytes"
JSON = "json"
OTHER = "other"
CATEGORIES = (NUMBER, BOOL, TEXT, ENUM, TIME, BYTES, JSON, OTHER)

# The write kinds of ``dbnb.write.columns.spec_for``: how a value is checked and sent.
WRITE_KINDS = (
    "bool",
    "enum",
    "set",
    "int",
    "float",
    "decimal",
    "datetime",
    "date",
    "time",
    "interval",
    "json",
    "uuid",
    "array",
    "string",
    "binary",
    "other",
)


def decimal(precision: int | None, scale: int | None) -> pa.DataType:
    """``decimal128(p, s)``; Python Decimals (``OBJECT``) past 38 digits or with none."""
    if precision is None or precision > 38:
        return OBJECT  # unconstrained numeric: Python Decimals keep every digit
    return pa.decimal128(precision, scale or 0)


@dataclass(frozen=True)
class Param:
    """An Arrow type that depends on the column: its declared precision and scale
    (``numeric(p, s)``), a server setting (``money``'s scale) or its values (an
    unconstrained ``numeric``, fitted when read)."""

    dtype: str  # the pandas dtype as the manual writes it
    # The Arrow type from the column's declared (precision, scale); None when they do
    # not tell (a setting or the values do).
    resolve: Callable[[int | None, int | None], pa.DataType | None]


DECIMAL = Param("decimal128(p, s)[pyarrow]", decimal)
FITTED = Param("decimal128(38, s)[pyarrow]", lambda precision, scale: None)
MONEY = Param("decimal128(19, s)[pyarrow]", lambda precision, scale: None)


def dtype_text(arrow: pa.DataType) -> str:
    """The pandas dtype users see for a column of ``arrow`` (``OBJECT``: object)."""
    return "object" if arrow == OBJECT else str(pd.ArrowDtype(arrow))


@dataclass(frozen=True)
class TypeRule:
    """One row of a database's type table."""

    row: str  # the manual's row (``ROWS``) this rule belongs to
    # Its names: as the catalog and drivers name it (PostgreSQL's typname), and as DDL
    # spells it, lower case, parameters as ``(p, s)``. None: a case of another rule
    # documented on a row of its own (a numeric wider than 38 digits), or a type a
    # select() alone declares.
    names: tuple[str, ...]
    arrow: pa.DataType | Param
    write: str  # how a value of it writes back: dbnb.write.columns' kind
    category: str  # how profile and plot treat it
    # This database's cell in the manual's row (the cells of a row's rules are joined
    # with " / "; most rows have one rule that carries it).
    readme: str = ""
    # SQLite: the SQLAlchemy type plain SQL reads a column declared so as (its
    # processor converts each value, as a select() of it would).
    reads_as: sqltypes.TypeEngine[Any] | None = None

    def __post_init__(self) -> None:
        assert self.row in ROWS, self.row
        assert self.write in WRITE_KINDS, self.write
        assert self.category in CATEGORIES, self.category

    @property
    def fixed(self) -> pa.DataType | None:
        """The Arrow type, when it is the same for every column of the type."""
        return None if isinstance(self.arrow, Param) else self.arrow

    @property
    def dtype(self) -> str:
        """The pandas dtype users see (a ``Param``'s with its letters: ``decimal128(p, s)``)."""
        return self.arrow.dtype if isinstance(self.arrow, Param) else dtype_text(self.arrow)

    def arrow_for(self, precision: int | None, scale: int | None) -> pa.DataType | None:
        """The Arrow type of a column declared with ``precision`` and ``scale``."""
        if isinstance(self.arrow, Param):
            return self.arrow.resolve(precision, scale)
        return self.arrow


class TypeTable:
    """One database's types: each name -> its ``TypeRule``."""

    def __init__(
        self, database: str, rules: Iterable[TypeRule], absent: Mapping[str, str] | None = None
    ) -> None:
        self.database = database  # the manual's column header
        self.rules = tuple(rules)
        # This database's table cell in a row it has no rule of (else "—").
        self.absent = dict(absent or {})
        self._by_name: dict[str, TypeRule] = {}
        for rule in self.rules:
            for name in rule.names:
                assert name == name.lower(), name
                self._by_name.setdefault(name, rule)  # the first rule of a name wins

    def rule(self, type_name: str) -> TypeRule | None:
        """The rule of a type as the database spells it (``NUMERIC(12, 2)``, ``int4``,
        ``INT(11) UNSIGNED``, ``TIMESTAMP(6) WITH TIME ZONE``, ``text[]``,
        ``array<int>``), or None."""
        for spelling in spellings(type_name):
            found = self._by_name.get(spelling)
            if found is not None:
                return found
        return None

    def __getitem__(self, type_name: str) -> TypeRule:
        """The rule of ``type_name`` (as ``rule`` finds it); KeyError when none."""
        found = self.rule(type_name)
        if found is None:
            raise KeyError(f"{self.database}: no rule for the type {type_name!r}")
        return found

    def arrow_types(self) -> dict[str, pa.DataType]:
        """Each name whose Arrow type is fixed -> that type."""
        return {
            name: rule.arrow
            for name, rule in self._by_name.items()
            if not isinstance(rule.arrow, Param)
        }

    def names(self, *rows: str) -> tuple[str, ...]:
        """The names of the rules of ``rows``, in order."""
        return tuple(name for rule in self.rules if rule.row in rows for name in rule.names)

    def dtype(self, type_name: str) -> str | None:
        """The pandas dtype a column of ``type_name`` reads as: its parameters applied
        (``decimal128(12, 2)[pyarrow]``), else the rule's own (``decimal128(38, s)``)."""
        rule = self.rule(type_name)
        if rule is None:
            return None
        precision, scale = parameters(type_name)
        found = rule.arrow_for(precision, scale)
        return rule.dtype if found is None else dtype_text(found)

    def cell(self, row: str) -> str:
        """This database's table cell in ``row``."""
        texts = [rule.readme for rule in self.rules if rule.row == row and rule.readme]
        return " / ".join(texts) or self.absent.get(row, "—")


_PARAMETERS = re.compile(r"\(([^()]*)\)")
_NUMBERS = re.compile(r"\s*(\d+)\s*(?:,\s*(\d+)\s*)?")
# A text type's character set and collation (MySQL's): the same type whatever they are.
_CHARACTERS = re.compile(r"\s+(?:character set|charset|collate)\s+\w+")


def spellings(type_name: str) -> list[str]:
    """The names a type as spelled may be found under, most exact first: itself, its
    parameters as ``(p, s)``, without them; ``array`` for an array of any type; a
    character set and a collation left out."""
    text = " ".join(_CHARACTERS.sub("", type_name.lower()).split())
    if text.endswith("[]") or text.startswith("_") or text.startswith("array<"):
        return ["array"]
    if "<" in text:  # Spark's map<...>, struct<...>
        return [text.split("<", 1)[0].strip()]
    found = [text]
    if _PARAMETERS.search(text):
        bare = " ".join(_PARAMETERS.sub(" ", text, count=1).split())
        head, _, tail = _PARAMETERS.sub("\0", text, count=1).partition("\0")
        found += [" ".join(f"{head.strip()}(p, s) {tail.strip()}".split()), bare]
    return found


def parameters(type_name: str) -> tuple[int | None, int | None]:
    """The precision and scale of a type as spelled (``NUMERIC(12, 2)``), or None."""
    found = _PARAMETERS.search(type_name)
    numbers = _NUMBERS.fullmatch(found.group(1)) if found else None
    if numbers is None:
        return None, None
    scale = numbers.group(2)
    return int(numbers.group(1)), int(scale) if scale is not None else 0


# --- SQLAlchemy's types, on any database --------------------------------------------


@dataclass(frozen=True)
class SqlRule:
    """The rule of SQLAlchemy's column types of ``types`` (their subclasses too)."""

    types: tuple[type[Any], ...]
    write: str
    category: str
    arrow: pa.DataType | None = None  # None: the values decide
    arrow_of: Callable[[Any], pa.DataType] | None = None  # from the type's own arguments
    when: Callable[[Any], bool] | None = None  # only the types this says

    def arrow_type(self, sql_type: sqltypes.TypeEngine[Any]) -> pa.DataType | None:
        return self.arrow_of(sql_type) if self.arrow_of is not None else self.arrow


# In order: the first rule whose types hold a column's type is its rule (Enum before
# String, which it extends; Float and Numeric(asdecimal=False) before Numeric).
SQLALCHEMY: tuple[SqlRule, ...] = (
    SqlRule((sqltypes.Boolean,), "bool", BOOL, pa.bool_()),
    # An Enum of a Python enum class reads as its members.
    SqlRule(
        (sqltypes.Enum,),
        "enum",
        ENUM,
        arrow_of=lambda t: OBJECT if t.enum_class is not None else pa.string(),
    ),
    SqlRule((sqltypes.SmallInteger,), "int", NUMBER, pa.int16()),
    SqlRule((sqltypes.Integer,), "int", NUMBER, pa.int64()),
    SqlRule((sqltypes.Float,), "float", NUMBER, pa.float64()),
    SqlRule((sqltypes.Numeric,), "float", NUMBER, pa.float64(), when=lambda t: not t.asdecimal),
    SqlRule(
        (sqltypes.Numeric,), "decimal", NUMBER, arrow_of=lambda t: decimal(t.precision, t.scale)
    ),
    SqlRule(
        (sqltypes.DateTime,),
        "datetime",
        TIME,
        arrow_of=lambda t: UTC_MICROS if t.timezone else pa.timestamp("us"),
    ),
    SqlRule((sqltypes.Date,), "date", TIME, pa.date32()),
    SqlRule((sqltypes.Time,), "time", TIME, pa.time64("us")),
    SqlRule((sqltypes.Interval,), "interval", TIME, pa.duration("us")),
    SqlRule((sqltypes.JSON,), "json", JSON, OBJECT),
    SqlRule((sqltypes.Uuid,), "uuid", OTHER, OBJECT),
    SqlRule((sqltypes.ARRAY,), "array", OTHER, OBJECT),
    SqlRule((sqltypes.String,), "string", TEXT, pa.string()),
    # LargeBinary, BINARY, VARBINARY (and each dialect's BLOBs).
    SqlRule((sqltypes._Binary,), "binary", BYTES, pa.binary()),  # noqa: SLF001
    # SQLite: a column declared without a type, whose values may be anything.
    SqlRule((sqltypes.NullType,), "other", TEXT),
)


def unwrap(sql_type: sqltypes.TypeEngine[Any]) -> sqltypes.TypeEngine[Any]:
    """The type a TypeDecorator stores as (its ``process_bind_param`` is not run); but
    SQLAlchemy's ``Interval``, a TypeDecorator itself (a DateTime where the database
    has no interval type), whose own processors turn durations into what it stores."""
    while isinstance(sql_type, sqltypes.TypeDecorator) and not isinstance(
        sql_type, sqltypes.Interval
    ):
        sql_type = sql_type.impl_instance
    return sql_type


def sql_rule(sql_type: sqltypes.TypeEngine[Any]) -> SqlRule | None:
    """The rule of a SQLAlchemy column type (a TypeDecorator's by what it stores)."""
    found = unwrap(sql_type)
    for rule in SQLALCHEMY:
        if isinstance(found, rule.types) and (rule.when is None or rule.when(found)):
            return rule
    return None


# --- dtypes -----------------------------------------------------------------------


def category_of_dtype(dtype: Any) -> str:
    """The category of a column by the dtype it reads as: for a column no type names
    (an expression's, a frame's), and beside the type's own rule where the values say
    more (MariaDB's YEAR is a number, a JSON LONGTEXT reads as objects)."""
    text = str(dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return BOOL
    if pd.api.types.is_numeric_dtype(dtype) or text.startswith("decimal"):
        return NUMBER
    if pd.api.types.is_string_dtype(dtype) and text != "object":
        return TEXT
    if any(word in text for word in ("date", "time", "duration")):
        return TIME
    if text.startswith("binary"):
        return BYTES
    return OTHER


# --- the manual's dtype table ------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the manual's dtype table: its last cell, the pandas dtype."""

    dtype: str


# The manual's rows, in order, each with its pandas dtype cell.
ROWS: dict[str, Row] = {
    "integers": Row("`int16` / `int32` / `int64[pyarrow]` (SQLite: `int16`, `int64`)"),
    "boolean": Row("`bool[pyarrow]`"),
    "floats": Row("`float[pyarrow]`, `double[pyarrow]`"),
    "numeric": Row("`decimal128(p, s)[pyarrow]`, exact"),
    "unconstrained numeric": Row(
        "`decimal128(38, s)[pyarrow]`, `s` the most digits after the point among the values"
        " (fewer if the digits before it need the room and those dropped are zeros; `0`"
        " without rows); `object` of `decimal.Decimal` when a value does not fit (`NaN`,"
        " more than 38 digits)"
    ),
    "wide numeric": Row("`object` of `decimal.Decimal`"),
    "money": Row(
        "`decimal128(19, s)[pyarrow]`, `s` the server's `lc_monetary` digits"
        " (2 for most currencies)"
    ),
    "text": Row("`string[pyarrow]`"),
    "server text": Row(
        "`string[pyarrow]`, the server's text (`'10.0.0.1'`, `'10.0.0.0/8'`, `'101'`,"
        " `'[1,5)'`, `'[\"2024-01-01 00:00:00+00\",infinity)'`, `'(1,\"x y\")'`)"
    ),
    "timestamptz": Row("`timestamp[us, tz=UTC][pyarrow]`"),
    "timestamp": Row("`timestamp[us][pyarrow]`"),
    "date": Row("`date32[day][pyarrow]`"),
    "time": Row("`time64[us][pyarrow]`"),
    "interval": Row("`duration[us][pyarrow]`"),
    "bytes": Row("`binary[pyarrow]`"),
    "json": Row("`object` of dicts, lists, str, numbers"),
    "uuid": Row("`object` of `uuid.UUID`"),
    "arrays": Row(
        "`object` of lists, each item as its type's row makes it (a multi-dimensional"
        " array: the flat list of its items, row-major)"
    ),
}


def markdown(tables: Sequence[TypeTable]) -> str:
    """The manual's dtype table: a column per database's table, then the pandas dtype."""
    header = [*(table.database for table in tables), "pandas dtype"]
    lines = [_line(header), "|" + "|".join(["---"] * len(header)) + "|"]
    for key, row in ROWS.items():
        lines.append(_line([*(table.cell(key) for table in tables), row.dtype]))
    return "\n".join(lines) + "\n"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
