"""One DataFrame column -> the Arrow array the database will receive.

Each column kind has its conversion (exact integer widths, UTC timestamps,
decimals at the column's scale, JSON as text, UUIDs as 16 bytes, enum members
as their values), done with Arrow compute functions over the whole column. The
first value that does not fit is looked for only when a check fails, and the
``ValidationError`` names its row, the column, the value and the reason.
``validate.check`` runs one of these per column of the table.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Column
from sqlalchemy import types as sqltypes

from dbnb.errors import ValidationError
from dbnb.write.columns import Spec, WriteRules, json_encoder, plain, type_name


def _first(mask: pa.Array) -> int:
    """Position of the first true value of a boolean mask (nulls count as false)."""
    return int(pc.index(pc.fill_null(mask, False), True).as_py())


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


class ColumnConversion:
    """One column's conversion to its wire type, raising ValidationError on the first bad row."""

    def __init__(
        self,
        table: str,
        label: Callable[[int], Hashable],
        column: Column[Any],
        spec: Spec,
        series: pd.Series,
        rules: WriteRules,
    ) -> None:
        self.table = table
        self.label = label  # the user's name for the row at a position
        self.column = column
        self.spec = spec
        self.series = series
        self.rules = rules

    def fail(self, position: int, reason: str, value: Any = None) -> ValidationError:
        if value is None:
            value = plain(self.series.iloc[position])
            if _is_missing(value):
                value = None
        return ValidationError.at(
            self.table,
            reason,
            row=self.label(position),
            column=self.column.name,
            value=value,
        )

    @property
    def type_name(self) -> str:
        return type_name(self.spec.sql_type)

    def expected(self, what: str) -> str:
        return f"expected {what} for a {self.type_name} column"

    def convert(self) -> pa.Array | list[Any]:
        kind = self.spec.kind
        if self.series.empty:
            return [] if self.spec.arrow is None else pa.array([], type=self.spec.arrow)
        if kind == "json":
            return self.from_json()
        if kind == "uuid":
            return self.from_uuid()
        if kind == "enum":
            return self.from_enum()
        if kind == "other":
            return [None if _is_missing(v) else v for v in self.series.tolist()]
        if kind == "decimal" and self.series.dtype == object:
            return self.from_decimals()
        array = self.arrow()
        if pa.types.is_null(array.type):
            assert self.spec.arrow is not None or kind == "decimal"
            return pa.nulls(len(array), self.spec.arrow or pa.decimal128(1, 0))
        convert: Callable[[pa.Array], pa.Array | list[Any]] = getattr(self, f"to_{kind}")
        return convert(array)

    # --- from pandas to Arrow -------------------------------------------------------

    def arrow(self) -> pa.Array:
        """The column as Arrow, as pandas/pyarrow see it; NaN in numpy floats is NULL."""
        try:
            array = pa.array(self.series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            raise self._mixed() from None
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_string_view(array.type) or pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        return array

    def _mixed(self) -> ValidationError:
        """A column Arrow cannot convert: find the first value that does not fit the others."""
        values = self.series.tolist()
        first_type = None
        for position, value in enumerate(values):
            if _is_missing(value):
                continue
            try:
                pa.array([value])
            except OverflowError:
                return self.fail(position, "out of range (more than 64 bits)")
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                return self.fail(position, self.expected(_what(self.spec.kind)))
            if first_type is None:
                first_type = type(value)
            elif not isinstance(value, first_type) and not isinstance(first_type, type(value)):
                return self.fail(
                    position,
                    self.expected(_what(self.spec.kind))
                    + f" (this column mixes {first_type.__name__} and {type(value).__name__})",
                )
        return self.fail(0, self.expected(_what(self.spec.kind)))

    def wrong_type(self, array: pa.Array) -> ValidationError:
        position = _first(array.is_valid())
        return self.fail(position, self.expected(_what(self.spec.kind)) + f", got {array.type}")

    # --- kinds ------------------------------------------------------------------------

    def to_int(self, array: pa.Array) -> pa.Array:
        target = self.spec.arrow
        assert target is not None
        bits = target.bit_width
        low, high = (0, 2**bits - 1) if pa.types.is_unsigned_integer(target) else _signed(bits)
        if pa.types.is_floating(array.type):
            fraction = pc.not_equal(array, pc.floor(array))
            if _any(fraction) or _any(pc.is_nan(array)) or _any(pc.is_inf(array)):
                bad = pc.or_(fraction, pc.or_(pc.is_nan(array), pc.is_inf(array)))
                raise self.fail(_first(bad), f"not a whole number, for {self.type_name}")
        elif pa.types.is_decimal(array.type):
            if _any(pc.not_equal(array, pc.floor(array))):
                fraction = pc.not_equal(array, pc.floor(array))
                raise self.fail(_first(fraction), f"not a whole number, for {self.type_name}")
        elif not pa.types.is_integer(array.type):
            raise self.wrong_type(array)
        bounds = pc.min_max(array)
        smallest, largest = bounds["min"].as_py(), bounds["max"].as_py()
        if smallest is not None and (smallest < low or largest > high):
            position = next(
                i for i, v in enumerate(array.to_pylist()) if v is not None and not low <= v <= high
            )
            raise self.fail(position, f"out of range ({low} to {high}) for {self.type_name}")
        return array.cast(target, safe=False)

    def to_float(self, array: pa.Array) -> pa.Array:
        target = self.spec.arrow
        assert target is not None
        numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
        if not any(check(array.type) for check in numeric):
            raise self.wrong_type(array)
        array = array.cast(target, safe=False)
        if not self.rules.keeps_nan:
            # SQLite has no NaN: it stores one as NULL, so say so up front.
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, target), array)
        return array

    def to_decimal(self, array: pa.Array) -> pa.Array | list[Any]:
        target = self.spec.arrow
        if pa.types.is_integer(array.type):
            # Through 38 digits: Arrow sizes an int64's decimal for any int64 (19 digits).
            array = array.cast(pa.decimal128(38, 0))
        elif pa.types.is_floating(array.type):
            bad = pc.or_(pc.is_nan(array), pc.is_inf(array))
            if _any(bad):
                raise self.fail(_first(bad), "NaN and infinity do not fit a numeric column")
            # A float is the decimal its shortest repr writes (8.95 is 8.95, not the
            # binary fraction nearest it): what the user typed, and what a read gave
            # (SQLite reads a NUMERIC column as floats).
            texts = array.cast(pa.string())
            if target is None:
                return self._sized([None if t is None else Decimal(t) for t in texts.to_pylist()])
            return self._decimals_of(texts, target)
        if not pa.types.is_decimal(array.type):
            raise self.wrong_type(array)
        if target is None:
            if pa.types.is_decimal256(array.type) and array.type.precision > 38:
                return array  # wider than 38 digits: sent as text
            return array.cast(pa.decimal128(min(38, array.type.precision), array.type.scale))
        try:
            return array.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for position, value in enumerate(array.to_pylist()):
                if value is not None and not _fits_decimal(value, target):
                    raise self.fail(position, f"does not fit {_numeric(target)}") from None
            raise

    def _sized(
        self, numbers: list[Decimal | None], array: pa.Array | None = None
    ) -> pa.Array | list[Any]:
        """Finite Decimals for a numeric column of any precision (``array``: them in
        Arrow already): Arrow decimals when they share one scale, else the Decimals
        themselves. Arrow gives every value the largest scale, and the database keeps
        it: 12.5 beside 8.95 would be read back as 12.50. Also the Decimals where Arrow
        holds none (more than 76 digits)."""
        exponents = {number.as_tuple().exponent for number in numbers if number is not None}
        if not exponents:
            return pa.nulls(len(numbers), pa.decimal128(1, 0))
        if len(exponents) > 1:
            return numbers
        try:
            return self.to_decimal(pa.array(numbers) if array is None else array)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return numbers

    def _decimals_of(self, texts: pa.Array, target: pa.DataType) -> pa.Array:
        """Decimal texts as ``target``: exactly, or the first row that does not fit."""
        try:
            return texts.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for position, text in enumerate(texts.to_pylist()):
                if text is not None and not _fits_decimal(Decimal(text), target):
                    raise self.fail(position, f"does not fit {_numeric(target)}") from None
            raise

    def to_bool(self, array: pa.Array) -> pa.Array:
        if not pa.types.is_boolean(array.type):
            raise self.wrong_type(array)
        return array

    def to_string(self, array: pa.Array) -> pa.Array:
        if _is_uuid(array.type):
            # As SQLAlchemy's Uuid stores one in a CHAR(32) (where SQLite's reads find
            # UUIDs), else in its canonical form.
            length = getattr(self.spec.sql_type, "length", None)
            array = uuid_text(array, hyphens=length != 32)
        if not pa.types.is_string(array.type):
            raise self.wrong_type(array)
        length = getattr(self.spec.sql_type, "length", None)
        if length is not None:
            too_long = pc.greater(pc.utf8_length(array), length)
            if _any(too_long):
                position = _first(too_long)
                size = len(array[position].as_py())
                raise self.fail(position, f"{size} characters, longer than {length}")
        if not self.rules.text_holds_nul:
            nul = pc.match_substring(array, "\x00")
            if _any(nul):
                database = self.rules.database
                raise self.fail(_first(nul), f"{database} text cannot hold the NUL character")
        return array

    def to_set(self, array: pa.Array) -> pa.Array:
        """Members joined by commas ('a,b', '' for none), as MySQL's SET reads."""
        if not pa.types.is_string(array.type):
            raise self.wrong_type(array)
        members = list(getattr(self.spec.sql_type, "values", ()))
        parts = pc.split_pattern(
            pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array), ","
        )
        unknown = pc.invert(
            pc.is_in(pc.list_flatten(parts), value_set=pa.array(members, pa.string()))
        )
        if _any(unknown):
            rows = pc.list_parent_indices(parts)
            position = int(rows[_first(unknown)].as_py())
            raise self.fail(position, f"not members of {self.type_name} joined by commas")
        return array

    def to_date(self, array: pa.Array) -> pa.Array:
        if pa.types.is_date(array.type):
            return array.cast(pa.date32())
        if pa.types.is_timestamp(array.type) and array.type.tz is None:
            timed = pc.not_equal(pc.floor_temporal(array, unit="day"), array)
            if _any(timed):
                raise self.fail(_first(timed), "has a time of day; a date column takes dates")
            return array.cast(pa.date32())
        raise self.wrong_type(array)

    def to_datetime(self, array: pa.Array) -> pa.Array:
        target = self.spec.arrow
        assert target is not None
        if not pa.types.is_timestamp(array.type):
            raise self.wrong_type(array)
        if target.tz is not None and array.type.tz is None:
            raise self.fail(
                _first(array.is_valid()),
                "a naive timestamp in a column WITH time zone: give it one "
                "(e.g. series.dt.tz_localize('UTC'))",
            )
        if target.tz is None and array.type.tz is not None:
            if isinstance(self.spec.sql_type, self.rules.utc_timestamps):
                # Arrow keeps every timestamp as UTC: dropping the zone leaves its UTC time.
                return self._to_micros(array.cast(pa.timestamp(array.type.unit)), target)
            raise self.fail(
                _first(array.is_valid()),
                "a time-zone-aware timestamp in a column WITHOUT time zone: drop it "
                "(e.g. series.dt.tz_convert('UTC').dt.tz_localize(None))",
            )
        return self._to_micros(array, target)

    def to_time(self, array: pa.Array) -> pa.Array:
        if not pa.types.is_time(array.type):
            raise self.wrong_type(array)
        return self._to_micros(array, pa.time64("us"))

    def to_interval(self, array: pa.Array) -> pa.Array:
        if not pa.types.is_duration(array.type):
            raise self.wrong_type(array)
        return self._to_micros(array, pa.duration("us"))

    def _to_micros(self, array: pa.Array, target: pa.DataType) -> pa.Array:
        try:
            return array.cast(target)
        except pa.ArrowInvalid:  # nanoseconds that microseconds would lose
            lost = pc.not_equal(array.cast(target, safe=False).cast(array.type), array)
            raise self.fail(
                _first(lost), "has nanoseconds; the database keeps microseconds"
            ) from None

    def to_binary(self, array: pa.Array) -> pa.Array:
        binary = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)
        if not any(check(array.type) for check in binary):
            raise self.wrong_type(array)
        return array.cast(pa.binary())

    def to_array(self, array: pa.Array) -> pa.Array:
        target = self.spec.arrow
        assert target is not None
        if not pa.types.is_list(array.type) and not pa.types.is_large_list(array.type):
            raise self.wrong_type(array)
        try:
            return array.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for position in range(len(array)):
                try:  # a row on its own (a slice would cast every row's elements)
                    pa.array([array[position].as_py()], type=array.type).cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise self.fail(position, f"elements do not fit {self.type_name}") from None
            raise

    # --- Python objects ---------------------------------------------------------------

    def _objects(self) -> tuple[list[Any], np.ndarray]:
        """The values as Python objects, and where they are missing."""
        missing = self.series.isna().to_numpy(dtype=bool)
        return self.series.tolist(), missing

    def from_decimals(self) -> pa.Array | list[Any]:
        """Python numbers into a numeric column: Arrow decimals, or the Decimals themselves
        where Arrow would change them (NaN and Infinity, which PostgreSQL's numeric holds
        and a read of it gives; see ``_sized`` for a numeric of any precision)."""
        target = self.spec.arrow
        values = self.series.tolist()
        try:  # Decimals and None alone: the column's precision (inferring one is slow)
            array = pa.array(values, type=target, from_pandas=False)
        except (ValueError, TypeError, OverflowError, pa.ArrowNotImplementedError):
            pass  # NULLs of pandas, NaN, other numbers, values that do not fit: one by one
        else:
            if target is not None:
                return array
            if pa.types.is_null(array.type):
                return pa.nulls(len(array), pa.decimal128(1, 0))
            if pa.types.is_decimal(array.type):
                return self._sized(values, array)
        numbers = [self._decimal(position, value) for position, value in enumerate(values)]
        finite = [n if n is None or n.is_finite() else None for n in numbers]
        if target is None:
            return self._sized(finite) if finite == numbers else numbers
        for position, number in enumerate(finite):
            if number is not None and not _fits_decimal(number, target):
                raise self.fail(position, f"does not fit {_numeric(target)}")
        return pa.array(numbers, type=target) if finite == numbers else numbers

    def _decimal(self, position: int, value: Any) -> Decimal | None:
        if _is_missing(value):
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return Decimal(int(value))
        if isinstance(value, float | np.floating):
            if math.isinf(value):
                raise self.fail(position, "NaN and infinity do not fit a numeric column")
            return Decimal(repr(float(value)))  # its shortest repr, as for a float column
        raise self.fail(position, self.expected(_what("decimal")))

    def from_json(self) -> pa.Array:
        values, missing = self._objects()
        encode = json_encoder()
        try:
            text = [None if gone else encode(v) for v, gone in zip(values, missing, strict=True)]
        except (TypeError, ValueError):
            encode = json_encoder()  # a fresh one: the failed call may have left state behind
            for position, (value, gone) in enumerate(zip(values, missing, strict=True)):
                try:
                    None if gone else encode(value)
                except (TypeError, ValueError) as error:
                    raise self.fail(position, f"not JSON: {error}", value) from None
            raise
        array = pa.array(text, type=pa.string())
        if not self.rules.text_holds_nul and isinstance(self.spec.sql_type, sqltypes.JSON):
            # An escaped NUL, not an escaped backslash followed by "u0000".
            nul = pc.match_substring_regex(array, r"(^|[^\\])(\\\\)*\\u0000")
            if _any(nul):
                database = self.rules.database
                raise self.fail(_first(nul), f"{database} JSON cannot hold the NUL character")
        return array

    def from_uuid(self) -> pa.Array:
        if isinstance(self.series.dtype, pd.ArrowDtype):
            array = self.arrow()
            if pa.types.is_fixed_size_binary(array.type) and array.type.byte_width == 16:
                return array
        values, missing = self._objects()
        out: list[bytes | None] = []
        for position, (value, gone) in enumerate(zip(values, missing, strict=True)):
            if gone:
                out.append(None)
            elif isinstance(value, uuid.UUID):
                out.append(value.bytes)
            else:
                try:
                    out.append(uuid.UUID(value).bytes if isinstance(value, str) else _no_uuid())
                except ValueError:
                    raise self.fail(position, "not a UUID") from None
        return pa.array(out, type=pa.binary(16))

    def from_enum(self) -> pa.Array:
        sql_type = self.spec.sql_type
        assert isinstance(sql_type, sqltypes.Enum)
        allowed: list[str] = list(sql_type.enums)
        series = self.series
        enum_class = sql_type.enum_class
        if enum_class is not None and not isinstance(series.dtype, pd.ArrowDtype | pd.StringDtype):
            members = list(enum_class.__members__.values())
            lookup: dict[Any, str] = {stored: stored for stored in allowed}
            lookup.update(zip(members, allowed, strict=True))
            mapped = series.map(lookup)  # vectorized hash lookups, not a per-row loop in Python
            unknown = (mapped.isna() & series.notna()).to_numpy(dtype=bool)
            if unknown.any():
                position = int(np.argmax(unknown))
                raise self.fail(position, f"not one of {', '.join(allowed)}")
            series = mapped.astype(object).where(mapped.notna(), None)
        array = pa.array(series, from_pandas=True, type=None)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_null(array.type):
            return pa.nulls(len(array), pa.string())
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            raise self.wrong_type(array)
        array = array.cast(pa.string())
        unknown_mask = pc.invert(pc.is_in(array, value_set=pa.array(allowed, pa.string())))
        if _any(pc.and_(unknown_mask, array.is_valid())):
            raise self.fail(
                _first(pc.and_(unknown_mask, array.is_valid())), f"not one of {', '.join(allowed)}"
            )
        return array


def _signed(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _is_uuid(arrow_type: pa.DataType) -> bool:
    return getattr(arrow_type, "extension_name", None) == "arrow.uuid"


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 digits go in the canonical form, around its hyphens (8-4-4-4-12).
_CANONICAL = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def uuid_text(array: pa.Array, *, hyphens: bool) -> pa.Array:
    """UUIDs (``arrow.uuid``, or 16-byte binary) as lower-case hex text, 32 digits or
    the 36-character canonical form: the whole column at once, no object per value."""
    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    count = len(storage)
    raw = np.frombuffer(storage.buffers()[1], dtype=np.uint8)
    raw = raw[storage.offset * 16 : (storage.offset + count) * 16].reshape(count, 16)
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 15]
    if hyphens:
        canonical = np.full((count, 36), ord("-"), dtype=np.uint8)
        canonical[:, _CANONICAL] = digits
        digits = canonical
    width = digits.shape[1]
    offsets = pa.py_buffer(np.arange(0, (count + 1) * width, width, dtype=np.int32))
    validity = storage.is_valid().buffers()[1] if storage.null_count else None
    data = pa.py_buffer(digits.tobytes())
    return pa.Array.from_buffers(pa.string(), count, [validity, offsets, data], storage.null_count)


def _no_uuid() -> bytes:
    raise ValueError("not a UUID")


def _what(kind: str) -> str:
    return {
        "int": "whole numbers",
        "float": "numbers",
        "decimal": "decimal numbers",
        "bool": "booleans",
        "string": "strings",
        "enum": "enum members or their names",
        "set": "strings of members joined by commas",
        "date": "dates",
        "datetime": "timestamps",
        "time": "times of day",
        "interval": "durations",
        "binary": "bytes",
        "array": "lists",
    }.get(kind, kind)


def _numeric(target: pa.DataType) -> str:
    return f"numeric({target.precision}, {target.scale})"


def _fits_decimal(value: Decimal, target: pa.DataType) -> bool:
    try:
        pa.array([value], type=target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
