"""Profiles and plots on every common type of PostgreSQL, MariaDB and SQLite: enums,
arrays, JSON, inet, uuid, booleans, timestamps, dates, decimals, MariaDB's SET, BIT,
TIME and YEAR, SQLite's declared types. Each statistic is checked against pandas on
the rows ``db.query`` reads; failing plots leave no figure; errors name the column."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

import dbnb

matplotlib.use("Agg")  # no display: plots draw to memory
from matplotlib import dates as mdates
from matplotlib import pyplot

TABLE = "see_types"
ROWS = 40
DDL = {
    # The enum's order is not its labels' text order: a profile compares the text.
    "postgresql": [
        "DROP TABLE IF EXISTS see_types",
        "DROP TYPE IF EXISTS see_status",
        "CREATE TYPE see_status AS ENUM ('shipped', 'new', 'paid')",
        """CREATE TABLE see_types (id integer PRIMARY KEY, status see_status, tags text[],
        nums integer[], doc jsonb, j json, ip inet, ok boolean, at timestamp,
        atz timestamptz, day date, amount numeric(12, 2), n numeric, u uuid,
        iv interval, label text)""",
    ],
    "mysql": [
        "DROP TABLE IF EXISTS see_types",
        """CREATE TABLE see_types (id INTEGER PRIMARY KEY,
        status ENUM('shipped', 'new', 'paid'), flags SET('a', 'b', 'c'), doc JSON,
        b BIT(8), tm TIME, y YEAR, amount DECIMAL(12, 2), wide DECIMAL(40, 10),
        ok BOOLEAN, at DATETIME, ts TIMESTAMP NULL, day DATE, label VARCHAR(20))""",
    ],
    "sqlite": [
        "DROP TABLE IF EXISTS see_types",
        """CREATE TABLE see_types (id INTEGER PRIMARY KEY, i INTEGER, s TEXT, r REAL,
        n NUMERIC(10, 2), dt DATETIME, d DATE, tm TIME, ok BOOLEAN, doc JSON, bl BLOB)""",
    ],
}
# Columns with no order of their own: counted by their text, no min or max.
BY_TEXT = {
    "postgresql": {"tags", "nums", "doc", "j", "ip", "u"},
    "mysql": {"doc", "b"},
    "sqlite": {"doc"},
}
LABELS = ["EU", "eu", "Ürün", "b", "_x"]  # mixed case and accents: text compared as str


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _row(backend: str, i: int) -> list[Any]:
    if i % 7 == 0:  # every seventh row NULL but its id
        return [i] + [None] * (len(_row(backend, 1)) - 1)
    at = dt.datetime(2024, 1, 1) + dt.timedelta(hours=i * 7 % 500, minutes=i % 3)
    day = dt.date(2024, 1, 1) + dt.timedelta(days=i % 9)
    amount = Decimal(i * 37 % 1000) / 100
    label = LABELS[i % 5]
    if backend == "postgresql":
        return [
            i, ["shipped", "new", "paid"][i % 3], f"{{t{i % 3},u{i % 2}}}",
            f"{{{i % 4},1}}", json.dumps({"k": i % 5}), json.dumps([i % 3]),
            f"10.0.0.{i % 6}", i % 4 == 0, at, f"{at}+00", day, amount, Decimal(i % 7) / 4,
            str(uuid.UUID(int=i % 5 + 1)), f"{i % 4} hours", label,
        ]  # fmt: skip
    if backend == "mysql":
        return [
            i, ["shipped", "new", "paid"][i % 3], ["a", "a,b", "c", "b,c"][i % 4],
            json.dumps({"k": i % 5}), i % 3, f"{i % 24:02}:{i % 60:02}:00", 2000 + i % 4,
            amount, Decimal(i % 7) / 4, i % 4 == 0, at, at, day, label,
        ]  # fmt: skip
    return [
        i, i % 10, label, (i % 8) / 4, amount, f"{at:%Y-%m-%d %H:%M:%S}", f"{day}",
        f"{i % 24:02}:00:00", i % 4 == 0, json.dumps({"k": i % 5}), bytes([i % 3]),
    ]  # fmt: skip


def create_types_table(db: dbnb.Database, backend: str) -> None:
    """``see_types``: every common type of ``backend``, ``ROWS`` rows, every seventh
    (id 7, 14, ...) NULL but its id."""
    rows = ", ".join(
        "(" + ", ".join(_literal(value) for value in _row(backend, i)) + ")"
        for i in range(1, ROWS + 1)
    )
    with db.session(write=True) as session:
        for statement in DDL[backend]:
            session.execute(text(statement))
        # No binds in the text: a JSON document's ':' would read as one.
        session.connection().exec_driver_sql(f"INSERT INTO {TABLE} VALUES {rows}")


@pytest.fixture
def typed(db: dbnb.Database, backend: str) -> Iterator[dbnb.Database]:
    create_types_table(db, backend)
    yield db
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE {TABLE}"))


def _key(value: Any) -> Any:
    """A value as a key pandas can hash: lists and dicts as their JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _text(backend: str, column: str, value: Any) -> Any:
    """A value as the profile's top gives a column counted by its text."""
    if column in ("doc", "j") or (backend == "mysql" and column == "doc"):
        return value  # JSON: the parsed document
    if isinstance(value, list):  # PostgreSQL's array text
        return "{" + ",".join(str(item) for item in value) + "}"
    if isinstance(value, bytes):  # MariaDB's BIT as its text
        return value.decode()
    return str(value)


def test_profile_of_every_type_equals_pandas(typed: dbnb.Database, backend: str) -> None:
    dbnb.clear_history()
    profile = typed.profile(TABLE).set_index("column")
    sent = dbnb.history()
    scans = sent[sent["sql"].str.contains(f"FROM {TABLE}")]
    # The dtypes (no rows), a sample of the first rows, one aggregate statement; on
    # MariaDB first its TEXT and JSON columns' longest widths (one scan of lengths).
    widths = [1] if backend == "mysql" else []
    assert scans["rows"].tolist() == [0, *widths, 1, 1]
    assert scans["error"].isna().all()
    frame = typed.query(f"SELECT * FROM {TABLE}")
    assert list(profile.index) == list(frame.columns)
    for column in frame.columns:
        stats = profile.loc[column]
        values = frame[column].dropna()
        keys = values.map(_key)
        assert (stats["count"], stats["nulls"]) == (len(values), ROWS - len(values)), column
        assert stats["distinct"] == keys.nunique(), column
        frequent = keys.value_counts()
        most = sorted(frequent[frequent == frequent.max()].index, key=str)
        if column in BY_TEXT[backend]:
            assert stats["min"] is None, column
            assert stats["max"] is None, column
            by_text = sorted(
                (_text(backend, column, values[keys == key].iloc[0]) for key in most), key=str
            )
            assert stats["top"] == by_text[0], column
            continue
        assert stats["min"] == values.min(), (column, stats["min"], values.min())
        assert stats["max"] == values.max(), (column, stats["max"], values.max())
        assert stats["top"] == values.mode().iloc[0], (column, stats["top"])
        numeric = column in ("id", "amount", "n", "wide", "y", "i", "r")
        if numeric:
            assert stats["mean"] == pytest.approx(float(values.astype(float).mean()), rel=1e-9)
        else:
            assert pd.isna(stats["mean"]), column


@pytest.mark.parametrize("backend", ["postgresql"])
def test_enum_is_compared_by_its_labels_text(typed: dbnb.Database) -> None:
    profile = typed.profile(TABLE).set_index("column")
    assert profile.loc["status", "type"] == "see_status"
    # In the enum's own order 'shipped' comes first; read, its values are text.
    assert (profile.loc["status", "min"], profile.loc["status", "max"]) == ("new", "shipped")


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.filterwarnings("ignore:Did not recognize type:sqlalchemy.exc.SAWarning")
def test_a_type_the_catalog_cannot_name_is_counted_by_its_text(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS see_odd"))
        session.execute(text("CREATE TABLE see_odd (id integer, x xid, p point)"))
        session.execute(
            text("INSERT INTO see_odd VALUES (1, '5', point(1, 2)), (2, '5', NULL), (3, '7', NULL)")
        )
    try:
        profile = db.profile("see_odd").set_index("column")
    finally:  # an xid column left behind makes every later schema read warn (completion's)
        with db.session(write=True) as session:
            session.execute(text("DROP TABLE see_odd"))
    assert profile.loc["x", ["count", "distinct", "top"]].tolist() == [3, 2, "5"]
    assert profile.loc["p", ["count", "nulls", "distinct", "top"]].tolist() == [1, 2, 1, "(1,2)"]
    assert pd.isna(profile.loc["x", "min"])  # no order of its own here


@pytest.mark.parametrize("backend", ["mysql"])
@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "sorted"])
def test_mariadb_json_and_bit_are_counted_by_their_exact_text(
    db: dbnb.Database, grouped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As CHAR alone, MariaDB compares text by the connection's case-insensitive
    # collation: {"a": "X"} and {"a": "x"} (BIT's 'A' and 'a') were one value.
    from dbnb.see import profile as profile_module

    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS see_case"))
        session.execute(text("CREATE TABLE see_case (id INTEGER, doc JSON, b BIT(8))"))
        session.connection().exec_driver_sql(
            'INSERT INTO see_case VALUES (1, \'{"a": "X"}\', 65), '
            '(2, \'{"a": "x"}\', 97), (3, \'{"a": "x"}\', 97)'
        )
    monkeypatch.setattr(
        profile_module,
        "_sampled",
        lambda db, where, columns: [
            profile_module.Column(c.name, c.type_name, c.kind, grouped) for c in columns
        ],
    )
    profile = db.profile("see_case").set_index("column")
    assert profile.loc["doc", ["distinct", "top"]].tolist() == [2, {"a": "x"}]
    assert profile.loc["b", ["distinct", "top"]].tolist() == [2, "a"]


@pytest.mark.parametrize("backend", ["mysql"])
@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "sorted"])
def test_mariadb_text_is_counted_cut_to_its_longest_values_width_exactly(
    db: dbnb.Database, grouped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TEXT and JSON are counted as VARCHARs of their longest value's width (MariaDB
    # counts and groups a BLOB on disk): no value is cut, trailing spaces and case count.
    from dbnb.see import profile as profile_module

    texts = ["a", "a ", "A", "é", "e", "x" * 300, "x" * 299 + "y", None, "a"]
    docs = ['{"k": 1}', '{"k": "A"}', '{"k": "a"}', None, '{"k": "a"}', "[]", "[]", "[]", "{}"]
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS see_long"))
        session.execute(text("CREATE TABLE see_long (id INTEGER, t TEXT, d JSON)"))
        session.execute(
            text("INSERT INTO see_long VALUES (:i, :t, :d)"),
            [{"i": i, "t": t, "d": d} for i, (t, d) in enumerate(zip(texts, docs, strict=True))],
        )
    measured = profile_module._sampled
    monkeypatch.setattr(
        profile_module,
        "_sampled",
        lambda db, where, columns: [
            replace(c, grouped=grouped) for c in measured(db, where, columns)
        ],
    )
    profile = db.profile("see_long").set_index("column")
    values = pd.Series([t for t in texts if t is not None])
    assert profile.loc["t", ["count", "distinct", "min", "max", "top"]].tolist() == [
        len(values), values.nunique(), min(values), max(values), "a",
    ]  # fmt: skip
    assert profile.loc["d", ["count", "distinct", "top"]].tolist() == [8, 5, []]
    sql = " ".join(dbnb.history(limit=5)["sql"])
    assert "CAST(t AS CHAR(300) CHARACTER SET utf8mb4)" in sql


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_profile_that_fails_on_a_value_says_why_not_where(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP VIEW IF EXISTS see_broken"))
        session.execute(
            text("CREATE VIEW see_broken AS SELECT 1 / (g - 2) AS r FROM generate_series(1, 3) g")
        )
    with pytest.raises(
        dbnb.QueryError, match=r"cannot profile see_broken: division by zero"
    ) as failed:
        db.profile("see_broken")
    assert "at character" not in str(failed.value)
    assert "LINE" not in str(failed.value)


# --- plots -----------------------------------------------------------------------------

TIMES = {"postgresql": ["at", "atz", "day"], "mysql": ["at", "ts", "day"], "sqlite": ["dt", "d"]}


def _seconds(values: pd.Series) -> np.ndarray:
    """Dates and timestamps as seconds since 1970 (a timestamp without a zone as UTC)."""
    stamps = pd.to_datetime(pd.Series(list(values)), utc=True)
    return np.array([stamp.timestamp() for stamp in stamps])


def test_hist_bins_dates_and_timestamps_over_time_in_the_database(
    typed: dbnb.Database, backend: str
) -> None:
    for column in TIMES[backend]:
        dbnb.clear_history()
        ax = typed.plot("hist", TABLE, column, bins=6)
        sent = dbnb.history()
        binned = sent[sent["sql"].str.contains("dbnb_range")]
        assert binned["rows"].tolist() == [len([p for p in ax.patches if p.get_height()])]
        values = typed.query(f"SELECT {column} FROM {TABLE}")[column].dropna()
        counts, edges = np.histogram(_seconds(values), bins=6)
        assert [int(patch.get_height()) for patch in ax.patches] == list(counts), column
        days = [patch.get_x() for patch in ax.patches]  # matplotlib's dates: days since 1970
        assert days == pytest.approx(list(edges[:-1] / 86400), abs=1e-6), column
        assert mdates.num2date(days[0]).timestamp() == pytest.approx(edges[0], abs=0.01)
        assert ax.get_title() == f"{column} of {TABLE}: {len(values):,} values in 6 bins"
        pyplot.close("all")


def test_bar_counts_enums_and_booleans(typed: dbnb.Database, backend: str) -> None:
    columns = ["ok"] if backend == "sqlite" else ["status", "ok"]
    for column in columns:
        ax = typed.plot("bar", TABLE, column)
        values = typed.query(f"SELECT {column} FROM {TABLE}")[column]
        counts = values.value_counts(dropna=False)
        shown = {
            label.get_text(): int(patch.get_height())
            for label, patch in zip(ax.get_xticklabels(), ax.patches, strict=True)
        }
        assert shown == {("NULL" if pd.isna(k) else str(k)): int(v) for k, v in counts.items()}
        pyplot.close("all")


FAILING = {
    "postgresql": [("hist", "label"), ("hist", "nope"), ("box", "atz"), ("hist", "iv")],
    "mysql": [("hist", "label"), ("hist", "nope"), ("hist", "ok")],
    "sqlite": [("hist", "s"), ("hist", "nope")],
}


def test_a_failing_plot_leaves_no_figure_and_names_the_column(
    typed: dbnb.Database, backend: str
) -> None:
    pyplot.close("all")
    before = pyplot.get_fignums()
    for kind, column in FAILING[backend]:
        with pytest.raises(dbnb.DbnbError) as failed:
            typed.plot(kind, TABLE, column)
        message = str(failed.value)
        assert column in message, message
        assert "at character" not in message, message
        assert "LINE " not in message, message
        assert "\n" not in message
        assert pyplot.get_fignums() == before, (kind, column)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_hist_of_text_says_what_it_needs(typed: dbnb.Database) -> None:
    with pytest.raises(
        dbnb.DbnbError,
        match=r"^label of see_types: hist needs numbers, dates or timestamps; it reads as "
        r"string\[pyarrow\] \(bar counts any values\)$",
    ):
        typed.plot("hist", TABLE, "label")


def test_grouped_and_sorted_counts_agree(
    typed: dbnb.Database, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few distinct values are grouped, many sorted (a sample decides): either way the
    # same numbers, on every column, NULLs and ties included.
    from dbnb.see import profile as profile_module

    found = {}
    for grouped in (True, False):
        monkeypatch.setattr(
            profile_module,
            "_sampled",
            lambda db, where, columns, grouped=grouped: [
                profile_module.Column(c.name, c.type_name, c.kind, grouped) for c in columns
            ],
        )
        found[grouped] = typed.profile(TABLE)
    pd.testing.assert_frame_equal(found[True], found[False])
    assert found[True].set_index("column").loc["id", "distinct"] == ROWS
