"""Seeing the data: plots and profiles computed by the database, plans, on SQLite,
PostgreSQL and MariaDB. Each number is checked against pandas/numpy on the same rows, and the
history shows that only aggregate rows came back."""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

import dbnb
from dbnb.see import plots
from dbnb.see import profile as profile_module
from tests.fixtures import rows
from tests.test_imports import loaded_by

matplotlib.use("Agg")  # no display: plots draw to memory
from matplotlib import pyplot

TABLE = "see_orders"
DDL = {
    "postgresql": f"""CREATE TABLE {TABLE} (
        id integer PRIMARY KEY, region text, total numeric(10, 2), score double precision,
        qty integer, placed timestamptz, day date, ok boolean, doc jsonb)""",
    "sqlite": f"""CREATE TABLE {TABLE} (
        id INTEGER PRIMARY KEY, region TEXT, total NUMERIC, score REAL,
        qty INTEGER, placed DATETIME, day DATE, ok BOOLEAN, doc JSON)""",
    # TEXT in the server's default, case-insensitive collation: dbnb must not rely on it.
    "mysql": f"""CREATE TABLE {TABLE} (
        id INTEGER PRIMARY KEY, region TEXT, total DECIMAL(10, 2), score DOUBLE,
        qty INTEGER, placed DATETIME, day DATE, ok BOOLEAN, doc JSON)""",
}
# Mixed case, accents and a sign: a collation-aware min() would disagree with Python's.
REGIONS = ["EU", "eu", "US", "Ürün", "b", "_x", None]
ROWS = 240
START = datetime(2024, 1, 1, tzinfo=UTC)


def _data(backend: str) -> pd.DataFrame:
    pick = random.Random(14)
    records = []
    for index in range(1, ROWS + 1):
        records.append(
            {
                "id": index,
                "region": REGIONS[min(int(pick.expovariate(0.6)), len(REGIONS) - 1)],
                "total": None if index % 11 == 0 else Decimal(pick.randrange(0, 100_000)) / 100,
                "score": pick.uniform(-5, 5),
                "qty": None if index % 7 == 0 else index % 101,  # 0..100, NULL each 7th
                "placed": datetime(2024, 1, 1, tzinfo=UTC)
                + timedelta(minutes=pick.randrange(9999)),
                "day": None if index % 5 == 0 else date(2024, 1, 1) + timedelta(days=index % 17),
                "ok": None if index % 13 == 0 else pick.random() < 0.3,
                "doc": None if index % 3 == 0 else {"k": index % 4},
            }
        )
    frame = pd.DataFrame(records)
    if backend in ("sqlite", "mysql"):  # DATETIME is written without a time zone
        frame["placed"] = frame["placed"].dt.tz_localize(None)
    return frame


@pytest.fixture
def orders(db: dbnb.Database, backend: str) -> Iterator[dbnb.Database]:
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        session.execute(text(DDL[backend]))
    assert db.write(_data(backend), TABLE) == ROWS
    yield db
    pyplot.close("all")
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE {TABLE}"))


def _last_statements(count: int) -> pd.DataFrame:
    return dbnb.history(count)


# --- plots ---------------------------------------------------------------------------


def test_hist_counts_are_numpys_and_only_the_bins_travel(orders: dbnb.Database) -> None:
    dbnb.clear_history()
    ax = orders.plot("hist", TABLE, "qty", bins=10)
    heights = [patch.get_height() for patch in ax.patches]
    table = orders.query(f"SELECT qty FROM {TABLE}")
    values = table["qty"].dropna().astype(int).to_numpy()
    assert (
        sum(heights)
        == len(values)
        == orders.query(f"SELECT count(qty) AS n FROM {TABLE}")["n"].iloc[0]
    )
    expected, edges = np.histogram(values, bins=10)
    assert heights == list(expected)
    assert [patch.get_x() for patch in ax.patches] == pytest.approx(list(edges[:-1]))
    assert ax.get_title() == f"qty of {TABLE}: {len(values):,} values in 10 bins"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("qty", "rows")
    plotted = dbnb.history()
    plotted = plotted[plotted["sql"].str.contains("dbnb_range")]
    assert len(plotted) == 1  # one statement, and it brought back the bins only
    assert plotted["rows"].iloc[0] == 10


def test_bar_counts_per_value_sum_to_the_row_count(orders: dbnb.Database, backend: str) -> None:
    dbnb.clear_history()
    ax = orders.plot("bar", TABLE, "region", top=10)
    sent = dbnb.history()["rows"].tolist()
    regions = orders.query(f"SELECT region FROM {TABLE}")["region"]
    if backend == "mysql":
        # The bars are the database's GROUP BY, and MariaDB's default collation is
        # case-insensitive: 'EU' and 'eu' are one value there (shown as either).
        regions = regions.str.lower()
    counts = regions.value_counts(dropna=False)
    assert sent == [len(counts)]  # one statement: a row per value
    labels = [label.get_text() for label in ax.get_xticklabels()]
    if backend == "mysql":
        labels = [label if label == "NULL" else label.lower() for label in labels]
    heights = [int(patch.get_height()) for patch in ax.patches]
    assert sum(heights) == ROWS
    shown = dict(zip(labels, heights, strict=True))
    assert shown == {("NULL" if pd.isna(k) else k): int(v) for k, v in counts.items()}
    assert heights == sorted(heights, reverse=True)
    assert ax.get_title() == f"region of {TABLE}: top {len(counts)} of {len(counts)} values"


def test_bar_top_n_says_how_many_rows_are_in_the_others(
    orders: dbnb.Database, backend: str
) -> None:
    ax = orders.plot("bar", TABLE, "region", top=2)
    regions = orders.query(f"SELECT region FROM {TABLE}")["region"]
    if backend == "mysql":  # GROUP BY in a case-insensitive collation (see above)
        regions = regions.str.lower()
    counts = regions.value_counts(dropna=False)
    heights = [int(patch.get_height()) for patch in ax.patches]
    assert heights == list(counts.iloc[:2])
    others = ROWS - sum(heights)
    assert ax.get_title().endswith(f"top 2 of {len(counts)} values, {others:,} rows in the others")


def test_box_quartiles_are_pandas_and_one_row_travels(orders: dbnb.Database) -> None:
    dbnb.clear_history()
    ax = orders.plot("box", TABLE, "score")
    assert dbnb.history()["rows"].tolist() == [1]
    scores = orders.query(f"SELECT score FROM {TABLE}")["score"].astype(float)
    found = plots.quartiles(orders, TABLE, "score")
    assert found["n"] == ROWS
    assert found["q1"] == pytest.approx(scores.quantile(0.25), rel=1e-12)
    assert found["median"] == pytest.approx(scores.median(), rel=1e-12)
    assert found["q3"] == pytest.approx(scores.quantile(0.75), rel=1e-12)
    assert (found["low"], found["high"]) == (
        pytest.approx(scores.min()),
        pytest.approx(scores.max()),
    )
    box = ax.lines  # whiskers, caps, box, median
    assert any(line.get_ydata()[0] == pytest.approx(scores.median()) for line in box)
    assert ax.get_title() == f"score of {TABLE}: {ROWS} values (whiskers at min and max)"


@pytest.mark.parametrize("count", [1, 2, 3, 4, 9])
def test_quartiles_interpolate_as_pandas_for_few_values(orders: dbnb.Database, count: int) -> None:
    query = f"SELECT qty FROM {TABLE} WHERE id <= :n"
    found = plots.quartiles(orders, query, "qty", {"n": count})
    values = orders.query(query, {"n": count})["qty"].dropna().astype(float)
    assert found["n"] == len(values)
    for name, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        assert found[name] == pytest.approx(values.quantile(p))


def test_a_query_source_is_aggregated_in_the_database_with_bound_values(
    orders: dbnb.Database,
) -> None:
    dbnb.clear_history()
    query = f"SELECT qty FROM {TABLE} WHERE region = :region"
    ax = orders.plot("hist", query, "qty", {"region": "EU"}, bins=4)
    expected = orders.query(query, {"region": "EU"})["qty"].dropna()
    assert sum(patch.get_height() for patch in ax.patches) == len(expected)
    sent = dbnb.history()["sql"].iloc[0]
    assert "EU" not in sent  # bound, not spliced
    assert f"(SELECT qty FROM {TABLE} WHERE region =" in sent


def test_a_plot_of_a_write_is_refused_and_changes_nothing(orders: dbnb.Database) -> None:
    with pytest.raises(dbnb.DbnbError):
        orders.plot("bar", f"DELETE FROM {TABLE} RETURNING id", "id")
    assert len(rows(orders, TABLE)) == ROWS


def test_plot_errors_are_one_line(orders: dbnb.Database) -> None:
    with pytest.raises(dbnb.DbnbError, match=r"plot kind 'pie' is not one of hist, bar, box"):
        orders.plot("pie", TABLE, "qty")
    with pytest.raises(dbnb.DbnbError, match=r"bins must be a positive whole number, not 0"):
        orders.plot("hist", TABLE, "qty", bins=0)
    with pytest.raises(dbnb.QueryError):
        orders.plot("hist", TABLE, "nope")


@pytest.mark.slow
def test_matplotlib_loads_with_the_first_plot(tmp_path: Path) -> None:
    setup = f"import dbnb\ndb = dbnb.connect('sqlite:///{tmp_path / 'x.db'}')\n"
    read = "db.query('SELECT 1 AS x'); db.explain('SELECT 1')\n"
    assert "matplotlib" not in loaded_by(setup + read)
    assert "matplotlib" in loaded_by(setup + read + "db.plot('bar', 'SELECT 1 AS x', 'x')\n")


def test_without_matplotlib_a_plot_names_the_extra(
    orders: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    missing = r"^plots need matplotlib: pip install 'dbnb\[plots\]'$"
    with pytest.raises(dbnb.DbnbError, match=missing):
        orders.plot("hist", TABLE, "qty")


def test_hist_of_one_value_is_one_bar(orders: dbnb.Database) -> None:
    ax = orders.plot("hist", f"SELECT qty FROM {TABLE} WHERE qty = 5", "qty", bins=3)
    assert [patch.get_height() for patch in ax.patches] == [
        len(orders.query(f"SELECT id FROM {TABLE} WHERE qty = 5")),
        0,
        0,
    ]


# --- profiles -------------------------------------------------------------------------


def _pandas_profile(frame: pd.DataFrame, column: str) -> dict[str, Any]:
    series = frame[column]
    found: dict[str, Any] = {
        "count": int(series.count()),
        "nulls": int(series.isna().sum()),
    }
    if column == "doc":  # dicts: distinct as their JSON text
        texts = series.dropna().map(json.dumps)
        found["distinct"] = texts.nunique()
        return found
    found.update(
        distinct=series.nunique(),
        min=series.min(),
        max=series.max(),
        top=series.mode().iloc[0],  # the most frequent; of equals, the smallest
    )
    if column in ("id", "total", "score", "qty"):
        found["mean"] = float(series.astype(float).mean())
    return found


def test_profile_equals_pandas_on_the_same_rows(orders: dbnb.Database) -> None:
    dbnb.clear_history()
    profile = orders.profile(TABLE)
    statements = dbnb.history()
    scans = statements[statements["sql"].str.contains(f"FROM {TABLE}")]  # not the catalog
    # The columns' dtypes (no rows), a sample of the first rows (how to count each
    # column's distinct values), then one aggregate statement; on MariaDB first its
    # TEXT columns' longest widths, one scan of lengths (they are counted cut to them).
    widths = [1] if orders.config.backend == "mysql" else []
    assert scans["rows"].tolist() == [0, *widths, 1, 1]
    assert f"LIMIT {profile_module.SAMPLE_ROWS}" in scans["sql"].iloc[1 + len(widths)]
    frame = orders.query(f"SELECT * FROM {TABLE}")
    assert list(profile["column"]) == list(frame.columns)
    assert list(profile.columns[:9]) == [
        "column", "type", "count", "nulls", "distinct", "min", "max", "mean", "top"
    ]  # fmt: skip
    for row in profile.itertuples(index=False):
        expected = _pandas_profile(frame, row.column)
        for stat, value in expected.items():
            got = getattr(row, stat)
            if stat == "mean":
                assert float(got) == pytest.approx(value, rel=1e-12), (row.column, stat)
            else:
                assert got == value, (row.column, stat, got, value)
        if "mean" not in expected:
            assert pd.isna(row.mean), row.column


def test_profile_types_and_unknown_tables(orders: dbnb.Database, backend: str) -> None:
    types = dict(orders.profile(TABLE)[["column", "type"]].itertuples(index=False))
    assert types["region"] == "TEXT"
    assert types["placed"] == (
        "TIMESTAMP WITH TIME ZONE" if backend == "postgresql" else "DATETIME"
    )
    with pytest.raises(dbnb.QueryError, match=r"no table 'see_order' to profile; did you mean"):
        orders.profile("see_order")


# --- plans ----------------------------------------------------------------------------


def test_explain_is_the_plan_as_text(orders: dbnb.Database, backend: str) -> None:
    plan = orders.explain(f"SELECT * FROM {TABLE} WHERE region = :r ORDER BY qty", {"r": "EU"})
    assert isinstance(plan, str)
    if backend == "postgresql":
        assert plan.splitlines()[0].startswith("Sort  (cost=")
        assert "Seq Scan on see_orders" in plan
        assert plan.summary.startswith("estimated cost ")
        assert " rows" in plan.summary
    elif backend == "mysql":  # MariaDB's EXPLAIN FORMAT=JSON: rows estimated, no cost
        document = json.loads(plan)
        ordered = document["query_block"]["nested_loop"][0]["read_sorted_file"]["filesort"]
        assert ordered["sort_key"] == f"{TABLE}.qty"
        assert ordered["table"]["table_name"] == TABLE
        estimate = ordered["table"]["rows"] * ordered["table"]["filtered"] / 100
        assert plan.summary == f"estimated {round(estimate):,} rows"
    else:
        assert plan == "QUERY PLAN\n|--SCAN see_orders\n`--USE TEMP B-TREE FOR ORDER BY"
        assert plan.summary == "2 steps: 1 full scan, 0 index searches (no cost estimate)"


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's EXPLAIN QUERY PLAN
def test_sqlite_plans_are_drawn_as_a_tree(orders: dbnb.Database) -> None:
    plan = orders.explain(
        f"SELECT * FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE qty > 3) "
        f"UNION SELECT * FROM {TABLE} WHERE id = 1"
    )
    lines = plan.splitlines()
    assert lines[0] == "QUERY PLAN"
    assert any(line.startswith("|  ") or line.startswith("   ") for line in lines)  # nested
    assert "SEARCH see_orders USING INTEGER PRIMARY KEY (rowid=?)" in plan


def test_explain_analyze_runs_the_statement_read_only(orders: dbnb.Database, backend: str) -> None:
    plan = orders.explain(f"SELECT * FROM {TABLE} WHERE qty > :q", {"q": 50}, analyze=True)
    expected = len(orders.query(f"SELECT * FROM {TABLE} WHERE qty > :q", {"q": 50}))
    if backend == "postgresql":
        assert "actual time=" in plan
        assert "Execution Time:" in plan
        assert f"actual {expected:,} rows" in plan.summary
    elif backend == "mysql":  # MariaDB's ANALYZE FORMAT=JSON: r_ figures measured
        table = json.loads(plan)["query_block"]["nested_loop"][0]["table"]
        assert table["r_rows"] == ROWS  # every row was read, once
        assert f"actual {expected:,} rows; execution " in plan.summary
    else:
        assert f"ran: {expected:,} rows in " in plan.summary


def test_explain_analyze_of_a_write_is_refused_and_changes_nothing(
    orders: dbnb.Database,
) -> None:
    before = rows(orders, TABLE)
    with pytest.raises(dbnb.ReadOnlyError):
        orders.explain(f"DELETE FROM {TABLE}", analyze=True)
    with pytest.raises(dbnb.ReadOnlyError):
        orders.explain(f"UPDATE {TABLE} SET qty = 0 WHERE id = :id", {"id": 1}, analyze=True)
    assert rows(orders, TABLE) == before


# --- any other dialect: the generic backend's standard SQL ------------------------------


def test_generic_sql_on_duckdb(tmp_path: Path) -> None:
    db = dbnb.connect(f"duckdb:///{tmp_path / 'lake.duckdb'}")
    with db.session(write=True) as session:
        session.execute(text("CREATE TABLE t (v DOUBLE, g VARCHAR)"))
        session.execute(
            text(
                "INSERT INTO t SELECT i % 101, CASE WHEN i % 3 = 0 THEN 'a' END "
                "FROM range(999) r(i)"
            )
        )
    values = db.query("SELECT v FROM t")["v"].astype(float)
    ax = db.plot("hist", "t", "v", bins=7)
    assert [patch.get_height() for patch in ax.patches] == list(np.histogram(values, bins=7)[0])
    found = plots.quartiles(db, "t", "v")
    assert [found["q1"], found["median"], found["q3"]] == pytest.approx(
        values.quantile([0.25, 0.5, 0.75]).tolist()
    )
    ax = db.plot("bar", "t", "g")
    assert sorted(patch.get_height() for patch in ax.patches) == [333, 666]
    profile = db.profile("t").set_index("column")
    assert profile.loc["g", "nulls"] == 666
    assert profile.loc["v", "distinct"] == 101
    assert profile.loc["g", "top"] == "a"
    plan = db.explain("SELECT * FROM t WHERE v > 3", analyze=True)
    assert "Seq Scan" in plan or "SEQ_SCAN" in plan
    assert f"ran: {int((values > 3).sum()):,} rows in " in plan.summary


@pytest.mark.parametrize("backend", ["mysql"])  # MariaDB's JSON plan of a join, read
def test_mariadb_summary_of_a_join_counts_the_rows_it_gave(orders: dbnb.Database) -> None:
    sql = (
        f"SELECT a.id FROM {TABLE} a JOIN {TABLE} b ON b.id = a.id + 1 "
        "WHERE a.qty > :q ORDER BY a.id"
    )
    expected = len(orders.query(sql, {"q": 50}))
    plan = orders.explain(sql, {"q": 50})
    assert re.fullmatch(r"estimated [\d,]+ rows", plan.summary)
    analyzed = orders.explain(sql, {"q": 50}, analyze=True)
    assert re.fullmatch(
        rf"estimated [\d,]+ rows; actual {expected:,} rows; execution [\d.]+ ms", analyzed.summary
    )
