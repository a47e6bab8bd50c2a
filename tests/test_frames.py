"""SQL over notebook DataFrames with DuckDB: dbnb.query_frames and %%db frames."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from tests.fixtures import config_text
from tests.magic_fixtures import db as run

ORDERS = pd.DataFrame(
    {"order_id": [1, 2, 3, 4], "region_id": [1, 1, 2, 3], "total": [10.0, 5.5, 7.25, 1.0]}
)
REGIONS = pd.DataFrame({"region_id": [1, 2], "region": ["EU", "US"]})
JOIN = """
SELECT region, count(*) AS orders, sum(total) AS total
FROM orders JOIN regions USING (region_id)
GROUP BY region ORDER BY region
"""


def test_a_join_of_two_pandas_frames() -> None:
    result = dbnb.query_frames(JOIN, {"orders": ORDERS, "regions": REGIONS})
    assert result.to_dict("list") == {
        "region": ["EU", "US"],
        "orders": [2, 1],
        "total": [15.5, 7.25],
    }
    assert result.dtypes.astype(str).to_dict() == {
        "region": "string[pyarrow]",
        "orders": "int64[pyarrow]",
        "total": "double[pyarrow]",
    }


def test_a_frame_joined_with_a_polars_frame_and_an_arrow_table() -> None:
    regions = pl.from_pandas(REGIONS)
    result = dbnb.query_frames(JOIN, {"orders": ORDERS, "regions": regions})
    assert list(result["orders"]) == [2, 1]
    arrow_orders = pa.Table.from_pandas(ORDERS, preserve_index=False)
    result = dbnb.query_frames(JOIN, {"orders": arrow_orders, "regions": regions})
    assert list(result["total"]) == [15.5, 7.25]
    result = dbnb.query_frames(JOIN, {"orders": ORDERS, "regions": regions.lazy()})
    assert list(result["region"]) == ["EU", "US"]


def test_placeholders_are_bound_not_spliced() -> None:
    hostile = "EU' OR '1'='1"
    sql = "SELECT count(*) AS n FROM regions WHERE region = :region"
    assert dbnb.query_frames(sql, {"regions": REGIONS}, {"region": hostile})["n"][0] == 0
    assert dbnb.query_frames(sql, {"regions": REGIONS}, {"region": "EU"})["n"][0] == 1
    with pytest.raises(dbnb.DbnbError, match=":region"):
        dbnb.query_frames(sql, {"regions": REGIONS})


def test_results_come_in_the_documented_dtypes() -> None:
    sql = """SELECT 1::INTEGER AS i, 1::BIGINT AS b, 1.25::DECIMAL(10, 2) AS n,
        TIMESTAMPTZ '2024-05-01 10:30:00+02' AS t, TIMESTAMP '2024-05-01 10:30:00' AS ts,
        DATE '2024-05-01' AS d, INTERVAL 1 DAY + INTERVAL 2 HOUR AS iv, true AS bl, 'x' AS s"""
    frame = dbnb.query_frames(sql, {})
    assert frame.dtypes.astype(str).to_dict() == {
        "i": "int32[pyarrow]",
        "b": "int64[pyarrow]",
        "n": "decimal128(10, 2)[pyarrow]",
        "t": "timestamp[us, tz=UTC][pyarrow]",
        "ts": "timestamp[us][pyarrow]",
        "d": "date32[day][pyarrow]",
        "iv": "duration[us][pyarrow]",
        "bl": "bool[pyarrow]",
        "s": "string[pyarrow]",
    }
    assert frame["n"][0] == Decimal("1.25")
    assert frame["t"][0] == pd.Timestamp("2024-05-01 08:30:00", tz="UTC")
    assert frame["iv"][0] == pd.Timedelta(days=1, hours=2)
    assert dbnb.query_frames(sql, {}, output="polars").schema["n"] == pl.Decimal(10, 2)
    assert dbnb.query_frames(sql, {}, output="arrow").schema.field("t").type == pa.timestamp(
        "us", "UTC"
    )


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("COPY orders TO 'out.csv'", "COPY is refused"),
        ("COPY (SELECT * FROM orders) TO 'out.parquet' (FORMAT parquet)", "COPY is refused"),
        ("ATTACH 'other.duckdb' AS other", "ATTACH is refused"),
        ("INSTALL httpfs", "INSTALL is refused"),
        ("LOAD httpfs", "LOAD is refused"),
        ("SET enable_external_access = true", "SET is refused"),
        ("CREATE TABLE kept AS SELECT * FROM orders", "CREATE is refused"),
        ("SELECT 1; DROP VIEW orders", "DROP is refused"),
    ],
)
def test_anything_but_a_query_is_refused(sql: str, refused: str) -> None:
    with pytest.raises(dbnb.ReadOnlyError, match=refused):
        dbnb.query_frames(sql, {"orders": ORDERS})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('out.parquet')",
        "SELECT * FROM 'out.csv'",
        "WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x",
    ],
)
def test_files_are_out_of_reach(sql: str) -> None:
    with pytest.raises(dbnb.QueryError, match=r"disabled by configuration|does not exist"):
        dbnb.query_frames(sql, {"orders": ORDERS})


def test_nothing_is_written_to_disk_and_no_frame_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = ORDERS.copy()
    frames = {"orders": ORDERS}
    for sql in ("COPY orders TO 'out.csv'", "ATTACH 'other.duckdb'", "INSTALL httpfs"):
        with pytest.raises(dbnb.ReadOnlyError):
            dbnb.query_frames(sql, frames)
    # A sort larger than one would spill to a temporary folder if one were allowed.
    big = "SELECT a.order_id, b.total FROM orders a, orders b ORDER BY 2, 1"
    assert len(dbnb.query_frames(big, frames)) == 16
    assert list(tmp_path.iterdir()) == []
    pd.testing.assert_frame_equal(ORDERS, before)


def test_statements_are_recorded_in_the_history() -> None:
    dbnb.clear_history()
    dbnb.query_frames("SELECT * FROM orders WHERE total > :least", {"orders": ORDERS}, {"least": 5})
    history = dbnb.history()
    assert list(history["connection"]) == ["frames"]
    assert list(history["rows"]) == [3]


def test_cell_over_notebook_frames(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns.update(orders=ORDERS, regions=pl.from_pandas(REGIONS), wanted="US")
    names = set(ip.user_ns)
    result = run(ip, "frames -o by_region", JOIN)
    assert list(result["region"]) == ["EU", "US"]
    assert ip.user_ns["by_region"] is result
    assert set(ip.user_ns) == names | {"by_region"}  # nothing else assigned
    assert "frames: 2 rows in" in capsys.readouterr().out
    bound = run(ip, "frames", "SELECT region FROM regions WHERE region = :wanted")
    assert list(bound["region"]) == ["US"]
    line = run(ip, "frames SELECT count(*) AS n FROM orders")
    assert list(line["n"]) == [4]
    as_polars = run(ip, "frames --as polars", "SELECT * FROM regions ORDER BY region_id")
    assert isinstance(as_polars, pl.DataFrame)
    with pytest.raises(UsageError, match="COPY is refused"):
        run(ip, "frames", "COPY orders TO 'x.csv'")
    with pytest.raises(UsageError, match="reads only"):
        run(ip, "frames --write", "SELECT 1")


def test_a_config_connection_named_frames_wins(
    ip: InteractiveShell,
    tmp_path: Path,
    pg_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = Path(os.environ["DBNB_CONFIG"])
    path.write_text(
        config_text(tmp_path, pg_database, frames="type: sqlite\ndatabase: data/frames.db")
    )
    ip.run_line_magic("unload_ext", "dbnb")
    ip.run_line_magic("load_ext", "dbnb")
    ip.user_ns["orders"] = ORDERS
    assert list(run(ip, "frames", "SELECT 'from sqlite' AS source")["source"]) == ["from sqlite"]
    said = capsys.readouterr().out
    assert "using the connection 'frames' of the config" in said
    with pytest.raises(UsageError, match="no such table: orders"):
        run(ip, "frames", "SELECT * FROM orders")  # the SQLite file, not the notebook
    assert "of the config" not in capsys.readouterr().out  # said once
