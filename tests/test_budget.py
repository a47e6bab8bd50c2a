"""One owner of a name's connection counts: the budget, whose ``BudgetPool`` s never
disagree with it (no negative ``checkedout()`` after any fault), under a real role's
``CONNECTION LIMIT`` equal to the budget (issue #24)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from sqlalchemy import exc, text

import dbnb
from dbnb.devtools import testing
from tests.fixtures import PG_ADMIN
from tests.test_limits import interrupt_after


def admin_url(database: str) -> str:
    return testing.database_url(PG_ADMIN, database).replace("+psycopg", "")


@pytest.fixture(scope="module")
def role_database(pg_admin: str) -> Iterator[tuple[str, str]]:
    """A throwaway database and a role of its own with CONNECTION LIMIT 2 (the budget of
    the ``tight`` connection: pool_size 2, max_overflow 0)."""
    role = f"dbnb_budget_{uuid.uuid4().hex[:12]}"
    with testing.throwaway_pg_database(pg_admin, prefix="dbnb_budget") as name:
        with psycopg.connect(admin_url(name), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
            admin.execute(f"GRANT ALL ON DATABASE {name} TO {role}")
            admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
            admin.execute(
                f"CREATE TABLE numbers (n int, label text) ; ALTER TABLE numbers OWNER TO {role}"
            )
        try:
            yield name, role
        finally:
            with psycopg.connect(admin_url(name), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    [role],
                )
            with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def tight(tmp_path: Path, role_database: tuple[str, str]) -> Iterator[dbnb.Database]:
    name, role = role_database
    path = tmp_path / "budget.yaml"
    path.write_text(
        "databases:\n  tight:\n    type: postgresql\n    host: 127.0.0.1\n"
        f"    user: {role}\n    database: {name}\n    pool_size: 2\n    max_overflow: 0\n"
        "    pool_timeout: 30\n"
    )
    database = dbnb.Registry(dbnb.load_config(path)).connect("tight")
    try:
        yield database
    finally:
        database.close()


def server_connections(role: str) -> int:
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [role]
        ).fetchone()
    assert row is not None
    return int(row[0])


def assert_exact(database: dbnb.Database) -> None:
    """Nothing out, nothing negative, and the budget holds what the pools hold."""
    guarded = database.engine.pool
    assert guarded.checkedout() == 0, guarded.status()
    assert guarded.overflow() >= 0, guarded.status()
    assert database._arrow.checkedout() == 0
    budget = database.budget
    assert budget._pending == 0
    assert budget._closing == 0
    assert budget.open == guarded.checkedin() + (
        database._arrow._pool.checkedin() if database._arrow._pool is not None else 0
    )
    database.close()
    assert budget.open == 0


def test_a_slot_changes_kind_only_when_the_budget_is_full(tight: dbnb.Database) -> None:
    with tight.session() as first:
        first.execute(text("SELECT 1"))
    # One guarded connection idles; a slot is free: the columnar read opens its own.
    assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]
    assert (tight.budget.in_use(), tight.budget.switched) == ({"guarded": 1, "columnar": 1}, 0)
    # Each kind reuses its own idle connection.
    for _ in range(3):
        with tight.session() as session:
            session.execute(text("SELECT 1"))
        assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]
    assert tight.budget.switched == 0
    # Two sessions at once: the budget is full, the idle columnar slot becomes guarded.
    with tight.session() as first, tight.session() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
        assert tight.budget.in_use() == {"guarded": 2}
    assert tight.budget.switched == 1
    assert_exact(tight)


def test_checkouts_are_served_in_the_order_they_came(
    tight: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A columnar read waits for the full budget; sessions that ask after it may reuse
    # an idle guarded connection before it, but at most ``limit`` times: then the read
    # is served (its slot changes kind), whatever still waits behind it.
    budget = tight.budget
    served: list[str] = []
    take = budget.take

    def recording_take(pool: Any) -> Any:
        taken = take(pool)
        served.append(pool.path)
        return taken

    monkeypatch.setattr(budget, "take", recording_take)

    def waiting(work: Any) -> threading.Thread:
        before = len(budget._waiting)
        thread = threading.Thread(target=work)
        thread.start()
        deadline = time.monotonic() + 10
        while len(budget._waiting) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(budget._waiting) == before + 1, "the checkout is not waiting"
        return thread

    def session() -> None:
        with tight.session() as s:
            s.execute(text("SELECT 1"))

    def read() -> None:
        assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]

    with tight.session() as first, tight.session() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
        threads = [waiting(read)] + [waiting(session) for _ in range(6)]
        served.clear()
    for thread in threads:
        thread.join(30)
    assert sorted(served) == ["columnar"] + ["guarded"] * 6
    assert served.index("columnar") <= budget.limit, served
    assert budget.switched <= 1
    assert_exact(tight)


def test_counts_stay_exact_when_idle_connections_of_another_path_are_closed(
    tight: dbnb.Database,
) -> None:
    # The guarded pool lent one connection out and idles the other when the columnar
    # path needs a slot: closing that idle one must not touch the count of the one out
    # (QueuePool.dispose reset its overflow, and checkedout() went to -1 after).
    with tight.session() as held:
        with tight.session() as idle:
            idle.execute(text("SELECT 1"))
        held.execute(text("SELECT 1"))
        assert tight.query("SELECT 2 AS v")["v"].tolist() == [2]
        assert tight.engine.pool.checkedout() == 1
    assert tight.engine.pool.checkedout() == 0
    assert_exact(tight)


def test_a_pool_timeout_leaves_the_counts_exact(tight: dbnb.Database) -> None:
    tight.budget.timeout = 0.3
    with tight.session() as first, tight.session() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
        with pytest.raises(dbnb.PoolTimeoutError):
            tight.query("SELECT 1 AS v")
        with pytest.raises(dbnb.PoolTimeoutError):
            with tight.session():
                pass
    assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]
    assert_exact(tight)


def kill_own_backends(role: str) -> None:
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
        )


def kill_own_backends_once_copying(role: str) -> None:
    """Terminate ``role``'s backends as soon as one of them runs a COPY (a busy machine
    would let a timer fire before the write started, or after it ended)."""
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as admin:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copying = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
                " AND query LIKE 'COPY%%' AND state = 'active'",
                [role],
            ).fetchone()
            if copying and copying[0]:
                break
            time.sleep(0.005)
    kill_own_backends(role)


def test_killed_backends_leave_the_counts_exact(
    tight: dbnb.Database, role_database: tuple[str, str]
) -> None:
    _, role = role_database
    with tight.session() as session:
        session.execute(text("SELECT 1"))
        assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]
        kill_own_backends(role)  # the session's connection and the idle columnar one
        with pytest.raises(exc.OperationalError, match="terminating connection"):
            session.execute(text("SELECT 1"))
    # Both paths read again, on new connections, within the role's limit of 2.
    assert tight.query("SELECT 3 AS v")["v"].tolist() == [3]
    with tight.session() as session:
        assert session.execute(text("SELECT 4")).scalar() == 4
    # Killed mid-COPY: the write fails, and nothing of it stays counted.
    big = pd.DataFrame({"n": range(2_000_000), "label": "a row to copy"})
    killer = threading.Thread(target=kill_own_backends_once_copying, args=[role])
    killer.start()
    with pytest.raises((dbnb.DbnbError, exc.DBAPIError)):
        tight.write(big, "numbers")
    killer.join()
    assert tight.query("SELECT count(*) AS c FROM numbers")["c"].tolist() == [0]
    assert_exact(tight)


def test_ctrl_c_mid_read_mid_chunk_and_mid_write_leaves_the_counts_exact(
    tight: dbnb.Database,
) -> None:
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        tight.query("SELECT pg_sleep(20) AS s")
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        with tight.session() as session:
            session.execute(text("SELECT pg_sleep(20)"))
    chunks = tight.query("SELECT g FROM generate_series(1, 100000) g", chunksize=1000)
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.3):
        for _ in chunks:
            time.sleep(0.05)
    chunks.close()
    big = pd.DataFrame({"n": range(2_000_000), "label": "a row to copy"})
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.3):
        tight.write(big, "numbers")
    assert tight.query("SELECT count(*) AS c FROM numbers")["c"].tolist() == [0]
    assert_exact(tight)


def test_mixed_load_stays_within_the_role_connection_limit(
    tight: dbnb.Database, role_database: tuple[str, str]
) -> None:
    _, role = role_database
    seconds = 15.0
    stop = time.monotonic() + seconds
    done = threading.Event()
    errors: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    most = 0

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, server_connections(role))

    def work(number: int) -> None:
        kind = ("query", "chunks", "session", "write")[number % 4]
        while time.monotonic() < stop:
            try:
                if kind == "query":
                    assert len(tight.query("SELECT g FROM generate_series(1, 500) g")) == 500
                elif kind == "chunks":
                    rows = tight.query("SELECT g FROM generate_series(1, 300) g", chunksize=100)
                    assert sum(len(chunk) for chunk in rows) == 300
                elif kind == "session":
                    with tight.session() as session:
                        session.execute(text("SELECT pg_sleep(0.005)"))
                else:
                    frame = pd.DataFrame({"n": [number] * 20, "label": "w"})
                    assert tight.write(frame, "numbers") == 20
                kinds[kind] += 1
            except Exception as error:  # counted by kind below
                errors[type(error).__name__ + ": " + str(error)[:120]] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 60)
    done.set()
    watcher.join()
    assert not errors, errors
    assert all(kinds[kind] > 0 for kind in ("query", "chunks", "session", "write")), kinds
    assert most <= 2, f"{most} server connections for a role limited to 2"
    assert_exact(tight)


def test_every_columnar_connection_is_closed_once_also_one_out_at_close(
    tight: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection the columnar pool lent out when the Database closed comes back to a
    # pool no one uses again: it must close then, not idle there until the garbage
    # collector finds it (ADBC's ResourceWarning: "Connection was not explicitly
    # close()d", an error in whatever test runs then).
    columnar = tight._arrow.columnar
    assert columnar is not None
    opened: list[Any] = []
    connect = columnar.connect

    def counted() -> Any:
        opened.append(connect())
        return opened[-1]

    monkeypatch.setattr(columnar, "connect", counted)
    assert tight.query("SELECT 1 AS v")["v"].tolist() == [1]
    with tight.session() as first, tight.session() as second:  # the columnar slot changes kind
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
    chunks = tight.query("SELECT g FROM generate_series(1, 5000) g", chunksize=100)
    first_chunk = next(iter(chunks))
    tight.close()  # while the stream holds its connection
    assert len(first_chunk) + sum(len(chunk) for chunk in chunks) == 5000
    assert tight.budget.open == 0, tight.budget.in_use()
    assert len(opened) == 2
    assert all(connection._closed for connection in opened)
    # The next read opens a new pool, and closing again closes all it opened.
    assert tight.query("SELECT 2 AS v")["v"].tolist() == [2]
    assert_exact(tight)
    assert len(opened) == 3
    assert all(connection._closed for connection in opened)
