"""Connecting: no connect waits forever for a server that does not answer.

A server that accepts the TCP connection and then says nothing (a hung host, a
half-open firewall, a proxy with nothing behind it) would hold a driver's
connect for good, and Ctrl-C cannot reach a connect blocked in C. So every
connection dbnb opens to a server is bounded:

- by ``connect_timeout`` (config, seconds, default 10), given to each driver as
  its own ``connect_timeout`` (psycopg, libpq's URI for ADBC, PyMySQL, aiomysql;
  each backend's ``engine_arguments``); an explicit ``connect_args:
  {connect_timeout: N}`` wins over the key;
- and, for one call, by that call's own ``timeout=`` (``--timeout``): the connect
  may take at most the smaller of the two (``within``). A call's timeout of 0
  lifts the statement's limit, not the connect's.

A connect that ran out of time is one ``ConnectError`` naming the connection,
the server's address and the remedy (``failure``). Drivers that count whole
seconds get the timeout rounded up (libpq also counts anything under 2 as 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from dbnb.engine import interrupts
from dbnb.errors import ConnectError, DbnbError, one_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dbnb.config import ConnectionConfig

# The bound a call's own timeout= puts on the connects it makes; None: the config's.
_CALL_TIMEOUT: ContextVar[float | None] = ContextVar("dbnb_connect_bound", default=None)


@contextmanager
def within(timeout: float | None) -> Iterator[None]:
    """Connects made inside this block take at most ``timeout`` seconds (a call's own
    ``timeout=``); None or 0: the connection's connect_timeout alone."""
    token = _CALL_TIMEOUT.set(timeout if timeout and timeout > 0 else None)
    try:
        yield
    finally:
        _CALL_TIMEOUT.reset(token)


def configured(config: ConnectionConfig) -> float:
    """The connect timeout of ``config``: ``connect_args``' own, else ``connect_timeout``."""
    explicit = config.connect_args.get("connect_timeout")
    try:
        return float(explicit) if explicit is not None else config.connect_timeout
    except (TypeError, ValueError):  # the driver says what is wrong with it
        return config.connect_timeout


def in_force(config: ConnectionConfig) -> float:
    """The seconds a connect of ``config`` may take now: its connect timeout, at most
    the current call's own timeout."""
    seconds = configured(config)
    call = _CALL_TIMEOUT.get()
    return seconds if call is None else min(seconds, call)


def whole_seconds(seconds: float) -> int:
    """``seconds`` as drivers that count whole seconds take it (never 0: no limit)."""
    return max(1, math.ceil(seconds))


def bounded(value: Any) -> Any:
    """A driver's ``connect_timeout`` argument, at most the current call's timeout."""
    call = _CALL_TIMEOUT.get()
    if call is None or value is None:
        return value
    try:
        given = float(value)
    except (TypeError, ValueError):
        return value
    return value if given <= call else whole_seconds(call)


def install(engine: Engine) -> None:
    """Bound each connect of ``engine`` by the current call's timeout too, and let
    Ctrl-C wake a connect the main thread waits in."""

    def connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        interrupts.wake_on_ctrl_c()
        if "connect_timeout" in cparams:
            cparams["connect_timeout"] = bounded(cparams["connect_timeout"])

    # Before the listener that opens the connection (the budget's, listening after it):
    # SQLAlchemy ignores insert=True for dialect events.
    event.listen(engine, "do_connect", connect)


def timed_out(error: BaseException | None) -> bool:
    """Whether a driver's connect failed because the server did not answer in time."""
    if error is None:
        return False
    if isinstance(error, TimeoutError):  # asyncio's, a socket's
        return True
    text = str(error)
    # psycopg and libpq: "timeout expired"; PyMySQL: "(timed out)".
    return "timeout expired" in text or "timed out" in text


def address(config: ConnectionConfig, default_port: int | None) -> str:
    """The server's host:port, as the user would look for it (``default_port``: its
    backend's, where the URL names none)."""
    url = config.url
    if url.host is None and url.query.get("service"):  # libpq's pg_service.conf knows it
        return f"service {url.query['service']!r}"
    host = url.host or "localhost"
    port = url.port or default_port
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def no_answer(config: ConnectionConfig, default_port: int | None) -> ConnectError:
    """The error of a connect of ``config`` that ran out of time (the one in force now);
    ``default_port``: its backend's, where the URL names none."""
    seconds = in_force(config)
    call = _CALL_TIMEOUT.get()
    where = address(config, default_port)
    said = f"connection {config.name!r}: no answer from {where} within {seconds:g} s"
    if call is not None and call < configured(config):
        remedy = "(this call's timeout, which bounds connecting too); is the server up?"
    else:
        key = (
            "connect_args: connect_timeout"
            if "connect_timeout" in config.connect_args
            else "connect_timeout"
        )
        config_file = f" ({config.source})" if config.source else ""
        remedy = f"({key}); is the server up? raise {key} in the config{config_file}"
    return ConnectError(f"{said} {remedy}", connection=config.name, address=where, seconds=seconds)


def failure(
    config: ConnectionConfig, default_port: int | None, error: BaseException | None
) -> DbnbError:
    """The error of a connect of ``config`` that failed with the driver's ``error``."""
    if timed_out(error):
        return no_answer(config, default_port)
    return config.cannot_connect(one_line(error))
