"""Ctrl-C during ``db.write``: ``KeyboardInterrupt``, raised once the write is stopped on
the server and rolled back, the table as it was, the pool ready for the next write.

Ctrl-C is pressed (SIGINT to the main thread) only once the write's statement is seen
running on the server: in PostgreSQL's ``pg_stat_activity``, MariaDB's process list, or
SQLite's rollback journal. A trigger makes the database take about a millisecond per
row, so a write that were not stopped would run for a long while (and this file with it).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pymysql
import pytest
from sqlalchemy import text

import dbnb
from tests.fixtures import Item, rows

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
MODES = ["append", "upsert", "replace"]
SLOW_ROWS = 30_000  # about 30 s of work for the server, were the write not stopped

# A trigger that makes the database spend about a millisecond on each row written.
SLOW_TRIGGER = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION write_slowly() RETURNS trigger AS $$ BEGIN "
        "PERFORM pg_sleep(0.001); RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER write_slowly BEFORE INSERT OR UPDATE ON items "
        "FOR EACH ROW EXECUTE FUNCTION write_slowly()",
    ],
    "mysql": [
        "CREATE TRIGGER write_slowly BEFORE INSERT ON items FOR EACH ROW "
        "SET NEW.name = IF(SLEEP(0.001) = 0, NEW.name, NEW.name)",
    ],
    "sqlite": [
        "CREATE TRIGGER write_slowly BEFORE INSERT ON items BEGIN SELECT count(*) FROM "
        "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "SELECT i FROM n); END",
    ],
}


def slow(database: dbnb.Database, backend: str) -> dbnb.Database:
    with database.session(write=True) as session:
        for statement in SLOW_TRIGGER[backend]:
            session.execute(text(statement))
    return database


def frame(count: int, start: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": range(start, start + count), "name": [f"n{i}" for i in range(count)]}
    )


# --- the server's view of our writes ----------------------------------------------------


def writing(database: dbnb.Database, backend: str, mode: str) -> Callable[[], int]:
    """How many statements of a write to ``items`` the server is running now, asked over
    a connection of its own (the pool's are busy or must stay untouched)."""
    url = database.engine.url
    if backend == "postgresql":
        # An upsert copies into a staging table, then merges: the merge is the long part.
        statement = "MERGE INTO%" if mode == "upsert" else "COPY%items%"
        watcher = psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
        )

        def count() -> int:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE %s",
                [statement],
            ).fetchone()
            return int(row[0]) if row else 0

        return _closing_with(count, watcher)
    if backend == "mysql":
        watcher = pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.username, database=url.database
        )
        watcher.autocommit(True)

        def count() -> int:
            with watcher.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                    "AND INFO LIKE 'INSERT INTO %items%' AND ID <> CONNECTION_ID()"
                )
                return int(cursor.fetchone()[0])

        return _closing_with(count, watcher)
    # SQLite writes a rollback journal while a write transaction has changed pages.
    journal = Path(str(url.database) + "-journal")
    if not journal.is_absolute():
        journal = Path.cwd() / journal
    return lambda: int(journal.exists())


_WATCHERS: list[Any] = []


def _closing_with(count: Callable[[], int], watcher: Any) -> Callable[[], int]:
    _WATCHERS.append(watcher)
    return count


@pytest.fixture(autouse=True)
def _close_watchers() -> Iterator[None]:
    yield
    while _WATCHERS:
        _WATCHERS.pop().close()


@contextmanager
def ctrl_c_once_running(running: Callable[[], int]) -> Iterator[threading.Event]:
    """Press Ctrl-C (SIGINT to the main thread, as a terminal or Jupyter does) as soon as
    ``running()`` sees the write on the server; the event says it was pressed so."""
    pressed, done = threading.Event(), threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            if running():
                pressed.set()
                signal.pthread_kill(main, signal.SIGINT)
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield pressed
    finally:
        done.set()
        watcher.join()


def assert_stopped_and_usable(
    database: dbnb.Database, running: Callable[[], int], mode: str, backend: str
) -> None:
    assert running() == 0  # nothing of the write still runs (or holds SQLite's lock)
    assert database.engine.pool.checkedout() == 0
    assert rows(database) == ORIGINAL
    assert database.write(frame(1, start=7), "items", mode, progress=False) == 1
    assert database.engine.pool.checkedout() == 0
    assert rows(database) == [*ORIGINAL[: 0 if mode == "replace" else 3], (7, "n0")]
    assert database.query("SELECT count(*) AS n FROM items")["n"].tolist() == [
        1 if mode == "replace" else 4
    ]


# --- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_stops_a_write_on_the_server_and_rolls_it_back(
    db: dbnb.Database, backend: str, mode: str
) -> None:
    slow(db, backend)
    running = writing(db, backend, mode)
    data = frame(SLOW_ROWS)
    with ctrl_c_once_running(running) as pressed, pytest.raises(KeyboardInterrupt):
        db.write(data, "items", mode, progress=False)
    assert pressed.is_set()  # Ctrl-C came while the server was writing
    assert_stopped_and_usable(db, running, mode, backend)


@pytest.mark.slow
def test_ctrl_c_stops_a_write_of_model_instances(db: dbnb.Database, backend: str) -> None:
    slow(db, backend)
    running = writing(db, backend, "upsert")
    items = [Item(id=100 + i, name=f"n{i}") for i in range(10_000)]  # still ~10 s of work
    with ctrl_c_once_running(running) as pressed, pytest.raises(KeyboardInterrupt):
        db.write(items, Item, "upsert", progress=False)
    assert pressed.is_set()
    assert_stopped_and_usable(db, running, "upsert", backend)


def test_ctrl_c_stops_a_large_write(db: dbnb.Database, backend: str) -> None:
    # No trigger: the rows themselves are the work (COPY streaming, multi-row INSERTs).
    running = writing(db, backend, "append")
    data = frame(400_000)
    with ctrl_c_once_running(running) as pressed, pytest.raises(KeyboardInterrupt):
        db.write(data, "items", "append", progress=False)
    assert pressed.is_set()
    assert_stopped_and_usable(db, running, "append", backend)
