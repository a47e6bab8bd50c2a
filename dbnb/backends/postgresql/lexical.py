"""How PostgreSQL reads SQL text: its literals, comments and placeholders
(``dbnb.sql.sqlscan.LexicalRules``), following its lexer (``src/backend/parser/scan.l``).

Literals ``'...'`` (``''`` is a quote; ``standard_conforming_strings`` on, its
default since 9.1, so a backslash is a plain character), ``E'...'`` (a
backslash escapes) and ``$tag$ ... $tag$``; quoted identifiers ``"..."``;
``--`` comments to the end of the line and ``/* ... */`` comments, which nest;
placeholders of its own ``$1``. DuckDB's parser is PostgreSQL's, so these are
also the rules of every other SQLAlchemy dialect (``dbnb.backends.generic``)
and of SQL over frames.
"""

from __future__ import annotations

import dataclasses

from dbnb.sql.sqlscan import LexicalRules

# A dollar-quote tag (scan.l: dolq_start, dolq_cont); bytes \200-\377 are any non-ASCII.
_TAG = r"(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*+)?"
# Not after a character that continues an identifier (scan.l's ident_cont has `$`).
_FREE = r"(?<![\w$\x80-\U0010ffff])"
# What continues an identifier in PostgreSQL (scan.l's ident_cont): every non-ASCII
# character too, so `¡E'...'` is the name `¡E` and a standard string after it.
_IDENT = r"[\w$\x80-\U0010ffff]"

LEXICAL_RULES = LexicalRules(
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

# The same texts with standard_conforming_strings off (a database or role may set it):
# a backslash escapes in '...' too. A read is checked by both readings
# (dbnb.sql.readable), so no session setting can make a literal end where the check
# did not see it end.
ESCAPING = dataclasses.replace(
    LEXICAL_RULES,
    name="postgresql_escaping",
    strings=(r"'(?:[^'\\]++|\\.|'')*+'", LEXICAL_RULES.strings[2]),
)
