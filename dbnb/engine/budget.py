"""One connection budget per named connection, shared by all of its pools.

A ``Database`` reads and writes through up to three pools: the guarded
SQLAlchemy engine, the columnar ADBC connections and the async engine. Each
pool keeps its own idle connections, but the server sees their sum, and a DBA
who sets ``pool_size: 10`` for a replica means ten. So every pool opens a
server connection only with a slot of this budget (``pool_size +
max_overflow`` slots) and gives the slot back when the connection closes:

- the pools themselves never refuse (their own overflow is unlimited); the
  budget waits up to ``pool_timeout`` for a slot and then raises
  ``PoolTimeoutError`` naming the connection and its limits;
- a slot held by an idle connection is not lost: when the budget is spent, the
  pools close their idle connections before anyone waits.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from dbnb.config import ConnectionConfig
from dbnb.errors import PoolTimeoutError

# SQLAlchemy's QueuePool defaults, which dbnb documents as its own.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10
DEFAULT_POOL_TIMEOUT = 30.0


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
        self._condition = threading.Condition(threading.RLock())
        self._open: dict[int, str] = {}  # id(driver connection) -> the path that opened it
        self._pools: dict[str, Pool] = {}
        self._pending = 0  # slots taken by connects under way

    def __repr__(self) -> str:
        return f"<ConnectionBudget {self.name!r} {len(self._open)}/{self.limit}>"

    @property
    def open(self) -> int:
        """Server connections open now, all paths together."""
        with self._condition:
            return len(self._open)

    def pool_options(self) -> dict[str, Any]:
        """QueuePool arguments for a pool under this budget: it keeps ``pool_size`` idle
        connections and never refuses on its own (the budget does)."""
        return {"pool_size": self.pool_size, "max_overflow": -1}

    def attach(self, pool: Pool, path: str) -> None:
        """Count the connections ``pool`` opens (``path``: guarded, columnar, async).

        The pool's creator must call ``open_with`` (engines do it in their
        ``do_connect`` event); this listens for their closing."""
        with self._condition:
            self._pools[path] = pool
        event.listen(pool, "close", lambda connection, _record: self._closed(connection))
        event.listen(pool, "close_detached", self._closed)

    def open_with(self, path: str, connect: Callable[[], Any]) -> Any:
        """``connect()`` once a slot is free; the slot is the new connection's."""
        self.reserve(path)
        return self.open_reserved(path, connect)

    def reserve(self, path: str) -> None:
        """Take a slot for a connection ``path`` is about to open: at once while the
        budget lasts, else once a connection closes (idle ones are closed first),
        else ``PoolTimeoutError`` after pool_timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            with self._condition:
                if len(self._open) + self._pending < self.limit:
                    self._pending += 1
                    return
            if self._evict_idle():
                continue
            with self._condition:
                if len(self._open) + self._pending < self.limit:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolTimeoutError(self._timeout_message())
                self._condition.wait(min(left, 0.5))

    def open_reserved(self, path: str, connect: Callable[[], Any]) -> Any:
        """``connect()`` with the slot ``reserve`` took, which is given back if it fails."""
        try:
            connection = connect()
        except BaseException:
            with self._condition:
                self._pending -= 1
                self._condition.notify()
            raise
        with self._condition:
            self._pending -= 1
            self._open[id(connection)] = path
        # A connection dropped without a close event (its pool was garbage collected)
        # still gives its slot back; sqlite3's connections take no weak references,
        # but a SQLite file has no server to overload either.
        with contextlib.suppress(TypeError):
            weakref.finalize(connection, self._closed_id, id(connection))
        return connection

    def _evict_idle(self) -> bool:
        """Close the connections idling in the pools, to give their slots to a connect
        that waits. Its own pool's too: a connection given back to it after its
        connect began is not handed to that connect."""
        with self._condition:
            pools = list(self._pools.values())
        evicted = False
        for pool in pools:
            if getattr(pool, "checkedin", lambda: 0)() > 0:
                pool.dispose()  # closes only the idle ones
                evicted = True
        return evicted

    def _closed(self, connection: Any) -> None:
        self._closed_id(id(connection))

    def _closed_id(self, key: int) -> None:
        with self._condition:
            if self._open.pop(key, None) is not None:
                self._condition.notify()

    def in_use(self) -> dict[str, int]:
        """Open server connections per path."""
        with self._condition:
            counts: dict[str, int] = {}
            for path in self._open.values():
                counts[path] = counts.get(path, 0) + 1
            return counts

    def _timeout_message(self) -> str:
        held = ", ".join(f"{path} {count}" for path, count in sorted(self.in_use().items()))
        return (
            f"connection {self.name!r}: all pooled connections are busy "
            f"(pool_size={self.pool_size}, max_overflow={self.max_overflow}: "
            f"{self.limit} at most, all paths together; open: {held or 'none'}); "
            f"waited {self.timeout:g} s (pool_timeout). Close sessions and chunk iterators "
            "you no longer use, or raise pool_size/max_overflow in the config"
        )
