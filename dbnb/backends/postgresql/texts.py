"""The server's text of the numbers a range is made of, and of its bounds' quoting.

A range is read as the text PostgreSQL's own ``range_out`` writes, which is what the
guarded path gets. Its bounds come in binary (``binary.py`` reads the numbers): this
module writes those numbers as the server would, a whole column at a time with numpy
and Arrow's kernels, and quotes a bound as the server does. Dates and timestamps
follow ``DateStyle = ISO`` (PostgreSQL's default) and a ``timestamptz`` a session
whose ``TimeZone`` is UTC. In a session with other settings such a range is read on
the guarded path (``Session``), decided before the statement runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# The zones whose offset is always zero, as ``SHOW TimeZone`` names them: the server
# then writes a timestamptz with ``+00``. Any other zone's offsets come from the
# server's own time zone data, which dbnb does not second-guess.
_UTC_ZONES = {
    f"{prefix}{zone}"
    for prefix in ("", "etc/")
    for zone in ("utc", "uct", "gmt", "gmt0", "gmt+0", "gmt-0", "greenwich", "universal", "zulu")
}


@dataclass(frozen=True)
class Session:
    """The settings of a reading session that the text of its values depends on
    (those of a connection of the guarded path too: the same server, role and
    database give both the same defaults)."""

    datestyle: str = "ISO, MDY"
    timezone: str = "UTC"

    @property
    def iso_dates(self) -> bool:
        return self.datestyle.replace(" ", "").upper().startswith("ISO")

    @property
    def utc(self) -> bool:
        return self.timezone.lower() in _UTC_ZONES


class _Parts:
    """Rows of text made of pieces, a character matrix each (a row per value, or
    constant bytes), of which each row takes ``length`` characters from ``start``
    (all of them when not given): written with numpy over the whole column into one
    matrix, then gathered into one Arrow string array."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._pieces: list[tuple[np.ndarray | bytes, Any, Any]] = []

    def add(self, piece: np.ndarray | bytes, start: Any = None, length: Any = None) -> None:
        self._pieces.append((piece, start, length))

    def strings(self) -> pa.Array:
        widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p, _, _ in self._pieces]
        chars = np.empty((self._rows, sum(widths)), dtype=np.uint8)
        mask = np.ones(chars.shape, dtype=bool)
        lengths = np.zeros(self._rows, dtype=np.int64)
        at = 0
        for (piece, start, length), width in zip(self._pieces, widths, strict=True):
            columns = slice(at, at + width)
            chars[:, columns] = (
                np.frombuffer(piece, np.uint8) if isinstance(piece, bytes) else piece
            )
            if start is None and length is None:
                lengths += width
            else:
                begin = np.asarray(0 if start is None else start).reshape(-1, 1)
                count = np.asarray(width if length is None else length).reshape(-1, 1)
                span = np.arange(width)
                mask[:, columns] = (span >= begin) & (span < begin + count)
                lengths += np.broadcast_to(count, (self._rows, 1))[:, 0]
            at += width
        offsets = np.zeros(self._rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = chars.reshape(-1) if mask.all() else chars[mask]
        return pa.Array.from_buffers(
            pa.large_string(), self._rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        ).cast(pa.string())


# Every two-digit number's characters, "00" to "99".
_PAIRS = np.array([[ord(a), ord(b)] for a in "0123456789" for b in "0123456789"], np.uint8)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as ``width`` zero-padded decimal digits, a row each."""
    out = np.empty((len(numbers), width), dtype=np.uint8)
    rest = numbers.astype(np.int64)
    column = width
    while column >= 2:
        rest, pair = np.divmod(rest, 100)
        out[:, column - 2 : column] = _PAIRS[pair]
        column -= 2
    if column:
        out[:, 0] = rest % 10 + ord("0")
    return out


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proleptic Gregorian year (0 is 1 BC), month and day of days since 1970-01-01
    (H. Hinnant's ``civil_from_days``, exact for any day PostgreSQL can hold)."""
    z = days + 719468
    era = z // 146097
    of_era = z - era * 146097
    year_of_era = (of_era - of_era // 1460 + of_era // 36524 - of_era // 146096) // 365
    of_year = of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted = (5 * of_year + 2) // 153
    day = of_year - (153 * shifted + 2) // 5 + 1
    month = np.where(shifted < 10, shifted + 3, shifted - 9)
    return year_of_era + era * 400 + (month <= 2), month, day


def _date(parts: _Parts, days: np.ndarray, quote_bc: bool = False) -> np.ndarray:
    """``YYYY-MM-DD`` of days since 2000-01-01 (more digits for a year past 9999),
    after a double quote where BC if ``quote_bc``; which are BC (written as year
    1 - y, then `` BC``)."""
    year, month, day = _civil(days + _EPOCH_DAYS)
    bc = year <= 0
    if quote_bc:
        parts.add(b'"', length=bc)
    shown = np.where(bc, 1 - year, year)
    if shown.max(initial=0) < 10**4:
        parts.add(_digits(shown, 4))
    else:  # the server's years have 7 digits at most
        width = 4 + (shown >= 10**4) + (shown >= 10**5) + (shown >= 10**6)
        parts.add(_digits(shown, 7), 7 - width, width)
    parts.add(b"-")
    parts.add(_PAIRS[month])
    parts.add(b"-")
    parts.add(_PAIRS[day])
    return bc


_DAY_MICROS = 86_400_000_000
_EPOCH_DAYS = 10_957  # from 1970-01-01 to the server's epoch, 2000-01-01


def _clock(parts: _Parts, micros: np.ndarray) -> None:
    """``HH:MM:SS`` of microseconds into a day, then the fraction's digits without
    trailing zeros (``10:00:00.5``)."""
    seconds, fraction = np.divmod(micros, 1_000_000)
    minutes, second = np.divmod(seconds, 60)
    hour, minute = np.divmod(minutes, 60)
    parts.add(_PAIRS[hour])
    parts.add(b":")
    parts.add(_PAIRS[minute])
    parts.add(b":")
    parts.add(_PAIRS[second])
    if fraction.any():
        digits = _digits(fraction, 6)
        zeros = np.cumprod(digits[:, ::-1] == ord("0"), axis=1).sum(axis=1)
        parts.add(b".", length=fraction != 0)
        parts.add(digits, length=6 - zeros)


def _finished(text: pa.Array, valid: np.ndarray, plus: np.ndarray, minus: np.ndarray) -> pa.Array:
    """``infinity`` and ``-infinity`` where they are, NULL where ``valid`` is not."""
    if plus.any() or minus.any():
        words = np.where(plus, "infinity", np.where(minus, "-infinity", ""))
        text = pc.if_else(pa.array(plus | minus), pa.array(words, pa.string()), text)
    if not valid.all():
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))
    return text


def dates(
    days: np.ndarray, valid: np.ndarray, plus: np.ndarray, minus: np.ndarray, bound: bool = False
) -> pa.Array:
    """``date_out``: days since 2000-01-01 (the server's count) as ``2024-01-31``
    (``0044-03-15 BC``); ``plus``/``minus`` where the date is ``infinity``/``-infinity``.
    As a range's ``bound``: in double quotes where it holds a space (BC)."""
    parts = _Parts(len(days))
    bc = _date(parts, np.where(plus | minus, 0, days).astype(np.int64), quote_bc=bound)
    parts.add(b" BC", length=bc * 3)
    if bound:
        parts.add(b'"', length=bc)
    return _finished(parts.strings(), valid, plus, minus)


def timestamps(
    micros: np.ndarray,
    valid: np.ndarray,
    plus: np.ndarray,
    minus: np.ndarray,
    zone: bytes = b"",
    bound: bool = False,
) -> pa.Array:
    """``timestamp_out``: microseconds since 2000-01-01 (the server's count, which
    near its largest value a count from 1970 would overflow) as ``2024-01-31
    10:00:00.5``, ``zone`` (``+00``) after the time and `` BC`` last, as the server
    writes them. As a range's ``bound``: in double quotes (it holds a space)."""
    parts = _Parts(len(micros))
    finite = np.where(plus | minus, 0, micros).astype(np.int64)
    days = finite // _DAY_MICROS
    if bound:
        parts.add(b'"')
    bc = _date(parts, days)
    parts.add(b" ")
    _clock(parts, finite - days * _DAY_MICROS)
    if zone:
        parts.add(zone)
    if bc.any():
        parts.add(b" BC", length=bc * 3)
    if bound:
        parts.add(b'"')
    return _finished(parts.strings(), valid, plus, minus)


# What makes ``range_out`` quote a bound (``range_bound_escape``): C's isspace (ASCII
# only in the server's UTF-8), a quote, a backslash, a bracket or a comma.
_SPECIAL = r'["\\()\[\],\t\n\v\f\r ]'


def quoted(text: pa.Array) -> pa.Array:
    """Each text as a range writes a bound: in double quotes, its quotes and
    backslashes doubled, when it is empty or holds a special character; as it is
    otherwise. NULLs stay NULL (the caller writes them)."""
    needs = pc.or_(pc.match_substring_regex(text, _SPECIAL), pc.equal(pc.binary_length(text), 0))
    if not pc.any(needs).as_py():
        return text
    if pc.any(pc.match_substring_regex(text, r'["\\]')).as_py():
        text = pc.replace_substring_regex(text, r'(["\\])', r"\1\1")
    return pc.if_else(needs, pc.binary_join_element_wise('"', text, '"', ""), text)


def nulled(text: pa.Array, original: pa.Array) -> pa.Array:
    """``text``, NULL wherever ``original`` is."""
    if not original.null_count:
        return text
    return pc.if_else(original.is_valid(), text, pa.scalar(None, pa.string()))
