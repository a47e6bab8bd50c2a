"""Load test: 8 threads x 500 operations through one pool of 4 (+4 overflow) on PostgreSQL.

Mixed reads (`Database.query`) and small writes (`Database.session(write=True)`).
Prints the throughput and exits non-zero on any error or leaked connection.

    .venv/bin/python bench/load.py [--threads 8] [--operations 500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

import dbnb

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DATABASE = "dbnb_bench_load"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--operations", type=int, default=500)
    parser.add_argument("--write-share", type=float, default=0.2)
    args = parser.parse_args()

    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    config = Path(tempfile.mkdtemp()) / "infra.yaml"
    config.write_text(
        "databases:\n  load:\n    type: postgresql\n    host: 127.0.0.1\n    user: postgres\n"
        f"    database: {DATABASE}\n    pool_size: 4\n    max_overflow: 4\n    pool_timeout: 30\n"
    )
    registry = dbnb.Registry(dbnb.load_config(config))
    db = registry.connect("load")
    with db.session(write=True) as session:
        session.execute(text("CREATE TABLE load_items (id int PRIMARY KEY, hits int NOT NULL)"))
        session.execute(text("INSERT INTO load_items SELECT g, 0 FROM generate_series(1, 100) g"))

    errors: list[str] = []
    latencies: list[float] = []
    writes = 0
    lock = threading.Lock()

    def worker(seed: int) -> None:
        nonlocal writes
        rng = random.Random(seed)
        mine: list[float] = []
        wrote = 0
        for _ in range(args.operations):
            key = rng.randint(1, 100)
            started = time.perf_counter()
            try:
                if rng.random() < args.write_share:
                    with db.session(write=True) as session:
                        session.execute(
                            text("UPDATE load_items SET hits = hits + 1 WHERE id = :id"),
                            {"id": key},
                        )
                    wrote += 1
                else:
                    db.query("SELECT id, hits FROM load_items WHERE id = :id", {"id": key})
            except Exception as error:  # counted and reported, never hidden
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            writes += wrote

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    total_hits = int(db.query("SELECT sum(hits) AS n FROM load_items")["n"].iloc[0])
    leaked = db.engine.pool.checkedout()
    operations = args.threads * args.operations
    latencies.sort()
    print(f"{args.threads} threads x {args.operations} operations, pool 4 + overflow 4")
    print(f"  {operations} operations in {elapsed:.2f} s: {operations / elapsed:,.0f} ops/s")
    print(
        f"  latency median {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms"
    )
    print(f"  writes {writes}, rows updated {total_hits} (must match)")
    print(f"  errors {len(errors)}, leaked connections {leaked}")
    for error in errors[:5]:
        print(f"    {error}")
    registry.close()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    return 0 if not errors and leaked == 0 and total_hits == writes else 1


if __name__ == "__main__":
    sys.exit(main())
