"""The columnar (ADBC) read path on SQLite files: the guarded path's frames exactly,
whatever the storage classes, each statement run once; Ctrl-C stops the engine; its
connections only read."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import adbc_driver_manager
import adbc_driver_manager.dbapi
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import event, text

import dbnb
from dbnb.backends.sqlite import adbc as arrow_sqlite
from dbnb.read import arrow


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


@contextmanager
def runs(db: dbnb.Database) -> Iterator[Any]:
    """Count the runs of statements marked by ``runs(...).mark(sql)`` while the block
    runs, on both paths: each statement the columnar path has ADBC's driver execute with
    the mark in its text (preparing one is no run, nor is describing it: dbnb_describe
    gets it as a string and only prepares it, see test_describing_a_statement_never_runs_it),
    and each statement SQLite itself reports starting on a guarded connection (sqlite3's
    trace callback)."""

    class Runs:
        def __init__(self) -> None:
            self.marker = f"/* run {uuid.uuid4().hex} */"
            self.seen: list[str] = []

        def mark(self, sql: str) -> str:
            return f"{self.marker} {sql}"

        def note(self, path: str, text: object) -> None:
            described = isinstance(text, str) and text.startswith("SELECT dbnb_describe(")
            if isinstance(text, str) and self.marker in text and not described:
                self.seen.append(path)

    counted = Runs()
    execute = adbc_driver_manager.dbapi.Cursor.execute

    def spied(self: Any, operation: Any, parameters: Any = None) -> Any:
        counted.note("columnar", operation)
        return execute(self, operation, parameters)

    def traced(dbapi_connection: sqlite3.Connection, *_: object) -> None:
        dbapi_connection.set_trace_callback(lambda text: counted.note("guarded", text))

    def untraced(dbapi_connection: sqlite3.Connection, *_: object) -> None:
        dbapi_connection.set_trace_callback(None)

    event.listen(db.engine, "checkout", traced)
    event.listen(db.engine, "checkin", untraced)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(adbc_driver_manager.dbapi.Cursor, "execute", spied)
            yield counted
    finally:
        event.remove(db.engine, "checkout", traced)
        event.remove(db.engine, "checkin", untraced)


def both_paths(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, sql: str, params=None
) -> tuple[pd.DataFrame, bool]:
    """The frame of each path, checked equal; and whether the columnar path served it,
    running the statement once (and the guarded path not at all)."""
    served = db._arrow.served
    with runs(db) as counted:
        fast = db.query(counted.mark(sql), params)
    took_fast = db._arrow.served == served + 1
    assert counted.seen == (["columnar"] if took_fast else ["guarded"])
    with monkeypatch.context() as patch:
        patch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
        slow = db.query(sql, params)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert list(fast.dtypes) == list(slow.dtypes)
    for index in range(fast.shape[1]):  # exactly: 1 stays an int beside 'a', not 1.0
        fast_types = [type(value) for value in fast.iloc[:, index].tolist()]
        assert fast_types == [type(value) for value in slow.iloc[:, index].tolist()], index
    return fast, took_fast


# Each column's values. The driver alone would turn some into another class (1 into
# '1', 2.5 into '2.500000e+00', 2**60 + 1 into a double): dbnb keeps those aside.
COLUMNS = {
    "integers": [1, 2, None, 2**62],
    "reals": [1.5, None, -0.0, float("inf")],
    "integers and reals": [1, 2.5, None, 3],
    "reals and integers": [2.5, 1, None, 3],
    "text": ["a", None, "é 🎉", ""],
    "blobs": [b"\x00x", None, b""],
    "all NULL": [None, None],
    "no rows": [],
    "integer among text": ["a", 1, "b"],
    "text among integers": [1, "a"],
    "integer among text, after 2000 rows": ["a"] * 2000 + [1],
    "real among text, after 2000 rows": ["a"] * 2000 + [2.5],
    "reals of 17 digits among text": ["a", 0.1 + 0.2, 1 / 3, -1e-300],
    "blob among text": ["a", b"b"],
    "text among blobs": [b"b", "a"],
    "integer among blobs": [b"b", 1],
    "integer beyond 2**53 among reals": [0.5, 2**60 + 1],
    "reals after an integer beyond 2**53": [2**60 + 1, 0.5],
    "integer 2**53 among reals": [0.5, 2**53, -(2**53)],
    "integers among reals, then text": [0.5, 2**60 + 1, 7, "x", None, b"y"],
    "every class": [None, 1, 2.5, "a", b"b", 2**63 - 1, -(2**63)],
}


@pytest.mark.parametrize("kind", COLUMNS)
def test_every_mix_of_storage_classes_reads_as_the_guarded_path_reads_it(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    values = COLUMNS[kind]
    fill(db, values)
    frame, took_fast = both_paths(db, monkeypatch, "SELECT v FROM t ORDER BY i")
    assert took_fast
    assert len(frame) == len(values)


# A NUMERIC(p, s) column's values, as SQLite's numeric affinity stores them (whole ones as
# integers), and whether a value has to be kept aside: the driver holds integers and
# reals as doubles, exactly, as long as no integer is beyond 2**53 once a real passed.
DECIMALS = {
    "reals, then whole ones": ([2.5, 1, None, 3, 0.25], False),
    "whole ones, then reals": ([1, 2, None, 2.5, 0.125, 7], False),
    "whole ones only": ([1, None, -5], False),
    "2**53 among reals": ([0.5, 2**53, -(2**53), 1], False),
    "beyond 2**53 among reals": ([0.5, 2**53 + 1, 1], True),
    "reals after an integer beyond 2**53": ([2**60 + 1, 7, 2.5, 1], True),
    "integers beyond 2**53 only": ([2**60 + 1, -(2**63), 7], False),
    "text among numbers": ([1, "abc", 2.5, b"x"], True),
    "text first": (["abc", 1, 2.5], True),
}


@pytest.mark.parametrize("kind", DECIMALS)
def test_decimal_columns_read_whole_values_and_reals_alike(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    values, kept = DECIMALS[kind]
    with sqlite3.connect(db.engine.url.database) as connection:
        connection.execute("CREATE TABLE d (i INTEGER PRIMARY KEY, v DECIMAL(12, 2))")
        connection.executemany("INSERT INTO d (v) VALUES (?)", [[value] for value in values])
        stored = [row[0] for row in connection.execute("SELECT v FROM d ORDER BY i")]
    assert stored == values  # as the affinity keeps them
    asked: list[str] = []
    execute = adbc_driver_manager.dbapi.Cursor.execute

    def spied(self: Any, operation: Any, parameters: Any = None) -> Any:
        asked.append(operation)
        return execute(self, operation, parameters)

    monkeypatch.setattr(adbc_driver_manager.dbapi.Cursor, "execute", spied)
    frame, took_fast = both_paths(db, monkeypatch, "SELECT v FROM d ORDER BY i")
    assert took_fast
    assert (arrow_sqlite._KEPT in asked) == kept
    assert len(frame) == len(values)


def test_each_read_runs_its_statement_once(db: dbnb.Database) -> None:
    # Before: a column-name probe, the read, and for a mixed column a second read on
    # the guarded path; counted by the driver's and by SQLite's own account.
    fill(db, [1, "a", 2.5, b"b", 2**60 + 1])
    for sql in ("SELECT v FROM t ORDER BY i", "SELECT i FROM t", "SELECT v FROM t LIMIT 0"):
        with runs(db) as counted:
            db.query(counted.mark(sql))
        assert counted.seen == ["columnar"], sql


def test_describing_a_statement_never_runs_it(db: dbnb.Database) -> None:
    # Run, this would fail at its first step; described, it only tells its columns.
    fill(db, [1])
    sql = "SELECT abs(-9223372036854775807 - v) AS a, v FROM t"
    db.query("SELECT 1 AS one")  # opens the pool
    with db._arrow._checkout(db._arrow.columnar) as connection, connection.cursor() as cursor:
        described = arrow_sqlite._describe(cursor, sql)
        assert (described.names, described.declared) == (["a", "v"], [None, None])
        with pytest.raises(adbc_driver_manager.Error, match="integer overflow"):
            cursor.execute(sql)
            cursor.fetch_arrow_table()


def test_sorted_grouped_and_limited_results_keep_their_values(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(db, ["a", 1, 2.5, "b", b"c", 4, None, 2**60 + 1, "d", 7.25] * 30)
    for sql in (
        "SELECT i, v FROM t ORDER BY (i * 7) % 11, i",
        "SELECT v FROM t ORDER BY (i * 7) % 11 DESC, i LIMIT 9",
        "SELECT DISTINCT v FROM t ORDER BY i % 3, v",
        "SELECT i % 4 AS k, max(v) AS top, min(v) AS bottom FROM t GROUP BY k ORDER BY -k",
        "SELECT v FROM t UNION ALL SELECT i FROM t ORDER BY 1",
    ):
        _, took_fast = both_paths(db, monkeypatch, sql)
        assert took_fast, sql


def test_kept_values_find_their_rows_in_any_order() -> None:
    # SQLite may compute a row's values before it sorts the rows, and drop rows past a
    # LIMIT after computing them (this SQLite computes them as it hands them over, but
    # nothing promises that): dbnb_row() numbers the rows as computed, in any order.
    described = arrow_sqlite._Described(["v"], [None])
    table = pa.table(
        {"v": pa.array([None, 5, None, 7], pa.int64()), "row": pa.array([9, None, 2, None])}
    )
    kept = np.array(
        [
            (2, 0, arrow_sqlite.REAL, 0),
            (4, 0, arrow_sqlite.REAL, 0),
            (9, 0, arrow_sqlite.INTEGER, 1),
        ],
        dtype=arrow_sqlite._FIXED,
    )
    kept["value"][:2] = np.array([2.5, 99.0]).view(np.int64)  # row 4 was dropped after
    text = b"x"
    variable = arrow_sqlite._VARIABLE.pack(4, 0, arrow_sqlite.TEXT, len(text)) + text
    frame = arrow_sqlite._to_frame(arrow_sqlite._Read(described, table, kept.tobytes(), variable))
    assert frame["v"].tolist() == [1, 5, 2.5, 7]
    assert str(frame["v"].dtype) == "double[pyarrow]"


def test_text_that_is_not_utf8_fails_as_on_the_guarded_path(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for values in ([1, 2, "\udcff"], ["a", 1, "\udcff"], ["\udcff"]):
        fill(db, [])
        with sqlite3.connect(db.engine.url.database) as connection:
            for i, value in enumerate(values):
                if value == "\udcff":  # not UTF-8: SQLite takes it as TEXT all the same
                    connection.execute("INSERT INTO t VALUES (?, CAST(x'ff' AS TEXT))", [i])
                else:
                    connection.execute("INSERT INTO t VALUES (?, ?)", [i, value])
        errors = []
        for guarded in (False, True):
            with monkeypatch.context() as patch:
                if guarded:
                    patch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
                served = db._arrow.served
                with runs(db) as counted, pytest.raises(dbnb.QueryError) as error:
                    db.query(counted.mark("SELECT i, v FROM t ORDER BY i"))
                assert counted.seen == ["guarded" if guarded else "columnar"]
                assert db._arrow.served == served
                errors.append(str(error.value))
        assert errors[0] == errors[1]
        assert "Could not decode to UTF-8 column 'v'" in errors[0]


def test_a_statement_that_fails_as_it_runs_is_not_run_again(db: dbnb.Database) -> None:
    fill(db, [1, 2])
    sql = "SELECT abs(-9223372036854775807 - i) AS a FROM t ORDER BY i"
    with runs(db) as counted, pytest.raises(dbnb.QueryError, match=r"^file: integer overflow$"):
        db.query(counted.mark(sql))
    assert counted.seen == ["columnar"]
    history = dbnb.history()
    assert history["error"].iloc[-1] == "integer overflow"  # SQLite's words, as guarded runs are


def test_a_statement_sqlite_will_not_prepare_takes_the_guarded_path_unrun(
    db: dbnb.Database,
) -> None:
    for sql, error in (
        ("SELECT nothing FROM t", dbnb.QueryError),
        ("SELECT * FROM nowhere", dbnb.QueryError),
        ("SELECT dbnb_kept(0) AS stolen", dbnb.QueryError),  # dbnb's own: guarded, unknown
    ):
        with runs(db) as counted, pytest.raises(error):
            db.query(counted.mark(sql))
        assert counted.seen == [], sql  # neither path ran it: SQLite refused to prepare it


QUERIES = {
    "order kept through the subquery": "SELECT i, v FROM t ORDER BY i DESC",
    "limit and offset": "SELECT i FROM t ORDER BY i LIMIT 5 OFFSET 3",
    "common table expression": "WITH x AS (SELECT i * 2 AS d FROM t) SELECT d FROM x ORDER BY d",
    "compound": "SELECT i FROM t WHERE i < 3 UNION ALL SELECT i FROM t WHERE i > 7 ORDER BY 1 DESC",
    "aggregate": "SELECT i % 3 AS k, count(*) AS n, sum(i) AS s FROM t GROUP BY k ORDER BY k",
    "window": "SELECT i, sum(i) OVER (ORDER BY i) AS running FROM t ORDER BY i",
    "values": "VALUES (1, 'a'), (2, 'b')",
    "names that need quoting": 'SELECT i AS "a ""quoted"" name", v AS "count(*)" FROM t',
    "columns named as dbnb names its own": "SELECT i AS c1, v AS c0, i AS dbnb_row FROM t",
    "a comment at the end": "SELECT i FROM t ORDER BY i -- the end",
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


def test_many_columns_each_keep_their_own_classes(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 columns; the 25th holds text among integers, the 29th integers among reals.
    columns = [f"{n} AS c{n}" for n in range(30)]
    columns[25] = "CASE WHEN i = 1 THEN 'x' ELSE i END AS c25"
    columns[29] = "CASE WHEN i = 0 THEN 0.5 ELSE i END AS c29"
    fill(db, [None, None, None])
    frame, took_fast = both_paths(db, monkeypatch, f"SELECT {', '.join(columns)} FROM t")
    assert took_fast
    assert frame.shape == (3, 30)
    assert frame["c25"].tolist() == [0, "x", 2]
    assert frame["c29"].tolist() == [0.5, 1.0, 2.0]


def test_repeated_column_names_read_as_they_are(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, took_fast = both_paths(db, monkeypatch, "SELECT 1 AS a, 'x' AS a, 2.5 AS \"a:1\"")
    assert took_fast
    assert list(frame.columns) == ["a", "a", "a:1"]


def test_ctrl_c_stops_the_engine_before_it_returns(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SLOW
    assert db._arrow.plan(db.prepared(slow, {})) is not None  # this read takes the columnar path
    db.query("SELECT 1 AS one")  # the pool's connection, opened before (on a worker too)
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
        with db._arrow._checkout(db._arrow.columnar) as connection:
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
    assert database._arrow.columnar is None
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


def test_no_adbc_call_is_made_from_the_main_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADBC's DB-API takes SIGINT over while a call it makes from the main thread lasts,
    and turns Ctrl-C into a cancel SQLite ignores: a Ctrl-C then would be lost (the
    read would run to its end). Every ADBC call of a SQLite read, its connection's
    opening included, runs on a worker thread, where Ctrl-C reaches Python."""
    from adbc_driver_manager import dbapi

    on_main: list[str] = []
    blocking = dbapi._blocking_call

    def watched(func: Any, args: Any, kwargs: Any, cancel: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            on_main.append(getattr(func, "__name__", repr(func)))
        return blocking(func, args, kwargs, cancel)

    monkeypatch.setattr(dbapi, "_blocking_call", watched)
    database = dbnb.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    with database.session(write=True) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1), (2)"))
    served = database._arrow.served
    assert database.query("SELECT x FROM t ORDER BY x")["x"].tolist() == [1, 2]
    assert database.query("SELECT count(*) AS n FROM t")["n"].tolist() == [2]
    assert database._arrow.served == served + 2, "both read on the columnar path"
    assert on_main == []


def test_a_table_made_again_with_other_types_is_described_as_it_is_now(
    db: dbnb.Database,
) -> None:
    # The pooled columnar connection described `t` before; a write connection drops it
    # and makes it again with another declared type. The describe must see the new
    # schema (it once prepared against the one it had cached: 5 read as a date column's
    # object, 1 as an INTEGER's int64).
    shown = {}
    for declared, literal in (("DATE", "'2024-01-02'"), ("INTEGER", "5"), ("BOOLEAN", "1")):
        with db.session(write=True) as session:
            session.execute(text("DROP TABLE IF EXISTS remade"))
            session.execute(text(f"CREATE TABLE remade (v {declared})"))
            session.execute(text(f"INSERT INTO remade VALUES ({literal})"))
        frame = db.query("SELECT * FROM remade")
        assert dbnb.history(1)["path"].iloc[0] == "columnar"
        shown[declared] = (str(frame["v"].dtype), frame["v"].iloc[0])
    assert shown == {
        "DATE": ("date32[day][pyarrow]", dt.date(2024, 1, 2)),
        "INTEGER": ("int64[pyarrow]", 5),
        "BOOLEAN": ("bool[pyarrow]", True),
    }
