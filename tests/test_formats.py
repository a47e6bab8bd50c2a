"""Results as pandas, polars or Arrow: db.query(output=...), chunks, and %%db --as."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import text

import dbnb
from dbnb.backends.postgresql import adbc
from tests.magic_fixtures import db as run

pytestmark = pytest.mark.usefixtures("read_path")  # the columnar path and the guarded one

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")

TABLE = {
    "postgresql": """CREATE TABLE fmt (
        i int, b bigint, n numeric(10, 2), big numeric, t timestamptz, ts timestamp,
        d date, s text, j jsonb, u uuid, iv interval, f double precision, bl boolean)""",
    "sqlite": """CREATE TABLE fmt (
        i INTEGER, b BIGINT, n NUMERIC(10, 2), t DATETIME, d DATE, s TEXT, j JSON,
        u CHAR(32), f FLOAT, bl BOOLEAN)""",
    # MariaDB: TIMESTAMP is an instant (read in UTC), DATETIME a wall time; UUID is 10.7's.
    "mysql": """CREATE TABLE fmt (
        i INT, b BIGINT, n DECIMAL(10, 2), t TIMESTAMP(6) NULL, ts DATETIME(6),
        d DATE, s TEXT, j JSON, u UUID, f DOUBLE, bl BOOLEAN)""",
}
ROWS = {
    "postgresql": """INSERT INTO fmt VALUES
        (1, 9007199254740993, 1.25, 12345678901234567890123456789012345678901.5,
         '2024-05-01 10:30:00.123456+02', '2024-05-01 10:30:00', '2024-05-01', 'é',
         '{"a": [1, 2]}', '12345678-1234-5678-1234-567812345678', '1 day 2 hours', 0.5, true),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
    "sqlite": """INSERT INTO fmt VALUES
        (1, 9007199254740993, 1.25, '2024-05-01 08:30:00.123456', '2024-05-01', 'é',
         '{"a": [1, 2]}', '12345678123456781234567812345678', 0.5, 1),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
    "mysql": """INSERT INTO fmt VALUES
        (1, 9007199254740993, 1.25, '2024-05-01 08:30:00.123456', '2024-05-01 10:30:00',
         '2024-05-01', 'é', '{"a": [1, 2]}', '12345678-1234-5678-1234-567812345678', 0.5, true),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
}
# The Arrow type of each column: the documented dtypes' Arrow types, JSON and UUID
# as Arrow's extension types, an unconstrained numeric as its decimal text. MariaDB
# sends UUID as text, with no type of its own on the wire; its JSON (a LONGTEXT) is
# known by its table's json_valid check.
ARROW = {
    "i": {"postgresql": pa.int32(), "sqlite": pa.int64(), "mysql": pa.int32()},
    "b": {"postgresql": pa.int64(), "sqlite": pa.int64(), "mysql": pa.int64()},
    "n": {
        "postgresql": pa.decimal128(10, 2),
        "sqlite": pa.decimal128(10, 2),
        "mysql": pa.decimal128(10, 2),
    },
    "big": {"postgresql": pa.string()},
    "t": {
        "postgresql": pa.timestamp("us", "UTC"),
        "sqlite": pa.timestamp("us", "UTC"),
        "mysql": pa.timestamp("us", "UTC"),
    },
    "ts": {"postgresql": pa.timestamp("us"), "mysql": pa.timestamp("us")},
    "d": {"postgresql": pa.date32(), "sqlite": pa.date32(), "mysql": pa.date32()},
    "s": {"postgresql": pa.string(), "sqlite": pa.string(), "mysql": pa.string()},
    "j": {"postgresql": pa.json_(), "sqlite": pa.json_(), "mysql": pa.json_()},
    "u": {"postgresql": pa.uuid(), "sqlite": pa.uuid(), "mysql": pa.string()},
    "iv": {"postgresql": pa.duration("us")},
    "f": {"postgresql": pa.float64(), "sqlite": pa.float64(), "mysql": pa.float64()},
    "bl": {"postgresql": pa.bool_(), "sqlite": pa.bool_(), "mysql": pa.bool_()},
}
POLARS = {
    "i": {"postgresql": pl.Int32, "sqlite": pl.Int64, "mysql": pl.Int32},
    "b": {"postgresql": pl.Int64, "sqlite": pl.Int64, "mysql": pl.Int64},
    "n": {"postgresql": pl.Decimal(10, 2), "sqlite": pl.Decimal(10, 2), "mysql": pl.Decimal(10, 2)},
    "big": {"postgresql": pl.String},
    "t": {
        "postgresql": pl.Datetime("us", "UTC"),
        "sqlite": pl.Datetime("us", "UTC"),
        "mysql": pl.Datetime("us", "UTC"),
    },
    "ts": {"postgresql": pl.Datetime("us"), "mysql": pl.Datetime("us")},
    "d": {"postgresql": pl.Date, "sqlite": pl.Date, "mysql": pl.Date},
    "s": {"postgresql": pl.String, "sqlite": pl.String, "mysql": pl.String},
    "j": {"postgresql": pl.String, "sqlite": pl.String, "mysql": pl.String},
    "u": {"postgresql": pl.String, "sqlite": pl.String, "mysql": pl.String},
    "iv": {"postgresql": pl.Duration("us"), "sqlite": None},
    "f": {"postgresql": pl.Float64, "sqlite": pl.Float64, "mysql": pl.Float64},
    "bl": {"postgresql": pl.Boolean, "sqlite": pl.Boolean, "mysql": pl.Boolean},
}


@pytest.fixture
def typed(db: dbnb.Database, backend: str) -> dbnb.Database:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS fmt"))
        session.execute(text(TABLE[backend]))
        session.execute(text(ROWS[backend]))
    return db


def expected(table: dict[str, dict[str, object]], backend: str) -> dict[str, object]:
    return {name: kinds[backend] for name, kinds in table.items() if backend in kinds}


def test_arrow_keeps_every_type(typed: dbnb.Database, backend: str) -> None:
    table = typed.query("SELECT * FROM fmt ORDER BY i IS NULL, i", output="arrow")
    assert isinstance(table, pa.Table)
    assert {field.name: field.type for field in table.schema} == expected(ARROW, backend)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["n"] == Decimal("1.25")
    assert first["b"] == 9007199254740993  # past 2**53: no float on the way
    assert first["t"] == pd.Timestamp("2024-05-01 08:30:00.123456", tz="UTC")
    # arrow.uuid: 16 bytes, read back as a UUID; MariaDB's UUID reaches the client as text
    assert first["u"] == (str(UID) if backend == "mysql" else UID)
    assert first["j"].replace(" ", "") == '{"a":[1,2]}'  # the JSON text
    if backend == "postgresql":
        assert first["big"] == "12345678901234567890123456789012345678901.5"  # every digit
        assert first["iv"] == pd.Timedelta(days=1, hours=2)
    assert all(value is None for value in table.slice(1, 1).to_pylist()[0].values())


def test_polars_keeps_every_type(typed: dbnb.Database, backend: str) -> None:
    frame = typed.query("SELECT * FROM fmt ORDER BY i IS NULL, i", output="polars")
    assert isinstance(frame, pl.DataFrame)
    wanted = {name: kind for name, kind in expected(POLARS, backend).items() if kind is not None}
    assert dict(frame.schema) == wanted
    assert frame["n"][0] == Decimal("1.25")
    assert frame["b"][0] == 9007199254740993
    assert frame["u"][0] == str(UID)
    assert frame["t"][0].isoformat() == "2024-05-01T08:30:00.123456+00:00"
    assert frame.row(1) == (None,) * frame.width


def test_pandas_stays_the_default(typed: dbnb.Database) -> None:
    frame = typed.query("SELECT i, n FROM fmt", output="pandas")
    assert isinstance(frame, pd.DataFrame)
    assert str(frame["n"].dtype) == "decimal128(10, 2)[pyarrow]"


def test_chunks_follow_output(typed: dbnb.Database, backend: str) -> None:
    with typed.session(write=True) as session:
        session.execute(text("INSERT INTO fmt (i, n) VALUES (2, 2.5), (3, 3.5), (4, 4.5)"))
    sql = "SELECT i, n FROM fmt WHERE i IS NOT NULL ORDER BY i"
    tables = list(typed.query(sql, chunksize=3, output="arrow"))
    assert [table.num_rows for table in tables] == [3, 1]
    assert all(table.schema.field("n").type == pa.decimal128(10, 2) for table in tables)
    frames = list(typed.query(sql, chunksize=2, output="polars"))
    assert all(isinstance(frame, pl.DataFrame) for frame in frames)
    assert pl.concat(frames)["i"].to_list() == [1, 2, 3, 4]
    assert frames[0].schema["n"] == pl.Decimal(10, 2)


def test_an_empty_result_keeps_its_columns(typed: dbnb.Database, backend: str) -> None:
    table = typed.query("SELECT i, n FROM fmt WHERE i = -1", output="arrow")
    assert table.num_rows == 0
    assert table.column_names == ["i", "n"]


def test_arrow_results_are_recorded_in_the_history(typed: dbnb.Database) -> None:
    dbnb.clear_history()
    typed.query("SELECT i FROM fmt WHERE i = :i", {"i": 1}, output="arrow")
    history = dbnb.history()
    assert list(history["rows"]) == [1]
    assert "WHERE i =" in history["sql"].iloc[0]


def test_an_unknown_output_is_refused(typed: dbnb.Database) -> None:
    with pytest.raises(ValueError, match="pandas, polars, arrow"):
        typed.query("SELECT 1", output="excel")  # type: ignore[call-overload]


# Only the columnar PostgreSQL path hands its Arrow tables on as they are.
@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("read_path", ["arrow"])
def test_postgresql_arrow_builds_no_pandas_frame(
    typed: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:

    def no_frame(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pandas frame was built")

    monkeypatch.setattr(adbc, "to_frame", no_frame)
    monkeypatch.setattr(adbc, "read_converting", no_frame)
    table = typed.query("SELECT n, j, u FROM fmt", output="arrow")
    assert table.schema.field("n").type == pa.decimal128(10, 2)
    assert pl.from_arrow(table.select(["n"])).schema["n"] == pl.Decimal(10, 2)
    assert typed.query("SELECT n FROM fmt", output="polars").schema["n"] == pl.Decimal(10, 2)


def test_cell_as_polars_and_arrow(ip: InteractiveShell, backend: str) -> None:
    run(ip, f"use {backend}")
    result = run(ip, "-o got --as polars", "SELECT 1 AS one, 'a' AS letter")
    assert isinstance(result, pl.DataFrame)
    assert ip.user_ns["got"] is result
    assert result.to_dicts() == [{"one": 1, "letter": "a"}]
    table = run(ip, "--as arrow SELECT 2 AS two")
    assert isinstance(table, pa.Table)
    assert table.to_pylist() == [{"two": 2}]
    # A cell of several statements, converted from its last result.
    cell = "SELECT 1 AS x; SELECT 3 AS y"
    assert run(ip, "--as arrow", cell).to_pylist() == [{"y": 3}]
