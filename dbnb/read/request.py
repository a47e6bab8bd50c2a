"""One read as its caller asked for it: the statement and its options, checked once.

``Facade.query`` (and ``aquery``, ``query_to_parquet``) turns its arguments into
a ``ReadRequest`` with ``ReadRequest.checked`` and hands it to the database's
``_read``: a bad option is an ``OptionError`` naming it before anything is
opened, and nothing after this checks an option again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql import Executable

from dbnb.errors import OptionError
from dbnb.read import formats
from dbnb.sql.prepared import Prepared

if TYPE_CHECKING:
    from dbnb.config import ConnectionConfig


@dataclass(frozen=True)
class ReadRequest:
    """What to read and how; its options as ``checked`` leaves them."""

    # SQL text, a select(), or a statement dbnb prepared already (a cell's).
    sql: str | Executable | Prepared
    params: Mapping[str, Any] | None = None
    output: formats.Output = "pandas"
    chunksize: int | None = None  # rows per chunk; None: the whole result
    max_rows: int | None = None  # this call's cap; None: the connection's
    timeout: float | None = None  # this call's statement_timeout; None: the connection's
    progress: bool | None = None  # None: when someone is watching

    @classmethod
    def checked(
        cls,
        sql: Any,
        params: Any = None,
        *,
        output: Any = "pandas",
        chunksize: Any = None,
        max_rows: Any = None,
        timeout: Any = None,
        progress: bool | None = None,
    ) -> ReadRequest:
        """A request from a caller's arguments, each checked: ``OptionError`` names the
        first that dbnb does not take, and what it takes."""
        if not isinstance(sql, str | Executable):
            raise OptionError(
                f"the statement must be SQL text or a select(), not {type(sql).__name__}"
            )
        return cls(
            sql,
            _params(params),
            output=formats.check(output),
            chunksize=None if chunksize is None else rows(chunksize),
            max_rows=_max_rows(max_rows),
            timeout=_timeout(timeout),
            progress=progress,
        )

    def limit(self, config: ConnectionConfig) -> int | None:
        """The max_rows in force: this call's, else the connection's."""
        return config.max_rows if self.max_rows is None else self.max_rows


def rows(chunksize: Any) -> int:
    """``chunksize`` if it is a positive number of rows; else an ``OptionError``."""
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise OptionError(f"chunksize must be a positive number of rows, not {chunksize!r}")
    return chunksize


def _max_rows(max_rows: Any) -> int | None:
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise OptionError(f"max_rows must be a number of rows, 0 or more, not {max_rows!r}")
    return max_rows


def _timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise OptionError(
            f"timeout must be a number of seconds, 0 or more (0 lifts the statement_timeout), "
            f"not {timeout!r}"
        )
    return timeout


def _params(params: Any) -> Mapping[str, Any] | None:
    """``params`` as a mapping of names to values (pairs are taken, as ``dict()`` takes
    them); else an ``OptionError``."""
    if params is None or isinstance(params, Mapping):
        return params
    try:
        return dict(params)
    except (TypeError, ValueError):
        raise OptionError(
            f"params must map each :name to its value (a dict), not {type(params).__name__}"
        ) from None
