"""Bounded memory: results in chunks, and straight to Parquet."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from sqlmodel import select

import dbnb
from tests.fixtures import Item

# Every test here holds on both read paths (columnar ADBC, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")


@pytest.fixture
def numbers(db: dbnb.Database) -> dbnb.Database:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS numbers"))
        session.execute(text("CREATE TABLE numbers (n INTEGER PRIMARY KEY, label TEXT)"))
        session.execute(
            text("INSERT INTO numbers VALUES (:n, :label)"),
            [{"n": n, "label": f"n{n}"} for n in range(1, 1001)],
        )
    return db


def test_chunks_together_are_the_whole_result(numbers: dbnb.Database) -> None:
    sql = "SELECT n, label FROM numbers WHERE n > :low ORDER BY n"
    chunks = list(numbers.query(sql, {"low": 10}, chunksize=300))
    assert [len(chunk) for chunk in chunks] == [300, 300, 300, 90]
    whole = numbers.query(sql, {"low": 10})
    joined = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole, check_exact=True)
    assert numbers.engine.pool.checkedout() == 0
    assert numbers._arrow.checkedout() == 0


def test_select_statements_come_in_chunks_too(db: dbnb.Database) -> None:
    chunks = list(db.query(select(Item).order_by(Item.id), chunksize=2))
    assert [chunk["id"].tolist() for chunk in chunks] == [[1, 2], [3]]


def test_an_empty_result_is_one_empty_frame_with_its_columns(numbers: dbnb.Database) -> None:
    chunks = list(numbers.query("SELECT n, label FROM numbers WHERE n < 0", chunksize=10))
    assert len(chunks) == 1
    assert list(chunks[0].columns) == ["n", "label"]
    assert len(chunks[0]) == 0


def test_an_abandoned_iterator_gives_its_connection_back(numbers: dbnb.Database) -> None:
    chunks = numbers.query("SELECT n FROM numbers ORDER BY n", chunksize=100)
    first = next(chunks)
    assert first["n"].tolist()[:3] == [1, 2, 3]
    chunks.close()
    assert numbers.engine.pool.checkedout() == 0
    assert numbers._arrow.checkedout() == 0
    assert numbers.query("SELECT count(*) AS c FROM numbers")["c"].tolist() == [1000]


def test_chunks_refuse_writes(numbers: dbnb.Database) -> None:
    # PostgreSQL streams through a server-side cursor, which takes only queries.
    with pytest.raises((dbnb.ReadOnlyError, dbnb.QueryError)):
        list(numbers.query("DELETE FROM numbers", chunksize=10))
    assert numbers.query("SELECT count(*) AS c FROM numbers")["c"].tolist() == [1000]


@pytest.mark.parametrize("chunksize", [0, -5, 2.5, True])
def test_chunksize_must_be_a_positive_int(db: dbnb.Database, chunksize) -> None:
    with pytest.raises(ValueError, match="chunksize must be a positive number of rows"):
        db.query("SELECT 1", chunksize=chunksize)


def test_query_to_parquet_writes_every_row(numbers: dbnb.Database, tmp_path: Path) -> None:
    path = tmp_path / "out" / "numbers.parquet"
    path.parent.mkdir()
    sql = "SELECT n, label FROM numbers WHERE n <= :top ORDER BY n"
    written = numbers.query_to_parquet(sql, path, {"top": 700}, chunksize=256)
    assert written == 700
    table = pq.read_table(path)
    assert table.column("n").to_pylist() == list(range(1, 701))
    assert table.column("label").to_pylist()[:2] == ["n1", "n2"]
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # one per chunk
    assert [p.name for p in path.parent.iterdir()] == ["numbers.parquet"]


def test_a_failed_query_leaves_the_old_file_alone(numbers: dbnb.Database, tmp_path: Path) -> None:
    path = tmp_path / "out" / "out.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"old": [1]}), path)
    with pytest.raises(dbnb.QueryError):
        numbers.query_to_parquet("SELECT nope FROM numbers", path)
    assert pq.read_table(path).column_names == ["old"]
    assert [p.name for p in path.parent.iterdir()] == ["out.parquet"]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_parquet_keeps_json_uuid_and_decimals(db: dbnb.Database, tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    db.query_to_parquet(
        "SELECT 1.50::numeric(12, 2) AS money, '{\"a\": [1]}'::jsonb AS doc,"
        " '12345678-1234-5678-1234-567812345678'::uuid AS ident, 2.5::numeric AS exact",
        path,
    )
    table = pq.read_table(path)
    assert table.schema.field("money").type == pa.decimal128(12, 2)
    row = table.to_pylist()[0]
    assert str(row["money"]) == "1.50"
    assert row["doc"].replace(" ", "") == '{"a":[1]}'
    assert str(row["ident"]) == "12345678-1234-5678-1234-567812345678"
    assert row["exact"] == Decimal("2.5")  # an unconstrained numeric fits decimal128(38, 1)
