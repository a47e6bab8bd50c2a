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


def _text(numbers: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal text, zero-padded to ``width`` digits."""
    text = pa.array(numbers).cast(pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def _joined(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _chosen(condition: np.ndarray, yes: str | pa.Array, no: str | pa.Array) -> pa.Array:
    return pc.if_else(pa.array(condition, pa.bool_()), yes, no)


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


def _date_part(days: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """``YYYY-MM-DD`` of each day, and whether it is BC (written as year 1 - y)."""
    year, month, day = _civil(days)
    bc = year <= 0
    shown = np.where(bc, 1 - year, year)
    date = pc.binary_join_element_wise(_text(shown, 4), _text(month, 2), _text(day, 2), "-")
    return date, bc


_DAY_MICROS = 86_400_000_000
_EPOCH_DAYS = 10_957  # from 1970-01-01 to the server's epoch, 2000-01-01


def _clock(micros: np.ndarray) -> pa.Array:
    """``HH:MM:SS`` of microseconds into a day, then the fraction's digits without
    trailing zeros (``time_out``: ``10:00:00.5``)."""
    seconds, fraction = np.divmod(micros, 1_000_000)
    minutes, second = np.divmod(seconds, 60)
    hour, minute = np.divmod(minutes, 60)
    whole = pc.binary_join_element_wise(_text(hour, 2), _text(minute, 2), _text(second, 2), ":")
    digits = pc.utf8_rtrim(_text(fraction, 6), "0")
    return _joined(whole, _chosen(fraction != 0, _joined(".", digits), ""))


def dates(days: np.ndarray, valid: np.ndarray, plus: np.ndarray, minus: np.ndarray) -> pa.Array:
    """``date_out``: days since 2000-01-01 (the server's count) as ``2024-01-31``
    (``0044-03-15 BC``); ``plus``/``minus`` where the date is ``infinity``/``-infinity``."""
    finite = np.where(plus | minus, 0, days).astype(np.int64) + _EPOCH_DAYS
    date, bc = _date_part(finite)
    text = _joined(date, _chosen(bc, " BC", ""))
    return _finished(text, valid, plus, minus)


def timestamps(
    micros: np.ndarray, valid: np.ndarray, plus: np.ndarray, minus: np.ndarray, zone: str = ""
) -> pa.Array:
    """``timestamp_out``: microseconds since 2000-01-01 (the server's count, which
    near its largest value a count from 1970 would overflow) as ``2024-01-31
    10:00:00.5``, ``zone`` (``+00``) after the time and `` BC`` last, as the server
    writes them."""
    finite = np.where(plus | minus, 0, micros).astype(np.int64)
    days = finite // _DAY_MICROS
    date, bc = _date_part(days + _EPOCH_DAYS)
    text = _joined(date, " ", _clock(finite - days * _DAY_MICROS), zone, _chosen(bc, " BC", ""))
    return _finished(text, valid, plus, minus)


def _finished(text: pa.Array, valid: np.ndarray, plus: np.ndarray, minus: np.ndarray) -> pa.Array:
    if plus.any() or minus.any():
        text = _chosen(plus, "infinity", _chosen(minus, "-infinity", text))
    if not valid.all():
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))
    return text


# What makes ``range_out`` quote a bound (``range_bound_escape``): C's isspace (ASCII
# only in the server's UTF-8), a quote, a backslash, a bracket or a comma.
_SPECIAL = r'["\\()\[\],\t\n\v\f\r ]'


def quoted(text: pa.Array) -> pa.Array:
    """Each text as a range writes a bound: in double quotes, its quotes and
    backslashes doubled, when it is empty or holds a special character; as it is
    otherwise. NULLs stay NULL (the caller writes them)."""
    needs = pc.or_(pc.match_substring_regex(text, _SPECIAL), pc.equal(pc.binary_length(text), 0))
    escaped = pc.replace_substring_regex(text, r'(["\\])', r"\1\1")
    return pc.if_else(needs, _joined('"', escaped, '"'), text)


def nulled(text: pa.Array, original: pa.Array) -> pa.Array:
    """``text``, NULL wherever ``original`` is."""
    if not original.null_count:
        return text
    return pc.if_else(original.is_valid(), text, pa.scalar(None, pa.string()))
