"""The magics of seeing the data: %db plot/profile/explain, %%db --csv/--parquet, and the
summary line above a result, through a real IPython shell on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pyarrow.parquet as pq
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from tests.fixtures import rows
from tests.magic_fixtures import db as run

matplotlib.use("Agg")
from matplotlib import pyplot

COUNT_TO_100 = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n"
)
JSON_TYPE = {"sqlite": "JSON", "postgresql": "jsonb", "mysql": "JSON"}
# A string literal holding the JSON text {"quote": "it's \"so\""}: MariaDB reads a
# backslash in a literal as an escape (no NO_BACKSLASH_ESCAPES), so it is doubled there.
QUOTED = {
    "sqlite": r"""'{"quote": "it''s \"so\""}'""",
    "postgresql": r"""'{"quote": "it''s \"so\""}'""",
    "mysql": r"""'{"quote": "it''s \\"so\\""}'""",
}


@pytest.fixture
def docs(ip: InteractiveShell, db: dbnb.Database, backend: str) -> str:
    """A table with a JSON column, on the current connection."""
    run(ip, f"use {db.name}")
    run(
        ip,
        f"{db.name} --write",
        "DROP TABLE IF EXISTS see_docs; "
        f"CREATE TABLE see_docs (id INTEGER PRIMARY KEY, doc {JSON_TYPE[backend]}, n INTEGER); "
        """INSERT INTO see_docs VALUES (1, '{"a": true, "b": [1, "x"]}', 10), """
        f"(2, {QUOTED[backend]}, 20), (3, NULL, 30), (4, '[null, 1.5]', 30)",
    )
    yield "see_docs"
    pyplot.close("all")
    run(ip, f"{db.name} --write", "DROP TABLE see_docs")


# --- plots, profiles, plans ------------------------------------------------------------


def test_plot_line_and_cell(ip: InteractiveShell, docs: str) -> None:
    ax = run(ip, f"plot hist {docs} n --bins 2")
    assert [patch.get_height() for patch in ax.patches] == [1, 3]
    assert ax.get_title() == f"n of {docs}: 4 values in 2 bins"
    ip.user_ns["least"] = 15
    ax = run(ip, "plot bar - n --top 5", f"SELECT n FROM {docs} WHERE n > :least")
    labels = [label.get_text() for label in ax.get_xticklabels()]
    heights = [patch.get_height() for patch in ax.patches]
    assert dict(zip(labels, heights, strict=True)) == {"30": 2, "20": 1}
    ax = run(ip, "plot box - n", f"SELECT n FROM {docs}")
    assert ax.get_title().endswith(": 4 values (whiskers at min and max)")


def test_plot_usage_errors_are_one_line(ip: InteractiveShell, docs: str) -> None:
    with pytest.raises(UsageError, match=r"^usage: %db plot hist\|bar\|box TABLE COLUMN"):
        run(ip, f"plot hist {docs}")
    with pytest.raises(UsageError, match=r"^%db plot: argument --bins: invalid int value"):
        run(ip, f"plot hist {docs} n --bins many")
    with pytest.raises(UsageError, match=r"^plot kind 'pie' is not one of hist, bar, box$"):
        run(ip, f"plot pie {docs} n")
    with pytest.raises(UsageError, match=r"^usage: %%db plot hist\|bar\|box - COLUMN"):
        run(ip, f"plot hist {docs} n", "SELECT 1")
    with pytest.raises(UsageError, match=r"no notebook variable named nope"):
        run(ip, "plot hist - n", f"SELECT n FROM {docs} WHERE n > :nope")


def test_a_plot_that_fails_in_a_cell_leaves_no_figure(ip: InteractiveShell, docs: str) -> None:
    pyplot.close("all")
    with pytest.raises(UsageError, match=r"cannot plot hist of nope of "):
        run(ip, f"plot hist {docs} nope")
    # Text: refused before (PostgreSQL, MariaDB: its dtype), or when its values come
    # (SQLite: an expression has no declared type), figure or not.
    with pytest.raises(UsageError, match=r"^s of .*(hist needs numbers|is not a number)"):
        run(ip, "plot hist - s", f"SELECT 'x' AS s FROM {docs}")
    assert pyplot.get_fignums() == []


def test_profile_subcommand(ip: InteractiveShell, db: dbnb.Database, docs: str) -> None:
    profile = run(ip, f"profile {docs}")
    assert profile.equals(db.profile(docs))
    assert list(profile["count"]) == [4, 3, 4]
    assert list(profile["nulls"]) == [0, 1, 0]
    assert profile.set_index("column").loc["n", "top"] == 30
    with pytest.raises(UsageError, match=r"^usage: %db profile TABLE$"):
        run(ip, "profile")


def test_explain_shows_the_whole_plan_with_its_summary(
    ip: InteractiveShell, docs: str, backend: str
) -> None:
    ip.user_ns["wanted"] = 20
    long_filter = " AND ".join(f"n <> {value}" for value in range(100, 130))
    plan = run(ip, f"explain SELECT * FROM {docs} WHERE n = :wanted AND {long_filter}")
    shown = ip.display_formatter.format(plan)[0]["text/plain"]
    assert shown.splitlines()[0] == plan.summary
    assert shown.endswith(str(plan))
    if backend == "postgresql":
        assert "n <> 129" in shown  # not cut at a column's width
        assert re.match(r"estimated cost [\d.]+, [\d,]+ rows$", plan.summary)
    elif backend == "mysql":  # MariaDB's EXPLAIN FORMAT=JSON: estimated rows, no cost
        # The whole JSON document (the optimizer dropped the redundant n <> ... itself).
        table = json.loads(str(plan))["query_block"]["nested_loop"][0]["table"]
        assert table["attached_condition"] == f"{docs}.n = 20"
        assert re.match(r"estimated [\d,]+ rows$", plan.summary)
    else:
        assert plan.summary.startswith("1 step: 1 full scan")
    cell = run(ip, "explain --analyze", f"SELECT * FROM {docs}\nWHERE n = :wanted")
    assert "actual" in cell.summary or "ran: 1 rows in " in cell.summary


def test_explain_analyze_refuses_a_write_and_changes_nothing(
    ip: InteractiveShell, db: dbnb.Database, docs: str
) -> None:
    before = rows(db, docs)
    with pytest.raises(UsageError, match=r"read-only"):
        run(ip, f"explain --analyze DELETE FROM {docs}")
    with pytest.raises(UsageError, match=r"read-only"):
        run(ip, "explain --analyze", f"UPDATE {docs} SET n = 0")
    assert rows(db, docs) == before
    with pytest.raises(UsageError, match=r"^usage: %db explain \[--analyze\] SQL$"):
        run(ip, "explain --analyze")


# --- exports -------------------------------------------------------------------------


def test_csv_writes_json_as_json_and_returns_the_frame(
    ip: InteractiveShell,
    docs: str,
    backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "docs.csv"
    frame = run(ip, f"--csv {path}", f"SELECT * FROM {docs} ORDER BY id")
    assert f"4 rows written to {path}" in capsys.readouterr().out
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["id", "doc", "n"]
    loaded = [json.loads(text) if text else None for text in written["doc"]]
    values = list(frame["doc"])
    assert loaded == values
    assert loaded[0] == {"a": True, "b": [1, "x"]}
    assert loaded[1] == {"quote": 'it\'s "so"'}
    assert loaded[3] == [None, 1.5]
    assert isinstance(frame["doc"].iloc[0], dict)  # the frame keeps its values


def test_parquet_and_the_line_form(ip: InteractiveShell, docs: str, tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    frame = run(ip, f"--parquet {path} SELECT id, n FROM {docs} ORDER BY id")
    table = pq.read_table(path)
    assert table.column_names == ["id", "n"]
    assert table.column("n").to_pylist() == list(frame["n"]) == [10, 20, 30, 30]


def test_an_export_is_whole_or_not_at_all(ip: InteractiveShell, docs: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "kept.csv"
    path.write_text("older,file\n")
    with pytest.raises(UsageError):
        run(ip, f"--csv {path}", f"SELECT * FROM {docs} WHERE nope = 1")
    with pytest.raises(UsageError, match=r"read-only"):
        run(ip, f"--csv {path}", f"DELETE FROM {docs}")
    assert path.read_text() == "older,file\n"
    with pytest.raises(UsageError, match=r"^cannot write .*missing/out.csv: "):
        run(ip, f"--csv {folder / 'missing' / 'out.csv'}", f"SELECT * FROM {docs}")
    assert sorted(p.name for p in folder.iterdir()) == ["kept.csv"]  # no partial file


def test_an_export_never_follows_a_link_at_a_hidden_name(
    ip: InteractiveShell, docs: str, tmp_path: Path
) -> None:
    """The hidden file is a fresh one (mkstemp), not a fixed name a link can wait at."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / ".docs.csv.partial").symlink_to(victim)
    run(ip, f"--csv {folder / 'docs.csv'}", f"SELECT id FROM {docs} ORDER BY id")
    assert victim.read_text() == "precious\n"
    assert (folder / "docs.csv").read_text() == "id\n1\n2\n3\n4\n"
    assert sorted(p.name for p in folder.iterdir()) == [".docs.csv.partial", "docs.csv"]


# --- the summary line above a result ---------------------------------------------------


def test_the_display_names_connection_rows_elapsed(
    ip: InteractiveShell, db: dbnb.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    frame = run(ip, db.name, "SELECT * FROM items ORDER BY id")
    assert capsys.readouterr().out == ""  # shown with the result, not printed
    shown = ip.display_formatter.format(frame)[0]["text/plain"]
    assert re.match(rf"{db.name}: 3 rows in \d+\.\d ms\n", shown)
    assert "showing" not in shown
    html = ip.display_formatter.formatters["text/html"].lookup_by_type(pd.DataFrame)(frame)
    assert re.match(rf'<p class="dbnb-banner"><small>{db.name}: 3 rows in [\d.]+ ms', html)
    # The frame is the plain result: nothing added to it, and pandas shows it as ever.
    assert list(frame.columns) == ["id", "name"]
    assert "rows in" not in repr(frame)
    assert "rows in" not in ip.display_formatter.format(frame.copy())[0]["text/plain"]


def test_the_display_says_when_it_is_capped(ip: InteractiveShell, db: dbnb.Database) -> None:
    frame = run(ip, db.name, COUNT_TO_100)
    shown = ip.display_formatter.format(frame)[0]["text/plain"]
    assert re.match(rf"{db.name}: 100 rows in [\d.]+ m?s, showing 20 of 100 rows\n", shown)
    ip.run_line_magic("config", "DbMagics.display_limit = 6")
    assert "showing 6 of 100 rows" in ip.display_formatter.format(frame)[0]["text/plain"]
    ip.run_line_magic("config", "DbMagics.display_limit = 0")
    assert "showing" not in ip.display_formatter.format(frame)[0]["text/plain"]
    assert len(frame) == 100


def test_exports_of_polars_and_arrow_results(
    ip: InteractiveShell, docs: str, tmp_path: Path
) -> None:
    table = run(ip, f"--as arrow --parquet {tmp_path / 'a.parquet'}", f"SELECT id, n FROM {docs}")
    assert (
        pq.read_table(tmp_path / "a.parquet").column("n").to_pylist()
        == table.column("n").to_pylist()
    )
    frame = run(ip, f"--as polars --csv {tmp_path / 'p.csv'}", f"SELECT id, doc FROM {docs}")
    written = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert len(written) == frame.height == 4
    assert {"a": True, "b": [1, "x"]} in [json.loads(text) for text in written["doc"] if text]
