"""SQL text for the columnar path: one read statement, its ``:name`` binds made positional.

ADBC's drivers take positional parameters (``$1`` on PostgreSQL, ``?1`` on
SQLite), while dbnb's SQL text uses ``:name``. ``to_positional`` rewrites the
binds and nothing else, and only when it can prove the text is what the
guarded path would run:

- exactly the binds SQLAlchemy's ``text()`` finds, none of them inside a
  string literal, a quoted identifier, a comment or a dollar-quoted body (where
  ``text()`` would still see one, the guarded path keeps the statement so both
  paths behave the same);
- one statement (a trailing ``;`` and trailing comments are dropped, because
  ADBC's PostgreSQL driver wraps the query in ``COPY (...) TO STDOUT``);
- that starts with a query keyword (``SELECT``, ``WITH``, ``VALUES``,
  ``TABLE``), so transaction control and ``SET`` never reach an ADBC connection;
- no positional placeholder of its own (``$1``, ``?``) that would clash.

Anything else returns ``None`` and the caller takes the guarded SQLAlchemy path.
Values are never spliced: the result is text plus the order of the names, and
``bind_batch`` puts the values in an Arrow batch in that order, each typed as
psycopg (PostgreSQL) or sqlite3 would bind it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

Dialect = Literal["postgresql", "sqlite"]

# The pattern SQLAlchemy's text() uses for binds (sqlalchemy.sql.elements.TextClause).
_SQLALCHEMY_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)", re.UNICODE)
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\x80-\uffff][\w\x80-\uffff]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
_NAME = re.compile(r"[A-Za-z_]\w*\Z")
_BIND_BEFORE_CAST = re.compile(r"(?<![:\w\\]):[A-Za-z_]\w*::")
_INT_RANGES = ((pa.int16(), 2**15), (pa.int32(), 2**31), (pa.int64(), 2**63))
_QUERY_KEYWORDS = {
    "postgresql": {"select", "with", "values", "table"},
    "sqlite": {"select", "with", "values"},
}


@dataclass(frozen=True)
class Positional:
    """A statement with positional binds: ``names[i]`` is bound at position ``i + 1``."""

    sql: str
    names: tuple[str, ...]


class Unbindable(Exception):
    """A value the driver would bind differently from the guarded path, or none at all."""


class _Unproven(Exception):
    """The text is outside what the scanner can vouch for."""


def to_positional(sql: str, dialect: Dialect) -> Positional | None:
    """``sql`` with ``:name`` binds as ``$n``/``?n``, or None if it is not one plain query."""
    try:
        code, first_token, end = _code_spans(sql, dialect)
    except _Unproven:
        return None
    first = _WORD.match(sql, first_token)
    if first is None or first.group().lower() not in _QUERY_KEYWORDS[dialect]:
        return None
    binds = list(_SQLALCHEMY_BIND.finditer(sql))
    if any(not _inside(match.start(), code) for match in binds) or "\\:" in sql:
        return None  # a bind-like colon inside a literal or comment: keep the guarded path
    if any(not _NAME.match(match.group(1)) for match in binds) or _BIND_BEFORE_CAST.search(sql):
        return None  # `:1x`, `:é`, `:n::int`: dbnb.sqltext (the guarded path) reads these apart
    names: list[str] = []
    pieces: list[str] = []
    cursor = 0
    mark = "$" if dialect == "postgresql" else "?"
    for match in binds:
        name = match.group(1)
        if name not in names:
            names.append(name)
        pieces.append(sql[cursor : match.start()])
        pieces.append(f"{mark}{names.index(name) + 1}")
        cursor = match.end()
    pieces.append(sql[cursor:end])
    return Positional("".join(pieces), tuple(names))


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < stop for start, stop in spans)


def _code_spans(sql: str, dialect: Dialect) -> tuple[list[tuple[int, int]], int, int]:
    """The spans of ``sql`` that are SQL code (not literal, identifier or comment), where
    its first token starts, and where the one statement ends (before a trailing ``;`` or
    comment). Raises ``_Unproven`` for what it cannot vouch for."""
    spans: list[tuple[int, int]] = []
    index, start, length = 0, 0, len(sql)
    end: int | None = None  # set at the first top-level ';'
    last_code = 0  # just past the last character of code, literal or identifier
    first_token: int | None = None

    def close(stop: int) -> None:
        if stop > start:
            spans.append((start, stop))

    while index < length:
        char = sql[index]
        if end is not None and not char.isspace() and not sql.startswith(("--", "/*"), index):
            raise _Unproven("a second statement")
        comment = sql.startswith(("--", "/*"), index)
        quote = char in "'\"" or (dialect == "sqlite" and char in "`[")
        if comment or quote or _dollar_quote(sql, index):
            close(index)
            if not comment and first_token is None:
                first_token = index
            index = _skip_quoted(sql, index, dialect)
            start = index
            if end is None and not comment:
                last_code = index
            continue
        if char == ";":
            close(index)
            if end is None:
                end = last_code
            index += 1
            start = index
            continue
        if char == "$" or (char in "?@" and dialect == "sqlite"):
            raise _Unproven("a placeholder of the text's own")
        if end is None and not char.isspace():
            last_code = index + 1
            if first_token is None and char != "(":
                first_token = index
        index += 1
    close(length)
    first = length if first_token is None else first_token
    return spans, first, end if end is not None else last_code


def _dollar_quote(sql: str, index: int) -> bool:
    if sql[index] != "$" or (index > 0 and (sql[index - 1].isalnum() or sql[index - 1] == "_")):
        return False
    return _DOLLAR_TAG.match(sql, index) is not None


def _skip_quoted(sql: str, index: int, dialect: Dialect) -> int:
    """The index just past the literal, identifier or comment that starts at ``index``."""
    if sql.startswith("--", index):
        newline = sql.find("\n", index)
        return len(sql) if newline < 0 else newline + 1
    if sql.startswith("/*", index):
        return _skip_block_comment(sql, index, nested=dialect == "postgresql")
    char = sql[index]
    if char == "$":
        tag = _DOLLAR_TAG.match(sql, index)
        assert tag is not None
        stop = sql.find(tag.group(), tag.end())
        if stop < 0:
            raise _Unproven("an unterminated dollar quote")
        return stop + len(tag.group())
    closing = "]" if char == "[" else char
    backslashes = char == "'" and dialect == "postgresql" and _escape_string(sql, index)
    position = index + 1
    while True:
        stop = sql.find(closing, position)
        if stop < 0:
            raise _Unproven("an unterminated quote")
        if backslashes and _escaped(sql, position, stop):
            position = stop + 1
            continue
        if closing != "]" and sql.startswith(closing * 2, stop):
            position = stop + 2  # a doubled quote is the quote character itself
            continue
        return stop + 1


def _escape_string(sql: str, index: int) -> bool:
    """A PostgreSQL E'...' string, where a backslash escapes the next character."""
    if index == 0 or sql[index - 1] not in "eE":
        return False
    return index < 2 or not (sql[index - 2].isalnum() or sql[index - 2] == "_")


def _escaped(sql: str, start: int, quote: int) -> bool:
    count = 0
    position = quote - 1
    while position >= start and sql[position] == "\\":
        count += 1
        position -= 1
    return count % 2 == 1


def _skip_block_comment(sql: str, index: int, *, nested: bool) -> int:
    """PostgreSQL block comments nest; SQLite's end at the first ``*/``."""
    depth, position = 1, index + 2
    while depth:
        closing = sql.find("*/", position)
        if closing < 0:
            raise _Unproven("an unterminated comment")
        opening = sql.find("/*", position) if nested else -1
        if 0 <= opening < closing:
            depth, position = depth + 1, opening + 2
        else:
            depth, position = depth - 1, closing + 2
    return position


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
    raise Unbindable(f"a {kind.__name__} parameter")
