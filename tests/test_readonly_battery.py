"""At least twenty distinct ways to write through a read-only path, on each database.

Each case runs its statements in one read-only session (and, when it is a single
statement, through `Database.query` too). Every case must be refused by the
database, and afterwards the data, the schema, sequences and settings are exactly
as before, no file was created, and the pool is clean.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text

import dbnb
from tests.fixtures import rows

# Every case holds on both read paths (columnar ADBC, and guarded SQLAlchemy).
pytestmark = pytest.mark.usefixtures("read_path")

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]

PG_SETUP = [
    "DROP SEQUENCE IF EXISTS battery_seq",
    "CREATE SEQUENCE battery_seq",
    "DROP MATERIALIZED VIEW IF EXISTS battery_view",
    "CREATE MATERIALIZED VIEW battery_view AS SELECT * FROM items",
    "CREATE OR REPLACE FUNCTION battery_wipe() RETURNS integer LANGUAGE sql "
    "AS 'DELETE FROM items RETURNING 1'",
    "CREATE OR REPLACE PROCEDURE battery_wipe_proc() LANGUAGE sql AS 'DELETE FROM items'",
]

PG_CASES: dict[str, list[str]] = {
    "insert": ["INSERT INTO items VALUES (4, 'four')"],
    "update": ["UPDATE items SET name = 'x'"],
    "delete": ["DELETE FROM items"],
    "truncate": ["TRUNCATE items"],
    "drop table": ["DROP TABLE items"],
    "create table": ["CREATE TABLE battery_new (x int)"],
    "alter table": ["ALTER TABLE items ADD COLUMN extra int"],
    "create index": ["CREATE INDEX battery_idx ON items (name)"],
    "temporary table": ["CREATE TEMP TABLE battery_tmp (x int)"],
    "writable cte": ["WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone"],
    "select for update": ["SELECT * FROM items FOR UPDATE"],
    "select for share": ["SELECT * FROM items FOR SHARE"],
    "nextval": ["SELECT nextval('battery_seq')"],
    "setval": ["SELECT setval('battery_seq', 100)"],
    "volatile function": ["SELECT battery_wipe()"],
    "procedure": ["CALL battery_wipe_proc()"],
    "do block": ["DO $$ BEGIN DELETE FROM items; END $$"],
    "prepared statement": ["PREPARE battery_p AS DELETE FROM items", "EXECUTE battery_p"],
    "refresh materialized view": ["REFRESH MATERIALIZED VIEW battery_view"],
    "comment": ["COMMENT ON TABLE items IS 'changed'"],
    "large object kept by a commit": ["SELECT lo_create(0)", "COMMIT"],
    "commit behind a comment": ["SELECT lo_create(0)", "/* hi */ -- there\n COMMIT"],
    "end behind whitespace": ["SELECT lo_create(0)", "\n\t END"],
    "copy from": ["COPY items FROM '/dev/null'"],
    "set transaction read write": ["SET TRANSACTION READ WRITE", "DELETE FROM items"],
    "set_config transaction_read_only": [
        "SELECT set_config('transaction_read_only', 'off', true)",
        "DELETE FROM items",
    ],
    "savepoint then read write": ["SAVEPOINT s", "SET TRANSACTION READ WRITE", "DELETE FROM items"],
    "nested begin": ["START TRANSACTION READ WRITE", "DELETE FROM items"],
    "commit then write": ["COMMIT", "DELETE FROM items"],
    "rollback then read write": ["ROLLBACK", "SET TRANSACTION READ WRITE", "DELETE FROM items"],
    "prepare transaction": ["PREPARE TRANSACTION 'battery'"],
    "several statements in one call": ["SELECT 1; COMMIT; DELETE FROM items"],
    "session characteristics": [
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "COMMIT",
        "DELETE FROM items",
    ],
    "default_transaction_read_only": [
        "SET default_transaction_read_only = off",
        "COMMIT",
        "DELETE FROM items",
    ],
    "vacuum": ["VACUUM items"],
}

SQLITE_CASES: dict[str, list[str]] = {
    "insert": ["INSERT INTO items VALUES (4, 'four')"],
    "insert or replace": ["INSERT OR REPLACE INTO items VALUES (1, 'x')"],
    "replace": ["REPLACE INTO items VALUES (1, 'x')"],
    "upsert": ["INSERT INTO items VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = 'x'"],
    "update": ["UPDATE items SET name = 'x'"],
    "delete": ["DELETE FROM items"],
    "delete returning": ["DELETE FROM items RETURNING id"],
    "drop table": ["DROP TABLE items"],
    "create table": ["CREATE TABLE battery_new (x INTEGER)"],
    "alter table": ["ALTER TABLE items ADD COLUMN extra INTEGER"],
    "create index": ["CREATE INDEX battery_idx ON items (name)"],
    "create view": ["CREATE VIEW battery_view AS SELECT * FROM items"],
    "create trigger": [
        "CREATE TRIGGER battery_t AFTER INSERT ON items BEGIN DELETE FROM items; END"
    ],
    "temporary table": ["CREATE TEMP TABLE battery_tmp (x INTEGER)"],
    "virtual table": ["CREATE VIRTUAL TABLE battery_fts USING fts5(body)"],
    "query_only off": ["PRAGMA query_only = OFF", "DELETE FROM items"],
    "query_only 0": ["PRAGMA query_only = 0", "DELETE FROM items"],
    "writable_schema": ["PRAGMA writable_schema = ON"],
    "user_version": ["PRAGMA user_version = 7"],
    "journal_mode": ["PRAGMA journal_mode = WAL"],
    "optimize": ["PRAGMA optimize"],
    "attach": ["ATTACH DATABASE 'attached.db' AS other", "CREATE TABLE other.t (x INTEGER)"],
    "vacuum": ["VACUUM"],
    "vacuum into": ["COMMIT", "VACUUM INTO 'copy.db'"],
    "reindex": ["REINDEX items"],
    "analyze": ["ANALYZE"],
    "commit then write": ["COMMIT", "DELETE FROM items"],
    "begin immediate": ["COMMIT", "BEGIN IMMEDIATE", "DELETE FROM items"],
    "several statements in one call": ["SELECT 1; DELETE FROM items"],
    "load extension": ["SELECT load_extension('battery')"],
}


# MariaDB: files the server would write or read are in /tmp, where its user can reach.
OUTFILE = f"/tmp/dbnb-battery-{uuid.uuid4().hex}"
LOADFILE = Path(f"/tmp/dbnb-battery-load-{uuid.uuid4().hex}")
MYSQL_SETUP = [
    "DROP SEQUENCE IF EXISTS battery_seq",
    "CREATE SEQUENCE battery_seq",
    "CREATE OR REPLACE FUNCTION battery_wipe() RETURNS INT MODIFIES SQL DATA "
    "BEGIN DELETE FROM items; RETURN 1; END",
    "CREATE OR REPLACE PROCEDURE battery_wipe_proc() "
    "BEGIN COMMIT; SET SESSION TRANSACTION READ WRITE; DELETE FROM items; END",
]

MYSQL_CASES: dict[str, list[str]] = {
    "insert": ["INSERT INTO items VALUES (4, 'four')"],
    "insert on duplicate key update": [
        "INSERT INTO items VALUES (1, 'x') ON DUPLICATE KEY UPDATE name = 'x'"
    ],
    "replace": ["REPLACE INTO items VALUES (1, 'x')"],
    "update": ["UPDATE items SET name = 'x'"],
    "delete": ["DELETE FROM items"],
    "delete returning": ["DELETE FROM items RETURNING id"],
    "truncate": ["TRUNCATE items"],
    "drop table": ["DROP TABLE items"],
    "create table (commits implicitly)": ["CREATE TABLE battery_new (x int)"],
    "create or replace table": ["CREATE OR REPLACE TABLE items (x int)"],
    "alter table": ["ALTER TABLE items ADD COLUMN extra int"],
    "create index": ["CREATE INDEX battery_idx ON items (id)"],
    "rename table": ["RENAME TABLE items TO battery_renamed"],
    "temporary table": ["CREATE TEMPORARY TABLE battery_tmp (x int)"],
    "create view": ["CREATE VIEW battery_view AS SELECT * FROM items"],
    "create database": ["CREATE DATABASE battery_db"],
    "create user": ["CREATE USER battery_user"],
    "select for update": ["SELECT * FROM items FOR UPDATE"],
    "nextval": ["SELECT NEXTVAL(battery_seq)"],
    "setval": ["SELECT SETVAL(battery_seq, 100)"],
    "function that writes": ["SELECT battery_wipe()"],
    "procedure that commits": ["CALL battery_wipe_proc()"],
    "prepared statement": ["PREPARE battery_p FROM 'DELETE FROM items'", "EXECUTE battery_p"],
    "execute immediate": ["EXECUTE IMMEDIATE 'SET SESSION TRANSACTION READ WRITE'"],
    "compound statement": ["BEGIN NOT ATOMIC DELETE FROM items; END"],
    "load data": [f"LOAD DATA INFILE '{LOADFILE}' INTO TABLE items"],
    "into outfile": [f"SELECT * FROM items INTO OUTFILE '{OUTFILE}'"],
    "into dumpfile": [f"SELECT name FROM items LIMIT 1 INTO DUMPFILE '{OUTFILE}'"],
    "into outfile in an executable comment": [f"SELECT 1 /*! INTO OUTFILE '{OUTFILE}' */"],
    "analyze table": ["ANALYZE TABLE items"],
    "flush": ["FLUSH TABLES"],
    "lock tables": ["LOCK TABLES items WRITE"],
    "use another database": ["USE mysql"],
    "set transaction read write": ["SET TRANSACTION READ WRITE", "DELETE FROM items"],
    "set session transaction read write": [
        "SET SESSION TRANSACTION READ WRITE",
        "CREATE TABLE battery_new (x int)",
    ],
    "tx_read_only off": ["SET SESSION tx_read_only = 0", "CREATE TABLE battery_new (x int)"],
    "set statement": ["SET STATEMENT tx_read_only = 0 FOR CREATE TABLE battery_new (x int)"],
    "autocommit": ["SET autocommit = 1", "DELETE FROM items"],
    "commit then write": ["COMMIT", "DELETE FROM items"],
    "commit behind a comment": ["/* hi */ # there\n COMMIT", "DELETE FROM items"],
    "rollback then read write": ["ROLLBACK", "SET TRANSACTION READ WRITE", "DELETE FROM items"],
    "nested start transaction": ["START TRANSACTION READ WRITE", "DELETE FROM items"],
    "begin": ["BEGIN", "DELETE FROM items"],
    "xa": ["XA START 'battery'"],
    "several statements in one call": ["SELECT 1; COMMIT; DELETE FROM items"],
    "character set": ["SET NAMES gbk"],
    "global setting": ["SET GLOBAL max_connections = 7"],
}


def snapshot(database: dbnb.Database, backend: str) -> dict[str, object]:
    """What a write could change besides the rows: schema, sequences, settings."""
    if backend == "postgresql":
        queries = {
            "tables": "SELECT string_agg(concat(relname, relkind), ',' ORDER BY relname) AS v "
            "FROM pg_class WHERE relnamespace = 'public'::regnamespace",
            "sequence": "SELECT last_value || '/' || is_called AS v FROM battery_seq",
            "comment": "SELECT coalesce(obj_description('items'::regclass), '') AS v",
            "columns": "SELECT count(*) AS v FROM information_schema.columns "
            "WHERE table_name = 'items'",
            "prepared": "SELECT count(*) AS v FROM pg_prepared_xacts",
            "large objects": "SELECT count(*) AS v FROM pg_largeobject_metadata",
        }
    elif backend == "mysql":
        queries = {
            "tables": "SELECT group_concat(table_name, table_type ORDER BY table_name) AS v "
            "FROM information_schema.tables WHERE table_schema = database()",
            "columns": "SELECT count(*) AS v FROM information_schema.columns "
            "WHERE table_schema = database() AND table_name = 'items'",
            "indexes": "SELECT count(*) AS v FROM information_schema.statistics "
            "WHERE table_schema = database()",
            "sequence": "SELECT next_not_cached_value AS v FROM battery_seq",
            "databases": "SELECT count(*) AS v FROM information_schema.schemata",
            "users": "SELECT count(*) AS v FROM mysql.user",
            "max_connections": "SELECT @@global.max_connections AS v",
        }
    else:
        queries = {
            "schema": "SELECT group_concat(type || name || coalesce(sql, ''), ',') AS v "
            "FROM sqlite_master",
            "user_version": "PRAGMA user_version",
            "journal_mode": "PRAGMA journal_mode",
        }
    with database.session(write=True) as session:
        return {key: session.execute(text(sql)).scalar() for key, sql in queries.items()}


SQLITE_SETUP = ["CREATE INDEX items_by_name ON items (name)"]  # so REINDEX has work


@pytest.fixture
def battery_db(db: dbnb.Database, backend: str) -> Iterator[dbnb.Database]:
    setup = {"postgresql": PG_SETUP, "sqlite": SQLITE_SETUP, "mysql": MYSQL_SETUP}[backend]
    with db.session(write=True) as session:
        for statement in setup:
            session.execute(text(statement))
    LOADFILE.write_text("7\tseven\n")
    LOADFILE.chmod(0o644)
    yield db
    LOADFILE.unlink()


def cases(backend: str) -> list[tuple[str, list[str]]]:
    return list(
        {"postgresql": PG_CASES, "sqlite": SQLITE_CASES, "mysql": MYSQL_CASES}[backend].items()
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite", "mysql"])
def test_battery_has_at_least_twenty_distinct_ways(backend: str) -> None:
    statements = {tuple(case) for _, case in cases(backend)}
    assert len(statements) >= 20


def test_every_way_is_refused_and_changes_nothing(
    battery_db: dbnb.Database, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    before = snapshot(battery_db, backend)
    refused_by: dict[str, str] = {}
    for name, statements in cases(backend):
        with pytest.raises((dbnb.DbnbError, exc.DBAPIError)) as caught:
            with battery_db.session() as session:
                for statement in statements:
                    session.execute(text(statement))
        refused_by[name] = type(caught.value).__name__
        if len(statements) == 1:
            with pytest.raises(dbnb.DbnbError):
                battery_db.query(statements[0])
        assert rows(battery_db) == ORIGINAL, name
        assert snapshot(battery_db, backend) == before, name
        assert battery_db.engine.pool.checkedout() == 0, name
        assert battery_db._arrow.checkedout() == 0, name
    assert list(workdir.iterdir()) == []
    assert not Path(OUTFILE).exists()  # MariaDB's INTO OUTFILE would have written it
    # session.commit() in a read session keeps nothing either.
    with battery_db.session() as session:
        if backend == "postgresql":
            session.execute(text("SELECT lo_create(0)"))
        session.commit()
    assert snapshot(battery_db, backend) == before
    # Writes are refused as writes; only statements a transaction cannot run at all
    # (or that SQLite cannot parse) fail otherwise.
    others = {name for name, kind in refused_by.items() if kind != "ReadOnlyError"}
    assert others <= {"vacuum", "load extension", "prepare transaction"}, refused_by
