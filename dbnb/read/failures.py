"""What a statement's run raised, as dbnb's errors: the one translation of the
guarded path's failures, shared by ``Database.query``, ``aquery`` and notebook
cells (the columnar path words the same errors in ``dbnb/read/arrow.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import CursorResult

from dbnb.config import masking
from dbnb.engine import monitor, remedies
from dbnb.errors import DbnbError, QueryError, RowLimitError, one_line
from dbnb.read import frames


def translate(
    error: BaseException,
    name: str,
    *,
    limit: int | None = None,
    result: CursorResult[Any] | None = None,
    where: str = "",
    values: Any = None,
) -> DbnbError:
    """The dbnb error for ``error``, raised by a statement of connection ``name``.

    A bound value the database quotes back shows as its ``:name`` (``values`` by
    name, else the statement's own parameters, ``dbnb.config.masking``).

    ``limit`` is the max_rows in force (for ``frames.TooManyRows``, whose statement
    ``result`` is then marked refused in the history); ``where`` names the statement
    in a cell of several ("statement 2 of 3: "); the remedy is worded for where the
    user is (``dbnb.remedies``).
    """
    if isinstance(error, frames.TooManyRows):
        if result is not None:
            monitor.refused(result, f"more than {limit:,} rows (max_rows)")
        which = f"{where.rstrip(': ')} has" if where else "the result has"
        return RowLimitError(
            f"connection {name!r}: {which} more than {limit:,} rows (max_rows); "
            f"{remedies.how_to_raise_max_rows()}, or narrow the query"
        )
    if isinstance(error, exc.StatementError):
        message = masking.mask_values(describe_error(error), values or error.params)
        failure = QueryError(f"{name}: {where}{message}")
        return failure.add_facts(
            connection=name, statement=error.statement, path="guarded", cause=error
        )
    if isinstance(error, UnicodeEncodeError):
        return QueryError(f"{name}: a parameter value cannot be encoded as UTF-8 ({error.reason})")
    raise TypeError(f"not a statement's failure: {error!r}")


# What ``translate`` turns into dbnb's errors.
TRANSLATED = (frames.TooManyRows, exc.StatementError, UnicodeEncodeError)


def describe_error(error: exc.StatementError) -> str:
    """The database's message for a failed statement, on one line."""
    orig = error.orig
    if orig is None or not isinstance(orig, BaseException):
        return one_line(error)
    if isinstance(error, exc.StatementError) and not isinstance(error, exc.DBAPIError):
        # Raised before the database saw the statement, e.g. a missing parameter.
        return one_line(orig)
    diag = getattr(orig, "diag", None)
    message = getattr(diag, "message_primary", None) or one_line(orig)
    position = getattr(diag, "statement_position", None)
    if position:
        message += f" (at character {position})"
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        message += " (the connection was lost; the next statement reconnects)"
    return message
