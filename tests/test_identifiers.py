"""Table and column names with any character (a backtick, a double quote, a space, a
colon, a percent sign, mixed case) work in writes, reads, profiles, plots and describe,
on every database and read path."""

from __future__ import annotations

import pandas as pd
import pytest

import dbnb
from dbnb.connections import inspect

TABLE = 'odd `table" Name'
NUMBER, QUOTED, SPACED, MIXED = "a`b", 'say "hi"', "two words: 50%", "MixedCase"
COLUMNS = [NUMBER, QUOTED, SPACED, MIXED]

pytestmark = pytest.mark.usefixtures("read_path")


def quoted(db: dbnb.Database, name: str) -> str:
    return db.engine.dialect.identifier_preparer.quote_identifier(name)


@pytest.fixture
def odd(db: dbnb.Database) -> dbnb.Database:
    """A table named with every awkward character, its columns too; the first is the key."""
    columns = ", ".join(
        f"{quoted(db, name)} {kind}"
        for name, kind in zip(
            COLUMNS, ["INTEGER PRIMARY KEY", "VARCHAR(50)", "VARCHAR(50)", "FLOAT"], strict=True
        )
    )
    with db.session(write=True) as session:
        run = session.connection().exec_driver_sql  # not text(): `:` binds there
        run(f"DROP TABLE IF EXISTS {quoted(db, TABLE)}")
        run(f"CREATE TABLE {quoted(db, TABLE)} ({columns})")
    return db


def frame(keys: list[int], word: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            NUMBER: keys,
            QUOTED: [f"{word} {key}" for key in keys],
            SPACED: [f'`{word}` "{key}"' for key in keys],
            MIXED: [key / 2 for key in keys],
        }
    )


def read_back(db: dbnb.Database) -> pd.DataFrame:
    """The table's rows, by the columnar path where there is one, and the names as they are."""
    found = db.query(f"SELECT * FROM {quoted(db, TABLE)} ORDER BY {quoted(db, NUMBER)}")
    assert list(found.columns) == COLUMNS
    return found


def same(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert found.to_dict("records") == expected.to_dict("records")


def test_writes_append_upsert_and_replace(odd: dbnb.Database) -> None:
    assert odd.write(frame([1, 2], "first"), TABLE) == 2
    same(read_back(odd), frame([1, 2], "first"))

    assert odd.write(frame([2, 3], "again"), TABLE, mode="upsert", key=NUMBER) == 2
    expected = pd.concat([frame([1], "first"), frame([2, 3], "again")], ignore_index=True)
    same(read_back(odd), expected)

    assert odd.write(frame([7], "only"), TABLE, mode="replace") == 1
    same(read_back(odd), frame([7], "only"))


def test_profile_plot_and_describe_name_the_columns(odd: dbnb.Database) -> None:
    odd.write(frame([1, 2, 3, 4], "row"), TABLE)

    profile = odd.profile(TABLE)
    assert list(profile["column"]) == COLUMNS
    assert profile.set_index("column").loc[MIXED, "count"] == 4

    ax = odd.plot("hist", TABLE, MIXED, bins=2)
    assert sum(patch.get_height() for patch in ax.patches) == 4
    ax = odd.plot("bar", TABLE, QUOTED)
    assert sum(patch.get_height() for patch in ax.patches) == 4

    described = inspect.describe(odd, TABLE)
    assert list(described["column"]) == COLUMNS
    assert described.set_index("column").loc[NUMBER, "primary_key"]
