"""How MariaDB and MySQL read SQL text: their literals, comments and placeholders
(``dbnb.sql.sqlscan.LexicalRules``), following their lexers (``sql_lex.cc``).

Literals ``'...'`` and ``"..."`` (``''`` is a quote and a backslash escapes);
quoted identifiers ```...```; ``#`` and ``-- `` comments to the end of the line
and ``/* ... */`` comments, which do not nest; but ``/*! ... */`` and ``/*M!
... */`` are code the server runs, and are read as code; placeholders of its
own ``?``.

A session's ``sql_mode`` changes that reading (``NO_BACKSLASH_ESCAPES``,
``ANSI_QUOTES``), so a read is checked by every reading (``READ_RULES.alternatives``
in ``statements.py``): no session setting can make a literal end where the
check did not see it end.
"""

from __future__ import annotations

import dataclasses

from dbnb.sql.sqlscan import LexicalRules

LEXICAL_RULES = LexicalRules(
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

_MYSQL_IDENTIFIER = r"`(?:[^`]++|``)*+`"
_ANSI_IDENTIFIER = r'"(?:[^"]++|"")*+"'
# With NO_BACKSLASH_ESCAPES: a backslash is a plain character.
NO_BACKSLASH = dataclasses.replace(
    LEXICAL_RULES,
    name="mysql_no_backslash",
    strings=(r"'(?:[^']++|'')*+'", r'"(?:[^"]++|"")*+"'),
)
# With ANSI_QUOTES (also in ANSI and ORACLE modes): "..." is a name, not a literal.
ANSI_QUOTES = dataclasses.replace(
    LEXICAL_RULES,
    name="mysql_ansi_quotes",
    strings=(LEXICAL_RULES.strings[0],),
    identifiers=(_MYSQL_IDENTIFIER, _ANSI_IDENTIFIER),
)
ANSI_NO_BACKSLASH = dataclasses.replace(
    LEXICAL_RULES,
    name="mysql_ansi_no_backslash",
    strings=(r"'(?:[^']++|'')*+'",),
    identifiers=(_MYSQL_IDENTIFIER, _ANSI_IDENTIFIER),
)
