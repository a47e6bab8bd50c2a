"""The columnar read path: ADBC connections, pooled per ``Database``, that only ever read.

ADBC drivers hand results over as Arrow record batches, which become
Arrow-backed pandas columns without a Python object per value. What each
database does differently is its backend's ``Columnar`` (``read/columnar.py``);
what they share is here. The path is chosen before a statement runs, never
after:

- **Decided first**: a statement runs here only if its plan can be bound for the
  driver and, where the database describes statements ahead (PostgreSQL), every
  result column has a rule; else the caller runs it on the guarded path. Once
  it ran here, its error is final: Ctrl-C, a statement_timeout, a read-only
  refusal, a lost connection or the database's message, worded as on the
  guarded path. No statement ever runs twice.
- **Pooled within the connection's budget**: each ``Database`` keeps a
  ``BudgetPool`` of ADBC connections whose server connections count against
  the one ``ConnectionBudget`` of the name (``dbnb.engine.budget``); the describe
  is also the checkout's ping.
- **Read-only, enforced by the database** on each backend's connections, and
  only one statement that starts as a query (``params.to_positional``, read
  from the statement ``dbnb.sql.prepared`` parsed) is ever sent, so
  transaction control and ``SET`` never reach them. Every transaction
  is rolled back; a connection that saw an error is thrown away.
- **Bound parameters**: ``:name`` binds become positional ones; values go in an
  Arrow batch typed as the guarded driver would type them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.pool import PoolProxiedConnection

from dbnb.config import ConnectionConfig, masking
from dbnb.engine import limits, stopping
from dbnb.engine.budget import BudgetPool, ConnectionBudget
from dbnb.errors import DbnbError, QueryError
from dbnb.read.arrow_plan import Key, Layout, Layouts, Plan
from dbnb.read.backend import ReadBackend
from dbnb.read.columnar import (
    Columnar,
    Failed,
    Lost,
    OutOfRange,
    Rules,
    TimedOut,
    Unsupported,
)
from dbnb.sql.params import Unbindable, bind_batch
from dbnb.sql.prepared import Prepared

# --- connections ----------------------------------------------------------------------


class ArrowReader:
    """The ADBC connections of one named connection, and reads through them."""

    def __init__(
        self, config: ConnectionConfig, budget: ConnectionBudget, backend: ReadBackend
    ) -> None:
        self.config = config
        self._budget = budget
        self._backend = backend
        self._layouts = Layouts()  # statements described before, by text and bind types
        self._pool: BudgetPool | None = None
        self._lock = threading.Lock()
        self.served = 0  # reads this path answered (the rest took the guarded path)

    @functools.cached_property
    def columnar(self) -> Columnar | None:
        """The backend's columnar reads, found on first use: its driver's imports
        (ADBC's, polars') are left to the first read, not paid to open a connection."""
        return self._backend.columnar(self.config)

    @property
    def streams(self) -> bool:
        """Whether results may be read here in chunks as they arrive."""
        return self.columnar is not None and self.columnar.streams

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Retired, not just disposed: a stream still reading gives its connection
            # back to this pool, which no one would use or close again.
            pool.retire()

    def checkedout(self) -> int:
        """Connections in use (0 when nothing is being read)."""
        return self._pool.checkedout() if self._pool is not None else 0

    def _get_pool(self, columnar: Columnar) -> BudgetPool:
        with self._lock:
            if self._pool is None:
                recycle = self.config.pool_recycle
                self._pool = BudgetPool(
                    columnar.connect,
                    budget=self._budget,
                    path="columnar",
                    recycle=-1 if recycle is None else recycle,
                    # _checkout rolls back itself (and throws away what failed):
                    # a second rollback by the pool would be one more round trip.
                    reset_on_return=None,
                )
            return self._pool

    @contextmanager
    def _checkout(self, columnar: Columnar) -> Iterator[PoolProxiedConnection]:
        """A pooled ADBC connection, thrown away if anything goes wrong while it is out."""
        pool = self._get_pool(columnar)
        try:
            connection = pool.connect()
        except DbnbError:
            # No server to read from, one that refused the login, or a password that
            # could not be had (a password_command): the guarded path would meet it again.
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
    def _described(self, columnar: Columnar, plan: Plan) -> Iterator[_Checkout]:
        """A pooled connection, and the result columns of ``plan`` described on it.

        Where the database describes statements ahead (parsed, result columns named
        and typed, nothing executed), that round trip is also the checkout's ping: a
        connection the server dropped while it idled fails it, and is replaced,
        before the statement has run anywhere. With ``pool_pre_ping: false`` (no
        round trip spent on liveness), a statement described before is not described
        again: the types it was described with are checked against the run's own. A
        statement known to need the guarded path takes it at once, without a
        connection of this path."""
        key = plan.key()
        known = self._layouts.get(key) if columnar.describes else None
        if known is not None and known[0] is None:
            yield _Checkout(None, None)  # the guarded path, decided before it ran
            return
        for attempt in (1, 2):
            try:
                with self._checkout(columnar) as connection:
                    if known is not None and not self.config.pool_pre_ping:
                        columns, schema = known
                    else:
                        columns, schema = columnar.describe(connection, plan)
                        if schema is not None:
                            self._layouts.put(key, (columns, schema))
                    yield _Checkout(connection, columns, schema, key)
                    return
            except Lost:
                if attempt == 2:
                    raise Unsupported("ADBC connections keep failing") from None

    def _same_layout(self, columnar: Columnar, checkout: _Checkout) -> Rules:
        """The rules for the result being read: the ones described, unless the
        result's types changed since (DDL between the describe and the run), in
        which case the run, now final, decides by its own; a type this path cannot
        read is then an error (the statement ran, it is not run again)."""

        def rules(schema: pa.Schema) -> Layout:
            if checkout.columns is not None and schema.equals(checkout.schema, check_metadata=True):
                return checkout.columns
            try:
                columns = columnar.layout(schema)
            except Unsupported as error:
                if checkout.key is not None:
                    self._layouts.put(checkout.key, (None, schema))  # guarded from now on
                raise QueryError(
                    f"{self.config.name}: the result's column types changed since the "
                    f"statement was described ({error}); it was stopped, run it again"
                ) from None
            if checkout.key is not None:
                self._layouts.put(checkout.key, (columns, schema))
            return columns

        return rules

    def guarded_because(self, prepared: Prepared) -> str | None:
        """The column that sent a read of ``prepared`` to the guarded path (its type has
        no rule here), as found when it was described; None if none did. Asks nothing of
        the server: the description is the one kept for the next run."""
        columnar = self.columnar
        plan = self.plan(prepared)
        if columnar is None or plan is None:
            return None
        known = self._layouts.get(plan.key())
        if known is None or known[0] is not None or known[1] is None:
            return None
        try:
            columnar.layout(known[1])
        except Unsupported as error:
            return str(error)
        return None

    def plan(self, prepared: Prepared) -> Plan | None:
        """How to run ``prepared`` here, or None when it must take the guarded path."""
        columnar = self.columnar
        if columnar is None or prepared.statement is None:
            return None  # a select() is SQLAlchemy's to compile
        if prepared.refusal() is not None:
            return None  # the guarded path refuses it, with its message, before sending it
        statement = prepared.positional(columnar.binds)
        if statement is None:
            return None
        try:
            return Plan(statement, bind_batch(statement, prepared.values, columnar.binds))
        except (Unbindable, UnicodeEncodeError, pa.ArrowException):
            return None  # the guarded path names the value it cannot send

    def read_frame(self, plan: Plan, timeout: float | None = None) -> pd.DataFrame | None:
        """The whole result as a DataFrame; None to take the guarded path, decided
        before the statement runs. Past ``timeout`` seconds the statement is
        cancelled: ``QueryTimeoutError``. Once it has run, any error is final."""
        columnar = self.columnar
        assert columnar is not None, "plan() gives no plan without a columnar backend"
        failure: BaseException
        try:
            with self._described(columnar, plan) as checkout:
                if checkout.columns is None:
                    return None
                rules = self._same_layout(columnar, checkout)
                frame = columnar.read_frame(checkout.connection, plan, timeout, rules)
        except TimedOut:
            failure = limits.timeout_error(self.config, timeout)
        except Unsupported:
            return None
        except (OutOfRange, Failed) as error:  # it ran: its error, never a rerun
            failure = QueryError(f"{self.config.name}: {error}")
        except columnar.errors as error:
            failure = self._with_facts(columnar.final_error(error, self.config.name), plan, error)
        else:
            self.served += 1
            return frame
        raise self._masked(self._with_facts(failure, plan), plan)  # out here: see _masked

    def _with_facts(
        self, failure: BaseException, plan: Plan, cause: BaseException | None = None
    ) -> BaseException:
        if isinstance(failure, QueryError):
            failure.add_facts(
                connection=self.config.name,
                statement=plan.statement.sql,
                path="columnar",
                cause=cause,
            )
        return failure

    def _masked(self, failure: BaseException, plan: Plan) -> BaseException:
        """``failure`` with the bound values the database quoted back shown as their
        ``:name`` and the password masked (``dbnb.config.masking``). Raised outside the
        ``except`` that made it, it keeps no ``__context__``: the driver's error quotes
        the values, and its frames hold them (connectorx's, the URL with the password)."""
        if isinstance(failure, QueryError):
            text = self.config.mask(masking.mask_values(str(failure), plan.values()))
            if text != str(failure):
                facts = failure.facts()
                failure = type(failure)(text)
                for fact, value in facts.items():
                    setattr(failure, fact, value)
        return failure

    def stream(self, plan: Plan, rows: int) -> Generator[Chunk] | None:
        """Normalised tables of ``rows`` rows (the last may be shorter), read as they
        arrive; None to take the guarded path, decided before the statement runs.
        The connection stays out until the iterator is exhausted or closed."""
        columnar = self.columnar
        assert columnar is not None
        assert columnar.streams
        chunks = self._chunks(columnar, plan, rows)
        failure: BaseException | None
        try:
            taken = next(chunks)  # describes, and runs the statement if this path takes it
        except columnar.errors as error:
            failure = self._with_facts(columnar.final_error(error, self.config.name), plan, error)
        except Unsupported:
            return None
        else:
            failure = None
        if failure is not None:
            raise self._masked(failure, plan)
        if taken is None:
            return None
        self.served += 1
        return chunks

    def _chunks(self, columnar: Columnar, plan: Plan, rows: int) -> Generator[Any]:
        name = self.config.name
        with self._described(columnar, plan) as checkout:
            if checkout.columns is None:
                yield None
                return
            cursor = checkout.connection.cursor()
            try:
                # A background job's cancel stops it as Ctrl-C would (dbnb.engine.stopping).
                with stopping.stoppable(cursor.adbc_cancel):
                    reader = columnar.execute(cursor, plan)
                    columns = self._same_layout(columnar, checkout)(reader.schema)
                    yield True
                    pending = pa.Table.from_batches([], schema=reader.schema)
                    finished = empty = True
                    failure: BaseException | None = None
                    try:
                        finished = False
                        for batch in reader:
                            stopping.add_rows(batch.num_rows)
                            pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
                            while pending.num_rows >= rows:
                                empty = False
                                yield Chunk(columnar, columns, pending.slice(0, rows))
                                pending = pending.slice(rows)
                        finished = True
                    except columnar.errors as error:
                        failure = self._with_facts(columnar.final_error(error, name), plan, error)
                    except OutOfRange as error:
                        failure = self._with_facts(QueryError(f"{name}: {error}"), plan)
                    finally:
                        if not finished:  # stop the server sending the rest
                            cursor.adbc_cancel()
                    if failure is not None:
                        raise self._masked(failure, plan)
                    if pending.num_rows or empty:  # an empty result still has its columns
                        yield Chunk(columnar, columns, pending)
            finally:
                cursor.close()


class Chunk:
    """Some rows of a stream: ``table`` in dbnb's Arrow types, ``frame()`` in pandas."""

    def __init__(self, columnar: Columnar, layout: Layout, raw: pa.Table) -> None:
        self._columnar = columnar
        self._layout = layout
        self.table = columnar.normalise(raw, layout)

    def frame(self) -> pd.DataFrame:
        return self._columnar.to_frame(self.table, self._layout)


@dataclass(frozen=True)
class _Checkout:
    connection: Any  # PoolProxiedConnection; None when the guarded path was known
    columns: Layout
    schema: pa.Schema | None = None  # as described
    key: Key | None = None
