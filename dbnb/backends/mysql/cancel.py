"""Ctrl-C on MariaDB/MySQL: ``KILL QUERY`` from a second connection.

PyMySQL stops waiting when Ctrl-C interrupts it, but the server goes on running
the statement (and holding its locks) until it ends. So dbnb opens a short-lived
second connection with the same credentials and kills the statement of the
interrupted connection's server thread; SQLAlchemy then discards the interrupted
connection, whose protocol stream stopped mid-reply, and closes it. The second
connection is outside the connection's budget: it lives for one statement, and a
full pool must not stop a cancel.

A result closed before its end (chunks the caller stopped reading, a read past
max_rows): PyMySQL's unbuffered cursor would read every row left to throw it
away, as the protocol has no way to stop a result once it is sent. So
``close_result`` kills the statement first, the same way, and reads only what
was already on its way (the socket's buffers) up to the server's "interrupted"
error; the connection is then in step again and goes back to the pool.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dbnb.config import secrets

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult, ExceptionContext

    from dbnb.config import ConnectionConfig

log = logging.getLogger("dbnb")
_KILL_TIMEOUT = 5  # seconds to connect and kill
_INTERRUPTED = 1317  # ER_QUERY_INTERRUPTED: the server's last word on a killed result


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


def close_result(result: CursorResult[Any], config: ConnectionConfig) -> None:
    """Close ``result``; if the server is still sending it, kill its statement first."""
    unread = _unread(result.cursor)
    if unread is not None:
        thread_id = _thread_id(unread.connection)
        try:
            if thread_id is not None:
                _kill(config, thread_id)
        except Exception as error:  # then the rest is read out, as PyMySQL would
            log.warning("%s: could not KILL QUERY %s: %s", config.name, thread_id, error)
        _read_out(unread)
    result.close()


def _unread(cursor: Any) -> Any:
    """PyMySQL's result still arriving on an unbuffered cursor, if any (else None:
    a buffered result, one read to its end, or another driver's cursor)."""
    unread: Any = getattr(cursor, "_result", None)  # PyMySQL keeps no public handle on it
    if getattr(unread, "unbuffered_active", False) and unread.connection is not None:
        return unread
    return None


def _read_out(unread: Any) -> None:
    """Read what is left of a killed result: its rows already sent, then the server's
    error 1317 (or the end of the result, when it ended before the kill came)."""
    import pymysql

    try:
        unread._finish_unbuffered_query()  # noqa: SLF001
    except pymysql.err.OperationalError as error:
        if error.args[0] != _INTERRUPTED:
            raise
    # PyMySQL marks the result read at the error packet; the connection is in step.
    unread.unbuffered_active = False
    unread.connection = None


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


def connect(
    config: ConnectionConfig, *, timeout: float, read_timeout: float | None = None, **arguments: Any
) -> Any:
    """A PyMySQL connection of its own with ``config``'s credentials (outside the pools),
    connected within ``timeout`` seconds (the server's greeting too: PyMySQL reads it
    with read_timeout), then reading replies within ``read_timeout`` (default: the same)."""
    import pymysql

    url = config.url
    shared = {key: value for key, value in config.connect_args.items() if key in _SHARED}
    connection = pymysql.connect(
        host=url.host or "localhost",
        port=url.port or 3306,
        user=url.username or "",
        password=secrets.password(config) or "",  # a password_command's runs now
        connect_timeout=timeout,
        read_timeout=timeout,
        **shared,
        **arguments,
    )
    if read_timeout is not None:
        connection._read_timeout = read_timeout  # noqa: SLF001  (PyMySQL's setting)
    return connection
