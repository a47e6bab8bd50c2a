"""MariaDB: writing the standard table, dbnb against the usual ways (reads: bench/read.py).

    .venv/bin/python bench/mysql.py                         # 100,000 rows written
    .venv/bin/python bench/mysql.py --write-rows 20000 --runs 1

Writes: the same DataFrame (`bench.standard.frame`) into a fresh `bench_standard`
table: dbnb's `db.write` (validated, one transaction; append, and an upsert over
rows that are all there), against `DataFrame.to_sql` (pandas' default, one
`executemany`, which PyMySQL sends as multi-row INSERTs) and `to_sql(method="multi")`.
Each timing is the median of `--runs` runs after a warm-up, in a throwaway
database on MariaDB at 127.0.0.1:3306 (`$DBNB_BENCH_MYSQL`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, Text
from sqlalchemy import create_engine as sqlalchemy_engine
from sqlalchemy.types import JSON
from sqlmodel import Field, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dbnb
from bench import standard
from dbnb import testing

ADMIN = os.environ.get("DBNB_BENCH_MYSQL", "mysql://root@127.0.0.1:3306/")


class BenchRow(SQLModel, table=True):
    """The standard table as a model, the way a dbnb user would declare it."""

    __tablename__ = standard.TABLE
    id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: dt.datetime = Field(sa_type=DateTime(timezone=True))
    day: dt.date = Field(sa_type=Date)
    name: str = Field(sa_type=Text)
    qty: int = Field(sa_type=Integer)
    price: Decimal = Field(sa_type=Numeric(12, 2))
    score: float = Field(sa_type=Float)
    flag: bool = Field(sa_type=Boolean)
    payload: dict = Field(sa_type=JSON)  # type: ignore[type-arg]
    maybe_int: int | None = Field(default=None, sa_type=Integer)


def timed(label: str, runs: int, setup: Callable[[], None], work: Callable[[], object]) -> float:
    times = []
    for attempt in range(runs + 1):
        setup()
        started = time.perf_counter()
        work()
        if attempt:  # the first is the warm-up
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"  {label:<44} {median:7.3f} s   (runs: {', '.join(f'{t:.3f}' for t in times)})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with testing.throwaway_mysql_database(ADMIN, prefix="dbnb_bench") as name:
        url = testing.database_url(ADMIN, name)
        db = dbnb.connect(url)
        try:
            writes(db, args)
        finally:
            db.close()


def recreate(db: dbnb.Database, frame: pd.DataFrame | None = None) -> None:
    with db.session(write=True) as session:
        BenchRow.metadata.drop_all(session.connection())
    db.create_tables(BenchRow)
    if frame is not None:
        db.write(frame, BenchRow)


def writes(db: dbnb.Database, args: argparse.Namespace) -> None:
    frame = standard.frame(args.write_rows)
    plain = frame.assign(
        name=frame["name"].astype(object),
        payload=frame["payload"].map(json.dumps),
        ts=frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None),
    )
    engine = sqlalchemy_engine(db.config.url)
    print(f"Writing {len(frame):,} rows to MariaDB, median of {args.runs} runs after a warm-up")
    results = {
        "dbnb write (append)": timed(
            "dbnb write (append)",
            args.runs,
            lambda: recreate(db),
            lambda: db.write(frame, BenchRow),
        ),
        "dbnb write (upsert, every row there)": timed(
            "dbnb write (upsert, every row there)",
            args.runs,
            lambda: recreate(db, frame),
            lambda: db.write(frame, BenchRow, mode="upsert"),
        ),
        "pandas to_sql": timed(
            "pandas to_sql",
            args.runs,
            lambda: recreate(db),
            lambda: plain.to_sql(standard.TABLE, engine, if_exists="append", index=False),
        ),
        'pandas to_sql(method="multi")': timed(
            'pandas to_sql(method="multi", chunksize=1000)',
            args.runs,
            lambda: recreate(db),
            lambda: plain.to_sql(
                standard.TABLE,
                engine,
                if_exists="append",
                index=False,
                method="multi",
                chunksize=1000,
            ),
        ),
    }
    engine.dispose()
    append = results["dbnb write (append)"]
    print(
        "  ratios (time / dbnb append): "
        + ", ".join(f"{label} {seconds / append:.2f}x" for label, seconds in results.items())
    )


if __name__ == "__main__":
    main()
