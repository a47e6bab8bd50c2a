"""One scanner, every reader of SQL text on top: they agree, dialect by dialect."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbnb.backends.postgresql import guards
from dbnb.backends.registry import backend_for
from dbnb.sql import sqlscan, sqltext
from dbnb.sql.sqlscan import LexicalRules
from tests.test_params import to_positional

DIALECTS = ["postgresql", "sqlite"]


def rules(dialect: str) -> LexicalRules:
    """The lexical rules of ``dialect``'s home."""
    return backend_for(dialect).lexical_rules


def kinds(sql: str, dialect: str) -> list[tuple[str, str]]:
    return [(t.kind, sql[t.start : t.end]) for t in sqlscan.scan(sql, rules(dialect))]


def test_postgresql_block_comments_nest_and_sqlites_do_not() -> None:
    sql = "SELECT 1 /* a /* b */ ; */ ; SELECT 2"
    assert [s.sql for s in sqltext.split(sql, rules("postgresql"))] == [
        "SELECT 1 /* a /* b */ ; */",
        "SELECT 2",
    ]
    # SQLite ends the comment at the first */: then `; */ ;` is code, `*/` a statement.
    assert [s.sql for s in sqltext.split(sql, rules("sqlite"))] == [
        "SELECT 1 /* a /* b */",
        "*/",
        "SELECT 2",
    ]


def test_postgresql_strings() -> None:
    sql = "SELECT E'it\\'s ; :x', 'a\\', $fn$ ; :y $fn$, $$;$$, a$1, :z"
    assert kinds(sql, "postgresql") == [
        ("string", "'it\\'s ; :x'"),  # E'...': a backslash escapes the quote
        ("string", "'a\\'"),  # '...': a backslash is a backslash
        ("string", "$fn$ ; :y $fn$"),
        ("string", "$$;$$"),
        ("bind", ":z"),  # a$1 is an identifier, not a placeholder
    ]
    assert kinds("SELECT $1, x$y$ FROM t", "postgresql") == [("placeholder", "$1")]


def test_sqlite_strings_and_identifiers() -> None:
    sql = 'SELECT E\'\\\', [a;b], `c``;d`, "e"";f", :g'
    assert kinds(sql, "sqlite") == [
        ("string", "'\\'"),  # no E'' strings: E is a name
        ("identifier", "[a;b]"),
        ("identifier", "`c``;d`"),
        ("identifier", '"e"";f"'),
        ("bind", ":g"),
    ]
    assert [kind for kind, _ in kinds("SELECT ?, ?2, @a, $b, :1, a:b", "sqlite")] == [
        "placeholder"
    ] * 6


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_is_left_open_runs_to_the_end(dialect: str) -> None:
    for sql in ("SELECT 'a; :b", 'SELECT "a; :b', "SELECT /* a; :b"):
        assert kinds(sql, dialect) == [("unterminated", sql[7:])]
        assert [s.params for s in sqltext.split(sql, rules(dialect))] == [()]
        assert to_positional(sql, dialect) is None


def test_leading_keywords() -> None:
    cases = {
        "-- c\n/* a /* nested */ b */ (rollback /* x */ to s)": ("ROLLBACK", "TO"),
        "SELECT * FROM t": ("SELECT",),
        "commit;": ("COMMIT",),
        "'a' SELECT": (),
        '"select" x': (),
        "  ": (),
    }
    for sql, words in cases.items():
        assert sqlscan.leading_keywords(sql, rules("postgresql")) == words, sql
        assert guards.leading_keywords(sql) == (*words, "", "")[:2]
    # Past a comment SQLite has closed, COMMIT is code there.
    assert sqlscan.leading_keywords("/* a /* b */ COMMIT */", rules("sqlite")) == ("COMMIT",)
    assert sqlscan.leading_keywords("/* a /* b */ COMMIT */", rules("postgresql")) == ()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_list_after_in_is_found(dialect: str) -> None:
    statement = sqltext.parse(
        "SELECT * FROM t WHERE a IN :a AND b NOT in /* c */ :b AND c IN ( :c ) "
        "AND d IN (:d, :e) AND f = ANY(:f) AND g = :g AND JOIN_IN :h",
        rules(dialect),
    )
    assert statement.in_bare == {"a", "b"}
    assert statement.in_parens == {"c"}
    clause = statement.to_text({"c": [1, 2], "a": [1]})
    assert "IN   :c   AND" in clause.text  # its parentheses are the expansion's
    assert {name for name, bind in clause._bindparams.items() if bind.expanding} == {"a", "c"}


# --- the readers agree, on generated SQL ------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "region", "n1", "_x"])
_TEXT = st.text(alphabet=" ab:;'\"`[]$-/*\\\n", max_size=12)
_PLAIN = st.text(alphabet=" ab:;$-\\", max_size=12)  # no quote, comment sign or newline


@st.composite
def _piece(draw: Any, dialect: str) -> tuple[str, list[str]]:
    """One piece of a statement: its text, and the placeholders it holds as code."""
    kinds = ["word", "bind", "cast", "in", "string", "identifier", "line", "block"]
    if dialect == "postgresql":
        kinds += ["estring", "dollar"]
    else:
        kinds += ["backquote", "bracket"]
    kind = draw(st.sampled_from(kinds))
    text = draw(_TEXT)
    if kind == "word":
        return draw(st.sampled_from(["x", "t.a", "1", "count(*)", "x::text", "a - b / 2"])), []
    if kind in ("bind", "cast", "in"):
        name = draw(_NAMES)
        return {"bind": f":{name}", "cast": f":{name}::int", "in": f"x IN (:{name})"}[kind], [name]
    if kind == "string":
        return "'" + text.replace("'", "''") + "'", []
    if kind == "estring":
        return "E'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'", []
    if kind == "dollar":
        tag = draw(st.sampled_from(["", "t", "fn"]))
        return f"${tag}$" + text.replace("$", "") + f"${tag}$", []
    if kind == "identifier":
        return '"' + text.replace('"', '""') + '"', []
    if kind == "backquote":
        return "`" + text.replace("`", "``") + "`", []
    if kind == "bracket":
        return "[" + text.replace("]", "") + "]", []
    if kind == "line":
        return "--" + text.replace("\n", "") + "\n", []
    body = draw(_PLAIN)
    if draw(st.booleans()):  # a comment inside: nested on PostgreSQL, plain text on SQLite
        inner = "/* " + draw(_PLAIN) + " */" if dialect == "postgresql" else "/* " + body
        body = f"{body} {inner} {draw(_PLAIN)}"
    return "/*" + body + "*/", []


@st.composite
def _statement(draw: Any, dialect: str) -> tuple[str, list[str]]:
    pieces = draw(st.lists(_piece(dialect), max_size=8))
    lead = draw(st.sampled_from(["", "/* lead */ ", "-- lead\n", "("]))
    names = [name for _, found in pieces for name in found]
    sql = lead + "SELECT " + " ".join(text for text, _ in pieces) + (")" if lead == "(" else "")
    return sql, list(dict.fromkeys(names))


@st.composite
def _cell(draw: Any, dialect: str) -> tuple[str, list[tuple[str, list[str]]]]:
    statements = draw(st.lists(_statement(dialect), min_size=1, max_size=3))
    end = draw(st.sampled_from(["", ";", " ; -- done", "; /* done */ ;"]))
    return "; ".join(sql for sql, _ in statements) + end, statements


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(max_examples=300)
@given(data=st.data())
def test_the_readers_agree(dialect: str, data: st.DataObject) -> None:
    sql, expected = data.draw(_cell(dialect))
    statements = sqltext.split(sql, rules(dialect))
    # Split into the statements written, each with the placeholders written as code.
    assert [s.params for s in statements] == [tuple(names) for _, names in expected]
    # One statement iff the columnar path's proof finds one, with the same placeholders.
    positional = to_positional(sql, dialect)
    assert (positional is not None) == (len(statements) == 1)
    for statement, (written, _) in zip(statements, expected, strict=True):
        alone = to_positional(written, dialect)
        assert alone is not None
        assert alone.names == statement.params
        # The placeholders text() sees are those found.
        assert set(statement.to_text()._bindparams) == set(statement.params)
        # The same leading keywords, whoever asks.
        assert statement.keywords[0] == "SELECT"
        assert sqlscan.leading_keywords(written, rules(dialect)) == statement.keywords
        if dialect == "postgresql":
            assert guards.leading_keywords(written)[0] == "SELECT"
    if positional is not None:
        assert positional.names == statements[0].params


@pytest.mark.parametrize("dialect", DIALECTS)
@given(tail=st.text(alphabet="ab1E:;'\"`[]-/*$\\ \n()", max_size=40))
def test_what_the_columnar_path_takes_is_one_statement(dialect: str, tail: str) -> None:
    sql = "SELECT " + tail
    positional = to_positional(sql, dialect)
    if positional is not None:
        statements = sqltext.split(sql, rules(dialect))
        assert len(statements) == 1
        assert positional.names == statements[0].params


@pytest.mark.parametrize(("dialect", "theirs"), [("postgresql", "postgres"), ("sqlite", "sqlite")])
@settings(max_examples=200)
@given(data=st.data())
def test_semicolons_as_sqlglot_finds_them(dialect: str, theirs: str, data: st.DataObject) -> None:
    """sqlglot's tokenizer, where installed, as an independent reading of the same rules."""
    sqlglot = pytest.importorskip("sqlglot")
    sql, _ = data.draw(_cell(dialect))
    tokens = sqlglot.Dialect.get_or_raise(theirs).tokenizer_class().tokenize(sql)
    semicolons = [t.start for t in tokens if t.token_type.name == "SEMICOLON"]
    found = sqlscan.scan(sql, rules(dialect))
    assert [t.start for t in found if t.kind == "semicolon"] == semicolons
