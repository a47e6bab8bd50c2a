"""Async sessions and queries: same results, same read-only and write rules as the sync API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pandas as pd
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlmodel import select

import dbnb
from dbnb.config import url_connection
from tests.fixtures import Item, rows
from tests.test_limits import SLOW


@pytest_asyncio.fixture
async def adb(db: dbnb.Database) -> AsyncIterator[dbnb.Database]:
    """The `db` fixture's connection, its async pool closed in the test's own loop."""
    yield db
    await db.aclose()


@pytest.mark.asyncio
async def test_aquery_returns_the_same_frame_as_query(adb: dbnb.Database) -> None:
    sql = "SELECT id, name FROM items WHERE id > :id ORDER BY id"
    frame = await adb.aquery(sql, {"id": 1})
    pd.testing.assert_frame_equal(frame, adb.query(sql, {"id": 1}))
    assert frame["name"].tolist() == ["two", "three"]


@pytest.mark.asyncio
async def test_aquery_takes_a_select(adb: dbnb.Database) -> None:
    frame = await adb.aquery(select(Item).where(Item.name == "two"))
    assert frame.to_dict("records") == [{"id": 2, "name": "two"}]


@pytest.mark.asyncio
async def test_async_write_session_commits(adb: dbnb.Database) -> None:
    async with adb.async_session(write=True) as session:
        session.add(Item(id=4, name="four"))
        await session.exec(text("UPDATE items SET name = 'uno' WHERE id = 1"))
    assert rows(adb) == [(1, "uno"), (2, "two"), (3, "three"), (4, "four")]


@pytest.mark.asyncio
async def test_async_write_session_rolls_back_when_the_block_raises(adb: dbnb.Database) -> None:
    with pytest.raises(RuntimeError, match="stop"):
        async with adb.async_session(write=True) as session:
            await session.exec(text("DELETE FROM items"))
            raise RuntimeError("stop")
    assert len(rows(adb)) == 3


@pytest.mark.asyncio
async def test_async_read_session_reads(adb: dbnb.Database) -> None:
    async with adb.async_session() as session:
        names = (await session.exec(select(Item.name).order_by(Item.id))).all()
    assert list(names) == ["one", "two", "three"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM items",
        "INSERT INTO items VALUES (9, 'nine')",
        "UPDATE items SET name = 'x'",
        "DROP TABLE items",
        "CREATE TABLE sneaky (id INTEGER)",
    ],
)
async def test_async_read_session_refuses_writes(adb: dbnb.Database, sql: str) -> None:
    with pytest.raises(dbnb.ReadOnlyError, match="read-only"):
        async with adb.async_session() as session:
            await session.exec(text(sql))
    assert len(rows(adb)) == 3
    with adb.session(write=True) as session:
        assert "sneaky" not in adb.engine.dialect.get_table_names(session.connection())


@pytest.mark.asyncio
async def test_aquery_refuses_a_write(adb: dbnb.Database) -> None:
    # The remedy of async code: an async write session.
    with pytest.raises(dbnb.ReadOnlyError, match=r"db\.async_session\(write=True\)"):
        await adb.aquery("DELETE FROM items")
    assert len(rows(adb)) == 3


@pytest.mark.asyncio
async def test_aquery_refuses_several_statements(adb: dbnb.Database) -> None:
    with pytest.raises(dbnb.ReadOnlyError, match="one statement per call"):
        await adb.aquery("SELECT 1; DELETE FROM items")
    assert len(rows(adb)) == 3


@pytest.mark.asyncio
async def test_transaction_control_does_not_unlock_an_async_read(adb: dbnb.Database) -> None:
    # Every database's read refuses it before it is sent, as in sync sessions.
    with pytest.raises(dbnb.ReadOnlyError, match="transaction control"):
        await adb.aquery("COMMIT")
    # The pool still hands out working, still read-only connections.
    assert len(await adb.aquery("SELECT * FROM items")) == 3
    with pytest.raises(dbnb.ReadOnlyError):
        await adb.aquery("DELETE FROM items")
    assert len(rows(adb)) == 3


@pytest.mark.asyncio
async def test_commit_in_an_async_read_session_keeps_nothing(adb: dbnb.Database) -> None:
    with pytest.raises(dbnb.ReadOnlyError):
        async with adb.async_session() as session:
            await session.exec(text("DELETE FROM items"))
            await session.commit()
    assert len(rows(adb)) == 3


@pytest.mark.asyncio
async def test_read_then_write_on_the_same_pooled_connection(adb: dbnb.Database) -> None:
    # Each transaction sets its mode afresh: a write after a read writes,
    # a read after a write refuses.
    for new_id in (4, 5):
        assert len(await adb.aquery("SELECT * FROM items")) == new_id - 1
        async with adb.async_session(write=True) as session:
            await session.exec(text(f"INSERT INTO items VALUES ({new_id}, 'more')"))
        with pytest.raises(dbnb.ReadOnlyError):
            await adb.aquery("DELETE FROM items")
    assert len(rows(adb)) == 5


@pytest.mark.asyncio
async def test_aquery_error_names_the_connection(adb: dbnb.Database) -> None:
    with pytest.raises(dbnb.QueryError, match=rf"^{adb.name}: .*no_such_table"):
        await adb.aquery("SELECT * FROM no_such_table")


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["sqlite_ro", "postgresql_ro", "mysql_ro"])
async def test_readonly_connection_refuses_an_async_write_session(
    registry: dbnb.Registry, name: str
) -> None:
    database = registry.connect(name)
    with pytest.raises(dbnb.ReadOnlyError, match=rf"{name!r} is marked readonly: true"):
        async with database.async_session(write=True):
            pass
    await database.aclose()


def test_close_from_sync_code_closes_the_async_pool(db: dbnb.Database, backend: str) -> None:
    # A notebook or script that used the async API, then closes the registry
    # from sync code: no connection is left open (a ResourceWarning would fail here).
    frame = asyncio.run(db.aquery("SELECT count(*) AS n FROM items"))
    assert frame["n"].tolist() == [3]
    db.close()
    assert db._async_engine is None


def test_each_asyncio_run_reads_on_its_own_event_loop(db: dbnb.Database) -> None:
    # A script calls asyncio.run() once per batch of work: each run has a loop of its
    # own, and a connection a finished loop opened must not be handed to the next one.
    for expected in (1, 2, 3):
        frame = asyncio.run(
            db.aquery("SELECT count(*) AS n FROM items WHERE id <= :i", {"i": expected})
        )
        assert frame["n"].tolist() == [expected]
    assert db.budget.in_use().get("async", 0) <= db.budget.pool_size
    db.close()
    assert db.budget.open == 0


@pytest.mark.asyncio
async def test_readonly_connection_reads_and_refuses_async_writes(
    db: dbnb.Database, registry: dbnb.Registry
) -> None:
    # The readonly twin of each backend; sqlite_ro opens the file with mode=ro, via aiosqlite.
    name = f"{db.config.backend}_ro"
    database = registry.connect(name)
    assert (await database.aquery("SELECT count(*) AS n FROM items"))["n"].tolist() == [3]
    with pytest.raises(dbnb.ReadOnlyError):
        async with database.async_session() as session:
            await session.exec(text("DELETE FROM items"))
    await database.aclose()
    assert len(rows(db)) == 3


@pytest.mark.slow
def test_top_level_await_in_an_ipython_cell(tmp_path: Path) -> None:
    # A notebook cell is an IPython cell: `await` at its top level runs in
    # IPython's event loop. A process of its own keeps IPython's state out of this one.
    script = f"""
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in [
    "import dbnb",
    "db = dbnb.connect('sqlite:///{tmp_path / "nb.db"}')",
    "frame = await db.aquery('SELECT 41 + 1 AS answer')",
    "await db.aclose()",
]:
    shell.run_cell(cell).raise_error()
print(shell.user_ns["frame"]["answer"].tolist())
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[42]"


@pytest.mark.asyncio
async def test_aquery_timeout_ends_the_statement(adb: dbnb.Database, backend: str) -> None:
    # statement_timeout, as in the sync API: PostgreSQL cancels on the server,
    # SQLite's progress handler (set through aiosqlite) aborts.
    with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 0\.2 s"):
        await adb.aquery(SLOW[backend], timeout=0.2)
    assert (await adb.aquery("SELECT count(*) AS n FROM items"))["n"].tolist() == [3]


@pytest.mark.asyncio
async def test_aquery_max_rows_stops_a_runaway_result(adb: dbnb.Database, backend: str) -> None:
    many = (
        "SELECT generate_series(1, 100000000) AS g"
        if backend == "postgresql"
        else "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n "
        "WHERE g < 100000000) SELECT g FROM n"
    )
    with pytest.raises(dbnb.RowLimitError, match=r"more than 10 rows \(max_rows\)") as caught:
        await adb.aquery(many, max_rows=10)
    assert "pass max_rows= to aquery()" in str(caught.value)
    # The history says why the statement's rows were refused, as for query().
    history = dbnb.history()
    refused = history[history["sql"].str.contains("100000000", regex=False)]
    assert refused["error"].tolist()[-1] == "more than 10 rows (max_rows)"
    assert len(await adb.aquery(f"SELECT * FROM ({many}) AS t LIMIT 25", max_rows=25)) == 25


@pytest.mark.asyncio
async def test_aquery_names_a_parameter_that_cannot_be_encoded(adb: dbnb.Database) -> None:
    with pytest.raises(dbnb.QueryError, match="cannot be encoded as UTF-8") as caught:
        await adb.aquery("SELECT :v AS v", {"v": "lone \ud800 surrogate"})
    assert "\n" not in str(caught.value)
    assert (await adb.aquery("SELECT 1 AS ok"))["ok"].tolist() == [1]  # the pool is fine


# The way out of read-only mode each database's guard exists to close.
UNLOCK = {
    "postgresql": "SET TRANSACTION READ WRITE",  # refused: the snapshot was taken at BEGIN
    "sqlite": "PRAGMA query_only = OFF",  # refused by the authorizer
    "mysql": "SET SESSION TRANSACTION READ WRITE",  # refused before it is sent
}


@pytest.mark.asyncio
async def test_an_async_read_cannot_switch_itself_to_writing(
    adb: dbnb.Database, backend: str
) -> None:
    unlocked = False
    with pytest.raises(dbnb.ReadOnlyError):
        async with adb.async_session() as session:
            await session.exec(text(UNLOCK[backend]))
            unlocked = True
    assert not unlocked  # refused at once, not at a later write
    assert len(rows(adb)) == 3


def test_async_on_another_dialect_is_a_config_error() -> None:
    database = dbnb.Database(url_connection("other", "oracle://someone@localhost/db"))
    with pytest.raises(dbnb.ConfigError, match="async sessions are not available for oracle"):
        _ = database.async_engine


def _mine(name: str, sql: str) -> pd.DataFrame:
    history = dbnb.history()
    return history[(history["connection"] == name) & (history["sql"] == sql)]


@pytest.mark.asyncio
async def test_async_queries_are_in_the_history(adb: dbnb.Database) -> None:
    sql = "SELECT id, name FROM items WHERE id > 1 ORDER BY id"
    await adb.aquery(sql)
    record = _mine(adb.name, sql).iloc[-1]
    assert record["rows"] == 2  # counted as the rows were fetched
    assert pd.isna(record["error"])
    bad = "SELECT no_such_column FROM items"
    with pytest.raises(dbnb.QueryError):
        await adb.aquery(bad)
    assert "no_such_column" in _mine(adb.name, bad)["error"].iloc[-1]


@pytest.mark.asyncio
async def test_aquery_finds_placeholders_as_query_does(adb: dbnb.Database) -> None:
    # A colon inside a literal is text, not a placeholder; on PostgreSQL `:n::int`
    # casts a bound value.
    cast = ":n::int" if adb.config.backend == "postgresql" else "CAST(:n AS INTEGER)"
    frame = await adb.aquery(f"SELECT '10 :30' AS at, {cast} + 1 AS next", {"n": "41"})
    assert frame["at"].tolist() == ["10 :30"]
    assert frame["next"].tolist() == [42]


@pytest.mark.postgresql
@pytest.mark.asyncio
async def test_async_connections_are_opened_as_the_sync_ones(registry: dbnb.Registry) -> None:
    # One set of engine arguments: the server sees dbnb, and a readonly: true entry is
    # read-only for the whole server session, on the async path too.
    database = registry.connect("postgresql_ro")
    try:
        frame = await database.aquery(
            "SELECT current_setting('application_name') AS app, "
            "current_setting('default_transaction_read_only') AS ro"
        )
    finally:
        await database.aclose()
    assert frame.to_dict("records") == [{"app": "dbnb", "ro": "on"}]
