"""Statements and placeholders found in SQL text, as the database then runs them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dbnb
from dbnb.backends.registry import backend_for
from dbnb.sql import sqltext
from dbnb.sql.sqlscan import LexicalRules


def rules(dialect: str) -> LexicalRules:
    """The lexical rules of ``dialect``'s home."""
    return backend_for(dialect).lexical_rules


def test_split_at_semicolons_that_are_code_only() -> None:
    sql = """
        SELECT 'a;b' AS s, "odd;name" AS q;  -- a comment; with a semicolon
        /* block; comment */ SELECT $$ body; $$ AS d, $fn$ x; $fn$ AS e;
        ;
        -- nothing but a comment
    """
    statements = sqltext.split(sql, rules("postgresql"))
    assert [s.sql.splitlines()[0] for s in statements] == [
        """SELECT 'a;b' AS s, "odd;name" AS q""",
        "-- a comment; with a semicolon",
    ]
    assert statements[1].sql.endswith("$fn$ x; $fn$ AS e")


def test_placeholders_outside_literals_comments_casts_and_dollar_quotes() -> None:
    statement = sqltext.parse(
        "SELECT :a, :b::int, ':no', E'it\\'s :no', \"col:no\", $$ :no $$, $t$ :no $t$, "
        "x::text, arr[1:2], :a -- :no\n /* :no */",
        rules("postgresql"),
    )
    assert statement.params == ("a", "b")
    assert set(statement.to_text()._bindparams) == {"a", "b"}


def test_an_unterminated_literal_hides_the_rest() -> None:
    assert sqltext.parse("SELECT ':a, :b", rules("postgresql")).params == ()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
@given(sql=st.text(alphabet="ab1E:;'\"`[]-/*$\\ \n", max_size=60))
def test_text_sees_exactly_the_placeholders_found(dialect: str, sql: str) -> None:
    for statement in sqltext.split(sql, rules(dialect)):
        assert set(statement.to_text()._bindparams) == set(statement.params)


@pytest.mark.postgresql
def test_query_binds_a_placeholder_before_a_cast(registry: dbnb.Registry) -> None:
    db = registry.connect("postgresql")
    frame = db.query("SELECT :n::int + 1 AS n, '10 :30' AS t, $$ :x $$ AS d", {"n": "41"})
    assert frame.to_dict("records") == [{"n": 42, "t": "10 :30", "d": " :x "}]


@pytest.mark.usefixtures("read_path")
def test_query_leaves_colons_in_literals_and_comments(db: dbnb.Database, backend: str) -> None:
    frame = db.query("SELECT ':id' AS s, name FROM items WHERE id = :id -- :note", {"id": 2})
    assert frame.to_dict("records") == [{"s": ":id", "name": "two"}]
    # text() would take the backslash of \: for its escape, in a literal too.
    frame = db.query("SELECT 'a\\:b \\: c' AS s, :id AS id", {"id": 2})
    # In MariaDB's literals a backslash escapes the next character: it sent 'a\:b \: c'.
    want = "a:b : c" if backend == "mysql" else "a\\:b \\: c"
    assert frame.to_dict("records") == [{"s": want, "id": 2}]


def test_query_names_a_missing_parameter(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.ParameterError, match="no value for :id;"):
        db.query("SELECT name FROM items WHERE id = :id")


def test_keywords_skip_comments() -> None:
    assert sqltext.parse("-- c\n/* d */ rollback to s", rules("sqlite")).keywords == (
        "ROLLBACK",
        "TO",
    )
    assert sqltext.parse("/* a /* b */ c */ (SELECT 1)", rules("postgresql")).keywords == (
        "SELECT",
    )
    assert sqltext.parse("SELECT 1", rules("postgresql")).keywords == ("SELECT",)
