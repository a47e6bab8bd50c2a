"""SQL text as users write it: statements, and the ``:name`` placeholders to bind.

A notebook cell may hold several statements, and its ``:name`` placeholders
are bound from the notebook's variables. Both need to know where SQL text is
code and where it is data, and ``dbnb.sql.sqlscan`` tells them, by the lexical
rules of the connection's database: a ``;`` or a ``:name`` inside a literal, a quoted
identifier, a comment or a dollar-quoted body is neither, and a PostgreSQL
cast (``x::int``) is no placeholder.

SQLAlchemy's ``text()`` finds placeholders with a regular expression that
sees no literals, so ``'10 :30'`` would become a parameter and ``:n::int`` would
not. ``Statement.to_text`` hands ``text()`` a version of the statement in which
the placeholders found here are the only ones it can see: any other colon that
it would take for a placeholder is escaped (``\\:``, which SQLAlchemy turns back
into ``:``), a ``\\:`` inside a literal gets a second backslash (SQLAlchemy
would drop the first), and a placeholder right before a cast gets a space
(``:n ::int``).

A placeholder right after ``IN`` (``x IN :ids``, ``x NOT IN :ids``, ``x IN
(:ids)``) whose value is a list becomes SQLAlchemy's expanding parameter, one
placeholder per item (``IN (:ids)`` loses its own parentheses, which the
expansion brings).

Known limit: a statement is split at every ``;`` outside literals, comments and
dollar quotes, so a SQLite ``CREATE TRIGGER ... BEGIN ...; END`` must be run
through ``db.session(write=True)`` instead of a multi-statement cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.sql.compiler import BIND_PARAMS_ESC

from dbnb.sql import sqlscan
from dbnb.sql.sqlscan import LexicalRules, Token

T = TypeVar("T")

# What SQLAlchemy's text() takes for a placeholder, and the escaped colons its compiler
# turns back into colons (sqlalchemy.sql.elements.TextClause, sqlalchemy.sql.compiler).
_TEXT_BIND: re.Pattern[str] = TextClause._bind_params_regex  # noqa: SLF001 (exactly text()'s)
_TEXT_ESCAPE: re.Pattern[str] = BIND_PARAMS_ESC


@dataclass(frozen=True)
class Statement:
    """One SQL statement as written, and the names of its ``:name`` placeholders."""

    sql: str
    params: tuple[str, ...]
    # The statement as SQLAlchemy's text() must see it (see the module docstring).
    escaped: str
    # Its first two words, upper case (sqlscan.keywords).
    keywords: tuple[str, ...]
    # Placeholders right after IN / NOT IN, and those alone in IN ( ... ): a list expands.
    in_bare: frozenset[str] = frozenset()
    in_parens: frozenset[str] = frozenset()
    tokens: tuple[Token, ...] = field(default=(), repr=False, compare=False)
    # (name, where its opening and closing parenthesis are) for each `IN (:name)`.
    parens: tuple[tuple[str, int, int], ...] = field(default=(), repr=False, compare=False)
    # What was read from it by other rules (``derived``), kept as long as it is.
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, rules: Hashable, read: Callable[[Statement], T]) -> T:
        """``read(self)``, read once per statement and ``rules`` (what it reads by): the
        columnar path's positional text, a read's refusal. A statement ``parse``
        remembers remembers these with it, so a repeated query reads nothing again."""
        try:
            found: T = self._derived[rules]
        except KeyError:
            found = self._derived[rules] = read(self)
        return found

    def to_text(
        self, values: Mapping[str, Any] | None = None, *, empty_as_array: bool = False
    ) -> TextClause:
        """A SQLAlchemy ``text()`` construct whose parameters are exactly ``params``;
        those after IN whose value is a list expand (values as ``binds.bind`` gives
        them: every sequence a list). ``empty_as_array`` (PostgreSQL): an empty list is
        ``= ANY(:ids)`` (``<> ALL`` after NOT IN) of an array the server types from the
        column, where SQLAlchemy's empty IN would be a set of integers (``text =
        integer``)."""
        lists = [
            name
            for name in self.params
            if (name in self.in_bare or name in self.in_parens)
            and isinstance((values or {}).get(name), list)
        ]
        if not lists:
            clause = self._text
        else:
            blanks = [spot for name, *spots in self.parens if name in lists for spot in spots]
            sql = self.sql
            for blank in blanks:  # the expansion brings parentheses of its own
                sql = f"{sql[:blank]} {sql[blank + 1 :]}"
            escaped = _for_text(sql, self.tokens)
            empty = [name for name in lists if empty_as_array and not (values or {})[name]]
            for name in empty:
                escaped = _any_of(escaped, name)
            clause = text(escaped).bindparams(
                *(bindparam(name, expanding=True) for name in lists if name not in empty)
            )
        assert set(clause._bindparams) == set(self.params), (self.escaped, self.params)  # noqa: SLF001
        return clause

    @cached_property
    def _text(self) -> TextClause:
        # Made once per statement: text() runs a regular expression over the whole text.
        return text(self.escaped)


def _any_of(escaped: str, name: str) -> str:
    """``escaped`` with ``IN :name`` as ``= ANY(:name)`` and ``NOT IN :name`` as ``<>
    ALL(:name)`` (a colon that is no placeholder is escaped there: ``\\:``)."""
    found = re.compile(rf"(?i)\b(NOT\s+)?IN\s*:{name}\b(?![\w(])")

    def rewritten(match: re.Match[str]) -> str:
        return f"<> ALL(:{name})" if match.group(1) else f"= ANY(:{name})"

    return found.sub(rewritten, escaped)


def split(sql: str, rules: LexicalRules) -> list[Statement]:
    """The statements of ``sql``, split at each ``;`` that is code; empty ones dropped."""
    found = sqlscan.scan(sql, rules)
    return [_statement(sql, start, end, found) for start, end in sqlscan.statements(sql, found)]


def parse(sql: str, rules: LexicalRules) -> Statement:
    """``sql`` as one statement (semicolons included): its placeholders and escaped text.
    Recent texts are remembered (a notebook repeats its queries): the one cache of
    statements read, and what was read from them (``Statement.derived``)."""
    if len(sql) > CACHED_LENGTH:
        return _statement(sql, 0, len(sql), sqlscan.scan(sql, rules))
    return _parse(sql, rules)


CACHED_LENGTH = 10_000  # a longer text is parsed each time, not kept


@lru_cache(maxsize=256)
def _parse(sql: str, rules: LexicalRules) -> Statement:
    return _statement(sql, 0, len(sql), sqlscan.scan(sql, rules))


def _statement(sql: str, start: int, end: int, found: Sequence[Token]) -> Statement:
    """The statement ``sql[start:end]``, whitespace stripped, from the tokens of ``sql``."""
    piece = sql[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    offset = start + lead
    if offset == 0 and len(piece) == len(sql):
        tokens = tuple(found)
    else:
        tokens = tuple(
            Token(token.kind, token.start - offset, min(token.end - offset, len(piece)))
            for token in found
            if offset <= token.start < offset + len(piece)
        )
    names: dict[str, None] = {}
    bare: set[str] = set()
    parens: list[tuple[str, int, int]] = []
    for index, token in enumerate(tokens):
        if token.kind != "bind":
            continue
        name = piece[token.start + 1 : token.end]
        names.setdefault(name)
        where = sqlscan.after_in(piece, tokens, index)
        if where is True:
            bare.add(name)
        elif where:
            parens.append((name, *where))
    return Statement(
        sql=piece,
        params=tuple(names),
        escaped=_for_text(piece, tokens),
        keywords=sqlscan.keywords(piece, tokens),
        in_bare=frozenset(bare),
        in_parens=frozenset(name for name, _, _ in parens),
        tokens=tokens,
        parens=tuple(parens),
    )


def _for_text(sql: str, tokens: Sequence[Token]) -> str:
    """``sql`` as ``text()`` must see it: a space after each placeholder that a colon
    follows, then a backslash before every other colon ``text()`` would take for a
    placeholder, and before each ``\\:`` of a literal or comment."""
    binds = [token for token in tokens if token.kind == "bind"]
    if sql.count(":") == len(binds) and "\\" not in sql:
        return sql  # every colon is a placeholder's, none before another colon
    spaced: list[str] = []
    spaces: list[int] = []  # where a space went in
    done = 0
    for token in binds:
        if sql.startswith(":", token.end):  # `:n::int`: text() needs the name to end
            spaced += [sql[done : token.end], " "]
            done = token.end
            spaces.append(token.end)

    def moved(position: int) -> int:
        return position + sum(1 for at in spaces if at <= position)

    spaced.append(sql[done:])
    text_ = "".join(spaced)
    ours = {moved(token.start) for token in binds}
    escapes = {moved(token.start) for token in tokens if token.kind == "escape"}
    # Only a colon can start what text() binds, and a backslash what it unescapes:
    # match there rather than search the whole text (a lookbehind at every character).
    marks = [
        at
        for at in _positions(text_, ":")
        if at not in ours and _TEXT_BIND.match(text_, at) is not None
    ]
    marks += [
        at
        for at in _positions(text_, "\\")
        if at not in escapes and _TEXT_ESCAPE.match(text_, at) is not None
    ]
    out: list[str] = []
    done = 0
    for mark in sorted(marks):
        out += [text_[done:mark], "\\"]
        done = mark
    out.append(text_[done:])
    return "".join(out)


def _positions(text_: str, char: str) -> list[int]:
    """Where ``char`` occurs in ``text_``."""
    found: list[int] = []
    at = text_.find(char)
    while at >= 0:
        found.append(at)
        at = text_.find(char, at + 1)
    return found
