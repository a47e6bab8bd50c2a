"""Writing 100,000 rows of the standard table to PostgreSQL and MariaDB: dbnb against the
usual ways.

    .venv/bin/python bench/write.py              # 100,000 rows, median of 5 runs after a warm-up
    .venv/bin/python bench/write.py --rows 20000 --runs 3 --databases mariadb

Every method writes the same DataFrame (`bench.standard.frame`) into a freshly
created `bench_standard` table, in a throwaway database dropped at the end.
Each timing starts from the DataFrame and ends after the commit, so it includes
whatever the method needs to turn the frame into rows (for dbnb: validation of
every row). The upsert writes the same rows again over a table that already
holds them (every row conflicts and is updated). SQLModel's `add_all` is timed
once: it takes tens of seconds.

MariaDB ($DBNB_BENCH_MYSQL, default mysql://root@127.0.0.1:3306/): dbnb's append and
upsert against `DataFrame.to_sql` (pandas' default, one `executemany`, which
PyMySQL sends as multi-row INSERTs) and `to_sql(method="multi")`, in a throwaway
database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg.types.json import Jsonb
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    Text,
    create_engine,
    make_url,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import JSON
from sqlmodel import Field, Session, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dbnb
from bench import standard
from dbnb.devtools import testing

ADMIN = os.environ.get("DBNB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("DBNB_BENCH_MYSQL", "mysql://root@127.0.0.1:3306/")
COLUMNS = list(standard.frame(1).columns)


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
    payload: dict = Field(sa_type=JSON().with_variant(JSONB(), "postgresql"))  # type: ignore[type-arg]
    maybe_int: int | None = Field(default=None, sa_type=Integer)


def reset(conninfo: str, rows: pd.DataFrame | None = None) -> None:
    """Recreate the empty table (and fill it through COPY when `rows` is given)."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {standard.TABLE}")
        connection.execute(standard.PG_DDL)
    if rows is not None:
        copy_binary(conninfo, rows)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f"VACUUM ANALYZE {standard.TABLE}")


def python_rows(frame: pd.DataFrame, payload: Callable[[dict], object]) -> list[tuple]:  # type: ignore[type-arg]
    columns = [frame[name].tolist() for name in COLUMNS]
    columns[COLUMNS.index("payload")] = [payload(value) for value in frame["payload"]]
    columns[COLUMNS.index("maybe_int")] = [
        None if pd.isna(value) else int(value) for value in frame["maybe_int"]
    ]
    return list(zip(*columns, strict=True))


def copy_text(conninfo: str, frame: pd.DataFrame) -> None:
    rows = python_rows(frame, json.dumps)
    statement = f"COPY {standard.TABLE} ({', '.join(COLUMNS)}) FROM STDIN"
    with (
        psycopg.connect(conninfo) as connection,
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def copy_binary(conninfo: str, frame: pd.DataFrame) -> None:
    rows = python_rows(frame, Jsonb)
    types = ["int8", "timestamptz", "date", "text", "int4", "numeric", "float8", "bool"]
    statement = f"COPY {standard.TABLE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with (
        psycopg.connect(conninfo) as connection,
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        copy.set_types([*types, "jsonb", "int4"])
        for row in rows:
            copy.write_row(row)


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow in the table's types, JSON as the arrow.json extension type."""
    payload = pa.array([json.dumps(value) for value in frame["payload"]], pa.string())
    return pa.table(
        {
            "id": pa.array(frame["id"]),
            "ts": pa.array(frame["ts"]),
            "day": pa.array(frame["day"], pa.date32()),
            "name": pa.array(frame["name"]).cast(pa.string()),
            "qty": pa.array(frame["qty"], pa.int32()),
            "price": pa.array(frame["price"].to_numpy(), pa.decimal128(12, 2)),
            "score": pa.array(frame["score"]),
            "flag": pa.array(frame["flag"]),
            "payload": pa.ExtensionArray.from_storage(pa.json_(), payload),
            "maybe_int": pa.array(frame["maybe_int"], pa.int32(), from_pandas=True),
        }
    )


def adbc_ingest(connection: Any, table: pa.Table) -> None:
    """ADBC's bulk ingest (binary COPY from Arrow) on an open connection, then commit."""
    with connection.cursor() as cursor:
        cursor.adbc_ingest(standard.TABLE, table, mode="append")
    connection.commit()


def add_all(url: str, frame: pd.DataFrame) -> None:
    engine = create_engine(url)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    with Session(engine) as session:
        session.add_all([BenchRow(**record) for record in records])
        session.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-slow", action="store_true", help="leave out add_all and to_sql")
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["postgresql", "mariadb"],
        default=["postgresql", "mariadb"],
    )
    args = parser.parse_args()
    if "postgresql" in args.databases:
        on_postgresql(args)
    if "mariadb" in args.databases:
        with testing.throwaway_mysql_database(MYSQL_ADMIN, prefix="dbnb_bench") as name:
            db = dbnb.connect(testing.database_url(MYSQL_ADMIN, name))
            try:
                on_mariadb(db, args)
            finally:
                db.close()


def on_postgresql(args: argparse.Namespace) -> None:
    name = f"dbnb_bench_write_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    target = make_url(ADMIN).set(database=name)
    conninfo = target.set(drivername="postgresql").render_as_string(hide_password=False)
    url = target.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    try:
        run(args, conninfo, url)
    finally:
        dbnb.close_all()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, conninfo: str, url: str) -> None:
    frame = standard.frame(args.rows)
    arrow = to_arrow(frame)
    db = dbnb.connect(url)
    sqla = create_engine(url)

    def timed(
        label: str,
        action: Callable[[], object],
        fill: bool = False,
        runs: int = args.runs,
        warm: bool = True,
    ) -> float:
        times = []
        for attempt in range(runs + (1 if warm else 0)):
            reset(conninfo, frame if fill else None)
            start = time.perf_counter()
            action()
            elapsed = time.perf_counter() - start
            if attempt or not warm:
                times.append(elapsed)
        with psycopg.connect(conninfo) as connection:
            count = connection.execute(f"SELECT count(*) FROM {standard.TABLE}").fetchone()
        assert count is not None, label
        assert count[0] == args.rows, (label, count)
        median = statistics.median(times)
        print(
            f"  {label:<44} {median:7.3f} s   (runs: {', '.join(f'{t:.3f}' for t in times)})",
            flush=True,
        )
        return median

    print(
        f"Writing {args.rows:,} rows of {standard.TABLE} to PostgreSQL; "
        f"median of {args.runs} runs after a warm-up (2 cores, shared machine)"
    )
    results: dict[str, float] = {}
    results["dbnb append"] = timed(
        "Database.write(df, Model)  append", lambda: db.write(frame, BenchRow)
    )
    changed = frame.assign(score=frame["score"] + 1)
    results["dbnb upsert"] = timed(
        "Database.write(..., mode='upsert'), same rows",
        lambda: db.write(frame, BenchRow, mode="upsert"),
        fill=True,
    )
    results["dbnb upsert, all changed"] = timed(
        "Database.write(..., mode='upsert'), all changed",
        lambda: db.write(changed, BenchRow, mode="upsert"),
        fill=True,
    )
    results["dbnb append, by name"] = timed(
        "Database.write(df, 'bench_standard') append",
        lambda: db.write(frame, standard.TABLE),
    )
    import adbc_driver_postgresql.dbapi as adbc

    # Connected once, like dbnb's pool: the timings are ingest + commit.
    with adbc.connect(conninfo) as connection:
        results["ADBC ingest (from df)"] = timed(
            "ADBC adbc_ingest, DataFrame -> Arrow included",
            lambda: adbc_ingest(connection, to_arrow(frame)),
        )
        results["ADBC ingest (Arrow ready)"] = timed(
            "ADBC adbc_ingest of a ready Arrow table",
            lambda: adbc_ingest(connection, arrow),
        )
    results["COPY binary"] = timed(
        "psycopg COPY binary, write_row", lambda: copy_binary(conninfo, frame)
    )
    results["COPY text"] = timed("psycopg COPY text, write_row", lambda: copy_text(conninfo, frame))
    if not args.skip_slow:
        results["to_sql"] = timed(
            "DataFrame.to_sql (default method)",
            # pandas cannot tell these object columns' SQL types: named, nothing else changed.
            lambda: frame.to_sql(
                standard.TABLE,
                sqla,
                if_exists="append",
                index=False,
                dtype={"payload": JSONB(), "price": Numeric(12, 2)},
            ),
            runs=min(args.runs, 3),
        )
        results["add_all"] = timed(
            "SQLModel session.add_all + commit (1 run)",
            lambda: add_all(url, frame),
            runs=1,
            warm=False,
        )
    sqla.dispose()

    append = results["dbnb append"]
    print("\nRatios (time / dbnb append):")
    for label, seconds in results.items():
        print(f"  {label:<30} {seconds / append:6.2f}x")
    print("\nTargets:")
    for base in ("ADBC ingest (from df)", "ADBC ingest (Arrow ready)"):
        ratio = append / results[base]
        verdict = "met" if ratio <= 1.3 else "NOT met"
        print(f"  append / {base:<28} {ratio:5.2f}  (target <= 1.3: {verdict})")
    for label in ("dbnb upsert", "dbnb upsert, all changed"):
        ratio = results[label] / append
        verdict = "met" if ratio <= 2 else "NOT met"
        print(f"  {label + ' / append':<37} {ratio:5.2f}  (target <= 2.0: {verdict})")


def on_mariadb(db: dbnb.Database, args: argparse.Namespace) -> None:
    frame = standard.frame(args.rows)
    # What to_sql can send through PyMySQL: JSON as text, timestamps naive UTC.
    plain = frame.assign(
        name=frame["name"].astype(object),
        payload=frame["payload"].map(json.dumps),
        ts=frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None),
    )
    engine = create_engine(db.config.url)

    def recreate(rows: pd.DataFrame | None = None) -> None:
        with db.session(write=True) as session:
            BenchRow.metadata.drop_all(session.connection())
        db.create_tables(BenchRow)
        if rows is not None:
            db.write(rows, BenchRow)

    def timed(label: str, setup: Callable[[], None], work: Callable[[], object]) -> float:
        times = []
        for attempt in range(args.runs + 1):
            setup()
            started = time.perf_counter()
            work()
            if attempt:  # the first is the warm-up
                times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"  {label:<44} {median:7.3f} s   (runs: {', '.join(f'{t:.3f}' for t in times)})")
        return median

    print(f"\nWriting {len(frame):,} rows to MariaDB, median of {args.runs} runs after a warm-up")
    results = {
        "dbnb append": timed("dbnb write (append)", recreate, lambda: db.write(frame, BenchRow)),
        "dbnb upsert": timed(
            "dbnb write (upsert, every row there)",
            lambda: recreate(frame),
            lambda: db.write(frame, BenchRow, mode="upsert"),
        ),
        "to_sql": timed(
            "pandas to_sql",
            recreate,
            lambda: plain.to_sql(standard.TABLE, engine, if_exists="append", index=False),
        ),
        'to_sql(method="multi")': timed(
            'pandas to_sql(method="multi", chunksize=1000)',
            recreate,
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
    append = results["dbnb append"]
    print("Ratios (time / dbnb append):")
    for label, seconds in results.items():
        print(f"  {label:<30} {seconds / append:6.2f}x")


if __name__ == "__main__":
    main()
