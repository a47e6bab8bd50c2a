"""Ctrl-C on MariaDB/MySQL: ``KILL QUERY`` from a second connection.

PyMySQL stops waiting when Ctrl-C interrupts it, but the server goes on running
the statement (and holding its locks) until it ends. So dbnb opens a short-lived
second connection with the same credentials and kills the statement of the
interrupted connection's server thread; SQLAlchemy then discards the interrupted
connection, whose protocol stream stopped mid-reply, and closes it. The second
connection is outside the connection's budget: it lives for one statement, and a
full pool must not stop a cancel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext

    from dbnb.config import ConnectionConfig

log = logging.getLogger("dbnb")
_KILL_TIMEOUT = 5  # seconds to connect and kill


def kill_running(context: ExceptionContext, config: ConnectionConfig) -> None:
    """Kill the statement an interrupt stopped waiting for."""
    connection = context.connection
    if connection is None or connection.invalidated:
        return
    kill_statement(connection.connection.driver_connection, config)
    # SQLAlchemy then discards the connection, whose reply stopped half-way (an
    # interrupt counts as a lost connection to it), and closes it: once, by itself.


def kill_statement(driver_connection: Any, config: ConnectionConfig) -> None:
    """Kill the statement the PyMySQL connection runs now (none: nothing happens, the
    server forgets a ``KILL QUERY`` that finds its thread idle)."""
    thread_id = _thread_id(driver_connection)
    if thread_id is not None:
        try:
            _kill(config, thread_id)
        except Exception as error:  # the interrupt itself must go on
            log.warning("%s: could not KILL QUERY %s: %s", config.name, thread_id, error)


def _thread_id(driver_connection: Any) -> int | None:
    try:
        return int(driver_connection.thread_id())
    except Exception:  # not connected
        return None


def _kill(config: ConnectionConfig, thread_id: int) -> None:
    killer = connect(config, timeout=_KILL_TIMEOUT)
    try:
        with killer.cursor() as cursor:
            cursor.execute("KILL QUERY %s", (thread_id,))
    finally:
        killer.close()


def kill_marked(config: ConnectionConfig, mark: str) -> bool:
    """Kill the statements whose text holds ``mark`` (a read of another driver's
    connection, whose server thread dbnb does not know); whether there was one."""
    killer = connect(config, timeout=_KILL_TIMEOUT)
    try:
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST"
                " WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{mark}%",),
            )
            found = [row[0] for row in cursor.fetchall()]
            for thread_id in found:
                cursor.execute("KILL QUERY %s", (thread_id,))
        return bool(found)
    finally:
        killer.close()


# PyMySQL arguments a second connection takes from the first (how it reaches the server).
_SHARED = ("ssl", "unix_socket", "charset", "auth_plugin_map", "ssl_ca", "ssl_cert")


def connect(config: ConnectionConfig, *, timeout: float, **arguments: Any) -> Any:
    """A PyMySQL connection of its own with ``config``'s credentials (outside the pools)."""
    import pymysql

    url = config.url
    shared = {key: value for key, value in config.connect_args.items() if key in _SHARED}
    return pymysql.connect(
        host=url.host or "localhost",
        port=url.port or 3306,
        user=url.username or "",
        password=url.password or "",
        connect_timeout=timeout,
        read_timeout=timeout,
        **shared,
        **arguments,
    )
