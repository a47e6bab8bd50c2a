"""The rules of the PostgreSQL columnar path's columns: ADBC's Arrow -> dbnb's types.

ADBC's PostgreSQL driver names each column's PostgreSQL type in the field
metadata. ``layout`` gives each column its rule: passed through when ADBC
already gives the documented Arrow type (``typetable.PG_TYPES``; an enum, as text),
cast (``numeric(p, s)`` to ``decimal128``, ``interval`` to ``duration``,
``money`` to ``decimal128(19, s)``), decoded from its binary form into the
server's text (``inet``, ``macaddr``, ``bit``: ``binary.py``; ranges and
multiranges: ``ranges.py``), typed by its values (an unconstrained numeric), or
made into Python values (JSON, UUID, arrays), as the guarded path makes them.
``batches.py`` applies them.

A composite is not read here: ADBC's driver (1.13) reads one as an Arrow struct
whose validity is wrong after the first NULL composite of a batch (its record
reader counts a row without marking it valid), and a NULL composite's fields come
as zeros, so which composites are NULL cannot be told. The guarded path reads them
(as the server's text), decided before the statement runs.
"""

from __future__ import annotations

import decimal
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.backends.postgresql import binary, ranges, texts
from dbnb.backends.postgresql.catalog import Catalog
from dbnb.backends.postgresql.typetable import MONEY_DIGITS, PG_TYPES, TEXT_NAMES
from dbnb.read import dtypes
from dbnb.read.columnar import OutOfRange, Unsupported

_PG_TYPE = b"POSTGRESQL:type"
_PG_TYPMOD = b"POSTGRESQL:typmod"


@dataclass(frozen=True)
class Column:
    """How one result column is normalised: to dbnb's Arrow type, then to pandas."""

    to_arrow: Callable[[pa.Array], pa.Array] | None = None
    to_python: Callable[[pa.Array], list[Any]] | None = None  # None: Arrow-backed
    # Python values for a column some of whose values ``to_arrow`` could not cast
    # (NaN in a numeric(p, s)): the whole column then becomes objects, as it does
    # on the guarded path, rather than the statement running again.
    fallback: Callable[[pa.Array], list[Any]] | None = None
    # The whole column's Arrow arrays, once every batch is read, for a type chosen
    # from all of its values (an unconstrained numeric's scale); None: ``fallback``.
    whole: Callable[[list[pa.Array]], list[pa.Array] | None] | None = None

    def as_objects(self) -> Column:
        assert self.fallback is not None
        return Column(to_python=self.fallback)


def layout(schema: pa.Schema, catalog: Catalog) -> list[Column]:
    """The rule for each column of an ADBC result; ``Unsupported`` for any other type.
    ``catalog`` knows what ``needs`` named (``learn`` it first)."""
    return [_pg_column(field, catalog) for field in schema]


def needs(schema: pa.Schema) -> tuple[set[int], bool, bool]:
    """What the catalog must be asked before ``layout``: the OIDs of the types ADBC's
    connection did not know, whether a column is ``money`` (its scale), and whether
    one may be written as the server's text by the session's settings (a range:
    ``texts.Session``; ADBC's driver knows no range, so it is among the OIDs)."""
    oids: set[int] = set()
    money = session = False
    for field in schema:
        for name in _type_names(field):
            money = money or name == "money"
            session = session or name in ranges.MULTIRANGES
            if name.startswith(_UNNAMED) and name.endswith(">"):
                oids.add(int(name[len(_UNNAMED) : -1]))
                session = True
    return oids, money, session


def _type_names(field: pa.Field) -> list[str]:
    names = [(field.metadata or {}).get(_PG_TYPE, b"").decode()]
    if pa.types.is_list(field.type):
        names += _type_names(field.type.value_field)
    return names


_UNNAMED = "unnamed<oid:"


def _pg_column(field: pa.Field, catalog: Catalog) -> Column:
    metadata = field.metadata or {}
    name = metadata.get(_PG_TYPE, b"").decode()
    if name in _INFINITIES and PG_TYPES.get(name) == field.type:
        kind = "date" if name == "date" else "timestamp"
        return Column(to_arrow=lambda array: _finite(array, kind, _INFINITIES[name]))
    if PG_TYPES.get(name) == field.type:  # already the documented type
        return Column()
    if pa.types.is_string(field.type) and name not in TEXT_NAMES:
        return Column()  # an enum: ADBC's driver reads it as its label
    if name == "numeric":
        typmod = int(metadata.get(_PG_TYPMOD, b"-1"))
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        if typmod >= 4 and precision <= 38:
            return Column(
                to_arrow=lambda array: _to_decimal(array, precision, scale), fallback=_decimals
            )
        if precision > 38:
            return Column(to_arrow=_storage, to_python=_decimals)
        return Column(to_arrow=_storage, whole=_fitted_decimals, fallback=_decimals)
    if name in _CONVERSIONS:
        return _CONVERSIONS[name]
    if name in binary.TEXT_DECODERS and _opaque_binary(field.type):
        decode = binary.TEXT_DECODERS[name]
        return Column(to_arrow=lambda array: decode(_storage(array)))
    if name == "money" and catalog.money_scale is not None:
        money = pa.decimal128(MONEY_DIGITS, catalog.money_scale)
        return Column(to_arrow=lambda array: _rescaled(array, money))
    if pa.types.is_list(field.type) and name.startswith("_"):
        return _array_column(field, catalog)
    if name in ranges.MULTIRANGES and _opaque_binary(field.type):
        return _range_column(field, ranges.MULTIRANGES[name], "multirange", catalog)
    if name.startswith(_UNNAMED) and _opaque_binary(field.type):
        found = catalog.types.get(int(name[len(_UNNAMED) : -1]))
        if found is not None and found.kind == "e":  # an enum's binary form is its label
            return Column(to_arrow=_label)
        if found is not None and "r" in (found.kind, found.element_kind):
            kind = "array" if found.is_array else "range"
            return _range_column(field, found.subtype, kind, catalog)
        if found is not None and (found.kind == "c" or found.element_kind in ("e", "c")):
            # A type created after this connection opened: a new one reads it.
            raise Stale(f"column {field.name!r}: a type newer than the connection")
    raise Unsupported(f"column {field.name!r}: {name or field.type}")


def _range_column(field: pa.Field, subtype: str, kind: str, catalog: Catalog) -> Column:
    """A range, a multirange or an array of ranges (ADBC's driver knows no range, the
    built-in ones included: it hands over their binary form) as the server's text;
    the guarded path's when that text is not dbnb's to write (``ranges.py``)."""
    # No settings asked (``needs`` asks them with the range's OID): the defaults.
    session = catalog.session or texts.Session()
    make = ranges.multiranges if kind == "multirange" else ranges.ranges
    read = make(subtype, session)
    if read is None:
        what = {"array": "an array of ranges", "multirange": "a multirange"}.get(kind, "a range")
        why = f"of {subtype}, whose text depends on the session's DateStyle and TimeZone"
        if subtype not in _SESSION_TEXTS:
            why = f"of {subtype or 'a type of its own'}"
        raise Unsupported(f"column {field.name!r}: {what} {why}")
    if kind == "array":
        items = ranges.arrays(read)
        return Column(
            to_arrow=lambda array: items(_storage(array)),
            to_python=lambda array: _lists(array, Column()),
        )
    return Column(to_arrow=lambda array: read(_storage(array)))


# The subtypes whose text dbnb writes only in a session of DateStyle ISO (and a
# timestamptz's only in one whose TimeZone is UTC): ``binary.decoder``.
_SESSION_TEXTS = {"date", "timestamp", "timestamptz"}


class Stale(Unsupported):
    """A column of a type created after the ADBC connection opened, which a new
    connection's driver reads (it learns the database's types as it connects)."""


def _opaque_binary(kind: pa.DataType) -> bool:
    return isinstance(kind, pa.BaseExtensionType) and pa.types.is_binary(kind.storage_type)


def _label(array: pa.Array) -> pa.Array:
    return _storage(array).cast(pa.string())  # checks each label is UTF-8


def _rescaled(array: pa.Array, kind: pa.Decimal128Type) -> pa.Array:
    """Integers of the smallest unit as decimals of ``kind``'s scale: the same digits."""
    whole = array.cast(pa.decimal128(kind.precision, 0))
    return pa.Array.from_buffers(kind, len(whole), whole.buffers(), offset=whole.offset)


def _array_column(field: pa.Field, catalog: Catalog) -> Column:
    """A PostgreSQL array: a Python list per value, its items as the element type's
    rule makes them (psycopg's lists); in Arrow (``output="arrow"``), a list of the
    items' Arrow type. ADBC's driver gives a multi-dimensional array as the flat list
    of its items, and the guarded path flattens it alike."""
    child = field.type.value_field
    if pa.types.is_struct(child.type):
        raise Unsupported(f"column {field.name!r}: an array of composites")
    element = _pg_column(child, catalog)
    if element.whole is not None:  # numeric: psycopg's Decimals, item by item
        element = Column(to_arrow=_storage, to_python=_decimals)
    items = Column(to_python=element.to_python)  # once ``to_arrow`` made their type
    convert = element.to_arrow
    to_arrow = None if convert is None else (lambda array: _mapped(array, convert))
    return Column(to_arrow=to_arrow, to_python=lambda array: _lists(array, items))


def _mapped(array: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """A list array with ``convert`` applied to its items."""
    mask = array.is_null() if array.null_count else None
    offsets = array.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    items = convert(array.values.slice(first, last - first))
    return pa.ListArray.from_arrays(pc.subtract(offsets, first), items, mask=mask)


def _lists(array: pa.Array, element: Column) -> list[Any]:
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[
        array.offset : array.offset + len(array) + 1
    ]
    items = array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    values = element.to_python(items) if element.to_python is not None else _items(items)
    starts = (offsets - offsets[0]).tolist()
    lists: list[Any] = [values[start:stop] for start, stop in itertools.pairwise(starts)]
    if array.null_count:
        for index in np.flatnonzero(np.asarray(array.is_null())).tolist():
            lists[index] = None
    return lists


def _items(items: pa.Array) -> list[Any]:
    """Python values of a flat Arrow array: through numpy where that is exact (text,
    and numbers without NULLs), much faster than ``to_pylist``."""
    kind = items.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        texts: list[Any] = items.to_numpy(zero_copy_only=False).tolist()
        return texts
    if not items.null_count and (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    ):
        numbers: list[Any] = items.to_numpy().tolist()
        return numbers
    values: list[Any] = items.to_pylist()
    return values


def _fitted_decimals(chunks: list[pa.Array]) -> list[pa.Array] | None:
    """An unconstrained numeric column (``sum``, ``avg`` of numeric) as
    ``decimal128(38, s)``: ``s`` the most digits after the point among its values,
    fewer if the integer digits need the room and the digits dropped are zeros; None
    when a value does not fit (NaN, Infinity, too many digits): Python Decimals."""
    texts = [_storage(chunk) for chunk in chunks]
    scale = 0
    integer = 1
    for text in texts:
        if len(text) == text.null_count:
            continue
        point = pc.find_substring(text, ".")
        length = pc.utf8_length(text)
        minus = pc.cast(pc.starts_with(text, "-"), pa.int32())
        after = pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.subtract(length, point), 1))
        before = pc.subtract(pc.if_else(pc.less(point, 0), length, point), minus)
        scale = max(scale, pc.max(after).as_py() or 0)
        integer = max(integer, pc.max(before).as_py() or 0)
    kind = dtypes.fitted_decimal(scale, integer)
    try:
        return [text.cast(kind) for text in texts]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


# PostgreSQL's infinity and -infinity as ADBC's driver hands them over: the server's
# largest and smallest value, shifted to the Unix epoch (wrapping round). psycopg
# refuses them on the guarded path; here they would be dates 290,000 years ago.
_INFINITIES: dict[str, tuple[int, int]] = {
    "timestamp": (-9222425352054775809, -9222425352054775808),
    "timestamptz": (-9222425352054775809, -9222425352054775808),
    "date": (-2147472692, -2147472691),
}


def _finite(array: pa.Array, kind: str, infinities: tuple[int, int]) -> pa.Array:
    """A copy of ``array`` (so the driver's batch is freed), once it holds no infinity.
    Both infinities sort below every finite value (year 4713 BC is far above them),
    so one minimum tells."""
    smallest = pc.min(array.view(pa.int32() if kind == "date" else pa.int64())).as_py()
    if smallest is not None and smallest <= max(infinities):
        words = "too small (before year 1): '-infinity'"
        if smallest == infinities[0]:
            words = "too large (after year 10K): 'infinity'"
        raise OutOfRange(f"{kind} {words}")
    return pa.concat_arrays([array]) if array.nbytes >= COPY_FROM_BYTES else array


# A batch (or a column) this large is copied out of the driver's memory, so the
# driver can free its batch; a smaller one is not worth the copy.
COPY_FROM_BYTES = 1 << 16


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def _to_decimal(array: pa.Array, precision: int, scale: int) -> pa.Array:
    """``decimal128(p, s)``; the text itself when a value is none (NaN, Infinity)."""
    try:
        return _storage(array).cast(pa.decimal128(precision, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _storage(array)


def _decimals(array: pa.Array) -> list[Any]:
    """Python Decimals from numeric text (or from decimals already cast)."""
    return [None if value is None else decimal.Decimal(value) for value in array.to_pylist()]


# JSON documents are parsed this many at a time: each slice is one C call that holds
# the GIL, so slices this small (a few ms) let the driver's thread go on reading.
_JSON_SLICE = 4_096
_JSON_DECODER = msgspec.json.Decoder()


def _json_values(array: pa.Array) -> list[Any]:
    """JSON documents as psycopg reads them (``json.loads``), a slice at a time."""
    texts = _storage(array)
    if texts.null_count:  # SQL NULL and JSON null both become None, as on the guarded path
        texts = texts.fill_null("null")
    values: list[Any] = []
    for start in range(0, len(texts), _JSON_SLICE):
        values.extend(_parse_documents(texts.slice(start, _JSON_SLICE)))
    return values


def _parse_documents(texts: pa.Array) -> list[Any]:
    """Every document of ``texts`` in one parse of ``[doc,doc,...]``: each document is
    complete JSON, so the joined text is one array whose items are exactly the
    documents. msgspec builds the same values as ``json.loads`` in two thirds of
    the time, and refuses what it would build differently (a lone surrogate, a number
    beyond a float), which ``json.loads`` then parses as psycopg would."""
    if len(texts) == 0:
        return []
    # "doc," for each document, in one buffer (Arrow's kernel, no Python per value).
    joined = pc.binary_join_element_wise(texts, "", ",")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    start, stop = offsets[joined.offset], offsets[joined.offset + len(joined)]
    data = b"[" + joined.buffers()[2].to_pybytes()[start : stop - 1] + b"]"
    try:
        values: list[Any] = _JSON_DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        values = json.loads(data)
    return values


def _uuids(array: pa.Array) -> list[Any]:
    """``uuid.UUID``s, each made from its two 64-bit halves as ``UUID(bytes=...)``
    makes it (its ``int``), without ``UUID.__init__``'s parsing: a third of the time."""
    if len(array) == 0:
        return []
    storage = _storage(array)
    if storage.null_count:
        storage = storage.fill_null(pa.scalar(bytes(16), storage.type))
    halves = np.frombuffer(storage.buffers()[1], dtype=">u8")[
        2 * storage.offset : 2 * (storage.offset + len(storage))
    ]
    high, low = halves[0::2].tolist(), halves[1::2].tolist()
    values: list[Any] = []
    append = values.append
    for first, second in zip(high, low, strict=True):
        value = _NEW_UUID(uuid.UUID)
        _SET(value, "int", (first << 64) | second)
        _SET(value, "is_safe", uuid.SafeUUID.unknown)
        append(value)
    if array.null_count:
        for index in np.flatnonzero(np.asarray(array.is_null())).tolist():
            values[index] = None
    return values


_NEW_UUID = uuid.UUID.__new__
_SET = object.__setattr__


def _interval_as_duration(array: pa.Array) -> pa.Array:
    """PostgreSQL intervals as psycopg reads them: a year is 365 days, a month 30."""
    if len(array) == 0:
        return pa.array([], type=pa.duration("us"))
    parts = np.frombuffer(
        array.buffers()[1], dtype=np.dtype([("m", "<i4"), ("d", "<i4"), ("n", "<i8")])
    )[array.offset : array.offset + len(array)]
    months = parts["m"].astype(np.int64)
    years = np.trunc(months / 12).astype(np.int64)
    days = years * 365 + (months - years * 12) * 30 + parts["d"]
    micros = days * 86_400_000_000 + parts["n"] // 1000
    mask = np.asarray(array.is_null()) if array.null_count else None
    return pa.array(micros, type=pa.duration("us"), mask=mask)


# The types whose rule is the same whatever the column: type name -> rule.
_CONVERSIONS: dict[str, Column] = {
    "json": Column(to_python=_json_values),
    "jsonb": Column(to_python=_json_values),
    "uuid": Column(to_python=_uuids),
    "interval": Column(to_arrow=_interval_as_duration),
    "oid": Column(to_arrow=lambda array: array.view(pa.uint32()).cast(pa.int64())),
    "xml": Column(to_arrow=_label),
}
