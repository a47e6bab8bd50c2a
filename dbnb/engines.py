"""One pooled SQLAlchemy engine per named connection, with dbnb's guards attached."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from dbnb import limits, monitor, readonly
from dbnb.budget import ConnectionBudget
from dbnb.config import ConnectionConfig
from dbnb.errors import ConfigError

log = logging.getLogger("dbnb")

# PostgreSQL reports this in pg_stat_activity, so a DBA can tell dbnb's sessions apart.
APPLICATION_NAME = "dbnb"

# Databases whose SQLAlchemy dialect comes with an extra of dbnb: (the package, the extra).
EXTRAS = {"duckdb": ("duckdb-engine", "duckdb")}


def create_engine(
    config: ConnectionConfig,
    *,
    pooled: bool = True,
    connect_timeout: int | None = None,
    budget: ConnectionBudget | None = None,
) -> Engine:
    """A new pooled engine for ``config``; callers share it through the registry.

    With a ``budget``, the pool opens server connections only within it (the
    connection's one budget, shared with its columnar and async paths).
    ``pooled=False`` and a ``connect_timeout`` (seconds) make a short-lived
    engine that opens one connection per use and gives up on an unanswering
    server, as health checks need.
    """
    url = config.url
    kwargs: dict[str, Any] = {"pool_pre_ping": config.pool_pre_ping}
    if pooled:
        kwargs.update(pool_options(config, budget))
    else:
        kwargs = {"poolclass": NullPool}
    connect_args = dict(config.connect_args)

    backend = config.backend
    if backend == "sqlite":
        url = _sqlite_url(url, readonly=config.readonly)
        # The pool hands connections to whichever thread asks; sessions never
        # share one between threads at the same time.
        connect_args.setdefault("check_same_thread", False)
        if _is_memory(url):
            # One in-memory database per connection would lose data between
            # sessions; the default pool for it keeps one per thread, sized by nobody.
            for option in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(option, None)
            budget = None
    elif backend == "postgresql":
        connect_args.setdefault("application_name", APPLICATION_NAME)
        settings = []
        if connect_timeout is not None:
            connect_args["connect_timeout"] = connect_timeout
            # ...and no statement on such a connection waits longer than that either.
            settings.append(f"-c statement_timeout={connect_timeout * 1000}")
        if config.readonly:
            # Belt and braces: even a transaction dbnb did not begin reads only.
            settings.append("-c default_transaction_read_only=on")
        if settings:
            options = connect_args.get("options", "")
            connect_args["options"] = " ".join([options, *settings]).strip()

    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args, **kwargs)
    except (NoSuchModuleError, ArgumentError, TypeError, ImportError) as error:
        raise ConfigError(_no_engine(config, error), connection=config.name, key="type") from None
    if pooled and budget is not None:
        budgeted(engine, budget, "guarded")
    # Monitoring first: the error handlers of the read-only guards and the
    # limits may raise, which ends SQLAlchemy's chain of handle_error listeners.
    monitor.install(engine, config)
    readonly.install(engine, connection_name=config.name)
    limits.install(engine, config)
    log.debug("created engine for %r: %s", config.name, config.safe_url)
    return engine


def _no_engine(config: ConnectionConfig, error: Exception) -> str:
    """Why there is no engine: a missing extra named as ``pip install`` takes it."""
    if config.backend in EXTRAS and isinstance(error, NoSuchModuleError | ImportError):
        package, extra = EXTRAS[config.backend]
        return f"{config.backend} needs {package}: pip install 'dbnb[{extra}]'"
    return f"cannot create an engine for {config.safe_url}: {error}"


def pool_options(config: ConnectionConfig, budget: ConnectionBudget | None) -> dict[str, Any]:
    """The pool arguments of an engine for ``config``: under a budget, the budget caps
    and times out; without one, the pool does as configured."""
    options: dict[str, Any] = {}
    for option in ("pool_size", "max_overflow", "pool_timeout", "pool_recycle"):
        value = getattr(config, option)
        if value is not None:
            options[option] = value
    if budget is not None:
        options.update(budget.pool_options())
    return options


def budgeted(engine: Engine, budget: ConnectionBudget, path: str) -> None:
    """Make ``engine`` open each server connection within ``budget``."""

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return budget.open_with(path, lambda: dialect.connect(*cargs, **cparams))

    event.listen(engine, "do_connect", connect)
    budget.attach(engine.pool, path)


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _sqlite_url(url: URL, *, readonly: bool) -> URL:
    """Create the file's folder; open ``readonly: true`` files read-only at the OS level."""
    database = url.database or ""
    if _is_memory(url) or database.startswith("file:"):
        return url
    path = Path(database)
    if readonly:
        return url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})
    path.parent.mkdir(parents=True, exist_ok=True)
    return url
