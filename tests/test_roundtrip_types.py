"""What a read of a table gives writes back to that table unchanged (issue 23), on
SQLite, PostgreSQL and MariaDB: tables declared in plain SQL, as users' are, read by
``SELECT *``, written back by append (to an empty copy) and upsert, read again: the
same values and dtypes, on both read paths. Then the same by property, over generated
rows of every type at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import dbnb

# Every test here holds on both read paths (columnar, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")

# column -> (its declaration, rows of it as SQL literals); each table also has `id`.
SQLITE: dict[str, tuple[str, list[str]]] = {
    "datetime": ("DATETIME", ["'2024-01-02 03:04:05.123456'", "'1999-12-31 23:59:59'", "NULL"]),
    "timestamp": ("TIMESTAMP", ["'2024-01-02 03:04:05'", "NULL"]),
    "decimal": ("DECIMAL(12, 2)", ["12.35", "-0.01", "NULL"]),
    "numeric": ("NUMERIC", ["12.5", "8.95", "NULL"]),
    "boolean": ("BOOLEAN", ["1", "0", "NULL"]),
    "json": ("JSON", ['\'{"a": [1, 2.5, null], "ü": "x"}\'', "'[]'", "NULL"]),
    "uuid": ("CHAR(32)", ["'12345678123456781234567812345678'", "NULL"]),
    "date": ("DATE", ["'2024-02-29'", "NULL"]),
    "time": ("TIME", ["'03:04:05.000000'", "NULL"]),
    "real": ("REAL", ["1.5", "NULL"]),
    "integer": ("INTEGER", ["5", "NULL"]),
    "text": ("TEXT", ["'it''s \"ü\"'", "NULL"]),
    "varchar": ("VARCHAR(10)", ["'x'", "NULL"]),
    "blob": ("BLOB", ["x'00ff'", "NULL"]),
}
POSTGRESQL: dict[str, tuple[str, list[str]]] = {
    "timestamptz": (
        "timestamptz",
        ["'2024-01-02 03:04:05.123456+09'", "'0001-01-01 00:00Z'", "NULL"],
    ),
    "timestamp": ("timestamp", ["'2024-01-02 03:04:05.123456'", "NULL"]),
    "decimal": ("numeric(12, 2)", ["12.35", "-9999999999.99", "NULL"]),
    "numeric": ("numeric", ["12.5", "'NaN'", "1e-30", "NULL"]),
    "boolean": ("boolean", ["true", "false", "NULL"]),
    "json": ("json", ['\'{"a": [1, 2.5, null], "ü": "x"}\'', "'\"text\"'", "NULL"]),
    "jsonb": ("jsonb", ['\'{"a": [1, 2.5, null], "ü": "x"}\'', "'3'", "NULL"]),
    "enum": ("rt_mood", ["'happy'", "'sad'", "NULL"]),
    "text_array": ("text[]", ["ARRAY['a', NULL, 'it''s']", "'{}'", "NULL"]),
    "int_array": ("int[]", ["ARRAY[1, -2147483648]", "NULL"]),
    "numeric_array": ("numeric[]", ["ARRAY[1.5, 2]", "NULL"]),
    "enum_array": ("rt_mood[]", ["ARRAY['happy', 'sad']::rt_mood[]", "NULL"]),
    "uuid": ("uuid", ["'12345678-1234-5678-1234-567812345678'", "NULL"]),
    "date": ("date", ["'2024-02-29'", "NULL"]),
    "time": ("time", ["'03:04:05.5'", "NULL"]),
    "interval": ("interval", ["'1 day 02:00:00.25'", "NULL"]),
    "inet": ("inet", ["'10.0.0.1'", "'::1'", "NULL"]),
    "cidr": ("cidr", ["'10.0.0.0/8'", "NULL"]),
    "macaddr": ("macaddr", ["'08:00:2b:01:02:03'", "NULL"]),
    "varbit": ("varbit", ["B'101'", "NULL"]),
    "money": ("money", ["12.35", "'-1.5'", "NULL"]),
    "real": ("real", ["1.5", "'NaN'", "NULL"]),
    "double": ("double precision", ["0.1", "'-Infinity'", "NULL"]),
    "smallint": ("smallint", ["-32768", "NULL"]),
    "text": ("text", ["'it''s \"ü\"'", "NULL"]),
    "bytea": ("bytea", ["'\\x00ff'", "NULL"]),
}
MARIADB: dict[str, tuple[str, list[str]]] = {
    "datetime": ("DATETIME(6)", ["'2024-01-02 03:04:05.123456'", "NULL"]),
    "datetime0": ("DATETIME", ["'2024-01-02 03:04:05'", "NULL"]),
    "timestamp": ("TIMESTAMP(6) NULL", ["'2024-01-02 03:04:05.123456'", "NULL"]),
    "decimal": ("DECIMAL(12, 2)", ["12.35", "-9999999999.99", "NULL"]),
    "wide_decimal": ("DECIMAL(65, 30)", ["12.5", "NULL"]),
    "boolean": ("BOOLEAN", ["1", "0", "NULL"]),
    "json": ("JSON", ['\'{"a": [1, 2.5, null], "ü": "x"}\'', "'\"text\"'", "NULL"]),
    "enum": ("ENUM('happy', 'sad')", ["'happy'", "NULL"]),
    "set": ("SET('a', 'b')", ["'a,b'", "''", "'b'", "NULL"]),
    "uuid": ("UUID", ["'12345678-1234-5678-1234-567812345678'", "NULL"]),
    "inet4": ("INET4", ["'10.0.0.1'", "NULL"]),
    "date": ("DATE", ["'2024-02-29'", "NULL"]),
    "time": ("TIME(6)", ["'03:04:05.5'", "NULL"]),
    "year": ("YEAR", ["2024", "NULL"]),
    "float": ("FLOAT", ["1.5", "NULL"]),
    "double": ("DOUBLE", ["0.1", "NULL"]),
    "tinyint": ("TINYINT", ["-128", "NULL"]),
    "unsigned": ("INT UNSIGNED", ["4294967295", "NULL"]),
    "text": ("TEXT", ["'it''s \"ü\"'", "NULL"]),
    "blob": ("BLOB", ["x'00ff'", "NULL"]),
    "bit": ("BIT(8)", ["b'101'", "NULL"]),
}
CASES = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "mysql": MARIADB}
# What the columnar path leaves to the guarded one, decided before the read runs:
# connectorx fails MariaDB's TIME past a day, and DECIMALs of more than 28 digits.
GUARDED_ALWAYS = {("mysql", "time"), ("mysql", "wide_decimal")}
PG_TYPES = "CREATE TYPE rt_mood AS ENUM ('happy', 'sad', 'ünïcødé')"


def create(database: dbnb.Database, columns: str, *tables: str) -> None:
    """``tables`` anew, each ``(id INTEGER PRIMARY KEY, {columns})``."""
    backend = database.config.backend
    with database.session(write=True) as session:
        for table in tables:
            session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        if backend == "postgresql":
            session.execute(text("DROP TYPE IF EXISTS rt_mood CASCADE"))
            session.execute(text(PG_TYPES))
        for table in tables:
            session.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, {columns})"))


def read(database: dbnb.Database, table: str) -> pd.DataFrame:
    return database.query(f"SELECT * FROM {table} ORDER BY id")


def same(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal values (NaN where NaN) and equal dtypes."""
    pd.testing.assert_frame_equal(found, expected, check_exact=True)
    assert list(found.dtypes) == list(expected.dtypes)


def last_path() -> str:
    return str(dbnb.history()["path"].iloc[-1])


CASE_PARAMS = [
    pytest.param(backend, column, id=f"{backend}-{column}")
    for backend, cases in CASES.items()
    for column in cases
]


@pytest.mark.parametrize(("backend", "column"), CASE_PARAMS)
def test_a_read_writes_back_unchanged(
    registry: dbnb.Registry, backend: str, column: str, read_path: str
) -> None:
    declared, literals = CASES[backend][column]
    database = registry.connect(backend)
    source, copy = f"rt_{column}", f"rt_{column}_copy"
    create(database, f"v {declared}", source, copy)
    with database.session(write=True) as session:
        for position, literal in enumerate(literals):
            session.execute(text(f"INSERT INTO {source} VALUES ({position}, {literal})"))
    back = read(database, source)
    columnar = read_path == "arrow" and (backend, column) not in GUARDED_ALWAYS
    assert last_path() == ("columnar" if columnar else "guarded")
    assert len(back) == len(literals)
    assert back["v"].isna().sum() >= literals.count("NULL")  # NaN counts too

    assert database.write(back, copy) == len(back)  # append, into an empty copy
    same(read(database, copy), back)
    database.write(back, source, mode="upsert")  # back where it came from
    same(read(database, source), back)
    # Once more, nothing changes: an upsert leaves equal rows alone (PostgreSQL's json
    # has no equality, so there every matched row is updated).
    unchanged = database.write(back, source, mode="upsert")
    assert unchanged == (len(back) if (backend, column) == ("postgresql", "json") else 0)
    values = back["v"].tolist()
    values[-1] = values[0]  # a NULL becomes a value
    edited = back.assign(v=pd.Series(values, index=back.index, dtype=back["v"].dtype))
    database.write(edited, copy, mode="upsert")
    same(read(database, copy), edited)


def test_sqlite_datetime_upserts_what_it_read(registry: dbnb.Registry) -> None:
    """Issue 23's report: a DATETIME read (as UTC) refused as "time-zone-aware"."""
    database = registry.connect("sqlite")
    create(database, "placed DATETIME", "t")
    with database.session(write=True) as session:
        session.execute(text("INSERT INTO t VALUES (1, '2024-01-02 03:04:05')"))
    back = database.query("SELECT * FROM t")
    assert str(back["placed"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    back.loc[0, "placed"] += pd.Timedelta(hours=1)
    assert database.write(back, "t", mode="upsert") == 1
    same(database.query("SELECT * FROM t"), back)
    with database.session(write=True) as session:  # stored as SQLAlchemy stores UTC
        stored = session.execute(text("SELECT placed FROM t")).scalar_one()
    assert stored == "2024-01-02 04:04:05.000000"


def test_aware_timestamps_are_stored_as_utc_where_reads_give_utc(
    registry: dbnb.Registry, backend: str
) -> None:
    """SQLite's DATETIME and MariaDB's TIMESTAMP read as UTC: an aware timestamp in any
    zone is written as its UTC time. PostgreSQL's timestamp (without time zone) is a
    wall-clock time: an aware one is refused there, naming the column's type."""
    database = registry.connect(backend)
    declared = {"sqlite": "DATETIME", "mysql": "TIMESTAMP(6) NULL", "postgresql": "timestamp"}
    create(database, f"at {declared[backend]}", "stamps")
    tokyo = pd.Timestamp("2024-01-02 12:00", tz="Asia/Tokyo")
    frame = pd.DataFrame({"id": [1], "at": [tokyo]})
    if backend == "postgresql":
        with pytest.raises(dbnb.ValidationError, match="WITHOUT time zone") as caught:
            database.write(frame, "stamps")
        assert (caught.value.row, caught.value.column) == (0, "at")
        return
    database.write(frame, "stamps")
    assert read(database, "stamps")["at"].iloc[0] == pd.Timestamp("2024-01-02 03:00", tz="UTC")


def test_uuids_in_text_columns_take_the_form_reads_find(registry: dbnb.Registry) -> None:
    """A CHAR(32) holds SQLAlchemy's Uuid (32 hex digits, which SQLite's reads give as
    UUIDs); any other text column the canonical 36 characters."""
    database = registry.connect("sqlite")
    create(database, "hex CHAR(32), canonical TEXT", "ids")
    value = uuid.UUID("12345678-1234-5678-1234-56781234abcd")
    database.write(
        pd.DataFrame({"id": [1, 2], "hex": [value, None], "canonical": [value, None]}), "ids"
    )
    with database.session(write=True) as session:
        stored = session.execute(text("SELECT hex, canonical FROM ids ORDER BY id")).all()
    assert [tuple(row) for row in stored] == [(value.hex, str(value)), (None, None)]
    assert read(database, "ids")["hex"].tolist() == [value, None]


@pytest.mark.parametrize("backend", ["mysql"])
def test_a_set_takes_its_members_joined_by_commas(registry: dbnb.Registry, backend: str) -> None:
    database = registry.connect(backend)
    create(database, "tags SET('a', 'b')", "sets")
    database.write(pd.DataFrame({"id": [1, 2, 3], "tags": ["a,b", "", None]}), "sets")
    assert read(database, "sets")["tags"].tolist() == ["a,b", "", pd.NA]
    with pytest.raises(dbnb.ValidationError) as caught:
        database.write(pd.DataFrame({"id": [7, 8], "tags": ["b", "a,c"]}), "sets")
    error = caught.value
    assert (error.row, error.column, error.value) == (1, "tags", "a,c")
    assert "not members of SET('a','b') joined by commas" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_floats_into_a_numeric_of_any_precision(registry: dbnb.Registry, backend: str) -> None:
    """A float is the decimal its shortest repr writes, into an unconstrained numeric
    too; NaN does not fit one (SQLite's reads never give it)."""
    database = registry.connect(backend)
    create(database, "n NUMERIC", "numbers")
    database.write(pd.DataFrame({"id": [1, 2, 3], "n": [8.95, 1e-7, None]}), "numbers")
    values = read(database, "numbers")["n"].tolist()
    if backend == "postgresql":
        assert values[:2] == [Decimal("8.95"), Decimal("1E-7")]
    else:
        assert values[:2] == [8.95, 1e-7]
    assert pd.isna(values[2])
    with pytest.raises(dbnb.ValidationError, match="NaN and infinity do not fit") as caught:
        database.write(pd.DataFrame({"id": [4, 5], "n": [1.0, float("inf")]}), "numbers")
    assert (caught.value.row, caught.value.column) == (1, "n")


MISFITS = [
    ("sqlite", "DECIMAL(12, 2)", 8.95, 1e12, "does not fit numeric(12, 2)"),
    ("sqlite", "INTEGER", 2, 2.5, "not a whole number, for INTEGER"),
    ("postgresql", "numeric(6, 2)", Decimal("1.5"), Decimal("0.125"), "does not fit numeric(6, 2)"),
    ("postgresql", "smallint", 1, 40000, "out of range (-32768 to 32767) for SMALLINT"),
    ("postgresql", "int[]", [1], [2**40], "elements do not fit INTEGER[]"),
    ("postgresql", "rt_mood", "sad", "glad", "not one of happy, sad, ünïcødé"),
    (
        "mysql",
        "INT UNSIGNED",
        2**32 - 1,
        -1,
        "out of range (0 to 4294967295) for INTEGER(10) UNSIGNED",
    ),
    ("mysql", "DECIMAL(65, 30)", Decimal("1.5"), Decimal("1e40"), "does not fit numeric(65, 30)"),
    ("mysql", "SET('a', 'b')", "a", "a,c", "not members of SET('a','b') joined by commas"),
]


@pytest.mark.parametrize(
    ("backend", "declared", "fits", "misfit", "reason"),
    [pytest.param(*misfit, id=f"{misfit[0]}-{misfit[1]}") for misfit in MISFITS],
)
def test_a_value_that_does_not_fit_is_one_line(
    registry: dbnb.Registry, backend: str, declared: str, fits: Any, misfit: Any, reason: str
) -> None:
    """Named by its row, column, value and the column's type, before anything is sent."""
    database = registry.connect(backend)
    create(database, f"v {declared}", "misfits")
    frame = pd.DataFrame({"id": [1, 2], "v": pd.Series([fits, misfit], dtype=object)})
    with pytest.raises(dbnb.ValidationError) as caught:
        database.write(frame, "misfits", mode="upsert")
    error = caught.value
    assert (error.row, error.column, error.value) == (1, "v", misfit)
    assert reason in str(error)
    assert "\n" not in str(error)
    assert read(database, "misfits").empty


# --- property: generated rows of every type, read -> write -> read ---------------------

TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(-1e15, 1e15) | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)
ZONES = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=9)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]
)
DECIMALS = st.decimals(
    min_value=Decimal("-9999999999.99"), max_value=Decimal("9999999999.99"), places=2
)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def timestamps(low: int, high: int, zoned: bool) -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(
        min_value=dt.datetime(low, 1, 2),
        max_value=dt.datetime(high, 12, 30),
        timezones=ZONES if zoned else st.none(),
    )


# RFC 4122 UUIDs of a known version: MariaDB's UUID type refuses the others.
UUIDS = st.uuids().map(lambda u: uuid.UUID(int=u.int, version=4))
# PostgreSQL's numeric: any scale, NaN and infinities (Decimal's signalling NaN is no value).
NUMERICS = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
# DECIMAL(65, 30)'s extremes, as literals: Decimal arithmetic (even -x) rounds to 28 digits.
WIDEST = "9" * 35 + "." + "9" * 30
WIDE = st.decimals(Decimal("-" + WIDEST), Decimal(WIDEST), places=30)
DURATIONS = st.timedeltas(dt.timedelta(days=-10000), dt.timedelta(days=10000))

# database -> column -> (declaration, values)
GENERATED: dict[str, dict[str, tuple[str, st.SearchStrategy[Any]]]] = {
    "sqlite": {
        "i": ("INTEGER", st.integers(-(2**63), 2**63 - 1)),
        "f": ("REAL", st.floats(allow_nan=False)),
        "amount": ("DECIMAL(12, 2)", DECIMALS),
        "num": ("NUMERIC", st.floats(-1e15, 1e15)),
        "s": ("TEXT", TEXT),
        "flag": ("BOOLEAN", st.booleans()),
        "aware": ("DATETIME", timestamps(1, 9999, zoned=True)),
        "naive": ("DATETIME", timestamps(1, 9999, zoned=False)),
        "d": ("DATE", st.dates()),
        "doc": ("JSON", st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
        "u": ("CHAR(32)", UUIDS),
        "t": ("TIME", st.times()),
        "b": ("BLOB", st.binary(max_size=8)),
    },
    "postgresql": {
        "i": ("integer", st.integers(-(2**31), 2**31 - 1)),
        "big": ("bigint", st.integers(-(2**63), 2**63 - 1)),
        "f": ("double precision", st.floats()),
        "amount": ("numeric(12, 2)", DECIMALS),
        "s": ("text", TEXT),
        "flag": ("boolean", st.booleans()),
        "aware": ("timestamptz", timestamps(1, 9999, zoned=True)),
        "naive": ("timestamp", timestamps(1, 9999, zoned=False)),
        "d": ("date", st.dates()),
        "doc": ("jsonb", st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
        "u": ("uuid", UUIDS),
        "mood": ("rt_mood", st.sampled_from(["happy", "sad", "ünïcødé"])),
        "tags": ("text[]", st.lists(nullable(TEXT), max_size=3)),
        "ints": ("int[]", st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3)),
        "num": ("numeric", NUMERICS),
        "r": ("real", st.floats(width=32)),
        "t": ("time", st.times()),
        "iv": ("interval", DURATIONS),
        "b": ("bytea", st.binary(max_size=8)),
    },
    "mysql": {
        "i": ("INT", st.integers(-(2**31), 2**31 - 1)),
        "big": ("BIGINT", st.integers(-(2**63), 2**63 - 1)),
        "f": ("DOUBLE", st.floats(allow_nan=False, allow_infinity=False)),
        "amount": ("DECIMAL(12, 2)", DECIMALS),
        "s": ("TEXT", TEXT),
        "flag": ("BOOLEAN", st.booleans()),
        "aware": ("TIMESTAMP(6) NULL", timestamps(1971, 2037, zoned=True)),
        "naive": ("DATETIME(6)", timestamps(1000, 9999, zoned=False)),
        "d": ("DATE", st.dates(dt.date(1000, 1, 1))),
        "doc": ("JSON", st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
        "u": ("UUID", UUIDS),
        "mood": ("ENUM('happy', 'sad', 'ünïcødé')", st.sampled_from(["happy", "sad", "ünïcødé"])),
        "tags": ("SET('a', 'b', 'c')", st.sampled_from(["", "a", "b,c", "a,b,c"])),
        "wide": ("DECIMAL(65, 30)", WIDE),
        "r": ("FLOAT", st.floats(width=32, allow_nan=False, allow_infinity=False)),
        "t": ("TIME(6)", st.times()),
        "b": ("BLOB", st.binary(max_size=8)),
    },
}


@pytest.fixture
def generated(registry: dbnb.Registry, backend: str) -> dbnb.Database:
    database = registry.connect(backend)
    columns = ", ".join(f"{name} {declared}" for name, (declared, _) in GENERATED[backend].items())
    create(database, columns, "rt_source", "rt_copy")
    return database


def records(backend: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    columns = {name: nullable(values) for name, (_, values) in GENERATED[backend].items()}
    return st.lists(st.fixed_dictionaries(columns), min_size=1, max_size=6)


def round_trip(database: dbnb.Database, rows: list[dict[str, Any]]) -> None:
    """Rows in (as Python values), then read -> write -> read, two ways."""
    columns = {"id": list(range(len(rows)))} | {
        name: [row[name] for row in rows] for name in rows[0]
    }
    users = pd.DataFrame(
        {name: pd.Series(values, dtype=object) for name, values in columns.items()}
    )
    database.write(users, "rt_source", mode="replace")
    back = read(database, "rt_source")
    with database.session(write=True) as session:
        session.execute(text("DELETE FROM rt_copy"))
    assert database.write(back, "rt_copy") == len(rows)
    same(read(database, "rt_copy"), back)
    database.write(back, "rt_source", mode="upsert")
    same(read(database, "rt_source"), back)


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("backend", ["sqlite"])
@PROPERTY
@given(rows=records("sqlite"))
def test_sqlite_read_write_read_is_the_identity(
    generated: dbnb.Database, rows: list[dict[str, Any]]
) -> None:
    round_trip(generated, rows)


@pytest.mark.parametrize("backend", ["postgresql"])
@PROPERTY
@given(rows=records("postgresql"))
def test_postgresql_read_write_read_is_the_identity(
    generated: dbnb.Database, rows: list[dict[str, Any]]
) -> None:
    round_trip(generated, rows)


@pytest.mark.parametrize("backend", ["mysql"])
@PROPERTY
@given(rows=records("mysql"))
def test_mariadb_read_write_read_is_the_identity(
    generated: dbnb.Database, rows: list[dict[str, Any]]
) -> None:
    round_trip(generated, rows)
