"""Database fixtures: throwaway PostgreSQL and MariaDB databases per run, SQLite files per test.

They build on the helpers of dbnb's pytest plugin (``dbnb.devtools.testing``).

PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and MariaDB
(127.0.0.1:3306, root, no password) are the servers every dbnb machine runs.
Without them these fixtures fail under CI and skip elsewhere, saying how to
start them. A test that takes one is in that server's tier (tests/conftest.py);
``config_path`` reaches a server only for a test in its tier, so SQLite tests
run with none.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Field, SQLModel

import dbnb
from dbnb.devtools import testing
from dbnb.read import arrow
from tests import manual

PG_ADMIN = os.environ.get("DBNB_TEST_PG", testing.DEFAULT_PG_ADMIN_URL)
MYSQL_ADMIN = os.environ.get("DBNB_TEST_MYSQL", testing.DEFAULT_MYSQL_ADMIN_URL)
BACKENDS = ["sqlite", "postgresql", "mysql"]
SECRET = "pw-Zq8!never-shown"  # a password no output may ever contain


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_reaches_python() -> Iterator[None]:
    """The suite presses Ctrl-C (SIGINT to the main thread). A harness that starts it as
    a background job hands it SIGINT ignored, which dbnb rightly leaves alone: Python's
    default handler is put in place for the run, as in a terminal or a notebook."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """No test sees the developer's DBNB_*/DATABASE_URL or user config; pools close after."""
    testing.clean_environment(monkeypatch, tmp_path_factory.mktemp("xdg"))
    yield
    dbnb.close_all()


@pytest.fixture(autouse=True)
def closed_figures() -> Iterator[None]:
    """Figures a test drew (db.plot, %db plot) are closed after it: pyplot warns past 20."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


@pytest.fixture(scope="session")
def pg_admin() -> str:
    """The PostgreSQL server's admin URL, for a fixture that makes databases or roles there
    itself: taking it puts the fixture's tests in the postgresql tier."""
    return PG_ADMIN


@pytest.fixture(scope="session")
def mysql_admin() -> str:
    """The MariaDB server's admin URL, as ``pg_admin``: the mysql tier."""
    return MYSQL_ADMIN


@pytest.fixture(scope="session")
def pg_database(pg_admin: str) -> Iterator[str]:
    """A PostgreSQL database created for this test run and dropped after it."""
    with ExitStack() as stack:
        try:
            name = stack.enter_context(testing.throwaway_pg_database(pg_admin))
        except dbnb.DbnbError as error:
            if os.environ.get("CI"):
                pytest.fail(str(error))
            pytest.skip(str(error))
        yield name


@pytest.fixture(scope="session")
def mysql_database(mysql_admin: str) -> Iterator[str]:
    """A MariaDB database created for this test run and dropped after it."""
    with ExitStack() as stack:
        try:
            name = stack.enter_context(testing.throwaway_mysql_database(mysql_admin))
        except dbnb.DbnbError as error:
            if os.environ.get("CI"):
                pytest.fail(str(error))
            pytest.skip(str(error))
        yield name


class Item(SQLModel, table=True):
    """The `items` table the `db` fixture creates."""

    __tablename__ = "items"
    id: int | None = Field(default=None, primary_key=True)
    name: str


def config_text(
    tmp_path: Path, pg_database: str | None, mysql_database: str | None = None, **extra: str
) -> str:
    """A config with a SQLite connection and, given their databases, a PostgreSQL and a
    MariaDB one, each also as a readonly twin."""
    lines = [
        "default: sqlite",
        "databases:",
        "  sqlite:",
        "    type: sqlite",
        "    database: data/app.db",
        "  sqlite_ro:",
        "    type: sqlite",
        "    database: data/app.db",
        "    readonly: true",
    ]
    if pg_database is not None:
        pg = f"""
    type: postgresql
    host: 127.0.0.1
    port: 5432
    database: {pg_database}
    user: postgres
    password: ${{DBNB_TEST_SECRET:-}}"""
        lines += [f"  postgresql:{pg}", f"  postgresql_ro:{pg}", "    readonly: true"]
    if mysql_database is not None:
        mysql = f"""
    type: mysql
    host: 127.0.0.1
    port: 3306
    database: {mysql_database}
    user: root
    password: ${{DBNB_TEST_SECRET:-}}"""
        lines += [f"  mysql:{mysql}", f"  mysql_ro:{mysql}", "    readonly: true"]
    for name, body in extra.items():
        lines.append(f"  {name}:")
        lines.extend(f"    {line}" for line in body.strip().splitlines())
    return "\n".join(lines) + "\n"


def readme_config() -> str:
    """The YAML of the manual's Connections page (docs/connections.md), as a user would copy it."""
    return manual.config_yaml()


@pytest.fixture
def readme_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's config, with $WAREHOUSE_PASSWORD unset; $DBNB_CONFIG names it."""
    monkeypatch.delenv("WAREHOUSE_PASSWORD", raising=False)
    path = tmp_path / "readme" / "etc" / "infra.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(readme_config())
    monkeypatch.setenv("DBNB_CONFIG", str(path))
    return path


def server_database(request: pytest.FixtureRequest, tier: str, fixture: str) -> str | None:
    """The tier's throwaway database if the test is in that tier, else None."""
    if request.node.get_closest_marker(tier) is None:
        return None
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def config_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The test's config: SQLite always; the PostgreSQL and MariaDB connections only for
    a test in that server's tier, so a SQLite test needs no server (a test that names a
    server's connection without its mark fails: unknown connection)."""
    pg = server_database(request, "postgresql", "pg_database")
    mysql = server_database(request, "mysql", "mysql_database")
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(config_text(tmp_path, pg, mysql))
    return path


@pytest.fixture
def registry(config_path: Path) -> Iterator[dbnb.Registry]:
    registry = dbnb.Registry(dbnb.load_config(config_path))
    yield registry
    registry.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


READ_PATHS = ["arrow", "guarded"]


@pytest.fixture(params=READ_PATHS)
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on each read path: the columnar (ADBC) one, and the guarded SQLAlchemy
    one alone. Use with ``pytestmark = pytest.mark.usefixtures("read_path")``."""
    if request.param == "guarded":
        monkeypatch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
    return str(request.param)


@pytest.fixture
def db(registry: dbnb.Registry, backend: str) -> dbnb.Database:
    """A writable connection on each backend, with a fresh `items` table of three rows."""
    database = registry.connect(backend)
    with database.session(write=True) as session:
        cascade = " CASCADE" if backend == "postgresql" else ""  # views other tests left
        session.execute(text(f"DROP TABLE IF EXISTS items{cascade}"))
        session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
        session.execute(text("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')"))
    return database


def rows(database: dbnb.Database, table: str = "items") -> list[tuple[object, ...]]:
    """Every row of a table, read in a write session so nothing read-only can hide a write."""
    with database.session(write=True) as session:
        return [tuple(row) for row in session.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


@pytest.fixture
def open_registry() -> Iterator[Callable[[Path], dbnb.Registry]]:
    """Registries for configs a test writes itself, all closed when the test ends."""
    opened: list[dbnb.Registry] = []

    def open_(path: Path) -> dbnb.Registry:
        opened.append(dbnb.Registry(dbnb.load_config(path)))
        return opened[-1]

    yield open_
    for registry in opened:
        registry.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_home() -> Iterator[Path]:
    """A folder the server's user can reach: pytest's temp folders are closed to it under root."""
    # /tmp rather than $TMPDIR, which may be a folder private to the caller.
    home = Path(tempfile.mkdtemp(prefix="dbnb-pgserver-", dir="/tmp"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def settled_count(count: Callable[[], int], limit: int) -> int:
    """``count()`` of server connections; a count over ``limit`` counts only if it is still
    there a moment later: a connection the budget closed to free its slot leaves the
    server's list when its backend has exited, not at once."""
    seen = count()
    for _ in range(4):
        if seen <= limit:
            break
        time.sleep(0.05)
        seen = count()
    return seen
