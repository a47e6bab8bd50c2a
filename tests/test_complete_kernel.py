"""The notebook front end as a notebook gets it, from a real IPython kernel: its
complete_request (Tab), and Ctrl-C (an interrupt request) during a ``%%db`` cell."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.fixtures import PG_ADMIN

pytestmark = pytest.mark.slow  # the tier (tests/conftest.py): a kernel per test

SETUP = """
%load_ext dbnb
%db use sqlite
region_wanted = "EU"
"""
TABLES = """%%db --write
DROP TABLE IF EXISTS k_orders;
CREATE TABLE k_orders (id INTEGER PRIMARY KEY, region TEXT, total REAL);
"""


@contextmanager
def running_kernel(
    config_path: Path, cells: tuple[str, ...]
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel of this interpreter, its config the test's, having run ``cells``."""
    manager = KernelManager(kernel_name="python3")
    env = {**os.environ, "DBNB_CONFIG": str(config_path)}
    manager.start_kernel(env=env, cwd=str(config_path.parent))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        for code in cells:
            reply = client.execute_interactive(code, timeout=60, output_hook=lambda _: None)
            assert reply["content"]["status"] == "ok", reply["content"]
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.fixture
def started(config_path: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel with dbnb loaded, on SQLite, with a table."""
    with running_kernel(config_path, (SETUP, TABLES)) as started:
        yield started


@pytest.fixture
def kernel(started: tuple[KernelManager, BlockingKernelClient]) -> BlockingKernelClient:
    return started[1]


def complete(client: BlockingKernelClient, code: str, cursor: int | None = None) -> dict[str, Any]:
    """The kernel's complete_reply content for ``code`` with the cursor at ``cursor``."""
    message_id = client.complete(code, len(code) if cursor is None else cursor)
    while True:
        reply = client.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == message_id:
            content: dict[str, Any] = reply["content"]
            assert content["status"] == "ok"
            return content


@pytest.mark.postgresql
def test_a_kernel_completes_every_context(kernel: BlockingKernelClient) -> None:
    subcommands = complete(kernel, "%db des")
    assert subcommands["matches"] == ["describe"]
    assert (subcommands["cursor_start"], subcommands["cursor_end"]) == (4, 7)
    assert complete(kernel, "%db use sqlite")["matches"] == ["sqlite", "sqlite_ro"]
    assert "postgresql" in complete(kernel, "%%db ")["matches"]
    # The first request after the DDL answers within its budget with what is cached
    # (maybe nothing yet); the schema read goes on in the background.
    deadline = time.monotonic() + 10
    while not (tables := complete(kernel, "%%db sqlite\nSELECT * FROM k_o"))["matches"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert tables["matches"] == ["k_orders"]
    assert tables["cursor_start"] == len("%%db sqlite\nSELECT * FROM ")
    assert complete(kernel, "%db describe k_")["matches"] == ["k_orders"]
    code = "%db SELECT o. FROM k_orders o"
    assert complete(kernel, code, code.index("o.") + 2)["matches"] == ["id", "region", "total"]
    code = "%%db\nSELECT  FROM k_orders"
    assert complete(kernel, code, code.index("SELECT ") + 7)["matches"] == [
        "id",
        "region",
        "total",
    ]
    assert complete(kernel, "%db SELECT * FROM k_orders WHERE region = :region_w")["matches"] == [
        "region_wanted"
    ]


def timed(client: BlockingKernelClient, code: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    matches = complete(client, code)["matches"]
    return time.perf_counter() - started, matches


def test_the_first_tab_on_a_fresh_connection_answers_at_once(
    config_path: Path, pg_database: str
) -> None:
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_database}") as connection:
        connection.execute("DROP TABLE IF EXISTS k_first_tab")
        connection.execute("CREATE TABLE k_first_tab (id integer)")
    # A fresh kernel: nothing but %load_ext has run (no query has imported a driver).
    with running_kernel(config_path, ("%load_ext dbnb",)) as (_, kernel):
        # At once: %load_ext imported the drivers, nothing runs in the background.
        elapsed, subcommands = timed(kernel, "%db ")
        assert elapsed < 0.5
        assert {"use", "tables", "describe"} <= set(subcommands)
        elapsed, names = timed(kernel, "%%db ")
        assert elapsed < 0.5
        assert {"postgresql", "sqlite"} <= set(names)
        # The first Tab on PostgreSQL: no driver import or connection on the main
        # thread, so it answers within the schema read's wait of 150 ms (with the
        # tables, if the read landed by then): ~40 ms here, where it took 0.3-0.65 s
        # when the main thread imported the drivers first. Room for a loaded machine.
        code = "%%db postgresql\nSELECT * FROM k_fi"
        elapsed, first = timed(kernel, code)
        print(f"first Tab on a fresh PostgreSQL connection: {elapsed * 1000:.0f} ms")
        assert elapsed < 0.25
        deadline = time.monotonic() + 10
        while first != ["k_first_tab"]:
            assert time.monotonic() < deadline, first
            time.sleep(0.1)
            first = complete(kernel, code)["matches"]


# --- Ctrl-C --------------------------------------------------------------------------


def run_interrupted(
    manager: KernelManager, client: BlockingKernelClient, code: str, running: Callable[[], bool]
) -> tuple[list[str], str]:
    """Run ``code``, interrupt the kernel once ``running()`` says the statement runs,
    and queue a cell behind it as "run all" does: the error output's traceback, and
    the queued cell's status."""
    message_id = client.execute(code)
    queued = client.execute("k_after_interrupt = 1")
    deadline = time.monotonic() + 15
    while not running():
        assert time.monotonic() < deadline, "the statement never started"
        time.sleep(0.05)
    manager.interrupt_kernel()
    tracebacks = []
    while True:
        message = client.get_iopub_msg(timeout=30)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        if message["msg_type"] == "error":
            tracebacks.append(message["content"]["traceback"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    replies = {}
    while len(replies) < 2:
        reply = client.get_shell_msg(timeout=30)
        replies[reply["parent_header"].get("msg_id")] = reply["content"]["status"]
    assert replies[message_id] == "error"
    assert len(tracebacks) == 1
    return tracebacks[0], replies[queued]


def pg_running(marker: str) -> Callable[[], bool]:
    def running() -> bool:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            found = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE %s AND pid <> pg_backend_pid()",
                [f"%{marker}%"],
            ).fetchone()
        return bool(found and found[0])

    return running


@pytest.mark.postgresql
def test_ctrl_c_in_a_cell_is_one_line_and_stops_the_statement_and_the_run(
    started: tuple[KernelManager, BlockingKernelClient],
) -> None:
    manager, client = started
    marker = f"k_interrupt_{uuid.uuid4().hex[:8]}"
    running = pg_running(marker)
    code = f"%%db postgresql\nSELECT pg_sleep(30) AS {marker}"
    traceback, queued = run_interrupted(manager, client, code, running)
    assert traceback == [
        "Interrupted: connection 'postgresql': interrupted (Ctrl-C); "
        "a statement still running was cancelled on the server"
    ]
    assert queued == "aborted"  # the cells after it do not run: the run stops there
    assert not running()
    # %xmode verbose shows the whole traceback, as for any exception.
    assert client.execute_interactive("%xmode verbose", timeout=30)["content"]["status"] == "ok"
    traceback, _ = run_interrupted(manager, client, code, running)
    shown = "\n".join(traceback)
    assert len(shown.splitlines()) > 20
    assert "magics.py" in shown
    assert "cancelled on the server" in traceback[-1]
    assert not running()


def test_ctrl_c_says_what_each_database_did(
    started: tuple[KernelManager, BlockingKernelClient], mysql_database: str
) -> None:
    manager, client = started
    marker = f"k_interrupt_{uuid.uuid4().hex[:8]}"

    def mysql_running() -> bool:
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root")
        try:
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM information_schema.processlist "
                    "WHERE info LIKE %s AND id <> connection_id()",
                    [f"%{marker}%"],
                )
                found = cursor.fetchone()
        finally:
            admin.close()
        return bool(found and found[0])

    code = f"%%db mysql\nSELECT SLEEP(30) AS {marker}"
    traceback, _ = run_interrupted(manager, client, code, mysql_running)
    assert traceback == [
        "Interrupted: connection 'mysql': interrupted (Ctrl-C); "
        "a statement still running was killed on the server (KILL QUERY)"
    ]
    assert not mysql_running()
    started_at = time.monotonic()
    code = (
        "%%db sqlite\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 10000000000) SELECT count(*) FROM c"
    )
    traceback, _ = run_interrupted(manager, client, code, lambda: time.monotonic() - started_at > 1)
    assert traceback == [
        "Interrupted: connection 'sqlite': interrupted (Ctrl-C); "
        "a statement still running was aborted by SQLite"
    ]
