"""A refusal names the remedy of the place it was met: a Python call, a %%db cell,
the command line, or another tool handed ``db.engine``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from sqlmodel import Field, SQLModel

import dbnb
from tests.fixtures import rows
from tests.magic_fixtures import db as run_magic
from tests.test_cli import dbnb_clis, one_error_line
from tests.test_limits import SLOW


class Note(SQLModel, table=True):
    """A model whose table does not exist yet."""

    __tablename__ = "remedy_notes"
    id: int | None = Field(default=None, primary_key=True)
    text: str


def test_python_calls_are_told_of_write_sessions(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.ReadOnlyError) as caught:
        db.query("DELETE FROM items")
    assert str(caught.value).endswith(
        "to write on purpose, use db.session(write=True) or db.write(...)"
    )
    assert len(rows(db)) == 3


def test_tools_handed_db_engine_are_told_of_create_tables_and_sql_engine(
    db: dbnb.Database,
) -> None:
    # SQLModel's own create_all, on the read-only engine: the remedy is db.create_tables.
    with pytest.raises(dbnb.ReadOnlyError) as caught:
        Note.metadata.create_all(db.engine, tables=[Note.__table__])
    assert "db.engine reads only: create a model's tables with db.create_tables(Model)" in str(
        caught.value
    )
    # pandas' to_sql through the same engine: the remedy is a writing engine for tools.
    with pytest.raises(dbnb.ReadOnlyError) as caught:
        pd.DataFrame({"id": [9], "name": ["nine"]}).to_sql(
            "items", db.engine, if_exists="append", index=False
        )
    assert "dbnb.sql_engine(NAME, write=True)" in str(caught.value)
    assert len(rows(db)) == 3  # nothing written either way
    db.create_tables(Note)  # and the remedy named works
    assert db.query("SELECT count(*) AS n FROM remedy_notes")["n"].tolist() == [0]


def test_cells_are_told_of_write(ip: InteractiveShell, db: dbnb.Database) -> None:
    with pytest.raises(UsageError) as caught:
        run_magic(ip, db.name, "DELETE FROM items")
    assert str(caught.value).endswith("to write on purpose, add --write to the %db or %%db line")
    assert len(rows(db)) == 3


@pytest.mark.slow
def test_the_command_line_is_told_of_its_options(
    config_path: Path, db: dbnb.Database, backend: str
) -> None:
    write, capped, slow = dbnb_clis(
        ["query", backend, "DELETE FROM items"],
        ["query", backend, "SELECT 1 AS a UNION ALL SELECT 2", "--max-rows", "1"],
        ["query", backend, SLOW[backend], "--timeout", "0.2"],
        config=config_path,
    )
    assert write.code == 1
    assert "dbnb query only reads; write from Python" in one_error_line(write)
    assert capped.code == 1
    assert "pass --max-rows or raise max_rows in the config" in one_error_line(capped)
    assert slow.code == 1
    # The limit was the call's own: the remedy is the call's option, not the config.
    assert one_error_line(slow).endswith(
        "statement_timeout of 0.2 s and was cancelled (this call's); pass a larger --timeout "
        "(0: none)"
    )


@pytest.mark.slow
def test_a_placeholder_without_a_value_names_how_to_give_it(
    config_path: Path, db: dbnb.Database, backend: str
) -> None:
    sql = "SELECT name FROM items WHERE id = :id AND name <> :not_name"
    with pytest.raises(dbnb.ParameterError) as caught:
        db.query(sql, {"not_name": "x"})
    assert str(caught.value) == f"{db.name}: no value for :id; pass params={{'id': ...}}"
    with pytest.raises(dbnb.ParameterError) as caught:
        asyncio.run(db.aquery(sql))  # refused before any connection is opened
    assert str(caught.value).endswith(
        "no value for :id, :not_name; pass params={'id': ..., 'not_name': ...} to aquery()"
    )

    missing, given = dbnb_clis(
        ["query", backend, sql, "--param", "not_name=x"],
        ["query", backend, sql, "--param", "not_name=x", "--param", "id:=2", "-f", "csv"],
        config=config_path,
    )
    assert missing.code == 1
    assert one_error_line(missing) == (
        f"dbnb: error: {backend}: no value for :id; pass --param id=VALUE "
        "(NAME:=JSON for a number, true or null)"
    )
    assert (given.code, given.out.split()) == (0, ["name", "two"])  # the remedy works
