"""The dtype table of the README, row by row, on SQLite, PostgreSQL and MariaDB; plain
SQL on SQLite by its columns' declared types."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
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
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

import dbnb
from dbnb.backends.sqlite import adbc as arrow_sqlite
from dbnb.backends.sqlite import describe as sqlite_describe
from dbnb.backends.sqlite import types as sqlite_types
from dbnb.read import arrow, dtypes
from tests.test_see_types import ROWS as TYPES_ROWS
from tests.test_see_types import create_types_table

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
    # MySQL's FLOAT has 4 bytes.
    Column("real", Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql")),
    Column("money", Numeric(12, 2)),
    Column("label", String(20)),
    Column("note", Text),
    # MySQL keeps fractions of a second only when told how many digits (fsp).
    Column("at", DateTime(timezone=True).with_variant(mysql.TIMESTAMP(fsp=6), "mysql")),
    Column("naive", DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
    Column("day", Date),
    Column("clock", Time().with_variant(mysql.TIME(fsp=6), "mysql")),
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
# MariaDB, where it differs from PostgreSQL.
MYSQL: dict[str, Any] = {
    "id": "int32[pyarrow]",  # INT
    "maybe_int": "int32[pyarrow]",
    "small": "int16[pyarrow]",  # SMALLINT
    "flag": "bool[pyarrow]",  # BOOLEAN is TINYINT(1)
}
# MariaDB's plain SQL: a UUID comes as text (JSON, a LONGTEXT there, is known by its check).
PLAIN_MYSQL: dict[str, Any] = {"ident": "string[pyarrow]"}


def expected_dtype(backend: str, column: str, plain: bool = False) -> Any:
    if backend == "mysql":
        if plain and column in PLAIN_MYSQL:
            return PLAIN_MYSQL[column]
        return MYSQL.get(column, DTYPES[column][0])
    return DTYPES[column][0 if backend == "postgresql" else 1]


@pytest.fixture
def typed_db(registry: dbnb.Registry, backend: str) -> dbnb.Database:
    database = registry.connect(backend)
    with database.session(write=True) as session:
        metadata.drop_all(session.connection())
        metadata.create_all(session.connection())
        at_utc = FULL["at"]
        row = dict(FULL)
        if backend in ("sqlite", "mysql"):
            # SQLite stores no offset: dbnb's convention is UTC; MariaDB's TIMESTAMP takes
            # the session's time zone, UTC in dbnb's sessions (PyMySQL drops an offset).
            row["at"] = at_utc.astimezone(dt.UTC).replace(tzinfo=None)
        session.execute(insert(typed), [row, EMPTY])
    return database


def frames(database: dbnb.Database, backend: str) -> list[pd.DataFrame]:
    # Plain SQL keeps every type too: PostgreSQL describes them, SQLite declares them.
    return [
        database.query(select(typed).order_by(typed.c.id)),
        database.query("SELECT * FROM typed ORDER BY id"),
    ]


# SQLite declares DateTime and DateTime(timezone=True) alike (DATETIME): plain SQL reads
# both as UTC, dbnb's convention for SQLite (and SQLModel's datetime fields).
PLAIN_SQLITE = {"naive": "timestamp[us, tz=UTC][pyarrow]"}


@pytest.mark.parametrize("column", list(DTYPES))
def test_dtype_table(typed_db: dbnb.Database, backend: str, column: str) -> None:
    for plain, frame in enumerate(frames(typed_db, backend)):
        expected = expected_dtype(backend, column, bool(plain))
        if plain and backend == "sqlite":
            expected = PLAIN_SQLITE.get(column, expected)
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
            want = pd.Timestamp(want, tz="UTC" if plain and backend == "sqlite" else None)
        elif plain and backend == "mysql" and column in PLAIN_MYSQL:
            # MariaDB 10.7+ has a UUID type (dashes), MySQL a CHAR(32) (hex digits).
            want, value = want.hex, value.replace("-", "")
        assert value == want, (column, value, want)
        assert type(value) is not float or column == "real"


def test_values_are_exact(typed_db: dbnb.Database, backend: str) -> None:
    for plain, frame in enumerate(frames(typed_db, backend)):
        row = frame.iloc[0]
        assert row["money"] == Decimal("1234567890.12")  # exact, no float on the way
        assert row["big"] == 2**62
        assert isinstance(row["doc"], dict)
        assert row["doc"]["a"][2] == {"b": None}
        if plain and backend == "mysql":
            continue  # SQLAlchemy's Uuid reaches plain SQL as text
        assert isinstance(row["ident"], uuid.UUID)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_plain_sql_gives_storage_classes_beyond_the_declared_types(
    typed_db: dbnb.Database,
) -> None:
    # Declared INTEGER, FLOAT, VARCHAR, BLOB: the storage classes give a select()'s dtypes;
    # a computed column has no declared type: its values' storage classes decide.
    frame = typed_db.query(
        "SELECT id, maybe_int, real, label, blob, flag + 0 AS n, day || '' AS d, "
        "CAST(money AS TEXT) AS m FROM typed ORDER BY id"
    )
    assert [str(dtype) for dtype in frame.dtypes] == [
        "int64[pyarrow]",
        "int64[pyarrow]",
        "double[pyarrow]",
        "string[pyarrow]",
        "binary[pyarrow]",
        "int64[pyarrow]",
        "string[pyarrow]",
        "string[pyarrow]",
    ]
    assert pd.isna(frame["maybe_int"].iloc[1])
    assert frame["d"].iloc[0] == "2000-01-01"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_plain_sql_of_no_rows_keeps_the_declared_dtypes(typed_db: dbnb.Database) -> None:
    frame = typed_db.query("SELECT * FROM typed WHERE id < 0")
    assert len(frame) == 0
    full = typed_db.query("SELECT * FROM typed")
    for column, (_, expected) in DTYPES.items():
        # INTEGER, FLOAT, VARCHAR, TEXT, BLOB: no value to go by, the declared type's
        # affinity gives the dtype its values' storage class gives a read of rows.
        assert frame[column].dtype == PLAIN_SQLITE.get(column, expected), column
        assert frame[column].dtype == full[column].dtype, column


def test_empty_result_keeps_dtypes(typed_db: dbnb.Database, backend: str) -> None:
    frame = typed_db.query(select(typed).where(typed.c.id < 0))
    assert len(frame) == 0
    expected = [expected_dtype(backend, c) for c in DTYPES]
    assert list(frame.dtypes) == expected


# --- SQLite: a model written by db.write, read back by plain SQL -----------------------


class Reading(SQLModel, table=True):
    """What SQLModel declares on SQLite for each Python type (DATETIME, DATE, TIME,
    BOOLEAN, NUMERIC(12, 2), CHAR(32), JSON, ...), each also nullable."""

    __tablename__ = "readings"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime
    at_null: dt.datetime | None = None
    day: dt.date
    day_null: dt.date | None = None
    clock: dt.time
    flag: bool
    flag_null: bool | None = None
    price: Decimal = Field(max_digits=12, decimal_places=2)
    price_null: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
    ident: uuid.UUID
    ident_null: uuid.UUID | None = None
    doc: dict[str, Any] = Field(sa_type=JSON(none_as_null=True))
    doc_null: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    name: str
    count: int
    ratio: float
    raw: bytes


READINGS = [
    {
        "id": 1,
        "at": dt.datetime(2024, 2, 29, 23, 30, 0, 123456, tzinfo=TOKYO),
        "day": dt.date(1, 1, 1),
        "clock": dt.time(23, 59, 59, 999999),
        "flag": True,
        "price": Decimal("-9999999999.99"),
        "ident": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "doc": {"a": [1, 2.5, {"b": None}], "ß": "日本"},
        "name": "Ünïcødé ✓",
        "count": -(2**63),
        "ratio": 0.1,
        "raw": b"\x00\xff",
    },
    {
        "id": 2,
        "at": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        "day": dt.date(9999, 12, 31),
        "clock": dt.time(0, 0),
        "flag": False,
        "price": Decimal("5.00"),  # NUMERIC affinity stores it as the integer 5
        "ident": uuid.UUID(int=0),
        "doc": {"n": 5},
        "name": "",
        "count": 7,
        "ratio": -0.0,
        "raw": b"",
    },
]


def filled(row: dict[str, Any], nullable_too: bool) -> dict[str, Any]:
    """``row`` with each nullable field set as its twin, or NULL."""
    nullable = ("at", "day", "flag", "price", "ident", "doc")
    return row | {f"{name}_null": row[name] if nullable_too else None for name in nullable}


def test_a_model_written_by_dbnb_reads_back_by_plain_sql_as_by_select(
    registry: dbnb.Registry, read_path: str
) -> None:
    database = registry.connect("sqlite")
    with database.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS readings"))
    database.create_tables(Reading)
    assert database.write([filled(READINGS[0], True), filled(READINGS[1], False)], Reading) == 2
    served = database._arrow.served
    plain = database.query("SELECT * FROM readings ORDER BY id")
    assert database._arrow.served == served + (read_path == "arrow")
    typed = database.query(select(Reading).order_by(Reading.id))
    pd.testing.assert_frame_equal(plain, typed, check_exact=True)
    assert plain["at"].iloc[0] == pd.Timestamp("2024-02-29 14:30:00.123456", tz="UTC")
    assert plain["ident"].iloc[0] == READINGS[0]["ident"]
    assert plain["price"].iloc[1] == Decimal("5.00")
    assert [str(dtype) for dtype in plain.dtypes[:10]] == [
        "int64[pyarrow]",
        "timestamp[us, tz=UTC][pyarrow]",
        "timestamp[us, tz=UTC][pyarrow]",
        "date32[day][pyarrow]",
        "date32[day][pyarrow]",
        "time64[us][pyarrow]",
        "bool[pyarrow]",
        "bool[pyarrow]",
        "decimal128(12, 2)[pyarrow]",
        "decimal128(12, 2)[pyarrow]",
    ]


# A value SQLite stored where its declared type cannot hold it, per declared type.
MISFITS: dict[str, tuple[list[Any], list[Any]]] = {
    # declared type: (stored values, the frame's values: converted where they fit)
    "DATETIME": (
        ["2024-01-01 12:00:00.000000", "garbage", 5],
        [dt.datetime(2024, 1, 1, 12), "garbage", 5],
    ),
    "DATE": (["2024-01-01", "2024-01-01 12:00"], [dt.date(2024, 1, 1), "2024-01-01 12:00"]),
    "TIME": (["12:00:00", "12:00:00+01:00"], [dt.time(12), "12:00:00+01:00"]),
    "BOOLEAN": ([1, 0, 2, "yes"], [True, False, 2, "yes"]),
    "SMALLINT": ([1, 100_000, 1.5], [1, 100_000, 1.5]),
    "NUMERIC(12, 2)": ([1.25, 0.125, "abc", 2**60 + 1], [Decimal("1.25"), 0.125, "abc", 2**60 + 1]),
    "JSON": (['{"a": 1}', "{not json", b"\x00"], [{"a": 1}, "{not json", b"\x00"]),
    "CHAR(32)": (
        ["12345678123456781234567812345678", "not a uuid", "12345678123456781234567812345ABC"],
        [
            uuid.UUID(int=0x12345678123456781234567812345678),
            "not a uuid",
            "12345678123456781234567812345ABC",
        ],
    ),
}


@pytest.fixture
def sqlite_file(tmp_path: Path) -> dbnb.Database:
    config = tmp_path / "infra.yaml"
    config.write_text(f"databases:\n  file:\n    type: sqlite\n    database: {tmp_path / 'f.db'}\n")
    registry = dbnb.Registry(dbnb.load_config(config))
    yield registry.connect("file")
    registry.close()


@pytest.mark.parametrize("declared", MISFITS)
def test_a_value_its_declared_type_cannot_hold_is_kept(
    sqlite_file: dbnb.Database, declared: str
) -> None:
    stored, read = MISFITS[declared]
    with sqlite3.connect(sqlite_file.engine.url.database) as connection:
        connection.execute(f"CREATE TABLE t (i INTEGER PRIMARY KEY, v {declared})")
        connection.executemany("INSERT INTO t (v) VALUES (?)", [[value] for value in stored])
    frame = sqlite_file.query("SELECT v FROM t ORDER BY i")
    assert frame["v"].dtype == object
    assert frame["v"].tolist() == read
    assert [type(value) for value in frame["v"]] == [type(value) for value in read]
    # The values that fit alone: the declared type's dtype.
    fits = sqlite_file.query("SELECT v FROM t WHERE i = 1")
    assert fits["v"].dtype == frames_dtype(declared)


def frames_dtype(declared: str) -> Any:

    found = sqlite_types.declared(declared)
    assert found is not None
    return object if found.kind == dtypes.OBJECT else pd.ArrowDtype(found.kind)


# --- SQLite: the guarded path declares types too ----------------------------------------

DECLARED = (
    "CREATE TABLE t (at DATETIME, day DATE, clock TIME, flag BOOLEAN, small SMALLINT, "
    "price NUMERIC(12, 2), cost DECIMAL(10, 3), doc JSON, ident CHAR(32), note TEXT)"
)
DECLARED_ROW = (
    "INSERT INTO t VALUES ('2024-01-01 12:00:00.500000', '2024-01-02', '03:04:05.000006', "
    "1, 7, 1.5, 2, '[1]', '12345678123456781234567812345678', 'x')"
)
DECLARED_DTYPES = [
    "timestamp[us, tz=UTC][pyarrow]",
    "date32[day][pyarrow]",
    "time64[us][pyarrow]",
    "bool[pyarrow]",
    "int16[pyarrow]",
    "decimal128(12, 2)[pyarrow]",
    "decimal128(10, 3)[pyarrow]",
    "object",
    "object",
    "string[pyarrow]",
]


def _declared_dtypes(frames_: list[pd.DataFrame]) -> list[list[str]]:
    return [[str(dtype) for dtype in frame.dtypes] for frame in frames_]


def test_in_memory_max_rows_and_chunks_read_declared_types() -> None:
    # The guarded path (in-memory databases, max_rows, chunks) asks Python's own sqlite3
    # connection, the one that ran the statement, for the declared types.
    database = dbnb.Registry().connect("sqlite://")
    with database.session(write=True) as session:
        session.execute(text(DECLARED))
        session.execute(text(DECLARED_ROW))
    assert database._arrow.columnar is None  # in memory: the guarded path
    found = [
        database.query("SELECT * FROM t"),
        database.query("SELECT * FROM t", max_rows=5),
        next(iter(database.query("SELECT * FROM t", chunksize=1))),
    ]
    assert _declared_dtypes(found) == [DECLARED_DTYPES] * 3
    row = found[0].iloc[0]
    assert row["at"] == pd.Timestamp("2024-01-01 12:00:00.5", tz="UTC")
    assert row["cost"] == Decimal("2.000")
    assert row["ident"] == uuid.UUID("12345678123456781234567812345678")
    assert row["doc"] == [1]
    database.close()


def test_without_the_extension_or_the_description_plain_sql_still_reads(
    sqlite_file: dbnb.Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with sqlite3.connect(sqlite_file.engine.url.database) as connection:
        connection.execute(DECLARED)
        connection.execute(DECLARED_ROW)
    monkeypatch.setattr(arrow_sqlite, "_EXTENSION", None)
    database = dbnb.Registry().connect(f"sqlite:///{sqlite_file.engine.url.database}")
    assert database._arrow.columnar is None  # no extension: the guarded path
    assert _declared_dtypes([database.query("SELECT * FROM t")]) == [DECLARED_DTYPES]
    # Where the library cannot be asked (another Python, hidden symbols): storage classes.
    monkeypatch.setattr(sqlite_describe, "_state", {"library": None})
    frame = database.query("SELECT * FROM t")
    assert frame["at"].tolist() == ["2024-01-01 12:00:00.500000"]
    assert str(frame["at"].dtype) == "string[pyarrow]"
    database.close()


def test_both_sqlite_paths_agree_on_declared_types(
    sqlite_file: dbnb.Database, monkeypatch: pytest.MonkeyPatch, read_path: str
) -> None:
    with sqlite3.connect(sqlite_file.engine.url.database) as connection:
        connection.execute(DECLARED)
        connection.execute(DECLARED_ROW)
        connection.execute("INSERT INTO t (note) VALUES (NULL)")
    served = sqlite_file._arrow.served
    columnar = sqlite_file.query("SELECT * FROM t")
    assert sqlite_file._arrow.served == served + (read_path == "arrow")
    with monkeypatch.context() as patch:
        patch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
        guarded = sqlite_file.query("SELECT * FROM t")
    pd.testing.assert_frame_equal(columnar, guarded, check_exact=True)
    assert _declared_dtypes([columnar]) == [DECLARED_DTYPES]


@pytest.mark.asyncio
async def test_aquery_reads_declared_types_as_query_does(sqlite_file: dbnb.Database) -> None:
    with sqlite3.connect(sqlite_file.engine.url.database) as connection:
        connection.execute(DECLARED)
        connection.execute(DECLARED_ROW)
    try:
        frame = await sqlite_file.aquery("SELECT * FROM t")
    finally:
        await sqlite_file.aclose()
    assert _declared_dtypes([frame]) == [DECLARED_DTYPES]
    pd.testing.assert_frame_equal(frame, sqlite_file.query("SELECT * FROM t"), check_exact=True)


# Texts on the edge of what SQLite's DATETIME and DATE hold (and of Arrow's parser).
EDGES = {
    "DATETIME": [
        "2024-01-01 12:00:00",
        "2024-01-01 12:00:00.123456",
        "2024-02-29 00:00:00",
        "2023-02-29 00:00:00",
        "2024-13-01 00:00:00",
        "2024-00-10 00:00:00",
        "2024-01-00 00:00:00",
        "2024-01-01 24:00:00",
        "2024-01-01 23:60:00",
        "2024-01-01 23:59:60",
        "0000-01-01 00:00:00",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59.999999",
        "2024-01-01T12:00:00",
        "2024-01-01 12:00:00Z",
        "2024-01-01 12:00:00.123",
        "2024-01-01 12:00:00+09:00",
        "2024-01-01",
        " 2024-01-01 12:00:00",
        "٢٠٢٤-01-01 12:00:00",
        # Written by others than SQLAlchemy: 'T', fewer digits, offsets (moved to UTC).
        "2024-01-01T12:00:00Z",
        "2024-01-01T12:00",
        "2024-01-01 12:00:00.5",
        "2024-01-01 12:00:00.123456+05:30",
        "2024-01-01 12:00:00-00:00",
        "2024-01-01T00:00:00+23:59",
        "2024-01-01 00:00:00+24:00",
        "2024-01-01 00:00:00+05:60",
        "2024-01-01 00:00:00+0530",
        "2024-01-01 12:00:00z",
        "2024-01-01 12:00:00.1234567",
        "2024-01-01 12",
        "2024-01-01Z",
        "2024-01-01 24:00:00Z",
        "2024-01-01 23:59:60+00:00",
        "2024-02-30T00:00:00Z",
        "0001-01-01 00:30:00+01:00",
        "0000-12-31 23:30:00-01:00",
        "9999-12-31 23:59:59-01:00",
        "9999-12-31 23:59:59.999999+01:00",
    ],
    "DATE": ["2024-01-01", "2024-02-30", "0000-01-01", "0001-01-01", "2024-1-1", "20240101"],
    "BOOLEAN": [1, 0, 2, -1],
    "NUMERIC(12, 2)": [
        1.25,
        0.1,
        0.125,
        0.005,
        0.015,
        1 / 3,
        -0.0,
        1234567890.12,
        9999999999.99,
        99999999999.99,
        1e15,
        2.0**53,
        float("inf"),
        float("-inf"),
    ],
    "DECIMAL(38, 10)": [0.1, 1 / 3, 123456.0123456789, 2.0**-30, 1e30, -7.5],
    "NUMERIC(10, 0)": [5, 2**53, 2**53 + 1, -(2**63), 9_999_999_999, 10_000_000_000, 0],
}


@pytest.mark.parametrize("declared", EDGES)
def test_whole_columns_convert_as_each_value_would(declared: str) -> None:
    # The ADBC path converts a column of one storage class at once; each value must come
    # out as the per-value conversion (the guarded path's) makes it, or be left to it.
    from dbnb.read import frames

    found = sqlite_types.declared(declared)
    assert found is not None
    good = EDGES[declared][0]
    assert found.whole is not None
    assert sqlite_types.whole_column(pa.chunked_array([pa.array([good, None])]), found) is not None
    for value in EDGES[declared]:
        for values in ([value], [good, value, None]):
            each = frames.column(values, found)
            whole = sqlite_types.whole_column(pa.chunked_array([pa.array(values)]), found)
            if whole is None:
                continue  # left to the per-value conversion, as it should be
            whole = pd.Series(whole)
            pd.testing.assert_series_equal(whole, each, check_exact=True)
            assert [type(v) for v in whole.tolist()] == [type(v) for v in each.tolist()]


# --- an empty result has the dtypes of a full one (issue 23) ---------------------------


def test_an_empty_result_has_the_dtypes_of_a_full_one(db: dbnb.Database, backend: str) -> None:
    # Every common type of the database (tests/test_see_types.py): enums, arrays, JSON,
    # inet, uuid, SET, BIT, TIME, YEAR, decimals, SQLite's declared types.
    create_types_table(db, backend)
    full = db.query("SELECT * FROM see_types")
    assert len(full) == TYPES_ROWS
    empty = db.query("SELECT * FROM see_types WHERE id < 0")
    nulls = db.query("SELECT * FROM see_types WHERE id = 7")  # NULL in every column but id
    chunk = next(iter(db.query("SELECT * FROM see_types WHERE id < 0", chunksize=10)))
    # An unconstrained numeric's decimal128(38, s) takes its scale from the values
    # (#23's aggregates rule): with none, s is 0. Every other column is as when full.
    by_values = ["n"] if backend == "postgresql" else []
    for found in (empty, nulls, chunk):
        assert dict(found.drop(columns=by_values).dtypes) == dict(
            full.drop(columns=by_values).dtypes
        )
    if by_values:
        assert str(full["n"].dtype) == "decimal128(38, 2)[pyarrow]"
        assert str(empty["n"].dtype) == str(chunk["n"].dtype) == "decimal128(38, 0)[pyarrow]"
    pages = pd.concat([empty.drop(columns=by_values), full.drop(columns=by_values)])
    assert pages.dtypes.equals(full.drop(columns=by_values).dtypes)  # pages concatenate as they are


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_columns_with_no_value_take_their_declared_affinity(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS aff"))
        session.execute(
            text(
                "CREATE TABLE aff (a BIGINT, b VARCHAR(5), c CLOB, d DOUBLE PRECISION, "
                "e FLOAT, f BLOB, g NUMERIC, h, i DATETIME)"
            )
        )
        session.execute(
            text("INSERT INTO aff VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
        )
    frame = db.query("SELECT * FROM aff")
    assert [str(dtype) for dtype in frame.dtypes] == [
        "int64[pyarrow]",
        "string[pyarrow]",
        "string[pyarrow]",
        "double[pyarrow]",
        "double[pyarrow]",
        "binary[pyarrow]",
        "object",  # NUMERIC affinity: integers or reals, no value says which
        "object",  # no declared type: anything
        "timestamp[us, tz=UTC][pyarrow]",
    ]
    assert frame.isna().all().all()
    mixed = db.query("SELECT a || 'x' AS a FROM aff")  # an expression: no declared type
    assert str(mixed["a"].dtype) == "object"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_types_read_as_text_are_text_when_empty(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS texty"))
        session.execute(text("DROP TYPE IF EXISTS texty_mood"))
        session.execute(text("CREATE TYPE texty_mood AS ENUM ('sad', 'ok')"))
        session.execute(text("CREATE TABLE texty (m texty_mood, cash money, bits bit(3))"))
        session.execute(text("INSERT INTO texty VALUES ('ok', 1.5, B'101')"))
    full = db.query("SELECT * FROM texty")
    empty = db.query("SELECT * FROM texty WHERE false")
    # money is a number (its currency's scale, from lc_monetary); the others text.
    assert full.iloc[0].tolist() == ["ok", Decimal("1.50"), "101"]
    assert [str(dtype) for dtype in full.dtypes] == [
        "string[pyarrow]",
        "decimal128(19, 2)[pyarrow]",
        "string[pyarrow]",
    ]
    assert dict(empty.dtypes) == dict(full.dtypes)


def _rows(table: Any) -> list[dict[str, Any]]:
    """An Arrow table's or a polars frame's rows, as dicts."""
    return list(table.to_pylist() if isinstance(table, pa.Table) else table.to_dicts())


@pytest.mark.parametrize("backend", ["mysql"])
def test_mariadb_json_by_plain_sql_is_python_values(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS `js``on`"))
        session.execute(
            text(
                "CREATE TABLE `js``on` (id INT PRIMARY KEY, `d``oc` JSON, "
                "checked LONGTEXT CHECK (json_valid(checked)), "
                "plain LONGTEXT COLLATE utf8mb4_bin)"  # described exactly as JSON is
            )
        )
        session.connection().exec_driver_sql(
            "INSERT INTO `js``on` VALUES (1, '{\"a\": [1, 2]}', '[true]', '{\"a\": 1}'), "
            "(2, NULL, NULL, NULL)"
        )
    frame = db.query("SELECT * FROM `js``on` ORDER BY id")
    assert frame["d`oc"].tolist()[0] == {"a": [1, 2]}
    assert frame["checked"].tolist()[0] == [True]
    assert frame["plain"].tolist()[0] == '{"a": 1}'  # no check: text
    assert [str(dtype) for dtype in frame.dtypes] == [
        "int32[pyarrow]",
        "object",
        "object",
        "string[pyarrow]",
    ]
    empty = db.query("SELECT * FROM `js``on` WHERE id < 0")
    assert dict(empty.dtypes) == dict(frame.dtypes)
    # Streamed under max_rows: looked up once the rows are read, before their values.
    capped = db.query("SELECT * FROM `js``on` ORDER BY id", max_rows=5)
    pd.testing.assert_frame_equal(capped, frame)
    # In chunks the first is made while the server still sends the rest: described
    # before it ran, every chunk parses the same columns, the first as the last.
    sql = "SELECT * FROM `js``on` WHERE id > :low ORDER BY id"
    chunks = list(db.query(sql, {"low": 0}, chunksize=1))
    assert [chunk["d`oc"].tolist() for chunk in chunks] == [[{"a": [1, 2]}], [None]]
    assert chunks[1]["checked"].tolist() == [None]
    for chunk in chunks:
        assert dict(chunk.dtypes) == dict(frame.dtypes)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame)
    assert dict(next(iter(db.query(sql, {"low": 9}, chunksize=1))).dtypes) == dict(frame.dtypes)
    for output in ("arrow", "polars"):
        whole = db.query(sql, {"low": 0}, output=output)
        parts = list(db.query(sql, {"low": 0}, chunksize=1, output=output))
        assert [part.schema for part in parts] == [whole.schema] * 2
        assert [row for part in parts for row in _rows(part)] == _rows(whole)
    # An expression over the column is not the column: JSON_EXTRACT's text stays text.
    extracted = db.query("SELECT JSON_EXTRACT(`d``oc`, '$.a') AS a FROM `js``on` WHERE id = 1")
    assert extracted["a"].tolist() == ["[1, 2]"]
