"""The columnar (ADBC) read path on SQLite files: the guarded path's frames exactly,
whatever the storage classes; Ctrl-C stops the engine; its connections only read."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import adbc_driver_manager
import pandas as pd
import pytest

import dbnb
from dbnb import arrow, arrow_sqlite


@pytest.fixture
def db(tmp_path: Path) -> dbnb.Database:
    """A SQLite file with a table `t(i, v)` of no declared type: any class anywhere."""
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, v)")
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        connection.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    config = tmp_path / "infra.yaml"
    config.write_text(f"databases:\n  file:\n    type: sqlite\n    database: {path}\n")
    registry = dbnb.Registry(dbnb.load_config(config))
    yield registry.connect("file")
    registry.close()


# A read that runs for minutes in SQLite's engine.
SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000000000) SELECT count(*) AS n FROM n"
)


def fill(db: dbnb.Database, values: list[object]) -> None:
    path = db.engine.url.database
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM t")
        connection.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))


def both_paths(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, sql: str, params=None
) -> tuple[pd.DataFrame, bool]:
    """The frame of each path, checked equal; and whether the columnar path served it."""
    served = db._arrow.served
    fast = db.query(sql, params)
    took_fast = db._arrow.served == served + 1
    with monkeypatch.context() as patch:
        patch.setattr(arrow.ArrowReader, "plan", lambda self, sql, params: None)
        slow = db.query(sql, params)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert list(fast.dtypes) == list(slow.dtypes)
    return fast, took_fast


# Each column's values, and whether the columnar path may serve them (it must not
# where the driver would turn a value into another class).
COLUMNS = {
    "integers": ([1, 2, None, 2**62], True),
    "reals": ([1.5, None, -0.0, float("inf")], True),
    "integers and reals": ([1, 2.5, None, 3], True),
    "text": (["a", None, "é 🎉", ""], True),
    "blobs": ([b"\x00x", None, b""], True),
    "all NULL": ([None, None], True),
    "no rows": ([], True),
    "integer among text": (["a", 1, "b"], False),
    "text among integers": ([1, "a"], False),
    "integer among text, after 2000 rows": (["a"] * 2000 + [1], False),
    "real among text, after 2000 rows": (["a"] * 2000 + [2.5], False),
    "blob among text": (["a", b"b"], False),
    "text among blobs": ([b"b", "a"], False),
    "integer among blobs": ([b"b", 1], False),
    "integer beyond 2**53 among reals": ([0.5, 2**60], False),
}


@pytest.mark.parametrize("kind", COLUMNS)
def test_every_mix_of_storage_classes_reads_as_the_guarded_path_reads_it(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    values, columnar = COLUMNS[kind]
    fill(db, values)
    frame, took_fast = both_paths(db, monkeypatch, "SELECT v FROM t ORDER BY i")
    assert took_fast == columnar
    assert len(frame) == len(values)


def test_text_that_is_not_utf8_takes_the_guarded_path(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite3.connect(db.engine.url.database) as connection:
        connection.execute("INSERT INTO t VALUES (1, CAST(x'ff' AS TEXT))")
    served = db._arrow.served
    with pytest.raises(dbnb.QueryError):  # the guarded path's own error
        db.query("SELECT v FROM t")
    assert db._arrow.served == served


QUERIES = {
    "order kept through the subquery": "SELECT i, v FROM t ORDER BY i DESC",
    "limit and offset": "SELECT i FROM t ORDER BY i LIMIT 5 OFFSET 3",
    "common table expression": "WITH x AS (SELECT i * 2 AS d FROM t) SELECT d FROM x ORDER BY d",
    "compound": "SELECT i FROM t WHERE i < 3 UNION ALL SELECT i FROM t WHERE i > 7 ORDER BY 1 DESC",
    "aggregate": "SELECT i % 3 AS k, count(*) AS n, sum(i) AS s FROM t GROUP BY k ORDER BY k",
    "window": "SELECT i, sum(i) OVER (ORDER BY i) AS running FROM t ORDER BY i",
    "values": "VALUES (1, 'a'), (2, 'b')",
    "names that need quoting": 'SELECT i AS "a ""quoted"" name", v AS "count(*)" FROM t',
    "a column named like the marker": "SELECT i AS dbnb_classes_0, v FROM t ORDER BY i",
    "bound parameters": "SELECT i, v FROM t WHERE i >= :low AND v = :v ORDER BY i",
}


@pytest.mark.parametrize("kind", QUERIES)
def test_query_shapes_are_equal_on_both_paths(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    fill(db, ["x" if n % 2 else "y" for n in range(10)])
    frame, took_fast = both_paths(db, monkeypatch, QUERIES[kind], {"low": 2, "v": "x"})
    assert took_fast
    if kind == "order kept through the subquery":
        assert frame["i"].tolist() == list(range(9, -1, -1))


def test_more_columns_than_one_classes_call_packs(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 columns: two dbnb_classes() calls; the 25th holds text among integers.
    columns = [f"{n} AS c{n}" for n in range(30)]
    columns[25] = "CASE WHEN i = 1 THEN 'x' ELSE i END AS c25"
    fill(db, [None, None])
    sql = f"SELECT {', '.join(columns)} FROM t ORDER BY i"
    _, took_fast = both_paths(db, monkeypatch, sql)
    assert not took_fast
    columns[25] = "i AS c25"
    frame, took_fast = both_paths(db, monkeypatch, f"SELECT {', '.join(columns)} FROM t")
    assert took_fast
    assert frame.shape == (2, 30)


def test_duplicate_column_names_take_the_guarded_path(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, took_fast = both_paths(db, monkeypatch, "SELECT 1 AS a, 'x' AS a")
    assert not took_fast
    assert list(frame.columns) == ["a", "a"]


def test_ctrl_c_stops_the_engine_before_it_returns(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SLOW
    assert db._arrow.plan(slow, {}) is not None  # this read takes the columnar path
    ended: list[BaseException | None] = []
    interruptible = arrow_sqlite.interruptible

    def watched(run, stop, timeout=None):
        def recorded():
            try:
                result = run()
            except BaseException as error:
                ended.append(error)
                raise
            ended.append(None)
            return result

        return interruptible(recorded, stop, timeout)

    monkeypatch.setattr(arrow_sqlite, "interruptible", watched)
    timer = threading.Timer(
        0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        db.query(slow)
    assert time.monotonic() - started < 5
    # SQLite had stopped the statement (interrupted) before Ctrl-C reached the caller:
    # nothing runs on behind the user's back, and no connection is out.
    assert len(ended) == 1
    assert "interrupted" in str(ended[0])
    assert db._arrow.checkedout() == 0
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]


def test_columnar_connections_cannot_write_or_load_extensions(db: dbnb.Database) -> None:
    db.query("SELECT 1 AS one")  # opens the pool
    for sql in (
        "INSERT INTO items VALUES (4, 'four')",
        "DELETE FROM items",
        "CREATE TABLE other (x)",
        "PRAGMA query_only = OFF",
        "SELECT load_extension('libc.so.6')",
    ):
        with db._arrow._checkout() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql)
                cursor.fetchall()
                cursor.execute("INSERT INTO items VALUES (5, 'five')")
                pytest.fail(f"the connection wrote after {sql!r}")
            except adbc_driver_manager.Error:
                pass
            finally:
                cursor.close()
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]


def test_without_the_extension_sqlite_reads_take_the_guarded_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrow_sqlite, "_EXTENSION", None)
    database = dbnb.Registry().connect(f"sqlite:///{tmp_path / 'x.db'}")
    assert database._arrow.dialect is None
    assert database.query("SELECT 1 AS one")["one"].tolist() == [1]
    database.close()


def test_writes_go_on_while_columnar_connections_sit_in_the_pool(db: dbnb.Database) -> None:
    # A pooled read connection holds no lock between reads (rollback-journal mode).
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
    assert db._arrow.checkedout() == 0
    db.write(pd.DataFrame({"id": [4], "name": ["four"]}), "items")
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [4]


def test_a_timeout_interrupts_a_columnar_read(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SLOW
    with monkeypatch.context() as patch:  # the guarded path must not be the one that ran
        patch.setattr(dbnb.Database, "connection", lambda *a, **k: pytest.fail("guarded"))
        started = time.monotonic()
        with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 0\.3 s"):
            db.query(slow, timeout=0.3)
        assert time.monotonic() - started < 5
        served = db._arrow.served
        assert db.query("SELECT id FROM items ORDER BY id", timeout=5)["id"].tolist() == [1, 2, 3]
        assert db._arrow.served == served + 1
    assert db._arrow.checkedout() == 0
    history = dbnb.history()
    assert "statement_timeout of 0.3 s" in history[history["sql"] == slow]["error"].iloc[-1]
