"""SQL text benchmark: what reading a statement costs per call, beside sqlglot's tokenizer.

    .venv/bin/python bench/sqlscan.py [--repeat 20000]

For a short and a long statement it prints microseconds per call of:

- ``scan``: dbnb.sql.sqlscan's tokens of the text, the work every reader shares;
- ``parse``: dbnb.sql.sqltext's Statement (placeholders, text for text(), keywords,
  IN lists), as the guarded path and prepare need it, for a new text;
- ``to_positional``: the columnar path's proof and rewrite, for a new text (its
  parse included: it reads the parsed statement);
- ``... (seen)``: the same for a text read before (a notebook repeats its queries);
- ``sqlglot``: sqlglot's tokenizer, where installed (a token per word), and its
  ratio to ``scan``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from dbnb.backends.postgresql.binds import POSITIONAL_RULES
from dbnb.engine.backend import backend_for
from dbnb.sql import params, sqlscan, sqltext

STATEMENTS = {
    "short": "SELECT id, name FROM items WHERE id = :id AND region = :region",
    "long": (
        "SELECT o.id, o.total, c.name, 'a;b' AS lit /* comment */ FROM orders o "
        "JOIN customers c ON c.id = o.customer_id WHERE o.created_at >= :since "
        "AND o.region IN :regions AND o.total::numeric > :min -- trailing\n ORDER BY o.id"
    ),
}


def per_call(function: Callable[[], object], repeat: int) -> float:
    """Microseconds per call, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        best = min(best, time.perf_counter() - started)
    return best / repeat * 1e6


def uncached(function: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        sqltext._parse.cache_clear()  # the one cache: what is read from a statement is kept on it
        return function()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20_000)
    repeat = parser.parse_args().repeat
    try:
        import sqlglot
    except ImportError:
        sqlglot = None
    rules = backend_for("postgresql").lexical_rules

    def positional(sql: str) -> object:
        return params.to_positional(sqltext.parse(sql, rules), POSITIONAL_RULES)

    for label, sql in STATEMENTS.items():
        print(f"{label} statement, {len(sql)} characters (PostgreSQL rules):")
        cases: dict[str, Callable[[], object]] = {
            "scan": lambda sql=sql: tuple(sqlscan.tokens(sql, rules)),
            "parse": uncached(lambda sql=sql: sqltext.parse(sql, rules)),
            "to_positional": uncached(lambda sql=sql: positional(sql)),
            "parse (seen)": lambda sql=sql: sqltext.parse(sql, rules),
            "to_positional (seen)": lambda sql=sql: positional(sql),
        }
        if sqlglot is not None:
            tokenizer = sqlglot.Dialect.get_or_raise("postgres").tokenizer_class()
            cases["sqlglot"] = lambda sql=sql, tokenizer=tokenizer: tokenizer.tokenize(sql)
        floor = per_call(cases["scan"], repeat)
        for name, function in cases.items():
            micros = per_call(function, repeat)
            print(f"  {name:22} {micros:8.2f} us  {micros / floor:6.1f} x scan")


if __name__ == "__main__":
    main()
