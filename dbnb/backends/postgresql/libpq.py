"""How the columnar path reaches PostgreSQL through libpq, and reads its failures:
the connection URI, a connection that is gone, a cancel, the server's own message.
"""

from __future__ import annotations

import re
import urllib.parse

from dbnb.config import ConnectionConfig, secrets
from dbnb.engine import connecting, engines
from dbnb.engine.backend import EngineBackend


def postgresql_uri(config: ConnectionConfig, backend: EngineBackend) -> str:
    # The driver arguments of the guarded engine (application_name, options, ...), so
    # both paths connect alike; then every transaction is read-only on the server.
    url = config.url
    query: dict[str, str] = {key: str(value) for key, value in url.query.items()}
    arguments = engines.engine_arguments(config, backend)
    query.update({key: str(value) for key, value in arguments.connect_args.items()})
    # The connect timeout in force, at most the call's own timeout (``connecting``).
    query["connect_timeout"] = str(connecting.whole_seconds(connecting.in_force(config)))
    if "-c default_transaction_read_only=on" not in query.get("options", ""):
        query["options"] = f"{query.get('options', '')} -c default_transaction_read_only=on".strip()
    if config.read_role:
        # This path only reads: the whole session takes the role (libpq escapes a space
        # in options with a backslash).
        role = config.read_role.replace("\\", "\\\\").replace(" ", "\\ ")
        query["options"] = f"{query['options']} -c role={role}"
    # The password of a new connection (a password_command's runs now); none: libpq's
    # own ~/.pgpass (PGPASSFILE) or the service file's, as psycopg's connections do.
    password = secrets.password(config)
    auth = ""
    if url.username:
        auth = urllib.parse.quote(url.username, safe="")
        if password:
            auth += ":" + urllib.parse.quote(password, safe="")
        auth += "@"
    elif password:  # the user comes from the service file or the environment
        query["password"] = password
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{url.port}" if url.port else ""
    database = urllib.parse.quote(url.database or "", safe="")
    # libpq decodes %20 but not "+" for a space (urlencode's default).
    options = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return f"postgresql://{auth}{host}{port}/{database}?{options}"


# How libpq words a connection that is gone.
_LOST = (
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "connection to server was lost",
)
# SQLSTATE classes of a connection that is gone: 08 connection exception, 57P operator
# intervention (the server shutting down, the backend terminated).
_LOST_STATES = ("08", "57P")


def is_lost(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None) or ""
    text = " ".join(str(error).split())
    if sqlstate.startswith(_LOST_STATES) or any(sign in text for sign in _LOST):
        return True
    # ADBC raises a bare OSError for whatever ends a result stream: the socket, or the
    # server's error for a row (division by zero), which libpq words "ERROR:".
    return isinstance(error, OSError) and "ERROR:" not in text


def cancelled(error: BaseException) -> bool:
    """A statement the driver cancelled because of Ctrl-C (not a server timeout)."""
    return "canceling statement due to user request" in " ".join(str(error).split())


# libpq's words for a login the server refused for its password, or with no password to
# send (none in the entry, none in ~/.pgpass): psycopg, on the same libpq, the same
# ~/.pgpass and the same URI's settings, is refused alike.
_REFUSED_LOGIN = ("password authentication failed", "fe_sendauth: no password supplied")
_ADBC_CONNECT = "Failed to connect: "  # ADBC's words before libpq's own


def refused_login(error: BaseException) -> bool:
    """A connect the server (or libpq, with no password to give) refused for the password."""
    text = " ".join(str(error).split())
    return any(sign in text for sign in _REFUSED_LOGIN)


def connect_failure(error: BaseException) -> str:
    """libpq's own message of a failed connect, without what ADBC put before it."""
    text = " ".join(str(error).split())
    return text.split(_ADBC_CONNECT, 1)[-1]


_LIBPQ_PREFIX = re.compile(r"^.*?(?:FATAL|ERROR):\s+")


def message(error: BaseException) -> str:
    """The server's own message: the primary diagnostic, else libpq's text trimmed."""
    details = dict(getattr(error, "details", None) or [])
    primary = details.get(b"PG_DIAG_MESSAGE_PRIMARY")
    if isinstance(primary, bytes):
        return primary.decode(errors="replace")
    text = " ".join(str(error).split())
    return _LIBPQ_PREFIX.sub("", text).split(". SQLSTATE")[0].strip() or type(error).__name__
