"""The generic SQLAlchemy path on a third engine: DuckDB through duckdb-engine.

What works on any dialect: named connections, pooled sessions, bound queries,
select() with the documented dtypes, chunks, Parquet. What needs PostgreSQL or
SQLite: the server-enforced read-only guard and the columnar (ADBC) path.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import registry

import dbnb

metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("region", String),
    Column("total", Numeric(12, 2)),
    Column("placed", DateTime(timezone=True)),
    Column("doc", JSON),
)
ROWS = [
    {
        "id": 1,
        "region": "EU",
        "total": Decimal("10.50"),
        "placed": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
        "doc": {"a": [1, 2]},
    },
    {"id": 2, "region": "US", "total": Decimal("99.99"), "placed": None, "doc": None},
    {
        "id": 3,
        "region": "EU",
        "total": None,
        "placed": dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        "doc": [1],
    },
]


@pytest.fixture
def duck(tmp_path: Path, open_registry) -> dbnb.Database:
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(
        f"databases:\n  lake:\n    url: duckdb:///{tmp_path / 'lake.duckdb'}\n    pool_size: 2\n"
    )
    database = open_registry(path).connect("lake")
    with database.session(write=True) as session:
        metadata.create_all(session.connection())
        session.execute(insert(orders), ROWS)
    return database


def test_named_duckdb_connection_queries_with_bound_parameters(duck: dbnb.Database) -> None:
    assert duck.config.backend == "duckdb"
    frame = duck.query("SELECT id, region FROM orders WHERE region = :r ORDER BY id", {"r": "EU"})
    assert frame.to_dict("list") == {"id": [1, 3], "region": ["EU", "EU"]}
    assert str(frame["region"].dtype) == "string[pyarrow]"
    assert duck._arrow.columnar is None  # no ADBC driver here: the generic path serves it


def test_select_keeps_the_documented_dtypes(duck: dbnb.Database) -> None:
    frame = duck.query(select(orders).order_by(orders.c.id))
    assert [str(dtype) for dtype in frame.dtypes] == [
        "int64[pyarrow]",
        "string[pyarrow]",
        "decimal128(12, 2)[pyarrow]",
        "timestamp[us, tz=UTC][pyarrow]",
        "object",
    ]
    assert frame["total"].iloc[0] == Decimal("10.50")
    assert frame["placed"].iloc[0] == pd.Timestamp("2024-01-01 12:00", tz="UTC")
    assert frame["doc"].tolist() == [{"a": [1, 2]}, None, [1]]
    assert pd.isna(frame["total"].iloc[2])


def test_sessions_write_and_read(duck: dbnb.Database) -> None:
    with duck.session(write=True) as session:
        session.execute(text("UPDATE orders SET region = 'APAC' WHERE id = 2"))
    with duck.session() as session:
        assert session.execute(text("SELECT region FROM orders WHERE id = 2")).scalar() == "APAC"


def test_reads_are_rolled_back_but_not_refused(duck: dbnb.Database) -> None:
    # No server-side read-only guard on other dialects: the read is rolled back.
    duck.query("DELETE FROM orders")
    assert duck.query("SELECT count(*) AS n FROM orders")["n"].tolist() == [3]


def test_writes_go_through_the_generic_backend(duck: dbnb.Database) -> None:
    # Any other dialect writes with SQLAlchemy's executemany, validated as elsewhere.
    rows = pd.DataFrame({"id": [4, 5], "region": ["US", "EU"], "total": [Decimal("1.25"), None]})
    assert duck.write(rows, orders) == 2  # its model: duckdb_engine cannot reflect a table
    found = duck.query("SELECT id, total FROM orders WHERE id >= 4 ORDER BY id")
    assert found["id"].tolist() == [4, 5]
    assert found["total"].iloc[0] == Decimal("1.25")
    assert pd.isna(found["total"].iloc[1])
    with pytest.raises(dbnb.WriteError, match=r"upsert is not available on duckdb"):
        duck.write(rows, orders, mode="upsert")
    assert duck.query("SELECT count(*) AS n FROM orders")["n"].tolist() == [5]  # nothing more
    with pytest.raises(dbnb.ValidationError, match="region"):
        duck.write(pd.DataFrame({"id": [6], "region": [7.5]}), orders)
    assert duck.query("SELECT count(*) AS n FROM orders")["n"].tolist() == [5]


def test_chunks_and_parquet(duck: dbnb.Database, tmp_path: Path) -> None:
    chunks = list(duck.query(select(orders).order_by(orders.c.id), chunksize=2))
    assert [len(chunk) for chunk in chunks] == [2, 1]
    path = tmp_path / "orders.parquet"
    assert duck.query_to_parquet(select(orders).order_by(orders.c.id), path, chunksize=2) == 3
    assert pq.read_table(path).column("region").to_pylist() == ["EU", "US", "EU"]


def test_without_duckdb_engine_the_error_names_the_extra(
    tmp_path: Path, open_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb_engine", None)  # as if not installed
    monkeypatch.delitem(registry.impls, "duckdb", raising=False)
    path = tmp_path / "infra.yaml"
    path.write_text(f"databases:\n  lake:\n    url: duckdb:///{tmp_path / 'lake.duckdb'}\n")
    with pytest.raises(dbnb.ConfigError) as raised:
        open_registry(path).connect("lake").query("SELECT 1")
    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith("duckdb needs duckdb-engine: pip install 'dbnb[duckdb]'")


def test_relative_database_path_is_relative_to_the_config_file(
    tmp_path: Path, open_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for SQLite: the file is beside the config, wherever the notebook runs."""
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(
        "databases:\n  lake: {type: duckdb, database: lake.duckdb}\n"
        "  pond: {url: 'duckdb:///pond.duckdb'}\n"
    )
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    registry = open_registry(path)
    for name in ("lake", "pond"):
        with registry.connect(name).session(write=True) as session:
            session.execute(text("CREATE TABLE t AS SELECT 1 AS x"))
    assert (path.parent / "lake.duckdb").is_file()
    assert (path.parent / "pond.duckdb").is_file()
    assert list(elsewhere.iterdir()) == []


def test_explore_pages_sorts_filters_and_counts_on_the_generic_path(duck: dbnb.Database) -> None:
    explorer = duck.explore("orders", page_size=2).sort("total", descending=True)
    assert explorer.count() == 3
    assert explorer.page(0)["id"].tolist() == [2, 1]  # NULLs last when descending in DuckDB
    assert explorer.page(1)["id"].tolist() == [3]
    explorer.filter("region", "contains", "e").search("u")  # any case
    assert explorer.frame()["id"].tolist() == [1, 3]
    assert explorer.summary("total")["max"] == Decimal("10.50")
    sql, params = explorer.sql()
    assert duck.query(sql, params)["id"].tolist() == [1, 3]
