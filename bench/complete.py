"""Completion latency on a schema of many tables, through IPython's own completer.

    .venv/bin/python bench/complete.py [--tables 1000] [--columns 10] [--runs 50]

Makes ``--tables`` tables of ``--columns`` columns in a SQLite file and in a
PostgreSQL schema ``dbnb_complete`` of the database ``dbnb_bench`` (created if
missing; $DBNB_BENCH_PG names the server), then, for each, in a fresh IPython
shell with ``%load_ext dbnb``:

- the first Tab after a ``FROM``, which starts the schema read in the background
  and waits for it at most 150 ms (then answers with what it has: nothing yet);
- how long the background read of the whole schema takes (until Tab lists tables);
- the median of ``--runs`` Tabs once the schema is cached: a table after FROM,
  and a column after ``alias.``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from IPython.core.completer import provisionalcompleter
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.testing.globalipapp import start_ipython

PG_SERVER = os.environ.get("DBNB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "dbnb_bench"
SCHEMA = "dbnb_complete"


def make_tables(connection: object, tables: int, columns: int, prefix: str) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    body = ", ".join(f"col_{j} INTEGER" for j in range(columns))
    for i in range(tables):
        cursor.execute(f"CREATE TABLE {prefix}t{i:04d} (id INTEGER PRIMARY KEY, {body})")


def sqlite_file(folder: Path, tables: int, columns: int) -> Path:
    import sqlite3

    path = folder / "many.db"
    with sqlite3.connect(path) as connection:
        make_tables(connection, tables, columns, "")
    return path


def postgresql(tables: int, columns: int) -> str:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE])
        if found.fetchone() is None:
            admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    url = f"{PG_SERVER}/{PG_DATABASE}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {SCHEMA}")
        with connection.transaction():
            make_tables(connection, tables, columns, f"{SCHEMA}.")
    return url


def tab(shell: TerminalInteractiveShell, text: str, cursor: int | None = None) -> list[str]:
    with provisionalcompleter():
        found = shell.Completer.completions(text, len(text) if cursor is None else cursor)
        return [completion.text for completion in found]


def measure(shell: TerminalInteractiveShell, name: str, prefix: str, runs: int) -> None:
    shell.run_line_magic("db", f"use {name}")
    tab(shell, "import os; os.pa")  # IPython's own Python completer (jedi) warmed up first
    table_line = f"%db SELECT * FROM {prefix}t09"
    started = time.perf_counter()
    first = tab(shell, table_line)
    first_ms = (time.perf_counter() - started) * 1000
    while not tab(shell, table_line):
        time.sleep(0.005)
    read_ms = (time.perf_counter() - started) * 1000
    column_line = f"%db SELECT x. FROM {prefix}t0999 x"
    cursor = column_line.index("x.") + 2
    for text, at in ((table_line, None), (column_line, cursor)):
        timings = []
        for _ in range(runs):
            begun = time.perf_counter()
            offered = tab(shell, text, at)
            timings.append((time.perf_counter() - begun) * 1000)
        kind = "table after FROM" if at is None else "column after alias."
        print(
            f"{name}: cached Tab, {kind}: median {statistics.median(timings):.1f} ms, "
            f"max {max(timings):.1f} ms ({len(offered)} offered)"
        )
    state = "the read was done within the wait" if first else "answered before the read was done"
    print(
        f"{name}: first Tab {first_ms:.0f} ms ({len(first)} offered: {state}); "
        f"whole schema read (connection included) in {read_ms:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = sqlite_file(Path(folder), args.tables, args.columns)
        url = postgresql(args.tables, args.columns)
        config = Path(folder) / "infra.yaml"
        config.write_text(
            f"databases:\n  many_sqlite:\n    type: sqlite\n    database: {path}\n"
            f"  many_postgresql:\n    url: {url}\n"
        )
        os.environ["DBNB_CONFIG"] = str(config)
        start_ipython()
        shell = TerminalInteractiveShell.instance()
        shell.run_line_magic("load_ext", "dbnb")
        print(f"{args.tables} tables of {args.columns + 1} columns each")
        measure(shell, "many_sqlite", "", args.runs)
        measure(shell, "many_postgresql", f"{SCHEMA}.", args.runs)
        shell.run_line_magic("unload_ext", "dbnb")


if __name__ == "__main__":
    main()
