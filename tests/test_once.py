"""One read, run once: the path is chosen before a statement runs, Ctrl-C and
statement_timeout stop it on the server, and one budget caps a name's connections.

"Once" is proven by the server's own counters, not by clocks: the database of
this module tracks function calls (``track_functions = 'all'``), each result type
comes from a PL/pgSQL function of its own, and ``pg_stat_user_functions`` says how
many times the server ran it.
"""

from __future__ import annotations

import asyncio
import decimal
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import text

import dbnb
from dbnb.devtools import testing
from tests.fixtures import PG_ADMIN, config_text, settled_count
from tests.magic_fixtures import db as run_magic
from tests.test_limits import interrupt_after

# name -> (its result type, its value, what the frame holds). These once took two runs
# (the columnar path's table did not have the others; NaN and void have none yet).
FUNCTIONS: dict[str, tuple[str, str, Any]] = {
    "f_int": ("int", "1", 1),
    "f_array": ("int[]", "ARRAY[1, 2]", [1, 2]),
    "f_enum": ("mood", "'happy'", "happy"),
    "f_inet": ("inet", "'10.0.0.1'", "10.0.0.1"),
    "f_nan": ("numeric", "'NaN'", decimal.Decimal("NaN")),
    "f_void": ("void", "", ""),
    "f_point": ("point", "point(1, 2)", "(1,2)"),  # outside the columnar path's table
}


def plain_url(database: str) -> str:
    """A libpq URL of ``database`` on the test server."""
    return testing.database_url(PG_ADMIN, database).replace("+psycopg", "")


@pytest.fixture(scope="module")
def counted_database(pg_admin: str) -> Iterator[str]:
    """A database whose sessions count every function call, with one function per type."""
    with testing.throwaway_pg_database(pg_admin, prefix="dbnb_once") as name:
        with psycopg.connect(plain_url(name)) as conn:
            conn.execute(f"ALTER DATABASE {name} SET track_functions = 'all'")
            conn.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')")
            for function, (kind, value, _) in FUNCTIONS.items():
                body = "RETURN;" if kind == "void" else f"RETURN {value};"
                conn.execute(
                    f"CREATE FUNCTION {function}() RETURNS {kind} LANGUAGE plpgsql "
                    f"AS $$BEGIN {body} END$$"
                )
            conn.execute(
                "CREATE FUNCTION f_fail() RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN 0; END$$"
            )
        yield name


def calls(database: str, function: str) -> int:
    """How many times the server ran ``function``, once every session that ran it ended
    (a session reports its counts as it exits)."""
    with psycopg.connect(plain_url(database), autocommit=True) as admin:
        for _ in range(200):  # sessions end a moment after their sockets close
            admin.execute("SELECT pg_stat_clear_snapshot()")
            others = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [database],
            ).fetchone()
            if others is not None and others[0] == 0:
                break
            time.sleep(0.05)
        row = admin.execute(
            "SELECT calls FROM pg_stat_user_functions WHERE funcname = %s", [function]
        ).fetchone()
    return 0 if row is None else int(row[0])


@pytest.fixture
def config_path(tmp_path: Path, counted_database: str) -> Path:
    """The shared test config (and so the magics' ``ip``), on the counting database."""
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(
        config_text(
            tmp_path,
            counted_database,
            tiny=f"""
type: postgresql
host: 127.0.0.1
user: postgres
database: {counted_database}
pool_size: 2
max_overflow: 0
pool_timeout: 0.5
""",
            limited=f"""
type: postgresql
host: 127.0.0.1
user: postgres
database: {counted_database}
statement_timeout: 0.5
""",
            noping=f"""
type: postgresql
host: 127.0.0.1
user: postgres
database: {counted_database}
pool_pre_ping: false
""",
        )
    )
    return path


@pytest.fixture
def pg(registry: dbnb.Registry) -> dbnb.Database:
    """The counting database, through the registry the test closes to count."""
    return registry.connect("postgresql")


def call(function: str) -> str:
    """The SQL expression that calls ``function``: NaN read as a numeric(10, 2), which
    Arrow's decimals cannot hold (a function's result type has no precision)."""
    return f"{function}()::numeric(10, 2)" if function == "f_nan" else f"{function}()"


def once(database: str, function: str, read: Callable[[], Any], *registries: Any) -> Any:
    """What ``read()`` returned, and how many times the server ran ``function`` for it
    (counted once the registries' pools are closed)."""
    before = calls(database, function)
    result = read()
    for registry in registries:
        registry.close()
    return result, calls(database, function) - before


# --- once -------------------------------------------------------------------------------


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_query_runs_each_statement_once_whatever_its_types(
    pg: dbnb.Database, counted_database: str, function: str
) -> None:
    def read() -> Any:
        return pg.query(f"SELECT {call(function)} AS v")["v"].tolist()

    values, ran = once(counted_database, function, read, pg)
    assert ran == 1
    expected = FUNCTIONS[function][2]
    if isinstance(expected, decimal.Decimal) and expected.is_nan():
        assert values[0].is_nan()
    elif function == "f_void":
        assert values in ([""], [None])
    else:
        assert values == [expected]


@pytest.mark.parametrize("function", ["f_int", "f_array", "f_enum", "f_nan"])
def test_chunks_parquet_cells_and_aquery_run_once(
    pg: dbnb.Database,
    counted_database: str,
    function: str,
    ip: InteractiveShell,
    tmp_path: Path,
) -> None:
    sql = f"SELECT {call(function)} AS v FROM generate_series(1, 3)"
    readers: dict[str, Callable[[], Any]] = {
        "chunks": lambda: [len(chunk) for chunk in pg.query(sql, chunksize=2)],
        "parquet": lambda: (
            pg.query_to_parquet(sql, tmp_path / f"{function}.parquet") if function != "f_nan" else 3
        ),  # NaN has no Parquet decimal; the count is what matters here
        "cell": lambda: len(run_magic(ip, "postgresql", sql)),
        "aquery": lambda: len(asyncio.run(aquery(pg, sql))),
    }
    if function == "f_nan":
        del readers["parquet"]  # Parquet's decimals have no NaN
    magics = ip.magics_manager.registry["DbMagics"]
    for how, read in readers.items():
        result, ran = once(counted_database, function, read, pg, magics.registry)
        assert ran == 3, f"{how}: the server ran {function}() {ran} times for 3 rows"
        assert result in (3, [2, 1]), how


async def aquery(database: dbnb.Database, sql: str) -> Any:
    """``aquery`` in a loop of its own, its pools closed before the loop ends."""
    try:
        return await database.aquery(sql)
    finally:
        await database.aclose()


def test_a_failing_read_is_not_run_again(pg: dbnb.Database, counted_database: str) -> None:
    def read() -> Any:
        with pytest.raises(dbnb.QueryError, match="division by zero") as caught:
            pg.query("SELECT 1 / f_fail() AS v")
        return str(caught.value)

    message, ran = once(counted_database, "f_fail", read, pg)
    assert message.startswith("postgresql: division by zero")
    assert ran == 1


def recorded(marker: str) -> Any:
    history = dbnb.history()
    return history[history["sql"].str.contains(marker, regex=False)]


@pytest.mark.parametrize("function", ["f_int", "f_array"])
def test_the_history_has_one_record_per_run(pg: dbnb.Database, function: str) -> None:
    marker = f"history-once-{function}-{uuid.uuid4().hex}"
    pg.query(f"SELECT {function}() AS v, '{marker}' AS marker")
    mine = recorded(marker)
    assert len(mine) == 1
    assert mine["rows"].tolist() == [1]
    assert mine["error"].isna().all()


# --- Ctrl-C and statement_timeout -------------------------------------------------------

SLOW_RESULTS = {
    "int": "SELECT 1 AS v FROM pg_sleep(30)",
    "void": "SELECT pg_sleep(30) AS v",
    "array": "SELECT ARRAY[1, 2] AS v FROM pg_sleep(30)",
    "enum": "SELECT 'sad'::mood AS v FROM pg_sleep(30)",
}


def sleeping(database: dbnb.Database) -> int:
    frame = database.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
        "AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
    )
    return int(frame["n"].iloc[0])


@pytest.mark.parametrize("kind", list(SLOW_RESULTS))
@pytest.mark.parametrize("how", ["query", "chunks", "cell"])
def test_ctrl_c_stops_every_result_type_on_the_server(
    pg: dbnb.Database, ip: InteractiveShell, kind: str, how: str
) -> None:
    sql = SLOW_RESULTS[kind]
    run: Callable[[], Any] = {
        "query": lambda: pg.query(sql),
        "chunks": lambda: list(pg.query(sql, chunksize=10)),
        "cell": lambda: run_magic(ip, "postgresql", sql),
    }[how]
    started = time.monotonic()
    with interrupt_after(0.5), pytest.raises(KeyboardInterrupt):
        run()
    # Well before the statement's 30 s: it was stopped, not waited for.
    assert time.monotonic() - started < 10
    assert sleeping(pg) == 0
    assert pg.query("SELECT 2 AS ok")["ok"].tolist() == [2]
    assert pg.engine.pool.checkedout() == 0
    assert pg._arrow.checkedout() == 0


@pytest.mark.parametrize("kind", list(SLOW_RESULTS))
def test_statement_timeout_stops_every_result_type_once(registry: dbnb.Registry, kind: str) -> None:
    limited = registry.connect("limited")
    marker = f"timeout-{kind}-{uuid.uuid4().hex}"
    with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 0\.5 s"):
        limited.query(f"{SLOW_RESULTS[kind]} WHERE '{marker}' <> ''")
    assert sleeping(limited) == 0
    mine = recorded(marker)
    assert len(mine) == 1  # one run, one record...
    assert mine["elapsed_ms"].iloc[0] < 5_000  # ...of the run the timeout ended
    assert re.search("statement.timeout", mine["error"].iloc[0])


@pytest.mark.parametrize("function", ["f_int", "f_array", "f_enum"])
def test_a_statement_past_its_timeout_ran_once(
    registry: dbnb.Registry, counted_database: str, function: str
) -> None:
    # The function returns before the sleep starts, so the server counts each run.
    limited = registry.connect("limited")

    def read() -> None:
        with pytest.raises(dbnb.QueryTimeoutError):
            limited.query(f"SELECT {function}() AS v, pg_sleep(30) AS s")

    _, ran = once(counted_database, function, read, registry)
    assert ran == 1


# --- one connection budget per name -----------------------------------------------------


def server_connections(database: str) -> int:
    with psycopg.connect(plain_url(database), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name = 'dbnb'",
            [database],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_query_waits_for_the_budget_a_session_holds(registry: dbnb.Registry) -> None:
    tiny = registry.connect("tiny")
    with tiny.session() as first, tiny.session() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
        with pytest.raises(dbnb.PoolTimeoutError) as caught:
            tiny.query("SELECT 1 AS v")  # the columnar path: no connection of its own
        with pytest.raises(dbnb.PoolTimeoutError):
            asyncio.run(aquery(tiny, "SELECT 1 AS v"))
    message = str(caught.value)
    assert "connection 'tiny': all pooled connections are busy" in message
    assert "pool_size=2, max_overflow=0" in message
    assert "waited 0.5 s (pool_timeout)" in message
    # Both free again: the columnar path takes a slot the guarded pool gives up.
    assert tiny.query("SELECT 1 AS v")["v"].tolist() == [1]
    assert tiny.budget.open <= 2


def test_mixed_load_never_holds_more_than_the_budget(
    registry: dbnb.Registry, counted_database: str
) -> None:
    tiny = registry.connect("tiny")
    tiny.budget.timeout = 30.0  # under load, wait for a slot rather than fail
    most = most_open = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def watch() -> None:
        nonlocal most, most_open
        while not stop.is_set():
            most_open = max(most_open, tiny.budget.open)
            seen = settled_count(lambda: server_connections(counted_database), 2)
            most = max(most, seen)

    def work(kind: int) -> None:
        try:
            for _ in range(6):
                if kind == 0:
                    with tiny.session() as session:
                        session.execute(text("SELECT pg_sleep(0.01)"))
                elif kind == 1:
                    assert len(tiny.query("SELECT g FROM generate_series(1, 500) g")) == 500
                elif kind == 2:
                    assert sum(len(c) for c in tiny.query("SELECT 1 AS v", chunksize=1)) == 1
                else:
                    assert len(tiny.query("SELECT 1 AS v", max_rows=5)) == 1  # streamed
        except BaseException as error:  # reported below
            errors.append(error)

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=work, args=(i % 4,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    stop.set()
    watcher.join()
    assert not errors, errors
    assert 1 <= most <= 2, f"{most} server connections for pool_size 2 + max_overflow 0"
    assert 1 <= most_open <= 2, f"the budget held {most_open} connections at once"
    tiny.close()
    assert tiny.budget.open == 0


def test_ctrl_c_stops_an_async_query_on_the_server(pg: dbnb.Database) -> None:
    # asyncio.run turns SIGINT into the cancellation of its task; psycopg's async
    # driver then cancels the statement on the server before KeyboardInterrupt.
    started = time.monotonic()
    with interrupt_after(0.5), pytest.raises(KeyboardInterrupt):
        asyncio.run(aquery(pg, SLOW_RESULTS["int"]))
    assert time.monotonic() - started < 10
    assert sleeping(pg) == 0
    assert pg.query("SELECT 3 AS ok")["ok"].tolist() == [3]


# --- statements described before ----------------------------------------------------


def test_a_statement_known_to_need_the_guarded_path_takes_it_at_once(
    pg: dbnb.Database, counted_database: str
) -> None:
    def read_twice() -> Any:
        first = pg.query("SELECT f_point() AS v")
        served, described = pg._arrow.served, pg._arrow.checkedout()
        second = pg.query("SELECT f_point() AS v")
        assert pg._arrow.served == served  # the columnar path did not serve it
        return [first["v"].tolist(), second["v"].tolist(), described]

    (first, second, out), ran = once(counted_database, "f_point", read_twice, pg)
    assert first == second == ["(1,2)"]
    assert ran == 2  # once per call
    assert out == 0


def test_without_pre_ping_a_description_is_reused_and_checked(registry: dbnb.Registry) -> None:
    noping = registry.connect("noping")
    with noping.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS described"))
        session.execute(text("CREATE TABLE described (a int)"))
        session.execute(text("INSERT INTO described VALUES (1)"))
    sql = "SELECT a FROM described"
    assert noping.query(sql)["a"].tolist() == [1]
    served = noping._arrow.served
    assert noping.query(sql)["a"].tolist() == [1]  # described before: no describe now
    assert noping._arrow.served == served + 1
    # A type the columnar path reads: the run's own types decide, silently.
    with noping.session(write=True) as session:
        session.execute(text("ALTER TABLE described ALTER COLUMN a TYPE bigint"))
    assert str(noping.query(sql)["a"].dtype) == "int64[pyarrow]"
    # One it cannot read: the statement ran and stops with a clear line, never a rerun;
    # the next call knows to take the guarded path.
    with noping.session(write=True) as session:
        session.execute(text("ALTER TABLE described ALTER COLUMN a TYPE point USING point(a, a)"))
    with pytest.raises(dbnb.QueryError, match="column types changed since the statement"):
        noping.query(sql)
    assert noping.query(sql)["a"].tolist() == ["(1,1)"]
    assert noping._arrow.checkedout() == 0
