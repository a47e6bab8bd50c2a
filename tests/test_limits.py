"""Statement timeouts, row caps and Ctrl-C: ended on the server, pool healthy afterwards."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

import dbnb
from tests.fixtures import config_text, rows

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
# A statement that runs for many seconds on each database.
SLOW = {
    "postgresql": "SELECT pg_sleep(20) IS NULL AS slept",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000000000) SELECT count(*) AS slept FROM n",
    "mysql": "SELECT SLEEP(20) AS slept",
}
SLOW_WRITE = {
    "postgresql": "INSERT INTO items SELECT 100 + g, 'x' FROM generate_series(1, 5) g "
    "WHERE pg_sleep(20) IS NOT NULL",
    "sqlite": "INSERT INTO items SELECT i + 100, 'x' FROM (WITH RECURSIVE n(i) AS (SELECT 1 "
    "UNION ALL SELECT i + 1 FROM n WHERE i < 2000000000) SELECT i FROM n)",
    "mysql": "INSERT INTO items SELECT 100 + seq, 'x' FROM seq_1_to_5 WHERE SLEEP(20) = 0",
}


@contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """Send SIGINT to this process, as Ctrl-C or Jupyter's interrupt does."""
    timer = threading.Timer(
        seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def still_running(database: dbnb.Database, backend: str) -> int:
    if backend == "mysql":
        frame = database.query(
            "SELECT count(*) AS n FROM information_schema.processlist WHERE info LIKE "
            "'%SLEEP(20)%' AND id <> connection_id() AND db = database()"
        )
        return int(frame["n"].iloc[0])
    if backend != "postgresql":
        return 0
    frame = database.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' "
        "AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
    )
    return int(frame["n"].iloc[0])


def limited(
    tmp_path: Path,
    pg_database: str,
    open_registry,
    backend: str,
    mysql_database: str | None = None,
    **settings: object,
):
    extra = "\n".join(f"{key}: {value}" for key, value in settings.items())
    target = {
        "sqlite": "type: sqlite\ndatabase: limited.db",
        "postgresql": f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\ndatabase: {pg_database}",
    }.get(backend, "")
    if backend == "mysql":
        target = f"type: mysql\nhost: 127.0.0.1\nuser: root\ndatabase: {mysql_database}"
    path = tmp_path / "limits.yaml"
    path.write_text(config_text(tmp_path, pg_database, limited=f"{target}\n{extra}"))
    return open_registry(path).connect("limited")


def test_statement_timeout_from_the_config(
    tmp_path, pg_database, mysql_database, open_registry, backend
) -> None:
    database = limited(
        tmp_path, pg_database, open_registry, backend, mysql_database, statement_timeout=0.3
    )
    with pytest.raises(dbnb.QueryTimeoutError) as caught:
        database.query(SLOW[backend])
    message = str(caught.value)
    assert "connection 'limited': the statement ran past its statement_timeout of 0.3 s" in message
    assert "raise statement_timeout in the config (" in message
    assert "limits.yaml" in message
    assert still_running(database, backend) == 0
    assert database.engine.pool.checkedout() == 0
    assert database.query("SELECT 1 AS ok")["ok"].tolist() == [1]


def test_timeout_per_call_overrides_the_config(db: dbnb.Database, backend: str) -> None:
    said = r"statement_timeout of 0\.2 s and was cancelled \(this call's\); pass a larger timeout="
    with pytest.raises(dbnb.QueryTimeoutError, match=said):
        db.query(SLOW[backend], timeout=0.2)
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]


def test_timeout_ends_a_write_and_rolls_it_back(db: dbnb.Database, backend: str) -> None:
    with pytest.raises(dbnb.QueryTimeoutError):
        with db.connection(write=True, timeout=0.3) as connection, connection.begin():
            connection.execute(text("DELETE FROM items WHERE id = 1"))
            connection.execute(text(SLOW_WRITE[backend]))
    assert rows(db) == ORIGINAL


def test_max_rows_stops_a_runaway_result(
    tmp_path, pg_database, mysql_database, open_registry, backend
) -> None:
    database = limited(tmp_path, pg_database, open_registry, backend, mysql_database, max_rows=10)
    many = (
        "SELECT generate_series(1, 100000000) AS g"  # in the select list: streamed, not stored
        if backend == "postgresql"
        else "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n "
        "WHERE g < 100000000) SELECT g FROM n"
    )
    with pytest.raises(dbnb.RowLimitError) as caught:
        database.query(many)
    assert "the result has more than 10 rows (max_rows)" in str(caught.value)
    assert "max_rows=" in str(caught.value)
    ten = database.query(f"SELECT * FROM ({many}) AS t LIMIT 10")
    assert len(ten) == 10
    assert len(database.query(f"SELECT * FROM ({many}) AS t LIMIT 25", max_rows=25)) == 25
    assert database.engine.pool.checkedout() == 0


def test_ctrl_c_cancels_the_query_on_the_server(db: dbnb.Database, backend: str) -> None:
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        db.query(SLOW[backend])
    assert still_running(db, backend) == 0
    assert db.engine.pool.checkedout() == 0
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]


def test_ctrl_c_rolls_back_a_write(db: dbnb.Database, backend: str) -> None:
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        with db.session(write=True) as session:
            session.execute(text("DELETE FROM items WHERE id = 1"))
            session.execute(text(SLOW_WRITE[backend]))
    assert still_running(db, backend) == 0
    assert rows(db) == ORIGINAL
    assert db.engine.pool.checkedout() == 0
