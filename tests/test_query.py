"""Queries into DataFrames: bound parameters, select(), one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmodel import select

import dbnb
from tests.fixtures import Item, rows

# Every test here holds on both read paths (columnar ADBC, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
HOSTILE = [
    "O'Brien",
    "'); DELETE FROM items; --",
    "1 OR 1=1",
    ":name",
    "%s %(name)s ?",
    "ünïcødé ✓ 🚀",
    "x" * 100_000,
]


def test_text_with_bound_parameters(db: dbnb.Database) -> None:
    frame = db.query("SELECT id, name FROM items WHERE id >= :low ORDER BY id", {"low": 2})
    assert frame.to_dict("list") == {"id": [2, 3], "name": ["two", "three"]}


@pytest.mark.parametrize("value", HOSTILE)
def test_values_are_bound_never_spliced(db: dbnb.Database, value: str) -> None:
    frame = db.query(
        "SELECT :value AS echoed, count(*) AS n FROM items WHERE name = :value", {"value": value}
    )
    assert frame["echoed"].tolist() == [value]  # came back as data
    assert frame["n"].tolist() == [0]
    assert rows(db) == ORIGINAL


def test_sqlmodel_select(db: dbnb.Database) -> None:
    frame = db.query(select(Item).where(Item.name != "two").order_by(Item.id))
    assert list(frame.columns) == ["id", "name"]
    assert frame.to_dict("list") == {"id": [1, 3], "name": ["one", "three"]}


def test_casts_and_percent_signs_are_left_alone(db: dbnb.Database, backend: str) -> None:
    cast = {"sqlite": "CAST(:n AS INTEGER)", "mysql": "CAST(:n AS SIGNED)"}.get(
        backend, "(:n)::integer"
    )
    frame = db.query(
        f"SELECT {cast} + 1 AS n, '100%' AS pct, name FROM items WHERE name LIKE 't%' ORDER BY id",
        {"n": 41},
    )
    assert frame.to_dict("list") == {
        "n": [42, 42],
        "pct": ["100%", "100%"],
        "name": ["two", "three"],
    }


def test_duplicate_column_names_are_kept(db: dbnb.Database) -> None:
    frame = db.query("SELECT 1 AS a, 'x' AS a")
    assert list(frame.columns) == ["a", "a"]
    assert frame.iloc[0].tolist() == [1, "x"]


def test_statement_without_rows_gives_an_empty_frame(db: dbnb.Database, backend: str) -> None:
    # A read that returns no result set at all (a savepoint inside the read).
    statement = {"sqlite": "PRAGMA foreign_keys"}.get(backend, "SAVEPOINT dbnb_probe")
    frame = db.query(statement)
    assert isinstance(frame, pd.DataFrame)


def test_missing_parameter_is_named(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.ParameterError, match="no value for :region"):
        db.query("SELECT * FROM items WHERE name = :region")


def test_sql_error_is_one_line_with_the_server_message(db: dbnb.Database, backend: str) -> None:
    with pytest.raises(dbnb.QueryError) as caught:
        db.query("SELECT nope FROM items")
    message = str(caught.value)
    assert message.startswith(f"{db.name}: ")
    assert "nope" in message
    assert "\n" not in message
    if backend == "postgresql":
        assert "(at character 8)" in message
    assert db.engine.pool.checkedout() == 0
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
