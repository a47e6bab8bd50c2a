"""Health of a connection: reachable, server version, latency, read-only enforced, pool.

``check(db)`` (``Database.health()``) opens one dedicated, unpooled connection
with a short connect timeout, so a server that does not answer costs a few
seconds, never a hang, and a busy pool cannot block the check. On it, inside a
read-only transaction, it times a ``SELECT 1`` round trip and then attempts a
harmless write (``CREATE TEMP TABLE``) that the database must refuse; the
transaction is rolled back and the connection closed, so nothing is left
behind either way. The pool's status comes from the connection's own pool,
which the check does not touch.

The check's statements are housekeeping: they are not recorded in history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from dbnb.engine.backend import EngineBackend
from dbnb.errors import ConfigError, DbnbError, ReadOnlyError, UnknownConnectionError, one_line

# pandas, SQLAlchemy and the engines load with the first check, not with the module:
# the CLI's parser reads CONNECT_TIMEOUT (``dbnb --help``).
if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Dialect, Engine

    from dbnb.config import ConnectionConfig

CONNECT_TIMEOUT = 5  # seconds; libpq counts anything under 2 as 2
_PROBE_TABLE = "dbnb_health_probe"


class HealthBackend(EngineBackend, Protocol):
    """What a health check asks of a database's backend, beyond the engine's."""

    def server_name(self, dialect: Dialect) -> str | None:
        """The server's name as health reports its version ("PostgreSQL"); None: the
        dialect's."""

    def write_probe(self, table: str) -> str | None:
        """A write creating ``table`` that the read-only transaction must refuse, to
        prove the guard works; None where there is no guard of dbnb's to prove."""


class Checkable(Protocol):
    """What ``check`` asks of a connection (``Database``)."""

    @property
    def config(self) -> ConnectionConfig: ...

    @property
    def backend(self) -> HealthBackend: ...

    @property
    def engine(self) -> Engine: ...


class Checks(Protocol):
    """A connection that checks itself (every ``Facade``)."""

    def load_client(self) -> None: ...

    def health(self, timeout: int = CONNECT_TIMEOUT) -> Health: ...


class _PoolStatus(TypedDict):
    pool_size: int | None
    pool_checked_out: int | None
    pool_overflow: int | None


@dataclass(frozen=True)
class Health:
    """One connection's health, as ``Database.health()`` found it."""

    connection: str
    reachable: bool
    server_version: str | None = None
    latency_ms: float | None = None  # round trip of SELECT 1 on an open connection
    readonly_enforced: bool | None = None  # None: dbnb has no guard for this database
    pool_size: int | None = None
    pool_checked_out: int | None = None
    pool_overflow: int | None = None
    error: str | None = None  # one line, no password

    @property
    def ok(self) -> bool:
        """Reachable, and nothing went wrong (read-only refused the probe write)."""
        return self.reachable and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def as_frame(self) -> pd.DataFrame:
        """A one-row DataFrame, for display."""
        return frame([self])


# The columns of frame() and their dtypes: nullable ones, so a missing value is <NA>.
FRAME_DTYPES = {
    "connection": "string",
    "ok": "bool",
    "reachable": "bool",
    "server_version": "string",
    "latency_ms": "Float64",
    "readonly_enforced": "boolean",
    "pool_size": "Int64",
    "pool_checked_out": "Int64",
    "pool_overflow": "Int64",
    "error": "string",
}


def frame(healths: Iterable[Health]) -> pd.DataFrame:
    """One row per connection's health."""
    import pandas as pd

    records = [health.as_dict() for health in healths]
    table = pd.DataFrame(records, columns=list(FRAME_DTYPES))
    return table.astype(FRAME_DTYPES)


def check_all(databases: Iterable[Checks], *, timeout: int = CONNECT_TIMEOUT) -> list[Health]:
    """Check several connections at once, so that all of them together take about
    as long as the slowest one (at most about ``timeout``), in the order given."""
    chosen = list(databases)
    if not chosen:
        return []
    for db in chosen:  # imports on this thread: two at once can each see one half-done
        db.load_client()
    with ThreadPoolExecutor(max_workers=min(len(chosen), 8)) as pool:
        # Each connection checks itself: its facade knows how (SQLAlchemy's: ``check``).
        return list(pool.map(lambda db: db.health(timeout=timeout), chosen))


def check_named(
    connect: Callable[[str], Checks], names: Iterable[str], *, timeout: int = CONNECT_TIMEOUT
) -> list[Health]:
    """``check_all`` by name (``connect``: the registry's): an entry of the config that
    is broken (a missing variable, a bad key) is a row with its problem, not a failure
    of the whole check."""
    found: list[Checks | Health] = []
    for name in names:
        try:
            found.append(connect(name))
        except UnknownConnectionError:
            raise  # a name the config does not have at all: the caller's mistake
        except ConfigError as error:
            found.append(Health(name, reachable=False, error=one_line(error)))
    checked = iter(
        check_all([item for item in found if not isinstance(item, Health)], timeout=timeout)
    )
    return [item if isinstance(item, Health) else next(checked) for item in found]


def check(db: Checkable, *, timeout: int = CONNECT_TIMEOUT) -> Health:
    """Check ``db``; never raises for a connection problem, which goes into ``.error``."""
    from dbnb.engine import connecting, engines

    config, backend = db.config, db.backend
    mask = config.mask
    try:
        pool = _pool_status(db)
        engine = engines.create_engine(config, backend, pooled=False, connect_timeout=timeout)
    except DbnbError as error:  # no engine at all: an unknown dialect, a missing driver
        return Health(config.name, reachable=False, error=mask(str(error)))
    try:
        # The check's timeout bounds connecting as a call's does (dbnb.engine.connecting).
        with connecting.within(timeout):
            return _probe(engine, config, backend, pool)
    finally:
        engine.dispose()


def _probe(
    engine: Engine, config: ConnectionConfig, backend: HealthBackend, pool: _PoolStatus
) -> Health:
    from sqlalchemy import exc

    from dbnb.engine import connecting, monitor, readonly

    name, mask = config.name, config.mask
    try:
        connection = engine.connect()
    except exc.DBAPIError as error:
        if connecting.timed_out(error.orig):  # one wording with every other connect's
            reason = str(connecting.no_answer(config, backend.default_port))
        else:
            reason = f"cannot connect: {one_line(error)}"
        return Health(name, reachable=False, error=mask(reason), **pool)
    except (exc.SQLAlchemyError, DbnbError, OSError) as error:
        return Health(name, reachable=False, error=mask(one_line(error)), **pool)
    with connection:
        quiet = connection.execution_options(**{monitor.QUIET: True, readonly.WRITE_OPTION: False})
        transaction = quiet.begin()  # dbnb's read-only transaction
        try:
            started = time.perf_counter()
            quiet.exec_driver_sql("SELECT 1").scalar()
            latency = (time.perf_counter() - started) * 1000.0
            version = _server_version(engine, backend)
            enforced, problem = _readonly_enforced(quiet, backend)
        except (exc.SQLAlchemyError, DbnbError) as error:
            return Health(name, reachable=True, error=mask(one_line(error)), **pool)
        finally:
            if transaction.is_active:
                transaction.rollback()
    return Health(
        name,
        reachable=True,
        server_version=version,
        latency_ms=latency,
        readonly_enforced=enforced,
        error=problem,
        **pool,
    )


def _readonly_enforced(
    connection: Connection, backend: HealthBackend
) -> tuple[bool | None, str | None]:
    """Attempt a write the read-only transaction must refuse; the caller rolls back.
    None where the database's backend installs no guard to check."""
    probe = backend.write_probe(_PROBE_TABLE)
    if probe is None:
        return None, None
    try:
        connection.exec_driver_sql(probe)
    except ReadOnlyError:
        return True, None
    return False, "read-only is not enforced: a write in a read-only transaction was accepted"


def _server_version(engine: Engine, backend: HealthBackend) -> str | None:
    info = engine.dialect.server_version_info
    if not info:
        return None
    name = backend.server_name(engine.dialect) or engine.dialect.name
    return f"{name} {'.'.join(str(part) for part in info)}"


def _pool_status(db: Checkable) -> _PoolStatus:
    # The pool is created with the engine, which connects only when used.
    pool = db.engine.pool
    return {
        "pool_size": _call(pool, "size"),
        "pool_checked_out": _call(pool, "checkedout"),
        "pool_overflow": _call(pool, "overflow"),
    }


def _call(pool: object, method: str) -> int | None:
    function = getattr(pool, method, None)
    if not callable(function):
        return None  # pools without that notion (in-memory SQLite's per-thread pool)
    value = function()
    if not isinstance(value, int):
        return None
    # QueuePool counts overflow from -pool_size up; only connections beyond the size overflow.
    return max(value, 0) if method == "overflow" else value
