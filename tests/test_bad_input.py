"""The manual's table of bad inputs: each gets one clear line, and loses nothing.

Every row names the input, the error class the user gets, and words the
message must contain. The table in docs/reference/errors.md is checked against this one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import dbnb
from tests import manual
from tests.fixtures import rows
from tests.test_connect_timeout import silent_server

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]
Case = Callable[[dbnb.Database, Path], object]
# Each level nine of the one before: unbounded, 9**8 values from a few hundred bytes.
ALIAS_BOMB = (
    "databases:\n  a:\n    connect_args:\n      l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"      l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
)


def config(tmp_path: Path, text: str) -> dbnb.Config:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return dbnb.load_config(path, environ={})


def use_a(tmp_path: Path, text: str) -> dbnb.Database:
    """Connection `a` of a config: an entry's own problem is raised when it is used."""
    return dbnb.Registry(config(tmp_path, text)).connect("a")


def silent_query(db: dbnb.Database, tmp_path: Path) -> object:
    """A query to a server that accepts the connection and never answers."""
    kind = "mysql" if db.config.backend == "mysql" else "postgresql"
    with silent_server() as port:
        body = f"type: {kind}\n    host: 127.0.0.1\n    port: {port}\n    connect_timeout: 1"
        registry = dbnb.Registry(config(tmp_path, f"databases:\n  a:\n    {body}\n"))
        try:
            return registry.connect("a").query("SELECT 1")
        finally:
            registry.close()


BAD_INPUTS: dict[str, tuple[Case, type[dbnb.DbnbError], list[str]]] = {
    "malformed YAML": (
        lambda db, tmp: config(tmp, "databases:\n  a: [\n"),
        dbnb.ConfigError,
        ["bad.yaml:3", "invalid YAML"],
    ),
    "hostile YAML (alias bomb, deep nesting, over 1 MiB)": (
        lambda db, tmp: config(tmp, ALIAS_BOMB),
        dbnb.ConfigError,
        ["bad.yaml:8", "aliases repeat more than 10000 nodes"],
    ),
    "connection name given twice": (
        lambda db, tmp: config(tmp, "databases:\n  a: {type: sqlite}\n  a: {type: sqlite}\n"),
        dbnb.ConfigError,
        ["bad.yaml:3", "'a' is given twice under 'databases', on lines 2 and 3"],
    ),
    "unknown key": (
        lambda db, tmp: use_a(tmp, "databases:\n  a:\n    type: sqlite\n    hots: x\n"),
        dbnb.ConfigError,
        ["bad.yaml:4", "connection 'a'", "key 'hots'", "did you mean 'host'"],
    ),
    "wrong type": (
        lambda db, tmp: use_a(tmp, "databases:\n  a:\n    type: postgresql\n    port: five\n"),
        dbnb.ConfigError,
        ["bad.yaml:4", "key 'port'", "expected a whole number"],
    ),
    "missing environment variable": (
        lambda db, tmp: use_a(
            tmp, "databases:\n  a:\n    type: postgresql\n    password: ${NOT_SET_ANYWHERE}\n"
        ),
        dbnb.ConfigError,
        ["bad.yaml:4", "key 'password'", "NOT_SET_ANYWHERE is not set"],
    ),
    "missing config file": (
        lambda db, tmp: dbnb.load_config(tmp / "nowhere.yaml"),
        dbnb.ConfigError,
        ["nowhere.yaml", "cannot read config"],
    ),
    "unknown connection": (
        lambda db, tmp: dbnb.Registry(config(tmp, "databases:\n  a: {type: sqlite}\n")).connect(
            "b"
        ),
        dbnb.UnknownConnectionError,
        ["unknown connection 'b'", "known connections: a"],
    ),
    # Told before it is sent: no statement of any database starts so.
    "a server that does not answer": (
        lambda db, tmp: silent_query(db, tmp),
        dbnb.ConnectError,
        ["connection 'a': no answer from 127.0.0.1:", "within 1 s (connect_timeout)"],
    ),
    "a statement no database has": (
        lambda db, tmp: db.query("SELEC 1"),
        dbnb.QueryError,
        ['syntax error at "SELEC": no statement starts with it', "did you mean SELECT?"],
    ),
    "SQL syntax error": (
        lambda db, tmp: db.query("SELECT 1 FROM WHERE"),
        dbnb.QueryError,
        ["syntax error"],
    ),
    "unknown column": (
        lambda db, tmp: db.query("SELECT nope FROM items"),
        dbnb.QueryError,
        ["nope"],
    ),
    "missing parameter": (
        lambda db, tmp: db.query("SELECT * FROM items WHERE id = :id"),
        dbnb.ParameterError,
        ["no value for :id", "pass params={'id': ...}"],
    ),
    "a value no driver can bind": (
        lambda db, tmp: db.query("SELECT * FROM items WHERE id = :cid", {"cid": object()}),
        dbnb.ParameterError,
        ["cannot bind :cid", "an object value"],
    ),
    "write through a read-only session": (
        lambda db, tmp: db.query("DELETE FROM items"),
        dbnb.ReadOnlyError,
        ["is read-only here", "db.session(write=True)"],
    ),
    "several statements in one query": (
        lambda db, tmp: db.query("SELECT 1; DELETE FROM items"),
        dbnb.ReadOnlyError,
        ["one statement per call"],
    ),
    "statement past statement_timeout": (
        lambda db, tmp: db.query(
            # MariaDB stops a recursion at max_recursive_iterations (1000) without an error.
            "SELECT SLEEP(5)"
            if db.config.backend == "mysql"
            else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 2000000000) SELECT count(*) FROM n",
            timeout=0.1,
        ),
        dbnb.QueryTimeoutError,
        ["statement_timeout of 0.1 s"],
    ),
    "result past max_rows": (
        lambda db, tmp: db.query("SELECT * FROM items", max_rows=2),
        dbnb.RowLimitError,
        ["more than 2 rows (max_rows)"],
    ),
    "DataFrame with a wrong column": (
        lambda db, tmp: db.write(pd.DataFrame({"id": [4], "nmae": ["four"]}), "items"),
        dbnb.ValidationError,
        ["table 'items'", "column 'nmae'", "no such column"],
    ),
    "DataFrame with a bad value": (
        lambda db, tmp: db.write(pd.DataFrame({"id": [4, 5], "name": ["four", None]}), "items"),
        dbnb.ValidationError,
        ["table 'items'", "row 1", "column 'name'", "nothing was written"],
    ),
    "row the database refuses": (
        lambda db, tmp: db.write(pd.DataFrame({"id": [4, 1], "name": ["four", "dup"]}), "items"),
        dbnb.WriteError,
        ["table 'items'", "nothing was written"],
    ),
}


def readme_rows() -> list[str]:
    section = manual.section(manual.ERRORS_PAGE, "Bad input")
    return [
        line.split("|")[1].strip()
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| bad input")
    ]


def test_readme_table_lists_every_tested_input() -> None:
    assert readme_rows() == list(BAD_INPUTS)


MYSQL_WORDS = {"syntax error": "error in your SQL syntax"}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(db: dbnb.Database, tmp_path: Path, name: str) -> None:
    case, kind, words = BAD_INPUTS[name]
    if db.config.backend == "mysql":  # MariaDB's own words
        words = [MYSQL_WORDS.get(word, word) for word in words]
    with pytest.raises(kind) as caught:
        case(db, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "Traceback" not in message
    assert "sqlalche.me" not in message
    for word in words:
        assert word in message, (word, message)
    assert rows(db) == ORIGINAL  # nothing lost, nothing half-written
    assert db.engine.pool.checkedout() == 0
