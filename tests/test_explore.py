"""db.explore: a view of a table or a read query that the database pages, sorts,
filters, searches and counts (issue 26), on SQLite, PostgreSQL and MariaDB, on both
read paths; each answer checked against pandas over every row; the magics through a
real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import column, select, table, text

import dbnb
from tests.fixtures import rows
from tests.magic_fixtures import db as run

pytestmark = pytest.mark.usefixtures("read_path")

# Names an explorer must quote: a space, a quote, mixed case.
TABLE = "Explore Me"
NAME, AMOUNT, REGION = 'Cust "Name"', "Amount", "region"
COUNT = 57
QUOTED = {"sqlite": '"', "postgresql": '"', "mysql": "`"}


def quoted(backend: str, name: str) -> str:
    mark = QUOTED[backend]
    return mark + name.replace(mark, mark * 2) + mark


def expected_rows() -> pd.DataFrame:
    names = [f"smith {i}" if i % 3 else f"O'Jones_{i}%!" for i in range(1, COUNT + 1)]
    return pd.DataFrame(
        {
            "id": range(1, COUNT + 1),
            NAME: [None if i % 10 == 0 else name for i, name in enumerate(names, start=1)],
            AMOUNT: [(i * 7) % 23 for i in range(1, COUNT + 1)],  # ties: the key orders them
            REGION: ["EU" if i % 2 else "US" for i in range(1, COUNT + 1)],
        }
    )


@pytest.fixture
def source(db: dbnb.Database, backend: str) -> Iterator[pd.DataFrame]:
    """A table whose names need quoting, and its rows as pandas holds them."""
    q = lambda name: quoted(backend, name)  # noqa: E731
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE IF EXISTS {q(TABLE)}"))
        session.execute(
            text(
                f"CREATE TABLE {q(TABLE)} (id INTEGER PRIMARY KEY, {q(NAME)} VARCHAR(40), "
                f"{q(AMOUNT)} INTEGER NOT NULL, {q(REGION)} VARCHAR(2) NOT NULL)"
            )
        )
    expected = expected_rows()
    db.write(expected, TABLE)
    yield expected
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE IF EXISTS {q(TABLE)}"))


def plain(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        tuple(None if pd.isna(value) else value for value in row)
        for row in frame.astype(object).itertuples(index=False)
    ]


def test_pages_are_the_tables_rows_in_key_order(db: dbnb.Database, source: pd.DataFrame) -> None:
    explorer = db.explore(TABLE, page_size=10)
    assert explorer.columns == ["id", NAME, AMOUNT, REGION]
    pages = [explorer.page(n) for n in range(7)]
    assert [len(page) for page in pages] == [10, 10, 10, 10, 10, 7, 0]
    assert plain(pd.concat(pages)) == plain(source)
    assert explorer.count() == COUNT


def test_sort_filter_search_are_done_by_the_database(
    db: dbnb.Database, source: pd.DataFrame
) -> None:
    explorer = db.explore(TABLE, page_size=4)
    explorer.sort(AMOUNT, descending=True).filter(REGION, "=", "EU").search("SMITH")
    view = source[(source[REGION] == "EU") & source[NAME].str.contains("smith", na=False)]
    view = view.sort_values([AMOUNT, "id"], ascending=False)
    assert explorer.count() == len(view)
    assert plain(explorer.page(1)) == plain(view.iloc[4:8])
    assert plain(explorer.frame()) == plain(view)
    # The database read one page: the history's last row counts its rows.
    explorer.page(0)
    assert dbnb.history(limit=1)["rows"].iloc[0] == 4


def test_search_takes_its_text_literally(db: dbnb.Database, source: pd.DataFrame) -> None:
    """A search's % and _ are the characters, not LIKE's wildcards; a quote is bound."""
    explorer = db.explore(TABLE)
    for needle in ("_1", "%", "o'jones_2", "!"):
        explorer.search(needle)
        found = source[NAME].str.lower().str.contains(needle.lower(), regex=False, na=False)
        assert explorer.count() == int(found.sum()), needle


@pytest.mark.parametrize(
    ("op", "value", "keep"),
    [
        ("!=", "EU", lambda f: f[REGION] != "EU"),
        ("<", 5, lambda f: f[AMOUNT] < 5),
        ("<=", 5, lambda f: f[AMOUNT] <= 5),
        (">", 20, lambda f: f[AMOUNT] > 20),
        (">=", 20, lambda f: f[AMOUNT] >= 20),
        ("in", [1, 2, 22], lambda f: f[AMOUNT].isin([1, 2, 22])),
        ("like", "smith 1%", lambda f: f[NAME].str.startswith("smith 1", na=False)),
        ("ilike", "SMITH 1%", lambda f: f[NAME].str.startswith("smith 1", na=False)),
        ("is null", None, lambda f: f[NAME].isna()),
        ("is not null", None, lambda f: f[NAME].notna()),
    ],
)
def test_each_filter(
    db: dbnb.Database, source: pd.DataFrame, op: str, value: object, keep: object
) -> None:
    column_ = (
        AMOUNT
        if op in ("<", "<=", ">", ">=", "in")
        else NAME
        if "null" in op or "like" in op
        else REGION
    )
    explorer = db.explore(TABLE).filter(column_, op, value)
    expected = source[keep(source)]  # type: ignore[operator]
    assert explorer.count() == len(expected)
    assert plain(explorer.frame()) == plain(expected)


def test_clear_and_the_views_sql_read_again(db: dbnb.Database, source: pd.DataFrame) -> None:
    explorer = db.explore(TABLE).filter(NAME, "=", "O'Jones_3%!").sort(AMOUNT)
    explorer.filter(AMOUNT, "in", [0, 1, 2, 21])
    sql, params = explorer.sql()
    assert "O'Jones" not in sql  # bound, never spliced into the text
    assert list(params.values()) == ["O'Jones_3%!", 0, 1, 2, 21]
    assert plain(db.query(sql, params)) == plain(explorer.frame())
    assert len(explorer.frame()) == 1
    assert explorer.clear().count() == COUNT
    assert "O'Jones_3%!" not in " ".join(dbnb.history(limit=5)["sql"])


def test_a_query_with_params_and_a_select_are_sources(
    db: dbnb.Database, source: pd.DataFrame, backend: str
) -> None:
    q = lambda name: quoted(backend, name)  # noqa: E731
    sql = (
        f"SELECT {q(REGION)}, count(*) AS n FROM {q(TABLE)} "
        f"WHERE {q(AMOUNT)} > :low GROUP BY {q(REGION)}"
    )
    explorer = db.explore(sql, {"low": 10}).sort("n", descending=True)
    counts = source[source[AMOUNT] > 10][REGION].value_counts()
    assert plain(explorer.frame()) == list(counts.items())
    assert explorer.filter("n", ">", counts.min()).count() == 1

    stored = table(TABLE, column("id"), column(AMOUNT))
    picked = db.explore(select(stored).where(stored.c[AMOUNT] >= 20), page_size=3).sort("id")
    assert plain(picked.page(0)) == plain(source[source[AMOUNT] >= 20][["id", AMOUNT]].iloc[:3])


def test_a_source_without_a_key_orders_a_sorts_ties_by_its_other_columns(
    db: dbnb.Database, source: pd.DataFrame, backend: str
) -> None:
    # SQL text has no primary key: rows equal in the sort's column (REGION: two values
    # for 57 rows) come in the order of the other columns, the same on every page.
    q = lambda name: quoted(backend, name)  # noqa: E731
    explorer = db.explore(f"SELECT {q(REGION)}, id FROM {q(TABLE)}", page_size=10)
    explorer.sort(REGION, descending=True)
    pages = pd.concat([explorer.page(n) for n in range(6)], ignore_index=True)
    expected = source.sort_values([REGION, "id"], ascending=False)[[REGION, "id"]]
    assert plain(pages) == plain(expected)
    assert explorer.sql()[0].endswith("ORDER BY dbnb_view.region DESC, dbnb_view.id DESC")


def test_mistakes_are_one_line_naming_what_to_use(db: dbnb.Database, source: pd.DataFrame) -> None:
    explorer = db.explore(TABLE)
    with pytest.raises(dbnb.OptionError, match=r"has no column 'nope'; its columns: id, Cust"):
        explorer.sort("nope")
    with pytest.raises(dbnb.OptionError, match=r"no filter '~'; use one of =, !="):
        explorer.filter(AMOUNT, "~", 1)
    with pytest.raises(dbnb.OptionError, match=r"needs a value \(for NULL use 'is null'"):
        explorer.filter(AMOUNT, "=")
    with pytest.raises(dbnb.OptionError, match=r"a page is a number from 0, not -1"):
        explorer.page(-1)
    with pytest.raises(dbnb.OptionError, match="page_size is a number of rows above 0"):
        db.explore(TABLE, page_size=0)
    assert explorer.count() == COUNT  # nothing of the above changed the view


@pytest.mark.postgresql
def test_a_source_that_writes_is_refused_and_writes_nothing(
    registry: dbnb.Registry, read_path: str
) -> None:
    db = registry.connect("postgresql")
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS explore_kept"))
        session.execute(text("DROP SEQUENCE IF EXISTS explore_seq"))
        session.execute(text("CREATE TABLE explore_kept (id INTEGER PRIMARY KEY)"))
        session.execute(text("INSERT INTO explore_kept VALUES (1), (2)"))
        session.execute(text("CREATE SEQUENCE explore_seq"))
    with pytest.raises(dbnb.ReadOnlyError):
        db.explore("SELECT nextval('explore_seq') AS n").page(0)
    with pytest.raises(dbnb.DbnbError):  # refused by the server inside the explorer's FROM
        db.explore("WITH gone AS (DELETE FROM explore_kept RETURNING id) SELECT * FROM gone")
    assert rows(db, "explore_kept") == [(1,), (2,)]
    with db.session(write=True) as session:
        assert session.execute(text("SELECT nextval('explore_seq')")).scalar() == 1


def test_a_notebook_without_a_grid_shows_the_first_page_and_the_count(
    db: dbnb.Database, source: pd.DataFrame
) -> None:
    shown = db.explore(TABLE, page_size=5).filter(REGION, "=", "US")._repr_html_()
    assert "5 of 28 rows" in shown
    assert shown.count("<tr") == 1 + 5  # the header and one page


def test_the_magics_explore_a_table_and_a_cells_query(
    ip: InteractiveShell, db: dbnb.Database, source: pd.DataFrame, backend: str
) -> None:
    run(ip, f"use {db.name}")
    with pytest.raises(UsageError, match="usage: %db explore TABLE"):
        run(ip, "explore")
    ip.user_ns["low"] = 20
    assert run(ip, f"explore {TABLE}").count() == COUNT  # a name with a space
    explorer = run(
        ip,
        f"{db.name} --explore -o view",
        f"SELECT * FROM {quoted(backend, TABLE)} WHERE {quoted(backend, AMOUNT)} >= :low",
    )
    assert ip.user_ns["view"] is explorer
    assert explorer.count() == int((source[AMOUNT] >= 20).sum())
    for other in ("--csv out.csv", "--bg"):  # --bg: the grid's reads are background ones
        with pytest.raises(UsageError, match="--explore shows a grid"):
            run(ip, f"{db.name} --explore {other}", "SELECT 1")


@pytest.mark.postgresql
def test_search_skips_columns_that_are_not_text(registry: dbnb.Registry, pg_database: str) -> None:
    # A jsonb column reads as objects, as an empty read's text column might: the SQL
    # type tells them apart, and the search looks in the text only (ILIKE on jsonb fails).
    db = registry.connect("postgresql")
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS explore_docs"))
        session.execute(text("CREATE TABLE explore_docs (id int PRIMARY KEY, t text, d jsonb)"))
        session.execute(
            text("INSERT INTO explore_docs VALUES (1, 'alpha', '{\"x\": 1}'), (2, 'beta', NULL)")
        )
    explorer = db.explore("explore_docs")
    assert explorer.text_columns == ("t",)
    assert explorer.kinds["d"] == "other"
    assert explorer.search("ALPH").frame()["id"].tolist() == [1]
    # What the database refuses is said without a place in the SQL dbnb wrote.
    with pytest.raises(dbnb.QueryError, match="operator does not exist: jsonb = integer") as no:
        explorer.clear().filter("d", "=", 5).count()
    assert "at character" not in str(no.value)
    assert no.value.statement is not None  # the statement stays among its facts
    explorer.clear().search("ALPH")
    assert explorer.summary("d") == {
        "column": "d", "rows": 1, "nulls": 0, "distinct": None, "min": None, "max": None,
        "mean": None, "top": None, "top_count": None,
    }  # fmt: skip
