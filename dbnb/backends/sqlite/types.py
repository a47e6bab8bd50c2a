"""SQLite's declared types: a table column declared DATETIME, DATE, BOOLEAN,
NUMERIC(p, s), JSON, CHAR(32), ... reads as a ``select()`` of it reads, through
SQLAlchemy's own SQLite processors, on both SQLite paths (``frames`` for the
guarded one, ``adbc`` for the columnar one). A value its type cannot hold is
kept as it is stored (``convert`` says it did not fit).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import pysqlite

from dbnb.backends.sqlite.typetable import TABLE
from dbnb.read import frames
from dbnb.read.dtypes import UTC_MICROS, arrow_type


@dataclass(frozen=True)
class Declared:
    """A SQLite column's declared type, read as a ``select()`` of it is read: each value
    through ``convert`` (SQLAlchemy's own SQLite processor, which raises ``ValueError``
    or ``TypeError`` for a value that does not fit), the column as ``kind``. ``whole``
    converts a column Arrow already holds at once, or says None when it cannot vouch
    that each value would come out as ``convert`` makes it."""

    kind: pa.DataType
    convert: Callable[[Any], Any]
    whole: Callable[[pa.ChunkedArray], pa.ChunkedArray | None] | None = None
    # All values converted at once, as ``convert`` converts each of them, or None when
    # it cannot vouch for that (``convert`` then goes value by value).
    batch: Callable[[Sequence[Any]], list[Any] | None] | None = None
    # An integer within 2**53 and the real of the same value convert alike (NUMERIC(p, s):
    # to the same Decimal), so the columnar path may hold both as doubles.
    numbers_alike: bool = False

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        """Each value converted (``frames.Converter``): see ``convert``."""
        return convert(values, self)


# The declared types (sqlite3_column_decltype) that give a plain query's column the
# dtype a select() of it has: what SQLAlchemy (and so SQLModel and dbnb.write) declare
# on SQLite, the rules of SQLite's type table that say what they read as
# (``typetable.py``). A declared INTEGER, REAL, TEXT or BLOB column's storage class
# already gives a select()'s dtype.
# Also NUMERIC(p, s) and DECIMAL(p, s) (with a precision: a bare NUMERIC follows its
# storage classes), and CHAR(32), SQLAlchemy's Uuid on SQLite (32 hex digits):
# their parameters make their type (``declared``).
DECLARED: dict[str, sqltypes.TypeEngine[Any]] = {
    name.upper(): rule.reads_as
    for rule in TABLE.rules
    if rule.reads_as is not None
    for name in rule.names
}
_DECLTYPE = re.compile(r"\s*([A-Za-z][A-Za-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*")
_SQLITE = pysqlite.dialect()


class _Misfit(ValueError):
    """A value its column's declared type does not hold."""


@functools.lru_cache(maxsize=256)
def declared(decltype: str | None) -> Declared | None:
    """How a SQLite column declared as ``decltype`` reads, or None: by storage classes."""
    match = _DECLTYPE.fullmatch(decltype or "")
    if match is None:
        return None
    name = match.group(1).upper()
    precision = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else None
    sql_type: sqltypes.TypeEngine[Any] | None
    if name in ("NUMERIC", "DECIMAL") and precision is not None:
        sql_type = sqltypes.Numeric(precision, scale)
    elif name == "CHAR" and precision == 32 and scale is None:
        sql_type = sqltypes.Uuid()
    else:
        sql_type = DECLARED.get(name) if precision is None else None
    if sql_type is None:
        return None
    kind = arrow_type(sql_type)
    assert kind is not None
    whole = _WHOLE.get(type(sql_type))
    if pa.types.is_decimal(kind):
        whole = _decimals(kind)
    batch = _json_documents if isinstance(sql_type, sqltypes.JSON) else None
    alike = isinstance(sql_type, sqltypes.Numeric)
    return Declared(kind, _converter(sql_type), whole, batch, alike)


def _converter(sql_type: sqltypes.TypeEngine[Any]) -> Callable[[Any], Any]:
    """A value as a select() of ``sql_type`` reads it; ``_Misfit`` when the type does
    not hold it exactly (the processors alone would turn 2 into True, 0.125 into 0.12)."""
    process = sql_type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
    if isinstance(sql_type, sqltypes.Boolean):
        return _boolean
    if isinstance(sql_type, sqltypes.Integer):
        return _integer
    if isinstance(sql_type, sqltypes.Uuid):
        return _uuid
    assert process is not None
    if isinstance(sql_type, sqltypes.Numeric):
        return functools.partial(_number, process)
    if isinstance(sql_type, sqltypes.JSON):
        return functools.partial(_json, process)
    return functools.partial(_text, process, naive=isinstance(sql_type, sqltypes.Time))


def _boolean(value: Any) -> bool:
    if type(value) is not int or value not in (0, 1):
        raise _Misfit(value)
    return value == 1


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise _Misfit(value)
    return value


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str or len(value) != 32:
        raise _Misfit(value)
    found = uuid.UUID(value)
    if found.hex != value:  # upper case, say: not what SQLAlchemy stores
        raise _Misfit(value)
    return found


def _number(process: Callable[[Any], Any], value: Any) -> Any:
    if type(value) not in (int, float):
        raise _Misfit(value)
    found = process(value)  # a Decimal at the column's scale
    if (float(found) if type(value) is float else found) != value:
        raise _Misfit(value)  # digits beyond the scale, or an integer a double rounds
    return found


def _json(process: Callable[[Any], Any], value: Any) -> Any:
    if type(value) not in (str, int, float):  # numbers: JSON's numeric affinity stored them
        raise _Misfit(value)
    return process(value)


def _text(process: Callable[[Any], Any], value: Any, *, naive: bool = False) -> Any:
    if type(value) is not str:
        raise _Misfit(value)
    found = process(value)
    if naive and found.tzinfo is not None:
        raise _Misfit(value)  # a time with an offset: time64 has none
    return found


_JSON = msgspec.json.Decoder()
_TEXT_OR_NULL = {str, type(None)}


def _json_documents(values: Sequence[Any]) -> list[Any] | None:
    """Documents (text) and NULLs, each parsed by msgspec: the values json.loads builds, in
    a fifth of the time (msgspec refuses what it would build differently: NaN, a lone
    surrogate, a number beyond a float); None when it refuses one, or a value is a
    number or a blob (``_json`` then says what becomes of each)."""
    if not set(map(type, values)) <= _TEXT_OR_NULL:
        return None
    decode = _JSON.decode
    try:
        return [None if value is None else decode(value) for value in values]
    except msgspec.DecodeError:
        return None


def whole_column(array: pa.Array | pa.ChunkedArray, declared: Declared) -> Any:
    """A column Arrow holds (integers or reals, text, ...) read as declared, all at once;
    None when only the per-value conversion (``column``) can say what it becomes."""
    converted = declared.whole(array) if declared.whole is not None else None
    return pd.arrays.ArrowExtensionArray(converted) if converted is not None else None


# Text in a DATETIME or DATE column, parsed by Arrow's cast as datetime.fromisoformat
# parses it: Arrow's ISO 8601 parser takes a subset of what fromisoformat takes (ASCII
# digits, a date alone, a time to the hour, minute, second or microsecond after ' ' or
# 'T', an offset or none) and gives the same value for each, rejecting the same
# impossible dates and times (tests/test_dtypes.py checks this over thousands of texts);
# all but year 0, which is checked apart. A text it refuses leaves the column to the
# per-value conversion. SQLAlchemy stores '2024-01-02 03:04:05.123456'; pandas' to_sql
# over sqlite3 and JavaScript write offsets or Z: a naive text is UTC, as SQLAlchemy
# reads it, an aware one is moved to UTC. Arrow parses an offset only into a column
# with a time zone, and none into one: a column of both is parsed in two parts.
_NAIVE_TEXT = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"
_AWARE_TEXT = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
_OFFSET = re.compile(r"[ T]\d.*(?:Z|[+-]\d{2}(?::?\d{2})?)$")  # after a time
_NO_TEXT = pa.scalar(None, pa.string())
_PROBE = 1000


def _cast(chunked: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray | None:
    """The texts parsed, or None when one does not parse (Feb 30, 24:00, junk: the
    per-value path keeps them as they are). Arrow's cast costs far more for each text
    it refuses than for one it parses, so a column whose first texts fail is not cast."""
    try:
        chunked.slice(0, _PROBE).cast(kind)
        return chunked.cast(kind)
    except pa.ArrowInvalid:
        return None


# The first and last microseconds and days since 1970 that datetime holds (years 1 to 9999).
_MICROS = (-62_135_596_800_000_000, 253_402_300_799_999_999)
_DAYS = (-719_162, 2_932_896)


def _within_years(parsed: pa.ChunkedArray) -> bool:
    """Whether every value is within the years datetime holds (1 to 9999)."""
    first, last = _MICROS if pa.types.is_timestamp(parsed.type) else _DAYS
    bounds = pc.min_max(parsed)  # their years would cost a pass over the column
    low: int = bounds["min"].value
    high: int = bounds["max"].value
    return first <= low and high <= last


# An offset is less than a day (Arrow refuses +24:00, as datetime does): a text of year 0
# moved to UTC is before the second day of year 1.
_YEAR_ONE_DAY_TWO = _MICROS[0] + 86_400_000_000


def _from_year_zero(texts: pa.ChunkedArray, parsed: pa.ChunkedArray) -> bool:
    """Whether a text of year 0 (which datetime refuses) is among ``texts``, parsed with
    their offsets into ``parsed``: a pass over the texts only when the earliest value
    is one year 0 could have become."""
    earliest = pc.min(parsed).value
    if earliest is None or earliest >= _YEAR_ONE_DAY_TWO:
        return False
    return bool(pc.any(pc.starts_with(texts, "0000")).as_py())


def _usable(chunked: pa.ChunkedArray) -> bool:
    return bool(pa.types.is_string(chunked.type)) and chunked.null_count < len(chunked)


def _datetimes(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    if not _usable(chunked):
        return None
    # The column's first text says which cast to try (a column is nearly always of one
    # kind), as a cast that fails costs more than one that does not (``_cast``).
    first = chunked[pc.index(pc.is_valid(chunked), True).as_py()].as_py()
    if _OFFSET.search(first) is None:
        parsed = _cast(chunked, pa.timestamp("us"))
        if parsed is not None:
            parsed = parsed.cast(UTC_MICROS)  # naive is UTC
    else:
        parsed = _cast(chunked, UTC_MICROS)
        if parsed is not None and _from_year_zero(chunked, parsed):
            return None
    if parsed is None:
        parsed = _naive_and_aware(chunked)
    return parsed if parsed is not None and _within_years(parsed) else None


def _naive_and_aware(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A column of texts with an offset and texts without, each part parsed apart."""
    naive = pc.match_substring_regex(chunked, _NAIVE_TEXT)
    aware = pc.match_substring_regex(chunked, _AWARE_TEXT)
    if not pc.all(pc.or_(naive, aware)).as_py():
        return None
    if pc.any(pc.starts_with(chunked, "0000")).as_py():
        return None
    moved = _cast(pc.if_else(aware, chunked, _NO_TEXT), UTC_MICROS)
    local = _cast(pc.if_else(aware, _NO_TEXT, chunked), pa.timestamp("us"))
    if moved is None or local is None:
        return None
    return pc.if_else(aware, moved, local.cast(UTC_MICROS))


def _dates(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    if not _usable(chunked):
        return None
    parsed = _cast(chunked, pa.date32())
    return parsed if parsed is not None and _within_years(parsed) else None


def _decimals(kind: pa.DataType) -> Callable[[pa.ChunkedArray], pa.Array | None]:
    """Integers and reals as the Decimals of ``kind`` a select() makes of them. Each value
    fits when a Decimal of the column's scale reads back as it exactly; where no two such
    Decimals read back as the same double (below 2**52 / 10**scale), that one is the one
    SQLAlchemy's processor makes (it rounds the value to the scale)."""
    scale = 10.0**kind.scale

    def decimals(array: pa.ChunkedArray) -> pa.Array | None:
        if array.null_count == len(array) or kind.scale > 15:
            return None
        if pa.types.is_integer(array.type):
            bounds = pc.min_max(array)
            if max(-bounds["min"].as_py(), bounds["max"].as_py()) > 2**53:
                return None  # SQLAlchemy's processor rounds it through a double
        elif not pa.types.is_floating(array.type):
            return None
        values = pc.fill_null(array.cast(pa.float64()), 0).to_numpy(zero_copy_only=False)
        if not (np.abs(values) < 2.0**52 / scale).all():  # NaN and infinities too
            return None
        unscaled = np.rint(values * scale)
        if (
            not (unscaled / scale == values).all()
            or not (np.abs(unscaled) < 10.0**kind.precision).all()
        ):
            return None  # digits beyond the scale, or beyond the precision
        valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
        integers = pa.array(unscaled.astype(np.int64), mask=~valid)
        exact = integers.cast(pa.decimal128(38, 0))  # 128 bits: the unscaled Decimals
        return pa.Array.from_buffers(kind, len(exact), exact.buffers(), exact.null_count)

    return decimals


def _booleans(chunked: pa.ChunkedArray) -> pa.ChunkedArray | None:
    if not pa.types.is_integer(chunked.type) or chunked.null_count == len(chunked):
        return None
    bounds = pc.min_max(chunked)
    if bounds["min"].as_py() < 0 or bounds["max"].as_py() > 1:
        return None
    return pc.equal(chunked, 1)


_WHOLE: dict[type[Any], Callable[[pa.ChunkedArray], pa.ChunkedArray | None]] = {
    sqltypes.DateTime: _datetimes,
    sqltypes.Date: _dates,
    sqltypes.Boolean: _booleans,
}


def convert(values: Sequence[Any], declared: Declared) -> tuple[list[Any], bool]:
    """Each value converted as its declared type says, and whether all of them fit;
    one that does not is kept as it is (the caller then makes an object column)."""
    if declared.batch is not None:
        found = declared.batch(values)
        if found is not None:
            return found, True
    converted: list[Any] = []
    fits = True
    process = declared.convert
    for value in values:
        if value is None:
            converted.append(None)
            continue
        try:
            converted.append(process(value))
        except (ValueError, TypeError, OverflowError):
            converted.append(value)
            fits = False
    return converted, fits


def declared_kinds(result: Any, count: int) -> list[Declared | frames.ByValues | None]:
    """The declared type of each column of a guarded result (``frames.column_types``):
    what a plain query of a table's columns reads as, as a ``select()`` of them would;
    else its storage classes, and its affinity when it has no value (``affinity``)."""
    from dbnb.backends.sqlite import describe

    found = describe.of_result(result)
    if found is None or len(found) != count:
        return [None] * count
    return [declared(name) or _by_values(name) for name in found]


# The Arrow type of each storage class a column's affinity stores its values as.
_AFFINITIES = {
    "INTEGER": pa.int64(),
    "TEXT": pa.string(),
    "BLOB": pa.binary(),
    "REAL": pa.float64(),
}


def affinity(decltype: str | None) -> pa.DataType | None:
    """What a column declared ``decltype`` (and not one of ``DECLARED``) reads as when it
    has no value to be typed by: the storage class its affinity gives its values
    (SQLite's rules, https://www.sqlite.org/datatype3.html#determination_of_column_affinity),
    so a read of no rows has the dtype a read of rows has. None for an expression (no
    declared type) and for NUMERIC affinity (a bare NUMERIC, or no type at all), whose
    values may be integers, reals or anything."""
    if decltype is None:
        return None
    name = decltype.upper()
    if "INT" in name:
        found = "INTEGER"
    elif "CHAR" in name or "CLOB" in name or "TEXT" in name:
        found = "TEXT"
    elif "BLOB" in name:
        found = "BLOB"
    elif "REAL" in name or "FLOA" in name or "DOUB" in name:
        found = "REAL"
    else:
        return None
    return _AFFINITIES[found]


@functools.lru_cache(maxsize=256)
def _by_values(decltype: str | None) -> frames.ByValues | None:
    found = affinity(decltype)
    return None if found is None else frames.ByValues(found)
