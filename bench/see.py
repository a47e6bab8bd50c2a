"""Plots and profiles computed by the database against fetching the table into pandas.

    .venv/bin/python bench/see.py                  # 1M rows of the standard table
    .venv/bin/python bench/see.py --rows 100000 --repeat 3

Builds the standard table (bench/standard.py) in the PostgreSQL database
`dbnb_bench` (created if missing; $DBNB_BENCH_PG names the server) and in a
temporary SQLite file, then for each database times, median of --repeat runs:

- `db.plot("hist", TABLE, "score", bins=50)` against `db.query("SELECT * ...")`
  then `frame["score"].plot.hist(bins=50)` (pandas, numpy's bins);
- `db.profile(TABLE)` against `db.query("SELECT * ...")` then the same statistics
  in pandas (count, nulls, nunique, min, max, mean, mode; the jsonb dicts, which
  pandas cannot hash, counted only);

and the peak memory (max RSS, MB) of each, in a fresh process.
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

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read  # the database, config and peak-memory helpers of bench/read.py
import standard

TABLE = standard.TABLE
BINS = 50
WAYS = [
    "imports only",
    "db.plot hist",
    "fetch + pandas hist",
    "db.profile",
    "fetch + pandas profile",
]


def pandas_profile(frame: Any) -> list[tuple[Any, ...]]:
    found = []
    for name in frame.columns:
        series = frame[name]
        if (
            series.dtype == object
            and len(series.dropna())
            and isinstance(series.dropna().iloc[0], dict)
        ):
            found.append((name, series.count(), series.isna().sum()))
            continue
        numeric = (
            series.dtype.kind in "iuf"
            or "int" in str(series.dtype)
            or "double" in str(series.dtype)
        )
        found.append(
            (
                name,
                series.count(),
                series.isna().sum(),
                series.nunique(),
                series.min(),
                series.max(),
                series.mean() if numeric else None,
                series.mode().iloc[0],
            )
        )
    return found


def ways(db: Any) -> dict[str, Callable[[], Any]]:
    from matplotlib import pyplot

    def plot_in_db() -> None:
        db.plot("hist", TABLE, "score", bins=BINS)
        pyplot.close("all")

    def plot_in_pandas() -> None:
        frame = db.query(f"SELECT * FROM {TABLE}")
        frame["score"].astype(float).plot.hist(bins=BINS)
        pyplot.close("all")

    return {
        "imports only": lambda: None,
        "db.plot hist": plot_in_db,
        "fetch + pandas hist": plot_in_pandas,
        "db.profile": lambda: db.profile(TABLE),
        "fetch + pandas profile": lambda: pandas_profile(db.query(f"SELECT * FROM {TABLE}")),
    }


def connect(config: Path, backend: str) -> Any:
    import dbnb

    return dbnb.Registry(dbnb.load_config(config)).connect(
        "bench_pg" if backend == "pg" else "bench_sqlite"
    )


def child(args: argparse.Namespace) -> None:
    """One way, once, in this fresh process; prints its peak RSS in MB."""
    ways(connect(Path(args.config), args.backend))[args.child]()
    print(f"RSS={read.peak_rss_mb():.0f}")


def memory(config: Path) -> dict[tuple[str, str], str]:
    found = {}
    for backend in ("pg", "sqlite"):
        for way in WAYS:
            command = [sys.executable, __file__, "--child", way, "--backend", backend]
            done = subprocess.run(
                [*command, "--config", str(config)], capture_output=True, text=True
            )
            rss = [line[4:] for line in done.stdout.splitlines() if line.startswith("RSS=")]
            found[backend, way] = rss[-1] if done.returncode == 0 and rss else "failed"
    return found


def timed(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm-up: pools, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after a warm-up")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    read.ensure_database()
    folder = Path(tempfile.mkdtemp(prefix="dbnb-bench-see-"))
    sqlite_path = folder / "standard.db"
    config = read.write_config(folder, sqlite_path)
    print(f"=== {args.rows:,} rows: creating the standard table ===", file=sys.stderr)
    standard.create_postgresql(read.PG_URL, args.rows)
    standard.create_sqlite(sqlite_path, args.rows)
    print(
        f"dbnb see benchmark: {args.rows:,} rows, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; median of {args.repeat} runs"
    )
    seconds = {}
    for backend in ("pg", "sqlite"):
        for way, run in ways(connect(config, backend)).items():
            if way != "imports only":
                seconds[backend, way] = timed(run, args.repeat)
                print(f"  timed {backend} {way}", file=sys.stderr)
    rss = memory(config)
    print(f"  {'way':26} {'PostgreSQL s':>12} {'MB':>6} {'SQLite s':>9} {'MB':>6}")
    for way in WAYS:
        cells = []
        for backend in ("pg", "sqlite"):
            value = seconds.get((backend, way))
            cells.append("" if value is None else f"{value:.2f}")
            cells.append(rss[backend, way])
        print(f"  {way:26} {cells[0]:>12} {cells[1]:>6} {cells[2]:>9} {cells[3]:>6}")


if __name__ == "__main__":
    main()
