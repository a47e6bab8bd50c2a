"""How SQLite reads SQL text: its literals, comments and placeholders
(``dbnb.sql.sqlscan.LexicalRules``), following its tokenizer (``tokenize.c``).

Literals ``'...'``; quoted identifiers ``"..."``, ```...``` and ``[...]``; ``--``
and ``/* ... */`` comments, which do not nest (the first ``*/`` ends one);
placeholders of its own ``?``, ``?1``, ``@x``, ``$x``, ``:1``.
"""

from __future__ import annotations

from dbnb.sql.sqlscan import LexicalRules

LEXICAL_RULES = LexicalRules(
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
