"""Ctrl-C still stops a statement at once in a process that imported polars.

polars' SIGINT handler asks the kernel to resume a blocked system call after the
signal (pola-rs/polars#21739), and ADBC's DB-API module imports polars when it is
installed: without ``dbnb.engine.interrupts.wake_on_ctrl_c``, a driver waiting in
``recv()`` or a wait for a worker thread would go on until the statement ended.
Each case runs in a fresh process, as a script or a terminal would, with polars
imported first (and once with SIGINT set aside in C, as a native library can).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dbnb.devtools import testing
from tests.fixtures import MYSQL_ADMIN, PG_ADMIN

pytestmark = pytest.mark.slow  # the tier (tests/conftest.py): a fresh interpreter per test

SCRIPT = textwrap.dedent(
    """
    import ctypes, signal, sys, threading, time
    import polars  # its SIGINT handler, first
    import dbnb

    url, sql, path, native = sys.argv[1:]
    if native == "ignore":  # a library that set SIGINT aside in C, unseen by Python
        ctypes.CDLL(None).signal(signal.SIGINT, ctypes.c_void_p(1))  # SIG_IGN
    # max_rows keeps a read on the guarded path (it streams, to stop at the cap).
    options = {"max_rows": 1000} if path == "guarded" else {}
    db = dbnb.connect(url)
    db.query("SELECT 1 AS warm", **options)
    main = threading.main_thread().ident
    threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
    started = time.monotonic()
    try:
        db.query(sql, **options)
    except KeyboardInterrupt:
        print(f"stopped after {time.monotonic() - started:.1f} s")
    else:
        print("not interrupted")
    db.close()
    """
)

SQLITE_SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000000000) SELECT count(*) AS slept FROM n"
)


def run(url: str, sql: str, path: str, native: str = "polars") -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, sql, path, native],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("stopped after "), done.stdout + done.stderr
    return float(line.split()[2])


PATHS = pytest.mark.parametrize("path", ["columnar", "guarded"])


@PATHS
def test_sqlite(tmp_path, path: str) -> None:
    assert run(f"sqlite:///{tmp_path / 'slow.db'}", SQLITE_SLOW, path) < 5


@PATHS
def test_mariadb(mysql_database: str, path: str) -> None:
    url = testing.database_url(MYSQL_ADMIN, mysql_database)
    assert run(url, "SELECT SLEEP(20) AS slept", path) < 5


@PATHS
def test_postgresql(pg_database: str, path: str) -> None:
    url = testing.database_url(PG_ADMIN, pg_database)
    assert run(url, "SELECT pg_sleep(20) IS NULL AS slept", path) < 5


def test_a_native_handler_that_ignores_sigint(tmp_path) -> None:
    """Python's handler comes back whatever replaced it below Python's sight."""
    assert run(f"sqlite:///{tmp_path / 'slow.db'}", SQLITE_SLOW, "columnar", "ignore") < 5
