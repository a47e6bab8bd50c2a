"""How SQLite's drivers take bound values: sqlite3's on the guarded path, as
SQLAlchemy's SQLite types store them (``dbnb.sql.binds.BindRules``), and ADBC's
positional ``?n`` on the columnar one (``dbnb.sql.params.PositionalRules``)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from dbnb.sql.binds import PLAIN, BindRules, Refused, a_value, each
from dbnb.sql.params import PositionalRules

_EPOCH = datetime(1970, 1, 1)
_INT64 = 2**63


def for_sqlite(value: Any) -> Any:
    """The value as SQLAlchemy's SQLite types store it (sqlalchemy.dialects.sqlite)."""
    kind = type(value)
    if kind is int or isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise Refused("an int value beyond 64 bits; SQLite's integers have 64 (bind a str)")
        return value
    if kind in PLAIN or isinstance(value, float | str | bytes | bytearray | memoryview):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # db.write stores aware datetimes in UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        return _sqlite_datetime(value)
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    if isinstance(value, timedelta):
        try:
            return _sqlite_datetime(_EPOCH + value)
        except OverflowError:
            raise Refused("a timedelta value too large for SQLite's Interval form") from None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, list):
        return each(for_sqlite, value)
    if (kind, sqlite3.PrepareProtocol) in sqlite3.adapters or hasattr(value, "__conform__"):
        return value  # an adapter registered with sqlite3
    raise Refused(
        f"{a_value(value)} value; SQLite takes numbers, text, bytes, dates and times, Decimal, "
        "UUID, None, and lists after IN"
    )


def _sqlite_datetime(value: datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


# No arrays: a list binds only after IN.
BIND_RULES = BindRules(for_driver=for_sqlite, lists_only_after_in="SQLite")

# A bool as 0 or 1, every int as 64 bits: as sqlite3 binds them.
POSITIONAL_RULES = PositionalRules(mark="?")
