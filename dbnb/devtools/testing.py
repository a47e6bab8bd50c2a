"""pytest fixtures for projects that use dbnb, loaded by installing dbnb (entry point ``pytest11``).

Fixtures
    dbnb_database   session   a ``dbnb.Database`` on a database made for this test run:
                              a throwaway PostgreSQL database or a temp-file SQLite
                              (ini ``dbnb_backend``), with the tables of ``dbnb_models``
    db_session      function  a write session on it whose changes are rolled back when
                              the test ends, even if the code under test commits
    dbnb_config     function  a config file for one test, found through ``$DBNB_CONFIG``,
                              whose connection ``test`` is ``dbnb_database``
    dbnb_registry   function  a ``dbnb.Registry`` over ``dbnb_config``
    dbnb_pg_url     session   the URL of a PostgreSQL database created and dropped for the run
    dbnb_mysql_url  session   the URL of a MariaDB/MySQL database created and dropped for the run
    dbnb_sqlite_url session   the URL of a SQLite file in the run's temp folder

Settings (ini file, or ``-o name=value``; the environment variable wins)
    dbnb_backend        sqlite (default), postgresql or mysql   $DBNB_TEST_BACKEND
    dbnb_pg_admin_url   where throwaway databases are created   $DBNB_TEST_PG
                        (default postgresql://postgres@127.0.0.1:5432/test)
    dbnb_mysql_admin_url  the same on MariaDB/MySQL             $DBNB_TEST_MYSQL
                        (default mysql://root@127.0.0.1:3306/)
    dbnb_models         module (or module:attribute) of the models whose tables
                        ``dbnb_database`` creates

``db_session`` follows SQLAlchemy's "joining a session into an external
transaction" recipe: the test's session runs in a SAVEPOINT of a transaction
that is always rolled back, so ``session.commit()`` in the code under test
ends only the savepoint.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import dbnb
from dbnb.config import url_connection
from dbnb.errors import DbnbError

# pytest loads this plugin in every run where dbnb is installed, whether it uses
# the fixtures or not: psycopg, SQLAlchemy and SQLModel load with the first fixture.
if TYPE_CHECKING:
    from sqlmodel import Session

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL_ADMIN_URL = "mysql://root@127.0.0.1:3306/"
# dbnb_backend values and the fixture that makes each kind of database.
BACKENDS = {"sqlite": "dbnb_sqlite_url", "postgresql": "dbnb_pg_url", "mysql": "dbnb_mysql_url"}
TEST_CONNECTION = "test"

_SETTINGS = {
    # ini name: (environment variable, default, help)
    "dbnb_backend": (
        "DBNB_TEST_BACKEND",
        "sqlite",
        "sqlite, postgresql or mysql: dbnb_database's kind",
    ),
    "dbnb_pg_admin_url": (
        "DBNB_TEST_PG",
        DEFAULT_PG_ADMIN_URL,
        "PostgreSQL URL where dbnb creates and drops throwaway test databases",
    ),
    "dbnb_mysql_admin_url": (
        "DBNB_TEST_MYSQL",
        DEFAULT_MYSQL_ADMIN_URL,
        "MariaDB/MySQL URL where dbnb creates and drops throwaway test databases",
    ),
    "dbnb_models": (None, "", "module (or module:attribute) whose tables dbnb_database creates"),
}


def pytest_configure(config: pytest.Config) -> None:
    # A test database is a throwaway one, often made by a superuser: reading there
    # with more privilege than reading is the point, not a warning.
    config.addinivalue_line("filterwarnings", "ignore::dbnb.errors.PrivilegeWarning")


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (_, default, help_) in _SETTINGS.items():
        parser.addini(name, help_, default=default)


def setting(config: pytest.Config, name: str) -> str:
    """An ini setting of this plugin, its environment variable first."""
    variable = _SETTINGS[name][0]
    if variable and os.environ.get(variable):
        return os.environ[variable]
    return str(config.getini(name))


# --- helpers (dbnb's own fixtures build on these too) ------------------------------------


def clean_environment(monkeypatch: pytest.MonkeyPatch, config_home: Path) -> None:
    """Hide the developer's DBNB_*, DATABASE_URL, PGPASSWORD and user config from a test."""
    for name in list(os.environ):
        if name.startswith("DBNB_") or name in ("DATABASE_URL", "PGPASSWORD"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))


@contextmanager
def throwaway_pg_database(admin_url: str, prefix: str = "dbnb_test") -> Iterator[str]:
    """Create a PostgreSQL database with a fresh name, yield the name, drop it after.

    Raises ``DbnbError`` saying how to start the server when it is not reachable.
    """
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin_dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    safe = make_url(admin_url).render_as_string(hide_password=True)
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        raise DbnbError(
            f"PostgreSQL is not reachable at {safe} ({reason}); start it (for a local one: "
            "`dbnb server start`, or `pg_ctlcluster --skip-systemctl-redirect VERSION main "
            "start`), or point $DBNB_TEST_PG / dbnb_pg_admin_url at a server"
        ) from None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def throwaway_mysql_database(admin_url: str, prefix: str = "dbnb_test") -> Iterator[str]:
    """Create a MariaDB/MySQL database with a fresh name, yield the name, drop it after.

    Raises ``DbnbError`` saying how to start the server when it is not reachable.
    """
    try:
        import pymysql
    except ImportError:
        raise DbnbError("the mysql test backend needs pymysql: pip install 'dbnb[mysql]'") from None
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    safe = url.render_as_string(hide_password=True)
    try:
        admin = pymysql.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            connect_timeout=5,
            autocommit=True,
        )
    except pymysql.err.OperationalError as error:
        raise DbnbError(
            f"MariaDB/MySQL is not reachable at {safe} ({error.args[-1]}); start it (for a "
            "local one: `service mariadb start`), or point $DBNB_TEST_MYSQL / "
            "dbnb_mysql_admin_url at a server"
        ) from None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield name
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at the database ``name`` instead."""
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_tables(database: dbnb.Database, models: str) -> None:
    """Create the tables of a models module (``dbnb_models``) in ``database``."""
    from dbnb.devtools.migrate import load_metadata

    database.create_tables(*load_metadata(models).tables.values())


@contextmanager
def rollback_session(database: dbnb.Database) -> Iterator[Session]:
    """A write session whose every change is rolled back at the end, commits included."""
    from sqlmodel import Session

    with database.connection(write=True) as connection:
        transaction = connection.begin()
        try:
            with Session(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            ) as session:
                yield session
        finally:
            transaction.rollback()


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dbnb_pg_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """The URL of a PostgreSQL database created for this test run and dropped after it."""
    admin_url = setting(pytestconfig, "dbnb_pg_admin_url")
    with ExitStack() as stack:
        try:
            name = stack.enter_context(throwaway_pg_database(admin_url))
        except DbnbError as error:
            pytest.fail(str(error), pytrace=False)
        yield database_url(admin_url, name)


@pytest.fixture(scope="session")
def dbnb_mysql_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """The URL of a MariaDB/MySQL database created for this test run and dropped after it."""
    admin_url = setting(pytestconfig, "dbnb_mysql_admin_url")
    with ExitStack() as stack:
        try:
            name = stack.enter_context(throwaway_mysql_database(admin_url))
        except DbnbError as error:
            pytest.fail(str(error), pytrace=False)
        yield database_url(admin_url, name)


@pytest.fixture(scope="session")
def dbnb_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a SQLite file in this test run's temp folder."""
    return f"sqlite:///{tmp_path_factory.mktemp('dbnb') / 'test.db'}"


@pytest.fixture(scope="session")
def dbnb_database(request: pytest.FixtureRequest) -> Iterator[dbnb.Database]:
    """A ``dbnb.Database`` for this test run, with the tables of ``dbnb_models`` created."""
    backend = setting(request.config, "dbnb_backend").lower()
    if backend not in BACKENDS:
        pytest.fail(f"dbnb_backend is {backend!r}; use one of {', '.join(BACKENDS)}", pytrace=False)
    url = request.getfixturevalue(BACKENDS[backend])
    database = dbnb.Database(url_connection(TEST_CONNECTION, url))
    models = setting(request.config, "dbnb_models")
    if models:
        create_tables(database, models)
    yield database
    database.close()


@pytest.fixture
def db_session(dbnb_database: dbnb.Database) -> Iterator[Session]:
    """A write session on ``dbnb_database``, rolled back after the test even if it commits."""
    with rollback_session(dbnb_database) as session:
        yield session


@pytest.fixture
def dbnb_config(
    dbnb_database: dbnb.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dbnb.Config]:
    """A config for this test: ``etc/infra.yaml`` in ``tmp_path``, found via ``$DBNB_CONFIG``.

    Its one connection, ``test`` (the default), is ``dbnb_database``; so
    ``dbnb.connect()`` and ``dbnb.connect("test")`` in the code under test reach it.
    Writes made that way are committed for the rest of the run: use
    ``db_session`` for changes that must not outlive the test.
    """
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # `$` would start a ${VAR} reference in the config; `$$` is a literal one.
    url = dbnb_database.config.url.render_as_string(hide_password=False).replace("$", "$$")
    path.write_text(
        f"default: {TEST_CONNECTION}\ndatabases:\n  {TEST_CONNECTION}:\n    url: '{url}'\n",
        encoding="utf-8",
    )
    clean_environment(monkeypatch, tmp_path / "xdg")
    monkeypatch.setenv("DBNB_CONFIG", str(path))
    dbnb.close_all()  # dbnb.connect() reads the config afresh
    yield dbnb.load_config(path)
    dbnb.close_all()


@pytest.fixture
def dbnb_registry(dbnb_config: dbnb.Config) -> Iterator[dbnb.Registry]:
    """A ``dbnb.Registry`` over ``dbnb_config``, closed after the test."""
    registry = dbnb.Registry(dbnb_config)
    yield registry
    registry.close()
