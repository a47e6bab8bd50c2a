"""What a SQLite read may send (``dbnb.sql.readable``), before it is sent.

SQLite's own guards (``guards.py``: ``query_only`` and an authorizer that
allows only reads) already refuse every write, ``ATTACH`` and the pragmas that
change anything; the same allow-list of statement kinds as on the other
databases decides first, so a read gets the same one-line refusal everywhere.
"""

from __future__ import annotations

from dbnb.backends.sqlite.lexical import LEXICAL_RULES
from dbnb.sql.readable import ReadRules

READ_RULES = ReadRules(
    lexical=LEXICAL_RULES,
    kinds=frozenset(
        {"SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK"}
    ),
    # SQLite's statements (parse.y's cmd).
    statements=frozenset(
        [
            "ALTER",
            "ANALYZE",
            "ATTACH",
            "BEGIN",
            "COMMIT",
            "CREATE",
            "DELETE",
            "DETACH",
            "DROP",
            "END",
            "EXPLAIN",
            "INSERT",
            "PRAGMA",
            "REINDEX",
            "RELEASE",
            "REPLACE",
            "ROLLBACK",
            "SAVEPOINT",
            "SELECT",
            "UPDATE",
            "VACUUM",
            "VALUES",
            "WITH",
        ]
    ),
)
