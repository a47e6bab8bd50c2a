"""``:name`` binds made positional for ADBC, only for text that is one plain query."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbnb.backends.postgresql import binds as postgresql
from dbnb.backends.registry import backend_for
from dbnb.backends.sqlite import binds as sqlite
from dbnb.sql import params, sqltext
from dbnb.sql.params import Positional

POSITIONAL = {"postgresql": postgresql.POSITIONAL_RULES, "sqlite": sqlite.POSITIONAL_RULES}


def to_positional(sql: str, dialect: str) -> Positional | None:
    """The columnar path's reading of ``sql``, by the rules of ``dialect``'s home."""
    statement = sqltext.parse(sql, backend_for(dialect).lexical_rules)
    return params.to_positional(statement, POSITIONAL[dialect])


CONVERTED = [
    ("SELECT :a, :b, :a", "SELECT $1, $2, $1", ("a", "b")),
    ("select (:n)::int", "select ($1)::int", ("n",)),
    ("SELECT 1;", "SELECT 1", ()),
    ("SELECT 1; -- done", "SELECT 1", ()),
    ("SELECT 1 -- no newline", "SELECT 1", ()),
    ("SELECT 1 /* a ; b */", "SELECT 1", ()),
    ("SELECT 1 /* /* nested */ ; */ ;", "SELECT 1", ()),
    ("/* lead */ (SELECT :x)", "/* lead */ (SELECT $1)", ("x",)),
    ("WITH t AS (SELECT 1) SELECT * FROM t", "WITH t AS (SELECT 1) SELECT * FROM t", ()),
    ("VALUES (:v)", "VALUES ($1)", ("v",)),
    ("TABLE items", "TABLE items", ()),
    ("SELECT $t$ a; b $t$ || :y", "SELECT $t$ a; b $t$ || $1", ("y",)),
    ("SELECT E'\\\\' || :z", "SELECT E'\\\\' || $1", ("z",)),
    ('SELECT "a;b" FROM t WHERE x = :v;  ', 'SELECT "a;b" FROM t WHERE x = $1', ("v",)),
    ("SELECT 'it''s' || :s", "SELECT 'it''s' || $1", ("s",)),
    ("SELECT x->>'k' FROM t WHERE y ? 'k' AND z = :z", None, None),  # jsonb `?` is fine
    ("SELECT arr[1:2] FROM t", None, None),
    ("SELECT 1;;", "SELECT 1", ()),  # empty statements are no statements (sqltext.split)
    # What the guarded path's text() would bind but dbnb.sqltext escapes, the same text here.
    ("SELECT ':x'", "SELECT ':x'", ()),
    ("SELECT 1 -- :x\n", "SELECT 1", ()),
    ("SELECT $$ :x $$", "SELECT $$ :x $$", ()),
    ("SELECT :n::int", "SELECT $1::int", ("n",)),
    ("SELECT x FROM t WHERE y IN (:ys)", "SELECT x FROM t WHERE y IN ($1)", ("ys",)),
]


@pytest.mark.parametrize(("sql", "expected", "names"), CONVERTED)
def test_binds_become_positional(sql: str, expected: str | None, names) -> None:
    result = to_positional(sql, "postgresql")
    assert result is not None
    if expected is not None:
        assert result == Positional(expected, names)


REFUSED = [
    "COMMIT",
    "SET TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "DELETE FROM items",
    "INSERT INTO items VALUES (:id)",
    "SELECT 1; DELETE FROM items",
    "SELECT 1; COMMIT",
    "SELECT \\:x",  # SQLAlchemy's escaped colon
    "SELECT $1",  # a placeholder of its own would clash with the binds
    "SELECT x FROM t WHERE y IN :ys",  # only the guarded path expands a list here
    "SELECT x FROM t WHERE y NOT IN :ys",
    "SELECT 1 /* a /* b */ ; */ ; SELECT 2",
    "SELECT 'unterminated",
    "SELECT /* unterminated",
    "SELECT $q$ unterminated",
    "EXPLAIN ANALYZE DELETE FROM items",
    "",
    "   ",
    "-- only a comment",
    '"select"',
]


@pytest.mark.parametrize("sql", REFUSED)
def test_anything_else_takes_the_guarded_path(sql: str) -> None:
    assert to_positional(sql, "postgresql") is None


def test_sqlite_flavour() -> None:
    assert to_positional("SELECT :a, :a, :b", "sqlite") == Positional(
        "SELECT ?1, ?1, ?2", ("a", "b")
    )
    assert to_positional("SELECT [a;b], `c;d` FROM t", "sqlite") is not None
    refused = ("SELECT ?", "SELECT @x", "SELECT $x", "SELECT :1", "PRAGMA query_only = OFF")
    for sql in (*refused, "TABLE t"):
        assert to_positional(sql, "sqlite") is None, sql
    # SQLite's block comments do not nest: the `;` after the first `*/` is code.
    assert to_positional("SELECT 1 /* a /* b */ ; */", "sqlite") is None
    assert to_positional("SELECT 1 /* a /* b */ ; */", "postgresql") == Positional("SELECT 1", ())


_SAFE_TEXT = st.text(st.characters(blacklist_characters="'\\"), max_size=20)


@given(
    names=st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=5),
    literal=_SAFE_TEXT,
)
def test_values_never_enter_the_text(names: list[str], literal: str) -> None:
    sql = "SELECT " + ", ".join(f":{name}" for name in names) + f", '{literal}' AS lit"
    result = to_positional(sql, "postgresql")
    assert result is not None
    assert list(result.names) == list(dict.fromkeys(names))
    assert not re.search(r"(?<![:\w\\]):[a-z_]", result.sql.split("'")[0])
    assert result.sql.endswith(f"'{literal}' AS lit")
