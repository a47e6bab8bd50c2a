"""A read runs only what reads, and leaves nothing behind: escapes a hostile notebook user
found through reads that a read-only transaction lets through (issue 22).

Each case runs on a superuser connection (the test servers' `postgres` and `root`)
through every read path: `query` (columnar where it applies), a read `session`, chunks,
`aquery`, a `%%db` cell and a `readonly: true` entry. Each must be refused by dbnb
before it is sent, and afterwards the servers' own state says nothing changed: no file
written, no other session killed, no row written (also not through another
connection), no lock held, no setting, database or variable left on a pooled connection.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import text

import dbnb
from tests.fixtures import config_text, rows
from tests.magic_fixtures import db as run_magic

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
# Files the servers would write: in /tmp, where their users can reach.
MARK = f"/tmp/dbnb-escape-{uuid.uuid4().hex}"

PG_CASES = [
    "COPY (SELECT 1) TO PROGRAM 'touch {file}'",
    "COPY (SELECT 1) TO '{file}'",
    "copy items to '{file}'",
    "SELECT pg_terminate_backend({victim})",
    'SELECT "pg_terminate_backend"({victim})',
    "SELECT pg_catalog.pg_cancel_backend({victim})",
    "SELECT pg_signal_backend({victim}, 15)",  # not even callable: refused by name
    "SELECT dblink_exec('dbname={database} host=127.0.0.1 user=postgres', 'DELETE FROM items')",
    "SELECT * FROM dblink('dbname={database} host=127.0.0.1 user=postgres', "
    "'DELETE FROM items RETURNING id') AS t(id int)",
    "SELECT query_to_xml('COPY (SELECT 1) TO PROGRAM ''touch {file}''', true, false, '')",
    "SELECT pg_advisory_lock(4242)",
    "SELECT pg_try_advisory_lock_shared(4242)",
    'SELECT U&"pg\\005Fadvisory\\005Flock"(4242)',  # a name spelled in escapes
    "SELECT U&\"dblink\\005Fexec\"('dbname={database} host=127.0.0.1 user=postgres', "
    "'DELETE FROM items')",
    "SELECT ts_rewrite('a'::tsquery, $$SELECT 'a'::tsquery, 'b'::tsquery "
    "FROM (SELECT pg_advisory_lock(4242)) x$$)",
    "SELECT ¡E'\\', pg_advisory_lock(4242) AS x --'",  # ¡E is a name, '\\' a string
    "SELECT setseed(0.5)",
    "SELECT (4242::bigint).pg_advisory_lock",  # attribute notation is a call too
    "SELECT ({victim}).pg_terminate_backend",
    "SELECT pg_read_file('/etc/hostname')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT lo_export(1, '{file}')",
    "SELECT pg_reload_conf()",
    "SET search_path TO pg_catalog",
    "SET statement_timeout = 0",
    "RESET ALL",
    "PREPARE escape_p AS SELECT 1",
    "LISTEN escape_channel",
    "DECLARE escape_c CURSOR WITH HOLD FOR SELECT 1",
    "EXPLAIN ANALYZE WITH gone AS (DELETE FROM items RETURNING id) SELECT * FROM gone",
    "EXPLAIN (ANALYZE, BUFFERS) COPY (SELECT 1) TO '{file}'",
    "DO $$ BEGIN PERFORM pg_terminate_backend({victim}); END $$",
    "CREATE TEMP TABLE escape_tmp (x int)",
]

MYSQL_CASES = [
    "/*!CALL escape_commits()*/",
    "/*M!CALL escape_commits()*/",
    "/*!50000 CALL escape_commits()*/",
    "/*M!100100 CALL escape_commits() */",
    "SELECT 1 /*!INTO OUTFILE '{file}'*/",
    "SELECT 'a\\' INTO OUTFILE '{file}' -- '",  # a literal only with backslash escapes
    "/*!SET GLOBAL max_connections=81*/",
    "/*!KILL {victim}*/",
    "/*!FLUSH TABLES*/",
    "/*!HANDLER items OPEN*/",
    "/*!PREPARE escape_p FROM 'SELECT 1'*/",
    "/*!USE mysql*/",
    "SET SESSION sql_mode=''",
    "SET sql_mode='NO_BACKSLASH_ESCAPES'",
    "SET @escape_x = 1",
    "SELECT @escape_x := 1",
    "SELECT 1 INTO @escape_x",
    "SELECT GET_LOCK('dbnb_escape', 0)",
    "SELECT 1 --\x7f \"\n, GET_LOCK('dbnb_escape', 0) AS l\n#\"",  # -- DEL: a comment
    "SELECT LAST_INSERT_ID(4242)",
    "DO GET_LOCK('dbnb_escape', 0)",
    "SELECT `get_lock`('dbnb_escape', 0)",
    "SELECT LOAD_FILE('/etc/hostname')",
    "CREATE TEMPORARY TABLE escape_tmp (x int)",
    "ANALYZE TABLE items",
]

SQLITE_CASES = [
    "ATTACH DATABASE 'escape.db' AS other",
    "CREATE TEMP TABLE escape_tmp (x INTEGER)",
    "PRAGMA query_only = 0",
    "SELECT load_extension('escape')",
    "WITH gone AS (SELECT 1) DELETE FROM items",
    "VACUUM INTO 'escape-copy.db'",
]

PATHS = ["query", "session", "chunks", "aquery", "cell", "readonly"]


@pytest.fixture
def victim(backend: str, pg_database: str, mysql_database: str) -> Iterator[Callable[[], Any]]:
    """Another session on the same server, and a way to ask whether it is still alive."""
    if backend == "postgresql":
        connection: Any = psycopg.connect(
            f"host=127.0.0.1 user=postgres dbname={pg_database}", autocommit=True
        )
        pid = connection.info.backend_pid
    elif backend == "mysql":
        connection = pymysql.connect(host="127.0.0.1", user="root", database=mysql_database)
        pid = connection.thread_id()
    else:
        yield lambda: 0
        return

    def alive() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone()[0] == 1
        return int(pid)

    yield alive
    connection.close()


def server_state(database: dbnb.Database, backend: str) -> dict[str, object]:
    """What a read could leave behind, as the server tells it, through a write session
    (it sees the whole server, and does not go through the read guards)."""
    queries = {
        "postgresql": {
            "advisory locks": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            "search_path": "SHOW search_path",
            "statement_timeout": "SHOW statement_timeout",
            "prepared": "SELECT count(*) FROM pg_prepared_statements WHERE name = 'escape_p'",
            "listening": "SELECT count(*) FROM pg_listening_channels()",
            "cursors": "SELECT count(*) FROM pg_cursors WHERE name = 'escape_c'",
            "temporary tables": "SELECT count(*) FROM pg_class WHERE relpersistence = 't'",
        },
        "mysql": {
            "max_connections": "SELECT @@global.max_connections",
            "lock": "SELECT IS_FREE_LOCK('dbnb_escape')",
            "sql_mode": "SELECT @@session.sql_mode = @@global.sql_mode",
            "database": "SELECT DATABASE()",
            "variable": "SELECT @escape_x",
        },
        "sqlite": {
            "databases": "SELECT group_concat(name) FROM pragma_database_list",
            "query_only": "PRAGMA query_only",
        },
    }[backend]
    with database.session() as session:
        return {key: session.execute(text(sql)).scalar() for key, sql in queries.items()}


@pytest.fixture
def escape_db(db: dbnb.Database, backend: str) -> dbnb.Database:
    with db.session(write=True) as session:
        if backend == "postgresql":
            session.execute(text("CREATE EXTENSION IF NOT EXISTS dblink"))
            session.execute(text('DROP DOMAIN IF EXISTS "¡e"'))
            session.execute(text('CREATE DOMAIN "¡e" AS text'))  # so ¡E'...' would run
        if backend == "mysql":
            session.execute(
                text(
                    "CREATE OR REPLACE PROCEDURE escape_commits() BEGIN COMMIT; "
                    "SET SESSION TRANSACTION READ WRITE; INSERT INTO items VALUES (9, 'x'); "
                    "COMMIT; END"
                )
            )
    return db


def run_read(
    path: str, database: dbnb.Database, readonly: dbnb.Database, ip: InteractiveShell, sql: str
) -> None:
    if path == "query":
        database.query(sql)
    elif path == "session":
        with database.session() as session:
            session.execute(text(sql)).all()
    elif path == "chunks":
        for _chunk in database.query(sql, chunksize=2):
            pass
    elif path == "aquery":
        asyncio.run(database.aquery(sql))
    elif path == "cell":
        run_magic(ip, database.name, sql)
    else:
        readonly.query(sql)


@pytest.mark.parametrize("path", PATHS)
def test_no_escape_through_a_read(
    escape_db: dbnb.Database,
    registry: dbnb.Registry,
    ip: InteractiveShell,
    backend: str,
    path: str,
    victim: Callable[[], int],
    pg_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    readonly = registry.connect(f"{backend}_ro")
    cases = {"postgresql": PG_CASES, "mysql": MYSQL_CASES, "sqlite": SQLITE_CASES}[backend]
    before = server_state(escape_db, backend)
    refused = 0
    for case in cases:
        sql = case.format(file=MARK, victim=victim(), database=pg_database)
        # SQLite's authorizer refuses a function call itself ("not authorized").
        refusal = r"read-only here|not authorized" if backend == "sqlite" else "read-only here"
        with pytest.raises(Exception, match=refusal) as caught:
            run_read(path, escape_db, readonly, ip, sql)
        assert isinstance(caught.value, dbnb.DbnbError) or path == "cell", sql
        refused += 1
        assert not Path(MARK).exists(), sql
        victim()  # still alive: a statement that signals it would have ended it
        assert rows(escape_db) == ORIGINAL, sql
        assert server_state(escape_db, backend) == before, sql
        assert escape_db.engine.pool.checkedout() == 0, sql
    assert refused == len(cases)
    assert not [p for p in tmp_path.rglob("*") if "escape" in p.name]  # ATTACH, VACUUM INTO


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_write_session_starts_from_the_configured_state(
    escape_db: dbnb.Database, backend: str, mysql_database: str
) -> None:
    # What one write session changes in its session stays there: the next starts afresh.
    changes = {
        "postgresql": [
            "UPDATE items SET name = pg_advisory_lock /**/ (4243)::text WHERE id = 1",
            "SELECT U&\"set\\005Fconfig\"('statement_timeout', '1234ms', false)",
            "SET search_path TO pg_catalog",
        ],
        "mysql": [
            "UPDATE items SET name = `GET_LOCK`('dbnb_w', 0) WHERE id = 1",
            "UPDATE items SET name = (@escape_x := 'x') WHERE id = 1",
            "SET SESSION sql_mode = ''",
            "USE mysql",
        ],
    }[backend]
    for _ in range(3):  # however the pool hands its connections out
        with escape_db.session(write=True) as session:
            for statement in changes:
                session.execute(text(statement))
        with escape_db.session(write=True) as session:
            if backend == "postgresql":
                assert session.execute(text("SHOW search_path")).scalar() != "pg_catalog"
                assert session.execute(text("SHOW statement_timeout")).scalar() != "1234ms"
                # The lock goes with the closed connection's backend, as it exits.
                assert released(lambda: session.execute(HELD).scalar())
            else:
                assert session.execute(text("SELECT DATABASE()")).scalar() == mysql_database
                strict = "SELECT @@session.sql_mode = @@global.sql_mode"
                assert session.execute(text(strict)).scalar() == 1
                assert session.execute(text("SELECT IS_FREE_LOCK('dbnb_w')")).scalar() == 1
                assert session.execute(text("SELECT @escape_x")).scalar() is None
    # Ordinary writes keep their connection (no reconnect after each).
    with escape_db.session(write=True) as session:
        first = session.connection().connection.dbapi_connection
        session.execute(text("UPDATE items SET name = name"))
    with escape_db.session(write=True) as session:
        assert session.connection().connection.dbapi_connection is first


HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def released(count: Callable[[], int]) -> bool:
    """Whether ``count()`` drops to 0 within two seconds (a closed connection's backend
    keeps its locks until it has exited, a moment after the close)."""
    deadline = time.monotonic() + 2
    while count() != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_superuser_read_warns_once_naming_read_role(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(config_text(tmp_path, pg_database, mysql_database))
    registry = dbnb.Registry(dbnb.load_config(path))
    try:
        for name in ("postgresql", "mysql", "sqlite"):
            database = registry.connect(name)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                database.query("SELECT 1 AS x")
                with database.session() as session:  # the guarded path too
                    session.execute(text("SELECT 1")).all()
                database.query("SELECT 2 AS x")
            said = [str(w.message) for w in seen if w.category is dbnb.PrivilegeWarning]
            if name == "sqlite":
                assert said == []  # nothing beyond reading to warn about
            else:
                assert len(said) == 1, said
                assert f"connection {name!r} reads" in said[0]
                assert "set read_role:" in said[0]
    finally:
        registry.close()


def with_read_role(
    tmp_path: Path, backend: str, pg_database: str, mysql_database: str
) -> dbnb.Registry:
    """The test config plus `least`, an entry of ``backend`` whose reads run as a role."""
    database, user, role = {
        "postgresql": (pg_database, "postgres", "pg_read_all_data"),
        "mysql": (mysql_database, "root", "reader"),
    }[backend]
    body = f"type: {backend}\nhost: 127.0.0.1\ndatabase: {database}\nuser: {user}\n"
    path = tmp_path / "infra.yaml"
    path.write_text(
        config_text(tmp_path, pg_database, mysql_database, least=body + f"read_role: {role}")
    )
    return dbnb.Registry(dbnb.load_config(path))


def test_read_role_reads_with_least_privilege(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    registry = with_read_role(tmp_path, "postgresql", pg_database, mysql_database)
    admin = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_database}", autocommit=True)
    try:
        least = registry.connect("least")
        # A function of the database's own reaches what no list of names can see.
        admin.execute(
            "CREATE OR REPLACE FUNCTION escape_kill(p int) RETURNS boolean "
            "LANGUAGE sql AS 'SELECT pg_terminate_backend(p)'"
        )
        admin.execute("CREATE TABLE least_items (id int PRIMARY KEY, name text)")
        admin.execute("INSERT INTO least_items VALUES (1, 'one')")
        # Reads run as the role, on the columnar path and the guarded one alike...
        assert least.query("SELECT current_user AS u")["u"].tolist() == ["pg_read_all_data"]
        with least.session() as session:
            assert session.execute(text("SELECT current_user")).scalar() == "pg_read_all_data"
            assert session.execute(text("SELECT count(*) FROM least_items")).scalar() == 1
        # ...so the server itself refuses what the role may not do: signal a superuser.
        pid = admin.info.backend_pid
        with pytest.raises(dbnb.QueryError, match=r"permission denied|must be a superuser"):
            least.query("SELECT escape_kill(:pid) AS k", {"pid": pid})
        assert admin.execute("SELECT 1").fetchone() == (1,)
        # Writes keep the connection's own user.
        with least.session(write=True) as session:
            assert session.execute(text("SELECT current_user")).scalar() == "postgres"
    finally:
        registry.close()
        admin.execute("DROP TABLE IF EXISTS least_items")
        admin.execute("DROP FUNCTION IF EXISTS escape_kill(int)")
        admin.close()


def test_read_role_is_refused_where_roles_cannot_take_privileges_away(
    tmp_path: Path, pg_database: str, mysql_database: str
) -> None:
    registry = with_read_role(tmp_path, "mysql", pg_database, mysql_database)
    try:
        with pytest.raises(dbnb.ConfigError, match="read_role: MariaDB and MySQL roles"):
            registry.connect("least").query("SELECT 1 AS x")
    finally:
        registry.close()


def test_a_columnar_connect_whose_privilege_check_fails_closes_its_connection(
    tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The columnar path looks at the reads' privileges once its connection is open; a
    # warning made an error there (python -W error) must not strand that connection.
    from dbnb.backends.postgresql import adbc

    opened: list[Any] = []
    connect = adbc.adbc_postgresql.connect

    def counted(*args: Any, **kwargs: Any) -> Any:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(adbc.adbc_postgresql, "connect", counted)
    path = tmp_path / "strict.yaml"
    path.write_text(
        "databases:\n  strict:\n    type: postgresql\n    host: 127.0.0.1\n"
        f"    user: postgres\n    database: {pg_database}\n"
    )
    registry = dbnb.Registry(dbnb.load_config(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", dbnb.PrivilegeWarning)
            frame = registry.connect("strict").query("SELECT 1 AS v")  # read as guarded
        assert frame["v"].tolist() == [1]
        assert len(opened) == 1
        assert opened[0]._closed
    finally:
        registry.close()


def test_privileges_are_looked_at_once_per_entry(tmp_path: Path, pg_database: str) -> None:
    # A login's privileges do not change between its connections: a new connection of
    # an entry already looked at (privileged or not) pays no second round trip.
    from dbnb.engine import privileges

    path = tmp_path / "once.yaml"
    path.write_text(f"databases:\n  once:\n    type: sqlite\n    database: {tmp_path}/a.db\n")
    config = dbnb.load_config(path).connections["once"]
    assert privileges.needed(config)
    privileges.check(config, None)  # nothing beyond reading there
    assert not privileges.needed(config)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        privileges.check(config, "as the superuser 'x'")  # looked at already: no warning
    assert seen == []
