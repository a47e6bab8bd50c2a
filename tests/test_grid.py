"""The explore grid (issue 26) without a browser: the widget's state set as the browser
sets it, each answer checked against pandas over every row, on SQLite, PostgreSQL and
MariaDB; a click past a slow page cancels it on the server; keyset paging; what a
kernel displays. tests/test_grid_browser.py drives the same grid in JupyterLab."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

import dbnb
from dbnb.notebook.grid import WIDGET, Grid, bundle, parse_filter
from tests.test_explore import AMOUNT, NAME, REGION, TABLE
from tests.test_explore import source as source  # the same table, made the same way

GUARD = 20.0  # seconds a wait allows: generous, never a measure


def within(condition: Callable[[], bool], seconds: float = GUARD) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def grid(db: dbnb.Database, source: pd.DataFrame) -> Iterator[Grid]:
    shown = Grid(db.explore(TABLE, page_size=10))
    yield shown
    shown.close()


def settled(grid: Grid) -> list[list[str | None]]:
    """The rows once the grid's read and count have come."""
    assert within(lambda: not grid.loading and grid.count is not None), grid.error
    return grid.rows


def ids(rows: list[list[str | None]]) -> list[int]:
    return [int(str(row[0])) for row in rows]


def test_the_first_page_and_the_count_come_from_the_database(
    grid: Grid, source: pd.DataFrame
) -> None:
    assert grid.columns == ["id", NAME, AMOUNT, REGION]
    assert grid.kinds == ["number", "text", "number", "text"]
    assert ids(settled(grid)) == list(range(1, 11))
    assert grid.count == len(source)
    assert grid.rows[9][1] is None  # NULL stays NULL, not the text "None"


def test_pages_sort_filter_and_search_as_the_browser_sets_them(
    grid: Grid, source: pd.DataFrame
) -> None:
    settled(grid)
    grid.page = 5
    assert within(lambda: not grid.loading and ids(grid.rows) == list(range(51, 58)))
    grid.sort, grid.page = [AMOUNT, True], 0  # a second click on the header: descending
    expected = source.sort_values([AMOUNT, "id"], ascending=False)
    assert within(lambda: not grid.loading and ids(grid.rows) == expected["id"].tolist()[:10])
    grid.filters = {AMOUNT: ">= 10", REGION: "eu"}  # bare text: contains, any case
    view = expected[(expected[AMOUNT] >= 10) & (expected[REGION] == "EU")]
    assert within(lambda: grid.count == len(view)), grid.error
    assert ids(settled(grid)) == view["id"].tolist()[:10]
    grid.search = "jones_3"
    searched = view[view[NAME].fillna("").str.lower().str.contains("jones_3", regex=False)]
    assert within(lambda: grid.count == len(searched)), grid.error
    assert ids(settled(grid)) == searched["id"].tolist()
    sql = grid.sql
    assert "jones_3" not in sql.split("\n-- params:")[0]  # bound, listed under the SQL
    assert "-- params:" in sql


def test_a_filter_typed_wrong_says_so_and_keeps_the_view(grid: Grid) -> None:
    settled(grid)
    grid.filters = {AMOUNT: "> many"}
    assert grid.error == f"column {AMOUNT!r}: 'many' is not a number"
    assert ids(grid.rows) == list(range(1, 11))
    grid.filters = {AMOUNT: "in 1, 2, 3"}
    assert within(lambda: grid.error == "" and grid.count is not None and not grid.loading)
    assert all(int(str(row[2])) in (1, 2, 3) for row in grid.rows)


def test_an_injection_typed_into_a_filter_is_a_value(grid: Grid, source: pd.DataFrame) -> None:
    settled(grid)
    grid.filters = {NAME: "= x' OR '1'='1"}
    assert within(lambda: grid.count == 0), grid.error
    assert settled(grid) == []
    grid.filters = {NAME: "O'Jones_3%!"}  # contains: its quote, _, % and ! are text
    assert within(lambda: grid.count == 1), grid.error
    grid.filters = {NAME: "like O'Jones_3%"}  # LIKE's own wildcards, asked for
    matched = source[NAME].fillna("").str.match(r"O'Jones.3", case=True)
    assert within(lambda: grid.count == matched.sum() > 1), grid.error


def test_the_column_summary_is_the_views(grid: Grid, source: pd.DataFrame) -> None:
    settled(grid)
    grid.filters = {REGION: "= US"}
    assert within(lambda: grid.count is not None and not grid.loading)
    grid.send_state()  # the browser's message arrives as this call does
    grid._asked_for(grid, {"summary": AMOUNT}, [])
    view = source[source[REGION] == "US"][AMOUNT]
    assert within(lambda: grid.summary.get("column") == AMOUNT)
    top = view.value_counts()
    assert grid.summary == {
        "column": AMOUNT,
        "rows": len(view),
        "nulls": 0,
        "distinct": view.nunique(),
        "min": view.min(),
        "max": view.max(),
        "mean": pytest.approx(view.mean(), rel=1e-4),  # MariaDB gives 4 decimals
        "top": int(top[top == top.max()].index.min()),
        "top_count": int(top.max()),
    }
    # Numbers of an integer column stay ints (a row of figures would have made floats).
    assert [type(grid.summary[name]) for name in ("distinct", "min", "max")] == [int] * 3


def test_export_writes_the_view_through_dbnbs_writers(
    grid: Grid, source: pd.DataFrame, tmp_path: Path
) -> None:
    settled(grid)
    grid.filters = {AMOUNT: "< 5"}
    assert within(lambda: grid.count is not None and not grid.loading)
    view = source[source[AMOUNT] < 5]
    csv = grid.export("csv", tmp_path / "view.csv")
    assert pd.read_csv(csv)["id"].tolist() == view["id"].tolist()
    parquet = grid.export("parquet", tmp_path / "view.parquet")
    assert pq.read_table(parquet).column("id").to_pylist() == view["id"].tolist()
    assert grid.message == f"{len(view)} rows written to {parquet}"


@pytest.mark.parametrize(
    ("typed", "kind", "expected"),
    [
        ("> 5", "number", (">", 5)),
        ("<=2.5", "number", ("<=", 2.5)),
        ("<> 3", "number", ("!=", 3)),
        ("in 1, 2", "number", ("in", [1, 2])),
        ("IS NOT  NULL", "text", ("is not null", None)),
        ("smith", "text", ("contains", "smith")),
        ("'smith'", "text", ("contains", "smith")),
        ("= 'O''x'", "text", ("=", "O''x")),
        ("like a%", "text", ("like", "a%")),
        ("7", "number", ("=", 7)),
        ("true", "bool", ("=", True)),
        (">= 2024-05-01", "time", (">=", pd.Timestamp("2024-05-01").to_pydatetime())),
    ],
)
def test_what_a_user_types_under_a_header(typed: str, kind: Any, expected: Any) -> None:
    assert parse_filter(typed, kind, "c") == expected


@pytest.mark.postgresql
def test_a_page_clicked_past_is_cancelled_on_the_server(
    registry: dbnb.Registry, pg_database: str
) -> None:
    # Rows past 60 take 30 s each to compute: page 1 (rows 11-20 of a page of 10) is
    # quick, page 7 is not. The user clicks on to page 7, then back to page 1 before it
    # came: page 7's statement ends on the server and its answer never shows.
    db = registry.connect("postgresql")
    with db.session(write=True) as session:
        session.execute(
            text(
                "CREATE OR REPLACE FUNCTION grid_slow_after(n int, at int) RETURNS int "
                "LANGUAGE plpgsql AS $$ BEGIN IF n > at THEN PERFORM pg_sleep(30); END IF; "
                "RETURN n; END $$"
            )
        )
    sql = "SELECT grid_slow_after(n, 60) AS n FROM generate_series(1, 100) n"
    grid = Grid(db.explore(sql, page_size=10))

    def running(marker: str) -> int:
        found = db.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE :marker "
            "AND query LIKE '%grid_slow_after%' AND state = 'active' "
            "AND pid <> pg_backend_pid() AND datname = current_database()",
            {"marker": marker},
        )
        return int(found["n"].iloc[0])

    try:
        assert ids(grid.rows) == list(range(1, 11))  # while the count still runs
        assert grid.count is None
        assert within(lambda: running("%count(%") == 1)
        grid.page = 6
        assert within(lambda: running("%OFFSET%") == 1)
        grid.page = 1
        assert within(lambda: running("%OFFSET%") == 0)  # page 6's statement ended
        assert within(lambda: not grid.loading and ids(grid.rows) == list(range(11, 21)))
        time.sleep(0.5)  # page 6's answer, were it to come, would land now
        assert ids(grid.rows) == list(range(11, 21))
        grid.close()
        assert within(lambda: running("%count(%") == 0)  # closing stopped the count too
    finally:
        grid.close()
        with db.session(write=True) as session:
            session.execute(text("DROP FUNCTION grid_slow_after"))


def test_next_and_previous_pages_start_from_the_page_read_before(
    db: dbnb.Database, source: pd.DataFrame
) -> None:
    explorer = db.explore(TABLE, page_size=10)
    pages = [explorer.page(n) for n in range(6)]
    assert pd.concat(pages)["id"].tolist() == source["id"].tolist()
    onward, backwards = explorer._page_statement(3)
    assert "OFFSET" not in str(onward).upper()
    assert not backwards
    explorer._bounds = {3: explorer._bounds[3]}  # only page 3 known: page 2 is before it
    statement, backwards = explorer._page_statement(2)
    assert backwards
    assert "OFFSET" not in str(statement).upper()
    assert explorer.page(2)["id"].tolist() == list(range(21, 31))
    explorer._bounds = {}
    assert "OFFSET" in str(explorer._page_statement(5)[0]).upper()  # a jump: OFFSET
    assert explorer.page(5)["id"].tolist() == list(range(51, 58))
    explorer.sort(AMOUNT)  # not the key's order: OFFSET, the key orders ties
    explorer.page(0)
    assert "OFFSET" in str(explorer._page_statement(1)[0]).upper()
    by_amount = source.sort_values([AMOUNT, "id"])["id"].tolist()
    assert pd.concat([explorer.page(n) for n in range(6)])["id"].tolist() == by_amount
    explorer.sort("id", descending=True)  # the key's order, descending: keyset again
    first = explorer.page(0)
    assert "OFFSET" not in str(explorer._page_statement(1)[0]).upper()
    assert [*first["id"], *explorer.page(1)["id"]] == list(range(57, 37, -1))


def test_a_kernel_displays_the_grid_beside_the_first_page_and_count(
    db: dbnb.Database, source: pd.DataFrame, backend: str
) -> None:
    shown = bundle(db.explore(TABLE, page_size=5))
    assert set(shown) == {WIDGET, "text/html"}
    assert shown[WIDGET]["model_id"]
    assert f"5 of {len(source)} rows" in shown["text/html"]


@pytest.mark.slow  # a kernel of its own
def test_in_a_kernel_an_explorer_displays_as_the_grid(config_path: Path) -> None:
    from tests.test_complete_kernel import running_kernel

    cells = (
        "import dbnb",
        "db = dbnb.connect('sqlite')",
        "db.query('SELECT 1 AS x')",
    )
    with running_kernel(config_path, cells) as (_, client):
        reply: list[dict[str, Any]] = []
        client.execute_interactive(
            "db.explore('SELECT 1 AS x UNION ALL SELECT 2')",
            timeout=60,
            output_hook=reply.append,
        )
        results = [m for m in reply if m["msg_type"] == "execute_result"]
        assert len(results) == 1, [m["msg_type"] for m in reply]
        data = results[0]["content"]["data"]
        assert WIDGET in data
        assert "2 rows" in data["text/html"]


@pytest.mark.postgresql
def test_filters_and_search_work_on_the_types_real_schemas_use(
    registry: dbnb.Registry, pg_database: str
) -> None:
    # An enum and inet read as text but do not compare with text as they are, an
    # interval is a duration: each filter typed as a user would type it.
    db = registry.connect("postgresql")
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS grid_real"))
        session.execute(text("DROP TYPE IF EXISTS grid_status"))
        session.execute(text("CREATE TYPE grid_status AS ENUM ('new', 'paid', 'shipped')"))
        session.execute(
            text(
                "CREATE TABLE grid_real (id int PRIMARY KEY, status grid_status, ip inet, "
                "span interval, tags text[], doc jsonb)"
            )
        )
        session.execute(
            text(
                "INSERT INTO grid_real SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]"
                "::grid_status, ('10.0.0.' || g)::inet, g * interval '1 minute', "
                "ARRAY['t' || g % 2], jsonb_build_object('k', g % 5) FROM generate_series(1, 90) g"
            )
        )
    frame = db.query("SELECT * FROM grid_real")
    grid = Grid(db.explore("grid_real", page_size=10))
    try:
        assert grid.kinds == ["number", "text", "text", "duration", "other", "other"]
        cases = {
            ("status", "= paid"): (frame["status"] == "paid").sum(),
            ("status", "PAI"): (frame["status"] == "paid").sum(),
            ("status", "in new, shipped"): (frame["status"] != "paid").sum(),
            ("ip", "10.0.0.7"): frame["ip"].str.contains("10.0.0.7", regex=False).sum(),
            ("span", "> 1 hour"): (frame["span"] > pd.Timedelta(hours=1)).sum(),
            ("tags", "is not null"): len(frame),
        }
        for (column, typed), expected in cases.items():
            grid.filters = {column: typed}
            assert within(lambda: grid.count is not None and not grid.loading), grid.error
            assert (grid.error, grid.count) == ("", expected), (column, typed)
        grid.filters = {}
        grid.search = "shipp"  # an enum is searched as its text
        assert within(lambda: grid.count == (frame["status"] == "shipped").sum()), grid.error
        summary = grid.explorer.summary("status")  # of the view: the search holds
        assert (summary["distinct"], summary["top"], summary["top_count"]) == (1, "shipped", 30)
        shipped = frame[frame["status"] == "shipped"]["span"]
        assert grid.explorer.summary("span")["max"] == shipped.max()
    finally:
        grid.close()
        with db.session(write=True) as session:
            session.execute(text("DROP TABLE grid_real"))
            session.execute(text("DROP TYPE grid_status"))
