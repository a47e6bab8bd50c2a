"""The calls dbnb's guards make on a driver's connection, sync or async.

The read-only guards (``readonly``) and the limits (``limits``) are engine
events. An ``AsyncEngine`` runs the events of the sync engine inside it, in a
greenlet where SQLAlchemy's ``await_`` can wait for a coroutine; so one set
of guards serves both, as long as they call the driver through ``call``, which
waits for what an async driver (psycopg's ``AsyncConnection``, aiosqlite)
returns to be awaited and hands back what a sync one (psycopg, sqlite3) returns.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["await_", "call", "run"]

try:  # SQLAlchemy 2.1 names it await_
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as await_


def call(target: Any, method: str, *args: Any) -> Any:
    """``target.method(*args)``, awaited if the driver is async."""
    result = getattr(target, method)(*args)
    return await_(result) if inspect.isawaitable(result) else result


def run(driver_connection: Any, sql: str, params: Any = None) -> None:
    """Run one statement of dbnb's own on ``driver_connection`` and close its cursor."""
    cursor = call(driver_connection, "execute", sql, *([] if params is None else [params]))
    call(cursor, "close")
