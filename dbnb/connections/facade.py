"""``Facade``: what every named connection offers, whichever way it is reached.

Most databases are reached through SQLAlchemy (``dbnb.connections.database.Database``).
A database that has no SQLAlchemy dialect (Apache Spark, through Spark
Connect) brings its own facade from its backend (``Backend.open``),
which implements this same public API: ``query`` (with ``chunksize``),
``query_to_parquet``, ``write``, ``health``, ``close``, ``name``/``config``.
What only SQLAlchemy can give (``engine``, ``session``, ``connection``, models)
raises one ``DbnbError`` naming the connection there.

Front ends (cells, magics, the CLI, ``dbnb.connections.inspect``, health) take a ``Facade``
and ask it, never which database it is: where they need something a facade
does its own way, it is a method here whose default is SQLAlchemy's way
(``catalog()`` and ``run_cell()`` return None: "use the SQLAlchemy connection").
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    NoReturn,
    TypeAlias,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

from dbnb.config import ConnectionConfig
from dbnb.errors import DbnbError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from matplotlib.axes import Axes
    from sqlalchemy import Select, Table
    from sqlalchemy.engine import Connection, Dialect, Engine
    from sqlalchemy.sql import Executable
    from sqlmodel import Session
    from sqlmodel.ext.asyncio.session import AsyncSession

    from dbnb.connections.health import Health
    from dbnb.read.explore import Explorer
    from dbnb.read.formats import Output, Result
    from dbnb.read.jobs import Job
    from dbnb.read.request import ReadRequest
    from dbnb.sql.prepared import Prepared, SqlRules
    from dbnb.write import Mode

Params = Mapping[str, Any]
# What a read runs: SQL text with :name placeholders, or a SQLAlchemy/SQLModel select().
Statement: TypeAlias = "str | Executable"
# Where a write goes: an existing table's name, a SQLModel or SQLAlchemy table class, a Table.
Target: TypeAlias = "str | type[Any] | Table"
M = TypeVar("M")


class QueryOptions(TypedDict, total=False):
    """``query``'s options that ``submit`` passes on (not ``chunksize``: a job's result
    is whole)."""

    timeout: float | None
    max_rows: int | None
    progress: bool | None
    output: Output


# The columns of ``dbnb.tables()`` and ``dbnb.describe()``, on every database.
TABLE_COLUMNS = ["schema", "table", "kind"]
DESCRIBE_COLUMNS = ["column", "type", "nullable", "default", "primary_key", "references"]


@dataclass(frozen=True)
class CellRun:
    """What a facade's own run of a cell's statements did."""

    frame: pd.DataFrame | None  # the rows of the last statement that returned rows
    source: int | None  # that statement's index
    changed: int  # rows changed, where the database counts them (else 0)


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


class Catalog(abc.ABC):
    """A database's own listing of tables and columns (``%db tables``, ``describe``)."""

    @abc.abstractmethod
    def tables(self, schema: str | None) -> pd.DataFrame:
        """Columns ``TABLE_COLUMNS``, sorted by name."""

    @abc.abstractmethod
    def describe(self, table: str, schema: str | None) -> pd.DataFrame:
        """Columns ``DESCRIBE_COLUMNS``, in the table's order."""


class Facade(abc.ABC):
    """One named connection: its queries, writes, health; shared by every caller of the name."""

    # What Ctrl-C does to a statement still running, as the notebook says it ("cancelled
    # on the server"); None: nothing dbnb can promise.
    interrupted: str | None = None

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    def __repr__(self) -> str:
        mode = ", readonly" if self.config.readonly else ""
        return f"<{type(self).__name__} {self.name!r} {self.config.safe_url}{mode}>"

    def require_writable(self) -> None:
        """Raise ``ReadOnlyError`` if this connection is marked ``readonly: true``."""
        if self.config.readonly:
            raise self.config.never_writes()

    # --- what every connection does -------------------------------------------------

    @overload
    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: None = None,
        output: Literal["pandas"] = "pandas",
    ) -> pd.DataFrame: ...

    @overload
    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: int,
        output: Literal["pandas"] = "pandas",
    ) -> Iterator[pd.DataFrame]: ...

    @overload
    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: None = None,
        output: Literal["arrow"],
    ) -> pa.Table: ...

    @overload
    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: int,
        output: Literal["arrow"],
    ) -> Iterator[pa.Table]: ...

    @overload
    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: int | None = None,
        output: Literal["polars"],
    ) -> Any: ...  # a polars DataFrame, or an iterator of them (polars is an extra)

    def query(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        progress: bool | None = None,
        chunksize: int | None = None,
        output: Output = "pandas",
    ) -> Any:
        """Run one read-only statement and return its rows as a DataFrame.

        ``sql`` is SQL text with ``:name`` placeholders, bound from ``params``
        (never spliced into the text; ``:n::int`` casts, and colons inside
        literals and comments are no placeholders), or a SQLAlchemy/SQLModel ``select()``.
        ``timeout`` (seconds) and ``max_rows`` override the connection's
        statement_timeout and max_rows for this call. ``progress`` counts rows
        as they are fetched; by default only when someone is watching (a
        terminal or a notebook). With ``chunksize=N``, an iterator of DataFrames
        of at most N rows each, read as they are consumed (memory bounded by one
        chunk; max_rows and progress do not apply). ``output="polars"`` or
        ``"arrow"`` gives a polars DataFrame or a ``pyarrow.Table`` instead (chunks too),
        with the types ``dbnb.read.formats`` documents.
        """
        from dbnb.read.request import ReadRequest

        request = ReadRequest.checked(
            sql,
            params,
            output=output,
            chunksize=chunksize,
            max_rows=max_rows,
            timeout=timeout,
            progress=progress,
        )
        return self._read(request)

    def read(self, request: ReadRequest) -> Result:
        """``query`` of a request already checked (``ReadRequest.checked``), or made by
        dbnb itself: a cell's statement, prepared (``sql_rules``) and bound."""
        return self._read(request)

    @abc.abstractmethod
    def _read(self, request: ReadRequest) -> Result:
        """``query``, this database's way; the request's options are checked."""

    def query_to_parquet(
        self,
        sql: Statement,
        path: str | os.PathLike[str],
        params: Params | None = None,
        *,
        chunksize: int = 100_000,
    ) -> int:
        """Write the result of one read-only statement to a Parquet file, ``chunksize``
        rows at a time (one row group each), whole or not at all; the rows written."""
        from dbnb.read.request import ReadRequest

        return self._to_parquet(ReadRequest.checked(sql, params, chunksize=chunksize), path)

    @abc.abstractmethod
    def _to_parquet(self, request: ReadRequest, path: str | os.PathLike[str]) -> int:
        """``query_to_parquet``, this database's way; the request's options are checked."""

    @property
    @abc.abstractmethod
    def sql_rules(self) -> SqlRules:
        """How this database's SQL text reads, how its driver binds, what a read may send
        (its home's, for ``dbnb.sql.prepared.prepare``)."""

    @abc.abstractmethod
    def write(
        self,
        data: Any,  # a DataFrame, model instances or dicts (models share no type)
        target: Target,
        mode: Mode = "append",
        *,
        key: str | Sequence[str] | None = None,
        create: bool = False,
        progress: bool | None = None,
    ) -> int:
        """Validate every row of ``data``, then write them all; the rows written."""

    @abc.abstractmethod
    def health(self, timeout: int = 5) -> Health:
        """Whether this connection works; never raises for a connection problem."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close what this connection holds open. Idempotent."""

    @abc.abstractmethod
    def load_client(self) -> None:
        """Import what this connection's client needs (driver, dialect, backend) now, on
        the calling thread. Several connections checked at once on threads must not
        import one module from two threads: a package whose modules import each other
        is then seen half-initialized (``ImportError: cannot import name ... from
        partially initialized module``). Never raises: what cannot load fails again,
        reported, when it is used."""

    # --- what a facade may do its own way (None: SQLAlchemy's way) --------------------

    def catalog(self) -> Catalog | None:
        """Its own listing of tables and columns; None: SQLAlchemy's inspector reads them."""
        return None

    def run_cell(
        self, statements: Sequence[str], values: Sequence[Params], *, write: bool
    ) -> CellRun | None:
        """Run a ``%%db`` cell's statements its own way; None: on a SQLAlchemy connection."""
        return None

    def guarded_because(self, prepared: Prepared) -> str | None:
        """Why a read of ``prepared`` that ran took the guarded path, where a column type
        did it (``"column 'p': point"``); None when it did not, or the reason is not known."""
        return None

    @property
    def sql_dialect(self) -> Dialect:
        """The SQLAlchemy dialect that writes this database's SQL: what dbnb compiles a
        ``select()`` it builds itself with (``db.explore``), sent as text where the
        connection takes no ``select()``."""
        return self.engine.dialect

    @property
    def takes_select(self) -> bool:
        """Whether ``query`` takes a SQLAlchemy ``select()`` (else SQL text only)."""
        return True

    # --- what only SQLAlchemy gives ------------------------------------------------------

    def _no_sqlalchemy(self, what: str) -> NoReturn:
        raise DbnbError(
            f"connection {self.name!r} ({self.config.backend}) is not reached through "
            f"SQLAlchemy, so it has no {what}; use db.query(...) to read and db.write(...) to write"
        )

    @property
    def engine(self) -> Engine:
        """The pooled SQLAlchemy engine (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.engine")

    def connection(
        self, *, write: bool = False, timeout: float | None = None
    ) -> AbstractContextManager[Connection]:
        """A pooled SQLAlchemy connection (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.connection()")

    def session(self, write: bool = False) -> AbstractContextManager[Session]:
        """A SQLModel/SQLAlchemy session (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.session()")

    def create_tables(self, *models: type[Any] | Table) -> None:
        """Create model tables (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.create_tables()")

    def read_models(
        self,
        model: type[M],
        where: Any = None,
        *,
        order_by: Any = None,
        limit: int | None = None,
    ) -> list[M]:
        """A model's rows as instances (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.read_models()")

    def async_session(self, write: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        """An async session (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.async_session()")

    async def aquery(
        self,
        sql: Statement,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> pd.DataFrame:
        """``query()`` for async code (SQLAlchemy connections only)."""
        self._no_sqlalchemy("db.aquery()")

    # --- what dbnb.see computes through SQLAlchemy (not yet on other databases) ---------

    def plot(
        self,
        kind: str,
        source: str,
        column: str,
        params: Params | None = None,
        *,
        bins: int = 10,
        top: int = 10,
        ax: Axes | None = None,
    ) -> Axes:
        """A plot computed by the database (SQLAlchemy connections only, for now)."""
        self._no_sqlalchemy("db.plot()")

    def profile(self, table: str) -> pd.DataFrame:
        """Per-column statistics (SQLAlchemy connections only, for now)."""
        self._no_sqlalchemy("db.profile()")

    def explain(self, sql: str, params: Params | None = None, analyze: bool = False) -> Plan:
        """The plan of ``sql`` (SQLAlchemy connections only, for now)."""
        self._no_sqlalchemy("db.explain()")

    def explore(
        self, source: str | Select[Any], params: Params | None = None, page_size: int = 50
    ) -> Explorer:
        """A view of ``source`` (a table's name, SQL text with ``:name`` placeholders, or
        a ``select()``) that the database pages, sorts, filters, searches and counts:
        ``.page(n)``, ``.sort(column)``, ``.filter(column, op, value)``, ``.search(text)``,
        ``.count()``, ``.sql()``, ``.frame()``; in a notebook, its first page."""
        from dbnb.read.explore import explore  # loads with the first exploration

        return explore(self, source, params, page_size)

    def submit(
        self, sql: Statement, params: Params | None = None, **query_options: Unpack[QueryOptions]
    ) -> Job:
        """Run ``query(sql, params, **query_options)`` in the background: a ``dbnb.Job``,
        the ``concurrent.futures.Future`` of its result (``.result()``, ``.done()``,
        ``.cancel()``, which stops the statement on the server). It holds one slot of the
        connection budget while it runs; ``dbnb.jobs()`` lists the jobs."""
        from dbnb.read import jobs

        return jobs.submit(self, sql, params, query_options)

    async def aclose(self) -> None:
        """``close()`` from async code."""
        self.close()
