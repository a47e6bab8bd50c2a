"""A statement's plan as text, with a one-line summary.

PostgreSQL's ``EXPLAIN`` (``EXPLAIN (ANALYZE, BUFFERS)`` when analyzed), SQLite's
``EXPLAIN QUERY PLAN`` drawn as a tree; the statement to send and the reading of
its rows come from the database's backend. Everything runs through ``db.query``:
bound, in the read-only transaction, recorded in the history. So analyzing a
write (``EXPLAIN ANALYZE DELETE ...``) is refused by the database and changes
nothing. SQLite has no EXPLAIN ANALYZE: there, analyzing runs the statement
itself, read-only, and the summary says how long it took and how many rows it gave.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dbnb.connections.facade import Plan  # its type, as every facade's explain returns it

if TYPE_CHECKING:
    from dbnb.see.backend import Viewed

__all__ = ["Plan", "explain"]


def explain(
    db: Viewed, sql: str, params: Mapping[str, Any] | None = None, *, analyze: bool = False
) -> Plan:
    """The plan of ``sql`` on ``db`` (see the module's doc)."""
    backend = db.backend
    sql = sql.strip().rstrip(";")
    statement = backend.explain_statement(sql, analyze)
    if statement is None:  # no EXPLAIN ANALYZE here: the plan, then the statement run
        statement = backend.explain_statement(sql, False)
        assert statement is not None
        text = _plan(db, statement, params)
        started = time.perf_counter()
        rows = len(db.query(sql, params, progress=False))
        elapsed = (time.perf_counter() - started) * 1000
        summary = f"{backend.plan_summary(text)}; ran: {rows:,} rows in {elapsed:.1f} ms"
        return Plan(text, summary)
    text = _plan(db, statement, params)
    return Plan(text, backend.plan_summary(text))


def _plan(db: Viewed, statement: str, params: Mapping[str, Any] | None) -> str:
    rows = db.query(statement, params, progress=False)
    return db.backend.plan_text(list(rows.itertuples(index=False, name=None)))
