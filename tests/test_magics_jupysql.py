"""jupysql's %sql on a named dbnb connection: read-only unless the user asks for writes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from sql.warnings import JupySQLRollbackPerformed

import dbnb
from tests.fixtures import rows


@pytest.fixture
def sql(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The test shell with jupysql loaded, autocommit off (dbnb reads in transactions)."""
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")  # jupysql's usage statistics: off
    ip.run_line_magic("load_ext", "sql")
    ip.run_line_magic("config", "SqlMagic.autocommit = False")
    aliases: list[str] = []
    ip.user_ns["_aliases"] = aliases
    yield ip
    for alias in aliases:
        ip.run_line_magic("sql", f"--close {alias}")
    ip.run_line_magic("config", "SqlMagic.autocommit = True")


def connect(shell: InteractiveShell, engine: object, alias: str) -> None:
    shell.user_ns[f"{alias}_engine"] = engine
    shell.run_line_magic("sql", f"{alias}_engine --alias {alias}")
    shell.user_ns["_aliases"].append(alias)


def test_sql_reads_through_a_dbnb_connection_and_cannot_write(
    sql: InteractiveShell, db: dbnb.Database
) -> None:
    connect(sql, dbnb.sql_engine(db), f"ro_{db.name}")
    result = sql.run_line_magic("sql", "SELECT name FROM items ORDER BY id")
    assert list(result.DataFrame()["name"]) == ["one", "two", "three"]
    for statement in ("INSERT INTO items VALUES (4, 'four')", "DELETE FROM items"):
        outcome = sql.run_cell(f"%sql {statement}")
        assert isinstance(outcome.error_in_exec, dbnb.ReadOnlyError)
        # Refused before it was sent: the transaction was not aborted, so the connection
        # is usable at once (jupysql has nothing to roll back, and says nothing).
        with warnings.catch_warnings():
            warnings.simplefilter("error", JupySQLRollbackPerformed)
            assert len(sql.run_line_magic("sql", "SELECT * FROM items").DataFrame()) == 3
    sql.run_line_magic("sql", f"--close ro_{db.name}")
    sql.user_ns["_aliases"].remove(f"ro_{db.name}")
    assert len(rows(db)) == 3


@pytest.mark.postgresql
def test_sql_refuses_to_read_in_autocommit(sql: InteractiveShell, registry: dbnb.Registry) -> None:
    sql.run_line_magic("config", "SqlMagic.autocommit = True")
    connect(sql, dbnb.sql_engine(registry.connect("postgresql")), "pg_autocommit")
    outcome = sql.run_cell("%sql SELECT 1")
    assert isinstance(outcome.error_in_exec, dbnb.ReadOnlyError)
    assert "autocommit" in str(outcome.error_in_exec)


@pytest.mark.postgresql
def test_sql_writes_only_when_asked_on_a_writable_connection(
    sql: InteractiveShell, registry: dbnb.Registry
) -> None:
    db = registry.connect("postgresql")
    with db.session(write=True) as session:
        session.execute(dbnb_text("DROP TABLE IF EXISTS jupysql_notes"))
        session.execute(dbnb_text("CREATE TABLE jupysql_notes (note TEXT)"))
    sql.run_line_magic("config", "SqlMagic.autocommit = True")  # each statement commits
    connect(sql, dbnb.sql_engine(db, write=True), "pg_write")
    sql.run_line_magic("sql", "INSERT INTO jupysql_notes VALUES ('kept')")
    assert rows(db, "jupysql_notes") == [("kept",)]
    with pytest.raises(dbnb.ReadOnlyError, match="'postgresql_ro' is marked readonly: true"):
        dbnb.sql_engine(registry.connect("postgresql_ro"), write=True)
    with pytest.raises(dbnb.DbnbError, match="PostgreSQL only, not sqlite"):
        dbnb.sql_engine(registry.connect("sqlite"), write=True)


def dbnb_text(sql: str) -> object:
    from sqlalchemy import text

    return text(sql)
