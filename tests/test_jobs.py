"""Background queries: ``db.submit`` and its ``Job``, ``%%db --bg``, ``%db jobs``, ``%db cancel``.

A long statement runs in the background while other reads go on; ``Job.cancel()`` ends it
on the server (``pg_stat_activity``, MariaDB's process list; on SQLite the read's thread
returns) and the pools count exactly what they held before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from dbnb.notebook import background
from dbnb.read import jobs, progress
from tests.fixtures import config_text
from tests.magic_fixtures import db as run

# A statement that runs for 30 s on each database (longer than any guard below).
SLOW = {
    "postgresql": "SELECT pg_sleep(30) IS NULL AS slept",
    "mysql": "SELECT SLEEP(30) AS slept",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 3000000000) SELECT count(*) AS slept FROM n",
}
GUARD = 20.0  # seconds a "within" wait allows: generous, never a measure


@pytest.fixture(autouse=True)
def no_job_left_running() -> Iterator[None]:
    """A test that fails half-way leaves no statement running for the next one."""
    yield
    for job_id in jobs.jobs().query("state == 'running'")["id"]:
        job = jobs.running(int(job_id))
        if job is not None:
            job.cancel()


def within(condition: Callable[[], bool], seconds: float = GUARD) -> bool:
    """Whether ``condition()`` holds within ``seconds``, looked at every 50 ms."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def on_server(db: dbnb.Database, backend: str) -> int:
    """How many of SLOW's statements run on the server now (SQLite: none can be seen)."""
    if backend == "postgresql":
        sql = (
            "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
            "AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
        )
    elif backend == "mysql":
        sql = (
            "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE "
            "'%SLEEP(30)%' AND ID <> CONNECTION_ID() AND DB = DATABASE()"
        )
    else:
        return 0
    return int(db.query(sql)["n"].iloc[0])


def thread_alive(job: dbnb.Job) -> bool:
    return any(thread.name == f"dbnb-job-{job.id}" for thread in threading.enumerate())


def pools_idle(db: dbnb.Database) -> bool:
    return db.engine.pool.checkedout() == 0 and db._arrow.checkedout() == 0


# --- db.submit --------------------------------------------------------------------------


@pytest.mark.usefixtures("read_path")
def test_cancel_ends_a_running_job_on_the_server_while_other_reads_go_on(
    db: dbnb.Database, backend: str
) -> None:
    job = db.submit(SLOW[backend])
    assert isinstance(job, futures.Future)
    if backend != "sqlite":
        assert within(lambda: on_server(db, backend) == 1)
    # The notebook goes on meanwhile: other reads of the same connection run.
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
    assert db.submit("SELECT count(*) AS n FROM items").result(GUARD)["n"].tolist() == [3]
    assert job.running()
    assert not job.done()
    assert job.state == "running"

    assert job.cancel() is True
    assert job.cancelled()
    assert job.done()
    assert job.state == "cancelled"
    with pytest.raises(futures.CancelledError):
        job.result(timeout=GUARD)
    # Stopped where it ran: gone from the server, and the read's thread returned.
    assert within(lambda: on_server(db, backend) == 0)
    assert within(lambda: not thread_alive(job))
    assert pools_idle(db)
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
    assert job.cancel() is True  # cancelled it stays
    listed = dbnb.jobs().set_index("id").loc[job.id]
    assert (listed["connection"], listed["state"]) == (backend, "cancelled")


@pytest.mark.usefixtures("read_path")
def test_a_job_gives_what_query_gives(db: dbnb.Database, backend: str) -> None:
    sql = "SELECT id, name FROM items WHERE id >= :low ORDER BY id"
    job = db.submit(sql, {"low": 2})
    frame = job.result(timeout=GUARD)
    pd.testing.assert_frame_equal(frame, db.query(sql, {"low": 2}))
    assert (job.state, job.rows, job.done(), job.running()) == ("done", 2, True, False)
    assert job.cancel() is False  # it ended: its result stands
    assert job.result() is frame
    table = db.submit(sql, {"low": 1}, output="arrow").result(timeout=GUARD)
    assert isinstance(table, pa.Table)
    assert table.column("name").to_pylist() == ["one", "two", "three"]


def test_a_failed_job_raises_the_querys_own_error(db: dbnb.Database, backend: str) -> None:
    sql = "SELECT missing FROM no_such_table"
    with pytest.raises(dbnb.QueryError) as direct:
        db.query(sql)
    job = db.submit(sql)
    with pytest.raises(dbnb.QueryError) as background_error:
        job.result(timeout=GUARD)
    assert type(background_error.value) is type(direct.value)
    assert str(background_error.value) == str(direct.value)
    assert backend in str(background_error.value)  # names the connection
    assert job.state == "failed"
    listed = dbnb.jobs().set_index("id").loc[job.id]
    assert listed["state"] == "failed"
    assert "no_such_table" in listed["error"]
    assert pools_idle(db)


def test_ids_count_up_and_jobs_lists_them(tmp_path: Path, open_registry: Any) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(config_text(tmp_path, None))
    db = open_registry(path).connect("sqlite")
    first, second = db.submit("SELECT 1 AS x"), db.submit("SELECT 2 AS x")
    assert second.id == first.id + 1
    futures.wait([first, second], timeout=GUARD)
    listed = dbnb.jobs()
    assert list(listed.columns) == jobs.COLUMNS
    mine = listed[listed["id"].isin([first.id, second.id])]
    assert mine["state"].tolist() == ["done", "done"]
    assert mine["sql"].tolist() == ["SELECT 1 AS x", "SELECT 2 AS x"]
    assert mine["error"].tolist() == [None, None]
    assert repr(second).startswith(f"<Job {second.id} 'sqlite' done")


def test_submit_refuses_what_query_would_not_take_before_anything_runs(
    tmp_path: Path, open_registry: Any
) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(config_text(tmp_path, None))
    db = open_registry(path).connect("sqlite")
    before = len(dbnb.jobs())
    with pytest.raises(dbnb.OptionError, match="chunksize"):
        db.submit("SELECT 1", chunksize=10)
    with pytest.raises(dbnb.OptionError, match=r"db\.submit takes db\.query's options"):
        db.submit("SELECT 1", colour="red")
    assert len(dbnb.jobs()) == before


@pytest.mark.parametrize("backend", ["postgresql"])
def test_rows_so_far_while_it_runs(db: dbnb.Database, backend: str) -> None:
    # 14,999 rows come at once, then the statement sleeps: rows so far, before the end.
    sql = "SELECT g FROM generate_series(1, 30000) g WHERE g < 15000 OR pg_sleep(30) IS NULL"
    job = db.submit(sql, max_rows=100_000)  # streamed from the server, counted in chunks
    assert within(lambda: job.rows >= 10_000)
    assert job.running()
    job.cancel()
    assert within(lambda: on_server(db, backend) == 0)
    assert pools_idle(db)


def budgeted(tmp_path: Path, pg_database: str, open_registry: Any, **settings: Any) -> Any:
    extra = "\n".join(f"{key}: {value}" for key, value in settings.items())
    body = f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\ndatabase: {pg_database}\n{extra}"
    path = tmp_path / "budget.yaml"
    path.write_text(config_text(tmp_path, pg_database, budget=body))
    return open_registry(path).connect("budget")


def test_a_job_holds_one_slot_of_the_budget(
    tmp_path: Path, pg_database: str, open_registry: Any
) -> None:
    db = budgeted(tmp_path, pg_database, open_registry, pool_size=1, max_overflow=0)
    first = db.submit(SLOW["postgresql"])
    assert within(lambda: db.budget.open == 1 and not pools_idle(db))
    # The second waits for the first's slot, as any read would...
    second = db.submit("SELECT 2 AS x")
    assert futures.wait([second], timeout=1.0).not_done
    first.cancel()
    # ...and runs once it is free.
    assert second.result(timeout=GUARD)["x"].tolist() == [2]
    assert db.budget.open == 1
    assert pools_idle(db)


def test_a_job_that_waits_past_pool_timeout_fails_as_reads_do(
    tmp_path: Path, pg_database: str, open_registry: Any
) -> None:
    db = budgeted(
        tmp_path, pg_database, open_registry, pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    first = db.submit(SLOW["postgresql"])
    assert within(lambda: not pools_idle(db))
    with pytest.raises(dbnb.PoolTimeoutError) as waited:
        db.submit("SELECT 2 AS x").result(timeout=GUARD)
    with pytest.raises(dbnb.PoolTimeoutError) as read:
        db.query("SELECT 2 AS x")
    assert str(waited.value) == str(read.value)
    # One that waits is cancelled before its statement is sent; the first goes on.
    waiting = db.submit("SELECT 3 AS x")
    assert waiting.cancel()
    assert waiting.cancelled()
    assert first.running()
    first.cancel()
    assert within(lambda: not thread_alive(waiting) and pools_idle(db))
    assert db.budget.open <= 1
    assert db.query("SELECT 4 AS x")["x"].tolist() == [4]


# --- the magics -------------------------------------------------------------------------


@pytest.mark.postgresql
def test_bg_cell_returns_at_once_and_sets_the_variable_when_it_ends(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns["low"] = 40
    returned = run(ip, "postgresql --bg -o late", "SELECT :low + 2 AS answer, pg_sleep(0.2)")
    assert returned is None
    said = capsys.readouterr().out
    assert "on 'postgresql': running" in said
    assert "`late` is set when it ends" in said
    assert within(lambda: "late" in ip.user_ns)
    assert ip.user_ns["late"]["answer"].tolist() == [42]


@pytest.mark.postgresql
def test_jobs_lists_and_cancel_stops_a_bg_query_on_the_server(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "postgresql --bg -o slow", SLOW["postgresql"])
    job_id = int(capsys.readouterr().out.split()[1])  # "job N on ..."
    db = dbnb.Registry().connect("postgresql")
    assert within(lambda: on_server(db, "postgresql") == 1)
    listed = run(ip, "jobs").set_index("id").loc[job_id]
    assert (listed["connection"], listed["state"]) == ("postgresql", "running")
    assert listed["sql"] == SLOW["postgresql"]
    run(ip, f"cancel {job_id}")
    assert "cancelled, its statement stopped on the server" in capsys.readouterr().out
    assert on_server(db, "postgresql") == 0
    assert run(ip, "jobs").set_index("id").loc[job_id]["state"] == "cancelled"
    assert "slow" not in ip.user_ns
    db.close()
    with pytest.raises(UsageError, match=rf"job {job_id} already ended \(cancelled\)"):
        run(ip, f"cancel {job_id}")


def test_a_failed_bg_query_says_so_in_one_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "sqlite --bg -o never", "SELECT missing FROM no_such_table")
    assert within(lambda: "failed after" in capsys.readouterr().out)
    assert "never" not in ip.user_ns


def test_cancel_and_bg_say_what_they_take(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="there is no job 999999"):
        run(ip, "cancel 999999")
    with pytest.raises(UsageError, match="usage: %db cancel N"):
        run(ip, "cancel first")
    with pytest.raises(UsageError, match="--bg runs one read"):
        run(ip, "sqlite --bg --write", "SELECT 1")
    with pytest.raises(UsageError, match="write one statement here, not 2"):
        run(ip, "sqlite --bg -o x", "SELECT 1; SELECT 2")


class Shown:
    """What a notebook's display handle was given, in order (IPython's ``DisplayHandle``
    has the same ``update``); the status line is its text."""

    def __init__(self, first: Any) -> None:
        self.lines = [repr(first)]

    def update(self, status: Any) -> None:
        self.lines.append(repr(status))


def test_in_a_kernel_the_status_line_is_updated_in_place(
    tmp_path: Path, open_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(config_text(tmp_path, None))
    db = open_registry(path).connect("sqlite")
    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    monkeypatch.setattr(background, "_EVERY", 0.05)
    handles: list[Shown] = []

    def show(status: Any, display_id: bool) -> Shown:
        assert display_id is True
        handles.append(Shown(status))
        return handles[-1]

    namespace: dict[str, Any] = {}
    background.background(db, SLOW["sqlite"], namespace, out="n", output="pandas", show=show)
    (handle,) = handles
    assert within(lambda: len(handle.lines) >= 3)  # updated while it runs
    assert handle.lines[0].startswith("job ")
    assert "running" in handle.lines[0]
    job = jobs.running(int(handle.lines[0].split()[1]))
    assert job is not None
    job.cancel()
    assert within(lambda: "cancelled after" in handle.lines[-1])
    assert "n" not in namespace
    background.background(db, "SELECT 7 AS n", namespace, out="n", output="pandas", show=show)
    assert within(lambda: "n" in namespace)
    assert within(lambda: "done in" in handles[-1].lines[-1] and "-> `n`" in handles[-1].lines[-1])
    assert namespace["n"]["n"].tolist() == [7]


@pytest.mark.slow  # a kernel of its own
def test_a_kernel_shows_the_status_line_updated_in_place(config_path: Path) -> None:
    from tests.test_complete_kernel import running_kernel

    count = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000)"
    cell = f"%%db sqlite --bg -o counted\n{count} SELECT count(*) AS n FROM n"
    with running_kernel(config_path, ("%load_ext dbnb",)) as (_, client):
        background_cell = client.execute(cell)
        other_cell = client.execute("import time; time.sleep(1.5); other = 1")  # meanwhile
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            "done in" in str(m["content"].get("data")) for m in messages
        ):
            messages.append(client.get_iopub_msg(timeout=60))
        shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
        first, *updates = shown
        assert first["msg_type"] == "display_data"
        assert "running" in first["content"]["data"]["text/plain"]
        display_id = first["content"]["transient"]["display_id"]
        # Every update replaces that line, and belongs to its cell, though another ran.
        assert {m["content"]["transient"]["display_id"] for m in updates} == {display_id}
        assert {m["parent_header"]["msg_id"] for m in shown} == {background_cell}
        assert any(m["parent_header"].get("msg_id") == other_cell for m in messages)
        texts = [m["content"]["data"]["text/plain"] for m in updates]
        assert any("running" in text for text in texts)
        assert texts[-1].endswith("1 row -> `counted`")
        check = "assert counted['n'].tolist() == [10000000] and other == 1"
        assert client.execute_interactive(check, timeout=60)["content"]["status"] == "ok"
