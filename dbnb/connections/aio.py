"""Async sessions and queries, with the same read-only and write rules as the sync ones.

    async with db.async_session() as s:             # read-only
        rows = (await s.execute(select(Item))).all()
    async with db.async_session(write=True) as s:   # one transaction, committed at the end
        s.add(Item(name="new"))
    df = await db.aquery("SELECT * FROM items WHERE id > :id", {"id": 1})

Jupyter runs cells in an event loop, so ``await`` works at the top level of a
notebook cell. PostgreSQL goes through psycopg's async driver
(``postgresql+psycopg_async``), SQLite through aiosqlite.

An ``AsyncEngine`` wraps a sync engine, and SQLAlchemy runs that engine's
events inside the event loop's greenlet: the guards of ``dbnb.readonly`` and
the limits of ``dbnb.limits`` are installed on ``async_engine.sync_engine`` as
they are on a sync engine, and call the async driver through ``dbnb.drivers``.
A query is read by the sync path's own ``dbnb.read.guarded.read_frame``, run in
that greenlet: its errors are translated as ``Database.query``'s, and nothing here
is a second copy of a rule.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from dbnb.config import ConnectionConfig
from dbnb.engine import connecting, drivers, limits, monitor, readonly, remedies
from dbnb.engine.budget import AsyncBudgetPool, ConnectionBudget
from dbnb.engine.engines import ConnectArguments, engine_arguments, install_guards, no_engine
from dbnb.errors import ConfigError
from dbnb.read import frames, guarded
from dbnb.read.backend import ReadBackend
from dbnb.read.request import ReadRequest
from dbnb.sql.prepared import Prepared

_closing: set[asyncio.Task[None]] = set()


class AsyncBackend(ReadBackend, Protocol):
    """What async sessions ask of a database's backend, beyond a read's."""

    # SQLAlchemy's async driver for the database ("postgresql+psycopg_async"); None: none.
    @property
    def async_driver(self) -> str | None: ...


class AsyncDatabase(Protocol):
    """What async sessions and queries ask of their connection (``Database``)."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> ConnectionConfig: ...

    @property
    def backend(self) -> AsyncBackend: ...

    @property
    def async_engine(self) -> AsyncEngine: ...

    def require_writable(self) -> None: ...

    def prepared(
        self, sql: str | Executable | Prepared, params: Mapping[str, Any] | None
    ) -> Prepared: ...


def create_async_engine(
    config: ConnectionConfig, backend: AsyncBackend, budget: ConnectionBudget | None = None
) -> AsyncEngine:
    """A pooled async engine for ``config``, with its ``backend``'s read-only guards
    attached; with a ``budget``, its server connections count against the connection's
    one budget."""
    driver = backend.async_driver
    if driver is None:
        raise ConfigError(
            f"async sessions are not available for {config.backend} connections",
            connection=config.name,
            key="type",
        )
    arguments = engine_arguments(config, backend, budget=budget, drivername=driver)
    try:
        engine = _create_async_engine(
            arguments.url, connect_args=arguments.connect_args, **arguments.options
        )
    except ImportError as error:  # the async driver of an extra (aiomysql: dbnb[mysql])
        raise ConfigError(
            no_engine(config, backend, error), connection=config.name, key="type"
        ) from None
    install_guards(engine.sync_engine, config, backend)
    _budgeted(engine, config, arguments.budget)  # last: its do_connect listener connects
    return engine


def _budgeted(
    engine: AsyncEngine, config: ConnectionConfig, budget: ConnectionBudget | None
) -> None:
    """Each async server connection within the connection's budget, if it has one (an
    ``AsyncBudgetPool``: the wait for a slot runs on a thread, so the event loop goes
    on and others can give slots back). The whole connect takes at most the connect timeout in force
    (``connecting``): aiomysql's connect_timeout covers the TCP connect only, and the
    server's greeting is read without a limit."""

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        arguments = ConnectArguments(cargs, cparams)  # no local shows the password
        del cargs, cparams
        opening = functools.partial(arguments.connect, dialect)
        seconds = connecting.in_force(config)
        return drivers.await_(asyncio.wait_for(greenlet_spawn(opening), seconds))

    event.listen(engine.sync_engine, "do_connect", connect)
    if budget is not None:
        sync_engine = engine.sync_engine
        sync_engine.pool = AsyncBudgetPool.replacing(sync_engine.pool, budget, "async")


def dispose(engine: AsyncEngine) -> None:
    """Close an async pool from sync code (``Database.close()``).

    Inside a running event loop (a notebook) the pool closes as a task; outside
    one, in a loop of its own.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(engine.dispose())
    else:
        task = loop.create_task(engine.dispose())
        _closing.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(_closing.discard)


# --- sessions and queries -------------------------------------------------------------


@asynccontextmanager
async def connection(
    database: AsyncDatabase, *, write: bool = False, timeout: float | None = None
) -> AsyncIterator[AsyncConnection]:
    """A pooled async connection whose transactions read only unless ``write``.

    ``timeout`` (seconds) overrides the connection's statement_timeout; 0 lifts it.
    """
    if write:
        database.require_writable()
    engine = database.async_engine
    async_connection = engine.connect()
    failure = None
    port = database.backend.default_port  # where the URL names none, for the message
    with connecting.within(timeout):  # the call's timeout bounds connecting too
        try:
            await async_connection.start()
        except exc.DBAPIError as error:
            failure = connecting.failure(database.config, port, error.orig)
        except TimeoutError:  # _budgeted's bound on the whole connect
            failure = connecting.no_answer(database.config, port)
    if failure is not None:
        raise failure  # out here, so it keeps no __context__ (as Database.connection)
    options: dict[str, Any] = {readonly.WRITE_OPTION: write}
    if timeout is not None:
        options[limits.TIMEOUT_OPTION] = timeout
    try:
        yield await async_connection.execution_options(**options)
    finally:
        await async_connection.close()


@asynccontextmanager
async def _origin_async() -> AsyncIterator[None]:
    with remedies.origin("async"):
        yield


@asynccontextmanager
async def session(database: AsyncDatabase, *, write: bool = False) -> AsyncIterator[AsyncSession]:
    """An async SQLModel session: read-only, or with ``write`` one committed transaction."""
    async with (
        _origin_async(),
        connection(database, write=write) as async_connection,
        AsyncSession(bind=async_connection, expire_on_commit=False) as async_session,
    ):
        try:
            yield async_session
        except BaseException:
            await async_session.rollback()
            raise
        if write:
            await async_session.commit()
        else:
            await async_session.rollback()


async def query(database: AsyncDatabase, request: ReadRequest) -> pd.DataFrame:
    """``Database.query`` for async code: one read-only statement into a DataFrame, read
    by the sync path's one guarded read (``guarded.read_frame``), run in the event
    loop's greenlet over the async driver."""
    with remedies.origin("async"):
        prepared = database.prepared(request.sql, request.params)
        statement = prepared.executable()
        limit = request.limit(database.config)

        def run(sync_connection: Connection) -> pd.DataFrame:
            return guarded.read_frame(
                sync_connection,
                statement,
                prepared.values,
                database.backend,
                name=database.name,
                limit=limit,
                fetch=_FETCH,
            )

        async with connection(database, timeout=request.timeout) as async_connection:
            frame: pd.DataFrame = await async_connection.run_sync(run)
            return frame


# No progress bar in async code; the rows are reported to the history.
_FETCH = monitor.reported(frames.fetch_rows)
