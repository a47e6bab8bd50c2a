"""How Spark SQL reads text: its literals, comments and placeholders
(``dbnb.sql.sqlscan.LexicalRules``), following its lexer (``SqlBaseLexer.g4``).

Literals ``'...'`` and ``"..."`` (``''`` and ``""`` are quotes and a backslash
escapes) and raw ``R'...'`` (a backslash is a plain character); quoted
identifiers ```...```; ``--`` comments to the end of the line, a backslash
before the line break carrying one on, and ``/* ... */`` comments, which nest;
placeholders of its own ``?``.
"""

from __future__ import annotations

from dbnb.sql.sqlscan import LexicalRules

LEXICAL_RULES = LexicalRules(
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
