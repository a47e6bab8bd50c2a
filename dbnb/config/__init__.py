"""Named connections from YAML.

``parse_config(text, environ=..., path=...)`` is a pure function of the file's
text and the environment; ``load_config()`` adds the one place that reads
files, following the documented lookup order:

1. an explicit path;
2. ``$DBNB_CONFIG``;
3. ``etc/infra.yaml`` in the current folder or the nearest parent that has one;
4. ``infra.yaml`` in the user's config folder (``platformdirs``);
5. no file: ``$DATABASE_URL``, if set, becomes the connection ``default``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import platformdirs

from dbnb.config import masking, secrets
from dbnb.config.secrets import PasswordCommand, as_command, as_paths
from dbnb.config.values import (
    BadValue,
    as_bool,
    as_float,
    as_int,
    as_mapping,
    as_milliseconds,
    as_positive_seconds,
    as_text,
    expand_env,
    line_of,
    read_config_text,
    read_yaml,
)
from dbnb.errors import ConfigError, DbnbError, ReadOnlyError, UnknownConnectionError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

CONFIG_ENV = "DBNB_CONFIG"
DATABASE_URL_ENV = "DATABASE_URL"
PROJECT_CONFIG = Path("etc") / "infra.yaml"
# Seconds a connect waits for the server's answer (issue 24: never wait forever).
DEFAULT_CONNECT_TIMEOUT = 10.0

# `type:` values and the SQLAlchemy driver dbnb uses for them; any other type
# is taken as a SQLAlchemy dialect name (duckdb, mysql+pymysql, ...).
DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    # MariaDB and MySQL speak one protocol: PyMySQL, pure Python, serves both
    # (dbnb/backends/mysql/__init__.py says why this driver).
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    # Apache Spark through Spark Connect: no SQLAlchemy dialect, its own backend.
    "spark": "spark",
    "sc": "spark",
}

# Top-level sections other tools keep in the same infra.yaml are left alone;
# these are the ones dbnb reads.
TOP_LEVEL_KEYS = ("default", "databases")


@dataclass(frozen=True)
class ConnectionConfig:
    """One named connection: where it is, how it is pooled, whether it may write."""

    name: str
    url: URL  # SQLAlchemy masks the password in its repr
    readonly: bool = False
    pool_size: int | None = None
    max_overflow: int | None = None
    pool_timeout: float | None = None
    pool_recycle: int | None = None
    pool_pre_ping: bool = True
    connect_args: Mapping[str, Any] = field(default_factory=dict, repr=False)
    statement_timeout: float | None = None  # seconds
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT  # seconds a server may take to answer
    max_rows: int | None = None
    slow_query_ms: float | None = None  # statements slower than this are logged at WARNING
    log_parameters: bool = False  # parameter values in history and logs: only if asked
    read_role: str | None = None  # reads run as this role (PostgreSQL): least privilege
    source: str | None = None  # "etc/infra.yaml:12", where the entry was defined
    # The program whose output is the password of each new server connection.
    password_command: PasswordCommand | None = field(default=None, repr=False)
    # What the entry read from the keyring, files and option files: masked like a password.
    secret_values: tuple[str, ...] = field(default=(), repr=False)

    @property
    def backend(self) -> str:
        """The database kind: ``sqlite``, ``postgresql``, ``duckdb``, ..."""
        return self.url.get_backend_name()

    @property
    def database_file(self) -> str | None:
        """The path of a file database (SQLite's, DuckDB's) on this machine; None for a
        server's database, an in-memory one, or one a path does not name."""
        return _file_of(self.url)

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, fit for messages and logs; a Spark Connect
        URL as its users write it (``sc://host:port/;user_id=...;token=***``)."""
        if self.url.drivername == "spark":
            return spark_connect_url(self.url, hide_token=True)
        return self.url.render_as_string(hide_password=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password (or token) in each form a message may show it (``dbnb.config.masking``)."""
        forms = [
            masking.secret_forms(secret) for secret in (self.url.password, *self.secret_values)
        ]
        return tuple(dict.fromkeys(form for found in forms for form in found))

    def mask(self, text: str) -> str:
        """``text`` with the password masked wherever it stands as a value."""
        return masking.mask_secrets(text, self.secrets)

    def cannot_connect(self, reason: str) -> DbnbError:
        """The error of a connection that failed: ``reason`` (the driver's), masked."""
        return DbnbError(f"cannot connect to {self.name!r} ({self.safe_url}): {self.mask(reason)}")

    def never_writes(self) -> ReadOnlyError:
        """The one refusal of a write on a ``readonly: true`` connection, naming where
        the config says so (no remedy: only the config can change it)."""
        where = f" in {self.source}" if self.source else ""
        return ReadOnlyError(
            f"connection {self.name!r} is marked readonly: true{where}; it never writes"
        )


@dataclass(frozen=True)
class Config:
    """All named connections and which one is the default.

    An entry with a problem of its own (a missing variable, an unknown key, a
    wrong type, a bad url) does not stop the others: it is kept in ``problems``
    as the ``ConfigError`` that using it raises, and ``names`` still lists it.
    """

    connections: Mapping[str, ConnectionConfig]  # the entries that can be used
    default: str | None = None
    path: Path | None = None
    problems: Mapping[str, ConfigError] = field(default_factory=dict)
    # Every name, broken ones included, in the file's order; () means connections, then problems.
    order: tuple[str, ...] = ()
    # What `dbnb list` and `%db` warn of once: passwords in plain text (dbnb.config.secrets).
    nudges: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        everything = (*self.connections, *self.problems)
        if not self.order:
            object.__setattr__(self, "order", everything)
        elif sorted(self.order) != sorted(everything):
            raise ValueError("Config.order must name every connection and problem once")

    @property
    def names(self) -> list[str]:
        """Every connection name, broken entries included, in the file's order."""
        return list(self.order)

    def get(self, name: str | None = None) -> ConnectionConfig:
        """The connection called ``name``, or the default one.

        A broken entry raises its own ``ConfigError`` here, when it is used.
        """
        if name is None:
            if self.default is None:
                raise ConfigError(
                    "no default connection: create etc/infra.yaml, set $DBNB_CONFIG, "
                    "or set $DATABASE_URL",
                    path=self.path,
                )
            name = self.default
        if name in self.connections:
            return self.connections[name]
        problem = self.problems.get(name)
        if problem is not None:
            # A fresh error on each use: the stored one keeps no traceback of an earlier use.
            raise ConfigError(
                problem.reason,
                path=problem.path,
                line=problem.line,
                connection=problem.connection,
                key=problem.key,
            )
        raise UnknownConnectionError(name, self.names, path=self.path)

    def problem(self, name: str) -> str | None:
        """What is wrong with the entry ``name``, on one line for a listing; None if it works.

        The line and key, then the reason: the file and the name are on the listing already.
        """
        problem = self.problems.get(name)
        if problem is None:
            return None
        where = [f"line {problem.line}"] if problem.line else []
        if problem.key is not None:
            where.append(f"key {problem.key!r}")
        return ": ".join([*where, problem.reason])


# Every key a `databases:` entry may have, and how its value is read.
ENTRY_KEYS: dict[str, Callable[[Any], Any]] = {
    "type": as_text,
    "url": as_text,
    "host": as_text,
    "port": as_int,
    "database": as_text,
    "user": as_text,
    "password": as_text,
    "token": as_text,  # Spark Connect's bearer token: kept where a password is, masked alike
    "readonly": as_bool,
    "pool_size": as_int,
    "max_overflow": as_int,
    "pool_timeout": as_float,
    "pool_recycle": as_int,
    "pool_pre_ping": as_bool,
    "connect_args": as_mapping,
    "statement_timeout": as_float,
    "connect_timeout": as_positive_seconds,
    "max_rows": as_int,
    "slow_query_ms": as_milliseconds,
    "log_parameters": as_bool,
    "read_role": as_text,
    # Secrets by reference (dbnb.config.secrets); `${keyring...}`/`${file:...}` go in any value.
    "password_command": as_command,
    "service": as_text,  # PostgreSQL: libpq's pg_service.conf entry
    "option_files": as_paths,  # MariaDB/MySQL: ~/.my.cnf-style files
}
# The keys only some databases take.
_ONLY_FOR = {
    "service": ("postgresql",),
    "option_files": ("mysql",),
    "password_command": ("postgresql", "mysql", "spark"),
}
_PARTS = ("type", "host", "port", "database", "user", "password", "token")


def _expand_all(
    value: Any, environ: Mapping[str, str], references: secrets.References | None = None
) -> Any:
    if isinstance(value, str):
        return expand_env(value, environ, references)
    if isinstance(value, dict):
        return {key: _expand_all(item, environ, references) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_all(item, environ, references) for item in value]
    return value


# --- entries ------------------------------------------------------------------------


def _connection(
    name: str,
    entry: Any,
    *,
    line: int | None,
    environ: Mapping[str, str],
    path: Path | None,
    base: Path,
) -> ConnectionConfig:
    def fail(message: str, key: str | None = None) -> ConfigError:
        at = line_of(entry, key) if key else line
        return ConfigError(message, path=path, line=at, connection=name, key=key)

    if not isinstance(entry, dict):
        raise fail(f"expected a mapping of settings, got {type(entry).__name__}")
    values: dict[str, Any] = {}
    references = secrets.References(name, base)
    for key, raw in entry.items():
        reader = ENTRY_KEYS.get(key)
        if reader is None:
            close = difflib.get_close_matches(str(key), ENTRY_KEYS, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(ENTRY_KEYS)}"
            )
            raise fail(f"unknown key; {hint}", str(key))
        try:
            value = _expand_all(raw, environ, references)
        except BadValue as problem:
            raise fail(str(problem), key) from None
        # `password: ${PGPASSWORD:-}` with nothing set means "no password".
        if value is None or value == "":
            continue
        try:
            values[key] = reader(value)
        except BadValue as problem:
            # A value from the environment may be a secret: name the reference, not the value.
            message = str(problem).replace(repr(value), repr(raw)) if value != raw else str(problem)
            raise fail(message, key) from None

    found = _by_reference(values, base, fail)
    url = _relative_to(_entry_url(values, fail), base)
    _check_only_for(values, url, fail)

    return ConnectionConfig(
        name=name,
        url=url,
        readonly=values.get("readonly", False),
        pool_size=values.get("pool_size"),
        max_overflow=values.get("max_overflow"),
        pool_timeout=values.get("pool_timeout"),
        pool_recycle=values.get("pool_recycle"),
        pool_pre_ping=values.get("pool_pre_ping", True),
        connect_args=values.get("connect_args", {}),
        statement_timeout=values.get("statement_timeout"),
        connect_timeout=values.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        max_rows=values.get("max_rows"),
        slow_query_ms=values.get("slow_query_ms"),
        log_parameters=values.get("log_parameters", False),
        read_role=values.get("read_role"),
        source=f"{path}:{line}" if path and line else None,
        password_command=(
            PasswordCommand(values["password_command"], name, base)
            if "password_command" in values
            else None
        ),
        secret_values=(*references.found, *found),
    )


def _by_reference(
    values: dict[str, Any], base: Path, fail: Callable[..., ConfigError]
) -> tuple[str, ...]:
    """The settings of the entry's option files, where it gives none of its own; the
    secrets found there."""
    if "password_command" in values:
        clash = [key for key in ("password", "token") if key in values]
        if clash:
            raise fail(f"give either {clash[0]} or password_command, not both", clash[0])
    if "option_files" not in values:
        return ()
    try:
        options = secrets.read_option_files(values["option_files"], base)
    except BadValue as problem:
        raise fail(str(problem), "option_files") from None
    if "url" in values:
        raise fail("option_files fill host/user/password: give the parts, not url", "url")
    for key, value in options.items():
        if not ("password_command" in values and key == "password"):
            values.setdefault(key, as_int(value) if key == "port" else value)
    return (options["password"],) if options.get("password") else ()


def _check_only_for(values: Mapping[str, Any], url: URL, fail: Callable[..., ConfigError]) -> None:
    kind = url.get_backend_name()  # a Spark Connect URL's too (its driver is its name)
    for key, kinds in _ONLY_FOR.items():
        if key in values and kind not in kinds:
            raise fail(f"only {'/'.join(kinds)} connections take {key}", key)


def _entry_url(values: Mapping[str, Any], fail: Callable[..., ConfigError]) -> URL:
    """An entry's URL: its ``url``, or one made of its parts (``type``, ``host``, ...)."""
    # SQLAlchemy loads with the first connection, not with the module (``dbnb --help``).
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if "url" in values:
        clash = [key for key in _PARTS if key in values]
        if clash:
            raise fail(f"give either url or {'/'.join(clash)}, not both", clash[0])
        try:
            url = make_url(values["url"])
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise fail("not a valid database URL", "url") from None
        if "service" in values:
            url = url.update_query_dict({"service": values["service"]})
        return _with_driver(url)
    if "type" in values:
        if "token" in values and "password" in values:
            raise fail("give either password or token, not both", "token")
        return URL.create(
            DRIVERS.get(values["type"].lower(), values["type"]),
            username=values.get("user"),
            password=values.get("password", values.get("token")),
            host=values.get("host"),
            port=values.get("port"),
            database=values.get("database"),
            # libpq reads the service's settings from pg_service.conf (PGSERVICEFILE).
            query={"service": values["service"]} if "service" in values else {},
        )
    raise fail("missing key 'type' (sqlite, postgresql, mysql, ...) or 'url'")


def _with_driver(url: URL) -> URL:
    """``postgresql://`` and ``postgres://`` URLs use psycopg 3, ``mysql://`` and
    ``mariadb://`` PyMySQL, ``sc://`` (Spark Connect) dbnb's Spark backend; others keep
    their driver."""
    if url.drivername == "sc":
        return _spark_connect(url)
    if url.drivername in DRIVERS:
        return url.set(drivername=DRIVERS[url.drivername])
    return url


def _spark_connect(url: URL) -> URL:
    """Spark Connect's ``sc://host:port/;token=...;user_id=...`` as ``spark://user:token@host:port``:
    the token takes a password's place, so it is masked wherever a password is."""
    settings = dict(part.split("=", 1) for part in (url.database or "").split(";") if "=" in part)
    token = settings.pop("token", None) or url.password
    user = settings.pop("user_id", None) or url.username
    return type(url).create(
        "spark", username=user, password=token, host=url.host, port=url.port, query=settings
    )


def spark_connect_url(url: URL, *, hide_token: bool) -> str:
    """A Spark Connect URL as Spark Connect reads it: ``sc://host:port/;key=value...``."""
    settings = {key: quote(str(value), safe="") for key, value in url.query.items()}
    if url.username:
        settings["user_id"] = quote(url.username, safe="")
    if url.password:
        settings["token"] = "***" if hide_token else quote(str(url.password), safe="")
    tail = "".join(f";{key}={value}" for key, value in settings.items())
    where = f"sc://{url.host or 'localhost'}:{url.port or SPARK_CONNECT_PORT}"
    return f"{where}/{tail}" if tail else where


SPARK_CONNECT_PORT = 15002  # Spark Connect's own default

# File databases: a `database:` path is relative to the config file, not to wherever
# Python runs. What follows these prefixes is not a path on this machine.
_FILE_DATABASES = {"sqlite": ("file:",), "duckdb": ("md:", "motherduck:")}


def _file_of(url: URL) -> str | None:
    """The path a file database's ``url`` names on this machine (relative or not), if any."""
    not_paths = _FILE_DATABASES.get(url.get_backend_name())
    database = url.database or ""
    if not_paths is None or database == "" or database.startswith((":memory:", *not_paths)):
        return None
    if "://" in database:  # DuckDB reads s3:// or https:// databases through httpfs
        return None
    return database


def _relative_to(url: URL, base: Path) -> URL:
    """``url`` with a file database's relative path made absolute from ``base``."""
    database = _file_of(url)
    if database is None:
        return url
    return url.set(database=str((base / Path(database).expanduser()).resolve()))


def url_connection(name: str | None, url: str, *, base: Path | None = None) -> ConnectionConfig:
    """A connection from a bare URL (``dbnb.connect(url)``, ``$DATABASE_URL``).

    Without a ``name``, the connection is named by its URL, password masked.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = _with_driver(make_url(url))
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError("not a valid database URL", connection=name) from None
    parsed = _relative_to(parsed, base or Path.cwd())
    config = ConnectionConfig(name=name or "", url=parsed)
    return config if name else dataclasses.replace(config, name=config.safe_url)


# --- whole files --------------------------------------------------------------------


def parse_config(
    text: str, *, environ: Mapping[str, str] | None = None, path: Path | str | None = None
) -> Config:
    """Parse a config file's text; a pure function of ``text`` and ``environ``."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path is not None else None
    base = path.parent if path is not None else Path.cwd()
    document = read_yaml(text, path=path)
    if not isinstance(document, dict):
        raise ConfigError("expected a mapping with a 'databases:' section", path=path)

    if "databases" not in document:
        near = difflib.get_close_matches("databases", [str(key) for key in document], n=1)
        if near:
            raise ConfigError(
                "unknown key; did you mean 'databases'?",
                path=path,
                line=line_of(document, near[0]),
                key=near[0],
            )
    databases = document.get("databases") or {}
    if not isinstance(databases, dict):
        raise ConfigError(
            "expected a mapping of connection names to settings",
            path=path,
            line=line_of(document, "databases"),
            key="databases",
        )
    # One entry's problem fails that entry when it is used, not the whole file.
    connections: dict[str, ConnectionConfig] = {}
    problems: dict[str, ConfigError] = {}
    nudges = []
    for name, entry in databases.items():
        if isinstance(entry, dict):
            nudge = secrets.plain_text(
                str(name), entry, line_of(databases, str(name)), str(path or "the config")
            )
            if nudge:
                nudges.append(nudge)
        try:
            connections[str(name)] = _connection(
                str(name),
                entry,
                line=line_of(databases, str(name)),
                environ=environ,
                path=path,
                base=base,
            )
        except ConfigError as error:
            problems[str(name)] = error
    names = tuple(str(name) for name in databases)

    default = document.get("default")
    if default is not None:
        try:
            default = expand_env(as_text(default), environ)
        except BadValue as problem:
            raise ConfigError(
                str(problem), path=path, line=line_of(document, "default"), key="default"
            ) from None
        # Naming a broken entry is fine: using the default raises that entry's error.
        if default not in names:
            raise ConfigError(
                f"names no connection; known connections: {', '.join(names) or 'none'}",
                path=path,
                line=line_of(document, "default"),
                key="default",
            )
    elif names:
        default = names[0]  # the first entry, even a broken one: never a different database
    return Config(
        connections=connections,
        default=default,
        path=path,
        problems=problems,
        order=names,
        nudges=tuple(nudges),
    )


def user_config_path() -> Path:
    """``infra.yaml`` in the user's config folder (``~/.config/dbnb`` on Linux)."""
    return platformdirs.user_config_path("dbnb") / "infra.yaml"


def find_config_file(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """Where the config is, by the documented lookup order (steps 2 to 4)."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_CONFIG).is_file():
            return folder / PROJECT_CONFIG
    user = user_config_path()
    return user if user.is_file() else None


def load_config(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Find, read and parse the config; see the module docstring for the lookup order."""
    environ = os.environ if environ is None else environ
    found = Path(path).expanduser() if path is not None else find_config_file(environ, cwd)
    if found is None:
        url = environ.get(DATABASE_URL_ENV)
        if not url:
            return Config(connections={})
        return Config(
            connections={"default": url_connection("default", url, base=cwd)}, default="default"
        )
    try:
        text = read_config_text(found)
    except OSError as error:
        via = f" (from ${CONFIG_ENV})" if path is None and environ.get(CONFIG_ENV) else ""
        raise ConfigError(f"cannot read config{via}: {error.strerror}", path=found) from None
    config = parse_config(text, environ=environ, path=found)
    shared = secrets.readable_by_others(found) if config.nudges else None
    if shared:
        return dataclasses.replace(config, nudges=(*config.nudges, shared))
    return config
