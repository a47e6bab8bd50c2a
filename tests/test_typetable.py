"""Each database's type table (``dbnb.typetable``) is the one rule of its types: the
manual's dtype table is generated from the tables, and each table's rule for a type
is what a read of a column of it gives, what the writer checks it as, and what
completion says of it, on PostgreSQL, MariaDB and SQLite, on both read paths."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import text

import dbnb
from dbnb import typetable
from dbnb.backends import typetables
from dbnb.backends.registry import backend_for
from dbnb.see.profile import kind_of
from dbnb.write.columns import spec_for
from tests import manual

TYPES_PAGE = manual.TYPES_PAGE  # the manual's dtype table


def test_the_readme_dtype_table_is_generated_from_the_type_tables() -> None:
    # If this fails, `python -m dbnb.backends.typetables docs/reference/types.md` writes it.
    assert typetables.current(TYPES_PAGE.read_text(encoding="utf-8")) == typetables.readme_table()


def test_each_rule_s_dtype_is_what_its_readme_row_says() -> None:
    for name in ("postgresql", "sqlite", "mysql", "spark"):
        table = typetables.for_backend(name)
        assert table is not None
        for rule in table.rules:
            said = f"{typetable.ROWS[rule.row].dtype} {table.cell(rule.row)}"
            assert rule.dtype.removesuffix("[pyarrow]") in said.replace("[pyarrow]", ""), (
                name,
                rule,
            )


def test_rewriting_the_readme_keeps_everything_around_the_table(tmp_path: Path) -> None:
    copy = tmp_path / "types.md"
    before = TYPES_PAGE.read_text(encoding="utf-8")
    stale = typetables.replaced(before, "| PostgreSQL | SQLite |\n|---|---|\n")
    copy.write_text(stale, encoding="utf-8")
    assert typetables.main([str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("backend", "spelled", "dtype"),
    [
        ("postgresql", "NUMERIC(12, 2)", "decimal128(12, 2)[pyarrow]"),
        ("postgresql", "NUMERIC(50, 4)", "object"),  # past 38 digits: Decimals
        ("postgresql", "NUMERIC", "decimal128(38, s)[pyarrow]"),  # fitted to its values
        ("postgresql", "int4", "int32[pyarrow]"),
        ("postgresql", "TIMESTAMP(3) WITH TIME ZONE", "timestamp[us, tz=UTC][pyarrow]"),
        ("postgresql", "TIMESTAMP WITHOUT TIME ZONE", "timestamp[us][pyarrow]"),
        ("postgresql", "INTEGER[]", "object"),
        ("postgresql", "_int4", "object"),
        ("postgresql", "money", "decimal128(19, s)[pyarrow]"),
        ("mysql", "INTEGER(11) UNSIGNED", "int64[pyarrow]"),
        ("mysql", "TINYINT(1)", "bool[pyarrow]"),
        ("mysql", "TINYINT", "int8[pyarrow]"),
        ("mysql", "BIGINT UNSIGNED", "uint64[pyarrow]"),
        ("mysql", "ENUM('a','b')", "string[pyarrow]"),
        ("mysql", "DECIMAL(65, 30)", "object"),
        ("sqlite", "CHAR(32)", "object"),  # SQLAlchemy's Uuid
        ("sqlite", "CHAR(10)", "string[pyarrow]"),
        ("sqlite", "DATETIME", "timestamp[us, tz=UTC][pyarrow]"),
        ("spark", "decimal(10,2)", "decimal128(10, 2)[pyarrow]"),
        ("spark", "array<int>", "object"),
        ("spark", "timestamp_ntz", "timestamp[us][pyarrow]"),
    ],
)
def test_a_type_is_found_as_its_database_spells_it(backend: str, spelled: str, dtype: str) -> None:
    table = typetables.for_backend(backend)
    assert table is not None
    assert table.dtype(spelled) == dtype


def test_a_model_s_interval_writes_and_reads_back_as_durations(
    db: dbnb.Database, backend: str
) -> None:
    # SQLAlchemy's Interval is a TypeDecorator (a DATETIME on SQLite and MariaDB): its
    # rule is its own, not the DateTime's it stores as. Writes were refused ("expected
    # timestamps"), and an empty read had timestamps where a full one had timedeltas.
    metadata = sa.MetaData()
    table = sa.Table(
        "typetable_iv",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("iv", sa.Interval),
    )
    with db.session(write=True) as session:
        metadata.drop_all(session.connection())
        metadata.create_all(session.connection())
    wrote = pd.DataFrame({"id": [1, 2], "iv": [dt.timedelta(days=1, microseconds=5), None]})
    assert db.write(wrote, table) == 2
    full = db.query(sa.select(table).order_by(table.c.id))
    empty = db.query(sa.select(table).where(sa.false()))
    assert str(full["iv"].dtype) == str(empty["iv"].dtype) == "duration[us][pyarrow]"
    assert full["iv"].iloc[0] == pd.Timedelta(days=1, microseconds=5)
    assert pd.isna(full["iv"].iloc[1])
    db.write(full, table, mode="upsert")  # what a read gave writes back
    assert db.query(sa.select(table).order_by(table.c.id)).equals(full)


# Each database's types as DDL spells them: a column each, reflected, read and checked
# against the rule its table has for the type as reflection spells it.
DDL = {
    "postgresql": [
        "smallint", "integer", "bigint", "oid", "boolean", "real", "double precision",
        "numeric(12, 2)", "numeric(50, 4)", "numeric", "money", "text", "varchar(20)",
        "char(3)", "inet", "cidr", "macaddr", "macaddr8", "bit(3)", "varbit",
        "int4range", "tstzmultirange", "timestamptz", "timestamp", "date", "time",
        "interval", "bytea", "json", "jsonb", "uuid", "integer[]", "text[]",
    ],
    "mysql": [
        "TINYINT", "TINYINT UNSIGNED", "SMALLINT", "SMALLINT UNSIGNED", "MEDIUMINT", "INT",
        "INT UNSIGNED", "BIGINT", "BIGINT UNSIGNED", "YEAR", "BOOLEAN", "FLOAT", "DOUBLE",
        "DECIMAL(12, 2)", "DECIMAL(65, 30)", "CHAR(3)", "VARCHAR(20)", "TEXT", "LONGTEXT",
        "ENUM('a', 'b')", "SET('a', 'b')", "TIMESTAMP(6) NULL", "DATETIME(6)", "DATE",
        "TIME(6)", "BINARY(4)", "VARBINARY(8)", "BLOB", "BIT(8)", "JSON", "INET4",
    ],
    "sqlite": [
        "SMALLINT", "INTEGER", "BIGINT", "BOOLEAN", "FLOAT", "REAL", "NUMERIC(12, 2)",
        "VARCHAR(20)", "TEXT", "DATETIME", "TIMESTAMP", "DATE", "TIME", "BLOB", "JSON",
        "CHAR(32)",
    ],
}  # fmt: skip


@pytest.fixture
def every_type(db: dbnb.Database, backend: str) -> dbnb.Database:
    columns = ", ".join(f"c{index} {ddl}" for index, ddl in enumerate(DDL[backend]))
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS typetable_types"))
        session.execute(text(f"CREATE TABLE typetable_types ({columns})"))
    return db


@pytest.mark.usefixtures("read_path")
def test_each_type_reads_writes_and_completes_as_its_rule_says(
    every_type: dbnb.Database, backend: str
) -> None:
    db = every_type
    table = typetables.for_backend(backend)
    assert table is not None
    with db.connection() as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # a type SQLAlchemy does not know
        reflected = sa.inspect(connection).get_columns("typetable_types")
        dialect = connection.dialect
    empty = db.query("SELECT * FROM typetable_types WHERE 1 = 0")
    rules = backend_for(dialect.name).write_rules
    for column, ddl in zip(reflected, DDL[backend], strict=True):
        spelled = typetables.spelled(column["type"], dialect)
        assert spelled is not None, ddl
        rule = table.rule(spelled)
        assert rule is not None, (ddl, spelled)
        what = (ddl, spelled, rule)
        assert spec_for(column["type"], rules).kind == rule.write, what
        assert kind_of(column["type"], spelled, table) == rule.category, what
        dtype = table.dtype(spelled)
        assert typetables.column_dtype(dialect.name, column["type"], dialect) == dtype, what
        if isinstance(rule.arrow, typetable.Param) and rule.arrow_for(None, None) is None:
            continue  # a setting (money's scale) or the values (numeric's) decide
        assert str(empty[column["name"]].dtype) == dtype, what


def test_completion_offers_a_column_with_its_dtype(db: dbnb.Database, backend: str) -> None:
    from dbnb.notebook import complete

    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS typetable_cols"))
        session.execute(text("CREATE TABLE typetable_cols (n INTEGER, amount NUMERIC(12, 2))"))
        if backend == "postgresql":  # a type SQLAlchemy does not know: no warning shows
            session.execute(text("DROP TABLE IF EXISTS typetable_odd"))
            session.execute(text("CREATE TABLE typetable_odd (p point)"))
    schema = complete.read_schema(db)
    sources = complete.Sources(
        connections=[],
        subcommands=[],
        current=None,
        schema=lambda name: schema,
        dialect=lambda name: backend,
        variables=list,
    )
    line = "%db SELECT  FROM typetable_cols"
    found = complete.complete(line, len("%db SELECT "), sources)
    assert found is not None
    integer = {"postgresql": "int32", "mysql": "int32", "sqlite": "int64"}[backend]
    assert found.items == [
        ("n", f"column {integer}[pyarrow]"),
        ("amount", "column decimal128(12, 2)[pyarrow]"),
    ]
    frame = db.query("SELECT * FROM typetable_cols")  # what a read gives
    assert [str(dtype) for dtype in frame.dtypes] == [
        kind.removeprefix("column ") for _, kind in found.items
    ]


def test_profile_s_category_is_the_table_s_by_the_type_as_spelled() -> None:
    # Reflection types MariaDB's YEAR and BOOLEAN (TINYINT(1)) as integers, and
    # PostgreSQL's money as no type it knows: the table knows them by name.
    mysql, postgresql = typetables.for_backend("mysql"), typetables.for_backend("postgresql")
    assert kind_of(sa.Integer(), "YEAR", mysql) == typetable.NUMBER
    assert kind_of(sa.Integer(), "TINYINT(1)", mysql) == typetable.BOOL
    assert kind_of(sa.types.NullType(), "MONEY", postgresql) == typetable.NUMBER
    # An enum's name is its own, whatever built-in type it shares it with.
    assert kind_of(sa.Enum("a", name="money"), "money", postgresql) == typetable.ENUM
    assert kind_of(sa.Integer()) == typetable.NUMBER  # no database: SQLAlchemy's rule
