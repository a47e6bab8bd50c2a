"""Read-only, enforced by the database: refused writes change nothing and leave the pool clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import select

import dbnb
from tests.fixtures import Item, config_text, rows

# Every test here holds on both read paths (columnar ADBC, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]

WRITES = [
    "INSERT INTO items VALUES (4, 'four')",
    "UPDATE items SET name = 'changed'",
    "DELETE FROM items",
    "DROP TABLE items",
    "CREATE TABLE other (x INTEGER)",
    "ALTER TABLE items ADD COLUMN extra INTEGER",
    "CREATE INDEX items_name ON items (name)",
    "CREATE TEMPORARY TABLE scratch (x INTEGER)",
    "WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone",
]

# Statements that try to switch read-only off; what follows them must still be refused.
ESCAPES = {
    "postgresql": [
        ["SET TRANSACTION READ WRITE", "DELETE FROM items"],
        ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", "DELETE FROM items"],
        ["SELECT set_config('transaction_read_only', 'off', true)", "DELETE FROM items"],
        ["COMMIT", "DELETE FROM items"],
        ["ROLLBACK", "SET TRANSACTION READ WRITE", "DELETE FROM items"],
        ["END", "DELETE FROM items"],
        ["SELECT 1; COMMIT; DELETE FROM items"],
        ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "COMMIT", "DELETE FROM items"],
        ["SET default_transaction_read_only = off", "COMMIT", "DELETE FROM items"],
        ["SELECT * FROM items FOR UPDATE"],
    ],
    "sqlite": [
        ["PRAGMA query_only = OFF", "DELETE FROM items"],
        ["PRAGMA query_only = 0", "DELETE FROM items"],
        ["COMMIT", "DELETE FROM items"],
        ["BEGIN IMMEDIATE", "DELETE FROM items"],
        ["ATTACH DATABASE 'attached.db' AS other", "CREATE TABLE other.t (x INTEGER)"],
        ["COMMIT", "VACUUM INTO 'copy.db'"],
        ["PRAGMA writable_schema = ON", "DELETE FROM items"],
        ["PRAGMA user_version = 7"],
        ["SELECT 1; DELETE FROM items"],
    ],
    "mysql": [
        ["SET TRANSACTION READ WRITE", "DELETE FROM items"],
        ["SET SESSION TRANSACTION READ WRITE", "COMMIT", "DELETE FROM items"],
        ["SET SESSION tx_read_only = 0", "CREATE TABLE other (x INTEGER)"],
        ["SET autocommit = 1", "DELETE FROM items"],
        ["COMMIT", "DELETE FROM items"],
        ["ROLLBACK", "SET TRANSACTION READ WRITE", "DELETE FROM items"],
        ["START TRANSACTION READ WRITE", "DELETE FROM items"],
        ["SELECT 1; DELETE FROM items"],
        ["SELECT * FROM items FOR UPDATE"],
        ["CREATE TABLE other (x INTEGER)"],  # commits implicitly, then runs read-only
    ],
}


@pytest.mark.parametrize("sql", WRITES)
def test_query_refuses_writes(db: dbnb.Database, backend: str, sql: str) -> None:
    # A writable CTE is refused before it is sent, also where the database could not
    # even parse it (SQLite and MariaDB): the allow-list reads it first.
    with pytest.raises(dbnb.ReadOnlyError) as caught:
        db.query(sql)
    message = str(caught.value)
    assert f"connection {db.name!r} is read-only here" in message
    assert "db.session(write=True)" in message  # says how to write on purpose
    assert "\n" not in message
    assert rows(db) == ORIGINAL
    assert db.engine.pool.checkedout() == 0
    assert db._arrow.checkedout() == 0


@pytest.mark.parametrize("sql", WRITES[:4])
def test_read_session_refuses_writes(db: dbnb.Database, sql: str) -> None:
    with pytest.raises(dbnb.ReadOnlyError), db.session() as session:
        session.execute(text(sql))
    assert rows(db) == ORIGINAL


def test_read_session_refuses_orm_flush(db: dbnb.Database) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table

    items = Table(
        "items", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
    )
    with pytest.raises(dbnb.ReadOnlyError), db.session() as session:
        session.execute(items.insert().values(id=9, name="nine"))
    assert rows(db) == ORIGINAL


def test_escapes_are_refused(
    db: dbnb.Database, backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"  # where ATTACH / VACUUM INTO would create their files
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    for statements in ESCAPES[backend]:
        with pytest.raises(dbnb.DbnbError), db.session() as session:
            for statement in statements:
                session.execute(text(statement))
        assert rows(db) == ORIGINAL, statements
        assert db.engine.pool.checkedout() == 0
        assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
    assert list(workdir.iterdir()) == []


def test_escape_errors_are_read_only_errors(db: dbnb.Database) -> None:
    for statement in ("DELETE FROM items", "SELECT 1; DELETE FROM items"):
        with pytest.raises(dbnb.ReadOnlyError):
            db.query(statement)


def test_pool_is_clean_after_a_refused_write(db: dbnb.Database) -> None:
    for _ in range(3):
        with pytest.raises(dbnb.ReadOnlyError):
            db.query("DELETE FROM items")
    assert db.engine.pool.checkedout() == 0
    assert db._arrow.checkedout() == 0
    with db.session(write=True) as session:
        session.execute(text("INSERT INTO items VALUES (4, 'four')"))
    assert rows(db) == [*ORIGINAL, (4, "four")]


def test_modes_never_leak_through_the_pool(
    tmp_path: Path, pg_database: str, mysql_database: str, backend: str, open_registry
) -> None:
    # A budget of one connection: one server connection serves every session below, in
    # turn, a read, then a write, then a read.
    target = {
        "sqlite": "type: sqlite\ndatabase: one.db",
        "postgresql": f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\ndatabase: {pg_database}",
        "mysql": f"type: mysql\nhost: 127.0.0.1\nuser: root\ndatabase: {mysql_database}",
    }[backend]
    path = tmp_path / "one.yaml"
    path.write_text(
        config_text(
            tmp_path, pg_database, one=f"{target}\npool_size: 1\nmax_overflow: 0\npool_timeout: 5"
        )
    )
    db = open_registry(path).connect("one")
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS items"))
        session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
        session.execute(text("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')"))
    served: list[object] = []  # the DBAPI connection of each checkout
    event.listen(db.engine, "checkout", lambda dbapi, _record, _proxy: served.append(dbapi))
    for round_ in range(3):
        with pytest.raises(dbnb.ReadOnlyError):
            db.query("DELETE FROM items WHERE id = 3")
        with db.session(write=True) as session:  # read-only state did not leak in
            session.execute(text(f"INSERT INTO items VALUES ({10 + round_}, 'w')"))
        with pytest.raises(dbnb.ReadOnlyError), db.session() as session:  # nor write state out
            session.execute(text("DELETE FROM items"))
    assert len(served) >= 6
    assert all(connection is served[0] for connection in served)
    assert [row[0] for row in rows(db)] == [1, 2, 3, 10, 11, 12]


def test_readonly_connection_refuses_write_sessions_before_touching_the_database(
    tmp_path: Path, open_registry
) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(
        "databases:\n  replica:\n    type: postgresql\n    host: 127.0.0.1\n    port: 1\n"
        "    readonly: true\n"
    )
    replica = open_registry(path).connect("replica")
    with pytest.raises(dbnb.ReadOnlyError, match=r"'replica' is marked readonly: true in .*:2"):
        with replica.session(write=True):
            pass
    assert replica._engine is None  # port 1 was never even tried


def test_readonly_connection_reads_and_never_writes(registry: dbnb.Registry, backend: str) -> None:
    writable = registry.connect(backend)
    with writable.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS items"))
        session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
        session.execute(text("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')"))
    replica = registry.connect(f"{backend}_ro")
    assert replica.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]
    with pytest.raises(dbnb.ReadOnlyError):
        replica.query("DELETE FROM items")
    assert rows(writable) == ORIGINAL


def test_objects_read_in_a_read_session_stay_usable_after_it(db: dbnb.Database) -> None:
    with db.session() as session:
        found = session.exec(select(Item).order_by(Item.id)).all()
        first = session.get(Item, 2)
    # The read-only rollback at the end of the block expires nothing they loaded.
    assert [item.name for item in found] == ["one", "two", "three"]
    assert found[0].model_dump() == {"id": 1, "name": "one"}
    assert first is not None
    assert first.name == "two"
    assert db.engine.pool.checkedout() == 0
    assert rows(db)[0] == (1, "one")  # and nothing was written


# --- MariaDB and MySQL ------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["mysql"])
def test_mysql_words_in_literals_and_comments_are_no_statements(db: dbnb.Database) -> None:
    # Only code counts: a literal, a quoted name or a comment holding the refused words
    # is read as it is; an executable comment (/*! ... */) is code, and refused.
    frame = db.query(
        "SELECT 'x; COMMIT; SELECT 1 INTO OUTFILE ''/tmp/x''' AS `INTO OUTFILE`, "
        "\"SET autocommit = 1\" AS s -- ; COMMIT\n# INTO DUMPFILE '/tmp/y'\n"
    )
    assert frame.columns.tolist() == ["INTO OUTFILE", "s"]
    assert frame["s"].tolist() == ["SET autocommit = 1"]
    with pytest.raises(dbnb.ReadOnlyError, match="INTO OUTFILE"):
        db.query("SELECT 1 /*!50000 INTO OUTFILE '/tmp/dbnb-never' */")
    with pytest.raises(dbnb.ReadOnlyError, match="one statement per call"):
        db.query("SELECT 1 /*! ; COMMIT */")
    # No session state outlives a read: a setting or a user variable would stay with the
    # pooled connection, so a read refuses them before they are sent.
    for statement in (
        "SET @dbnb_probe = 41",
        "SET SESSION group_concat_max_len = 100000",
        "SELECT @dbnb_probe := 41",
        "SELECT 41 INTO @dbnb_probe",
    ):
        with pytest.raises(dbnb.ReadOnlyError), db.session() as session:
            session.execute(text(statement))
    with db.session() as session:
        assert session.execute(text("SELECT @dbnb_probe")).scalar() is None
        assert session.execute(text("SELECT @@session.group_concat_max_len")).scalar() != 100000


@pytest.mark.mysql
def test_mysql_readonly_true_opens_the_session_read_only(registry: dbnb.Registry) -> None:
    # Even a connection made with dbnb's driver arguments and none of its engine events
    # (another tool's, say) starts read-only on a readonly: true connection.
    import sqlalchemy

    from dbnb.backends.registry import backend_for
    from dbnb.engine.engines import engine_arguments

    for name, read_only in (("mysql_ro", 1), ("mysql", 0)):
        config = registry.config.get(name)
        arguments = engine_arguments(config, backend_for(config.backend), pooled=False)
        bare = sqlalchemy.create_engine(arguments.url, connect_args=arguments.connect_args)
        raw = bare.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT @@session.tx_read_only")
            assert cursor.fetchone() == (read_only,), name
        finally:
            raw.close()
            bare.dispose()
