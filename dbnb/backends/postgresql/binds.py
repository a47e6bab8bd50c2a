"""How PostgreSQL's drivers take bound values: psycopg's on the guarded path
(``dbnb.sql.binds.BindRules``), ADBC's positional ``$n`` on the columnar one
(``dbnb.sql.params.PositionalRules``), each value typed as psycopg binds it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa

from dbnb.sql.binds import PLAIN, BindRules, Refused, a_value, each
from dbnb.sql.params import PositionalRules

# What psycopg adapts without a look at its adapters.
_ADAPTED = PLAIN | {Decimal, datetime, date, time, timedelta, UUID}


def for_psycopg(value: Any) -> Any:
    """The value as it is; refused if psycopg has no adapter for it (psycopg.adapters)."""
    if type(value) in _ADAPTED:
        return value
    if isinstance(value, list):
        each(for_psycopg, value)
        return value
    import psycopg
    from psycopg.adapt import PyFormat

    try:
        psycopg.adapters.get_dumper(type(value), PyFormat.AUTO)
    except psycopg.ProgrammingError:
        raise Refused(
            f"{a_value(value)} value; psycopg has no adapter for it (a dict or list as JSON: "
            "psycopg.types.json.Jsonb(value))"
        ) from None
    return value


# A list is an array (`= ANY(:ids)`); an empty one after IN, an array the server types.
BIND_RULES = BindRules(for_driver=for_psycopg, arrays=True)

POSITIONAL_RULES = PositionalRules(
    mark="$",
    queries=frozenset({"SELECT", "WITH", "VALUES", "TABLE"}),
    # psycopg binds the smallest integer type that holds the value; so does ADBC's batch.
    ints=((pa.int16(), 2**15), (pa.int32(), 2**31), (pa.int64(), 2**63)),
    bools=pa.bool_(),
)
