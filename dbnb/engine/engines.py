"""One pooled SQLAlchemy engine per named connection, with dbnb's guards attached."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from dbnb.config import ConnectionConfig
from dbnb.engine import connecting, credentials, limits, monitor, privileges, readonly
from dbnb.engine.backend import EngineArguments, EngineBackend
from dbnb.engine.budget import BudgetPool, ConnectionBudget
from dbnb.errors import ConfigError

log = logging.getLogger("dbnb")


def engine_arguments(
    config: ConnectionConfig,
    backend: EngineBackend,
    *,
    budget: ConnectionBudget | None = None,
    pooled: bool = True,
    connect_timeout: int | None = None,
    drivername: str | None = None,
) -> EngineArguments:
    """The URL, driver arguments and pool options of an engine for ``config``, whose
    database's ``backend`` adds what its driver is given.

    ``pooled=False`` and a ``connect_timeout`` (seconds) make a short-lived engine
    that opens one connection per use and gives up on an unanswering server, as
    health checks need; ``drivername`` swaps the driver (the async engine's)."""
    url = config.url if drivername is None else config.url.set(drivername=drivername)
    # SQLAlchemy's own log (sqlalchemy.engine at INFO) and its errors' text leave the
    # parameter values out: a notebook's output and logs get shared.
    options: dict[str, Any] = {"pool_pre_ping": config.pool_pre_ping, "hide_parameters": True}
    if pooled:
        options.update(pool_options(config, budget))
    else:
        options = {"poolclass": NullPool, "hide_parameters": True}
        budget = None
    arguments = EngineArguments(url, dict(config.connect_args), options, budget)
    # What the database's own driver is given (read-only sessions, timeouts, files).
    return backend.engine_arguments(arguments, config, connect_timeout)


def create_engine(
    config: ConnectionConfig,
    backend: EngineBackend,
    *,
    pooled: bool = True,
    connect_timeout: int | None = None,
    budget: ConnectionBudget | None = None,
) -> Engine:
    """A new pooled engine for ``config``, with its database's ``backend``'s guards;
    callers share it through the registry.

    With a ``budget``, the pool opens server connections only within it (the
    connection's one budget, shared with its columnar and async paths).
    ``pooled=False`` and a ``connect_timeout``: see ``engine_arguments``.
    """
    arguments = engine_arguments(
        config, backend, budget=budget, pooled=pooled, connect_timeout=connect_timeout
    )
    try:
        engine = sqlalchemy.create_engine(
            arguments.url, connect_args=arguments.connect_args, **arguments.options
        )
    except (NoSuchModuleError, ArgumentError, TypeError, ImportError) as error:
        raise ConfigError(
            no_engine(config, backend, error), connection=config.name, key="type"
        ) from None
    install_guards(engine, config, backend)
    if arguments.budget is not None:
        # Last: its do_connect listener opens the connection, so those of the guards
        # (which set the driver's arguments: dbnb.engine.connecting) must run before it.
        budgeted(engine, arguments.budget, "guarded")
    log.debug("created engine for %r: %s", config.name, config.safe_url)
    return engine


def install_guards(engine: Engine, config: ConnectionConfig, backend: EngineBackend) -> None:
    """The history, the read-only guards and the limits (``backend``'s), on a sync engine
    or the sync engine inside an ``AsyncEngine`` (its guards call the driver through
    dbnb.drivers)."""
    # Monitoring first: the error handlers of the read-only guards and the
    # limits may raise, which ends SQLAlchemy's chain of handle_error listeners.
    monitor.install(engine, config)
    connecting.install(engine)  # a call's timeout= bounds its connects too
    credentials.install(engine, config)  # password_command: run for each new connection
    readonly.install(engine, backend, connection_name=config.name)
    privileges.install(engine, config, backend)
    limits.install(engine, config, backend)


def no_engine(config: ConnectionConfig, backend: EngineBackend, error: Exception) -> str:
    """Why there is no engine (sync or async): a missing extra (the backend's to name)
    as ``pip install`` takes it."""
    extra = backend.driver_extra(config.backend)
    if extra is not None and isinstance(error, NoSuchModuleError | ImportError):
        package, name = extra
        # The module that was missing where it is another package (aiomysql for async);
        # the package's own name as pip takes it (duckdb-engine, not duckdb_engine).
        missing = getattr(error, "name", None)
        if missing and missing.replace("_", "-") != package:
            package = missing
        return f"{config.backend} needs {package}: pip install 'dbnb[{name}]'"
    return f"cannot create an engine for {config.safe_url}: {error}"


def pool_options(config: ConnectionConfig, budget: ConnectionBudget | None) -> dict[str, Any]:
    """The pool arguments of an engine for ``config``: under a budget, its pool is
    replaced by a ``BudgetPool`` (``budgeted``); without one, the pool does as configured."""
    options: dict[str, Any] = {}
    for option in ("pool_size", "max_overflow", "pool_timeout", "pool_recycle"):
        value = getattr(config, option)
        if value is not None:
            options[option] = value
    return options


def budgeted(engine: Engine, budget: ConnectionBudget, path: str) -> None:
    """Make ``engine`` open each server connection within ``budget``: its pool becomes a
    ``BudgetPool`` with the same creator, events and settings."""

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # The driver's arguments hold the password: kept where a traceback's locals
        # (pytest -l, rich's show_locals) show them masked.
        arguments = ConnectArguments(cargs, cparams)
        del cargs, cparams
        return arguments.connect(dialect)

    event.listen(engine, "do_connect", connect)
    engine.pool = BudgetPool.replacing(engine.pool, budget, path)


class ConnectArguments:
    """A driver's connect arguments, whose repr never shows them (they hold the password)."""

    __slots__ = ("_args", "_kwargs")

    def __init__(self, args: Any, kwargs: Any) -> None:
        self._args = tuple(args)
        self._kwargs = dict(kwargs)

    def __repr__(self) -> str:
        return f"<connect arguments: {', '.join(sorted(self._kwargs))}; values hidden>"

    def connect(self, dialect: Any) -> Any:
        return dialect.connect(*self._args, **self._kwargs)
