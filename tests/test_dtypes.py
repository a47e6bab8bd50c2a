"""The dtype table of the README, row by row, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    Uuid,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

import dbnb

# Every test here holds on both read paths (columnar ADBC, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")

metadata = MetaData()
typed = Table(
    "typed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("small", SmallInteger),
    Column("big", BigInteger),
    Column("maybe_int", Integer),
    Column("flag", Boolean),
    Column("real", Float),
    Column("money", Numeric(12, 2)),
    Column("label", String(20)),
    Column("note", Text),
    Column("at", DateTime(timezone=True)),
    Column("naive", DateTime),
    Column("day", Date),
    Column("clock", Time),
    Column("blob", LargeBinary),
    Column("doc", JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")),
    Column("ident", Uuid),
)

TOKYO = dt.timezone(dt.timedelta(hours=9))
FULL: dict[str, Any] = {
    "id": 1,
    "small": -32768,
    "big": 2**62,
    "maybe_int": 7,
    "flag": True,
    "real": 0.1,
    "money": Decimal("1234567890.12"),
    "label": "Ünïcødé ✓",
    "note": "O'Brien; DROP TABLE typed; --",
    # stored as an instant: read back in UTC
    "at": dt.datetime(2024, 2, 29, 23, 30, 0, 123456, tzinfo=TOKYO),
    "naive": dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
    "day": dt.date(2000, 1, 1),
    "clock": dt.time(12, 34, 56, 789000),
    "blob": b"\x00\x01\xff",
    "doc": {"a": [1, 2, {"b": None}], "unicode": "ß"},
    "ident": uuid.UUID("12345678-1234-5678-1234-567812345678"),
}
EMPTY = {column: None for column in FULL} | {"id": 2}

# column -> (pandas dtype on PostgreSQL, pandas dtype on SQLite)
DTYPES: dict[str, tuple[Any, Any]] = {
    "id": ("int32[pyarrow]", "int64[pyarrow]"),
    "small": ("int16[pyarrow]", "int16[pyarrow]"),
    "big": ("int64[pyarrow]", "int64[pyarrow]"),
    "maybe_int": ("int32[pyarrow]", "int64[pyarrow]"),
    "flag": ("bool[pyarrow]", "bool[pyarrow]"),
    "real": ("double[pyarrow]", "double[pyarrow]"),
    "money": (pd.ArrowDtype(pa.decimal128(12, 2)), pd.ArrowDtype(pa.decimal128(12, 2))),
    "label": ("string[pyarrow]", "string[pyarrow]"),
    "note": ("string[pyarrow]", "string[pyarrow]"),
    "at": ("timestamp[us, tz=UTC][pyarrow]", "timestamp[us, tz=UTC][pyarrow]"),
    "naive": ("timestamp[us][pyarrow]", "timestamp[us][pyarrow]"),
    "day": ("date32[day][pyarrow]", "date32[day][pyarrow]"),
    "clock": ("time64[us][pyarrow]", "time64[us][pyarrow]"),
    "blob": ("binary[pyarrow]", "binary[pyarrow]"),
    "doc": (object, object),
    "ident": (object, object),
}


@pytest.fixture
def typed_db(registry: dbnb.Registry, backend: str) -> dbnb.Database:
    database = registry.connect(backend)
    with database.session(write=True) as session:
        metadata.drop_all(session.connection())
        metadata.create_all(session.connection())
        at_utc = FULL["at"]
        row = dict(FULL)
        if backend == "sqlite":  # SQLite stores no offset: dbnb's convention is UTC
            row["at"] = at_utc.astimezone(dt.UTC).replace(tzinfo=None)
        session.execute(insert(typed), [row, EMPTY])
    return database


def frames(database: dbnb.Database, backend: str) -> list[pd.DataFrame]:
    found = [database.query(select(typed).order_by(typed.c.id))]
    if backend == "postgresql":  # plain SQL keeps every type too: the server describes them
        found.append(database.query("SELECT * FROM typed ORDER BY id"))
    return found


@pytest.mark.parametrize("column", list(DTYPES))
def test_dtype_table(typed_db: dbnb.Database, backend: str, column: str) -> None:
    expected = DTYPES[column][0 if backend == "postgresql" else 1]
    for frame in frames(typed_db, backend):
        series = frame[column]
        assert series.dtype == expected, (column, series.dtype)
        value, missing = series.iloc[0], series.iloc[1]
        if column != "id":
            assert missing is None or pd.isna(missing)  # NULL stays NULL, in any dtype
        want = FULL[column]
        if column == "at":
            want = pd.Timestamp(want).tz_convert("UTC")
            assert str(value.tz) == "UTC"
        elif column == "naive":
            want = pd.Timestamp(want)
        assert value == want, (column, value, want)
        assert type(value) is not float or column == "real"


def test_values_are_exact(typed_db: dbnb.Database, backend: str) -> None:
    for frame in frames(typed_db, backend):
        row = frame.iloc[0]
        assert row["money"] == Decimal("1234567890.12")  # exact, no float on the way
        assert isinstance(row["doc"], dict)
        assert row["doc"]["a"][2] == {"b": None}
        assert isinstance(row["ident"], uuid.UUID)
        assert row["big"] == 2**62


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_plain_sql_gives_storage_classes(typed_db: dbnb.Database) -> None:
    # SQLite describes no column types of a plain query: the values' storage classes decide.
    frame = typed_db.query("SELECT id, maybe_int, real, label, blob FROM typed ORDER BY id")
    assert [str(dtype) for dtype in frame.dtypes] == [
        "int64[pyarrow]",
        "int64[pyarrow]",
        "double[pyarrow]",
        "string[pyarrow]",
        "binary[pyarrow]",
    ]
    assert pd.isna(frame["maybe_int"].iloc[1])


def test_empty_result_keeps_dtypes(typed_db: dbnb.Database, backend: str) -> None:
    frame = typed_db.query(select(typed).where(typed.c.id < 0))
    assert len(frame) == 0
    expected = [DTYPES[c][0 if backend == "postgresql" else 1] for c in DTYPES]
    assert list(frame.dtypes) == expected
