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
events inside the event loop's greenlet, so the guards of ``dbnb.readonly``
are installed on ``async_engine.sync_engine``. Where a guard talks to the
driver connection, the async driver needs its coroutines awaited: psycopg's
``AsyncConnection.set_read_only()`` instead of the ``read_only`` setter,
aiosqlite's ``set_authorizer()`` instead of sqlite3's, both run through
SQLAlchemy's ``await_``. The listeners below are those driver-facing ones;
the statement checks and error translation are ``dbnb.readonly``'s own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, CursorResult, Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable
from sqlalchemy.util import await_only
from sqlmodel.ext.asyncio.session import AsyncSession

from dbnb import binds, failures, frames, limits, monitor, readonly
from dbnb.budget import ConnectionBudget
from dbnb.config import ConnectionConfig
from dbnb.engines import APPLICATION_NAME, _is_memory, _sqlite_url, pool_options
from dbnb.errors import (
    ConfigError,
    DbnbError,
    ReadOnlyError,
)

try:  # SQLAlchemy 2.1
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as await_

if TYPE_CHECKING:
    from dbnb.database import Database

# The async driver dbnb uses for each backend's sync one.
ASYNC_DRIVERS = {"postgresql": "postgresql+psycopg_async", "sqlite": "sqlite+aiosqlite"}
_closing: set[asyncio.Task[None]] = set()


def create_async_engine(
    config: ConnectionConfig, budget: ConnectionBudget | None = None
) -> AsyncEngine:
    """A pooled async engine for ``config``, with dbnb's read-only guards attached; with a
    ``budget``, its server connections count against the connection's one budget."""
    driver = ASYNC_DRIVERS.get(config.backend)
    if driver is None:
        raise ConfigError(
            f"async sessions support {' and '.join(ASYNC_DRIVERS)}, not {config.backend}",
            connection=config.name,
            key="type",
        )
    url = config.url.set(drivername=driver)
    kwargs: dict[str, Any] = {"pool_pre_ping": config.pool_pre_ping}
    connect_args = dict(config.connect_args)
    if config.backend == "sqlite":
        url = _sqlite_url(url, readonly=config.readonly)
        if _is_memory(url):
            budget = None
    if config.backend != "sqlite" or not _is_memory(url):
        kwargs.update(pool_options(config, budget))
    else:
        connect_args.setdefault("application_name", APPLICATION_NAME)
        if config.readonly:
            options = connect_args.get("options", "")
            connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
    engine = _create_async_engine(url, connect_args=connect_args, **kwargs)
    if budget is not None:
        _budgeted(engine, budget)
    # The history first: a guard's error handler may end the chain of handlers.
    monitor.install(engine.sync_engine, config)
    install(engine.sync_engine, connection_name=config.name)
    install_limits(engine.sync_engine, config)
    return engine


def _budgeted(engine: AsyncEngine, budget: ConnectionBudget) -> None:
    """Each async server connection within the connection's budget. The wait for a
    slot runs on a thread, so the event loop goes on (and others can give slots back)."""

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        await_only(asyncio.to_thread(budget.reserve, "async"))
        return budget.open_reserved("async", lambda: dialect.connect(*cargs, **cparams))

    event.listen(engine.sync_engine, "do_connect", connect)
    budget.attach(engine.sync_engine.pool, "async")


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
    database: Database, *, write: bool = False, timeout: float | None = None
) -> AsyncIterator[AsyncConnection]:
    """A pooled async connection whose transactions read only unless ``write``.

    ``timeout`` (seconds) overrides the connection's statement_timeout; 0 lifts it.
    """
    if write and database.config.readonly:
        where = f" in {database.config.source}" if database.config.source else ""
        raise ReadOnlyError(
            f"connection {database.name!r} is marked readonly: true{where}; it never writes"
        )
    engine = database.async_engine
    async_connection = engine.connect()
    try:
        await async_connection.start()
    except exc.DBAPIError as error:
        raise DbnbError(
            f"cannot connect to {database.name!r} ({database.config.safe_url}): "
            f"{' '.join(str(error.orig).split())}"
        ) from None
    options: dict[str, Any] = {readonly.WRITE_OPTION: write}
    if timeout is not None:
        options[limits.TIMEOUT_OPTION] = timeout
    try:
        yield await async_connection.execution_options(**options)
    finally:
        await async_connection.close()


@asynccontextmanager
async def session(database: Database, *, write: bool = False) -> AsyncIterator[AsyncSession]:
    """An async SQLModel session: read-only, or with ``write`` one committed transaction."""
    async with (
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


async def query(
    database: Database,
    sql: str | Executable,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """``Database.query`` for async code: one read-only statement into a DataFrame."""
    values = binds.prepare(sql, params, database.config.backend, database.name)
    statement = binds.executable(sql, values, database.config.backend)
    limit = database.config.max_rows if max_rows is None else max_rows

    results: list[CursorResult[Any]] = []

    def run(sync_connection: Connection) -> pd.DataFrame:
        # The sync path's typed conversion, run in the event loop's greenlet.
        if limit is not None:
            sync_connection = sync_connection.execution_options(stream_results=True)
        result = sync_connection.execute(
            statement, values, execution_options={monitor.REPORTS_FETCH: True}
        )
        results.append(result)  # for the history's refusal record of a capped result
        return frames.to_frame(
            result, statement, max_rows=limit, fetch=monitor.reported(frames.fetch_rows)
        )

    async with connection(database, timeout=timeout) as async_connection:
        try:
            return await async_connection.run_sync(run)
        except failures.TRANSLATED as error:
            raise failures.translate(
                error,
                database.name,
                limit=limit,
                result=results[-1] if results else None,
                caller="aquery",
            ) from None
        finally:
            await async_connection.rollback()


# --- guards -----------------------------------------------------------------------------


def install(engine: Engine, *, connection_name: str) -> None:
    """Attach the read-only guards to the sync engine inside an ``AsyncEngine``."""
    backend = engine.dialect.name
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif backend == "postgresql":
        event.listen(engine, "connect", _pg_connect)
        event.listen(engine, "begin", _pg_begin)

        def before_execute(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
            readonly._pg_before_execute(connection, statement, connection_name)

        def after_execute(connection: Connection, *_: Any) -> None:
            readonly._pg_after_execute(connection, connection_name)

        event.listen(engine, "before_cursor_execute", before_execute)
        event.listen(engine, "after_cursor_execute", after_execute)
        event.listen(engine, "commit", _pg_commit)

    def translate(context: ExceptionContext) -> None:
        readonly._translate_error(context, connection_name)

    event.listen(engine, "handle_error", translate)


def _run(driver_connection: Any, sql: str) -> None:
    """One statement on an aiosqlite connection, from the greenlet."""
    cursor = await_(driver_connection.execute(sql))
    await_(cursor.close())


def _sqlite_lock(driver_connection: Any) -> None:
    await_(driver_connection.set_authorizer(None))
    _run(driver_connection, "PRAGMA query_only = ON")
    await_(driver_connection.set_authorizer(readonly._authorize_read))


def _sqlite_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's adapter sets isolation_level on aiosqlite's own thread.
    dbapi_connection.isolation_level = None
    _sqlite_lock(record.driver_connection)


def _sqlite_begin(connection: Connection) -> None:
    driver_connection = connection.connection.driver_connection
    if readonly.is_write(connection):
        await_(driver_connection.set_authorizer(None))  # type: ignore[union-attr]
        _run(driver_connection, "PRAGMA query_only = OFF")
        _run(driver_connection, "BEGIN IMMEDIATE")
    else:
        _sqlite_lock(driver_connection)
        _run(driver_connection, "BEGIN")


def _pg_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    driver_connection: Any = record.driver_connection
    record.info[readonly._PG_DEFAULT_PREPARE_THRESHOLD] = driver_connection.prepare_threshold
    dbapi_connection.set_read_only(True)


def _pg_begin(connection: Connection) -> None:
    adapter: Any = connection.connection.dbapi_connection
    driver_connection: Any = connection.connection.driver_connection
    if readonly.is_write(connection):
        adapter.set_read_only(False)
        driver_connection.prepare_threshold = connection.connection.info.get(
            readonly._PG_DEFAULT_PREPARE_THRESHOLD, 5
        )
        return
    if adapter.autocommit:
        raise ReadOnlyError(
            "a read-only session cannot run in autocommit mode; " + readonly.HOW_TO_WRITE
        )
    adapter.set_read_only(True)
    driver_connection.prepare_threshold = 0
    # Take the snapshot now, as the sync guard does.
    cursor = adapter.cursor()
    cursor.execute("SELECT 1")
    cursor.close()


def _pg_commit(connection: Connection) -> None:
    if not readonly.is_write(connection):
        adapter: Any = connection.connection.dbapi_connection
        adapter.rollback()


# --- limits -------------------------------------------------------------------------------


def install_limits(engine: Engine, config: ConnectionConfig) -> None:
    """``dbnb.limits`` (statement_timeout) on the sync engine inside an ``AsyncEngine``."""
    if engine.dialect.name == "sqlite":

        def connect(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            watch = record.info[limits._WATCH] = limits._SqliteWatch()
            driver_connection: Any = record.driver_connection
            await_(driver_connection.set_progress_handler(watch, limits._SQLITE_STEPS))

        def before_execute(connection: Connection, *_: Any) -> None:
            watch: limits._SqliteWatch = connection.connection.info[limits._WATCH]
            timeout = limits.timeout_of(connection, config)
            watch.deadline = time.monotonic() + timeout if timeout else None
            watch.timed_out = False

        event.listen(engine, "connect", connect)
        event.listen(engine, "before_cursor_execute", before_execute)
    elif engine.dialect.name == "postgresql":

        def begin(connection: Connection) -> None:
            timeout = limits.timeout_of(connection, config)
            if timeout:
                cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                milliseconds = max(1, round(timeout * 1000))
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"]
                )
                cursor.close()

        event.listen(engine, "begin", begin)

    def translate(context: ExceptionContext) -> None:
        limits._translate(context, config)

    event.listen(engine, "handle_error", translate)
