"""Surviving the server: killed backends, recycled connections, a busy pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

import dbnb
from dbnb.devtools import pgserver
from tests.fixtures import PG_ADMIN, config_text, free_port
from tests.test_pgserver import write_config


def backend_pid(database: dbnb.Database) -> int:
    return int(database.query("SELECT pg_backend_pid() AS pid")["pid"].iloc[0])


def terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def pg(tmp_path: Path, pg_database: str, open_registry, **settings: object) -> dbnb.Database:
    extra = "\n".join(f"{key}: {value}" for key, value in settings.items())
    body = f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\ndatabase: {pg_database}\n{extra}"
    path = tmp_path / "faults.yaml"
    path.write_text(config_text(tmp_path, pg_database, target=body))
    return open_registry(path).connect("target")


def test_backend_killed_between_queries_is_invisible(tmp_path, pg_database, open_registry) -> None:
    database = pg(tmp_path, pg_database, open_registry, pool_size=1, max_overflow=0)
    first = backend_pid(database)
    terminate(first)
    second = backend_pid(database)  # pre-ping notices, the pool reconnects
    assert second != first


def test_backend_killed_mid_query_is_a_clear_error_then_recovers(
    tmp_path, pg_database, open_registry
) -> None:
    database = pg(tmp_path, pg_database, open_registry, pool_size=1, max_overflow=0)
    pid = backend_pid(database)
    killer = threading.Timer(0.5, terminate, (pid,))
    killer.start()
    with pytest.raises(dbnb.QueryError) as caught:
        database.query("SELECT pg_sleep(10) IS NULL AS slept")
    killer.join()
    message = str(caught.value)
    assert message.startswith("target: ")
    assert "connection was lost" in message
    assert "\n" not in message
    assert database.engine.pool.checkedout() == 0
    assert backend_pid(database) != pid


def test_idle_connections_past_pool_recycle_are_replaced(
    tmp_path, pg_database, open_registry
) -> None:
    database = pg(tmp_path, pg_database, open_registry, pool_size=1, pool_recycle=1)
    first = backend_pid(database)
    assert backend_pid(database) == first  # reused while fresh
    time.sleep(1.2)
    assert backend_pid(database) != first


def test_busy_pool_waits_then_fails_clearly_and_leaks_nothing(
    tmp_path, pg_database, open_registry
) -> None:
    database = pg(
        tmp_path, pg_database, open_registry, pool_size=2, max_overflow=0, pool_timeout=0.3
    )
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def hold() -> None:
        start.wait()
        try:
            with database.session() as session:
                session.connection().exec_driver_sql("SELECT pg_sleep(1)")
            outcome = "ok"
        except dbnb.PoolTimeoutError as error:
            outcome = str(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)  # nothing deadlocked
    assert outcomes.count("ok") == 2
    refusals = [outcome for outcome in outcomes if outcome != "ok"]
    assert len(refusals) == 4
    assert all(
        "connection 'target': all pooled connections are busy (pool_size=2" in refusal
        for refusal in refusals
    )
    assert database.engine.pool.checkedout() == 0
    assert backend_pid(database) > 0


def test_server_restarts_between_and_during_queries(server_home: Path, open_registry) -> None:
    """A throwaway local server, restarted under a live pool."""
    config_path = write_config(server_home, free_port())
    server = pgserver.load_pgserver(config_path)
    try:
        pgserver.start(server)
        database = open_registry(config_path).connect("dev")
        first = backend_pid(database)

        pgserver.stop(server)  # between two queries: invisible
        pgserver.start(server)
        assert backend_pid(database) != first

        def restart() -> None:
            pgserver.stop(server)
            pgserver.start(server)

        restarter = threading.Timer(0.5, restart)  # during a query: one clear line
        restarter.start()
        with pytest.raises(dbnb.QueryError) as caught:
            database.query("SELECT pg_sleep(10) IS NULL AS slept")
        restarter.join()
        assert "connection was lost" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert database.query("SELECT 1 AS ok")["ok"].tolist() == [1]
        assert database.engine.pool.checkedout() == 0
    finally:
        pgserver.stop(server)
