"""The columnar read path: ADBC connections to PostgreSQL, pooled per ``Database``,
that only ever read.

ADBC's PostgreSQL driver hands results over as Arrow record batches (a binary
COPY underneath), which become Arrow-backed pandas columns without a Python
object per value. The path is chosen before a statement runs, never after:

- **Described first**: the statement is described on a pooled connection
  (parsed, its result columns named and typed, nothing executed); it runs here
  only if every column has a rule (``arrow_columns.layout``), else the caller
  runs it on the guarded path. Once it ran here, its error is final: Ctrl-C,
  a statement_timeout (kept on the client, the statement cancelled when it
  passes), a read-only refusal, a lost connection or the server's message,
  worded as on the guarded path. No statement ever runs twice.
- **Pooled within the connection's budget**: each ``Database`` keeps a
  ``QueuePool`` of ADBC connections whose server connections count against
  the one ``ConnectionBudget`` of the name (``dbnb.budget``); the describe is
  also the checkout's ping.
- **Read-only, enforced by the database**: connections are opened with
  ``default_transaction_read_only=on`` (libpq ``options``) and autocommit off,
  so every statement runs in a read-only transaction, whose snapshot the
  describe takes before anything in the caller's statement runs (after that
  the server refuses ``SET TRANSACTION READ WRITE`` and
  ``set_config('transaction_read_only', ...)``). Every transaction is rolled
  back, which also undoes whatever a query set. Only one statement that starts
  as a query (``params.to_positional``) is ever sent, so transaction control
  and ``SET`` never reach these connections.
- **Bound parameters**: ``:name`` binds become ``$n``; values go in an Arrow
  batch typed as psycopg would type them (the smallest integer type, ...).
- **Same dtypes**: the Arrow types are normalised to the documented table
  (``frames.py``); JSON, UUID and unconstrained numerics become Python objects.

A connection that saw an error is thrown away, never pooled again.

SQLite files are read through ADBC's SQLite driver as ``arrow_sqlite`` explains
(a SQLite extension of dbnb's own describes the statement without running it,
makes Ctrl-C stop the engine, and keeps aside every value the driver would
convert); in-memory databases stay on the guarded path.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_postgresql
import pandas as pd
import pyarrow as pa
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from dbnb.config import ConnectionConfig
from dbnb.engine import limits, readonly
from dbnb.engine.backend import backend_for
from dbnb.engine.budget import ConnectionBudget
from dbnb.errors import PoolTimeoutError, QueryError
from dbnb.read import arrow_sqlite, frames, libpq
from dbnb.read.arrow_columns import (
    Column,
    OutOfRange,
    TimedOut,
    Unsupported,
    layout,
    normalise,
    read_converting,
)
from dbnb.read.arrow_plan import Key, Layout, Layouts, Plan
from dbnb.read.arrow_sqlite import Unfaithful
from dbnb.sql.params import Dialect, Unbindable, bind_batch, to_positional

# --- connections ----------------------------------------------------------------------


def dialect_of(config: ConnectionConfig) -> Dialect | None:
    """Which ADBC driver can serve ``config``'s reads, if any."""
    if config.url.drivername == "postgresql+psycopg" and _scalar_args(config):
        return "postgresql"
    if config.url.drivername == "sqlite+pysqlite" and _sqlite_file(config) is not None:
        return "sqlite" if arrow_sqlite.available() else None
    return None


def _scalar_args(config: ConnectionConfig) -> bool:
    return all(isinstance(value, str | int | float) for value in config.connect_args.values())


def _sqlite_file(config: ConnectionConfig) -> str | None:
    """The file of a SQLite connection; None for an in-memory database (another
    connection would see another database) or a URI with options of its own."""
    database = config.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or config.url.query:
        return None
    return database


class ArrowReader:
    """The ADBC connections of one named connection, and reads through them."""

    def __init__(self, config: ConnectionConfig, budget: ConnectionBudget) -> None:
        self.config = config
        self.dialect = dialect_of(config)
        self._budget = budget
        self._layouts = Layouts()  # statements described before, by text and bind types
        self._pool: QueuePool | None = None
        self._lock = threading.Lock()
        self.served = 0  # reads this path answered (the rest took the guarded path)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.dispose()

    def checkedout(self) -> int:
        """Connections in use (0 when nothing is being read)."""
        return self._pool.checkedout() if self._pool is not None else 0

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            return arrow_sqlite.connect(_sqlite_file(self.config) or "")
        return adbc_postgresql.connect(libpq.postgresql_uri(self.config), autocommit=False)

    def _get_pool(self) -> QueuePool:
        with self._lock:
            if self._pool is None:
                recycle = self.config.pool_recycle
                self._pool = QueuePool(
                    lambda: self._budget.open_with("columnar", self._connect),
                    **self._budget.pool_options(),
                    recycle=-1 if recycle is None else recycle,
                    # _checkout rolls back itself (and throws away what failed):
                    # a second rollback by the pool would be one more round trip.
                    reset_on_return=None,
                )
                self._budget.attach(self._pool, "columnar")
            return self._pool

    @contextmanager
    def _checkout(self) -> Iterator[PoolProxiedConnection]:
        """A pooled ADBC connection, thrown away if anything goes wrong while it is out."""
        pool = self._get_pool()
        try:
            connection = pool.connect()
        except PoolTimeoutError:
            raise
        except Exception:
            raise Unsupported("cannot connect through ADBC") from None
        try:
            yield connection
        except BaseException:
            connection.invalidate()
            raise
        else:
            connection.rollback()  # end the read-only transaction before the pool sees it
        finally:
            connection.close()

    @contextmanager
    def _described(self, plan: Plan) -> Iterator[_Checkout]:
        """A pooled connection, and the result columns of ``plan`` described on it.

        On PostgreSQL the statement is described first (parsed, its result columns
        named and typed, nothing executed). That round trip is also the checkout's
        ping: a connection the server dropped while it idled fails it, and is
        replaced, before the statement has run anywhere. With ``pool_pre_ping:
        false`` (no round trip spent on liveness), a statement described before is
        not described again: the types it was described with are checked against
        the run's own. A statement known to need the guarded path takes it at once,
        without a connection of this path."""
        key = plan.key()
        known = self._layouts.get(key) if self.dialect == "postgresql" else None
        if known is not None and known[0] is None:
            yield _Checkout(None, None)  # the guarded path, decided before it ran
            return
        for attempt in (1, 2):
            try:
                with self._checkout() as connection:
                    if known is not None and not self.config.pool_pre_ping:
                        columns, schema = known
                    else:
                        columns, schema = self._describe(connection, plan)
                        if schema is not None:
                            self._layouts.put(key, (columns, schema))
                    yield _Checkout(connection, columns, schema, key)
                    return
            except _Lost:
                if attempt == 2:
                    raise Unsupported("ADBC connections keep failing") from None

    def _same_layout(self, schema: pa.Schema, checkout: _Checkout) -> list[Column]:
        """The rules for the result being read: the ones described, unless the
        result's types changed since (DDL between the describe and the run), in
        which case the run, now final, decides by its own; a type this path cannot
        read is then an error (the statement ran, it is not run again)."""
        if checkout.columns is not None and schema.equals(checkout.schema, check_metadata=True):
            return checkout.columns
        try:
            columns = layout(schema)
        except Unsupported as error:
            if checkout.key is not None:
                self._layouts.put(checkout.key, (None, schema))  # guarded from now on
            raise QueryError(
                f"{self.config.name}: the result's column types changed since the statement "
                f"was described ({error}); it was stopped, run it again"
            ) from None
        if checkout.key is not None:
            self._layouts.put(checkout.key, (columns, schema))
        return columns

    def _describe(
        self, connection: PoolProxiedConnection, plan: Plan
    ) -> tuple[Layout, pa.Schema | None]:
        """The rule for each result column of ``plan`` on PostgreSQL, learnt without
        running it, and the schema described; ``None`` rules when the columnar path
        cannot give the guarded path's frame (a type outside the table, or a
        statement the server will not prepare: the guarded path then runs it, once,
        and gives its message)."""
        if self.dialect != "postgresql":
            return [], None
        cursor = connection.cursor()
        try:
            schema = cursor.adbc_execute_schema(plan.statement.sql, plan.bind)
        except (adbc_driver_manager.Error, OSError) as error:
            if libpq.cancelled(error):
                raise KeyboardInterrupt from None
            if libpq.is_lost(error):
                raise _Lost from None
            connection.rollback()  # the failed parse aborted the transaction
            return None, None
        finally:
            cursor.close()
        try:
            return layout(schema), schema
        except Unsupported:
            return None, schema

    def plan(self, sql: Any, params: Mapping[str, Any]) -> Plan | None:
        """How to run ``sql`` here, or None when it must take the guarded path."""
        if self.dialect is None or not isinstance(sql, str):
            return None
        statement = to_positional(sql, self.dialect)
        if statement is None:
            return None
        try:
            return Plan(statement, bind_batch(statement, params, self.dialect))
        except (Unbindable, UnicodeEncodeError, pa.ArrowException):
            return None  # the guarded path names the value it cannot send

    def read_frame(self, plan: Plan, timeout: float | None = None) -> pd.DataFrame | None:
        """The whole result as a DataFrame; None to take the guarded path, decided
        before the statement runs. Past ``timeout`` seconds the statement is
        cancelled: ``QueryTimeoutError``. Once it has run, any error is final."""
        try:
            with self._described(plan) as checkout:
                if checkout.columns is None:
                    return None
                if self.dialect == "sqlite":
                    try:
                        frame = arrow_sqlite.read_frame(
                            checkout.connection, plan.statement, plan.bind, timeout
                        )
                    except arrow_sqlite.Failed as error:  # it ran: its error, never a rerun
                        raise QueryError(f"{self.config.name}: {error}") from None
                else:
                    frame = self._read_postgresql(checkout, plan, timeout)
        except TimedOut:
            raise limits.timeout_error(self.config, timeout) from None
        except (Unsupported, Unfaithful):
            return None
        except OutOfRange as error:
            raise QueryError(f"{self.config.name}: {error}") from None
        except (adbc_driver_manager.Error, pa.ArrowException, OSError) as error:
            raise self._final_error(error) from None
        self.served += 1
        return frame

    def _read_postgresql(
        self, checkout: _Checkout, plan: Plan, timeout: float | None
    ) -> pd.DataFrame:
        cursor = checkout.connection.cursor()
        # Past the deadline the server cancels the statement (PQcancel, safe from
        # another thread); the connection, which then saw a cancel, is thrown away
        # by the checkout.
        fired = threading.Event()

        def cancel() -> None:
            fired.set()
            cursor.adbc_cancel()

        deadline = threading.Timer(timeout, cancel) if timeout else None
        try:
            if deadline is not None:
                deadline.start()
            reader = _execute(cursor, plan)
            columns = self._same_layout(reader.schema, checkout)
            with frames.gc_paused():  # JSON and UUID columns make a value per row
                frame = read_converting(reader, columns)
        except (adbc_driver_manager.Error, pa.ArrowException, OSError):
            if fired.is_set():
                raise TimedOut from None
            raise
        except KeyboardInterrupt:
            # Ctrl-C between two of the driver's calls (its own calls cancel on
            # their own): stop the statement on the server before letting go.
            cursor.adbc_cancel()
            raise
        finally:
            if deadline is not None:
                deadline.cancel()
                deadline.join()  # a cancel under way ends before the cursor closes
            cursor.close()
        if fired.is_set():
            raise TimedOut  # the cancel came as the last rows did
        return frame

    def _final_error(self, error: BaseException) -> BaseException:
        """The error of a statement that ran (and is not run again): Ctrl-C (the
        driver cancelled the statement on the server), a read-only refusal, a lost
        connection, or the server's message, worded as on the guarded path."""
        if libpq.cancelled(error):
            return KeyboardInterrupt()
        primary = libpq.message(error)
        if libpq.is_lost(error):
            return QueryError(
                f"{self.config.name}: {primary} (the connection was lost; "
                "the next statement reconnects)"
            )
        if backend_for("postgresql").refusal_reason(error) is not None:
            return readonly.refusal(self.config.name, primary)
        return QueryError(f"{self.config.name}: {primary}")

    def stream(self, plan: Plan, rows: int) -> Generator[tuple[pa.Table, list[Column]]] | None:
        """Normalised tables of ``rows`` rows (the last may be shorter), read as they
        arrive; None to take the guarded path, decided before the statement runs.
        The connection stays out until the iterator is exhausted or closed."""
        chunks = self._chunks(plan, rows)
        try:
            taken = next(chunks)  # describes, and runs the statement if this path takes it
        except (adbc_driver_manager.Error, pa.ArrowException, OSError) as error:
            raise self._final_error(error) from None
        except Unsupported:
            return None
        if taken is None:
            return None
        self.served += 1
        return chunks

    def _chunks(self, plan: Plan, rows: int) -> Generator[Any]:
        with self._described(plan) as checkout:
            if checkout.columns is None:
                yield None
                return
            cursor = checkout.connection.cursor()
            try:
                reader = _execute(cursor, plan)
                columns = self._same_layout(reader.schema, checkout)
                yield True
                pending = reader.schema.empty_table()
                finished = empty = True
                try:
                    finished = False
                    for batch in reader:
                        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
                        while pending.num_rows >= rows:
                            empty = False
                            yield normalise(pending.slice(0, rows), columns), columns
                            pending = pending.slice(rows)
                    finished = True
                except (adbc_driver_manager.Error, pa.ArrowException, OSError) as error:
                    raise self._final_error(error) from None
                except OutOfRange as error:
                    raise QueryError(f"{self.config.name}: {error}") from None
                finally:
                    if not finished:  # stop the server sending the rest
                        cursor.adbc_cancel()
                if pending.num_rows or empty:  # an empty result still has its columns
                    yield normalise(pending, columns), columns
            finally:
                cursor.close()

    @property
    def _dialect(self) -> Dialect:
        assert self.dialect is not None
        return self.dialect


@dataclass(frozen=True)
class _Checkout:
    connection: Any  # PoolProxiedConnection; None when the guarded path was known
    columns: Layout
    schema: pa.Schema | None = None  # as described (PostgreSQL)
    key: Key | None = None


class _Lost(Exception):
    """The connection was gone before the statement ran."""


# Batches of about 4 MB instead of the driver's 16: the Python values of a batch are
# made while the next one is read, and the last batch (made after the read) is short.
_BATCH_BYTES = 4 << 20


def _execute(cursor: Any, plan: Plan) -> pa.RecordBatchReader:
    cursor.adbc_statement.set_options(
        **{"adbc.postgresql.batch_size_hint_bytes": str(_BATCH_BYTES)}
    )
    cursor.execute(plan.statement.sql, plan.bind)
    return cursor.fetch_record_batch()
