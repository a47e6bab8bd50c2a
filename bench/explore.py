"""db.explore against fetching the result into pandas: time and the kernel's peak memory.

    .venv/bin/python bench/explore.py                     # 10M rows of the standard table
    .venv/bin/python bench/explore.py --rows 1000000 --repeat 3
    .venv/bin/python bench/explore.py --no-memory

Builds the standard table (bench/standard.py) in the PostgreSQL database `dbnb_bench`
($DBNB_BENCH_PG names the server), then times, median of --repeat runs after a warm-up:

- the first page (50 rows) of `db.explore(TABLE)` against `db.query("SELECT * ...")`
  then `.head(50)`;
- the first page sorted by `score` descending against the fetch then `sort_values`;
- the count of a filtered view (`qty > 500` and `name` contains `7`) against the fetch
  then the same filter in pandas;

and each one's peak memory (max RSS, MB) in a fresh process beside one that only
imports and connects (not with --no-memory). Each explore step builds its explorer
anew, so its time includes `explore()`'s own look at the columns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read  # the database, config and peak-memory helpers of bench/read.py
import standard

TABLE = standard.TABLE
PAGE = 50
STEPS = ["first page", "sorted page", "filtered count"]


def ways(db: Any) -> dict[str, Callable[[], Any]]:
    def fetched() -> Any:
        return db.query(f"SELECT * FROM {TABLE}")

    def filtered_in_pandas() -> int:
        frame = fetched()
        return int(((frame["qty"] > 500) & frame["name"].str.contains("7", regex=False)).sum())

    return {
        "imports + connect only": lambda: None,
        "explore: first page": lambda: db.explore(TABLE, page_size=PAGE).page(0),
        "fetch: first page": lambda: fetched().head(PAGE),
        "explore: sorted page": lambda: (
            db.explore(TABLE, page_size=PAGE).sort("score", descending=True).page(0)
        ),
        "fetch: sorted page": lambda: fetched().sort_values("score", ascending=False).head(PAGE),
        "explore: filtered count": lambda: (
            db.explore(TABLE).filter("qty", ">", 500).filter("name", "contains", "7").count()
        ),
        "fetch: filtered count": filtered_in_pandas,
    }


def connect(config: Path) -> Any:
    import dbnb

    return dbnb.Registry(dbnb.load_config(config)).connect("bench_pg")


def child(args: argparse.Namespace) -> None:
    """One way, once, in this fresh process; prints its peak RSS in MB."""
    ways(connect(Path(args.config)))[args.child]()
    print(f"RSS={read.peak_rss_mb():.0f}")


def memory(config: Path) -> dict[str, str]:
    found = {}
    for way in ways(None):
        command = [sys.executable, __file__, "--child", way, "--config", str(config)]
        done = subprocess.run(command, capture_output=True, text=True)
        rss = [line[4:] for line in done.stdout.splitlines() if line.startswith("RSS=")]
        found[way] = rss[-1] if done.returncode == 0 and rss else "failed"
    return found


def timed(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm-up: pools, caches, the server's buffers
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after a warm-up")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    read.ensure_database()
    folder = Path(tempfile.mkdtemp(prefix="dbnb-bench-explore-"))
    config = read.write_config(folder, folder / "unused.db")
    print(f"=== {args.rows:,} rows: creating the standard table ===", file=sys.stderr)
    standard.create_postgresql(read.PG_URL, args.rows)
    print(
        f"dbnb explore benchmark: {args.rows:,} rows of the standard table on PostgreSQL, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; median of "
        f"{args.repeat} runs"
    )
    db = connect(config)
    seconds = {}
    for way, run in ways(db).items():
        if way != "imports + connect only":
            seconds[way] = timed(run, args.repeat)
            print(f"  timed {way}: {seconds[way]:.2f} s", file=sys.stderr)
    rss = {} if args.no_memory else memory(config)
    print(f"  {'way':28} {'s':>8} {'peak MB':>8}")
    for way in ways(None):
        value = seconds.get(way)
        print(f"  {way:28} {'' if value is None else f'{value:.3f}':>8} {rss.get(way, ''):>8}")
    for step in STEPS:
        ratio = seconds[f"fetch: {step}"] / seconds[f"explore: {step}"]
        print(f"  {step}: explore is {ratio:,.0f}x faster than fetching into pandas")


if __name__ == "__main__":
    main()
