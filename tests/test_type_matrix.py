"""The types real schemas use, on each database and read path: each read gives the
documented value and dtype, an empty read the same dtype, and `dbnb.history()` names
the path that ran it (`columnar` unless the type is outside the columnar path's
table, decided before the statement ran). `max_rows` in force takes the guarded path
(it stops a runaway result there), so the same statement is read both ways."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

import dbnb
from dbnb.see import exports
from tests.fixtures import config_text


class Case(NamedTuple):
    expression: str  # the column `v`, selected from a one-row table `t`
    value: Any  # what the frame holds
    dtype: str  # its dtype, full or empty
    columnar: bool = True  # whether the columnar path reads it


STATUS = "matrix_status"
PG_SETUP = [
    f"DROP TYPE IF EXISTS {STATUS} CASCADE",
    f"CREATE TYPE {STATUS} AS ENUM ('new', 'paid', 'shipped')",
    "DROP DOMAIN IF EXISTS matrix_code CASCADE",
    "CREATE DOMAIN matrix_code AS text CHECK (VALUE <> '')",
    "DROP DOMAIN IF EXISTS matrix_positive CASCADE",
    "CREATE DOMAIN matrix_positive AS integer CHECK (VALUE > 0)",
    "DROP TYPE IF EXISTS matrix_pair CASCADE",
    "CREATE TYPE matrix_pair AS (n integer, label text)",
    "DROP TYPE IF EXISTS matrix_words CASCADE",
    "CREATE TYPE matrix_words AS RANGE (subtype = text)",
    "DROP TYPE IF EXISTS matrix_floats CASCADE",
    "CREATE TYPE matrix_floats AS RANGE (subtype = float8)",
    "DROP DOMAIN IF EXISTS matrix_period CASCADE",
    "CREATE DOMAIN matrix_period AS daterange CHECK (NOT isempty(VALUE))",
]
REF = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")

PG_CASES: dict[str, Case] = {
    "enum": Case(f"'paid'::{STATUS}", "paid", "string[pyarrow]"),
    "enum array": Case(f"ARRAY['paid', 'new']::{STATUS}[]", ["paid", "new"], "object"),
    "domain over text": Case("'A7'::matrix_code", "A7", "string[pyarrow]"),
    "domain over integer": Case("7::matrix_positive", 7, "int32[pyarrow]"),
    "text[]": Case("ARRAY['a', NULL, 'b, c']", ["a", None, "b, c"], "object"),
    "int[]": Case("ARRAY[1, NULL, 3]", [1, None, 3], "object"),
    "bigint[] empty": Case("'{}'::bigint[]", [], "object"),
    "numeric[]": Case("ARRAY[1.50, 2]::numeric[]", [Decimal("1.50"), Decimal("2")], "object"),
    "int[][] (flattened)": Case("ARRAY[[1, 2], [3, 4]]", [1, 2, 3, 4], "object"),
    "inet[]": Case("ARRAY['10.0.0.1'::inet, NULL]", ["10.0.0.1", None], "object"),
    "interval[]": Case("ARRAY['1 day'::interval]", [dt.timedelta(days=1)], "object"),
    "uuid[]": Case(f"ARRAY['{REF}'::uuid]", [REF], "object"),
    "jsonb[]": Case("ARRAY['[1, 2]'::jsonb]", [[1, 2]], "object"),
    "inet": Case("'192.168.0.1/24'::inet", "192.168.0.1/24", "string[pyarrow]"),
    "inet host": Case("'10.0.0.1'::inet", "10.0.0.1", "string[pyarrow]"),
    "inet IPv6": Case("'::ffff:1.2.3.4'::inet", "::ffff:1.2.3.4", "string[pyarrow]"),
    "cidr": Case("'10.0.0.0/8'::cidr", "10.0.0.0/8", "string[pyarrow]"),
    "macaddr": Case("'08:00:2B:01:02:03'::macaddr", "08:00:2b:01:02:03", "string[pyarrow]"),
    "macaddr8": Case(
        "'08:00:2b:01:02:03:04:05'::macaddr8", "08:00:2b:01:02:03:04:05", "string[pyarrow]"
    ),
    "interval": Case(
        "'1 mon 2 days 03:00'::interval",
        pd.Timedelta(days=32, hours=3),
        "duration[us][pyarrow]",
    ),
    "uuid": Case(f"'{REF}'::uuid", REF, "object"),
    "money": Case("'-1234.5'::money", Decimal("-1234.50"), "decimal128(19, 2)[pyarrow]"),
    "bit": Case("B'101'::bit(3)", "101", "string[pyarrow]"),
    "varbit": Case("B'1000000001'::varbit", "1000000001", "string[pyarrow]"),
    "xml": Case("'<a>1</a>'::xml", "<a>1</a>", "string[pyarrow]"),
    "jsonb": Case("'{\"a\": [1, null]}'::jsonb", {"a": [1, None]}, "object"),
    "numeric(12, 2)": Case("12.5::numeric(12, 2)", Decimal("12.50"), "decimal128(12, 2)[pyarrow]"),
    "timestamptz": Case(
        "'2024-05-01 10:00+02'::timestamptz",
        pd.Timestamp("2024-05-01 08:00", tz="UTC"),
        "timestamp[us, tz=UTC][pyarrow]",
    ),
    # Ranges: the server's text (range_out), as the guarded path gets it.
    "int4range": Case("int4range(1, 5)", "[1,5)", "string[pyarrow]"),
    "int4range empty": Case("'empty'::int4range", "empty", "string[pyarrow]"),
    "int8range unbounded": Case("int8range(NULL, 3)", "(,3)", "string[pyarrow]"),
    "numrange": Case("numrange(-1.50, NULL, '[]')", "[-1.50,)", "string[pyarrow]"),
    "daterange": Case(
        "daterange('0044-03-15 BC', 'infinity')", '["0044-03-15 BC",infinity)', "string[pyarrow]"
    ),
    "tsrange": Case(
        "tsrange('2024-01-01', '2024-01-01 10:00:00.5', '(]')",
        '("2024-01-01 00:00:00","2024-01-01 10:00:00.5"]',
        "string[pyarrow]",
    ),
    # A timestamptz in the session's TimeZone (UTC here; another sends it to the
    # guarded path: test_a_tstzrange_outside_utc_is_read_by_the_server).
    "tstzrange": Case(
        "tstzrange('2024-01-01 02:00+02', '2024-02-01 00:00+00')",
        '["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")',
        "string[pyarrow]",
    ),
    "int4multirange": Case(
        "int4multirange(int4range(1, 3), int4range(5, NULL))", "{[1,3),[5,)}", "string[pyarrow]"
    ),
    "range of text": Case(
        "matrix_words('a b', 'say \"hi\\')", '["a b","say ""hi\\\\")', "string[pyarrow]"
    ),
    "domain over a range": Case(
        "daterange('2024-01-01', '2024-01-05')::matrix_period",
        "[2024-01-01,2024-01-05)",
        "string[pyarrow]",
    ),
    "int4range[]": Case(
        "ARRAY[int4range(1, 2), NULL, 'empty']", ["[1,2)", None, "empty"], "object"
    ),
    # Outside the columnar path's table: the guarded path reads them, as text. ADBC's
    # driver reads a composite as a struct that loses which rows are NULL; a float's
    # shortest digits are PostgreSQL's (Ryu) and not always Python's.
    "composite": Case("ROW(1, 'x y')::matrix_pair", '(1,"x y")', "string[pyarrow]", False),
    "composite, NULL field": Case(
        "ROW(NULL, 'say \"hi\", ok')::matrix_pair", '(,"say ""hi"", ok")', "string[pyarrow]", False
    ),
    "range of floats": Case("'[1.5,1e20)'::matrix_floats", "[1.5,1e+20)", "string[pyarrow]", False),
}

# Aggregates, over a table of numbers (numeric, integer, bigint).
AGGREGATES: dict[str, Case] = {
    "sum(numeric)": Case("sum(x)", Decimal("4.00"), "decimal128(38, 2)[pyarrow]"),
    "avg(numeric)": Case("avg(x)", Decimal("1.3333333333333333"), "decimal128(38, 16)[pyarrow]"),
    "sum(integer)": Case("sum(i)", 6, "int64[pyarrow]"),
    "count(*)": Case("count(*)", 3, "int64[pyarrow]"),
    # bigint's sum is an unconstrained numeric in PostgreSQL: fitted, scale 0.
    "sum(bigint)": Case("sum(b)", Decimal("6"), "decimal128(38, 0)[pyarrow]"),
}

PATHS = ["columnar", "guarded"]


@pytest.fixture
def pg(registry: dbnb.Registry) -> dbnb.Database:
    database = registry.connect("postgresql")
    with database.session(write=True) as session:
        for statement in PG_SETUP:
            session.execute(text(statement))
        session.execute(text("DROP TABLE IF EXISTS matrix_numbers"))
        session.execute(text("CREATE TABLE matrix_numbers (x numeric, i integer, b bigint)"))
        session.execute(
            text("INSERT INTO matrix_numbers VALUES (1.25, 1, 1), (1.50, 2, 2), (1.25, 3, 3)")
        )
    return database


def read(database: dbnb.Database, sql: str, path: str) -> tuple[pd.DataFrame, str]:
    """The frame of ``sql`` on ``path``, and the path `dbnb.history()` says ran it."""
    marker = f"matrix-{uuid.uuid4().hex}"
    marked = f"SELECT /* {marker} */ {sql.removeprefix('SELECT ')}"
    options = {"max_rows": 1000} if path == "guarded" else {}
    frame = database.query(marked, **options)
    history = dbnb.history()
    mine = history[history["sql"].str.contains(marker, regex=False)]
    assert len(mine) == 1
    return frame, str(mine["path"].iloc[0])


def check(frame: pd.DataFrame, case: Case, empty: bool) -> None:
    assert str(frame["v"].dtype) == case.dtype
    if empty:
        assert len(frame) == 0
        return
    value = frame["v"].iloc[0]
    if isinstance(case.value, Decimal):
        assert value == case.value
        assert str(value) == str(case.value)  # the same digits after the point
    else:
        assert value == case.value
    assert type(value) is type(case.value)


@pytest.mark.postgresql
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("empty", [False, True], ids=["read", "empty read"])
@pytest.mark.parametrize("name", list(PG_CASES))
def test_postgresql_types(pg: dbnb.Database, name: str, empty: bool, path: str) -> None:
    case = PG_CASES[name]
    where = " WHERE false" if empty else ""
    frame, ran = read(pg, f"SELECT {case.expression} AS v{where}", path)
    check(frame, case, empty)
    assert ran == ("columnar" if path == "columnar" and case.columnar else "guarded")


@pytest.mark.postgresql
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("empty", [False, True], ids=["read", "empty read"])
@pytest.mark.parametrize("name", list(AGGREGATES))
def test_postgresql_aggregates_are_numbers(
    pg: dbnb.Database, name: str, empty: bool, path: str
) -> None:
    case = AGGREGATES[name]
    if empty:  # no group: no row at all, the dtype of a full result but scale 0
        sql = f"SELECT {case.expression} AS v FROM matrix_numbers GROUP BY i HAVING false"
        if case.dtype.startswith("decimal128(38"):
            case = case._replace(dtype="decimal128(38, 0)[pyarrow]")
    else:
        sql = f"SELECT {case.expression} AS v FROM matrix_numbers"
    frame, ran = read(pg, sql, path)
    check(frame, case, empty)
    assert ran == path


@pytest.mark.postgresql
@pytest.mark.parametrize("path", PATHS)
def test_an_unconstrained_numeric_that_does_not_fit_is_decimals(
    pg: dbnb.Database, path: str
) -> None:
    sql = "SELECT v FROM (VALUES (1.5::numeric), ('NaN'), (NULL)) AS t(v)"
    frame, _ = read(pg, sql, path)
    assert frame["v"].dtype == object
    assert frame["v"].iloc[0] == Decimal("1.5")
    assert frame["v"].iloc[1].is_nan()
    wide = "SELECT 123456789012345678901234567890.123456789::numeric AS v"
    frame, _ = read(pg, wide, path)
    assert frame["v"].dtype == object
    assert frame["v"].iloc[0] == Decimal("123456789012345678901234567890.123456789")


RANGES_TABLE = """CREATE TABLE matrix_ranges (
    id integer, span int4range, big int8range, price numrange, days daterange,
    local tsrange, instant tstzrange, spans int4multirange, period matrix_period,
    words matrix_words
)"""
RANGES_ROWS = [
    "(1, '[1,5)', '[-9223372036854775808,0]', '[1.50,2.25)', '[2024-01-01,2024-02-01)',"
    " '[2024-01-01 10:00,2024-01-01 11:00:00.25)', '[2024-01-01 00:00+00,infinity)',"
    " '{[1,3),[5,7)}', '[2024-03-01,2024-03-05)', '[a,\"b c\")')",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(3, 'empty', '(,)', '[-0.000001,)', '(-infinity,0044-03-15 BC]',"
    " '[0001-01-01 00:00 BC,294276-12-31 23:59:59.999999]',"
    " '[1969-12-31 23:59:59.999999+00,2000-01-01 00:00+00)', '{}', '[9999-12-31,10000-01-05)',"
    ' \'["","x,\\\\y")\')',
]


@pytest.fixture
def ranges_table(pg: dbnb.Database) -> list[str]:
    """The range columns of a table whose rows hold NULLs, empty ranges, infinite and
    unbounded bounds, BC dates and the largest timestamp; their names."""
    with pg.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS matrix_ranges"))
        session.execute(text(RANGES_TABLE))
        session.execute(text(f"INSERT INTO matrix_ranges VALUES {', '.join(RANGES_ROWS)}"))
    return ["span", "big", "price", "days", "local", "instant", "spans", "period", "words"]


@pytest.mark.postgresql
def test_a_table_of_ranges_is_read_on_the_columnar_path_as_the_server_writes_them(
    pg: dbnb.Database, ranges_table: list[str]
) -> None:
    frame, ran = read(pg, "SELECT * FROM matrix_ranges ORDER BY id", "columnar")
    assert ran == "columnar"
    guarded, ran = read(pg, "SELECT * FROM matrix_ranges ORDER BY id", "guarded")
    assert ran == "guarded"
    pd.testing.assert_frame_equal(frame, guarded)
    # The server's own text of each value (its output function, through a cast).
    casts = ", ".join(f"{column}::text AS {column}" for column in ranges_table)
    server, _ = read(pg, f"SELECT {casts} FROM matrix_ranges ORDER BY id", "columnar")
    for column in ranges_table:
        assert str(frame[column].dtype) == "string[pyarrow]"
        assert frame[column].tolist() == server[column].tolist(), column
    assert frame["span"].tolist() == ["[1,5)", pd.NA, "empty"]
    assert frame["local"].iloc[2] == '["0001-01-01 00:00:00 BC","294276-12-31 23:59:59.999999"]'
    assert frame["words"].iloc[2] == '["","x,\\\\y")'
    chunks = list(pg.query("SELECT * FROM matrix_ranges ORDER BY id", chunksize=2))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame)
    table = pg.query("SELECT * FROM matrix_ranges ORDER BY id", output="arrow")
    assert table.column("instant").type == pa.string()
    assert (
        table.column("instant").to_pylist()
        == frame["instant"].astype(object).where(frame["instant"].notna(), None).tolist()
    )


@pytest.mark.postgresql
def test_ranges_read_as_the_server_writes_them(pg: dbnb.Database) -> None:
    # Each built-in range's bounds across the values its subtype holds, against the
    # server's own text of them.
    values = {
        "int4range": ["-2147483648", "-1", "0", "7", "2147483646"],
        "int8range": ["-9223372036854775808", "-5", "0", "9223372036854775806"],
        "numrange": ["-1e-30", "0.000", "1.5", "-12345678901234567890.123456789", "1e30", "10000"],
        "daterange": [
            "'4713-01-01 BC'",
            "'0001-12-31 BC'",
            "'1582-10-15'",
            "'2024-02-29'",
            "'1969-12-31'",
            "'5874897-12-30'",
            "'-infinity'",
        ],
        "tsrange": [
            "'4713-01-01 00:00 BC'",
            "'1900-01-01 00:00:00.1'",
            "'1970-01-01'",
            "'2000-01-01 00:00:00.000001'",
            "'2024-02-29 23:59:59.999999'",
            "'-infinity'",
        ],
        "tstzrange": ["'0001-01-01 00:00+00 BC'", "'2024-06-01 12:34:56.789+02'", "'-infinity'"],
    }
    for kind, bounds in values.items():
        rows = " UNION ALL ".join(
            f"SELECT {i} AS k, {kind}({bound}, NULL) AS v" for i, bound in enumerate(bounds)
        )
        sql = f"SELECT v, v::text AS t FROM ({rows}) AS q ORDER BY k"
        frame, ran = read(pg, sql, "columnar")
        assert ran == "columnar"
        assert frame["v"].tolist() == frame["t"].tolist(), kind


@pytest.mark.postgresql
def test_a_range_whose_text_is_the_sessions_is_read_by_the_guarded_path(
    pg_database: str, tmp_path: Path
) -> None:
    # A timestamptz's text is in the session's TimeZone, a date's in its DateStyle:
    # outside UTC and ISO, the server writes them, on the guarded path, decided
    # before the statement runs; other ranges are read on the columnar path.
    def entry(options: str) -> str:
        return f"""
type: postgresql
host: 127.0.0.1
database: {pg_database}
user: postgres
connect_args: {{options: "{options}"}}
"""

    path = tmp_path / "infra.yaml"
    paris, german = entry("-c TimeZone=Europe/Paris"), entry("-c DateStyle=German")
    path.write_text(config_text(tmp_path, None, paris=paris, german=german))
    registry = dbnb.Registry(dbnb.load_config(path))
    instant = "SELECT tstzrange('2024-01-01 00:00+00', NULL) AS v"
    day = "SELECT daterange('2024-01-01', NULL) AS v"
    try:
        database = registry.connect("paris")
        frame, ran = read(database, instant, "columnar")
        assert (frame["v"].tolist(), ran) == (['["2024-01-01 01:00:00+01",)'], "guarded")
        database.query(instant)  # described: why it took the guarded path is kept
        assert database.guarded_because(database.prepared(instant, None)) == (
            "column 'v': a range of timestamptz, whose text depends on the session's"
            " DateStyle and TimeZone"
        )
        frame, ran = read(database, day, "columnar")  # a date's text is any zone's
        assert (frame["v"].tolist(), ran) == (["[2024-01-01,)"], "columnar")
        database = registry.connect("german")
        frame, ran = read(database, day, "columnar")
        assert (frame["v"].tolist(), ran) == (["[01.01.2024,)"], "guarded")
        frame, ran = read(database, "SELECT int4range(1, 5) AS v", "columnar")
        assert (frame["v"].tolist(), ran) == (["[1,5)"], "columnar")
    finally:
        registry.close()


@pytest.mark.postgresql
def test_composites_with_null_rows_are_read_by_the_guarded_path(pg: dbnb.Database) -> None:
    # ADBC's driver (1.13) reads a composite as a struct whose rows after the first
    # NULL one all come as NULL: the guarded path reads composites, every row right.
    sql = (
        "SELECT c FROM (VALUES (1, ROW(1, 'a')::matrix_pair), (2, NULL),"
        " (3, ROW(3, 'c')::matrix_pair), (4, ROW(NULL, NULL)::matrix_pair)) AS t(k, c)"
        " ORDER BY k"
    )
    frame, ran = read(pg, sql, "columnar")
    assert ran == "guarded"
    assert frame["c"].tolist() == ["(1,a)", pd.NA, "(3,c)", "(,)"]


# --- MariaDB -------------------------------------------------------------------------

MYSQL_TABLE = """CREATE TABLE matrix (
    e ENUM('new', 'paid', 'shipped'),
    s SET('a', 'b', 'c'),
    j JSON,
    y YEAR,
    b BIT(3),
    d DECIMAL(12, 2),
    wide DECIMAL(50, 10),
    tm TIME(6),
    ip INET4,
    u UUID
)"""
MYSQL_ROW = (
    "INSERT INTO matrix VALUES ('paid', 'a,c', '{\"a\": [1, 2]}', 2024, b'101', 12.5,"
    " 12345678901234567890123456789012345678.1234567891, '10:30:00.5', '10.0.0.1',"
    f" '{REF}')"
)

MYSQL_CASES: dict[str, Case] = {
    "ENUM": Case("e", "paid", "string[pyarrow]"),
    "SET": Case("s", "a,c", "string[pyarrow]"),
    # MariaDB's JSON is a LONGTEXT whose table checks json_valid: Python values.
    "JSON": Case("j", {"a": [1, 2]}, "object"),
    "YEAR": Case("y", 2024, "int16[pyarrow]"),
    "BIT": Case("b", b"\x05", "binary[pyarrow]"),
    "DECIMAL(12, 2)": Case("d", Decimal("12.50"), "decimal128(12, 2)[pyarrow]"),
    "INET4": Case("ip", "10.0.0.1", "string[pyarrow]"),
    "UUID": Case("u", str(REF), "string[pyarrow]"),
    # connectorx cannot read these exactly (a TIME past a day, more than 28 digits):
    # the guarded path reads them, decided before the statement runs.
    "TIME": Case("tm", dt.time(10, 30, 0, 500000), "time64[us][pyarrow]", False),
    "DECIMAL(50, 10)": Case(
        "wide", Decimal("12345678901234567890123456789012345678.1234567891"), "object", False
    ),
}


@pytest.fixture
def maria(registry: dbnb.Registry) -> dbnb.Database:
    database = registry.connect("mysql")
    with database.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS matrix"))
        session.execute(text(MYSQL_TABLE))
        session.execute(text(MYSQL_ROW))
    return database


@pytest.mark.mysql
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("empty", [False, True], ids=["read", "empty read"])
@pytest.mark.parametrize("name", list(MYSQL_CASES))
def test_mariadb_types(maria: dbnb.Database, name: str, empty: bool, path: str) -> None:
    case = MYSQL_CASES[name]
    where = " WHERE false" if empty else ""
    frame, ran = read(maria, f"SELECT {case.expression} AS v FROM matrix{where}", path)
    check(frame, case, empty)
    assert ran == ("columnar" if path == "columnar" and case.columnar else "guarded")


@pytest.mark.mysql
@pytest.mark.parametrize("name", list(MYSQL_CASES))
def test_mariadb_types_in_chunks(maria: dbnb.Database, name: str) -> None:
    # Chunks stream on the guarded path, the first made while the server still sends
    # the rest: each type as the whole read has it (JSON too: described before it ran),
    # in the first chunk and in a later one that holds only a NULL.
    case = MYSQL_CASES[name]
    sql = (
        f"SELECT matrix.{case.expression} AS v FROM seq_1_to_2 "
        "LEFT JOIN matrix ON seq = 1 ORDER BY seq"
    )
    whole = maria.query(sql)
    check(whole, case, empty=False)
    chunks = list(maria.query(sql, chunksize=1))
    assert [len(chunk) for chunk in chunks] == [1, 1]
    for chunk in chunks:
        assert str(chunk["v"].dtype) == case.dtype
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


@pytest.mark.postgresql
def test_postgresql_types_in_arrow_and_chunks(pg: dbnb.Database) -> None:
    # The columnar path's Arrow tables hold the same values in Arrow's own types.
    sql = (
        f"SELECT g, 'new'::{STATUS} AS status, '10.0.0.1'::inet AS ip, '2.5'::money AS cost,"
        " CASE WHEN g % 2 = 0 THEN NULL ELSE ARRAY['10.0.0.2'::inet, NULL] END AS ips,"
        " ARRAY['1 day'::interval] AS waits, sum(g * 0.25) OVER () AS total"
        " FROM generate_series(1, 5) AS g"
    )
    table = pg.query(sql, output="arrow")
    assert [str(kind) for kind in table.schema.types] == [
        "int32",
        "string",
        "string",
        "decimal128(19, 2)",
        "list<item: string>",
        "list<item: duration[us]>",
        "decimal128(38, 2)",
    ]
    assert table.column("ips").to_pylist()[:2] == [["10.0.0.2", None], None]
    whole = pg.query(sql)
    chunks = list(pg.query(sql, chunksize=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert whole["ips"].tolist()[:2] == [["10.0.0.2", None], None]


@pytest.mark.postgresql
def test_a_type_created_after_the_connection_opened(pg: dbnb.Database) -> None:
    # The columnar pool keeps a connection whose driver learnt the database's types
    # as it connected: an enum made since is looked up in pg_type (a label is its
    # own binary form), and an array of it read on a new connection.
    assert pg.query("SELECT 1 AS v")["v"].tolist() == [1]
    with pg.session(write=True) as session:
        session.execute(text("DROP TYPE IF EXISTS matrix_late CASCADE"))
        session.execute(text("CREATE TYPE matrix_late AS ENUM ('a', 'b')"))
    frame, ran = read(pg, "SELECT 'b'::matrix_late AS v", "columnar")
    assert ran == "columnar"
    assert frame["v"].tolist() == ["b"]
    assert str(frame["v"].dtype) == "string[pyarrow]"
    frame, ran = read(pg, "SELECT ARRAY['a', 'b']::matrix_late[] AS v", "columnar")
    assert ran == "columnar"
    assert frame["v"].tolist() == [["a", "b"]]
    assert pg._arrow.checkedout() == 0


# --- every type through every output and export ------------------------------------------


OUTPUTS = ["arrow", "polars", "csv", "parquet"]


def through(database: dbnb.Database, sql: str, output: str, tmp_path: Path) -> list[Any]:
    """The one value of ``sql``'s column ``v`` as ``output`` gives it: an Arrow table,
    a polars frame, or a CSV/Parquet file dbnb's exports wrote (read back)."""
    if output in ("arrow", "polars"):
        found = database.query(sql, output=output)
        return list(found["v"].to_pylist() if output == "arrow" else found["v"].to_list())
    frame = database.query(sql)
    target = tmp_path / f"v.{output}"
    writer = exports.to_csv if output == "csv" else exports.to_parquet
    assert writer(frame, target) == len(frame)
    if output == "csv":
        return pd.read_csv(target, dtype=str, keep_default_na=False)["v"].tolist()
    column = pq.read_table(target).column("v")
    if column.type == pa.json_():  # JSON documents and arrays: their text, parsed
        return [json.loads(value) for value in column.to_pylist()]
    return column.to_pylist()


# Where an output holds a value otherwise than the pandas frame (Arrow's own forms,
# documented in the README): the columnar path's Arrow as it is.
OTHER_FORMS: dict[tuple[str, str], Any] = {
    # An unconstrained numeric's items: their exact text (no one decimal type fits).
    ("numeric[]", "arrow"): ["1.50", "2"],
    ("numeric[]", "polars"): ["1.50", "2"],
    # JSON inside an array: each document's text.
    ("jsonb[]", "arrow"): ["[1, 2]"],
    ("jsonb[]", "polars"): ["[1, 2]"],
    # polars has no UUID type: the 16 bytes.
    ("uuid[]", "polars"): [REF.bytes],
    # Arrays in Parquet are JSON text: a Decimal, a time its exact text.
    ("numeric[]", "parquet"): ["1.50", "2"],
    ("interval[]", "parquet"): ["1 day, 0:00:00"],
    # Wider than Arrow's decimal128: the exact text.
    ("DECIMAL(50, 10)", "arrow"): "12345678901234567890123456789012345678.1234567891",
    ("DECIMAL(50, 10)", "polars"): "12345678901234567890123456789012345678.1234567891",
    ("DECIMAL(50, 10)", "parquet"): "12345678901234567890123456789012345678.1234567891",
}


def in_output(
    database: dbnb.Database, sql: str, case: Case, key: tuple[str, str], tmp: Path
) -> None:
    values = through(database, sql, key[1], tmp)
    assert len(values) == 1
    assert values[0] is not None
    if key[1] == "csv":
        assert values[0] != ""
    else:
        wanted = OTHER_FORMS.get(key, case.value)
        assert _plain(values[0]) == _plain(wanted), (values[0], wanted)


@pytest.mark.postgresql
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("name", list(PG_CASES))
def test_postgresql_types_in_every_output(
    pg: dbnb.Database, name: str, output: str, tmp_path: Path
) -> None:
    case = PG_CASES[name]
    in_output(pg, f"SELECT {case.expression} AS v", case, (name, output), tmp_path)


@pytest.mark.mysql
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("name", list(MYSQL_CASES))
def test_mariadb_types_in_every_output(
    maria: dbnb.Database, name: str, output: str, tmp_path: Path
) -> None:
    case = MYSQL_CASES[name]
    in_output(maria, f"SELECT {case.expression} AS v FROM matrix", case, (name, output), tmp_path)


def _plain(value: Any) -> Any:
    """A value compared across outputs: JSON documents and UUIDs as text, lists' items
    plain, times as the same text whatever type holds them."""
    if isinstance(value, (dict,)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dt.timedelta):
        return value
    return value
