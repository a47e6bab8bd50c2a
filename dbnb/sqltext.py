"""SQL text as users write it: statements, and the ``:name`` placeholders to bind.

A notebook cell may hold several statements, and its ``:name`` placeholders
are bound from the notebook's variables. Both need to know where SQL text is
code and where it is data, so this module scans it once: string literals
(``'...'``, ``E'...'``), quoted identifiers (``"..."``, `````...`````), comments
(``-- ...``, ``/* ... */``) and dollar-quoted bodies (``$$ ... $$``,
``$fn$ ... $fn$``) are left alone, and so is a PostgreSQL cast (``x::int``).

SQLAlchemy's ``text()`` finds placeholders with a regular expression that
sees no literals, so ``'10 :30'`` would become a parameter and ``:n::int`` would
not. ``to_text`` hands ``text()`` a version of the statement in which the
placeholders found here are the only ones it can see: any other colon that it
would take for a placeholder is escaped (``\\:``, which SQLAlchemy turns back
into ``:``), and a placeholder right before a cast gets a space (``:n ::int``).

Known limit: a statement is split at every ``;`` outside literals, comments and
dollar quotes, so a SQLite ``CREATE TRIGGER ... BEGIN ...; END`` must be run
through ``db.session(write=True)`` instead of a multi-statement cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import TextClause, text

# The spans the scanner recognises, first match wins. Anything else is plain SQL.
_SCANNER = re.compile(
    r"""
      (?P<literal>
          (?<![\w$])[Ee]'(?:[^'\\]|\\.|'')*(?:'|\Z)     # E'...': backslash escapes
        | '(?:[^']|'')*(?:'|\Z)                         # '...', '' is a quote
        | "(?:[^"]|"")*(?:"|\Z)                         # "quoted identifier"
        | `[^`]*(?:`|\Z)                                # `quoted identifier` (SQLite, MySQL)
        | --[^\n]*                                      # -- comment
        | /\*.*?(?:\*/|\Z)                              # /* comment */
        | (?<![\w$])\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z)   # $tag$ body $tag$
      )
    | (?P<cast>::)
    | (?P<escaped>\\:)
    | (?<![:\w\\]):(?P<bind>[A-Za-z_]\w*)
    | (?P<semicolon>;)
    """,
    re.VERBOSE | re.DOTALL,
)

# What SQLAlchemy's text() takes for a placeholder (sqlalchemy.sql.elements.TextClause).
_TEXT_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")


@dataclass(frozen=True)
class Statement:
    """One SQL statement as written, and the names of its ``:name`` placeholders."""

    sql: str
    params: tuple[str, ...]
    # The statement as SQLAlchemy's text() must see it (see the module docstring).
    escaped: str

    @property
    def keywords(self) -> tuple[str, ...]:
        """The first two words of the statement's code, upper case (comments skipped)."""
        code = _without_comments(self.sql)
        return tuple(word.upper() for word in re.findall(r"[A-Za-z_]+", code)[:2])

    def to_text(self) -> TextClause:
        """A SQLAlchemy ``text()`` construct whose parameters are exactly ``params``."""
        clause = text(self.escaped)
        assert set(clause._bindparams) == set(self.params), (self.escaped, self.params)
        return clause


def split(sql: str) -> list[Statement]:
    """The statements of ``sql``, split at each ``;`` that is code; empty ones dropped."""
    statements = []
    start = 0
    for match in _SCANNER.finditer(sql):
        if match.lastgroup == "semicolon":
            statements.append(sql[start : match.start()])
            start = match.end()
    statements.append(sql[start:])
    parsed = (parse(piece) for piece in statements)
    return [statement for statement in parsed if not _is_blank(statement.sql)]


def parse(sql: str) -> Statement:
    """``sql`` as one statement (semicolons included): its placeholders and escaped text."""
    sql = sql.strip()
    params: dict[str, None] = {}
    binds: dict[int, str] = {}  # position of the colon -> name
    for match in _SCANNER.finditer(sql):
        name = match.group("bind")
        if name is not None:
            params.setdefault(name)
            binds[match.start()] = name
    return Statement(sql=sql, params=tuple(params), escaped=_apply(sql, binds))


def to_text(sql: str) -> TextClause:
    """``text()`` for one statement, with the placeholders this module finds."""
    return parse(sql).to_text()


def _apply(sql: str, binds: dict[int, str]) -> str:
    """``sql`` with a space after each placeholder that a colon follows, then a backslash
    before every other colon that ``text()`` would take for a placeholder."""
    spaced: list[str] = []
    positions: set[int] = set()  # where the placeholders start in the spaced text
    done = shift = 0
    for position, name in sorted(binds.items()):
        end = position + 1 + len(name)
        positions.add(position + shift)
        if sql.startswith(":", end):  # `:n::int`: text() needs the name to end before a colon
            spaced += [sql[done:end], " "]
            done, shift = end, shift + 1
    spaced.append(sql[done:])
    text_ = "".join(spaced)
    out: list[str] = []
    done = 0
    for match in _TEXT_BIND.finditer(text_):
        if match.start() not in positions:
            out += [text_[done : match.start()], "\\"]
            done = match.start()
    out.append(text_[done:])
    return "".join(out)


def _without_comments(sql: str) -> str:
    """``sql`` with its comments replaced by spaces (literals kept)."""
    out: list[str] = []
    done = 0
    for match in _SCANNER.finditer(sql):
        literal = match.group("literal")
        if literal is not None and literal.startswith(("--", "/*")):
            out += [sql[done : match.start()], " "]
            done = match.end()
    out.append(sql[done:])
    return "".join(out)


def _is_blank(sql: str) -> bool:
    """True for a statement of nothing but whitespace and comments."""
    return not _without_comments(sql).strip()
