"""The read allow-list on its own (dbnb.sql.readable): what each database's reads may
send, read as the database reads the text. No server: tests/test_readonly_escapes.py
shows the same refusals leave every server as it was."""

from __future__ import annotations

import pytest

from dbnb.backends.mysql.statements import READ_RULES as MARIADB
from dbnb.backends.postgresql.statements import READ_RULES as POSTGRESQL
from dbnb.backends.sqlite.statements import READ_RULES as SQLITE
from dbnb.sql.readable import ReadRules, changes_session, refusal

READS = {
    "postgresql": [
        "SELECT 1",
        "  (SELECT 1) UNION (SELECT 2)",
        "/* COPY */ -- SET\n SELECT 'COPY x TO PROGRAM ''id''', $$pg_terminate_backend(1)$$",
        'SELECT 1 AS "pg_read_file"',  # a name, not a call
        "WITH t AS (SELECT 1 AS updated) SELECT * FROM t",
        "VALUES (1)",
        "TABLE items",
        "SHOW search_path",
        "EXPLAIN DELETE FROM items",  # planned, not run
        "EXPLAIN (FORMAT JSON) UPDATE items SET x = 1",
        "EXPLAIN (ANALYZE, BUFFERS) SELECT 1",
        "SELECT pg_advisory_xact_lock(1)",  # released with the read's transaction
        "SAVEPOINT s",
        "ROLLBACK TO SAVEPOINT s",
        "SELECT 1;",
        "WITH a AS (SELECT replace(name, 'a', 'b') AS n FROM items) SELECT * FROM a",
        "EXPLAIN (FORMAT JSON) SELECT 1",
    ],
    "mysql": [
        "SELECT 1",
        "SELECT 'INTO OUTFILE' AS `INTO DUMPFILE`  # INTO OUTFILE",
        "SELECT 1 /* CALL p() */",
        "SHOW TABLES",
        "DESCRIBE items",
        "EXPLAIN FORMAT=JSON DELETE FROM items",
        "ANALYZE FORMAT=JSON SELECT 1",
        "SELECT 'a\\\\' AS x",  # an escaped backslash, then the literal ends
        "WITH a AS (SELECT TRUNCATE(1.2345, 2), INSERT('abc', 1, 1, 'z')) SELECT * FROM a",
        "SELECT 'a\\'b; DELETE' AS s",  # one statement as the session reads it
        "SELECT LAST_INSERT_ID()",
    ],
    "sqlite": [
        "SELECT 1",
        "PRAGMA table_info(items)",
        "WITH t AS (SELECT 1) SELECT * FROM t",
        "WITH a AS (SELECT replace(name, 'a', 'b') FROM items) SELECT * FROM a",
    ],
}

REFUSED = {
    "postgresql": [
        ("COPY (SELECT 1) TO PROGRAM 'id'", "COPY is not a read"),
        ("copy items TO '/tmp/x'", "COPY is not a read"),
        ("SELECT pg_terminate_backend(1)", "pg_terminate_backend()"),
        ('SELECT "pg_terminate_backend" (1)', "pg_terminate_backend()"),
        ("SELECT pg_catalog.pg_read_file('x')", "pg_read_file()"),
        ('SELECT U&"pg\\005Fadvisory\\005Flock"(1)', "pg_advisory_lock()"),
        ("SELECT u&\"pg_read\\+00005Ffile\"('x')", "pg_read_file()"),
        ("SELECT U&\"pg!005Fsleep\"(1) UESCAPE '!'", "UESCAPE hides names"),
        ("SELECT * FROM dblink('', 'DELETE FROM t') AS t(i int)", "dblink()"),
        ("SELECT query_to_xml('COPY ...', true, false, '')", "query_to_xml()"),
        ("SELECT pg_advisory_lock(1)", "pg_advisory_lock()"),
        ("SELECT set_config('role', 'postgres', true)", "set_config()"),
        ("SET ROLE postgres", "SET is not a read"),
        ("EXPLAIN ANALYZE DELETE FROM items", "an analyzed statement runs: DELETE"),
        ("EXPLAIN ANALYSE VERBOSE COPY items TO '/tmp/x'", "an analyzed statement runs: COPY"),
        ("EXPLAIN (ANALYZE) INSERT INTO items VALUES (1)", "an analyzed statement runs"),
        ("WITH gone AS (DELETE FROM items RETURNING 1) SELECT 1", "a WITH holding"),
        ("/* hi */ COMMIT", "transaction control (COMMIT)"),
        ("ROLLBACK", "transaction control (ROLLBACK)"),
        ("SELECT 1; SELECT 2", "one statement per call"),
        ("SELEC 1", "did you mean SELECT?"),
        # SQL in a string, run by a function; state outside the transaction
        ("SELECT ts_rewrite('a'::tsquery, $$SELECT pg_advisory_lock(7)$$)", "ts_rewrite()"),
        ("SELECT * FROM crosstab('DELETE FROM items RETURNING 1, 2, 3')", "crosstab()"),
        ("SELECT setseed(0.5)", "setseed()"),
        ("SELECT pg_stat_reset()", "pg_stat_reset()"),
        ("SELECT pg_stat_reset_single_table_counters(1)", "pg_stat_reset_single_table_"),
        # a non-ASCII character continues a name: ¡E'...' is a name and a plain string
        ("SELECT ¡E'\\', pg_advisory_lock(31337) AS x --'", "pg_advisory_lock()"),
        ('EXPLAIN ("analyze") INSERT INTO items VALUES (9)', "an analyzed statement runs"),
        ('EXPLAIN (U&"\\0061nalyze") DELETE FROM items', "an analyzed statement runs"),
        # attribute notation calls a function of one argument: (x).f, t.f, (x)."f"
        ("SELECT (1000::bigint).pg_advisory_lock", "pg_advisory_lock()"),
        ("SELECT k.pg_advisory_lock FROM generate_series(7::bigint, 7) AS k", "pg_advisory_lock"),
        ('SELECT (0.25::float8)."setseed"', "setseed()"),
        ("SELECT ('DELETE FROM t'::text) . /* */ dblink_exec", "dblink_exec()"),
        # a database with standard_conforming_strings off reads '\' as an escape
        ("SELECT 'a\\' /* ', pg_advisory_lock(99) AS x -- */", "pg_advisory_lock()"),
    ],
    "mysql": [
        ("/*!CALL p()*/", "CALL is not a read"),
        ("/*M!100100 CALL p() */", "CALL is not a read"),
        ("/*!50000 KILL 5*/", "KILL is not a read"),
        ("SELECT 1 /*!INTO OUTFILE '/tmp/x'*/", "INTO OUTFILE writes a file"),
        ("SELECT 1 /*!; COMMIT */", "one statement per call"),
        # Read with backslash escapes the literal runs on; without them (sql_mode
        # NO_BACKSLASH_ESCAPES) it ends at the backslash: either reading is checked.
        ("SELECT 'a\\' INTO OUTFILE '/tmp/x' -- '", "INTO OUTFILE"),
        ("SELECT @x := 1", ":= ... sets a variable"),
        ("SELECT 1 INTO @x", "INTO sets variables"),
        ("SELECT GET_LOCK('l', 0)", "get_lock()"),
        ("SELECT `get_lock`('l', 0)", "get_lock()"),
        ("SELECT LOAD_FILE('/etc/passwd')", "load_file()"),
        ("USE mysql", "USE is not a read"),
        ("SET SESSION sql_mode = ''", "SET is not a read"),
        ("ANALYZE TABLE items", "ANALYZE TABLE writes statistics"),
        ("ANALYZE FORMAT=JSON DELETE FROM items", "an analyzed statement runs: DELETE"),
        ("CREATE TEMPORARY TABLE t (x int)", "CREATE is not a read"),
        ("lbl: BEGIN NOT ATOMIC SELECT 1; END", "one statement per call"),
        ("lbl: LOOP LEAVE lbl; END LOOP", "one statement per call"),
        ("lbl: LOOP ITERATE lbl END LOOP", "no statement starts with it"),
        # `--` and DEL (0x7f) is a comment to MariaDB: what follows is code
        ("SELECT 1 --\x7f \"\n, GET_LOCK('lk', 0) AS l\n#\"", "get_lock()"),
        ("SELECT LAST_INSERT_ID(4242)", "last_insert_id()"),
        # ANSI_QUOTES: "..." is a name, and only '...' escapes with a backslash
        ("SELECT 1 AS \"\\\" , '\\' , ' , GET_LOCK('x', 0) -- \" '", "get_lock()"),
        ("SELECT 1 AS \"\\\" , '\\' , ' , 7 INTO OUTFILE '/tmp/x' -- \" '", "INTO OUTFILE"),
    ],
    "sqlite": [
        ("ATTACH 'x.db' AS x", "ATTACH is not a read"),
        ("WITH t AS (SELECT 1) DELETE FROM items", "a WITH holding"),
        ("BEGIN IMMEDIATE", "transaction control (BEGIN)"),
    ],
}

RULES: dict[str, ReadRules] = {"postgresql": POSTGRESQL, "mysql": MARIADB, "sqlite": SQLITE}


@pytest.mark.parametrize(("dialect", "sql"), [(d, s) for d, cases in READS.items() for s in cases])
def test_a_read_may_send_what_reads(dialect: str, sql: str) -> None:
    assert refusal(sql, RULES[dialect]) is None


@pytest.mark.parametrize(
    ("dialect", "sql", "reason"), [(d, *case) for d, cases in REFUSED.items() for case in cases]
)
def test_anything_else_is_refused_before_it_is_sent(dialect: str, sql: str, reason: str) -> None:
    refused = refusal(sql, RULES[dialect])
    assert refused is not None
    assert reason in str(refused)
    assert refused.syntax == ("no statement starts" in reason or "did you mean" in reason)


WRITES_THAT_CHANGE_THE_SESSION = {
    "postgresql": [
        "SET search_path TO pg_catalog",
        "SELECT U&\"set\\005Fconfig\"('search_path', 'evil', false)",
        "INSERT INTO items SELECT 50, pg_advisory_lock /**/ (5151)::text",
        "CREATE TEMP TABLE t (x int)",
        "/* hi */ LISTEN channel",
    ],
    "mysql": [
        "UPDATE items SET name = `GET_LOCK`('w', 0)",
        "INSERT INTO items SELECT 9, GET_LOCK /**/ ('w2', 0)",
        "UPDATE items SET name = (@w := 'x')",
        "SELECT 1 INTO @w",
        "USE mysql",
        "SET SESSION sql_mode = ''",
    ],
}
WRITES_THAT_DO_NOT = {
    "postgresql": [
        "INSERT INTO items VALUES (1, 'set_config(')",
        "UPDATE items SET name = 'x' -- SET search_path",
        "CREATE TABLE t (x int)",
        "SELECT 1",
    ],
    "mysql": ["INSERT INTO items VALUES (1, 'GET_LOCK(')", "DELETE FROM items", "SELECT 1"],
}


@pytest.mark.parametrize(
    ("dialect", "sql", "changes"),
    [(d, s, True) for d, cases in WRITES_THAT_CHANGE_THE_SESSION.items() for s in cases]
    + [(d, s, False) for d, cases in WRITES_THAT_DO_NOT.items() for s in cases],
)
def test_a_write_that_changes_its_session_is_told(dialect: str, sql: str, changes: bool) -> None:
    assert changes_session(sql, RULES[dialect]) is changes
