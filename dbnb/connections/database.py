"""``Database``: one named connection's sessions and queries."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from sqlalchemy import Table, exc, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.ddl import sort_tables

from dbnb.backends.base import Backend
from dbnb.backends.registry import backend_for
from dbnb.config import ConnectionConfig
from dbnb.connections import health as health_
from dbnb.connections.facade import Facade, Plan, Target
from dbnb.engine import connecting, limits, readonly, remedies
from dbnb.engine.budget import ConnectionBudget
from dbnb.engine.engines import create_engine
from dbnb.errors import DbnbError
from dbnb.read import arrow, formats, parquet, reads
from dbnb.read.request import ReadRequest
from dbnb.sql.prepared import Prepared, SqlRules, prepare

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlmodel import Session
    from sqlmodel.ext.asyncio.session import AsyncSession

    from dbnb.write import Mode

Params = Mapping[str, Any]
M = TypeVar("M")


class Database(Facade):
    """A named connection: a lazily created pooled engine, read-only sessions, queries.

    Get one with ``dbnb.connect(name)``; every caller that asks for the same
    name shares the same ``Database`` and so the same pool. Its database's
    ``backend`` is resolved once, here (``backend``: the registry's, already
    resolved), and handed to every layer below.
    """

    def __init__(self, config: ConnectionConfig, backend: Backend | None = None) -> None:
        super().__init__(config)
        self.backend = backend_for(config.backend) if backend is None else backend
        self.interrupted = self.backend.interrupted
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._lock = threading.Lock()
        # One budget of server connections for every path of this name.
        self.budget = ConnectionBudget(config)
        self._arrow = arrow.ArrowReader(config, self.budget, self.backend)  # columnar path
        self._reads = reads.Reads(config, self._arrow, self.connection, self.backend)

    @property
    def engine(self) -> Engine:
        """The pooled SQLAlchemy engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(self.config, self.backend, budget=self.budget)
            return self._engine

    def load_client(self) -> None:
        """Create the pooled engine, which imports the dialect, its driver and the
        database's backend (``Facade.load_client``)."""
        with suppress(DbnbError):  # a missing driver: health reports it
            _ = self.engine

    def guarded_because(self, prepared: Prepared) -> str | None:
        return self._arrow.guarded_because(prepared)

    @property
    def async_engine(self) -> AsyncEngine:
        """The pooled ``AsyncEngine`` behind ``async_session``/``aquery``, created on first use."""
        from dbnb.connections import aio

        with self._lock:
            if self._async_engine is None:
                self._async_engine = aio.create_async_engine(self.config, self.backend, self.budget)
            return self._async_engine

    def close(self) -> None:
        """Close every pooled connection. Idempotent; the next use opens a new pool."""
        with self._lock:
            engine, self._engine = self._engine, None
            async_engine, self._async_engine = self._async_engine, None
        if engine is not None:
            engine.dispose()
        self._arrow.close()
        if async_engine is not None:
            from dbnb.connections import aio

            aio.dispose(async_engine)

    async def aclose(self) -> None:
        """Close every pooled connection, async ones included, from async code."""
        with self._lock:
            async_engine, self._async_engine = self._async_engine, None
        if async_engine is not None:
            await async_engine.dispose()
        self.close()

    # --- sessions -------------------------------------------------------------------

    @contextmanager
    def connection(
        self, *, write: bool = False, timeout: float | None = None
    ) -> Iterator[Connection]:
        """A pooled SQLAlchemy connection whose transactions read only unless ``write``.

        ``timeout`` (seconds) overrides the connection's statement_timeout; 0 lifts it.
        """
        if write:
            self.require_writable()
        failure: DbnbError | None
        try:
            # Within the budget (or PoolTimeoutError), and within connect_timeout and
            # the call's own timeout (or ConnectError).
            with connecting.within(timeout):
                connection = self.engine.connect()
        except exc.DBAPIError as error:
            with connecting.within(timeout):
                failure = connecting.failure(self.config, self.backend.default_port, error.orig)
        else:
            failure = None
        if failure is not None:
            # Raised out here, so it keeps no __context__: the driver's frames hold
            # the password.
            raise failure
        options: dict[str, Any] = {readonly.WRITE_OPTION: write}
        if timeout is not None:
            options[limits.TIMEOUT_OPTION] = timeout
        with connection:
            yield connection.execution_options(**options)

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A SQLModel/SQLAlchemy session: read-only, or with ``write=True`` one transaction
        that commits when the block ends and rolls back if it raises."""
        from sqlmodel import Session  # SQLModel loads with the first session

        with (
            self.connection(write=write) as connection,
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            if write:
                session.commit()
            else:
                # Detached first: the rollback would expire every object read, and a
                # model read in a read-only session must stay usable after the block.
                session.expunge_all()
                session.rollback()

    def async_session(self, write: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        """``session()`` for async code: ``async with db.async_session(write=True) as s:``."""
        from dbnb.connections import aio

        return aio.session(self, write=write)

    # --- queries --------------------------------------------------------------------

    @functools.cached_property
    def sql_rules(self) -> SqlRules:
        """Its database's lexical, bind and read rules, from its home (found once)."""
        return self.backend.sql_rules

    def prepared(self, sql: str | Executable | Prepared, params: Params | None) -> Prepared:
        """``sql`` parsed and ``params`` bound for this connection's database, once: what
        every later step of a read reads (``dbnb.sql.prepared``)."""
        if isinstance(sql, Prepared):
            return sql  # a cell's, prepared by the cell
        return prepare(sql, params, self.sql_rules, self.name, how_to_bind=remedies.how_to_bind)

    def _read(self, request: ReadRequest) -> formats.Result:
        """``query`` on the SQLAlchemy engine: the columnar path when it was chosen
        before the statement ran, else the guarded one."""
        return self._reads.read(self.prepared(request.sql, request.params), request)

    async def aquery(
        self,
        sql: str | Executable,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> pd.DataFrame:
        """``query()`` for async code: ``df = await db.aquery("SELECT ...", {...})``."""
        from dbnb.connections import aio

        request = ReadRequest.checked(sql, params, timeout=timeout, max_rows=max_rows)
        return await aio.query(self, request)

    def _to_parquet(self, request: ReadRequest, path: str | os.PathLike[str]) -> int:
        assert request.chunksize is not None  # query_to_parquet's own default
        prepared = self.prepared(request.sql, request.params)
        return parquet.write(self._reads.tables(prepared, request.chunksize), path)

    def health(self, timeout: int = health_.CONNECT_TIMEOUT) -> health_.Health:
        """Whether this connection works: reachability, server version, latency,
        read-only enforcement and pool status; waits at most about ``timeout`` seconds
        to connect. Never raises for a connection problem: it is in ``.error``."""
        return health_.check(self, timeout=timeout)

    # --- seeing the data: computed by the database (dbnb.see) ---------------------------

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
        """Plot ``column`` of ``source`` (a table, or a query bound from ``params``) from
        one aggregate statement: ``"hist"`` (``bins``), ``"bar"`` (the ``top`` values),
        ``"box"``; only aggregate rows travel. Returns the Axes (``ax`` or a new one)."""
        from dbnb.see import plots  # matplotlib loads with the first plot

        return plots.plot(self, kind, source, column, params, bins=bins, top=top, ax=ax)

    def profile(self, table: str) -> pd.DataFrame:
        """Per-column ``count``, ``nulls``, ``distinct``, ``min``, ``max``, ``mean``,
        ``top`` of ``table``, computed by the database without fetching the table."""
        from dbnb.see import profile

        return profile.profile(self, table)

    def explain(self, sql: str, params: Params | None = None, analyze: bool = False) -> Plan:
        """The plan of ``sql`` as text (a ``str`` with a one-line ``.summary``):
        PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN as a tree. ``analyze=True``
        runs the statement, inside the read-only transaction, so a write is refused."""
        from dbnb.see import plans

        return plans.explain(self, sql, params, analyze=analyze)

    # --- writes and models ------------------------------------------------------------

    def write(
        self,
        data: Any,
        target: Target,
        mode: Mode = "append",
        *,
        key: str | Sequence[str] | None = None,
        create: bool = False,
        progress: bool | None = None,
    ) -> int:
        """Validate every row of ``data``, then write them all in one transaction.

        ``data``: a DataFrame, model instances or dicts. ``target``: a SQLModel or
        SQLAlchemy table class, a ``Table``, or an existing table's name. ``mode``:
        ``"append"``, ``"upsert"`` (on the primary key, or the unique ``key``) or
        ``"replace"`` (the table's rows become exactly these). ``create=True``
        creates a model's table first if it is missing. Returns the rows written.
        A bad row raises ``dbnb.ValidationError`` before anything is sent; a row
        the database refuses raises ``dbnb.WriteError``; either way nothing is written.
        """
        from dbnb.write import write_rows  # the write path loads with the first write

        return write_rows(self, data, target, mode, key=key, create=create, progress=progress)

    def create_tables(self, *models: type[Any] | Table) -> None:
        """Create the tables of these model classes (or ``Table``s) that do not exist yet."""
        from dbnb.write import resolve

        tables = [resolve(model)[0] for model in models]
        with self.connection(write=True) as connection, connection.begin():
            for table in sort_tables([table for table in tables if table is not None]):
                table.create(connection, checkfirst=True)

    def read_models(
        self,
        model: type[M],
        where: Any = None,
        *,
        order_by: Any = None,
        limit: int | None = None,
    ) -> list[M]:
        """The rows of a model's table as model instances, read in a read-only session.

        ``where``: one SQLAlchemy condition or a list of them (``Shield.defense > 50``).
        Without ``order_by``, rows come in primary key order.
        """
        statement = select(model)
        conditions = where if isinstance(where, list | tuple) else [where]
        statement = statement.where(*(c for c in conditions if c is not None))
        if order_by is None:
            from dbnb.write import resolve

            table = resolve(model)[0]
            order_by = list(table.primary_key.columns) if table is not None else []
        statement = statement.order_by(
            *(order_by if isinstance(order_by, list | tuple) else [order_by])
        )
        if limit is not None:
            statement = statement.limit(limit)
        with self.session() as session:
            found = list(session.execute(statement).scalars())
            session.expunge_all()  # usable after the read-only session rolls back
        return found
