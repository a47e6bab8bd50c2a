"""Health: reachable, version, latency, read-only verified, pool status; never a hang."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import dbnb
from dbnb.connections import health
from dbnb.engine import engines
from tests.fixtures import SECRET

SERVER_NAMES = {"sqlite": "SQLite ", "postgresql": "PostgreSQL ", "mysql": "MariaDB "}


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose listener accepts TCP connections but never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel completes handshakes; nobody ever answers
    yield listener.getsockname()[1]
    listener.close()


def connection_to(
    tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry], body: str
) -> dbnb.Database:
    path = tmp_path / "health.yaml"
    path.write_text(
        "databases:\n  target:\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    )
    return open_registry(path).connect("target")


@pytest.mark.parametrize("readonly", [False, True])
def test_a_healthy_connection(db: dbnb.Database, registry: dbnb.Registry, readonly: bool) -> None:
    target = registry.connect(f"{db.name}_ro") if readonly else db
    dbnb.clear_history()
    result = target.health()

    assert result.ok, result.error
    assert (result.connection, result.reachable, result.error) == (target.name, True, None)
    assert result.server_version is not None
    assert result.server_version.startswith(SERVER_NAMES[db.config.backend])
    assert result.latency_ms is not None
    assert result.latency_ms >= 0
    assert result.readonly_enforced is True  # the probe write was refused
    assert result.pool_checked_out == 0
    assert result.pool_overflow == 0
    assert dbnb.history().empty  # the check is housekeeping, not the user's statements
    # Nothing left behind: no probe table, and the data is as it was.
    with db.session(write=True) as session:
        names = inspect(session.connection()).get_table_names()
        assert health._PROBE_TABLE not in names
        assert session.execute(text("SELECT count(*) FROM items")).scalar() == 3


def test_pool_status_reports_checked_out_connections(db: dbnb.Database) -> None:
    with db.session() as session:
        session.execute(text("SELECT 1"))
        result = db.health()
    assert result.ok
    assert result.pool_checked_out == 1
    assert result.pool_size == db.engine.pool.size()  # type: ignore[attr-defined]


def test_the_probe_write_is_detected_when_not_refused(db: dbnb.Database) -> None:
    # Through a write connection the same probe is accepted: that is what
    # health reports as "read-only not enforced". It is rolled back.
    with db.connection(write=True) as connection:
        transaction = connection.begin()
        enforced, problem = health._readonly_enforced(connection, db.backend)
        transaction.rollback()
    assert enforced is False
    assert problem == "read-only is not enforced: a write in a read-only transaction was accepted"
    with db.session(write=True) as session:
        assert health._PROBE_TABLE not in inspect(session.connection()).get_table_names()


def test_an_unreachable_port(
    tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry]
) -> None:
    target = connection_to(
        tmp_path,
        open_registry,
        f"type: postgresql\nhost: 127.0.0.1\nport: 1\nuser: postgres\npassword: {SECRET}",
    )
    result = target.health()
    assert not result.ok
    assert (result.reachable, result.server_version, result.latency_ms) == (False, None, None)
    assert result.readonly_enforced is None
    assert result.error is not None
    assert result.error.startswith("cannot connect: ")
    assert "port 1 failed" in result.error
    assert "\n" not in result.error
    assert SECRET not in repr(result) + repr(result.as_dict()) + result.as_frame().to_string()


@pytest.mark.slow
def test_a_server_that_never_answers_gives_up_after_the_connect_timeout(
    tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry], silent_server: int
) -> None:
    target = connection_to(
        tmp_path,
        open_registry,
        f"type: postgresql\nhost: 127.0.0.1\nport: {silent_server}\nuser: postgres",
    )
    result = target.health(timeout=2)  # returns, rather than waiting forever
    assert not result.reachable
    assert result.error is not None
    assert "timeout" in result.error


def test_a_missing_readonly_sqlite_file_is_unreachable(
    tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry]
) -> None:
    target = connection_to(
        tmp_path, open_registry, "type: sqlite\ndatabase: missing/app.db\nreadonly: true"
    )
    result = target.health()
    assert (result.ok, result.reachable) == (False, False)
    assert result.error is not None
    assert "unable to open database file" in result.error


def test_health_as_frame_and_dict(db: dbnb.Database) -> None:
    result = db.health()
    as_dict = result.as_dict()
    assert as_dict["ok"] is True
    assert as_dict["connection"] == db.name
    frame = health.frame([result, result])
    assert list(frame.columns) == [
        "connection",
        "ok",
        "reachable",
        "server_version",
        "latency_ms",
        "readonly_enforced",
        "pool_size",
        "pool_checked_out",
        "pool_overflow",
        "error",
    ]
    assert len(frame) == 2
    assert result.as_frame().iloc[0]["server_version"] == result.server_version


def test_a_connection_without_an_engine_is_unhealthy(
    tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry]
) -> None:
    target = connection_to(tmp_path, open_registry, "type: nosuchdb\nhost: somewhere")
    result = target.health()
    assert (result.ok, result.reachable, result.pool_size) == (False, False, None)
    assert result.error is not None
    assert "cannot create an engine for nosuchdb://somewhere" in result.error


@pytest.mark.postgresql
def test_the_check_connection_bounds_statements_too(registry: dbnb.Registry) -> None:
    db = registry.connect("postgresql_ro")
    assert isinstance(db, dbnb.Database)
    engine = engines.create_engine(db.config, db.backend, pooled=False, connect_timeout=3)
    try:
        with engine.connect() as connection:
            settings = connection.exec_driver_sql(
                "SELECT current_setting('statement_timeout'), "
                "current_setting('default_transaction_read_only')"
            ).one()
    finally:
        engine.dispose()
    assert tuple(settings) == ("3s", "on")


@pytest.mark.postgresql
def test_check_all_keeps_the_order_given(
    registry: dbnb.Registry, tmp_path: Path, open_registry: Callable[[Path], dbnb.Registry]
) -> None:
    down = connection_to(tmp_path, open_registry, "type: postgresql\nhost: 127.0.0.1\nport: 1")
    registry.connect("sqlite").query("SELECT 1")  # creates the file sqlite_ro opens
    names = ["postgresql", "sqlite_ro", "sqlite"]
    results = health.check_all([down, *(registry.connect(name) for name in names)])
    assert [result.connection for result in results] == ["target", *names]
    assert [result.ok for result in results] == [False, True, True, True]
    assert health.check_all([]) == []


def many_connections(directory: Path, pg_database: str, mysql_database: str) -> str:
    """Two Spark connections (nobody listens) first, so that their checks start at once,
    then three of each other kind, interleaved."""
    bodies = {
        "lite": "type: sqlite\n    database: lite{copy}.db",
        "pg": f"type: postgresql\n    host: 127.0.0.1\n    database: {pg_database}\n"
        "    user: postgres",
        "my": f"type: mysql\n    host: 127.0.0.1\n    database: {mysql_database}\n    user: root",
        "duck": f"url: duckdb:///{directory}/duck{{copy}}.duckdb",
    }
    lines = [
        "databases:",
        "  spark0:\n    url: sc://127.0.0.1:1",
        "  spark1:\n    url: sc://127.0.0.1:1",
    ]
    for copy in range(3):
        lines += [f"  {kind}{copy}:\n    {body.format(copy=copy)}" for kind, body in bodies.items()]
    return "\n".join(lines) + "\n"


def test_checks_on_threads_never_import_one_module_twice_at_once(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    # Each check runs on a thread of its own; a client each would import there (pyspark,
    # whose modules import each other) failed half-imported in about 1 run of 4. Fresh
    # interpreters, all at once: nothing imported yet, as in `dbnb health`.
    script = (
        "import json, sys, warnings; warnings.simplefilter('ignore'); import dbnb\n"
        "registry = dbnb.Registry(sys.argv[1])\n"
        "found = dbnb.health.check_named(registry.connect, registry.names, timeout=2)\n"
        "print(json.dumps({h.connection: None if h.ok else h.error or '?' for h in found}))\n"
    )

    def run(number: int) -> subprocess.CompletedProcess[str]:
        directory = tmp_path / str(number)  # DuckDB files are one process's each
        directory.mkdir()
        path = directory / "many.yaml"
        path.write_text(many_connections(directory, pg_database, mysql_database))
        command = [sys.executable, "-c", script, str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    with ThreadPoolExecutor(max_workers=10) as pool:
        runs = list(pool.map(run, range(10)))
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        errors = json.loads(done.stdout)
        assert len(errors) == 14
        assert [name for name, error in errors.items() if error] == ["spark0", "spark1"], errors
        assert "cannot connect to 'spark0'" in errors["spark0"]  # its one-line reason
