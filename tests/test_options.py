"""A read's options are checked once, by ``Facade.query`` (``ReadRequest.checked``),
before anything is opened: a bad one is an ``OptionError`` (a ``ValueError`` too)
naming it and what it takes, on every entry point."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

import dbnb

BAD = {
    "max_rows=-1": ({"max_rows": -1}, "max_rows must be a number of rows, 0 or more, not -1"),
    "max_rows=True": ({"max_rows": True}, "max_rows must be .* not True"),
    "max_rows='3'": ({"max_rows": "3"}, "max_rows must be .* not '3'"),
    "timeout=-1": ({"timeout": -1}, "timeout must be a number of seconds, 0 or more"),
    "timeout='x'": ({"timeout": "x"}, "timeout must be .* not 'x'"),
    "timeout=True": ({"timeout": True}, "timeout must be .* not True"),
    "timeout=inf": ({"timeout": math.inf}, "timeout must be .* not inf"),
    "timeout=nan": ({"timeout": math.nan}, "timeout must be .* not nan"),
    "output='csv'": ({"output": "csv"}, "output must be one of pandas, polars, arrow, not 'csv'"),
    "chunksize=0": ({"chunksize": 0}, "chunksize must be a positive number of rows, not 0"),
    "params=5": ({"params": 5}, r"params must map each :name to its value \(a dict\), not int"),
    "params=('a',)": ({"params": ("a",)}, "params must map .* not tuple"),
}


@pytest.fixture
def lite(registry: dbnb.Registry) -> dbnb.Database:
    """The SQLite connection, nothing opened yet."""
    db = registry.connect("sqlite")
    assert isinstance(db, dbnb.Database)
    return db


@pytest.mark.parametrize(("options", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_option_is_refused_before_anything_opens(
    lite: dbnb.Database, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(dbnb.OptionError, match=message):
        lite.query("SELECT 1 AS one", **options)
    assert lite._engine is None  # not even the engine was made


def test_the_statement_is_text_or_a_select(lite: dbnb.Database) -> None:
    with pytest.raises(dbnb.OptionError, match="SQL text or a select"):
        lite.query(42)  # type: ignore[call-overload]
    assert lite._engine is None


def test_aquery_and_parquet_check_theirs_too(lite: dbnb.Database, tmp_path: Path) -> None:
    with pytest.raises(dbnb.OptionError, match="max_rows must be"):
        asyncio.run(lite.aquery("SELECT 1 AS one", max_rows=-5))
    with pytest.raises(dbnb.OptionError, match="timeout must be"):
        asyncio.run(lite.aquery("SELECT 1 AS one", timeout=-5))
    with pytest.raises(ValueError, match="chunksize must be a positive number of rows, not 0"):
        lite.query_to_parquet("SELECT 1 AS one", tmp_path / "x.parquet", chunksize=0)
    assert lite._engine is None
    assert not (tmp_path / "x.parquet").exists()


def test_good_options_still_read(lite: dbnb.Database) -> None:
    sql = "SELECT :n AS n"
    assert lite.query(sql, {"n": 1}, max_rows=1, timeout=0)["n"].tolist() == [1]
    assert lite.query(sql, [("n", 2)])["n"].tolist() == [2]  # pairs, as dict() takes them
    assert [len(chunk) for chunk in lite.query(sql, {"n": 3}, chunksize=1)] == [1]
    with pytest.raises(dbnb.RowLimitError, match="more than 0 rows"):
        lite.query(sql, {"n": 4}, max_rows=0)
