"""PostgreSQL's type rules on the guarded path: a result's columns as psycopg
describes them (type OIDs, numeric precision and scale), which are exact: the
database keeps int2/int4/int8 apart where a ``select()``'s types might not.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from psycopg import pq
from sqlalchemy.engine import CursorResult

from dbnb.read.dtypes import OBJECT, PG_TYPES, decimal

_TEXT = pq.Format.TEXT  # the format of the guarded path's results


def result_kinds(result: CursorResult[Any], count: int) -> list[pa.DataType | None]:
    """The exact type of each column where dbnb's table names it; None elsewhere."""
    return [kind for kind, _ in _described(result, count)]


def declared_kinds(result: CursorResult[Any], count: int) -> list[pa.DataType | None]:
    """Text for a type psycopg has no loader of its own for (an enum, money, bit,
    point, a type of an extension): it gives their text, so an empty result is text
    too. Only where a ``select()`` says nothing: SQLAlchemy's ``Enum`` of a Python
    enum class makes its members of the same text."""
    return [text for _, text in _described(result, count)]


def _described(
    result: CursorResult[Any], count: int
) -> list[tuple[pa.DataType | None, pa.DataType | None]]:
    """Each column's exact kind, and its kind as text where psycopg reads it as text."""
    description = getattr(result.cursor, "description", None) or []
    # SQLAlchemy's async adapter keeps psycopg's cursor as `_cursor` (dbnb.aio).
    cursor = getattr(result.cursor, "_cursor", result.cursor)
    connection = getattr(cursor, "connection", None)
    adapters = getattr(connection, "adapters", None)
    if adapters is None or len(description) != count:  # not psycopg: nothing to learn
        return [(None, None)] * count
    kinds: list[tuple[pa.DataType | None, pa.DataType | None]] = []
    for column in description:
        info = adapters.types.get(column.type_code)
        name = info.name if info is not None else None
        if info is not None and getattr(info, "array_oid", None) == column.type_code:
            # psycopg finds an array's OID under its element type: int4[] is not int4.
            kinds.append((OBJECT, None))
        elif name == "numeric":
            kinds.append((decimal(column.precision, column.scale), None))
        elif name is not None and name in PG_TYPES:
            kinds.append((PG_TYPES[name], None))
        elif name is not None and name.startswith("_"):
            kinds.append((OBJECT, None))
        elif adapters.get_loader(column.type_code, _TEXT) is None:
            kinds.append((None, pa.string()))
        else:
            kinds.append((None, None))
    return kinds
