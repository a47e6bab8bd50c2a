"""One scanner for SQL text: where it is code, and where it is data, comments or placeholders.

Everything in dbnb that reads SQL text reads it through this module, so no two
readers can disagree about where a literal or a comment ends:

- ``sqltext`` splits a cell into statements, finds the ``:name`` placeholders
  and writes the text SQLAlchemy's ``text()`` must see;
- ``params`` proves that a text is one plain query and rewrites its
  placeholders as ``$n``/``?n`` for the columnar path;
- ``readonly`` reads the leading keywords of a statement.

The scanner does not tokenize every word: one regular expression per dialect
skips plain code and stops only at what matters here (a quote, a comment, a
``:name``, a ``::`` cast, a ``;``, a placeholder of the text's own). What is a
quote or a comment depends on the dialect, and the rules follow the databases'
own lexers (PostgreSQL's ``src/backend/parser/scan.l``, SQLite's ``tokenize.c``):

- PostgreSQL (and DuckDB, whose parser is PostgreSQL's): literals ``'...'``
  (``''`` is a quote; ``standard_conforming_strings`` on, its default since
  9.1, so a backslash is a plain character), ``E'...'`` (a backslash escapes)
  and ``$tag$ ... $tag$``; quoted identifiers ``"..."``; ``--`` comments to the
  end of the line and ``/* ... */`` comments, which nest; placeholders of its
  own ``$1``.
- SQLite: literals ``'...'``; quoted identifiers ``"..."``, ```...``` and
  ``[...]``; ``--`` and ``/* ... */`` comments, which do not nest (the first
  ``*/`` ends one); placeholders of its own ``?``, ``?1``, ``@x``, ``$x``, ``:1``.

- MySQL and MariaDB: literals ``'...'`` and ``"..."`` (``''`` is a quote and a
  backslash escapes); quoted identifiers ```...```; ``#`` and ``-- `` comments
  to the end of the line and ``/* ... */`` comments, which do not nest; but
  ``/*! ... */`` and ``/*M! ... */`` are code the server runs, and are read as
  code; placeholders of its own ``?``.
- Spark SQL (its lexer, ``SqlBaseLexer.g4``): literals ``'...'`` and ``"..."``
  (``''`` and ``""`` are quotes and a backslash escapes) and raw ``R'...'``
  (a backslash is a plain character); quoted identifiers ```...```; ``--``
  comments to the end of the line, a backslash before the line break carrying
  one on, and ``/* ... */`` comments, which nest; placeholders of its own ``?``.

A quote or block comment left open runs to the end of the text (an
``unterminated`` token). Another dialect (Spark's backquotes and nesting
comments) is one more ``Rules`` value: its regular-expression fragments.

Why a scanner of dbnb's own rather than sqlglot's tokenizer, which knows
PostgreSQL, SQLite, MySQL and Spark quoting and reads the nested comment,
``E''``, ``$tag$``, ``[...]`` and backquote cases right: dbnb needs a few spans
on every query, not a token per word. For the 62-character ``SELECT id, name
FROM items WHERE id = :id AND region = :region`` (``bench/sqlscan.py``) this
scanner takes 2.6 us a call and imports nothing but ``re``; sqlglot's
pure-Python tokenizer 36-44 us, and its mypyc build (``sqlglotc``, a 68 MB
install) 9 us, after an import of 135 ms. sqlglot also raises on a quote left
open (a cell must still split), reads SQLite's ``$x`` as a name, and splits
``:name`` into two tokens. PostgreSQL's own lexer (scan.l, through pglast's
libpg_query) is exact for PostgreSQL alone: 7.8 us a call for the same
statement, a 33 MB compiled dependency, and nothing for SQLite or the dialects
to come; its rules are the ones ``POSTGRESQL`` below follows. sqlglot's
tokenizer is kept as an independent reading in the tests
(``tests/test_sqlscan.py``), where it is installed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NamedTuple

Kind = Literal[
    "comment",  # -- ... or /* ... */
    "string",  # a literal: '...', E'...', $tag$ ... $tag$
    "identifier",  # a quoted identifier: "...", `...`, [...]
    "unterminated",  # a quote or block comment never closed: runs to the end of the text
    "bind",  # a :name placeholder of dbnb's (SQLAlchemy's) own
    "cast",  # ::
    "escape",  # \: , SQLAlchemy's escaped colon
    "semicolon",
    "placeholder",  # a placeholder of the dialect's own: $1, ?, @x
]


class Token(NamedTuple):
    """A span of SQL text that is not plain code, or is a placeholder or ``;``."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True)
class Rules:
    """How one dialect quotes, comments and marks its own placeholders: regular-expression
    fragments (each a complete, closed form), from which the scanner is compiled."""

    name: str
    line_comment: str
    nested_comments: bool
    strings: tuple[str, ...]
    identifiers: tuple[str, ...]
    # What opens a quote or a comment: matched only when no closed form does.
    openers: tuple[str, ...]
    placeholders: tuple[str, ...]
    # Every character a token can start with: the scanner skips any other at once.
    starts: str
    # A block comment, when comments do not nest.
    block_comment: str = r"/\*.*?\*/"
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self))


def _compile(rules: Rules) -> re.Pattern[str]:
    block = r"(?P<nested>/\*)" if rules.nested_comments else f"(?P<block>{rules.block_comment})"
    alternatives = [
        f"(?P<line>{rules.line_comment})",
        block,
        "(?P<string>" + "|".join(rules.strings) + ")",
        "(?P<identifier>" + "|".join(rules.identifiers) + ")",
        "(?P<unterminated>" + "|".join(rules.openers) + ")",
        "(?P<cast>::)",
        r"(?P<escape>\\:)",
        # As SQLAlchemy's text() reads a bind, but a name starts with a letter or _.
        r"(?P<bind>(?<![:\w\\]):[A-Za-z_]\w*+)",
        "(?P<placeholder>" + "|".join(rules.placeholders) + ")",
        "(?P<semicolon>;)",
        "(?P<other>.)",  # a character that starts no token here (a lone `-`, `a$b`)
    ]
    # One match per token: a possessive run of plain code, then the token (\Z: the end).
    skip = "[^" + re.escape(rules.starts) + "]*+"
    return re.compile(skip + "(?:" + "|".join(alternatives) + r"|\Z)", re.DOTALL)


# A dollar-quote tag (scan.l: dolq_start, dolq_cont); bytes \200-\377 are any non-ASCII.
_TAG = r"(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*+)?"
# Not after a character that continues an identifier (scan.l's ident_cont has `$`).
_FREE = r"(?<![\w$\x80-\U0010ffff])"
# What continues an identifier in PostgreSQL (scan.l's ident_cont): every non-ASCII
# character too, so `¡E'...'` is the name `¡E` and a standard string after it.
_IDENT = r"[\w$\x80-\U0010ffff]"

POSTGRESQL = Rules(
    name="postgresql",
    line_comment=r"--[^\n\r]*+",
    nested_comments=True,
    strings=(
        # E'...' (after an E that does not end a longer word): a backslash escapes.
        r"(?<=[Ee])(?<!" + _IDENT + r"[Ee])'(?:[^'\\]++|\\.|'')*+'",
        r"(?:(?<![Ee])|(?<=" + _IDENT + r"[Ee]))'(?:[^']++|'')*+'",
        _FREE + r"\$(?P<tag>" + _TAG + r")\$.*?\$(?P=tag)\$",
    ),
    identifiers=(r'"(?:[^"]++|"")*+"',),
    openers=("'", '"', _FREE + r"\$" + _TAG + r"\$"),
    placeholders=(_FREE + r"\$\d+",),
    starts="'\"-/$:;\\",
)

SQLITE = Rules(
    name="sqlite",
    line_comment=r"--[^\n]*+",
    nested_comments=False,
    strings=(r"'(?:[^']++|'')*+'",),
    identifiers=(r'"(?:[^"]++|"")*+"', r"`(?:[^`]++|``)*+`", r"\[[^\]]*+\]"),
    openers=("'", '"', "`", r"\[", r"/\*"),
    # Any ?, @ or $ in SQLite's code is a parameter, and so is a : that no :name is.
    placeholders=(r"\?\d*+", r"[@$][\w$]*+", r":(?=[\w$])"),
    starts="'\"`[-/$:;\\?@",
)

MYSQL = Rules(
    name="mysql",
    # `#` to the end of the line, and `--` followed by a space or a control character,
    # DEL (0x7f) among them (MySQL's lexer, sql_lex.cc: my_isspace or my_iscntrl;
    # MariaDB's is the same).
    line_comment=r"(?:#|--(?=[\x00-\x20\x7f]|\Z))[^\n]*+",
    nested_comments=False,
    # '...' and "..." are literals (unless ANSI_QUOTES): '' and a backslash escape.
    strings=(r"'(?:[^'\\]++|\\.|'')*+'", r'"(?:[^"\\]++|\\.|"")*+"'),
    identifiers=(r"`(?:[^`]++|``)*+`",),
    openers=("'", '"', "`", r"/\*(?!M?!)"),
    placeholders=(r"\?",),
    starts="'\"`-/#$:;\\?",
    # /*! ... */ and /*M! ... */ are code that MySQL and MariaDB run: not comments.
    block_comment=r"/\*(?!M?!).*?\*/",
)

SPARK = Rules(
    name="spark",
    line_comment=r"--(?:\\\r?\n|[^\n\r])*+",
    nested_comments=True,
    strings=(
        # R'...' and R"..." (after an R that does not end a longer name): raw.
        r"(?<![\w$])[Rr]'[^']*+'",
        r'(?<![\w$])[Rr]"[^"]*+"',
        r"'(?:[^'\\]++|\\.|'')*+'",
        r'"(?:[^"\\]++|\\.|"")*+"',
    ),
    identifiers=(r"`(?:[^`]++|``)*+`",),
    openers=("'", '"', "`"),
    placeholders=(r"\?",),
    starts="'\"`-/$:;\\?Rr",
)

# The same texts as a session set otherwise reads them. A read is checked by every
# reading of its database (dbnb.sql.readable), so no session setting can make a
# literal end where the check did not see it end.
# PostgreSQL with standard_conforming_strings off: a backslash escapes in '...' too.
POSTGRESQL_ESCAPING = dataclasses.replace(
    POSTGRESQL,
    name="postgresql_escaping",
    strings=(r"'(?:[^'\\]++|\\.|'')*+'", POSTGRESQL.strings[2]),
)
_MYSQL_IDENTIFIER = r"`(?:[^`]++|``)*+`"
_ANSI_IDENTIFIER = r'"(?:[^"]++|"")*+"'
# MySQL and MariaDB with NO_BACKSLASH_ESCAPES: a backslash is a plain character.
MYSQL_NO_BACKSLASH = dataclasses.replace(
    MYSQL,
    name="mysql_no_backslash",
    strings=(r"'(?:[^']++|'')*+'", r'"(?:[^"]++|"")*+"'),
)
# With ANSI_QUOTES (also in ANSI and ORACLE modes): "..." is a name, not a literal.
MYSQL_ANSI_QUOTES = dataclasses.replace(
    MYSQL,
    name="mysql_ansi_quotes",
    strings=(MYSQL.strings[0],),
    identifiers=(_MYSQL_IDENTIFIER, _ANSI_IDENTIFIER),
)
MYSQL_ANSI_NO_BACKSLASH = dataclasses.replace(
    MYSQL,
    name="mysql_ansi_no_backslash",
    strings=(r"'(?:[^']++|'')*+'",),
    identifiers=(_MYSQL_IDENTIFIER, _ANSI_IDENTIFIER),
)

_RULES = {
    "postgresql": POSTGRESQL,
    "sqlite": SQLITE,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "spark": SPARK,
    "postgresql_escaping": POSTGRESQL_ESCAPING,
    "mysql_no_backslash": MYSQL_NO_BACKSLASH,
    "mysql_ansi_quotes": MYSQL_ANSI_QUOTES,
    "mysql_ansi_no_backslash": MYSQL_ANSI_NO_BACKSLASH,
}


def rules_for(dialect: str) -> Rules:
    """The rules of a dialect (a SQLAlchemy backend name); PostgreSQL's for any other:
    DuckDB parses as PostgreSQL does."""
    return _RULES.get(dialect, POSTGRESQL)


_KINDS: dict[str | None, Kind] = {
    "line": "comment",
    "block": "comment",
    "nested": "comment",
    "string": "string",
    "identifier": "identifier",
    "unterminated": "unterminated",
    "cast": "cast",
    "escape": "escape",
    "bind": "bind",
    "placeholder": "placeholder",
    "semicolon": "semicolon",
}


def tokens(sql: str, rules: Rules) -> Iterator[Token]:
    """The tokens of ``sql`` in order, found as they are asked for."""
    match = rules.pattern.match
    position = 0
    while True:
        found = match(sql, position)
        assert found is not None  # the pattern matches at the end of the text
        group = found.lastgroup
        if group is None:
            return
        start, end = found.span(group)
        if group == "other":
            position = end
            continue
        if group == "nested":
            end = _nested_comment_end(sql, end)
        if group == "unterminated" or end < 0:
            yield Token("unterminated", start, len(sql))
            return
        yield Token(_KINDS[group], start, end)
        position = end


def _nested_comment_end(sql: str, position: int) -> int:
    """Just past the ``*/`` that closes a comment opened before ``position`` (PostgreSQL
    comments nest: scan.l's xc state); -1 when it is never closed."""
    depth = 1
    while True:
        closing = sql.find("*/", position)
        if closing < 0:
            return -1
        opening = sql.find("/*", position, closing)
        if opening >= 0:
            depth, position = depth + 1, opening + 2
            continue
        depth, position = depth - 1, closing + 2
        if depth == 0:
            return position


def scan(sql: str, dialect: str) -> tuple[Token, ...]:
    """Every token of ``sql``; recent texts are remembered (a notebook repeats its queries)."""
    if len(sql) > CACHED_LENGTH:
        return tuple(tokens(sql, rules_for(dialect)))
    return _scan(sql, dialect)


CACHED_LENGTH = 10_000


@lru_cache(maxsize=256)
def _scan(sql: str, dialect: str) -> tuple[Token, ...]:
    return tuple(tokens(sql, rules_for(dialect)))


# --- consumers every reader shares ----------------------------------------------------


def statements(sql: str, found: Iterable[Token]) -> list[tuple[int, int]]:
    """The spans of the statements of ``sql``, split at each ``;`` that is code; a
    statement of nothing but whitespace and comments is dropped. Each span starts
    past the previous ``;`` and ends before its own (or at the end of the text)."""
    spans: list[tuple[int, int]] = []
    start = position = 0
    blank = True  # nothing but whitespace and comments since `start`
    for token in found:
        if blank and not _is_space(sql, position, token.start):
            blank = False
        if token.kind == "semicolon":
            if not blank:
                spans.append((start, token.start))
            start, blank = token.end, True
        elif token.kind != "comment":
            blank = False
        position = token.end
    if not (blank and _is_space(sql, position, len(sql))):
        spans.append((start, len(sql)))
    return spans


def _is_space(sql: str, start: int, end: int) -> bool:
    return start >= end or sql[start:end].isspace()


def code_end(sql: str, found: Iterable[Token], start: int, end: int) -> int:
    """Where the last code of ``sql[start:end]`` ends: trailing whitespace and comments
    left out (``found``: the tokens of that span)."""
    last = start
    position = start
    for token in found:
        if sql[position : token.start].strip():
            last = len(sql[: token.start].rstrip())
        if token.kind != "comment":
            last = token.end
        position = token.end
    if sql[position:end].strip():
        last = len(sql[:end].rstrip())
    return last


_WORD = re.compile(r"[A-Za-z_][\w$]*")
_SPACE = re.compile(r"\s*")
_OPENING = re.compile(r"[\s(]*")


def keywords(sql: str, found: Iterable[Token], start: int = 0, count: int = 2) -> tuple[str, ...]:
    """The first ``count`` words of the statement at ``start``, upper case: past
    whitespace, comments and opening parentheses, the bare words that follow one
    another (a literal, an identifier in quotes or any other sign ends them).
    ``found``: the tokens of ``sql`` from ``start`` on."""
    words: list[str] = []
    position = start
    for token in found:
        if not _gap_words(sql, position, token.start, words, count):
            return tuple(words)
        if token.kind != "comment":
            return tuple(words)
        position = token.end
    _gap_words(sql, position, len(sql), words, count)
    return tuple(words)


def _gap_words(sql: str, position: int, end: int, words: list[str], count: int) -> bool:
    """Add the words of the plain code ``sql[position:end]``; False once they have ended."""
    skip = _SPACE if words else _OPENING
    position = skip.match(sql, position, end).end()  # type: ignore[union-attr]
    while position < end and len(words) < count:
        word = _WORD.match(sql, position, end)
        if word is None:
            return False
        words.append(word.group().upper())
        position = _SPACE.match(sql, word.end(), end).end()  # type: ignore[union-attr]
        if position == word.end() and position < end:
            return False  # a sign right after the word
    return len(words) < count


def leading_keywords(sql: str, dialect: str, count: int = 2) -> tuple[str, ...]:
    """The first ``count`` words of ``sql`` (``keywords``), scanning no further than needed."""
    return keywords(sql, tokens(sql, rules_for(dialect)), 0, count)


def after_in(sql: str, found: Sequence[Token], index: int) -> bool | tuple[int, int]:
    """Whether the placeholder ``found[index]`` follows IN: True for ``IN :name``, the
    places of the parentheses for ``IN (:name)``, False otherwise."""
    start, before = _code_before(sql, found, index)
    code = before.rstrip()
    if _ends_with_in(code):
        return True
    if not code.endswith("(") or not _ends_with_in(code[:-1].rstrip()):
        return False
    after_start, after = _code_after(sql, found, index)
    rest = after.lstrip()
    if not rest.startswith(")"):
        return False
    return start + len(code) - 1, after_start + len(after) - len(rest)


def _ends_with_in(code: str) -> bool:
    if code[-2:].upper() != "IN":
        return False
    return len(code) == 2 or not (code[-3].isalnum() or code[-3] in "_$")


def _code_before(sql: str, found: Sequence[Token], index: int) -> tuple[int, str]:
    """The plain code right before ``found[index]`` (past comments), and where it starts."""
    end = found[index].start
    while True:
        index -= 1
        start = found[index].end if index >= 0 else 0
        gap = sql[start:end]
        if gap.strip() or index < 0 or found[index].kind != "comment":
            return start, gap
        end = found[index].start


def _code_after(sql: str, found: Sequence[Token], index: int) -> tuple[int, str]:
    """The plain code right after ``found[index]`` (past comments), and where it starts."""
    start = found[index].end
    while True:
        index += 1
        end = found[index].start if index < len(found) else len(sql)
        gap = sql[start:end]
        if gap.strip() or index >= len(found) or found[index].kind != "comment":
            return start, gap
        start = found[index].end
