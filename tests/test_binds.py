"""Values bind as the user means them, the same on SQLite and PostgreSQL, on every path:
query (columnar and guarded), chunks, query_to_parquet, aquery and %%db cells."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pytest_asyncio
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    Interval,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

import dbnb
from dbnb.backends.registry import sql_rules_for
from dbnb.sql.prepared import prepare
from tests.magic_fixtures import db as run


def bind_sqlite(sql: str, params: dict[str, Any]) -> Mapping[str, Any]:
    """``params`` as SQLite's driver is given them (``dbnb.sql.prepared.prepare``)."""
    return prepare(sql, params, sql_rules_for("sqlite"), "local").values


READINGS = Table(
    "readings",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("region", String(20)),  # MySQL wants a VARCHAR length
    Column("score", Float),
    Column("flag", Boolean),
    Column("amount", Numeric(10, 2)),
    Column("day", Date),
    Column("at", DateTime),
    Column("at_tz", DateTime(timezone=True)),
    Column("uid", Uuid),
)
WRITTEN = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "region": ["EU", "US", None],
        "score": [1.5, 2.25, 3.0],
        "flag": [True, False, None],
        "amount": [Decimal("1.10"), Decimal("2.50"), Decimal("3.00")],
        "day": [date(2024, 1, 2), date(2024, 3, 4), date(2024, 5, 6)],
        "at": [datetime(2024, 1, 2, 3, 4, 5, 123456), datetime(2024, 1, 2), datetime(2025, 1, 1)],
        "at_tz": [
            pd.Timestamp("2024-01-02 03:04:05.5", tz="UTC"),
            pd.Timestamp("2024-06-01 10:00", tz="UTC"),
            pd.Timestamp("2025-01-01", tz="UTC"),
        ],
        "uid": [UUID(int=1), UUID(int=2), UUID(int=3)],
    }
)


@pytest.fixture
def readings(db: dbnb.Database) -> dbnb.Database:
    """The `db` fixture's connection with a `readings` table of every kind, by db.write."""
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS readings"))
    db.create_tables(READINGS)
    db.write(WRITTEN, READINGS)
    return db


def ids(database: dbnb.Database, where: str, **params: Any) -> list[int]:
    return database.query(f"SELECT id FROM readings WHERE {where} ORDER BY id", params)[
        "id"
    ].tolist()


# --- scalars ----------------------------------------------------------------------------

SCALARS = [
    ("id", np.int64(2), [2]),
    ("id", np.int32(2), [2]),
    ("id", np.uint8(2), [2]),
    ("id", pa.scalar(2), [2]),
    ("score", np.float64(2.25), [2]),
    ("score", np.float32(2.25), [2]),
    ("score", pa.scalar(2.25), [2]),
    ("flag", np.bool_(False), [2]),
    ("flag", pa.scalar(True), [1]),
    ("region", np.str_("EU"), [1]),
    ("region", pa.scalar("US"), [2]),
    ("amount", Decimal("2.50"), [2]),
    ("amount", Decimal("2.5"), [2]),
    ("amount", pa.scalar(Decimal("1.10")), [1]),
    ("day", date(2024, 3, 4), [2]),
    ("day", np.datetime64("2024-03-04"), [2]),  # a day: binds as a date
    ("day", pa.scalar(date(2024, 3, 4)), [2]),
    ("at", datetime(2024, 1, 2, 3, 4, 5, 123456), [1]),
    ("at", datetime(2024, 1, 2), [2]),
    ("at", pd.Timestamp("2024-01-02 03:04:05.123456"), [1]),
    ("at", np.datetime64("2024-01-02T03:04:05.123456"), [1]),
    ("at", np.datetime64("2024-01-02T03:04:05.123456000"), [1]),  # nanoseconds
    ("at", pa.scalar(pd.Timestamp("2024-01-02")), [2]),
    ("at_tz", pd.Timestamp("2024-06-01 12:00", tz="Europe/Paris"), [2]),
    ("at_tz", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), [1]),
    ("at_tz", pa.scalar(pd.Timestamp("2025-01-01", tz="UTC")), [3]),
    ("uid", UUID(int=2), [2]),
]


@pytest.mark.usefixtures("read_path")
@pytest.mark.parametrize(("column", "value", "expected"), SCALARS, ids=repr)
def test_each_kind_of_value_matches_its_rows(
    readings: dbnb.Database, column: str, value: Any, expected: list[int]
) -> None:
    assert ids(readings, f"{column} = :v", v=value) == expected


@pytest.mark.usefixtures("read_path")
@pytest.mark.parametrize(
    "missing", [None, pd.NA, pd.NaT, np.datetime64("NaT"), pa.scalar(None, pa.string())]
)
def test_missing_values_bind_as_null(readings: dbnb.Database, missing: Any) -> None:
    assert ids(readings, "region = :v OR (region IS NULL AND :v IS NULL)", v=missing) == [3]


@pytest.mark.usefixtures("read_path")
@pytest.mark.parametrize("column", list(WRITTEN.columns))
def test_values_written_and_read_back_match_when_bound(
    readings: dbnb.Database, column: str
) -> None:
    frame = readings.query("SELECT * FROM readings ORDER BY id")
    arrow = pa.Table.from_pandas(frame)
    for position, row in enumerate([1, 2, 3]):
        if pd.isna(WRITTEN[column].iloc[position]):
            continue
        for value in (
            WRITTEN[column].iloc[position],  # as the user wrote it with db.write
            frame[column].iloc[position],  # as dbnb read it back
            frame[column].to_numpy()[position],
            arrow.column(column)[position],  # a pyarrow scalar
        ):
            assert ids(readings, f"{column} = :v", v=value) == [row], repr(value)


# --- lists --------------------------------------------------------------------------------

LISTS = [
    [1, 3],
    (1, 3),
    {1, 3},
    np.array([1, 3]),
    pd.Series([1, 3]),
    pd.array([1, 3], dtype="int64[pyarrow]"),
    pd.Index([1, 3]),
    pa.array([1, 3]),
]


@pytest.mark.usefixtures("read_path")
@pytest.mark.parametrize("values", LISTS, ids=lambda v: type(v).__name__)
def test_a_list_after_in_expands(readings: dbnb.Database, values: Any) -> None:
    assert ids(readings, "id IN :ids", ids=values) == [1, 3]
    assert ids(readings, "id in(:ids)", ids=values) == [1, 3]
    assert ids(readings, "id NOT IN :ids", ids=values) == [2]
    assert ids(readings, "id NOT IN ( :ids ) AND id IN :ids OR id = :two", ids=values, two=2) == [2]


@pytest.mark.usefixtures("read_path")
def test_in_with_an_empty_list_or_one_value(readings: dbnb.Database) -> None:
    assert ids(readings, "id IN :ids", ids=[]) == []
    assert ids(readings, "id IN (:ids)", ids=np.array([], dtype=int)) == []
    assert ids(readings, "id NOT IN :ids", ids=[]) == [1, 2, 3]
    # Whatever the column's type (PostgreSQL types an empty IN set from the column).
    for column in ("region", "day", "at_tz", "amount"):
        assert ids(readings, f"{column} IN :none", none=[]) == []
        assert ids(readings, f"{column} in ( :none )", none=[]) == []
        assert ids(readings, f"{column} NOT IN :none OR id = 1", none=[]) == [1, 2, 3]
        assert ids(readings, f"{column} NOT IN (:none) AND id IN :ids", none=[], ids=[2]) == [2]
    assert ids(readings, "'x IN :none' = 'y' OR region IN :none", none=[]) == []
    assert ids(readings, "id IN :ids", ids=np.int64(2)) == [2]  # one value: a list of one
    assert ids(readings, "id IN (:ids)", ids=2) == [2]
    assert ids(readings, "region IN :r", r=np.array(["EU", "US"])) == [1, 2]
    assert ids(readings, "day IN :days", days=[date(2024, 1, 2), np.datetime64("2024-05-06")]) == [
        1,
        3,
    ]


@pytest.mark.usefixtures("read_path")
def test_any_takes_a_list_as_an_array_on_postgresql(readings: dbnb.Database, backend: str) -> None:
    if backend in ("sqlite", "mysql"):
        with pytest.raises(dbnb.ParameterError, match=r"(SQLite|MySQL) takes a list only after IN"):
            ids(readings, "id = ANY(:ids)", ids=[1, 3])
        return
    assert ids(readings, "id = ANY(:ids)", ids=[1, 3]) == [1, 3]
    assert ids(readings, "id = ANY(:ids)", ids=np.array([1, 3])) == [1, 3]
    assert ids(readings, "region = ANY(:r)", r=pd.Series(["US", "EU"])) == [1, 2]


# --- what cannot bind -----------------------------------------------------------------------


@pytest.mark.usefixtures("read_path")
def test_an_unbindable_value_is_one_line_naming_it(readings: dbnb.Database, backend: str) -> None:
    name = readings.name
    cases: list[tuple[Any, str]] = [
        (object(), f"{name}: cannot bind :cid, an object value; "),
        ([1, object()], f"{name}: cannot bind :cid, a list holding an object value; "),
    ]
    if backend == "sqlite":
        cases.append((2**70, f"{name}: cannot bind :cid, an int value beyond 64 bits"))
    elif backend == "mysql":
        cases.append(({"a": 1}, f"{name}: cannot bind :cid, a dict value; PyMySQL takes"))
    else:
        cases.append(({"a": 1}, f"{name}: cannot bind :cid, a dict value; psycopg has no adapter"))
    for value, message in cases:
        with pytest.raises(dbnb.ParameterError) as caught:
            ids(readings, "id IN (:cid)", cid=value)
        assert str(caught.value).startswith(message)
        assert "\n" not in str(caught.value)
        assert "parameter 1" not in str(caught.value)


# --- the other entry points -----------------------------------------------------------------


@pytest.mark.usefixtures("read_path")
def test_chunks_and_parquet_bind_the_same(readings: dbnb.Database, tmp_path: Path) -> None:
    sql = "SELECT id FROM readings WHERE id IN :ids OR at = :at ORDER BY id"
    params = {"ids": np.array([1, 3]), "at": pd.Timestamp("2024-01-02")}
    chunks = list(readings.query(sql, params, chunksize=2))
    assert pd.concat(chunks)["id"].tolist() == [1, 2, 3]
    assert readings.query_to_parquet(sql, tmp_path / "ids.parquet", params) == 3
    assert pq.read_table(tmp_path / "ids.parquet")["id"].to_pylist() == [1, 2, 3]


@pytest_asyncio.fixture
async def areadings(readings: dbnb.Database) -> AsyncIterator[dbnb.Database]:
    yield readings
    await readings.aclose()


@pytest.mark.asyncio
async def test_aquery_binds_the_same(areadings: dbnb.Database) -> None:
    sql = "SELECT id FROM readings WHERE id IN :ids OR at_tz = :at OR amount = :amount ORDER BY id"
    params = {
        "ids": pd.Series([1]),
        "at": pd.Timestamp("2024-06-01 12:00", tz="Europe/Paris"),
        "amount": Decimal("3.00"),
    }
    assert (await areadings.aquery(sql, params))["id"].tolist() == [1, 2, 3]
    assert (await areadings.aquery(sql, {**params, "ids": []}))["id"].tolist() == [2, 3]
    with pytest.raises(dbnb.ParameterError, match=r"cannot bind :ids, a list holding an object"):
        await areadings.aquery(sql, {**params, "ids": [object()]})


def test_cells_bind_notebook_variables_the_same(ip: InteractiveShell, db: dbnb.Database) -> None:
    ip.user_ns.update(cid=np.int64(2), names=np.array(["one", "three"]), none=[], bad=object())
    cell = "SELECT id FROM items WHERE id = :cid OR name IN :names OR id IN :none ORDER BY id"
    assert run(ip, db.name, cell)["id"].tolist() == [1, 2, 3]
    two = "SELECT 1 AS one; SELECT id FROM items WHERE name NOT IN :names AND id <> :cid"
    assert run(ip, db.name, two)["id"].tolist() == []
    with pytest.raises(UsageError, match=rf"^{db.name}: cannot bind :bad, an object value; "):
        run(ip, db.name, "SELECT id FROM items WHERE id = :bad")


def test_sqlite_values_are_what_sqlalchemys_sqlite_types_store() -> None:
    """On SQLite a value binds as SQLAlchemy's type for it stores it (so as db.write does)."""
    dialect = sqlite_dialect()
    cases = [
        (DateTime(), datetime(2024, 1, 2, 3, 4, 5, 6)),
        (DateTime(), datetime(2024, 1, 2)),
        (Date(), date(999, 1, 2)),
        (Time(), time(1, 2, 3)),
        (Interval(), timedelta(days=1, microseconds=5)),
        (Numeric(10, 2), Decimal("1.10")),
        (Uuid(), UUID(int=7)),
    ]
    for sql_type, value in cases:
        process = sql_type.dialect_impl(dialect).bind_processor(dialect)
        assert process is not None
        bound = bind_sqlite("SELECT :v", {"v": value})["v"]
        assert bound == process(value), sql_type
    aware = datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
    assert bind_sqlite("SELECT :v", {"v": aware})["v"] == "2024-06-01 10:00:00.000000"


def test_a_select_keeps_its_typed_binds(readings: dbnb.Database) -> None:
    at, id_ = READINGS.c.at, READINGS.c.id
    statement = (
        select(id_)
        .where((at == bindparam("at")) | id_.in_(bindparam("ids", expanding=True)))
        .order_by(id_)
    )
    params = {"at": pd.Timestamp("2024-01-02"), "ids": np.array([3])}
    assert readings.query(statement, params)["id"].tolist() == [2, 3]
