"""How MariaDB's and MySQL's drivers take bound values: PyMySQL's, on the guarded
path (``dbnb.sql.binds.BindRules``) and on the columnar one, whose text PyMySQL
renders with ``%s`` (``dbnb.sql.params.PositionalRules``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from dbnb.sql.binds import BindRules, Refused, a_value, each
from dbnb.sql.params import PositionalRules

# What PyMySQL escapes as itself (pymysql.converters.encoders).
_ESCAPED = (bool, int, float, str, bytes, bytearray, Decimal, datetime, date, time, timedelta)


def for_pymysql(value: Any) -> Any:
    """The value as PyMySQL escapes it; an aware datetime at its UTC time, the time zone
    of dbnb's sessions (PyMySQL would drop the offset). PyMySQL would send any other
    object as its str(): refused instead."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, list):
        return each(for_pymysql, value)
    if isinstance(value, UUID):
        return str(value)
    if value is None or isinstance(value, _ESCAPED):
        return value
    raise Refused(
        f"{a_value(value)} value; PyMySQL takes numbers, text, bytes, dates and times, Decimal, "
        "UUID, None, and lists after IN"
    )


# No arrays: a list binds only after IN.
BIND_RULES = BindRules(for_driver=for_pymysql, lists_only_after_in="MySQL")

POSITIONAL_RULES = PositionalRules(mark="%s")
