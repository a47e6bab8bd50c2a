"""One scanner for SQL text: where it is code, and where it is data, comments or placeholders.

Everything in dbnb that reads SQL text reads it through this module, so no two
readers can disagree about where a literal or a comment ends:

- ``sqltext`` splits a cell into statements, finds the ``:name`` placeholders
  and writes the text SQLAlchemy's ``text()`` must see;
- ``params`` proves that a text is one plain query and rewrites its
  placeholders as ``$n``/``?n`` for the columnar path;
- ``readable`` reads the leading keywords of a statement and its code.

The scanner does not tokenize every word: one regular expression per database
skips plain code and stops only at what matters here (a quote, a comment, a
``:name``, a ``::`` cast, a ``;``, a placeholder of the text's own). What is a
quote or a comment depends on the database: its ``LexicalRules``, which live in
its home (``dbnb/backends/NAME/lexical.py``, following the database's own
lexer) and reach this layer as an object, never as a name. A quote or block
comment left open runs to the end of the text (an ``unterminated`` token).

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
to come; its rules are the ones PostgreSQL's home follows. sqlglot's
tokenizer is kept as an independent reading in the tests
(``tests/test_sqlscan.py``), where it is installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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


# Compared by identity: each is one database's, made once in its home (and hashed on
# every scan that a cache keeps).
@dataclass(frozen=True, eq=False)
class LexicalRules:
    """How one database quotes, comments and marks its own placeholders: regular-expression
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


def _compile(rules: LexicalRules) -> re.Pattern[str]:
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


def tokens(sql: str, rules: LexicalRules) -> Iterator[Token]:
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


def scan(sql: str, rules: LexicalRules) -> tuple[Token, ...]:
    """Every token of ``sql``. Nothing is remembered here: a statement is scanned once, by
    ``sqltext.parse`` (which remembers recent texts), and read from there."""
    return tuple(tokens(sql, rules))


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


def leading_keywords(sql: str, rules: LexicalRules, count: int = 2) -> tuple[str, ...]:
    """The first ``count`` words of ``sql`` (``keywords``), scanning no further than needed."""
    return keywords(sql, tokens(sql, rules), 0, count)


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
