"""SQL text for the columnar path: one read statement, its ``:name`` binds made positional.

ADBC's drivers take positional parameters (``$1`` on PostgreSQL, ``?1`` on
SQLite), and PyMySQL renders ``%s`` ones (MariaDB's columnar path), while dbnb's
SQL text uses ``:name``. ``to_positional`` rewrites the
binds and nothing else, and only when it can prove the text is what the
guarded path would run. It reads the statement ``dbnb.sql.sqltext`` parsed for
the guarded path (its tokens: the text is scanned once), so both find the same
binds in the same places (none inside a literal, a quoted identifier, a
comment or a dollar-quoted body), and it asks for:

- one statement (``sqlscan.statements``: a trailing ``;`` and trailing comments
  are dropped, because ADBC's PostgreSQL driver wraps the query in
  ``COPY (...) TO STDOUT``);
- that starts with a query keyword (``PositionalRules.queries``: ``SELECT``,
  ``WITH``, ``VALUES``, ``TABLE``), so transaction control and ``SET`` never
  reach an ADBC connection;
- no positional placeholder of its own (``$1``, ``?``) that would clash, no
  quote or comment left open, no ``\\:`` (SQLAlchemy's escaped colon);
- no bind right after ``IN`` without parentheses (``x IN :ids``): only the
  guarded path's expansion makes that SQL.

Anything else returns ``None`` and the caller takes the guarded SQLAlchemy path.
Values are never spliced: the result is text plus the order of the names, and
``bind_batch`` puts the values in an Arrow batch in that order, each typed as
the guarded path's driver would bind it (``PositionalRules``, from the
database's home); a list (``IN (:ids)``, ``=
ANY(:ids)``) is left to the guarded path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from dbnb.sql import sqlscan
from dbnb.sql.sqltext import Statement

_REFUSED = {"unterminated", "placeholder", "escape"}


# Compared by identity: each is one database's, made once in its home.
@dataclass(frozen=True, eq=False)
class PositionalRules:
    """How one database's columnar driver takes binds: its positional marks, what it
    may be sent, and the Arrow type of each value (as the guarded driver binds it)."""

    # ``$``: $1, $2 (PostgreSQL); ``?``: ?1, ?2 (SQLite); ``%s``: PyMySQL's, one per
    # appearance of a name, every other % doubled.
    mark: Literal["$", "?", "%s"]
    # The first keywords of a statement that may be sent: queries alone.
    queries: frozenset[str] = frozenset({"SELECT", "WITH", "VALUES"})
    # An int's type: the first that holds it (psycopg binds the smallest).
    ints: tuple[tuple[pa.DataType, int], ...] = field(default=((pa.int64(), 2**63),))
    bools: pa.DataType = field(default=pa.int64())


@dataclass(frozen=True)
class Positional:
    """A statement with positional binds: ``names[i]`` is bound at position ``i + 1``."""

    sql: str
    names: tuple[str, ...]


class Unbindable(Exception):
    """A value the driver would bind differently from the guarded path, or none at all."""


def to_positional(statement: Statement, rules: PositionalRules) -> Positional | None:
    """``statement`` with ``:name`` binds as ``$n``/``?n``/``%s``, or None if it is not one
    plain query; read once per statement and rules (``Statement.derived``)."""
    return statement.derived(rules, lambda parsed: _to_positional(parsed, rules))


def _to_positional(statement: Statement, rules: PositionalRules) -> Positional | None:
    sql, found = statement.sql, statement.tokens
    if any(token.kind in _REFUSED for token in found):
        return None
    spans = sqlscan.statements(sql, found)
    if len(spans) != 1:
        return None
    start, end = spans[0]
    inside = [token for token in found if start <= token.start < end]
    words = sqlscan.keywords(sql, inside, start, count=1)
    if not words or words[0] not in rules.queries:
        return None
    stop = sqlscan.code_end(sql, inside, start, end)
    binds = [index for index, token in enumerate(inside) if token.kind == "bind"]
    if any(sqlscan.after_in(sql, inside, index) is True for index in binds):
        return None  # `x IN :ids`: the guarded path expands it
    if rules.mark == "%s":
        return _pyformat(sql, [inside[index] for index in binds], start, stop)
    names: dict[str, int] = {}
    pieces: list[str] = []
    cursor = start
    for index in binds:
        token = inside[index]
        number = names.setdefault(sql[token.start + 1 : token.end], len(names) + 1)
        pieces += [sql[cursor : token.start], f"{rules.mark}{number}"]
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


# --- values -----------------------------------------------------------------------------


def bind_batch(
    statement: Positional, params: Mapping[str, Any], rules: PositionalRules
) -> pa.RecordBatch | None:
    """The values of ``params`` as one Arrow row in position order; None if a value
    is missing or of a type the driver would bind differently from the guarded path's."""
    if not statement.names:
        return None
    arrays = []
    for name in statement.names:
        if name not in params:
            raise Unbindable(f"no value for :{name}")  # the guarded path names it
        arrays.append(_bind_array(params[name], rules))
    return pa.RecordBatch.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])


def _bind_array(value: Any, rules: PositionalRules) -> pa.Array:
    kind = type(value)
    if kind is bool:
        return pa.array([value], rules.bools)
    if kind is int:
        for arrow_type, bound in rules.ints:
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
