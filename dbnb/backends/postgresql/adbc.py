"""PostgreSQL's columnar reads: ADBC's PostgreSQL driver, read-only, described first.

ADBC hands results over as Arrow record batches (a binary COPY underneath),
which become Arrow-backed pandas columns without a Python object per value.

- **Described first**: ``describe`` parses the statement on the pooled connection
  and names and types its result columns (``adbc_execute_schema``: nothing
  executed); it runs here only if every column has a rule (``columns.layout``).
  That round trip is also the checkout's ping, and takes the read-only snapshot
  before anything of the caller's statement runs.
- **Read-only, enforced by the server**: connections are opened with
  ``default_transaction_read_only=on`` (libpq ``options``) and autocommit off,
  so every statement runs in a read-only transaction (after the describe the
  server refuses ``SET TRANSACTION READ WRITE`` and
  ``set_config('transaction_read_only', ...)``). Only one statement that starts
  as a query (``params.to_positional``) is ever sent.
- **statement_timeout on the client**: past the deadline the statement is
  cancelled (PQcancel, safe from another thread); the connection, which then saw
  a cancel, is thrown away by the pool's checkout.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_postgresql
import pandas as pd
import pyarrow as pa

from dbnb.backends.postgresql import binds, libpq
from dbnb.backends.postgresql.batches import normalise, read_converting, to_frame
from dbnb.backends.postgresql.catalog import Catalog
from dbnb.backends.postgresql.columns import Column, Stale, layout, needs
from dbnb.backends.postgresql.guards import refusal_reason
from dbnb.config import ConnectionConfig
from dbnb.engine import connecting, interrupts, privileges, readonly, stopping
from dbnb.engine.backend import EngineBackend
from dbnb.errors import QueryError
from dbnb.read import frames
from dbnb.read.arrow_plan import Layout, Plan
from dbnb.read.columnar import Lost, Rules, TimedOut, Unsupported
from dbnb.sql.params import PositionalRules

# Batches of about 4 MB instead of the driver's 16: the Python values of a batch are
# made while the next one is read, and the last batch (made after the read) is short.
_BATCH_BYTES = 4 << 20


def serves(config: ConnectionConfig) -> bool:
    """Whether ``config``'s reads can take this path: psycopg's URL, and driver
    arguments libpq can take as text."""
    return config.url.drivername == "postgresql+psycopg" and all(
        isinstance(value, str | int | float) for value in config.connect_args.values()
    )


class PostgreSQLColumnar:
    """The columnar reads of one PostgreSQL connection (``dbnb.read.columnar.Columnar``)."""

    binds: PositionalRules = binds.POSITIONAL_RULES
    describes = True
    streams = True
    errors: tuple[type[BaseException], ...] = (
        adbc_driver_manager.Error,
        pa.ArrowException,
        OSError,
    )

    def __init__(self, config: ConnectionConfig, backend: EngineBackend) -> None:
        self.config = config
        self._backend = backend  # its engine arguments: both paths connect alike
        self._catalog = Catalog()  # the database's own types, as its reads met them

    def connect(self) -> Any:
        uri = libpq.postgresql_uri(
            self.config, self._backend
        )  # on this thread, which knows the call
        try:
            # libpq's connect blocks in C, where Ctrl-C cannot reach it (and ADBC takes
            # SIGINT over for a call from the main thread): it runs on a worker thread,
            # and Ctrl-C lets go of it at once; a connection it opens after is closed.
            connection = interrupts.abandoned_on_ctrl_c(
                lambda: adbc_postgresql.connect(uri, autocommit=False), _close
            )
        except adbc_driver_manager.Error as error:
            if connecting.timed_out(error):
                raise connecting.no_answer(self.config, self._backend.default_port) from None
            if libpq.refused_login(error):
                # The guarded path would be refused too: said now, not after a second
                # failed login (which a server may count towards locking the account).
                raise self.config.cannot_connect(libpq.connect_failure(error)) from None
            raise
        try:
            self._check_privileges(connection)
        except BaseException:
            _close(connection)  # the pool never saw it: no one else would close it
            raise
        return connection

    def _check_privileges(self, connection: Any) -> None:
        if privileges.needed(self.config):  # until this entry has warned, or has a read_role
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('is_superuser'), current_user")
                superuser, user = cursor.fetchone()
            connection.rollback()
            privilege = f"as the superuser {user!r}" if superuser == "on" else None
            privileges.check(self.config, privilege)

    def describe(self, connection: Any, plan: Plan) -> tuple[Layout, pa.Schema | None]:
        """``None`` rules when this path cannot give the guarded path's frame (a type
        outside the table, or a statement the server will not prepare: the guarded
        path then runs it, once, and gives its message)."""
        cursor = connection.cursor()
        try:
            schema = cursor.adbc_execute_schema(plan.statement.sql, plan.bind)
        except (adbc_driver_manager.Error, OSError) as error:
            if libpq.cancelled(error):
                raise KeyboardInterrupt from None
            if libpq.is_lost(error):
                raise Lost from None
            connection.rollback()  # the failed parse aborted the transaction
            return None, None
        finally:
            cursor.close()
        oids, money, session = needs(schema)
        try:
            if oids or money or session:
                run = functools.partial(_rows, connection)
                self._catalog.learn(run, oids, money, session)
            return layout(schema, self._catalog), schema
        except Stale:
            raise Lost from None  # the checkout throws this connection away, tries another
        except Unsupported:
            return None, schema
        except (adbc_driver_manager.Error, OSError) as error:
            if libpq.cancelled(error):
                raise KeyboardInterrupt from None
            raise Lost from None

    def layout(self, schema: pa.Schema) -> Layout:
        return layout(schema, self._catalog)

    def read_frame(
        self, connection: Any, plan: Plan, timeout: float | None, rules: Rules
    ) -> pd.DataFrame:
        cursor = connection.cursor()
        fired = threading.Event()

        def cancel() -> None:
            fired.set()
            cursor.adbc_cancel()

        deadline = threading.Timer(timeout, cancel) if timeout else None
        try:
            if deadline is not None:
                deadline.start()
            with stopping.stoppable(cursor.adbc_cancel):  # a background job's cancel
                reader = _execute(cursor, plan)
                columns = rules(reader.schema)
                assert columns is not None
                with frames.gc_paused():  # JSON and UUID columns make a value per row
                    frame = read_converting(reader, columns)
        except self.errors:
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

    def execute(self, cursor: Any, plan: Plan) -> pa.RecordBatchReader:
        return _execute(cursor, plan)

    def normalise(self, table: pa.Table, layout: Layout) -> pa.Table:
        return normalise(table, _columns(layout))

    def to_frame(self, table: pa.Table, layout: Layout) -> pd.DataFrame:
        return to_frame(table, _columns(layout))

    def final_error(self, error: BaseException, name: str) -> BaseException:
        if libpq.cancelled(error):
            return KeyboardInterrupt()
        primary = libpq.message(error)
        if libpq.is_lost(error):
            return QueryError(
                f"{name}: {primary} (the connection was lost; the next statement reconnects)"
            )
        if refusal_reason(error) is not None:
            return readonly.refusal(name, primary)
        return QueryError(f"{name}: {primary}")


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _rows(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one of dbnb's own catalog statements, in the read's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _columns(layout: Layout) -> list[Column]:
    assert layout is not None
    return layout


def _execute(cursor: Any, plan: Plan) -> pa.RecordBatchReader:
    cursor.adbc_statement.set_options(
        **{"adbc.postgresql.batch_size_hint_bytes": str(_BATCH_BYTES)}
    )
    cursor.execute(plan.statement.sql, plan.bind)
    return cursor.fetch_record_batch()
