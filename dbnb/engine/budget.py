"""One connection budget per named connection, shared by all of its pools.

A ``Database`` reads and writes through up to three pools: the guarded
SQLAlchemy engine, the columnar ADBC connections and the async engine. Each
pool keeps its own idle connections, but the server sees their sum, and a DBA
who sets ``pool_size: 10`` for a replica means ten (or a role's ``CONNECTION
LIMIT``). So the pools are ``BudgetPool`` s, whose only capacity is this budget
of ``pool_size + max_overflow`` slots, and the budget is the one owner of their
counts (SQLAlchemy's ``QueuePool`` keeps counters of its own, which went wrong
when the budget closed its idle connections: ``checkedout()`` below 0):

- a slot is held by a connection from the moment its connect starts until its
  close has returned: idle, checked out, being opened or being closed;
- a checkout takes an idle connection of its own pool first; else a free slot;
  else, only when the budget is full, one idle connection of another pool is
  closed and its slot passed on (a slot changes kind), closed before the new
  connection is opened, so one slot never holds two server connections;
- else it waits, first come first served, up to ``pool_timeout`` for a connection
  to come back and then raises ``PoolTimeoutError`` naming the connection and its
  limits. A checkout overtakes one that waits only to reuse an idle connection
  of its own path, and only a few times (``_serve``): no one waits for ever;
- a server counts a closed connection until its process has exited, a moment
  after the close returned: a connect the server refuses as one too many (a
  role's ``CONNECTION LIMIT`` equal to the budget) right after the budget closed
  one is tried again for up to ``EXIT_GRACE`` seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry, NullPool, Pool

from dbnb.config import ConnectionConfig
from dbnb.engine import drivers
from dbnb.errors import PoolTimeoutError

# SQLAlchemy's QueuePool defaults, which dbnb documents as its own.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10
DEFAULT_POOL_TIMEOUT = 30.0

# How long after the budget closed a connection the server may still count it.
EXIT_GRACE = 2.0
# SQLSTATE 53300 (PostgreSQL) and MySQL's errors 1040/1203: the server has no
# connection left for this user or server.
_SERVER_FULL_STATES = frozenset({"53300"})
_SERVER_FULL_ERRNOS = frozenset({1040, 1203})
# libpq reports a refused connect without its SQLSTATE: only its words tell.
_SERVER_FULL_WORDS = ("too many connections", "too many clients", "max_user_connections")

# What a checkout is given: (an idle connection, None), or (None, the idle connection of
# another path to close first, or None) for a connect in a slot of its own.
Taken = tuple[ConnectionPoolEntry | None, ConnectionPoolEntry | None]


class ConnectionBudget:
    """The server connections one named connection may hold, across all its pools."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.name = config.name
        self.pool_size = DEFAULT_POOL_SIZE if config.pool_size is None else config.pool_size
        self.max_overflow = (
            DEFAULT_MAX_OVERFLOW if config.max_overflow is None else config.max_overflow
        )
        self.timeout = DEFAULT_POOL_TIMEOUT if config.pool_timeout is None else config.pool_timeout
        self.limit = max(1, self.pool_size + max(0, self.max_overflow))
        # Reentrant: SQLAlchemy checks in a connection its owner dropped from a garbage
        # collection, which may run in a thread that holds the lock.
        self._condition = threading.Condition(threading.RLock())
        self._pools: list[BudgetPool] = []  # each path's newest last; older ones drain
        self._pending = 0  # slots of connects under way
        self._pending_paths: dict[str, int] = {}
        self._closing = 0  # slots of connections whose close has not returned yet
        # Checkouts waiting, first come first, and how often the first was overtaken.
        self._waiting: deque[tuple[object, BudgetPool]] = deque()
        self._overtaken = 0
        self._closed_at = -EXIT_GRACE  # time.monotonic() when a close last returned
        self.switched = 0  # slots that changed kind (an idle connection closed for another)

    def __repr__(self) -> str:
        return f"<ConnectionBudget {self.name!r} {self.open}/{self.limit}>"

    @property
    def open(self) -> int:
        """Slots held now, all paths together: server connections open, being opened or
        being closed."""
        with self._condition:
            return self._held()

    def _held(self) -> int:
        pooled = sum(len(pool.idle) + len(pool.out) for pool in self._pools)
        return pooled + self._pending + self._closing

    def in_use(self) -> dict[str, int]:
        """Slots held per path (guarded, columnar, async)."""
        with self._condition:
            counts = dict(self._pending_paths)
            for pool in self._pools:
                held = len(pool.idle) + len(pool.out)
                counts[pool.path] = counts.get(pool.path, 0) + held
            return {path: count for path, count in counts.items() if count}

    # --- the pools' side ---------------------------------------------------------------

    def join(self, pool: BudgetPool) -> None:
        """Count ``pool``'s connections; an older pool of its path (its engine was
        disposed) gives back the connections still out as they come back."""
        with self._condition:
            retired = [old for old in self._pools if old.path == pool.path]
            self._pools.append(pool)
            for old in retired:
                old.retired = True
            closing = [record for old in retired for record in self._drain(old)]
            self._forget_empty()
        self._close(closing)

    def take(self, pool: BudgetPool) -> Taken:
        """A checkout's slot: (an idle connection of ``pool``, None), or (None, a victim
        or None) when a new connection is to be opened in a slot taken for it, after
        the victim (an idle connection of another path) is closed. Checkouts are
        served in the order they came (see ``_serve``); each waits up to
        pool_timeout, then ``PoolTimeoutError``."""
        deadline = time.monotonic() + self.timeout
        turn = (object(), pool)
        with self._condition:
            self._waiting.append(turn)
            try:
                while True:
                    taken = self._serve(turn)
                    if taken is not None:
                        return taken
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise PoolTimeoutError(self._timeout_message())
                    self._condition.wait(min(left, 0.5))  # short: Ctrl-C gets through
            finally:
                if self._waiting[0] is turn:
                    self._overtaken = 0
                self._waiting.remove(turn)
                self._condition.notify_all()  # the next in line may be served now

    def _serve(self, turn: tuple[object, BudgetPool]) -> Taken | None:
        """What a waiting checkout gets now, if anything (the lock is held). The first
        in line takes an idle connection of its path, else a free slot, else the slot
        of an idle connection of another path. One further back may take an idle
        connection of its own path first, if no one of its path is ahead of it, up to
        ``limit`` times for each first in line: a slot changes kind only when a
        checkout truly waited its turn, and no one waits for ever."""
        pool = turn[1]
        first = self._waiting[0] is turn
        first_of_path = next(waiting for waiting in self._waiting if waiting[1] is pool)
        if pool.idle and first_of_path is turn and (first or self._overtaken < self.limit):
            self._overtaken += 0 if first else 1
            record = pool.idle.pop()  # the newest: the most likely to be alive
            pool.out.add(record)
            return record, None
        if not first:
            return None
        victim = None
        if self._held() >= self.limit:
            victim = self._idle_elsewhere(pool)
            if victim is None:
                return None
            self.switched += 1
        self._pending += 1
        self._pending_paths[pool.path] = self._pending_paths.get(pool.path, 0) + 1
        return None, victim

    def refused_lately(self, error: BaseException) -> bool:
        """Whether ``error``, a connect's, is the server counting a connection this
        budget closed a moment ago (its process still exiting): worth trying again."""
        with self._condition:
            lately = time.monotonic() - self._closed_at < EXIT_GRACE
        return lately and _server_full(error)

    def closed(self) -> None:
        """A connection of this budget was closed outside ``_close`` (a victim, an
        invalidated one): the server may count it a moment longer."""
        with self._condition:
            self._closed_at = time.monotonic()

    def opened(self, pool: BudgetPool, record: ConnectionPoolEntry | None) -> None:
        """The connect of a slot ``take`` gave ended: ``record`` is out now, or the
        connect failed (None) and the slot is free."""
        with self._condition:
            self._pending -= 1
            self._pending_paths[pool.path] -= 1
            if record is not None:
                pool.out.add(record)
                if pool not in self._pools:  # retired and forgotten while it connected
                    self._pools.append(pool)
            self._condition.notify_all()

    def back(self, pool: BudgetPool, record: ConnectionPoolEntry) -> None:
        """``record`` came back to ``pool``: kept idle, or closed (its connection is
        gone, its pool retired, or ``pool.keep`` connections already idle there)."""
        closing = []
        with self._condition:
            pool.out.discard(record)
            if record.dbapi_connection is None:
                # Invalidated: its connection is closed, its slot is free.
                self._closed_at = time.monotonic()
            elif pool.retired or len(pool.idle) >= pool.keep:
                self._closing += 1
                closing.append(record)
            else:
                pool.idle.append(record)
            self._forget_empty()
            self._condition.notify_all()
        self._close(closing)

    def retire(self, pool: BudgetPool) -> None:
        """``pool`` is done with (its owner closed it, and no pool replaces it): its idle
        connections close now, the ones still out as they come back."""
        with self._condition:
            pool.retired = True
            closing = self._drain(pool)
            self._forget_empty()
        self._close(closing)

    def close_idle(self, pool: BudgetPool) -> None:
        """Close the idle connections of ``pool`` (its ``dispose``)."""
        with self._condition:
            closing = self._drain(pool)
        self._close(closing)

    def _drain(self, pool: BudgetPool) -> list[ConnectionPoolEntry]:
        closing = list(pool.idle)
        pool.idle.clear()
        self._closing += len(closing)
        return closing

    def _close(self, records: list[ConnectionPoolEntry]) -> None:
        """Close ``records``, counted in ``_closing`` until their close returned."""
        for record in records:
            try:
                record.close()
            finally:
                with self._condition:
                    self._closing -= 1
                    self._closed_at = time.monotonic()
                    self._forget_empty()
                    self._condition.notify_all()

    def _idle_elsewhere(self, pool: BudgetPool) -> ConnectionPoolEntry | None:
        """The idle connection that gives its slot to ``pool``: the oldest of the path
        with the most idle (async ones last: they close only in their event loop)."""
        others = [other for other in self._pools if other is not pool and other.idle]
        if not others:
            return None
        other = max(others, key=lambda o: (not o.is_async, o.retired, len(o.idle)))
        return other.idle.popleft()

    def _forget_empty(self) -> None:
        self._pools = [p for p in self._pools if not (p.retired and not p.idle and not p.out)]

    def _timeout_message(self) -> str:
        held = ", ".join(f"{path} {count}" for path, count in sorted(self.in_use().items()))
        return (
            f"connection {self.name!r}: all pooled connections are busy "
            f"(pool_size={self.pool_size}, max_overflow={self.max_overflow}: "
            f"{self.limit} at most, all paths together; open: {held or 'none'}); "
            f"waited {self.timeout:g} s (pool_timeout). Close sessions and chunk iterators "
            "you no longer use, or raise pool_size/max_overflow in the config"
        )


class BudgetPool(Pool):
    """A SQLAlchemy pool whose capacity is its connection's ``ConnectionBudget``: it keeps
    up to ``pool_size`` idle connections, and the budget owns its counts."""

    is_async = False

    def __init__(
        self,
        creator: Any,
        *,
        budget: ConnectionBudget,
        path: str,
        keep: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(creator, **kw)
        self.budget = budget
        self.path = path
        # Idle connections kept: pool_size, or 0 for an engine that pooled none (NullPool).
        self.keep = budget.pool_size if keep is None else keep
        self.idle: deque[ConnectionPoolEntry] = deque()  # guarded by the budget's lock
        self.out: set[ConnectionPoolEntry] = set()
        self.retired = False
        budget.join(self)

    @classmethod
    def replacing(cls, pool: Pool, budget: ConnectionBudget, path: str) -> BudgetPool:
        """A pool like ``pool`` (an engine's own: its creator, events and dialect),
        within ``budget``; like a ``NullPool``, it keeps no idle connection."""
        keep = 0 if isinstance(pool, NullPool) else None
        creator = pool._creator  # noqa: SLF001
        return cls(creator, budget=budget, path=path, keep=keep, **_settings(pool))

    def recreate(self) -> BudgetPool:
        self.logger.info("Pool recreating")
        return type(self)(
            self._creator, budget=self.budget, path=self.path, keep=self.keep, **_settings(self)
        )

    def _do_get(self) -> ConnectionPoolEntry:
        record, victim = self._take()
        if record is not None:
            return record
        created = None
        try:
            if victim is not None:
                victim.close()  # before the new one opens: one server connection a slot
                self.budget.closed()
            created = self._connect()
        finally:
            self.budget.opened(self, created)
        return created

    def _connect(self) -> ConnectionPoolEntry:
        while True:
            try:
                return self._create_connection()
            except Exception as error:
                if not self.budget.refused_lately(error):
                    raise
            time.sleep(0.05)

    def _take(self) -> Taken:
        return self.budget.take(self)

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self.budget.back(self, record)

    def dispose(self) -> None:
        self.budget.close_idle(self)
        self.logger.info("Pool disposed. %s", self.status())

    def retire(self) -> None:
        """Close this pool for good, unlike ``dispose`` (after which an engine's pool is
        recreated, retiring this one): idle connections now, the rest as they come back."""
        self.budget.retire(self)

    def size(self) -> int:
        return self.budget.pool_size

    def checkedin(self) -> int:
        return len(self.idle)

    def checkedout(self) -> int:
        return len(self.out)

    def overflow(self) -> int:
        """Connections of this pool beyond pool_size (never below 0)."""
        return max(0, len(self.idle) + len(self.out) - self.size())

    def timeout(self) -> float:
        return self.budget.timeout

    def status(self) -> str:
        return (
            f"Pool size: {self.size()}  Connections in pool: {self.checkedin()} "
            f"Current Overflow: {self.overflow()} Current Checked out connections: "
            f"{self.checkedout()}; budget of {self.budget.name!r}: {self.budget.open}/"
            f"{self.budget.limit} held, all paths together"
        )


class AsyncBudgetPool(BudgetPool):
    """The async engine's ``BudgetPool``: a checkout waits for its slot on a thread, so
    the event loop goes on (and its own connections can come back)."""

    _is_asyncio = True
    is_async = True

    def _take(self) -> Taken:
        taken: Taken = drivers.await_(_taken_or_given_back(self))
        return taken


async def _taken_or_given_back(pool: BudgetPool) -> Taken:
    """``pool.budget.take`` on a thread; if the wait is cancelled (Ctrl-C, a task's
    timeout), what the thread took still is given back."""
    waiting = asyncio.ensure_future(asyncio.to_thread(pool.budget.take, pool))
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        waiting.add_done_callback(lambda done: _give_back(pool, done))
        raise


def _give_back(pool: BudgetPool, done: asyncio.Future[Any]) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    record, victim = done.result()
    if record is not None:
        pool.budget.back(pool, record)
        return
    if victim is not None:
        victim.close()
        pool.budget.closed()
    pool.budget.opened(pool, None)


def _server_full(error: BaseException) -> bool:
    """Whether ``error`` (a driver's, or SQLAlchemy's around it) says the server or the
    role has no connection left."""
    seen: BaseException | None = error
    for _ in range(4):  # the error, what it wraps (SQLAlchemy's .orig), their causes
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _SERVER_FULL_STATES:
            return True
        args = getattr(seen, "args", ())
        if args and isinstance(args[0], int) and args[0] in _SERVER_FULL_ERRNOS:
            return True
        if any(words in str(seen).lower() for words in _SERVER_FULL_WORDS):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def _settings(pool: Pool) -> dict[str, Any]:
    """What a pool copied from ``pool`` keeps: as ``QueuePool.recreate`` copies it
    (SQLAlchemy keeps them private; its own pools copy them so)."""
    return {
        "recycle": pool._recycle,  # noqa: SLF001
        "echo": pool.echo,
        "logging_name": pool._orig_logging_name,  # noqa: SLF001
        "reset_on_return": pool._reset_on_return,  # noqa: SLF001
        "pre_ping": pool._pre_ping,  # noqa: SLF001
        "_dispatch": pool.dispatch,
        "dialect": pool._dialect,  # noqa: SLF001
    }
