"""The exceptions dbnb raises.

    DbnbError                     anything dbnb raises on purpose
     ├── ConfigError              the config file or environment is wrong
     │    └── UnknownConnectionError   no connection has that name
     ├── ReadOnlyError            a write was attempted through a read-only path
     ├── ConnectError             the server did not answer a connect within connect_timeout
     ├── PoolTimeoutError         every pooled connection stayed busy for pool_timeout
     ├── QueryError               the database refused a statement
     │    ├── QueryTimeoutError   a statement ran past its statement_timeout
     │    └── RowLimitError       a result had more rows than max_rows
     ├── WriteError               a write failed and was rolled back: nothing was written
     │    └── ValidationError     a row does not fit the table; found before anything was sent
     ├── ParameterError           a :name placeholder has no value, or one it cannot bind
 ├── OptionError              an argument dbnb does not take (chunksize, output, ...)
     ├── MigrationError           a migration command failed, or models and database differ
     └── ServerError              the local development PostgreSQL could not start/stop

    PrivilegeWarning              reads run with more privilege than reading (no read_role)

Every message is one line that names the user's own values (file and line,
connection, key) and, where there is one, what to do instead. No message ever
carries a password.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Self


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


class ConnectError(DbnbError):
    """The server did not answer a connect in time; nothing was sent. ``connection``,
    ``address`` (host:port) and ``seconds`` (the connect timeout in force) say which."""

    def __init__(self, message: str, *, connection: str, address: str, seconds: float) -> None:
        self.connection = connection
        self.address = address
        self.seconds = seconds
        super().__init__(message)


class PoolTimeoutError(DbnbError):
    """Every pooled connection stayed checked out for longer than pool_timeout."""


class QueryError(DbnbError):
    """The database refused a statement; the message is the database's own, on one line.

    Its facts, for a program to check: ``connection`` (the name), ``statement`` (the
    SQL sent, bound values as placeholders), ``path`` (``"columnar"`` or
    ``"guarded"``) and ``sqlstate`` (the database's code, where its driver gives one:
    PostgreSQL's on both paths; None where unknown). The driver's own error is not
    chained as ``__cause__``: it quotes bound values, which dbnb's message masks.
    """

    connection: str | None = None
    statement: str | None = None
    path: str | None = None
    sqlstate: str | None = None

    def add_facts(
        self,
        *,
        connection: str | None = None,
        statement: str | None = None,
        path: str | None = None,
        cause: BaseException | None = None,
    ) -> Self:
        """Fill in the facts not known yet; ``sqlstate`` from ``cause`` (the driver's
        error, or SQLAlchemy's around it)."""
        given = {"connection": connection, "statement": statement, "path": path}
        given["sqlstate"] = sqlstate_of(cause)
        for fact, value in given.items():
            if value is not None and getattr(self, fact) is None:
                setattr(self, fact, str(value))
        return self

    def facts(self) -> dict[str, str | None]:
        """The facts by name (to copy them onto an error made anew from this one)."""
        return {
            fact: getattr(self, fact) for fact in ("connection", "statement", "path", "sqlstate")
        }

    def unplaced(self) -> QueryError:
        """This error without the place in its statement that the message points to
        (``at character 373``): for a statement dbnb wrote, whose text the user never
        saw. Its facts stay; the statement is among them."""
        error = QueryError(without_place(str(self)))
        for fact, value in self.facts().items():
            setattr(error, fact, value)
        return error


# Where a database's message points into the statement it ran.
_POSITION = re.compile(r"\s*\(at character \d+\)|\s*near '.*' at line \d+|\s*LINE \d+:.*$")


def without_place(message: str) -> str:
    """``message`` without the place in the statement it points to."""
    return _POSITION.sub("", message).strip()


def sqlstate_of(error: BaseException | None) -> str | None:
    """The SQLSTATE ``error`` carries (psycopg's and ADBC's errors, or SQLAlchemy's
    around them), if any."""
    for candidate in (error, getattr(error, "orig", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


class QueryTimeoutError(QueryError):
    """A statement ran past its statement_timeout and was cancelled."""


class RowLimitError(QueryError):
    """A result had more rows than max_rows allows; nothing more was fetched."""


class WriteError(DbnbError):
    """A write failed and was rolled back, so nothing was written; names the row where known."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        row: Hashable | None = None,
        column: str | None = None,
        value: Any = None,
        reason: str | None = None,
    ) -> None:
        self.table = table
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason or message
        super().__init__(message)

    @classmethod
    def at(
        cls,
        table: str,
        reason: str,
        *,
        row: Hashable | None = None,
        column: str | None = None,
        value: Any = None,
    ) -> Self:
        """The error for one row and column, with a message that names them."""
        where = [f"table {table!r}"]
        if row is not None:
            where.append(f"row {row!r}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None or value is not None:
            where.append(f"value {_short(value)}")
        message = f"{', '.join(where)}: {reason}; nothing was written"
        return cls(message, table=table, row=row, column=column, value=value, reason=reason)


class ValidationError(WriteError):
    """A row does not fit the table's types or constraints; found before any row was sent."""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ParameterError(DbnbError):
    """A ``:name`` placeholder has no value (no variable of that name), or a value no
    driver can bind (``dbnb.binds``)."""


class OptionError(DbnbError, ValueError):
    """An argument's value is not one dbnb takes (``chunksize``, ``output``, a history
    size); a ``ValueError`` too, as Python's own bad arguments are."""


class MigrationError(DbnbError):
    """A migration command failed, or (``check``) the models and the database differ."""


class ServerError(DbnbError):
    """The local development PostgreSQL server (``pgserver:``) could not be run or reached."""


class PrivilegeWarning(UserWarning):
    """Reads run as a superuser (or with SUPER/FILE) and no ``read_role`` is set."""


def one_line(error: BaseException | None) -> str:
    """An error's message on one line, for a dbnb message: a SQLAlchemy error speaks
    through the driver's error it wraps, without its link to background reading."""
    orig = getattr(error, "orig", None)
    source = orig if isinstance(orig, BaseException) else error
    args: tuple[Any, ...] = getattr(source, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        raw = args[1]  # PyMySQL's (code, message): the server's message alone
    else:
        raw = str(source) if source is not None else ""
    text = " ".join(raw.split()).split("(Background on this error")[0].strip()
    return text or type(source).__name__
