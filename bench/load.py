"""Load test: 16 threads of mixed work through one name's budget on PostgreSQL, for a time.

Columnar reads (`Database.query`), chunked reads (`chunksize=`), guarded sessions
(`Database.session`) and writes (`Database.write`), in equal shares, for
`--seconds`, on `pool_size 4, max_overflow 2`, logged in as a throwaway role whose
`CONNECTION LIMIT` is the budget (6). Prints operations per second, p50/p99
latency, the most server connections the role held (pg_stat_activity, sampled),
errors by kind and the process's RSS at start and end; exits non-zero on any error
other than PoolTimeoutError, a count left over, or more connections than the budget.

    .venv/bin/python bench/load.py [--threads 16] [--seconds 60]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import psycopg
from sqlalchemy import text

import dbnb

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
KINDS = ("query", "chunks", "session", "write")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--max-overflow", type=int, default=2)
    args = parser.parse_args()
    limit = args.pool_size + args.max_overflow

    suffix = uuid.uuid4().hex[:12]
    database, role = f"dbnb_bench_load_{suffix}", f"dbnb_budget_{suffix}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT {limit}")
    own = ADMIN.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(own, autocommit=True) as admin:
        admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        admin.execute("CREATE TABLE load_items (n int, label text)")
        admin.execute(f"ALTER TABLE load_items OWNER TO {role}")
    config = Path(tempfile.mkdtemp()) / "infra.yaml"
    config.write_text(
        "databases:\n  load:\n    type: postgresql\n    host: 127.0.0.1\n"
        f"    user: {role}\n    database: {database}\n    pool_size: {args.pool_size}\n"
        f"    max_overflow: {args.max_overflow}\n    pool_timeout: 30\n"
    )
    registry = dbnb.Registry(dbnb.load_config(config))
    db = registry.connect("load")

    errors: Counter[str] = Counter()
    done: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    most = 0
    finished = threading.Event()

    def watch() -> None:
        nonlocal most
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            while not finished.is_set():
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [role]
                ).fetchone()
                most = max(most, int(row[0]) if row else 0)
                time.sleep(0.01)

    def worker(number: int, stop: float) -> None:
        kind = KINDS[number % len(KINDS)]
        mine: list[float] = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                if kind == "query":
                    db.query("SELECT g, g * 2 AS d FROM generate_series(1, 500) g")
                elif kind == "chunks":
                    rows = db.query("SELECT g FROM generate_series(1, 300) g", chunksize=100)
                    sum(len(chunk) for chunk in rows)
                elif kind == "session":
                    with db.session() as session:
                        session.execute(text("SELECT count(*) FROM load_items"))
                else:
                    db.write(pd.DataFrame({"n": range(20), "label": "w"}), "load_items")
            except Exception as error:  # counted by kind, never hidden
                with lock:
                    errors[type(error).__name__] += 1
                continue
            mine.append(time.perf_counter() - started)
            with lock:
                done[kind] += 1
        with lock:
            latencies.extend(mine)

    rss_start = rss_mb()
    watcher = threading.Thread(target=watch)
    watcher.start()
    stop = time.monotonic() + args.seconds
    threads = [threading.Thread(target=worker, args=(i, stop)) for i in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    finished.set()
    watcher.join()
    rss_end = rss_mb()

    pool = db.engine.pool
    leftover = (pool.checkedout(), db._arrow.checkedout(), db.budget._pending)
    operations = sum(done.values())
    latencies.sort()
    print(
        f"{args.threads} threads, {args.seconds:g} s, pool_size {args.pool_size} + "
        f"max_overflow {args.max_overflow} (role CONNECTION LIMIT {limit})"
    )
    print(f"  {operations} operations in {elapsed:.1f} s: {operations / elapsed:,.0f} ops/s")
    print(f"  by kind: {dict(done)}")
    print(
        f"  latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
    )
    print(f"  server connections at most: {most}; slots switched kind: {db.budget.switched}")
    print(f"  errors by kind: {dict(errors) or 'none'}")
    print(f"  checked out after (guarded, columnar, pending): {leftover}")
    print(f"  RSS {rss_start:.0f} MB at start, {rss_end:.0f} MB at end")
    registry.close()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {role}")
    bad = {kind: count for kind, count in errors.items() if kind != "PoolTimeoutError"}
    return 0 if not bad and leftover == (0, 0, 0) and most <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
