"""Hostile values are data, never SQL: property-based, on both databases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import dbnb
from tests.fixtures import rows

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
SQLISH = st.sampled_from(
    [
        "'",
        '"',
        ";",
        "--",
        "/*",
        "*/",
        "$$",
        "$1",
        ":v",
        "%s",
        "%(v)s",
        "?",
        "\\",
        "DROP TABLE items",
        "' OR '1'='1",
        "'); DELETE FROM items; --",
        "\u202e",
        "🚀",
        "ß",
        "\r\n",
    ]
)
# PostgreSQL text cannot hold NUL; that case has its own test below.
TEXT = st.lists(
    st.one_of(SQLISH, st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))),
    max_size=8,
).map("".join)

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(value=TEXT)
def test_bound_text_comes_back_as_data(db: dbnb.Database, value: str) -> None:
    frame = db.query(
        "SELECT :v AS echoed, (SELECT count(*) FROM items WHERE name = :v) AS n", {"v": value}
    )
    assert frame["echoed"].tolist() == [value]
    assert frame["n"].tolist() == [0]


@FAST
@given(value=TEXT, number=st.integers(-(2**63), 2**63 - 1))
def test_written_values_read_back_unchanged(db: dbnb.Database, value: str, number: int) -> None:
    with db.session(write=True) as session:
        session.execute(text("DELETE FROM items WHERE id > 3"))
        session.execute(text("INSERT INTO items VALUES (4, :v)"), {"v": value})
    frame = db.query("SELECT name FROM items WHERE id = :id AND :n = :n", {"id": 4, "n": number})
    assert frame["name"].tolist() == [value]
    assert rows(db)[:3] == ORIGINAL


def test_huge_string_is_data(db: dbnb.Database) -> None:
    value = "'; DROP TABLE items; --" * 200_000  # ~4.6 MB
    assert db.query("SELECT length(:v) AS n", {"v": value})["n"].tolist() == [len(value)]
    assert rows(db) == ORIGINAL


@pytest.mark.postgresql
def test_nul_in_postgresql_text_is_a_clear_error(registry: dbnb.Registry) -> None:
    database = registry.connect("postgresql")
    with pytest.raises(dbnb.QueryError) as caught:
        database.query("SELECT :v AS v", {"v": "a\x00b"})
    message = str(caught.value)
    assert "NUL" in message
    assert "\n" not in message
    assert database.query("SELECT 1 AS ok")["ok"].tolist() == [1]  # the pool is fine


def test_unencodable_text_is_a_clear_error(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.QueryError) as caught:
        db.query("SELECT :v AS v", {"v": "lone \ud800 surrogate"})
    assert "cannot be encoded" in str(caught.value)
    assert db.engine.pool.checkedout() == 0


def test_nul_in_sqlite_text_is_kept(registry: dbnb.Registry) -> None:
    database = registry.connect("sqlite")
    assert database.query("SELECT :v AS v", {"v": "a\x00b"})["v"].tolist() == ["a\x00b"]
