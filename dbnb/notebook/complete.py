"""Completion while typing in ``%db`` lines and ``%%db`` cells, without IPython.

The notebook front end (``dbnb.notebook.magics``) hands this module the text of the line
or cell and the cursor's offset; it answers with the word being typed and what
may replace it: subcommands, connection names, tables (with their schema),
columns, ``:variables``. What it knows of a database comes from a
``SchemaCache``: each connection's tables and columns, read once in a
background thread, so a slow or unreachable server never holds up typing (the
first request waits at most ``SchemaCache.wait`` seconds, then answers with
what it has; the read goes on and serves the next request).

SQL is read with dbnb's own scanner (``dbnb.sql.sqlscan``), so nothing is
offered inside a literal or a comment, and the statement around the cursor is
the one a cell would run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dbnb.backends.registry import backend_for
from dbnb.notebook.schema_cache import Schema as Schema
from dbnb.notebook.schema_cache import SchemaCache as SchemaCache
from dbnb.notebook.schema_cache import changes_schema as changes_schema
from dbnb.notebook.schema_cache import read_schema as read_schema
from dbnb.sql import sqlscan

# Words after which SQL names a table (and `%db` subcommands that take one).
TABLE_KEYWORDS = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE"})
TABLE_SUBCOMMANDS = {"describe": 1, "profile": 1, "plot": 2}  # word position of the table
PLOT_KINDS = ("hist", "bar", "box")
FORMATS = ("pandas", "polars", "arrow")
# Options of the magic that take a value (skipped when finding the connection).
VALUE_OPTIONS = frozenset({"-o", "--out", "--as", "--csv", "--parquet", "--bins"})
# Words that end a FROM item, so they are never taken for its alias.
_CLAUSE_WORDS = frozenset(
    [
        "WHERE",
        "GROUP",
        "ORDER",
        "HAVING",
        "LIMIT",
        "OFFSET",
        "JOIN",
        "INNER",
        "LEFT",
        "RIGHT",
        "FULL",
        "CROSS",
        "OUTER",
        "NATURAL",
        "ON",
        "USING",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "WINDOW",
        "SET",
        "VALUES",
        "RETURNING",
        "AS",
        "LATERAL",
        "FETCH",
        "FOR",
    ]
)
# --- what to offer ------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """What completion may offer, as the front end knows it."""

    connections: Sequence[str]
    subcommands: Sequence[str]
    current: str | None  # the connection a %db line runs on (None: the default)
    schema: Callable[[str | None], Schema | None]  # by connection name
    dialect: Callable[[str | None], str]
    variables: Callable[[], Iterable[str]]  # names `:name` may bind
    frames: Callable[[], Iterable[str]] = lambda: ()  # DataFrame variables (`%db write DF`)


@dataclass(frozen=True)
class Completions:
    """The word before the cursor (``fragment``) and what may replace it: (text, kind)."""

    fragment: str
    items: list[tuple[str, str]]


_NOT_CODE = frozenset({"comment", "string", "identifier", "unterminated"})
_IDENT_END = re.compile(r"\w*\Z")
_CELL = re.compile(r"\s*%%db(?=\s|\Z)")
_LINE = re.compile(r"(?:\A|(?<=[\s=(]))%db(?=\s|\Z)")


def complete(text: str, cursor: int, sources: Sources) -> Completions | None:
    """What to offer at ``cursor`` in ``text`` (a line or a whole cell); None when the
    cursor is in no ``%db`` line or ``%%db`` cell."""
    cell = _CELL.match(text)
    if cell is not None:
        header_end = text.find("\n")
        header_end = len(text) if header_end < 0 else header_end
        if cursor <= header_end:
            return _header(text[cell.end() : cursor], sources)
        name = _connection_of(text[cell.end() : header_end].split())
        body = text[header_end + 1 :]
        return _sql(body, cursor - header_end - 1, name, sources)
    start = text.rfind("\n", 0, cursor) + 1
    end = text.find("\n", cursor)
    line = text[start : len(text) if end < 0 else end]
    found = list(_LINE.finditer(line, 0, cursor - start))[-1:]  # the last %db before it
    if not found:
        return None
    after = found[0].end()
    return _line(line[after:], cursor - start - after, sources)


def _header(typed: str, sources: Sources) -> Completions:
    words = typed.split()
    fragment = "" if not words or typed[-1:].isspace() else words[-1]
    before = words[:-1] if fragment else words
    if before and before[-1] == "--as":
        return _matching(fragment, [(name, "format") for name in FORMATS])
    if before and before[-1] in VALUE_OPTIONS:
        return Completions(fragment, [])
    if fragment.startswith("-"):
        options = ["-o", "--write", "--as", *sorted(VALUE_OPTIONS - {"-o", "--out", "--as"})]
        return _matching(fragment, [(option, "option") for option in options])
    names = [*sources.connections, *(["frames"] if "frames" not in sources.connections else [])]
    return _matching(fragment, [(name, "connection") for name in names])


def _connection_of(words: Sequence[str]) -> str | None:
    """The connection a ``%%db`` header names: its first word that is no option."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("#"):
            return None
        elif word.startswith("-"):
            skip = word in VALUE_OPTIONS
        else:
            return word
    return None


def _line(line: str, cursor: int, sources: Sources) -> Completions:
    """``line``: what follows ``%db`` on its line, the cursor at ``cursor``."""
    rest = line[:cursor]
    # Leading options (and their values) come before the subcommand or the SQL.
    position = 0
    skip = False
    for match in re.finditer(r"\S+", rest):
        word = match.group()
        if match.end() == len(rest):
            break  # the word being typed
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in VALUE_OPTIONS
        else:
            break
        position = match.end()
    rest, line, cursor = rest[position:], line[position:], cursor - position
    words = rest.split()
    fragment = "" if not words or rest[-1:].isspace() else words[-1]
    typed = words[:-1] if fragment else words
    if not typed:
        if fragment.startswith("-"):
            return _matching(fragment, [("-o", "option"), ("--write", "option")])
        return _matching(fragment, [(name, "subcommand") for name in sources.subcommands])
    first = typed[0].lower()
    if first == "use":
        items = [(name, "connection") for name in sources.connections] if len(typed) == 1 else []
        return _matching(fragment, items)
    if first in TABLE_SUBCOMMANDS or first in ("tables", "write"):
        return _subcommand(first, typed, fragment, sources)
    connection = sources.current
    if first in ("frames", "explain"):  # SQL follows the word (on frames, or explained)
        skipped = line.lower().find(first) + len(first)
        line, cursor = line[skipped:], cursor - skipped
        connection = "frames" if first == "frames" else connection
    elif first in sources.subcommands:
        return Completions(fragment, [])
    return _sql(line, cursor, connection, sources)


def _subcommand(first: str, typed: list[str], fragment: str, sources: Sources) -> Completions:
    position = len(typed)  # the position of the word being typed
    if first == "tables":
        return _matching(fragment, [("--refresh", "option")] if position == 1 else [])
    if first == "write":
        if position == 1:
            return _matching(fragment, [(name, "frame") for name in sources.frames()])
        return _tables(fragment, sources.schema(sources.current)) if position == 2 else _none()
    if first == "plot" and position == 1:
        return _matching(fragment, [(kind, "kind") for kind in PLOT_KINDS])
    if position == TABLE_SUBCOMMANDS[first]:
        return _tables(fragment, sources.schema(sources.current))
    if first == "plot" and position == 3:
        schema = sources.schema(sources.current)
        return _matching(fragment, _columns(schema, typed[2]) if schema is not None else [])
    return Completions(fragment, [])


def _none() -> Completions:
    return Completions("", [])


def _tables(fragment: str, schema: Schema | None, qualifier: str | None = None) -> Completions:
    if schema is None:
        return Completions(fragment, [])
    if qualifier is not None:
        return _matching(fragment, [(name, "table") for name in schema.tables_in(qualifier)])
    if "." in fragment:  # `%db describe sales.or`: the whole word is the fragment
        owner, _, _ = fragment.rpartition(".")
        names = [f"{owner}.{name}" for name in schema.tables_in(owner)]
        return _matching(fragment, [(name, "table") for name in names])
    items = [(name, "table") for name in schema.table_names()]
    items += [(f"{name}.", "schema") for name in sorted(schema.schemas() - {schema.default or ""})]
    return _matching(fragment, items)


def _matching(fragment: str, items: Iterable[tuple[str, str]]) -> Completions:
    lowered = fragment.lower()
    seen: set[str] = set()
    chosen = []
    for text, kind in items:
        if text.lower().startswith(lowered) and text not in seen:
            seen.add(text)
            chosen.append((text, kind))
    return Completions(fragment, chosen)


# --- SQL ----------------------------------------------------------------------------


def _sql(sql: str, cursor: int, connection: str | None, sources: Sources) -> Completions:
    found = sqlscan.scan(sql, backend_for(sources.dialect(connection)).lexical_rules)
    code = list(sql)
    for token in found:
        if token.kind not in _NOT_CODE:
            continue
        # Inside a literal or a comment (a comment or an open quote runs to the cursor).
        open_ended = token.kind in ("comment", "unterminated")
        if token.start < cursor < token.end or (open_ended and cursor == token.end):
            return _none()
        code[token.start : token.end] = " " * (token.end - token.start)
    text = "".join(code)
    start, end = _statement_around(text, found, cursor)
    statement, cursor = text[start:end], cursor - start
    before = statement[:cursor]
    fragment = _IDENT_END.search(before).group()  # type: ignore[union-attr]
    head = before[: len(before) - len(fragment)]
    if head.endswith(":") and not head.endswith("::"):
        return _matching(fragment, [(name, "variable") for name in sorted(sources.variables())])
    schema = sources.schema(connection)
    if schema is None:
        return Completions(fragment, [])
    qualifier = None
    dotted = re.search(r"(\w+)\.\Z", head)
    if dotted is not None:
        qualifier = dotted.group(1)
        head = head[: dotted.start()]
    words = re.findall(r"\w+|[^\w\s]", head)
    last = words[-1].upper() if words else ""
    aliases = _aliases(statement)
    if qualifier is not None:
        table = aliases.get(qualifier.lower(), qualifier)
        if schema.columns_of(table) is not None:
            return _matching(fragment, _columns(schema, table))
        return _tables(fragment, schema, qualifier)
    if last in TABLE_KEYWORDS or (last == "," and _clause_of(words) == "FROM"):
        return _tables(fragment, schema)
    items: list[tuple[str, str]] = []
    for table in dict.fromkeys(aliases.values()):
        items += _columns(schema, table)
    return _matching(fragment, items)


def _columns(schema: Schema, table: str) -> list[tuple[str, str]]:
    """The columns of ``table`` to offer, each's kind naming the dtype it reads as
    (``column int32[pyarrow]``: its database's type table says) where that is known."""
    return [
        (name, "column" if dtype is None else f"column {dtype}")
        for name, dtype in schema.typed_columns_of(table) or ()
    ]


def _statement_around(text: str, found: Sequence[sqlscan.Token], cursor: int) -> tuple[int, int]:
    start, end = 0, len(text)
    for token in found:
        if token.kind != "semicolon":
            continue
        if token.end <= cursor:
            start = token.end
        elif token.start >= cursor:
            end = token.start
            break
    return start, end


# A table and its alias; a clause word after the table is no alias, and is left for
# the next match (`FROM a JOIN b`).
_ALIAS = r"(?:\s+(?:AS\s+)?(?!(?:" + "|".join(sorted(_CLAUSE_WORDS)) + r")\b)(\w+))?"
_FROM_ITEM = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+((?:\w+\.)?\w+)" + _ALIAS, re.IGNORECASE)
_LIST_ITEM = re.compile(r",\s*((?:\w+\.)?\w+)" + _ALIAS, re.IGNORECASE)


def _aliases(statement: str) -> dict[str, str]:
    """The tables the statement names after FROM/JOIN/UPDATE/INTO (and in a FROM
    list), by alias and by name, lower case."""
    found: dict[str, str] = {}
    spans = []
    for match in _FROM_ITEM.finditer(statement):
        spans.append(match.end())
        _add(found, match.group(1), match.group(2))
    for position in spans:
        # A FROM list: `FROM a x, b y` up to the clause that ends it.
        ending = re.search(
            r"\b(WHERE|GROUP|ORDER|HAVING|LIMIT|JOIN|ON|UNION)\b|\)",
            statement[position:],
            re.IGNORECASE,
        )
        clause = statement[position : position + ending.start() if ending else len(statement)]
        for match in _LIST_ITEM.finditer(clause):
            _add(found, match.group(1), match.group(2))
    return found


def _add(found: dict[str, str], table: str, alias: str | None) -> None:
    found.setdefault(table.lower(), table)
    if alias is not None and alias.upper() not in _CLAUSE_WORDS:
        found[alias.lower()] = table


def _clause_of(words: Sequence[str]) -> str:
    """The clause keyword the last words are in (FROM, WHERE, SELECT, ...)."""
    for word in reversed(words):
        upper = word.upper()
        if upper in {"FROM", "WHERE", "SELECT", "ON", "GROUP", "ORDER", "SET", "HAVING", "BY"}:
            return upper
    return ""
