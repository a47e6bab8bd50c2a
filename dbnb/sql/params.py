"""SQL text for the columnar path: one read statement, its ``:name`` binds made positional.

ADBC's drivers take positional parameters (``$1`` on PostgreSQL, ``?1`` on
SQLite), and PyMySQL renders ``%s`` ones (MariaDB's columnar path), while dbnb's
SQL text uses ``:name``. ``to_positional`` rewrites the
binds and nothing else, and only when it can prove the text is what the
guarded path would run. It reads the text with ``dbnb.sqlscan``, as the
guarded path's ``dbnb.sqltext`` does, so both find the same binds in the same
places (none inside a literal, a quoted identifier, a comment or a
dollar-quoted body), and it asks for:

- one statement (``sqlscan.statements``: a trailing ``;`` and trailing comments
  are dropped, because ADBC's PostgreSQL driver wraps the query in
  ``COPY (...) TO STDOUT``);
- that starts with a query keyword (``SELECT``, ``WITH``, ``VALUES``,
  ``TABLE``), so transaction control and ``SET`` never reach an ADBC connection;
- no positional placeholder of its own (``$1``, ``?``) that would clash, no
  quote or comment left open, no ``\\:`` (SQLAlchemy's escaped colon);
- no bind right after ``IN`` without parentheses (``x IN :ids``): only the
  guarded path's expansion makes that SQL.

Anything else returns ``None`` and the caller takes the guarded SQLAlchemy path.
Values are never spliced: the result is text plus the order of the names, and
``bind_batch`` puts the values in an Arrow batch in that order, each typed as
psycopg (PostgreSQL) or sqlite3 would bind it; a list (``IN (:ids)``, ``=
ANY(:ids)``) is left to the guarded path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import pyarrow as pa

from dbnb.sql import sqlscan

Dialect = Literal["postgresql", "sqlite", "mysql"]

_INT_RANGES = ((pa.int16(), 2**15), (pa.int32(), 2**31), (pa.int64(), 2**63))
_QUERY_KEYWORDS = {
    "postgresql": {"SELECT", "WITH", "VALUES", "TABLE"},
    "sqlite": {"SELECT", "WITH", "VALUES"},
    "mysql": {"SELECT", "WITH", "VALUES"},
}
_REFUSED = {"unterminated", "placeholder", "escape"}


@dataclass(frozen=True)
class Positional:
    """A statement with positional binds: ``names[i]`` is bound at position ``i + 1``."""

    sql: str
    names: tuple[str, ...]


class Unbindable(Exception):
    """A value the driver would bind differently from the guarded path, or none at all."""


def to_positional(sql: str, dialect: Dialect) -> Positional | None:
    """``sql`` with ``:name`` binds as ``$n``/``?n``/``%s``, or None if it is not one plain
    query.
    Recent texts are remembered, as ``sqlscan.scan`` does."""
    if len(sql) > sqlscan.CACHED_LENGTH:
        return _to_positional(sql, dialect)
    return _cached(sql, dialect)


def _to_positional(sql: str, dialect: Dialect) -> Positional | None:
    found = sqlscan.scan(sql, dialect)
    if any(token.kind in _REFUSED for token in found):
        return None
    spans = sqlscan.statements(sql, found)
    if len(spans) != 1:
        return None
    start, end = spans[0]
    inside = [token for token in found if start <= token.start < end]
    words = sqlscan.keywords(sql, inside, start, count=1)
    if not words or words[0] not in _QUERY_KEYWORDS[dialect]:
        return None
    stop = sqlscan.code_end(sql, inside, start, end)
    binds = [index for index, token in enumerate(inside) if token.kind == "bind"]
    if any(sqlscan.after_in(sql, inside, index) is True for index in binds):
        return None  # `x IN :ids`: the guarded path expands it
    if dialect == "mysql":
        return _pyformat(sql, [inside[index] for index in binds], start, stop)
    names: dict[str, int] = {}
    pieces: list[str] = []
    cursor = start
    mark = "$" if dialect == "postgresql" else "?"
    for index in binds:
        token = inside[index]
        number = names.setdefault(sql[token.start + 1 : token.end], len(names) + 1)
        pieces += [sql[cursor : token.start], f"{mark}{number}"]
        cursor = token.end
    pieces.append(sql[cursor:stop])
    return Positional("".join(pieces), tuple(names))


def _pyformat(sql: str, binds: list[sqlscan.Token], start: int, stop: int) -> Positional:
    """PyMySQL's binds: ``%s`` in order of appearance, a name as often as it appears;
    every other ``%`` doubled once there is a bind (PyMySQL renders the values into
    the text with ``%``, as it does on the guarded path)."""
    if not binds:
        return Positional(sql[start:stop], ())
    pieces: list[str] = []
    names: list[str] = []
    cursor = start
    for token in binds:
        pieces += [sql[cursor : token.start].replace("%", "%%"), "%s"]
        names.append(sql[token.start + 1 : token.end])
        cursor = token.end
    pieces.append(sql[cursor:stop].replace("%", "%%"))
    return Positional("".join(pieces), tuple(names))


_cached = lru_cache(maxsize=256)(_to_positional)


# --- values -----------------------------------------------------------------------------


def bind_batch(
    statement: Positional, params: Mapping[str, Any], dialect: Dialect
) -> pa.RecordBatch | None:
    """The values of ``params`` as one Arrow row in position order; None if a value
    is missing or of a type the driver would bind differently from psycopg/sqlite3."""
    if not statement.names:
        return None
    arrays = []
    for name in statement.names:
        if name not in params:
            raise Unbindable(f"no value for :{name}")  # the guarded path names it
        arrays.append(_bind_array(params[name], dialect))
    return pa.RecordBatch.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])


def _bind_array(value: Any, dialect: Dialect) -> pa.Array:
    kind = type(value)
    if kind is bool:
        return pa.array([value], pa.bool_() if dialect == "postgresql" else pa.int64())
    if kind is int:
        # psycopg binds the smallest integer type that holds the value; so does this.
        ranges = _INT_RANGES if dialect == "postgresql" else _INT_RANGES[2:]
        for arrow_type, bound in ranges:
            if -bound <= value < bound:
                return pa.array([value], arrow_type)
        raise Unbindable("an integer beyond 64 bits")
    if kind is float:
        return pa.array([value], pa.float64())
    if kind is str:
        if "\x00" in value:
            raise Unbindable("a NUL character in text")  # psycopg says why, before sending
        return pa.array([value], pa.string())
    if kind is bytes:
        return pa.array([value], pa.binary())
    if kind is list:
        raise Unbindable("a list: the guarded path expands it after IN, or binds an array")
    raise Unbindable(f"a {kind.__name__} parameter")
