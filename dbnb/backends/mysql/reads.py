"""MariaDB's columnar reads: connectorx reads the result into Arrow, described first.

connectorx reads a MySQL-protocol result straight into Arrow, in Rust: a million
rows in about a second, where PyMySQL makes a Python object of every value. It
opens its own connection for each read and takes SQL text only, and on a value it
cannot convert (a ``TIME`` past a day, a ``DECIMAL`` wider than it holds) it
fails after the statement ran. So dbnb keeps its rules around it:

- **Described first, on a connection of dbnb's**: PyMySQL prepares the statement
  (``COM_STMT_PREPARE``: parsed, its result columns described, nothing run) and
  each column is typed as the guarded path types it (``types.py``). It runs
  here only if connectorx reads every column exactly (``_exact``); else the
  guarded path runs it, once. The server's refusals (a missing table, a write)
  come at the prepare, before anything ran: the guarded path then gives them.
- **Read-only, enforced by the server**: the statement is sent as ``SET STATEMENT
  tx_read_only=1, time_zone='+00:00'[, max_statement_time=N] FOR ...``, so it runs
  in a read-only transaction of its own (a stored function that writes is
  refused), TIMESTAMPs come in UTC as on the guarded path, and statement_timeout
  is the server's. ``SET STATEMENT`` is MariaDB's: on MySQL reads take the
  guarded path. Only a statement that starts as a query and that
  ``statements.READ_RULES`` let through (no ``INTO OUTFILE``; checked when the
  read was planned, ``ArrowReader.plan``) is sent.
- **Values bound as on the guarded path**: PyMySQL has no server-side binds; it
  renders each value into the text with its escaping. This path renders them
  with the same escaping, on the describing connection, which knows whether the
  server runs with ``NO_BACKSLASH_ESCAPES``.
- **Run once**: connectorx prepares the statement again to learn its columns,
  then executes it once (if the server refused that prepare, connectorx asks
  with ``LIMIT 0``, which the server answers without reading a row; its error is
  final). Once it ran, its error is final.
- **One budget**: a read holds one slot of the name's budget (``_Slot``), and
  its describing connection is closed before connectorx opens its own.
- **Ctrl-C stops it on the server**: connectorx blocks in Rust, so the read runs
  on a worker thread (``engine.interrupts``); Ctrl-C kills the statement that
  carries this read's mark (``KILL QUERY`` from a second connection, as
  ``cancel.py`` does for the guarded path) and waits for connectorx to return.
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa

from dbnb.backends.mysql import binds, cancel, types
from dbnb.backends.mysql.guards import SESSION_TIME_ZONE, refusal_reason
from dbnb.backends.mysql.lexical import LEXICAL_RULES
from dbnb.config import ConnectionConfig, secrets
from dbnb.engine import connecting, readonly
from dbnb.engine.interrupts import interruptible, repeat_until
from dbnb.errors import QueryError, one_line
from dbnb.read.arrow_plan import Plan
from dbnb.read.columnar import Failed, ReadWhole, Rules, TimedOut, Unsupported
from dbnb.read.dtypes import UTC_MICROS
from dbnb.sql import sqlscan
from dbnb.sql.params import PositionalRules

_DESCRIBE_TIMEOUT = 10  # seconds a describing connection waits for the server's reply
_TLS = "the server offers TLS, which connectorx's connection would not use"
_STOP_WAIT = 30.0  # seconds Ctrl-C keeps killing the marked statement until it ends
# MariaDB's errors: the statement ran past max_statement_time; KILL QUERY stopped it.
_TIMED_OUT = 1969
_KILLED = 1317
# connectorx's reading of a server error: "MySqlError { ERROR 1146 (42S02): ... }".
_SERVER_ERROR = re.compile(r"ERROR (\d+) \(\w+\): (.*?)\s*\}?\s*$", re.DOTALL)
# connectorx holds DECIMALs at scale 10 in a 96-bit integer: 28 digits in all.
_DECIMAL_SCALE = 10
_DECIMAL_INTEGER_DIGITS = 18
_EXACT_TYPES = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_date32,
    pa.types.is_timestamp,
    pa.types.is_string,
    pa.types.is_binary,
)


def serves(config: ConnectionConfig) -> bool:
    """Whether ``config``'s reads can take this path: PyMySQL's URL with nothing
    connectorx's URL cannot say (a socket, TLS settings), and connectorx installed."""
    if config.url.drivername != "mysql+pymysql" or config.url.query:
        return False
    if set(config.connect_args) - {"charset"}:
        return False
    try:
        import connectorx  # noqa: F401
    except ImportError:
        return False
    return True


class _Slot:
    """One slot of the name's budget for columnar reads: a PyMySQL connection that
    describes statements, opened when needed and closed before connectorx opens the
    connection that reads, so a slot never holds two server connections."""

    def __init__(self, open_describer: Callable[[], Any]) -> None:
        self._open_describer = open_describer
        self._describer: Any = None

    def describer(self) -> Any:
        if self._describer is None:
            self._describer = self._open_describer()
        return self._describer

    def release(self) -> None:
        describer, self._describer = self._describer, None
        if describer is not None:
            describer.close()

    def rollback(self) -> None:
        """Nothing to roll back: a read is one statement in a transaction of its own."""

    def close(self) -> None:
        self.release()


class MySQLColumnar(ReadWhole):
    """The columnar reads of one MariaDB connection (``dbnb.read.columnar.Columnar``).
    Each read describes its statement itself (``read_frame``), and is read whole."""

    binds: PositionalRules = binds.POSITIONAL_RULES
    errors: tuple[type[BaseException], ...] = (RuntimeError, OSError)

    def __init__(self, config: ConnectionConfig, default_port: int | None) -> None:
        self.config = config
        self._default_port = default_port  # its backend's, for a message naming the server
        # Whether the server offers TLS, learnt by the first describing connection.
        # PyMySQL uses TLS where the server offers it; connectorx's connection would
        # not, so such a server's reads take the guarded path. Where it offers none,
        # describing connections skip building a TLS context (most of their set-up).
        self._offers_tls: bool | None = None

    def connect(self) -> Any:
        return _Slot(self._open_describer)

    def _open_describer(self) -> Any:
        from pymysql.constants import CLIENT

        if self._offers_tls:
            raise Unsupported(_TLS)
        plain = {"ssl_disabled": True} if self._offers_tls is False else {}
        database = self.config.url.database
        # Opened before connectorx connects: a server that does not answer is caught here,
        # within the connect timeout in force (``connecting``), and connectorx never waits.
        describer = cancel.connect(
            self.config,
            timeout=connecting.in_force(self.config),
            read_timeout=_DESCRIBE_TIMEOUT,
            database=database,
            **plain,
        )
        if self._offers_tls is None:
            self._offers_tls = bool(describer.server_capabilities & CLIENT.SSL)
            if self._offers_tls:
                describer.close()
                raise Unsupported(_TLS)
        return describer

    def read_frame(
        self, connection: Any, plan: Plan, timeout: float | None, rules: Rules
    ) -> pd.DataFrame:
        slot: _Slot = connection
        mark = f"dbnb:{uuid.uuid4().hex}"
        sent, fields = self._described(slot, plan, mark, timeout)
        json = types.json_fields(slot.describer(), fields)  # MariaDB's JSON is LONGTEXT
        slot.release()  # the slot's one server connection is connectorx's from here
        table = self._run(sent, mark)
        names = [field.name for field in fields]
        kinds = [types.JSON if i in json else types.kind(f) for i, f in enumerate(fields)]
        return _frame(table, names, kinds)

    def _described(
        self, slot: _Slot, plan: Plan, mark: str, timeout: float | None
    ) -> tuple[str, list[Any]]:
        """The text to send, its values rendered, and its result columns as the server
        describes them; ``Unsupported`` (before anything ran) when connectorx would
        not read them exactly, or the server will not prepare it."""
        import pymysql

        try:
            describer = slot.describer()
        except pymysql.Error as error:
            if connecting.timed_out(error):
                raise connecting.no_answer(self.config, self._default_port) from None
            raise Unsupported("cannot connect to describe") from None
        if "mariadb" not in describer.get_server_info().lower():
            raise Unsupported("SET STATEMENT is MariaDB's")
        values = None if plan.bind is None else [column[0].as_py() for column in plan.bind.columns]
        text = plan.statement.sql if values is None else _rendered(describer, plan, values)
        if not _read_as_sent(text):
            raise Unsupported("connectorx's driver would misread a quoted span")
        settings = f"tx_read_only=1, time_zone='{SESSION_TIME_ZONE}'"
        if timeout:
            settings += f", max_statement_time={timeout:g}"
        sent = f"SET STATEMENT {settings} FOR /* {mark} */ {text}"
        try:
            fields = types.prepared_fields(describer, sent)
        except pymysql.Error:
            slot.release()  # its state after a refused prepare is not worth keeping
            raise Unsupported("the server will not prepare it: the guarded path says why") from None
        if not fields or not all(_exact(field) for field in fields):
            raise Unsupported("a column connectorx cannot read as the guarded path does")
        return sent, fields

    def _run(self, sent: str, mark: str) -> pa.Table:
        """``sent`` run once by connectorx, on a worker thread that Ctrl-C stops."""
        import connectorx

        finished = threading.Event()

        def run() -> pa.Table:
            try:
                return connectorx.read_sql(_connectorx_url(self.config), sent, return_type="arrow")
            except BaseException as error:
                if type(error).__name__ == "PanicException":  # Rust's, not an Exception
                    raise Failed(f"connectorx could not read the result: {error}") from None
                raise
            finally:
                finished.set()

        def stop() -> None:
            # Until the read ends: connectorx may not have sent it yet, or send it again
            # after a killed prepare (with LIMIT 0).
            kill = functools.partial(cancel.kill_marked, self.config, mark)
            repeat_until(kill, finished.is_set, every=0.05, at_most=_STOP_WAIT)

        try:
            return interruptible(run, stop)
        except RuntimeError as error:
            code, _ = _server_error(error)
            if code == _TIMED_OUT:
                raise TimedOut from None
            if code == _KILLED:
                raise KeyboardInterrupt from None
            raise

    def final_error(self, error: BaseException, name: str) -> BaseException:
        """The guarded path's words: the server's message, or its refusal."""
        import pymysql

        code, message = _server_error(error)
        if code is None:
            # connectorx's own error may name its URL, password and all.
            return QueryError(f"{name}: {self.config.mask(' '.join(str(error).split()))}")
        driver_error = pymysql.err.OperationalError(code, message)
        if refusal_reason(driver_error) is not None:
            return readonly.refusal(name, message)
        return QueryError(f"{name}: {one_line(driver_error)}")


def _rendered(describer: Any, plan: Plan, values: list[Any]) -> str:
    """The statement with its values in it, as PyMySQL sends them on the guarded path."""
    with describer.cursor() as cursor:
        return str(cursor.mogrify(plan.statement.sql, values))


def _read_as_sent(text: str) -> bool:
    """Whether connectorx's driver reads ``text`` as the server does. It looks for
    named parameters (``:name``) outside quotes and comments, and takes a quote right
    after a backslash as escaped: a quoted span the server ends after a backslash
    (``'a\\\\'``, or any under ``NO_BACKSLASH_ESCAPES``) would end elsewhere for it."""
    for token in sqlscan.tokens(text, LEXICAL_RULES):
        if token.kind in ("string", "identifier") and text[token.end - 2 : token.end - 1] == "\\":
            return False
    return True


def _exact(field: Any) -> bool:
    """Whether connectorx reads this column's every value as the guarded path types it."""
    kind = types.kind(field)
    if isinstance(kind, types.Converted):
        return bool(kind.kind == pa.bool_()) or types.is_json(field)  # not TIME (past a day)
    if kind is None:
        return False
    if pa.types.is_decimal(kind):
        scale, precision = int(kind.scale), int(kind.precision)
        return scale <= _DECIMAL_SCALE and precision - scale <= _DECIMAL_INTEGER_DIGITS
    return any(check(kind) for check in _EXACT_TYPES)


def _frame(table: pa.Table, names: list[str], kinds: list[types.Kind]) -> pd.DataFrame:
    series = [_column(table.column(index), kind) for index, kind in enumerate(kinds)]
    frame = pd.concat(series, axis=1) if series else pd.DataFrame()
    frame.columns = pd.Index(names, dtype=object)
    return frame


def _column(column: pa.ChunkedArray, kind: types.Kind) -> pd.Series:
    if isinstance(kind, types.Converted) and kind.kind != pa.bool_():  # JSON: parsed
        values, _ = kind.convert_all(column.to_pylist())
        return pd.Series(values, dtype=object)
    target = kind.kind if isinstance(kind, types.Converted) else kind
    assert isinstance(target, pa.DataType)
    # connectorx reads TIMESTAMPs as the session's (UTC) wall time, DECIMALs at scale
    # 10, integers by their storage; a safe cast checks each value fits.
    if target == UTC_MICROS:
        column = column.cast(pa.timestamp("us"))
    return pd.Series(pd.arrays.ArrowExtensionArray(column.cast(target)))


def _server_error(error: BaseException) -> tuple[int | None, str]:
    found = _SERVER_ERROR.search(str(error))
    if found is None:
        return None, str(error)
    return int(found.group(1)), found.group(2)


def _connectorx_url(config: ConnectionConfig) -> str:
    """connectorx's URL: TCP only (else its driver asks for the server's socket and
    connects a second time, two server connections for one slot)."""
    url = config.url
    user = quote(url.username or "", safe="")
    password = quote(secrets.password(config) or "", safe="")  # a password_command's runs now
    credentials = f"{user}:{password}" if password else user
    database = quote(url.database or "", safe="")
    return (
        f"mysql://{credentials}@{url.host or 'localhost'}:{url.port or 3306}/{database}"
        "?prefer_socket=false"
    )
