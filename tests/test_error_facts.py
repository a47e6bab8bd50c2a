"""A QueryError carries its facts for a program to check: the connection, the
statement sent, the read path, and the database's SQLSTATE where its driver gives
one (issue #25). Its message stays one line, its bound values masked."""

from __future__ import annotations

import pytest

import dbnb

# Division by zero: PostgreSQL gives 22012 on both paths, MariaDB 42S22 for an unknown
# column (its drivers pass the code on); SQLite has no SQLSTATE.
SQLSTATE = {"postgresql": "22012", "mysql": "42S22", "sqlite": None}
DIVIDE = {
    "postgresql": "SELECT 1 / (id - id) AS boom FROM items WHERE name <> :name",
    # MariaDB and SQLite give NULL for a division by zero: an unknown column instead.
    "mysql": "SELECT no_such_column FROM items WHERE name = :name",
    "sqlite": "SELECT no_such_column FROM items WHERE name = :name",
}


@pytest.mark.parametrize("read_path", ["arrow", "guarded"], indirect=True)
def test_a_query_error_names_connection_statement_path_and_sqlstate(
    db: dbnb.Database, backend: str, read_path: str
) -> None:
    secret = "a-bound-value-never-shown"
    with pytest.raises(dbnb.QueryError) as caught:
        db.query(DIVIDE[backend], params={"name": secret})
    error = caught.value
    assert error.connection == backend
    assert error.statement is not None
    assert "FROM items WHERE name" in error.statement
    assert secret not in error.statement
    assert secret not in str(error)
    assert "\n" not in str(error)
    ran = dbnb.history(1)["path"].iloc[0]
    assert error.path == ran
    assert error.path == ("guarded" if read_path == "guarded" else error.path)
    if backend == "postgresql":
        assert error.path == ("columnar" if read_path == "arrow" else "guarded")
    assert error.sqlstate == SQLSTATE[backend]


@pytest.mark.postgresql
def test_a_chunked_read_s_error_has_its_facts(registry: dbnb.Registry) -> None:
    db = registry.connect("postgresql")
    with pytest.raises(dbnb.QueryError) as caught:
        for _ in db.query("SELECT 1 / (g - 3) FROM generate_series(1, 5) g", chunksize=1):
            pass
    # The server's error for a row mid-stream, not a lost connection; ADBC passes on
    # no SQLSTATE for it.
    assert str(caught.value) == "postgresql: division by zero"
    assert (caught.value.connection, caught.value.path) == ("postgresql", "columnar")
    assert caught.value.statement == "SELECT 1 / (g - 3) FROM generate_series(1, 5) g"
    # The connection that saw the error was thrown away: the next read works.
    assert db.query("SELECT 1 AS one")["one"].tolist() == [1]
