"""Query monitoring: every statement recorded, slow ones logged, values and passwords kept out."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

import dbnb
from dbnb.engine import monitor
from dbnb.read import arrow, progress
from tests.fixtures import SECRET, config_text

PARAMETER_VALUE = "param-value-Kx7-never-logged"


@pytest.fixture(autouse=True)
def fresh_history() -> Iterator[None]:
    dbnb.clear_history()
    yield
    dbnb.set_history_size(monitor.DEFAULT_HISTORY_SIZE)
    dbnb.clear_history()


@pytest.fixture
def watched(db: dbnb.Database) -> dbnb.Database:
    """The `db` fixture, with the statements that set it up forgotten."""
    dbnb.clear_history()
    return db


def mine(connection: str) -> pd.DataFrame:
    """The recorded statements of one connection, newest last."""
    frame = dbnb.history()
    return frame[frame["connection"] == connection].reset_index(drop=True)


def monitored_registry(
    tmp_path: Path,
    pg_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
    settings: str,
    password: str | None = None,
) -> dbnb.Registry:
    """A registry with `slow_s` (SQLite) and `slow_pg` connections carrying ``settings``."""
    secret = f"password: {password}\n" if password else ""
    path = tmp_path / "monitored.yaml"
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            slow_s=f"type: sqlite\ndatabase: data/slow.db\n{settings}",
            slow_pg=(
                f"type: postgresql\nhost: 127.0.0.1\nport: 5432\n"
                f"database: {pg_database}\nuser: postgres\n{secret}{settings}"
            ),
        )
    )
    return open_registry(path)


# --- config -------------------------------------------------------------------------


def test_config_reads_slow_query_ms_and_log_parameters() -> None:
    config = dbnb.parse_config(
        "databases:\n"
        "  a:\n    type: sqlite\n    slow_query_ms: 250\n    log_parameters: true\n"
        "  b:\n    type: sqlite\n",
        environ={},
        path="/p/infra.yaml",
    )
    assert (config.get("a").slow_query_ms, config.get("a").log_parameters) == (250.0, True)
    assert (config.get("b").slow_query_ms, config.get("b").log_parameters) == (None, False)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("soon", "expected a number of milliseconds, got 'soon'"),
        ("-5", "expected a number of milliseconds, 0 or more, got -5"),
    ],
)
def test_bad_slow_query_ms_names_file_line_and_key(value: str, words: str) -> None:
    config = dbnb.parse_config(
        f"databases:\n  a:\n    type: sqlite\n    slow_query_ms: {value}\n",
        environ={},
        path="/p/infra.yaml",
    )
    with pytest.raises(dbnb.ConfigError) as caught:
        config.get("a")  # the entry's problem is raised when it is used
    assert str(caught.value) == f"/p/infra.yaml:4: connection 'a': key 'slow_query_ms': {words}"


# --- recording ----------------------------------------------------------------------


def test_history_says_which_path_each_statement_took(
    watched: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched.query("SELECT id FROM items")  # the columnar path, where the database has one
    with watched.session() as session:
        session.execute(text("SELECT name FROM items")).all()
    monkeypatch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
    watched.query("SELECT id, name FROM items")  # sent to the guarded path
    columnar = "columnar" if watched._arrow.columnar is not None else "guarded"
    assert mine(watched.name)["path"].tolist() == [columnar, "guarded", "guarded"]


def test_queries_are_recorded_with_placeholders_rows_and_time(watched: dbnb.Database) -> None:
    before = datetime.now(UTC)
    frame = watched.query("SELECT id, name FROM items WHERE id >= :low ORDER BY id", {"low": 2})
    after = datetime.now(UTC)

    history = mine(watched.name)
    assert list(history.columns) == monitor.COLUMNS
    assert len(history) == 1  # no BEGIN, PRAGMA or snapshot SELECT 1 from the guards
    record = history.iloc[-1]
    assert record["sql"].startswith("SELECT id, name FROM items WHERE id >= ")
    assert ":low" not in record["sql"]  # the driver's placeholder, not the value
    # sqlite3's ?, psycopg's and PyMySQL's %(low)s, or $1 / ?1 / %s from the columnar path
    assert record["sql"].endswith(
        (
            "?  ORDER BY id",
            "? ORDER BY id",
            "%(low)s ORDER BY id",
            "$1 ORDER BY id",
            "?1 ORDER BY id",
            "%s ORDER BY id",
        )
    )
    assert record["rows"] == len(frame) == 2  # counted by the query layer as it fetched
    assert pd.isna(record["parameters"])
    assert pd.isna(record["error"])
    assert str(history["started"].dt.tz) == "UTC"
    assert before <= record["started"].to_pydatetime() <= after
    assert 0 <= record["elapsed_ms"] <= (after - before).total_seconds() * 1000


def test_writes_and_sessions_are_recorded_with_row_counts(watched: dbnb.Database) -> None:
    with watched.session(write=True) as session:
        session.execute(text("UPDATE items SET name = upper(name) WHERE id <= :n"), {"n": 2})
        session.execute(text("INSERT INTO items VALUES (:id, :name)"), [{"id": 7, "name": "x"}])
    with watched.session() as session:
        session.execute(text("SELECT * FROM items")).all()

    history = mine(watched.name)
    assert history["sql"].str.split().str[0].tolist() == ["UPDATE", "INSERT", "SELECT"]
    assert history["rows"].iloc[0] == 2
    assert history["rows"].iloc[1] == 1
    assert history["error"].isna().all()


@pytest.mark.parametrize(
    ("sql", "error", "words"),
    [
        ("SELECT * FROM no_such_table", dbnb.QueryError, "no_such_table"),
        ("DELETE FROM items", dbnb.ReadOnlyError, ""),
    ],
)
def test_failed_statements_are_recorded_with_their_error(
    watched: dbnb.Database, sql: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error):
        watched.query(sql)
    record = mine(watched.name).iloc[-1]
    assert record["sql"] == sql
    assert isinstance(record["error"], str)
    assert words in record["error"]
    assert "\n" not in record["error"]
    assert pd.isna(record["rows"])
    assert record["elapsed_ms"] >= 0


@pytest.mark.postgresql
def test_a_statement_refused_after_it_ran_is_recorded_as_failed(registry: dbnb.Registry) -> None:
    # PostgreSQL runs a COMMIT sent in a read-only session; dbnb's guard refuses
    # it right after, and the record says so.
    db = registry.connect("postgresql")
    with pytest.raises(dbnb.ReadOnlyError):
        db.query("COMMIT")
    record = mine("postgresql").iloc[-1]
    assert record["sql"] == "COMMIT"
    assert "is read-only here: transaction control (COMMIT" in record["error"]


def test_a_result_over_max_rows_is_recorded_as_refused(watched: dbnb.Database) -> None:
    with pytest.raises(dbnb.RowLimitError):
        watched.query("SELECT id FROM items", max_rows=2)
    record = mine(watched.name).iloc[-1]
    assert record["sql"] == "SELECT id FROM items"
    assert record["error"] == "more than 2 rows (max_rows)"
    assert record["rows"] == 3  # fetched: the cap and one more, which told


def test_a_statement_failing_while_its_rows_are_fetched_is_recorded(
    registry: dbnb.Registry,
) -> None:
    # SQLite computes rows as they are fetched: the third one overflows after
    # the statement has started and returned its first row.
    db = registry.connect("sqlite")
    sql = "SELECT CASE WHEN n = 3 THEN abs(-9223372036854775808) ELSE n END AS x FROM ({})"
    numbers = "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3"
    with pytest.raises(dbnb.QueryError, match="integer overflow"):
        db.query(sql.format(numbers))
    record = mine("sqlite").iloc[-1]
    assert record["sql"] == sql.format(numbers)
    assert record["error"] == "integer overflow"
    assert pd.isna(record["rows"])


def test_history_limit_bounds_and_thread_safety(watched: dbnb.Database) -> None:
    for n in range(5):
        watched.query("SELECT :n AS n", {"n": n})
    assert len(mine(watched.name)) == 5
    assert len(dbnb.history(limit=2)) == 2
    assert dbnb.history(limit=0).empty

    dbnb.set_history_size(3)
    assert len(dbnb.history()) == 3  # the newest three are kept
    watched.query("SELECT 'last' AS marker")
    history = dbnb.history()
    assert len(history) == 3
    assert "'last'" in history["sql"].iloc[-1]  # newest last
    assert history["started"].is_monotonic_increasing

    dbnb.set_history_size(50)

    def work() -> None:
        for _ in range(10):
            watched.query("SELECT 1 AS one")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (mine(watched.name)["sql"] == "SELECT 1 AS one").sum() == 40

    with pytest.raises(ValueError, match="1 or more"):
        dbnb.set_history_size(0)
    with pytest.raises(ValueError, match="0 or more"):
        dbnb.history(limit=-1)


def test_history_is_empty_with_its_columns_after_clear() -> None:
    dbnb.clear_history()
    frame = dbnb.history()
    assert frame.empty
    assert list(frame.columns) == monitor.COLUMNS


# --- slow queries -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["slow_s", "slow_pg"])
def test_slow_queries_are_logged_at_warning_by_the_yaml_threshold(
    tmp_path: Path,
    pg_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    registry = monitored_registry(tmp_path, pg_database, open_registry, "slow_query_ms: 0")
    caplog.set_level(logging.WARNING, logger="dbnb")
    registry.connect(name).query("SELECT :n AS n", {"n": 1})
    registry.connect("sqlite").query("SELECT 2 AS n")  # no threshold: not logged

    slow = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(slow) == 1
    assert slow[0].name.startswith("dbnb")
    message = slow[0].getMessage()
    assert message.startswith(f"slow query on '{name}': ")
    assert "(slow_query_ms: 0)" in message
    assert "1 rows: SELECT " in message


def test_statements_under_the_threshold_are_not_logged(
    tmp_path: Path,
    pg_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = monitored_registry(tmp_path, pg_database, open_registry, "slow_query_ms: 600000")
    caplog.set_level(logging.WARNING, logger="dbnb")
    registry.connect("slow_pg").query("SELECT 1 AS n")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len(mine("slow_pg")) == 1  # recorded all the same


# --- redaction ----------------------------------------------------------------------


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)


@pytest.mark.parametrize("name", ["slow_s", "slow_pg"])
def test_parameter_values_and_passwords_are_never_recorded_or_logged(
    tmp_path: Path,
    pg_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    registry = monitored_registry(
        tmp_path, pg_database, open_registry, "slow_query_ms: 0", password=SECRET
    )
    caplog.set_level(logging.DEBUG)
    db = registry.connect(name)
    db.query("SELECT :value AS v", {"value": PARAMETER_VALUE})
    with pytest.raises(dbnb.QueryError):
        db.query("SELECT * FROM missing WHERE x = :value", {"value": PARAMETER_VALUE})
    if name == "slow_pg":  # the server quotes the value back: shown as its placeholder
        with pytest.raises(dbnb.QueryError) as raised:
            db.query("SELECT CAST(:value AS integer) AS n", {"value": PARAMETER_VALUE})
        assert str(raised.value) == "slow_pg: invalid input syntax for type integer: :value"
    # A password written into the SQL itself is masked too (on SQLite, where it has none,
    # the connection's password is only masked if it has one: slow_pg).
    db.query(f"SELECT '{SECRET}' AS leaked")

    recorded = mine(name).to_string() + repr(monitor.HISTORY.records())
    logged = everything_logged(caplog)
    assert len(mine(name)) == (4 if name == "slow_pg" else 3)
    assert PARAMETER_VALUE not in recorded
    assert PARAMETER_VALUE not in logged
    if name == "slow_pg":
        assert SECRET not in recorded
        assert SECRET not in logged
        assert "SELECT '***' AS leaked" in mine(name)["sql"].tolist()
        errors = mine(name)["error"].dropna().tolist()
        assert "invalid input syntax for type integer: :value" in errors


def test_parameters_are_recorded_only_when_the_connection_opts_in(
    tmp_path: Path,
    pg_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = monitored_registry(
        tmp_path,
        pg_database,
        open_registry,
        "slow_query_ms: 0\nlog_parameters: true",
        password=SECRET,
    )
    caplog.set_level(logging.WARNING, logger="dbnb")
    db = registry.connect("slow_pg")
    db.query("SELECT :value AS v, :pw AS p", {"value": PARAMETER_VALUE, "pw": SECRET})

    record = mine("slow_pg").iloc[-1]
    assert PARAMETER_VALUE in record["parameters"]
    assert "***" in record["parameters"]
    assert PARAMETER_VALUE in caplog.text
    assert SECRET not in record["parameters"] + caplog.text  # the password, never


# --- progress -----------------------------------------------------------------------


def test_progress_is_off_when_nobody_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal, and no kernel here
    assert progress.interactive() is False


def test_progress_counts_rows_and_leaves_the_frame_unchanged(
    watched: dbnb.Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with watched.session(write=True) as session:
        session.execute(
            text("INSERT INTO items VALUES (:id, :name)"),
            [{"id": n, "name": f"n{n}"} for n in range(10, 35)],
        )
    sql = "SELECT id, name FROM items ORDER BY id"
    quiet = watched.query(sql, progress=False)
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(progress, "CHUNK_ROWS", 4)  # several chunks for 28 rows
    shown = watched.query(sql, progress=True)
    pd.testing.assert_frame_equal(shown, quiet)
    assert mine(watched.name)["rows"].tolist()[-2:] == [len(quiet), len(quiet)]
    capped = watched.query(sql, progress=True, max_rows=len(quiet))  # streamed, in chunks
    pd.testing.assert_frame_equal(capped, quiet)
    with pytest.raises(dbnb.RowLimitError):
        watched.query(sql, progress=True, max_rows=len(quiet) - 1)

    with watched.connection() as connection:
        bar = io.StringIO()
        result = connection.execute(text(sql))
        fetched = progress.fetch_rows(result, True, label=watched.name, delay=0, file=bar)
    assert [tuple(row) for row in fetched] == list(quiet.itertuples(index=False, name=None))
    assert f"{watched.name}: " in bar.getvalue()
    assert "28 rows" in bar.getvalue().replace("28.0", "28")
