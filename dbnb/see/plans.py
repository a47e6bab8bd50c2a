"""A statement's plan as text, with a one-line summary.

PostgreSQL's ``EXPLAIN`` (``EXPLAIN (ANALYZE, BUFFERS)`` when analyzed), SQLite's
``EXPLAIN QUERY PLAN`` drawn as a tree; the statement to send and the reading of
its rows come from the database's home. Everything runs through ``db.query``:
bound, in the read-only transaction, recorded in the history. So analyzing a
write (``EXPLAIN ANALYZE DELETE ...``) is refused by the database and changes
nothing. SQLite has no EXPLAIN ANALYZE: there, analyzing runs the statement
itself, read-only, and the summary says how long it took and how many rows it gave.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dbnb.engine.backend import backend_for

if TYPE_CHECKING:
    from dbnb.connections.database import Database


class Plan(str):
    """A plan's text (a ``str``), with ``summary``: its estimated cost and rows, and
    with ``analyze`` what running it took. Shown in full, never cut to a column's width."""

    summary: str

    def __new__(cls, text: str, summary: str) -> Plan:
        plan = super().__new__(cls, text)
        plan.summary = summary
        return plan

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"{self.summary}\n{self}")


def explain(
    db: Database, sql: str, params: Mapping[str, Any] | None = None, *, analyze: bool = False
) -> Plan:
    """The plan of ``sql`` on ``db`` (see the module's doc)."""
    backend = backend_for(db.engine.dialect.name)
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


def _plan(db: Database, statement: str, params: Mapping[str, Any] | None) -> str:
    rows = db.query(statement, params, progress=False)
    return backend_for(db.engine.dialect.name).plan_text(
        list(rows.itertuples(index=False, name=None))
    )
