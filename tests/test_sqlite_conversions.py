"""SQLite's declared types converted a whole column at once (dbnb.backends.sqlite.types):
each value comes out as the per-value conversion (SQLAlchemy's processors, the guarded
path's) makes it, over the texts other writers store and thousands of generated ones."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import dbnb
from dbnb.backends.sqlite import types as sqlite_types
from dbnb.read import frames


def _whole(values: list[Any], declared: str) -> Any:
    found = sqlite_types.declared(declared)
    assert found is not None
    return sqlite_types.whole_column(pa.chunked_array([pa.array(values, pa.string())]), found)


def _each(values: list[Any], declared: str) -> pd.Series:
    found = sqlite_types.declared(declared)
    assert found is not None
    return frames.column(values, found)


def _agree(values: list[Any], declared: str) -> bool:
    """Whether the whole column, where it converts at all, equals the per-value one;
    returns whether it converted."""
    whole = _whole(values, declared)
    if whole is None:
        return False
    each = _each(values, declared)
    pd.testing.assert_series_equal(pd.Series(whole), each, check_exact=True)
    return True


# What the DATETIME columns of other writers hold: converted whole, never per value.
WRITERS = {
    "SQLAlchemy, sqlite3": ["2024-01-02 03:04:05.123456", "2024-01-02 03:04:05", None],
    "JavaScript, ISO 8601": ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5Z", None],
    "pandas to_sql": ["2024-01-02 03:04:05+00:00", "2024-01-02 03:04:05.250000+00:00"],
    "offsets": ["2024-01-02T03:04:05+09:00", "2024-01-02 03:04:05-01:30"],
    "naive and aware": ["2024-01-02", "2024-01-02 03:04", "2024-01-02T03:04:05+09:00", None],
}


@pytest.mark.parametrize("writer", WRITERS)
def test_datetime_texts_of_other_writers_convert_whole(writer: str) -> None:
    values = WRITERS[writer]
    assert _agree(values, "DATETIME")
    assert str(_whole(values, "DATETIME").dtype) == "timestamp[us, tz=UTC][pyarrow]"


def test_an_offset_moves_a_datetime_to_utc() -> None:
    whole = pd.Series(_whole(["2024-01-02T03:04:05+09:00", "2024-01-02 03:04:05"], "DATETIME"))
    assert whole.tolist() == [
        pd.Timestamp("2024-01-01 18:04:05", tz="UTC"),
        pd.Timestamp("2024-01-02 03:04:05", tz="UTC"),
    ]


def _two(low: int, high: int, rng: random.Random) -> str:
    return str(rng.randint(low, high)).zfill(2)


def _datetime_text(rng: random.Random) -> str:
    """A text near what a DATETIME holds: dates, times and offsets a little out of range,
    other separators, digits and shapes; most of them should not parse."""
    year = rng.choice(["2024", "2023", "0000", "0001", "9999", "1970", "02024", "٢٠٢٤"])
    date = rng.choice(
        [f"{year}-{_two(0, 13, rng)}-{_two(0, 32, rng)}"] * 4
        + [f"{year}{_two(1, 12, rng)}{_two(1, 28, rng)}", f"{year}-W{_two(1, 53, rng)}-1"]
    )
    if rng.random() < 0.15:
        return date
    hour, minute, second = _two(0, 25, rng), _two(0, 61, rng), _two(0, 61, rng)
    time = rng.choice(
        [hour, f"{hour}:{minute}", f"{hour}{minute}"]
        + [f"{hour}:{minute}:{second}", f"{hour}{minute}{second}"] * 3
    )
    if len(time) > 5 and rng.random() < 0.6:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        time += rng.choice([".", ","]) + digits
    zones = ["", "", "Z", "z", " Z", "+5", "+00:00", f"-{_two(0, 25, rng)}"]
    zones.append(f"+{_two(0, 25, rng)}:{_two(0, 61, rng)}")
    zones.append(f"-{_two(0, 25, rng)}{_two(0, 61, rng)}")
    zones.append(f"+{_two(0, 23, rng)}:{_two(0, 59, rng)}:{_two(0, 59, rng)}")
    zone = rng.choice(zones)
    return date + rng.choice([" ", "T", " ", "T", "t", "_"]) + time + zone


def test_generated_datetime_texts_convert_whole_as_each_would() -> None:
    # Arrow's parser takes a subset of what datetime.fromisoformat takes, with the same
    # values, but for year 0: the whole conversion leans on that, so it is checked here
    # (against the Arrow installed) over texts on both sides of every rule.
    rng = random.Random(23)
    texts = sorted({_datetime_text(rng) for _ in range(6000)})
    converted = [text for text in texts if _agree([text], "DATETIME")]
    # Enough of them parse for the check to mean something, and not all do.
    assert 400 < len(converted) < len(texts) - 400
    for text in rng.sample(texts, 300):  # beside a usual value of either kind
        _agree(["2024-01-02 03:04:05", text, None], "DATETIME")
        _agree(["2024-01-02T03:04:05Z", text, None], "DATETIME")


def test_generated_date_texts_convert_whole_as_each_would() -> None:
    rng = random.Random(5)
    texts = sorted(
        {
            rng.choice(
                [
                    f"{year}-{_two(0, 13, rng)}-{_two(0, 32, rng)}",
                    f"{year}{_two(0, 13, rng)}{_two(0, 32, rng)}",
                    f"{year}-{rng.randint(0, 13)}-{rng.randint(0, 32)}",
                    f"{year}-{_two(1, 12, rng)}-{_two(1, 28, rng)}{rng.choice(['Z', ' ', 'T00'])}",
                ]
            )
            for year in rng.choices(["2024", "0000", "0001", "9999", "+2024", "٢٠٢٤"], k=1500)
        }
    )
    converted = [text for text in texts if _agree([text], "DATE")]
    assert 100 < len(converted) < len(texts) - 100


# --- JSON: msgspec for the whole column, as json.loads for each value -----------------

DOCUMENTS = [
    '{"a": 1, "b": [true, null, 2.5]}',
    '{"a": 1, "a": 2}',
    "-0",
    "-0.0",
    "1E5",
    "0.30000000000000004",
    "123456789012345678901234567890",
    '"\\ud83d\\ude00"',
    " \n[1] \t",
    "null",
    "[]",
]
# msgspec refuses these (json.loads reads them, or fails): each value is then converted alone.
REFUSED = ["NaN", "1e400", '"\\ud800"', "{not json", "", "[1,]", "1" + "0" * 5000]


def _json_type() -> sqlite_types.Declared:
    found = sqlite_types.declared("JSON")
    assert found is not None
    assert found.batch is not None
    return found


def _json(values: list[Any]) -> tuple[list[Any], bool]:
    return _json_type().convert_all(values)


def _json_each(values: list[Any]) -> tuple[list[Any], bool]:
    found = sqlite_types.declared("JSON")
    assert found is not None
    return sqlite_types.convert(values, sqlite_types.Declared(found.kind, found.convert))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_json_documents_parse_at_once_as_each_would(document: str) -> None:
    values = [document, None, '{"k": 1}']
    batch = _json_type().batch
    assert batch is not None
    assert batch(values) is not None  # parsed at once
    at_once, each = _json(values), _json_each(values)
    assert repr(at_once) == repr(each)  # -0.0 and 0.0, 1 and 1.0 apart


@pytest.mark.parametrize("document", REFUSED)
def test_json_documents_msgspec_refuses_convert_each(document: str) -> None:
    values = ['{"k": 1}', document, None]
    batch = _json_type().batch
    assert batch is not None
    assert batch(values) is None
    assert repr(_json(values)) == repr(_json_each(values))


@pytest.mark.parametrize("other", [5, 1.5, b'{"a": 1}'])
def test_json_numbers_and_blobs_convert_each(other: Any) -> None:
    # Numbers (JSON's numeric affinity stores '5' as 5) pass, a blob does not fit.
    values = ['{"k": 1}', other, None]
    assert _json(values) == _json_each(values)
    assert _json(values)[0][1] == other


def test_json_column_reads_as_python_values(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, doc JSON)")
        connection.executemany(
            "INSERT INTO t (doc) VALUES (?)", [['{"a": [1, 2]}'], [None], ['"x"'], ["null"]]
        )
    connection.close()
    database = dbnb.Registry().connect(f"sqlite:///{path}")
    try:
        frame = database.query("SELECT doc FROM t ORDER BY i")
    finally:
        database.close()
    assert frame["doc"].dtype == object
    assert frame["doc"].tolist() == [{"a": [1, 2]}, None, "x", None]
