"""The guarded path's read of one statement: executed on a SQLAlchemy connection, its
frame built, its failure translated, its transaction rolled back.

One implementation for every caller: ``Database.query`` (``read/reads.py``),
``aquery`` (``connections/aio.py`` runs ``read_frame`` itself in the event
loop's greenlet, over the async driver) and a ``%%db`` cell's statements
(``notebook/cells.py``, several in one transaction: ``capped`` and ``execute``).
Each message is ``failures.translate``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql import Executable

from dbnb.engine import limits, monitor
from dbnb.errors import DbnbError
from dbnb.read import failures, frames


def capped(connection: Connection, limit: int | None) -> Connection:
    """``connection`` for reads capped at ``limit`` rows: results stream from the server,
    so a runaway one stops at the cap instead of filling the client's memory first;
    and the transaction about to begin is told, so the server can stop there itself
    (``dbnb.engine.limits``)."""
    if limit is None:
        return connection
    return connection.execution_options(stream_results=True, **{limits.MAX_ROWS_OPTION: limit})


def execute(
    connection: Connection, statement: Executable, values: Mapping[str, Any]
) -> CursorResult[Any]:
    """Run one statement; its history record stays open until its rows are fetched, and
    its rows are made into a frame (``frames.AS_FRAME``)."""
    return connection.execute(
        statement,
        values,
        execution_options={monitor.REPORTS_FETCH: True, frames.AS_FRAME: True},
    )


def read_frame(
    connection: Connection,
    statement: Executable,
    values: Mapping[str, Any],
    kinds: frames.Kinds,
    *,
    name: str,
    limit: int | None,
    fetch: frames.Fetch,
    close: Callable[[CursorResult[Any]], None] = CursorResult.close,
) -> pd.DataFrame:
    """The whole result of ``statement`` in ``connection``'s read-only transaction, which
    is rolled back either way; at most ``limit`` rows (``RowLimitError`` past them).

    A failure is dbnb's error (``failures.translate``, naming connection ``name`` and
    the bound ``values`` by their ``:name``), raised once the transaction is rolled
    back and outside the ``except`` that caught it, so it keeps no ``__context__``: the
    driver's error quotes the values back, and its frames hold them."""
    result: CursorResult[Any] | None = None
    failure: DbnbError
    try:
        result = execute(capped(connection, limit), statement, values)
        return frames.to_frame(result, kinds, statement, max_rows=limit, fetch=fetch, close=close)
    except failures.TRANSLATED as error:
        failure = failures.translate(error, name, limit=limit, result=result, values=values)
    finally:
        connection.rollback()
    raise failure
