"""Reads with more privilege than reading: warned about once per connection.

dbnb refuses on reads the known statements and functions with effects outside the
read-only transaction (``dbnb.sql.readable``), but a function of the database's
own can still reach them when reads run as a superuser (PostgreSQL) or with
``SUPER``/``FILE`` (MariaDB, MySQL). A ``read_role:`` gives reads the least
privilege the database itself enforces; without one, the first connection that
finds such a privilege warns, naming the key, once per connection entry.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from dbnb.errors import PrivilegeWarning

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import EngineBackend

# The entries whose privileges were looked at: once per entry, as a login's privileges
# do not change between its connections (a new connection pays no second look).
_looked: set[tuple[str, str | None]] = set()
_lock = threading.Lock()


def install(engine: Engine, config: ConnectionConfig, backend: EngineBackend) -> None:
    """Look at the privileges of ``engine``'s first connection (of the entry's)."""
    if config.read_role:
        return

    def connect(_dbapi_connection: Any, record: Any) -> None:
        if needed(config):
            check(config, backend.excess_privilege(record.driver_connection))

    event.listen(engine, "connect", connect)


def check(config: ConnectionConfig, privilege: str | None) -> None:
    """Warn once that reads of ``config`` run with ``privilege`` (None: nothing to say);
    either way, the entry has been looked at."""
    with _lock:
        if _key(config) in _looked:
            return
        _looked.add(_key(config))
    if privilege is None or config.read_role:
        return
    warnings.warn(
        f"connection {config.name!r} reads {privilege}: dbnb refuses the known server-side "
        "effects (programs, files, signals, other connections) on reads, but a function "
        "can still reach them; set read_role: (a role that can only read, e.g. "
        "pg_read_all_data) for the least privilege",
        PrivilegeWarning,
        stacklevel=2,
    )


def needed(config: ConnectionConfig) -> bool:
    """Whether a connection of ``config`` should look at its privileges: the entry's
    first, unless it has a read_role."""
    return not config.read_role and _key(config) not in _looked


def _key(config: ConnectionConfig) -> tuple[str, str | None]:
    return (config.name, config.source)
