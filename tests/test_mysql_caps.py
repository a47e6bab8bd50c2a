"""MariaDB stops a capped or abandoned result on the server: max_rows (per call or in
the config) and chunks closed early send at most a bounded amount past what was read,
nothing of ours is left running, and the connection goes back to the pool usable.
Before, PyMySQL read all ten million rows to throw them away (about 10 s and 120 MB
here); and the history of a chunked read recorded PyMySQL's "unknown" row count
(2**64 - 1), which broke ``dbnb.history()``."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pymysql
import pytest
from sqlalchemy import text

import dbnb
from dbnb.notebook import cells
from tests.fixtures import config_text

pytestmark = pytest.mark.usefixtures("read_path")

TEN_MILLION = "seq_1_to_10000000"  # MariaDB's SEQUENCE engine: rows made as they are sent
CAP = 1000
# The server's socket buffers, at most, may be on their way when the statement is killed
# (about 4 MB here); all ten million rows are about 120 MB.
BOUND_BYTES = 20_000_000


@pytest.fixture
def maria(
    tmp_path: Path,
    pg_database: str,
    mysql_database: str,
    open_registry: Callable[[Path], dbnb.Registry],
) -> tuple[dbnb.Database, dbnb.Database]:
    """The MariaDB connection, and its twin ``capped`` with max_rows in the config."""
    capped = (
        f"type: mysql\nhost: 127.0.0.1\nport: 3306\ndatabase: {mysql_database}\n"
        f"user: root\nmax_rows: {CAP}"
    )
    path = tmp_path / "caps.yaml"
    path.write_text(config_text(tmp_path, pg_database, mysql_database, capped=capped))
    registry = open_registry(path)
    return registry.connect("mysql"), registry.connect("capped")


def session_state(database: dbnb.Database) -> tuple[int, int]:
    """(server thread, bytes the server sent it) of the connection the pool hands out."""
    with database.session() as session:
        thread = session.execute(text("SELECT CONNECTION_ID()")).scalar_one()
        sent = session.execute(text("SHOW SESSION STATUS LIKE 'Bytes_sent'")).one()[1]
    return int(thread), int(sent)


def running(mark: str) -> list[tuple[int, str]]:
    with (
        pymysql.connect(host="127.0.0.1", port=3306, user="root") as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT ID, INFO FROM information_schema.PROCESSLIST"
            " WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
            (f"%{mark}%",),
        )
        return list(cursor.fetchall())


@pytest.fixture
def bounded() -> Callable[[dbnb.Database, Callable[[str], object]], None]:
    """Runs ``read(sql)`` on a 10M-row result and checks what it cost the server's
    side: bounded bytes sent (all of it is about 100 MB: a count, not a clock, which a
    busy machine would stretch), nothing left running, the same connection back in the
    pool and usable."""

    def check(database: dbnb.Database, read: Callable[[str], object]) -> None:
        mark = f"cap-{uuid.uuid4().hex}"
        thread, before = session_state(database)
        read(f"SELECT /* {mark} */ seq FROM {TEN_MILLION}")
        after_thread, after = session_state(database)
        assert after - before < BOUND_BYTES, f"{(after - before) / 1e6:.1f} MB sent"
        assert after_thread == thread, "the connection went back to the pool"
        assert running(mark) == []

    return check


def over_the_cap(database: dbnb.Database, **options: int) -> Callable[[str], object]:
    def read(sql: str) -> None:
        with pytest.raises(dbnb.RowLimitError, match=f"more than {CAP:,} rows"):
            database.query(sql, **options)

    return read


def test_max_rows_of_the_call_stops_the_result_on_the_server(maria, bounded) -> None:
    plain, _ = maria
    bounded(plain, over_the_cap(plain, max_rows=CAP))


def test_max_rows_of_the_config_stops_the_result_on_the_server(maria, bounded) -> None:
    _, capped = maria
    bounded(capped, over_the_cap(capped))


def test_max_rows_under_a_larger_limit_of_the_statement_is_killed(maria, bounded) -> None:
    """The statement's own LIMIT wins over sql_select_limit: the read kills it instead."""
    plain, _ = maria

    def read(sql: str) -> None:
        over_the_cap(plain, max_rows=CAP)(f"{sql} LIMIT 10000000")

    bounded(plain, read)


def test_max_rows_of_a_cell_stops_the_result_on_the_server(maria, bounded) -> None:
    """A ``%%db`` cell under the config's max_rows (its statements in one transaction)."""
    _, capped = maria

    def read(sql: str) -> None:
        with pytest.raises(dbnb.RowLimitError, match=f"statement 2 has more than {CAP:,} rows"):
            cells.run(capped, f"SELECT 1;\n{sql}", {})

    bounded(capped, read)


@pytest.mark.parametrize("how", ["break", "close", "collected"])
def test_chunks_closed_early_stop_the_result_on_the_server(maria, bounded, how: str) -> None:
    plain, _ = maria

    def read(sql: str) -> None:
        if how == "break":
            for chunk in plain.query(sql, chunksize=CAP):
                assert len(chunk) == CAP
                break
        else:
            chunks = plain.query(sql, chunksize=CAP)
            chunk = next(chunks)
            if how == "close":
                chunks.close()
            del chunks  # "collected": the generator is finalised with its last reference
            gc.collect()
        assert chunk["seq"].tolist()[:2] == [1, 2]
        assert len(chunk) == CAP

    bounded(plain, read)


def test_the_cap_is_the_top_level_results_and_ends_with_its_read(maria) -> None:
    plain, _ = maria
    # Exactly max_rows rows pass; a subquery, a derived table or a CTE is not capped.
    assert len(plain.query("SELECT seq FROM seq_1_to_10", max_rows=10)) == 10
    sql = (
        "WITH t AS (SELECT seq FROM seq_1_to_5000) SELECT COUNT(*) AS n,"
        " (SELECT COUNT(*) FROM seq_1_to_5000) AS m FROM (SELECT seq FROM t) AS d"
    )
    assert plain.query(sql, max_rows=1).iloc[0].tolist() == [5000, 5000]
    # The next read of the same pooled connection has no cap.
    with plain.session() as session:
        rows = session.execute(text("SELECT seq FROM seq_1_to_5000")).all()
    assert len(rows) == 5000


def test_history_after_a_chunked_read_shows_its_rows_as_unknown(maria) -> None:
    plain, _ = maria
    mark = f"history-{uuid.uuid4().hex}"
    frames = list(plain.query(f"SELECT /* {mark} */ seq FROM seq_1_to_2500", chunksize=CAP))
    assert [len(frame) for frame in frames] == [1000, 1000, 500]
    history = dbnb.history()
    [rows] = history.loc[history["sql"].str.contains(mark), "rows"].tolist()
    assert pd.isna(rows)
