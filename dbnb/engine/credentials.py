"""A connection's password, fresh for each new server connection.

An entry with ``password_command:`` (``dbnb.config.secrets.PasswordCommand``)
has no password in its URL: each time a pool opens a server connection, the
command runs and its output goes to the driver as ``password`` (psycopg,
PyMySQL, aiomysql alike), so a token that rotates is always a fresh one. A
pooled connection that is reused runs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dbnb.config import ConnectionConfig


def install(engine: Engine, config: ConnectionConfig) -> None:
    """Give each new server connection of ``engine`` the password of ``config``'s
    command (nothing to do for an entry without one)."""
    command = config.password_command
    if command is None:
        return

    def connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = command.run()

    # Before the listener that opens the connection (the budget's, listening after it).
    event.listen(engine, "do_connect", connect)
