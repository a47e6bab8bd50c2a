"""MariaDB's columnar reads (connectorx into Arrow) keep the guarded path's rules: the
server's own log shows each statement executed once and read-only, Ctrl-C kills it on
the server, its connections stay within the name's budget, and what connectorx
cannot read exactly takes the guarded path before anything ran."""

from __future__ import annotations

import decimal
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pymysql
import pytest
from sqlalchemy import text

import dbnb
from tests.fixtures import config_text, settled_count
from tests.test_limits import interrupt_after

pytestmark = pytest.mark.mysql  # the tier (tests/conftest.py): every test here reads there


def admin(database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database)


@pytest.fixture
def maria(registry: dbnb.Registry) -> dbnb.Database:
    database = registry.connect("mysql")
    assert database._arrow.columnar is not None, "MariaDB has a columnar path"
    with database.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS numbers"))
        session.execute(text("CREATE TABLE numbers (n INTEGER PRIMARY KEY, label VARCHAR(20))"))
        session.execute(text("INSERT INTO numbers SELECT seq, CONCAT('n', seq) FROM seq_1_to_1000"))
    return database


@pytest.fixture
def server_log() -> Iterator[Path]:
    """MariaDB's general log, in a table, for the length of a test."""
    with admin() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.general_log, @@GLOBAL.log_output")
        before = cursor.fetchone()
        cursor.execute("SET GLOBAL log_output = 'TABLE'")
        cursor.execute("SET GLOBAL general_log = 1")
        try:
            yield Path()
        finally:
            cursor.execute("SET GLOBAL general_log = %s", (before[0],))
            cursor.execute("SET GLOBAL log_output = %s", (before[1],))


def logged(mark: str) -> list[tuple[str, str]]:
    """(command, statement) of every statement the server received carrying ``mark``,
    but the log's own reads."""
    with admin() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT command_type, CONVERT(argument USING utf8mb4) FROM mysql.general_log "
            "WHERE argument LIKE %s AND argument NOT LIKE '%%general_log%%' ORDER BY event_time",
            (f"%{mark}%",),
        )
        return [(str(row[0]), str(row[1])) for row in cursor.fetchall()]


def executed(mark: str) -> list[str]:
    """The statements carrying ``mark`` that the server ran (a prepare runs nothing)."""
    return [sql for command, sql in logged(mark) if command in ("Query", "Execute")]


def test_a_read_is_described_then_executed_once_read_only(
    maria: dbnb.Database, server_log: Path
) -> None:
    mark = f"once-{uuid.uuid4().hex}"
    served = maria._arrow.served
    frame = maria.query(f"SELECT /* {mark} */ n, label FROM numbers WHERE n <= :top", {"top": 3})
    assert maria._arrow.served == served + 1, "the columnar path read it"
    assert frame["label"].tolist() == ["n1", "n2", "n3"]
    assert str(frame["n"].dtype) == "int32[pyarrow]"
    commands = [command for command, _ in logged(mark)]
    assert commands.count("Execute") == 1, commands
    assert commands.count("Query") == 0, commands
    assert commands.count("Prepare") == 2, "dbnb's describe, then connectorx's own"
    (sent,) = executed(mark)
    # Its own read-only transaction, UTC, and the value rendered as PyMySQL renders it.
    assert sent.startswith("SET STATEMENT tx_read_only=1, time_zone='+00:00' FOR ")
    assert sent.endswith("WHERE n <= 3")


def test_a_read_that_fails_as_it_runs_is_not_run_again(
    maria: dbnb.Database, server_log: Path
) -> None:
    mark = f"fails-{uuid.uuid4().hex}"
    with pytest.raises(dbnb.QueryError, match=r"mysql: Subquery returns more than 1 row$"):
        maria.query(f"SELECT /* {mark} */ (SELECT n FROM numbers WHERE n < 3) AS one")
    assert len(executed(mark)) == 1, "the guarded path did not run it a second time"


@pytest.mark.parametrize("options", [{}, {"max_rows": 10}], ids=["columnar", "guarded"])
def test_the_servers_message_alone_on_either_path(maria: dbnb.Database, options: dict) -> None:
    with pytest.raises(dbnb.QueryError) as caught:
        maria.query("SELECT nope FROM numbers", **options)
    assert re.fullmatch(r"mysql: Unknown column 'nope' in '[^']+'", str(caught.value))


def test_statement_timeout_is_the_servers_and_runs_once(
    maria: dbnb.Database, server_log: Path
) -> None:
    mark = f"slow-{uuid.uuid4().hex}"
    started = time.monotonic()
    with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 0\.5 s"):
        maria.query(f"SELECT /* {mark} */ SLEEP(5) AS slept", timeout=0.5)
    assert time.monotonic() - started < 3
    (sent,) = executed(mark)
    assert "max_statement_time=0.5 FOR" in sent
    assert maria.query("SELECT count(*) AS n FROM numbers")["n"].tolist() == [1000]


def test_ctrl_c_kills_the_read_on_the_server(maria: dbnb.Database) -> None:
    served = maria._arrow.served
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        maria.query("SELECT SLEEP(20) AS slept FROM numbers WHERE n = 1")
    assert time.monotonic() - started < 5, "stopped on the server, not waited out"
    with admin() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST "
            "WHERE INFO LIKE '%SLEEP(20)%' AND ID <> CONNECTION_ID()"
        )
        assert cursor.fetchone() == (0,)
    assert maria.budget.open <= 1
    assert maria.query("SELECT count(*) AS n FROM numbers")["n"].tolist() == [1000]
    assert maria._arrow.served == served + 1, "the next read takes the columnar path again"


def test_ctrl_c_on_the_guarded_path_kills_it_and_says_nothing_more(
    maria: dbnb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A TIME column keeps the read on PyMySQL: KILL QUERY stops it there too, and the
    interrupted connection is closed once (no "Already closed" in the log)."""
    served = maria._arrow.served
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        maria.query("SELECT SLEEP(20) AS slept, CAST('01:00:00' AS TIME) AS t")
    assert maria._arrow.served == served
    assert [record.getMessage() for record in caplog.records if record.levelno >= 30] == []
    assert maria.engine.pool.checkedout() == 0
    assert maria.query("SELECT count(*) AS n FROM numbers")["n"].tolist() == [1000]


def test_a_function_that_writes_is_refused_before_it_runs(maria: dbnb.Database) -> None:
    with maria.session(write=True) as session:
        session.execute(text("DROP FUNCTION IF EXISTS wipe"))
        session.execute(
            text(
                "CREATE FUNCTION wipe() RETURNS INT MODIFIES SQL DATA "
                "BEGIN DELETE FROM numbers; RETURN 1; END"
            )
        )
    with pytest.raises(dbnb.ReadOnlyError, match="READ ONLY transaction"):
        maria.query("SELECT wipe() AS w")
    assert maria.query("SELECT count(*) AS n FROM numbers")["n"].tolist() == [1000]


def test_columns_connectorx_cannot_read_exactly_take_the_guarded_path(
    maria: dbnb.Database, server_log: Path
) -> None:
    mark = f"exact-{uuid.uuid4().hex}"
    served = maria._arrow.served
    frame = maria.query(
        f"SELECT /* {mark} */ CAST('-12:30:00' AS TIME) AS t, "
        "CAST(1234567890.12345678901234567890 AS DECIMAL(30, 20)) AS d"
    )
    assert maria._arrow.served == served
    assert frame["t"].tolist() == [pd.Timedelta(hours=-12, minutes=-30).to_pytimedelta()]
    assert frame["d"].tolist() == [decimal.Decimal("1234567890.12345678901234567890")]
    assert len(executed(mark)) == 1, "described, refused, then run once on the guarded path"


@pytest.mark.parametrize(
    "value", ["it's", "back\\slash\\", "50% off", "%s", ":name ?", 'say "hi"', "é😀", ""]
)
def test_values_are_rendered_as_pymysql_renders_them(maria: dbnb.Database, value: str) -> None:
    """Both paths give the value back; a text connectorx's driver would misread (a quote
    after a backslash) takes the guarded path."""
    sql = "SELECT :v AS v, CHAR_LENGTH(:v) AS length, label FROM numbers WHERE label = :label"
    frame = maria.query(sql, {"v": value, "label": "n7"})
    assert frame["v"].tolist() == [value]
    assert frame["length"].tolist() == [len(value)]
    assert frame["label"].tolist() == ["n7"]


def test_values_under_no_backslash_escapes(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    """The server's NO_BACKSLASH_ESCAPES changes how a quote is escaped: the describing
    connection knows it, as PyMySQL's connections on the guarded path do."""
    with admin() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.sql_mode")
        (mode,) = cursor.fetchone()
        cursor.execute("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')")
        try:
            path = tmp_path / "infra.yaml"
            path.write_text(config_text(tmp_path, pg_database, mysql_database))
            registry = dbnb.Registry(dbnb.load_config(path))
            database = registry.connect("mysql")
            served = database._arrow.served
            for value in ["it's", "a\\'b", "x' OR '1'='1"]:
                frame = database.query("SELECT :v AS v", {"v": value})
                assert frame["v"].tolist() == [value]
            assert database._arrow.served == served + 3
            registry.close()
        finally:
            cursor.execute("SET GLOBAL sql_mode = %s", (mode,))


def server_connections(database: str) -> int:
    with admin() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
            "AND ID <> CONNECTION_ID()",
            (database,),
        )
        (count,) = cursor.fetchone()
    return int(count)


def test_columnar_reads_and_sessions_stay_within_the_budget(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    tiny = f"""
type: mysql
host: 127.0.0.1
port: 3306
database: {mysql_database}
user: root
pool_size: 2
max_overflow: 0
pool_timeout: 30
"""
    path = tmp_path / "infra.yaml"
    path.write_text(config_text(tmp_path, pg_database, mysql_database, tiny=tiny))
    registry = dbnb.Registry(dbnb.load_config(path))
    database = registry.connect("tiny")
    most = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def watch() -> None:
        nonlocal most
        while not stop.is_set():
            seen = settled_count(lambda: server_connections(mysql_database), 2)
            most = max(most, seen)

    def work(kind: int) -> None:
        try:
            for _ in range(3):
                if kind == 0:
                    with database.session() as session:
                        session.execute(text("SELECT SLEEP(0.2)"))
                else:  # half a second on the server: long enough to be seen
                    slow = "SELECT seq FROM seq_1_to_250 WHERE SLEEP(0.002) = 0"
                    assert len(database.query(slow)) == 250
        except BaseException as error:  # reported below
            errors.append(error)

    served = database._arrow.served
    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=work, args=(i % 2,)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    stop.set()
    watcher.join()
    assert not errors, errors
    assert database._arrow.served == served + 9, "the reads took the columnar path"
    assert 1 <= most <= 2, f"{most} server connections for pool_size 2 + max_overflow 0"
    registry.close()
    assert database.budget.open == 0
