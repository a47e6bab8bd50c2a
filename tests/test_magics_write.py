"""`%db write DF TABLE [MODE]`: a DataFrame from the notebook back into a table."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from tests.fixtures import rows
from tests.magic_fixtures import db as run


def test_query_edit_upsert_round_trip(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(ip, f"use {db.name}")
    items = run(ip, "-o items SELECT id, name FROM items ORDER BY id")
    items.loc[items["id"] == 2, "name"] = "deux"
    ip.user_ns["edited"] = pd.concat(
        [items, pd.DataFrame({"id": [4], "name": ["four"]}).astype(items.dtypes)],
        ignore_index=True,
    )
    run(ip, "write edited items upsert")
    assert rows(db) == [(1, "one"), (2, "deux"), (3, "three"), (4, "four")]


def test_append_is_the_default(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(ip, f"use {db.name}")
    ip.user_ns["more"] = pd.DataFrame({"id": [5, 6], "name": ["five", "six"]})
    run(ip, "write more items")
    assert [row[0] for row in rows(db)] == [1, 2, 3, 5, 6]


def test_a_bad_row_is_one_line_and_nothing_is_written(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    run(ip, f"use {db.name}")
    ip.user_ns["bad"] = pd.DataFrame({"id": [7, 8], "name": ["seven", None]})
    with pytest.raises(UsageError, match=r"row 1, column 'name'") as caught:
        run(ip, "write bad items")
    assert "\n" not in str(caught.value)
    assert len(rows(db)) == 3


def test_a_readonly_connection_never_writes(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(ip, f"use {db.name}_ro")
    ip.user_ns["more"] = pd.DataFrame({"id": [5], "name": ["five"]})
    with pytest.raises(UsageError, match="is marked readonly: true"):
        run(ip, "write more items")
    assert len(rows(db)) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("write", "usage: %db write DF TABLE"),
        ("write more items sideways", "usage: %db write DF TABLE"),
        ("write nothing items", "'nothing' is not a DataFrame"),
    ],
)
def test_usage_errors(ip: InteractiveShell, line: str, message: str) -> None:
    ip.user_ns["more"] = pd.DataFrame({"id": [5], "name": ["five"]})
    with pytest.raises(UsageError, match=message):
        run(ip, line)
