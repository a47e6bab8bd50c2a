"""Ranges, multiranges and arrays of ranges, from their binary form to the server's text.

ADBC's driver has no Arrow type for a range: it hands over ``range_send``'s bytes (a
flags byte, then each finite bound as a length and its subtype's binary form). dbnb
reads them as ``range_out`` writes them (``[1,5)``, ``empty``, ``(,"2024-01-01
00:00:00")``), what the guarded path gets: the bounds are cut out of the column's
buffer with numpy and read by their subtype's decoder (``binary.decoder``), a whole
column at a time.

Why not have the server write the text (``v::text`` in a query wrapped round the
user's)? That would change the statement the server runs and reports (its plan,
``pg_stat_statements``, the order a subquery's ORDER BY gives, which no outer query
promises to keep); decoding what the driver already has leaves the user's SQL as it
is, as for ``inet`` and ``bit``. A range whose subtype has no decoder (or a session
whose settings change its text: ``texts.Session``) takes the guarded path, decided
before the statement runs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.backends.postgresql import binary, texts
from dbnb.backends.postgresql.binary import Decoder

# range_send's flags (rangetypes.h).
_EMPTY, _LOWER_INCLUSIVE, _UPPER_INCLUSIVE = 0x01, 0x02, 0x04
_LOWER_INFINITE, _UPPER_INFINITE = 0x08, 0x10

# The built-in multiranges (PostgreSQL 14+), which the driver names, and their subtypes.
MULTIRANGES = {
    "int4multirange": "int4",
    "int8multirange": "int8",
    "nummultirange": "numeric",
    "datemultirange": "date",
    "tsmultirange": "timestamp",
    "tstzmultirange": "timestamptz",
}


def range_texts(storage: pa.Array, bound: Decoder) -> pa.Array:
    """Each range of ``storage`` (binary) as ``range_out`` writes it, its bounds read
    by ``bound``: the subtype's text, quoted as a bound is (``binary.decoder``)."""
    if len(storage) == 0:
        return pa.array([], pa.string())
    data, offsets = binary.filled(storage, bytes([_EMPTY]))
    starts = offsets[:-1]
    flags = data[starts]
    empty = (flags & _EMPTY) != 0
    has_lower = ~empty & ((flags & _LOWER_INFINITE) == 0)
    has_upper = ~empty & ((flags & _UPPER_INFINITE) == 0)
    lower_length = _lengths(data, starts + 1, has_lower)
    upper_at = starts + 1 + np.where(has_lower, 4 + lower_length, 0)
    upper_length = _lengths(data, upper_at, has_upper)
    lower = _bound(bound, data, starts + 5, lower_length, has_lower)
    upper = _bound(bound, data, upper_at + 4, upper_length, has_upper)
    opening = pc.if_else(pa.array((flags & _LOWER_INCLUSIVE) != 0), "[", "(")
    closing = pc.if_else(pa.array((flags & _UPPER_INCLUSIVE) != 0), "]", ")")
    text = pc.binary_join_element_wise(
        opening, pc.binary_join_element_wise(lower, upper, ","), closing, ""
    )
    return texts.nulled(pc.if_else(pa.array(empty), "empty", text), storage)


def _lengths(data: np.ndarray, at: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The 4-byte length at each of ``at`` where a bound is ``present``, else 0."""
    safe = np.where(present, at, 0)
    found = binary.big_endian(data, safe, 4).astype(np.int64) if len(data) >= 4 else 0
    return np.where(present, found, 0)


def _bound(
    bound: Decoder, data: np.ndarray, at: np.ndarray, lengths: np.ndarray, present: np.ndarray
) -> pa.Array:
    """The bounds at ``at`` as the text a range writes ('' where infinite)."""
    out = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    # Byte k of the bounds' buffer is byte (at_i - out_i + k) of the column's buffer.
    picked = data[np.repeat(at - out[:-1], lengths) + np.arange(out[-1])]
    values = pa.Array.from_buffers(
        pa.large_binary(),
        len(at),
        [pa.array(present).buffers()[1], pa.py_buffer(out), pa.py_buffer(picked)],
    ).cast(pa.binary())
    return bound(values).fill_null("")


def ranges(subtype: str, session: texts.Session) -> Decoder | None:
    """The reader of a range of ``subtype`` (a ``pg_type`` name); None without one."""
    bound = binary.decoder(subtype, session, bound=True)
    if bound is None:
        return None
    return lambda storage: range_texts(storage, bound)


def multiranges(subtype: str, session: texts.Session) -> Decoder | None:
    """The reader of a multirange (``{[1,3),[5,7)}``): its ranges, cut apart row by
    row (a count, then each range's length and bytes), read as one column."""
    one = ranges(subtype, session)
    if one is None:
        return None

    def read(storage: pa.Array) -> pa.Array:
        items = _items(storage, _multirange_items)
        joined = pc.binary_join(_list(items, one), ",")
        return texts.nulled(pc.binary_join_element_wise("{", joined, "}", ""), storage)

    return read


def arrays(element: Decoder) -> Decoder:
    """The reader of an array of a type the driver does not know (a range), as a list
    of its items' text per row, a multi-dimensional array flattened (row-major) as
    the driver flattens the arrays it knows."""
    return lambda storage: _list(_items(storage, _array_items), element)


_INT = struct.Struct(">i")
Items = tuple[list[bytes | None], list[int], list[bool]]


def _items(storage: pa.Array, split: Callable[[bytes], list[bytes | None]]) -> Items:
    """Every row's items in one list, where each row's start, and which rows are NULL."""
    items: list[bytes | None] = []
    offsets = [0]
    valid = []
    for raw in storage.to_pylist():
        if raw is not None:
            items.extend(split(raw))
        offsets.append(len(items))
        valid.append(raw is not None)
    return items, offsets, valid


def _list(found: Items, element: Decoder) -> pa.Array:
    items, offsets, valid = found
    texts_ = element(pa.array(items, pa.binary()))
    mask = pa.array([not ok for ok in valid], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), texts_, mask=mask)


def _multirange_items(raw: bytes) -> list[bytes | None]:
    (count,) = _INT.unpack_from(raw)
    items: list[bytes | None] = []
    at = 4
    for _ in range(count):
        (length,) = _INT.unpack_from(raw, at)
        items.append(raw[at + 4 : at + 4 + length])
        at += 4 + length
    return items


def _array_items(raw: bytes) -> list[bytes | None]:
    """``array_send``: dimensions, a NULL flag, the element type, each dimension's
    size and lower bound, then each item's length (-1: NULL) and bytes."""
    dimensions = _INT.unpack_from(raw)[0]
    if dimensions == 0:
        return []
    sizes = [_INT.unpack_from(raw, 12 + 8 * index)[0] for index in range(dimensions)]
    count = int(np.prod(sizes))
    items: list[bytes | None] = []
    at = 12 + 8 * dimensions
    for _ in range(count):
        (length,) = _INT.unpack_from(raw, at)
        at += 4
        if length < 0:
            items.append(None)
        else:
            items.append(raw[at : at + length])
            at += length
    return items
