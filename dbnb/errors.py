"""The exceptions dbnb raises.

    DbnbError                     anything dbnb raises on purpose
     ├── ConfigError              the config file or environment is wrong
     │    └── UnknownConnectionError   no connection has that name
     ├── ReadOnlyError            a write was attempted through a read-only path
     ├── PoolTimeoutError         every pooled connection stayed busy for pool_timeout
     └── QueryError               the database refused a statement
          ├── QueryTimeoutError   a statement ran past its statement_timeout
          └── RowLimitError       a result had more rows than max_rows

Every message is one line that names the user's own values (file and line,
connection, key) and, where there is one, what to do instead. No message ever
carries a password.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class DbnbError(Exception):
    """Base class of every error dbnb raises on purpose."""


class ConfigError(DbnbError):
    """The configuration is missing, malformed or inconsistent."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        connection: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.connection = connection
        self.key = key
        self.reason = message
        where = []
        if self.path is not None:
            where.append(f"{self.path}:{line}" if line else str(self.path))
        if connection is not None:
            where.append(f"connection {connection!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(": ".join([*where, message]))


class UnknownConnectionError(ConfigError):
    """No connection of that name is configured."""

    def __init__(self, name: str, known: Iterable[str], *, path: Path | None = None) -> None:
        names = sorted(known)
        listed = ", ".join(names) if names else "none are configured"
        self.name = name
        self.known = names
        super().__init__(f"unknown connection {name!r}; known connections: {listed}", path=path)


class ReadOnlyError(DbnbError):
    """A write was attempted through a read-only session or connection; nothing was written."""


class PoolTimeoutError(DbnbError):
    """Every pooled connection stayed checked out for longer than pool_timeout."""


class QueryError(DbnbError):
    """The database refused a statement; the message is the database's own, on one line."""


class QueryTimeoutError(QueryError):
    """A statement ran past its statement_timeout and was cancelled."""


class RowLimitError(QueryError):
    """A result had more rows than max_rows allows; nothing more was fetched."""
