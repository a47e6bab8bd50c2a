"""Read benchmark: the standard table into pandas, dbnb beside its peers, in one run.

    .venv/bin/python bench/read.py [--rows 100000 1000000] [--repeat 5] [--slow-repeat 3]
                                   [--sections speed memory latency realistic sqlite-typed]
                                   [--databases postgresql sqlite mariadb]
                                   [--realistic-rows 300000] [--typed-rows 2000000]

For each size it (re)creates the standard table (bench/standard.py) in the
PostgreSQL database `dbnb_bench` (created if missing; $DBNB_BENCH_PG names the
server, default postgresql://postgres@127.0.0.1:5432) and in a SQLite file in
a temporary folder, then prints for each reader the median of --repeat runs
after one warm-up, and its ratio to the floor:

- PostgreSQL's floor is `psql -c "\\copy (SELECT * FROM t) TO '/dev/null' (FORMAT
  binary)"`, timed as a subprocess (the server's own binary COPY, read and thrown
  away by libpq, plus psql's start-up of a few milliseconds);
- SQLite has no COPY: its ratios are to the fastest of its peers
  (pandas.read_sql over sqlite3, ADBC, connectorx).
- MariaDB (database `dbnb_bench`; $DBNB_BENCH_MYSQL names the server, default
  mysql://root@127.0.0.1:3306) neither: its ratios are to the fastest of its peers
  (connectorx to pandas or to Arrow, pandas.read_sql over PyMySQL); the `mysql`
  client's text protocol
  into /dev/null (`--quick`, no formatting) is shown beside them as the server's
  own pace.

The slow peers (pandas.read_sql and jupysql at 1M rows or more) run --slow-repeat
times without a warm-up, to keep the whole run to a few minutes.

Then: peak memory (max RSS) of each reader at the largest size, each in a fresh
process (beside a process that only imports everything), and the per-call
latency of a one-row query (dbnb vs a pooled psycopg connection + DataFrame).

The realistic section reads the table of bench/realistic.py (an enum, text[] and
int[], inet, interval, uuid, jsonb, numeric(12,2), timestamptz, tstzrange; MariaDB's own types
for it) with dbnb beside raw ADBC + `to_pandas()` (PostgreSQL: the peer its
target, 1.3x, is set against) and connectorx, and prints each one's ratio to it.

The sqlite-typed section reads the table of bench/sqlite_typed.py (DATETIME,
DECIMAL(12,2), BOOLEAN beside INTEGER, TEXT and REAL; then again with a JSON column)
with dbnb beside raw ADBC + the same conversions (the peer of its 1.2x target),
raw ADBC + `to_pandas()`, and the untyped reads of jupysql and pandas.read_sql
(dbnb's target: no slower than jupysql).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realistic
import sqlite_typed
import standard

PG_SERVER = os.environ.get("DBNB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "dbnb_bench"
PG_URL = f"{PG_SERVER}/{PG_DATABASE}"
MYSQL_SERVER = os.environ.get("DBNB_BENCH_MYSQL", "mysql://root@127.0.0.1:3306")
MYSQL_URL = f"{MYSQL_SERVER}/{PG_DATABASE}"
SQL = f"SELECT * FROM {standard.TABLE}"
ONE_ROW = f"SELECT * FROM {standard.TABLE} WHERE id = :id"
SLOW = {"pandas.read_sql", "jupysql %sql"}

Reader = Callable[[], Any]


# --- readers ----------------------------------------------------------------------------


def adbc_reader(connection: Any) -> Reader:
    """Raw ADBC + ``to_pandas()`` on one connection, each read in a transaction of its own."""

    def read() -> pd.DataFrame:
        with connection.cursor() as cursor:
            cursor.execute(SQL)
            frame = cursor.fetch_arrow_table().to_pandas()
        connection.rollback()
        return frame

    return read


def pg_readers(config: Path) -> dict[str, Reader | str]:
    import adbc_driver_postgresql.dbapi as adbc
    import connectorx as cx
    import sqlalchemy

    import dbnb

    db = dbnb.Registry(config).connect("bench_pg")
    engine = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    raw_adbc = adbc_reader(adbc.connect(PG_URL))

    def floor() -> None:
        subprocess.run(
            ["psql", PG_URL, "-c", f"\\copy ({SQL}) TO '/dev/null' (FORMAT binary)"],
            check=True,
            capture_output=True,
        )

    return {
        "COPY floor (psql \\copy binary)": floor,
        "dbnb Database.query": lambda: db.query(SQL),
        "dbnb %%db": magic_reader(config, "bench_pg"),
        "raw ADBC + to_pandas()": raw_adbc,
        "connectorx": lambda: cx.read_sql(PG_URL, SQL),
        "pandas.read_sql": lambda: pd.read_sql(SQL, engine),
        "jupysql %sql": jupysql_reader(PG_URL.replace("postgresql://", "postgresql+psycopg://")),
    }


def sqlite_readers(config: Path, path: Path) -> dict[str, Reader | str]:
    import sqlite3

    import adbc_driver_sqlite.dbapi as adbc
    import connectorx as cx

    import dbnb

    db = dbnb.Registry(config).connect("bench_sqlite")
    raw_adbc = adbc_reader(adbc.connect(str(path)))

    def read_sql() -> pd.DataFrame:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            return pd.read_sql(SQL, connection)

    return {
        "dbnb Database.query": lambda: db.query(SQL),
        "dbnb %%db": magic_reader(config, "bench_sqlite"),
        "raw ADBC + to_pandas()": raw_adbc,
        "connectorx": lambda: cx.read_sql(f"sqlite://{path}", SQL),
        "pandas.read_sql": read_sql,
        "jupysql %sql": jupysql_reader(f"sqlite:///{path}"),
    }


def mysql_readers(config: Path) -> dict[str, Reader | str]:
    import connectorx as cx
    import sqlalchemy

    import dbnb

    db = dbnb.Registry(config).connect("bench_mysql")
    pymysql_url = MYSQL_URL.replace("mysql://", "mysql+pymysql://")
    engine = sqlalchemy.create_engine(pymysql_url)
    url = sqlalchemy.make_url(MYSQL_URL)

    def client() -> None:
        command = ["mysql", "--quick", "--batch", "--skip-column-names"]
        command += [f"--host={url.host}", f"--port={url.port or 3306}"]
        command += [f"--user={url.username}", f"--password={url.password or ''}"]
        with open(os.devnull, "wb") as sink:
            subprocess.run([*command, url.database or "", "-e", SQL], check=True, stdout=sink)

    return {
        "mysql client to /dev/null": client,
        "dbnb Database.query": lambda: db.query(SQL),
        "dbnb %%db": magic_reader(config, "bench_mysql"),
        "connectorx": lambda: cx.read_sql(f"{MYSQL_URL}?prefer_socket=false", SQL),
        "connectorx to Arrow": lambda: cx.read_sql(
            f"{MYSQL_URL}?prefer_socket=false", SQL, return_type="arrow"
        ),
        "pandas.read_sql": lambda: pd.read_sql(SQL, engine),
        "jupysql %sql": jupysql_reader(pymysql_url),
    }


def mysql_connect(database: str | None = "") -> Any:
    """A PyMySQL connection to the bench server: to its database unless told otherwise."""
    import pymysql
    import sqlalchemy

    url = sqlalchemy.make_url(MYSQL_URL)
    return pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database if database == "" else database,
    )


def ensure_mysql_database() -> None:
    with contextlib.closing(mysql_connect(None)) as server, server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{PG_DATABASE}`")


def create_mysql_table(rows: int) -> None:
    ensure_mysql_database()
    standard.create_mysql(mysql_connect, rows)


def on_mysql(run: Callable[[Any], None]) -> None:
    """``run(cursor)`` on a PyMySQL connection to the bench database, committed."""
    connection = mysql_connect()
    try:
        with connection.cursor() as cursor:
            run(cursor)
        connection.commit()
    finally:
        connection.close()


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def magic_reader(config: Path, name: str) -> Reader | str:
    """`%%db NAME -o out` through a real IPython shell, once dbnb's magics exist."""
    import importlib.util

    if importlib.util.find_spec("dbnb.notebook.magics") is None:
        return "n/a: dbnb.notebook.magics is not on this branch yet (the magics are issue 3)"
    os.environ["DBNB_CONFIG"] = str(config)
    shell = _shell()
    shell.run_line_magic("load_ext", "dbnb")

    def run() -> Any:
        shell.run_cell_magic("db", f"{name} -o bench_out", SQL)
        return shell.user_ns["bench_out"]

    return run


def jupysql_reader(url: str, sql: str = SQL) -> Reader | str:
    """jupysql's `%sql` with autopandas, through a real IPython shell."""
    try:
        shell = _shell()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            shell.run_line_magic("load_ext", "sql")
            shell.run_line_magic("config", "SqlMagic.autopandas = True")
            shell.run_line_magic("config", "SqlMagic.displaycon = False")
            shell.run_line_magic("config", "SqlMagic.feedback = 0")
            shell.run_line_magic("sql", url)
            probe = shell.run_line_magic("sql", f"{sql} LIMIT 1")
        if not isinstance(probe, pd.DataFrame):
            return f"n/a: jupysql returned {type(probe).__name__}, not a DataFrame"
    except Exception as error:  # a peer that cannot run here is reported, not fatal
        return f"n/a: jupysql cannot run here ({type(error).__name__}: {error})"

    def run() -> Any:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return shell.run_line_magic("sql", sql)

    return run


# --- measuring --------------------------------------------------------------------------


def timed(reader: Reader, runs: int, warm_up: bool) -> float:
    if warm_up:
        reader()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        reader()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(
    readers: dict[str, Reader | str], rows: int, args: argparse.Namespace
) -> dict[str, float | str]:
    results: dict[str, float | str] = {}
    for name, reader in readers.items():
        if isinstance(reader, str):
            results[name] = reader
            continue
        slow = name in SLOW and rows >= 1_000_000
        try:
            results[name] = timed(reader, args.slow_repeat if slow else args.repeat, not slow)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # connectorx's Rust panics are BaseExceptions
            results[name] = f"n/a: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        print(f"  measured {name}", file=sys.stderr)
    return results


def best_of(results: dict[str, float | str], peers: tuple[str, ...]) -> float:
    return min(v for k, v in results.items() if k in peers and isinstance(v, float))


def print_table(title: str, results: dict[str, float | str], base: float, base_name: str) -> None:
    print(f"\n{title}")
    print(f"  {'reader':34} {'seconds':>9} {'x ' + base_name:>14}")
    for name, value in results.items():
        if isinstance(value, str):
            print(f"  {name:34} {value}")
        else:
            print(f"  {name:34} {value:9.3f} {value / base:13.2f}x")


def memory(config: Path, sqlite_path: Path, rows: int) -> None:
    print(f"\nPeak memory (max RSS, MB) of one read of {rows:,} rows, each in a fresh process")
    print(f"  {'reader':42} {'PostgreSQL':>11} {'SQLite':>9}")
    names = [
        "imports only (baseline)",
        "dbnb Database.query",
        "dbnb query(chunksize=100_000)",
        "dbnb query_to_parquet",
        "raw ADBC + to_pandas()",
        "connectorx",
        "pandas.read_sql",
        "jupysql %sql",
    ]
    for name in names:
        cells = []
        for backend in ("pg", "sqlite"):
            command = [sys.executable, __file__, "--child", name, "--backend", backend]
            command += ["--config", str(config), "--sqlite", str(sqlite_path)]
            done = subprocess.run(command, capture_output=True, text=True)
            found = [line[4:] for line in done.stdout.splitlines() if line.startswith("RSS=")]
            cells.append(found[-1] if done.returncode == 0 and found else "failed")
        print(f"  {name:42} {cells[0]:>11} {cells[1]:>9}")


def child(args: argparse.Namespace) -> None:
    """One read in this fresh process; prints its max RSS in MB."""
    config, path = Path(args.config), Path(args.sqlite)
    readers = pg_readers(config) if args.backend == "pg" else sqlite_readers(config, path)
    import dbnb

    db = dbnb.Registry(config).connect("bench_pg" if args.backend == "pg" else "bench_sqlite")
    extra: dict[str, Reader] = {
        "imports only (baseline)": lambda: None,
        "dbnb query(chunksize=100_000)": lambda: sum(
            len(chunk) for chunk in db.query(SQL, chunksize=100_000)
        ),
        "dbnb query_to_parquet": lambda: db.query_to_parquet(
            SQL, Path(tempfile.mkdtemp()) / "out.parquet"
        ),
    }
    reader = extra.get(args.child) or readers.get(args.child)
    if reader is None or isinstance(reader, str):
        print("RSS=n/a")
        return
    result = reader()
    del result
    print(f"RSS={peak_rss_mb():.0f}")


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the process's own memory map;
    getrusage's ru_maxrss would also carry the high-water mark of the (large)
    parent this process was forked from across the exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(config: Path, calls: int) -> None:
    import psycopg

    import dbnb

    registry = dbnb.Registry(config)
    db = registry.connect("bench_pg")
    # Without the pre-ping, a statement described before is not described again.
    noping = registry.connect("bench_pg_noping")
    connection = psycopg.connect(PG_URL)  # one pooled connection, kept open

    def raw() -> pd.DataFrame:
        with connection.cursor() as cursor:
            cursor.execute(ONE_ROW.replace(":id", "%(id)s"), {"id": 42})
            rows = cursor.fetchall()
            names = [column.name for column in cursor.description or []]
        connection.rollback()
        return pd.DataFrame(rows, columns=names)

    def ours() -> pd.DataFrame:
        return db.query(ONE_ROW, {"id": 42})

    def ours_noping() -> pd.DataFrame:
        return noping.query(ONE_ROW, {"id": 42})

    assert len(raw()) == len(ours()) == len(ours_noping()) == 1
    results = {}
    readers = (
        ("dbnb Database.query", ours),
        ("dbnb, pool_pre_ping: false", ours_noping),
        ("psycopg (pooled) + DataFrame", raw),
    )
    for name, reader in readers:
        for _ in range(20):
            reader()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            reader()
            times.append(time.perf_counter() - start)
        results[name] = statistics.median(times) * 1000
    base = results["psycopg (pooled) + DataFrame"]
    print(f"\nOne-row query latency, PostgreSQL (median of {calls} calls, 10 columns)")
    for name, value in results.items():
        print(f"  {name:34} {value:7.3f} ms {value / base:6.2f}x")


def realistic_tables(config: Path, args: argparse.Namespace) -> None:
    """The realistic table (bench/realistic.py) on PostgreSQL and MariaDB."""
    import dbnb

    rows = args.realistic_rows
    registry = dbnb.Registry(config)
    if "postgresql" in args.databases:
        realistic.create_postgresql(PG_URL, rows)
        pg = measure(realistic.pg_readers(registry.connect("bench_pg"), PG_URL), rows, args)
        base = pg["raw ADBC + to_pandas()"]
        assert isinstance(base, float)
        print_table(f"PostgreSQL realistic, {rows:,} rows", pg, base, "raw ADBC")
    if "mariadb" in args.databases:
        ensure_mysql_database()
        realistic.create_mysql(mysql_connect, rows)
        readers = realistic.mysql_readers(registry.connect("bench_mysql"), MYSQL_URL)
        maria = measure(readers, rows, args)
        best = best_of(maria, ("connectorx", "connectorx to Arrow"))
        print_table(f"MariaDB realistic, {rows:,} rows", maria, best, "best peer")


def sqlite_typed_tables(folder: Path, args: argparse.Namespace) -> None:
    """The typed SQLite table (bench/sqlite_typed.py), without and with a JSON column."""
    for with_json in (False, True):
        path = folder / f"typed{'_json' if with_json else ''}.db"
        sqlite_typed.run(path, args.typed_rows, with_json, args, jupysql_reader)


# --- setup ------------------------------------------------------------------------------


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,))
        if found.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')


def write_config(folder: Path, sqlite_path: Path) -> Path:
    config = folder / "infra.yaml"
    config.write_text(
        "databases:\n"
        f"  bench_pg:\n    url: {PG_URL}\n"
        f"  bench_pg_noping:\n    url: {PG_URL}\n    pool_pre_ping: false\n"
        f"  bench_sqlite:\n    type: sqlite\n    database: {sqlite_path}\n"
        f"  bench_mysql:\n    url: {MYSQL_URL}\n"
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after a warm-up")
    parser.add_argument("--slow-repeat", type=int, default=3, help="runs of the slow peers")
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=["speed", "memory", "latency", "realistic", "sqlite-typed"],
        default=["speed", "memory", "latency", "realistic", "sqlite-typed"],
    )
    parser.add_argument("--realistic-rows", type=int, default=300_000)
    parser.add_argument("--typed-rows", type=int, default=2_000_000)
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["postgresql", "sqlite", "mariadb"],
        default=["postgresql", "sqlite", "mariadb"],
        help="where the speed section reads from",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    ensure_database()
    folder = Path(tempfile.mkdtemp(prefix="dbnb-bench-"))
    sqlite_path = folder / "standard.db"
    config = write_config(folder, sqlite_path)
    print(f"dbnb read benchmark, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    standard_sizes = args.rows if "speed" in args.sections else args.rows[-1:]
    if not {"speed", "memory"} & set(args.sections):
        standard_sizes = []  # the realistic section makes its own table
    for rows in standard_sizes:
        print(f"\n=== {rows:,} rows: creating the standard table ===", file=sys.stderr)
        standard.create_postgresql(PG_URL, rows)
        standard.create_sqlite(sqlite_path, rows)
        if "speed" not in args.sections:
            break
        if "postgresql" in args.databases:
            pg = measure(pg_readers(config), rows, args)
            floor = pg["COPY floor (psql \\copy binary)"]
            assert isinstance(floor, float)
            print_table(f"PostgreSQL, {rows:,} rows, {SQL}", pg, floor, "floor")
        if "sqlite" in args.databases:
            lite = measure(sqlite_readers(config, sqlite_path), rows, args)
            peers = ("pandas.read_sql", "raw ADBC + to_pandas()", "connectorx")
            print_table(f"SQLite, {rows:,} rows", lite, best_of(lite, peers), "best peer")
        if "mariadb" in args.databases:
            ensure_mysql_database()
            standard.create_mysql(mysql_connect, rows)
            maria = measure(mysql_readers(config), rows, args)
            peers = ("pandas.read_sql", "connectorx", "connectorx to Arrow")
            print_table(f"MariaDB, {rows:,} rows", maria, best_of(maria, peers), "best peer")
    if "realistic" in args.sections:
        realistic_tables(config, args)
    if "sqlite-typed" in args.sections:
        sqlite_typed_tables(folder, args)
    if "memory" in args.sections:
        memory(config, sqlite_path, args.rows[-1])
    if "latency" in args.sections:
        latency(config, args.latency_calls)
    print("\n" + json.dumps({"note": "medians; the machine may be shared with other work"}))


if __name__ == "__main__":
    main()
