"""Read a 1M-row, 10-column Spark table into pandas: dbnb against Spark's own ways.

    .venv/bin/python bench/spark.py [--rows 1000000] [--repeat 5] [--master local[2]]

Starts a local Spark Connect server from the installed pyspark (as the tests do),
creates the table (bigint, timestamp, date, string, int, decimal(12,2), double,
boolean, a JSON string, a nullable int) and prints, for each reader, the median of
``--repeat`` runs after a warm-up (the readers taking turns) and its ratio to the
fastest, measured in the same run: dbnb ``db.query``, ``spark.sql(...).toArrow().to_pandas()`` and
``spark.sql(...).toPandas()``. Also how long the server took to answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dbnb  # noqa: E402
from tests.spark_fixtures import MASTER, local_server  # noqa: E402

TABLE = "bench_standard"
SQL = f"SELECT * FROM {TABLE}"


def create(spark: Any, rows: int) -> None:
    spark.sql(f"DROP TABLE IF EXISTS {TABLE}")
    spark.sql(
        f"""
        CREATE TABLE {TABLE} USING parquet AS
        SELECT id,
               TIMESTAMP'2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, 0, id) AS created,
               DATE'2024-01-01' + CAST(id % 365 AS INT) AS day,
               concat('name-', id) AS name,
               CAST(id % 1000 AS INT) AS quantity,
               CAST(id % 100000 / 100.0 AS DECIMAL(12, 2)) AS price,
               id / 3.0D AS ratio,
               id % 2 = 0 AS flag,
               to_json(named_struct('k', id % 10, 'v', concat('x', id % 7))) AS doc,
               CASE WHEN id % 5 = 0 THEN NULL ELSE CAST(id % 97 AS INT) END AS maybe
        FROM range({rows})
        """
    )


def timed(readers: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, int]]:
    """The median seconds of each reader (and its rows), after one warm-up each; the
    readers take turns, round by round, so a busy moment of the machine falls on all."""
    rows = {name: len(reader()) for name, reader in readers.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in readers}
    for round_ in range(runs):
        names = list(readers)
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            readers[name]()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), rows[name]) for name in readers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--master", default=MASTER)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        with local_server(Path(work), args.master) as url:
            db = dbnb.connect(url)
            db.query("SELECT 1")
            print(
                f"master {args.master}: server answered after {time.perf_counter() - started:.1f} s"
            )
            spark = db.spark  # the same session: same server, same warm caches
            started = time.perf_counter()
            create(spark, args.rows)
            print(f"created {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
            readers = {
                "dbnb db.query": lambda: db.query(SQL),
                "spark.sql().toArrow().to_pandas()": lambda: spark.sql(SQL).toArrow().to_pandas(),
                "spark.sql().toPandas()": lambda: spark.sql(SQL).toPandas(),
            }
            results = timed(readers, args.repeat)
            best = min(seconds for seconds, _ in results.values())
            print(f"\n{'reader':<36} {'median':>8} {'x best':>7}")
            for name, (seconds, rows) in results.items():
                print(f"{name:<36} {seconds:>7.2f}s {seconds / best:>6.2f}x  ({rows:,} rows)")
            spark.sql(f"DROP TABLE IF EXISTS {TABLE}")
            dbnb.close_all()


if __name__ == "__main__":
    main()
