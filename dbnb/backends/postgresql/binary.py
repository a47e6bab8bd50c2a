"""PostgreSQL's binary COPY formats as the server's text, a whole column at a time.

ADBC's PostgreSQL driver hands over the types it has no Arrow type for (``inet``,
``cidr``, ``macaddr``, ``bit``, ranges, a new enum) as their binary COPY
representation. dbnb reads them as the text the server would have sent (what the
guarded path gets from psycopg), made with numpy and Arrow's kernels over the
column's buffers, not a Python call per value; only IPv6 addresses and numerics
(in a numrange), rare in practice, are written out one by one. Each function takes the
column's binary storage and gives a string array of the same length, NULLs kept.
``decoder`` also reads the types a range is made of (its bounds: ``ranges.py``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dbnb.backends.postgresql import texts
from dbnb.backends.postgresql.texts import Session

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_IPV4 = 2  # PGSQL_AF_INET (PGSQL_AF_INET6 is 3)


def filled(storage: pa.Array, value: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of every value and where each starts (offsets, one more than values),
    NULLs replaced by ``value`` so every row can be read alike."""
    if storage.null_count:
        storage = storage.fill_null(pa.scalar(value, storage.type))
    storage = storage.cast(pa.large_binary())  # 64-bit offsets, one layout to read
    _, offsets_buffer, data_buffer = storage.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        storage.offset : storage.offset + len(storage) + 1
    ]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else _EMPTY
    return data, offsets


_EMPTY = np.zeros(0, dtype=np.uint8)


def _strings(chars: np.ndarray, offsets: np.ndarray, original: pa.Array) -> pa.Array:
    """A string array from its characters and offsets, NULL where ``original`` is."""
    array = pa.Array.from_buffers(
        pa.large_string(),
        len(original),
        [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(chars.astype(np.uint8))],
    ).cast(pa.string())
    if original.null_count:
        array = pc.if_else(original.is_valid(), array, pa.scalar(None, pa.string()))
    return array


def _fixed_hex(storage: pa.Array, width: int) -> pa.Array:
    """``width`` bytes per value as lower-case hex pairs joined by colons (macaddr)."""
    data, offsets = filled(storage, bytes(width))
    rows = data[offsets[0] : offsets[-1]].reshape(len(storage), width)
    chars = np.full((len(storage), 3 * width - 1), ord(":"), dtype=np.uint8)
    chars[:, 0::3] = _HEX[rows >> 4]
    chars[:, 1::3] = _HEX[rows & 0xF]
    text_offsets = np.arange(len(storage) + 1, dtype=np.int64) * (3 * width - 1)
    return _strings(chars.reshape(-1), text_offsets, storage)


def macaddr(storage: pa.Array) -> pa.Array:
    return _fixed_hex(storage, 6)


def macaddr8(storage: pa.Array) -> pa.Array:
    return _fixed_hex(storage, 8)


def bits(storage: pa.Array) -> pa.Array:
    """``bit``/``varbit``: a 4-byte length in bits, then the bits, as '0's and '1's."""
    data, offsets = filled(storage, bytes(4))
    starts = offsets[:-1]
    lengths = big_endian(data, starts, 4).astype(np.int64)
    text_offsets = np.zeros(len(storage) + 1, dtype=np.int64)
    np.cumsum(lengths, out=text_offsets[1:])
    # Bit k of row i is bit (start_i + 4) * 8 + k of the whole buffer.
    first = np.repeat((starts + 4) * 8 - text_offsets[:-1], lengths)
    chars = np.unpackbits(data)[first + np.arange(text_offsets[-1])] + ord("0")
    return _strings(chars, text_offsets, storage)


def big_endian(data: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """The unsigned big-endian integer of ``size`` bytes at each of ``starts``."""
    value = np.zeros(len(starts), dtype=np.uint64)
    for byte in range(size):
        value = (value << np.uint64(8)) | data[starts + byte].astype(np.uint64)
    return value


def inet(storage: pa.Array) -> pa.Array:
    return _network(storage, cidr=False)


def cidr(storage: pa.Array) -> pa.Array:
    return _network(storage, cidr=True)


def _network(storage: pa.Array, cidr: bool) -> pa.Array:
    """``inet``/``cidr`` as PostgreSQL writes them: the address, then ``/bits`` unless
    an ``inet`` is a whole host. Its binary form: family, bits, is_cidr, the address's
    length, the address."""
    data, offsets = filled(storage, bytes([_IPV4, 32, 0, 4, 0, 0, 0, 0]))
    starts = offsets[:-1]
    family = data[starts]
    prefix = data[starts + 1]
    octets = [pa.array(data[np.minimum(starts + 4 + k, len(data) - 1)]) for k in range(4)]
    address = pc.binary_join_element_wise(*(o.cast(pa.string()) for o in octets), ".")
    whole = (prefix == 32) if not cidr else np.zeros(len(storage), dtype=bool)
    suffix = pc.if_else(
        pa.array(whole),
        "",
        pc.binary_join_element_wise("/", pa.array(prefix).cast(pa.string()), ""),
    )
    text = pc.binary_join_element_wise(address, suffix, "")
    ipv6 = np.flatnonzero(family != _IPV4)
    if len(ipv6):
        sixes = [
            _ipv6_text(bytes(data[starts[i] + 4 : starts[i] + 20]), int(prefix[i]), cidr)
            for i in ipv6
        ]
        mask = np.zeros(len(storage), dtype=bool)
        mask[ipv6] = True
        text = pc.replace_with_mask(text, pa.array(mask), pa.array(sixes, pa.string()))
    if storage.null_count:
        text = pc.if_else(storage.is_valid(), text, pa.scalar(None, pa.string()))
    return text


def _ipv6_text(address: bytes, prefix: int, cidr: bool) -> str:
    """An IPv6 address as PostgreSQL writes it (``inet_net_ntop``): RFC 5952's
    shortening, but an IPv4-mapped or -compatible address ends in dotted decimal."""
    words = [int.from_bytes(address[i : i + 2], "big") for i in range(0, 16, 2)]
    compressed = ipaddress.IPv6Address(address).compressed
    if words[:5] == [0] * 5 and (words[5] == 0xFFFF or (words[5] == 0 and words[6] != 0)):
        prefix_text = "::ffff:" if words[5] == 0xFFFF else "::"
        compressed = prefix_text + str(ipaddress.IPv4Address(address[12:]))
    if prefix != 128 or cidr:
        compressed += f"/{prefix}"
    return compressed


# The rule of each PostgreSQL type read from its binary form: type name -> decoder.
TEXT_DECODERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "inet": inet,
    "cidr": cidr,
    "macaddr": macaddr,
    "macaddr8": macaddr8,
    "bit": bits,
    "varbit": bits,
}


# --- the types ranges are made of ---------------------------------------------------------

Decoder = Callable[[pa.Array], pa.Array]


def decoder(name: str, session: Session, bound: bool = False) -> Decoder | None:
    """The reader of type ``name``'s binary form into the text ``session`` would get
    (as a range writes it as a ``bound``: quoted where ``range_out`` quotes it); None
    for a type (or a session's settings) it cannot write exactly."""
    if name in TEXT_DECODERS:
        return TEXT_DECODERS[name]  # no character a bound quotes
    if name in _TEXTS:
        return (lambda storage: texts.quoted(_texts(storage))) if bound else _texts
    if name in _WIDTHS:
        return lambda storage: _integers(storage, _WIDTHS[name])
    # Not floats: PostgreSQL's shortest digits (Ryu) and Python's differ where a
    # shorter decimal lies on the rounding boundary; a range of floats is the
    # database's own, read on the guarded path.
    if name == "numeric":
        return numerics
    if name == "date" and session.iso_dates:
        return lambda storage: _dates(storage, bound)
    if name == "timestamp" and session.iso_dates:
        return lambda storage: _timestamps(storage, b"", bound)
    if name == "timestamptz" and session.iso_dates and session.utc:
        return lambda storage: _timestamps(storage, b"+00", bound)
    return None


_TEXTS = {"text", "varchar", "bpchar", "name"}
_WIDTHS = {"int2": 2, "int4": 4, "int8": 8}


def _texts(storage: pa.Array) -> pa.Array:
    return storage.cast(pa.string())  # checks each text is UTF-8


def _fixed(storage: pa.Array, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Each value of a fixed-size binary form as the big-endian number ``kind`` (a
    numpy type code, ``'>i4'``), and where the values are not NULL."""
    width = np.dtype(kind).itemsize
    data, offsets = filled(storage, bytes(width))
    rows = np.ascontiguousarray(data[offsets[0] : offsets[-1]])
    return rows.view(kind).astype(kind[1:]), np.asarray(storage.is_valid())


def _integers(storage: pa.Array, width: int) -> pa.Array:
    values, _ = _fixed(storage, f">i{width}")
    return texts.nulled(pa.array(values).cast(pa.string()), storage)


# The server's dates count days from 2000-01-01 and its timestamps microseconds, the
# largest and smallest values being infinity and -infinity.
_INT32 = np.iinfo(np.int32)
_INT64 = np.iinfo(np.int64)


def _dates(storage: pa.Array, bound: bool) -> pa.Array:
    days, valid = _fixed(storage, ">i4")
    return texts.dates(days, valid, days == _INT32.max, days == _INT32.min, bound)


def _timestamps(storage: pa.Array, zone: bytes, bound: bool) -> pa.Array:
    micros, valid = _fixed(storage, ">i8")
    plus, minus = micros == _INT64.max, micros == _INT64.min
    return texts.timestamps(micros, valid, plus, minus, zone, bound)


_NUMERIC_HEADER = struct.Struct(">hhHh")
_NUMERIC_SIGNS = {0xC000: "NaN", 0xD000: "Infinity", 0xF000: "-Infinity"}


def numerics(storage: pa.Array) -> pa.Array:
    """``numeric_send``'s form as ``numeric_out`` writes it: base-10000 digits, the
    first ``weight + 1`` before the point, ``dscale`` digits after it."""
    values = [None if raw is None else _numeric(raw) for raw in storage.to_pylist()]
    return pa.array(values, pa.string())


def _numeric(raw: bytes) -> str:
    count, weight, sign, scale = _NUMERIC_HEADER.unpack_from(raw)
    if sign in _NUMERIC_SIGNS:
        return _NUMERIC_SIGNS[sign]
    digits = struct.unpack_from(f">{count}h", raw, _NUMERIC_HEADER.size)

    def group(index: int) -> int:
        return digits[index] if 0 <= index < count else 0

    whole = (
        "0"
        if weight < 0
        else str(group(0)) + "".join(f"{group(index):04d}" for index in range(1, weight + 1))
    )
    if scale > 0:
        groups = range(weight + 1, weight + 1 + (scale + 3) // 4)
        whole += "." + "".join(f"{group(index):04d}" for index in groups)[:scale]
    return "-" + whole if sign == 0x4000 else whole
