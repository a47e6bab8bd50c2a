"""The `dbnb` command line, run as real subprocesses; and the inspection it shows."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

import dbnb
from dbnb import cli
from dbnb.connections import inspect
from tests.fixtures import SECRET, config_text, readme_config, rows

COMMANDS = ["list", "health", "query", "tables", "describe", "demo", "server", "migrate"]


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli_config(tmp_path: Path, pg_database: str, mysql_database: str) -> Path:
    """The test config plus `down`, a connection with a password to a port nobody serves."""
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            mysql_database,
            down=f"type: postgresql\nhost: 127.0.0.1\nport: 1\nuser: me\npassword: {SECRET}",
        )
    )
    # The SQLite file exists, as it would once used: a readonly connection cannot create it.
    (path.parent / "data").mkdir(exist_ok=True)
    sqlite3.connect(path.parent / "data" / "app.db").close()
    return path


def dbnb_cli(
    *args: str, config: Path | None = None, program: list[str] | None = None, warn: bool = False
) -> Run:
    env = dict(os.environ)  # already without the developer's DBNB_* (isolated_env)
    if config is not None:
        env["DBNB_CONFIG"] = str(config)
    if not warn:  # the test servers' superusers: each run would warn (see the test of it)
        env["PYTHONWARNINGS"] = "ignore:connection ':UserWarning"  # PrivilegeWarning's
    done = subprocess.run(
        [*(program or [sys.executable, "-m", "dbnb"]), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert SECRET not in done.stdout + done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def dbnb_clis(*calls: list[str], config: Path) -> list[Run]:
    """Several independent runs at once: each subprocess spends most of its time importing."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda args: dbnb_cli(*args, config=config), calls))


def one_error_line(run: Run) -> str:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("dbnb: error: ")
    return lines[0]


# --- help ---------------------------------------------------------------------------


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    top = dbnb_cli("--help")  # one real run; the per-command help in-process, for speed
    assert top.code == 0
    assert "example:" in top.out
    for command in COMMANDS:
        assert command in top.out
        with pytest.raises(SystemExit) as exited:
            cli.main([command, "--help"])
        assert exited.value.code == 0
        shown = capsys.readouterr().out
        assert f"usage: dbnb {command}" in shown
        assert f"example:\n  dbnb {command}" in shown


def test_the_console_script_is_installed(cli_config: Path) -> None:
    script = Path(sys.executable).parent / "dbnb"
    run = dbnb_cli("list", "--format", "csv", config=cli_config, program=[str(script)])
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "name,default,type,url,readonly,problem"


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    run = dbnb_cli("query", "sqlite", "SELECT 1", "--format", "parquet")
    assert run.code == 2
    assert "--format parquet needs --output FILE" in run.err
    # The rest of argparse's checks in-process, for speed.
    for args, words in [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["query", "sqlite", "SELECT :n", "--param", "n"], "expected name=value or name:=json"),
        (["query", "sqlite", "SELECT :n", "-p", "n:=[1"], "n: not a JSON value: '[1'"),
    ]:
        with pytest.raises(SystemExit) as exited:
            cli.main(args)
        assert exited.value.code == 2
        assert words in capsys.readouterr().err


# --- list ---------------------------------------------------------------------------


def test_list_masks_passwords_and_marks_default_and_readonly(cli_config: Path) -> None:
    run = dbnb_cli("list", config=cli_config)
    assert run.code == 0, run.err
    assert "postgresql+psycopg://me:***@127.0.0.1:1" in run.out

    listed = json.loads(dbnb_cli("list", "--format", "json", config=cli_config).out)
    by_name = {entry["name"]: entry for entry in listed}
    assert list(by_name) == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
        "down",
    ]
    assert [name for name, entry in by_name.items() if entry["default"] == "*"] == ["sqlite"]
    assert [name for name, entry in by_name.items() if entry["readonly"]] == [
        "sqlite_ro",
        "postgresql_ro",
        "mysql_ro",
    ]
    assert by_name["down"]["url"] == "postgresql+psycopg://me:***@127.0.0.1:1"


@pytest.mark.postgresql
def test_health_reports_a_broken_entry_as_a_row_and_checks_the_others(
    readme_config_path: Path,
) -> None:
    # The README's config, $WAREHOUSE_PASSWORD unset: `local` is checked, `warehouse`
    # is a row with its problem, not the end of the whole check.
    run = dbnb_cli("health", "--format", "json", "--timeout", "2", config=readme_config_path)
    assert run.code == 1, run.err  # not every connection is healthy
    by_name = {row["connection"]: row for row in json.loads(run.out)}
    assert list(by_name) == ["local", "warehouse", "scratch"]
    assert by_name["local"]["reachable"] is True
    assert by_name["warehouse"]["reachable"] is False
    assert "environment variable WAREHOUSE_PASSWORD is not set" in by_name["warehouse"]["error"]


@pytest.mark.slow
def test_a_broken_entry_is_listed_with_its_problem_and_fails_only_when_used(
    readme_config_path: Path,
) -> None:
    # The README's own config, $WAREHOUSE_PASSWORD unset.
    as_json, as_table, local, warehouse = dbnb_clis(
        ["list", "--format", "json"],
        ["list"],
        ["query", "local", "SELECT 41 + 1 AS answer", "--format", "csv"],
        ["query", "warehouse", "SELECT 1"],
        config=readme_config_path,
    )
    assert as_json.code == 0, as_json.err
    by_name = {entry["name"]: entry for entry in json.loads(as_json.out)}
    assert list(by_name) == ["local", "warehouse", "scratch"]
    problem = (
        "line 13: key 'password': environment variable WAREHOUSE_PASSWORD is not set "
        "(set it, or write ${WAREHOUSE_PASSWORD:-default} for a fallback)"
    )
    assert by_name["warehouse"] == {
        "name": "warehouse",
        "default": "",
        "type": None,
        "url": None,
        "readonly": None,
        "problem": problem,
    }
    assert by_name["local"]["default"] == "*"
    assert (by_name["local"]["type"], by_name["local"]["problem"]) == ("sqlite", None)
    assert by_name["scratch"]["url"] == "postgresql+psycopg://me@localhost/scratch"
    assert as_table.code == 0, as_table.err
    [line] = [line for line in as_table.out.splitlines() if "warehouse" in line]
    assert line.split() == ["warehouse", *problem.split()]  # the problem on its line

    assert (local.code, local.out) == (0, "answer\n42\n"), local.err
    assert (readme_config_path.parent / "data" / "app.db").is_file()  # a real SQLite file
    assert warehouse.code == 1
    assert one_error_line(warehouse) == (
        f"dbnb: error: {readme_config_path}:13: connection 'warehouse': key 'password': "
        "environment variable WAREHOUSE_PASSWORD is not set "
        "(set it, or write ${WAREHOUSE_PASSWORD:-default} for a fallback)"
    )


@pytest.mark.slow
def test_a_bad_key_fails_only_its_entry(tmp_path: Path) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(readme_config().replace("    port: 5432\n", "    prot: 5432\n"))
    listed, local, warehouse = dbnb_clis(
        ["list", "--format", "csv"],
        ["query", "local", "SELECT 1 AS one", "--format", "csv"],
        ["tables", "warehouse"],
        config=path,
    )
    assert listed.code == 0, listed.err
    frame = pd.read_csv(io.StringIO(listed.out), keep_default_na=False)
    assert frame["name"].tolist() == ["local", "warehouse", "scratch"]
    assert frame["problem"].tolist() == [
        "",
        "line 10: key 'prot': unknown key; did you mean 'port'?",
        "",
    ]
    assert (local.code, local.out) == (0, "one\n1\n"), local.err
    assert warehouse.code == 1
    assert one_error_line(warehouse) == (
        f"dbnb: error: {path}:10: connection 'warehouse': key 'prot': "
        "unknown key; did you mean 'port'?"
    )


# --- health -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sqlite", "postgresql_ro", "mysql_ro"])
def test_health_of_a_healthy_connection_exits_0(cli_config: Path, name: str) -> None:
    run = dbnb_cli("health", name, "--format", "json", config=cli_config)
    assert run.code == 0, run.err
    [result] = json.loads(run.out)
    assert (result["connection"], result["ok"], result["readonly_enforced"]) == (name, True, True)
    assert result["error"] is None


def test_health_checks_the_connections_named_in_their_order(cli_config: Path) -> None:
    # As `%db health NAME ...`: only those, in the order given; one down fails them all.
    run = dbnb_cli("health", "mysql_ro", "sqlite", "--format", "json", config=cli_config)
    assert run.code == 0, run.err
    assert [row["connection"] for row in json.loads(run.out)] == ["mysql_ro", "sqlite"]

    down = dbnb_cli("health", "sqlite", "down", "--format", "csv", config=cli_config)
    assert down.code == 1
    checked = pd.read_csv(io.StringIO(down.out))
    assert checked[["connection", "ok"]].values.tolist() == [["sqlite", True], ["down", False]]


def test_health_exits_1_when_any_connection_is_unhealthy(cli_config: Path) -> None:
    run = dbnb_cli("health", "down", config=cli_config)
    assert run.code == 1
    assert "cannot connect:" in run.out

    everything = dbnb_cli("health", "--format", "csv", config=cli_config)
    assert everything.code == 1
    checked = pd.read_csv(io.StringIO(everything.out))
    assert checked["connection"].tolist() == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
        "down",
    ]
    assert checked["ok"].tolist() == [True, True, True, True, True, True, False]


def test_unknown_connection_and_bad_config_are_one_line_exit_1(
    cli_config: Path, tmp_path: Path
) -> None:
    unknown = dbnb_cli("health", "nope", config=cli_config)
    assert unknown.code == 1
    assert (
        "unknown connection 'nope'; known connections: down, mysql, mysql_ro, postgresql"
        in one_error_line(unknown)
    )

    # A broken entry is listed, and fails when it is used, with the same one line.
    broken = tmp_path / "broken.yaml"
    broken.write_text("databases:\n  x:\n    type: sqlite\n    pool_size: many\n")
    listed = dbnb_cli("--config", str(broken), "list", "--format", "json")
    assert listed.code == 0, listed.err
    [entry] = json.loads(listed.out)
    assert (entry["name"], entry["default"]) == ("x", "*")
    assert entry["problem"] == "line 4: key 'pool_size': expected a whole number, got 'many'"
    run = dbnb_cli("--config", str(broken), "query", "x", "SELECT 1")
    assert run.code == 1
    assert one_error_line(run) == (
        f"dbnb: error: {broken}:4: connection 'x': key 'pool_size': "
        "expected a whole number, got 'many'"
    )
    # A problem of the file itself still fails every command.
    broken.write_text("databases:\n  x: [\n")
    run = dbnb_cli("--config", str(broken), "list")
    assert run.code == 1
    assert one_error_line(run).startswith(f"dbnb: error: {broken}:3: invalid YAML")


# --- query --------------------------------------------------------------------------


def test_query_in_every_format(db: dbnb.Database, cli_config: Path, tmp_path: Path) -> None:
    sql = "SELECT id, name FROM items WHERE id >= :low AND name <> :skip ORDER BY id"
    expected = db.query(sql, {"low": 2, "skip": "zzz"})
    query = ["query", db.name, sql, "--param", "low:=2", "--param", "skip=zzz", "--format"]
    output = tmp_path / "out.parquet"
    table, csv, as_json, parquet = dbnb_clis(
        [*query, "table"],
        [*query, "csv"],
        [*query, "json"],
        [*query, "parquet", "--output", str(output)],
        config=cli_config,
    )
    for run in (table, csv, as_json, parquet):
        assert run.code == 0, run.err

    assert table.out.split() == ["id", "name", "2", "two", "3", "three"]
    assert csv.out == "id,name\n2,two\n3,three\n"
    assert json.loads(as_json.out) == [{"id": 2, "name": "two"}, {"id": 3, "name": "three"}]
    assert parquet.out == ""
    written = pq.read_table(output)
    assert written.schema.types == [dtype.pyarrow_dtype for dtype in expected.dtypes]
    assert written.to_pylist() == expected.to_dict("records")


TYPED_PG = (
    "SELECT 1.50::numeric(5, 2) AS price, "
    "timestamptz '2024-05-06 07:08:09.123456+00' AS at, date '2024-05-06' AS day, "
    """'{"a": [1, 2]}'::jsonb AS doc, '\\x01ff'::bytea AS raw, interval '1 day 2 hours' AS span, """
    "NULL::integer AS nothing"
)


def test_json_and_csv_keep_postgresql_values(registry: dbnb.Registry, cli_config: Path) -> None:
    as_json = dbnb_cli("query", "postgresql", TYPED_PG, "-f", "json", config=cli_config)
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out) == [
        {
            "price": "1.50",  # exact, as text
            "at": "2024-05-06T07:08:09.123456+00:00",
            "day": "2024-05-06",
            "doc": {"a": [1, 2]},
            "raw": "01ff",
            "span": "P1DT2H0M0S",
            "nothing": None,
        }
    ]
    as_csv = dbnb_cli("query", "postgresql", TYPED_PG, "-f", "csv", config=cli_config)
    assert as_csv.code == 0, as_csv.err
    assert as_csv.out.splitlines() == [
        "price,at,day,doc,raw,span,nothing",
        '1.50,2024-05-06 07:08:09.123456+00:00,2024-05-06,"{""a"": [1, 2]}",01ff,1 days 02:00:00,',
    ]


TYPED_MARIADB = (
    "SELECT CAST('-12:30:00' AS TIME) AS behind, CAST('838:59:59.5' AS TIME(1)) AS most, "
    "CAST(-0.00000000000000000001 AS DECIMAL(30, 20)) AS tiny"
)


def test_mariadb_times_past_a_day_and_tiny_decimals_read_as_written(cli_config: Path) -> None:
    """MariaDB's TIME reaches +-838 hours (Python timedeltas): shown as the server writes
    it, signed as a whole; an exact decimal never in scientific notation."""
    as_json, as_csv, as_table = dbnb_clis(
        ["query", "mysql", TYPED_MARIADB, "-f", "json"],
        ["query", "mysql", TYPED_MARIADB, "-f", "csv"],
        ["query", "mysql", TYPED_MARIADB],
        config=cli_config,
    )
    assert as_json.code == as_csv.code == as_table.code == 0, as_json.err + as_csv.err
    assert json.loads(as_json.out) == [
        {"behind": "-P0DT12H30M0S", "most": "P34DT22H59M59.5S", "tiny": "-0.00000000000000000001"}
    ]
    assert as_csv.out.splitlines()[1] == "-12:30:00,838:59:59.5,-0.00000000000000000001"
    assert as_table.out.split() == [
        "behind",
        "most",
        "tiny",
        *as_csv.out.splitlines()[1].split(","),
    ]


def test_query_output_to_a_file(registry: dbnb.Registry, cli_config: Path, tmp_path: Path) -> None:
    db = registry.connect("sqlite")  # writing the file is the same for every database
    output = tmp_path / "items.csv"
    run = dbnb_cli(
        "query",
        db.name,
        "SELECT 1 AS id, 'one' AS name",
        "-f",
        "csv",
        "-o",
        str(output),
        config=cli_config,
    )
    assert (run.code, run.out) == (0, "")
    assert pd.read_csv(output).to_dict("list") == {"id": [1], "name": ["one"]}

    unwritable = dbnb_cli(
        "query",
        db.name,
        "SELECT 1",
        "-o",
        str(tmp_path / "no" / "such" / "dir.txt"),
        config=cli_config,
    )
    assert unwritable.code == 1
    assert "cannot write" in one_error_line(unwritable)


def test_query_errors_are_one_line_and_writes_are_refused(
    db: dbnb.Database, cli_config: Path
) -> None:
    missing, capped, write = dbnb_clis(
        ["query", db.name, "SELECT * FROM no_such_table"],
        ["query", db.name, "SELECT * FROM items", "--max-rows", "2"],
        ["query", db.name, "DELETE FROM items"],
        config=cli_config,
    )
    assert missing.code == 1
    assert "no_such_table" in one_error_line(missing)
    assert capped.code == 1
    assert "the result has more than 2 rows (max_rows)" in one_error_line(capped)
    assert write.code == 1
    assert "is read-only here" in one_error_line(write)
    assert len(rows(db)) == 3


# --- tables and describe ------------------------------------------------------------


def add_view_and_typed_table(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP VIEW IF EXISTS gadget_codes"))
        session.execute(text("DROP TABLE IF EXISTS gadgets"))
        session.execute(
            text(
                "CREATE TABLE gadgets (code VARCHAR(10) NOT NULL, part INTEGER NOT NULL, "
                "price NUMERIC(8, 2) DEFAULT 0, note TEXT, PRIMARY KEY (code, part))"
            )
        )
        session.execute(text("CREATE VIEW gadget_codes AS SELECT code FROM gadgets"))


def test_inspect_tables_and_describe(db: dbnb.Database, backend: str) -> None:
    add_view_and_typed_table(db)
    listed = inspect.tables(db)
    assert list(listed.columns) == ["schema", "table", "kind"]
    mine = listed[listed["table"].isin(["gadgets", "items", "gadget_codes"])]
    assert mine[["table", "kind"]].values.tolist() == [
        ["gadget_codes", "view"],
        ["gadgets", "table"],
        ["items", "table"],
    ]

    described = inspect.describe(db, "gadgets")
    assert list(described.columns) == [
        "column",
        "type",
        "nullable",
        "default",
        "primary_key",
        "references",
    ]
    assert described["column"].tolist() == ["code", "part", "price", "note"]
    # MariaDB names the types as it stores them: INTEGER(11), DECIMAL.
    assert described["type"].str.upper().tolist() == [
        "VARCHAR(10)",
        "INTEGER(11)" if backend == "mysql" else "INTEGER",
        "DECIMAL(8, 2)" if backend == "mysql" else "NUMERIC(8, 2)",
        "TEXT",
    ]
    assert described["nullable"].tolist() == [False, False, True, True]
    assert described["primary_key"].tolist() == [True, True, False, False]
    assert described["default"].iloc[2] in ("0", "0.0", "'0'::numeric", "0.00")
    assert described["default"].iloc[:2].isna().all()

    with pytest.raises(dbnb.QueryError, match="no table 'gadget'; did you mean gadgets"):
        inspect.describe(db, "gadget")


@pytest.mark.postgresql
def test_describe_schema_qualified_and_unknown_types(registry: dbnb.Registry) -> None:
    db = registry.connect("postgresql")
    described = inspect.describe(db, "pg_catalog.pg_class")
    types = dict(zip(described["column"], described["type"], strict=True))
    assert types["relname"].upper() in ("NAME", "VARCHAR")
    assert types["relacl"] == "aclitem"  # SQLAlchemy does not know it: its own name


def test_tables_and_describe_commands(db: dbnb.Database, cli_config: Path) -> None:
    add_view_and_typed_table(db)
    tables, described, missing = dbnb_clis(
        ["tables", db.name, "--format", "json"],
        ["describe", db.name, "items"],
        ["describe", db.name, "itemz"],
        config=cli_config,
    )
    assert tables.code == 0, tables.err
    names = {entry["table"]: entry["kind"] for entry in json.loads(tables.out)}
    assert (names["items"], names["gadget_codes"]) == ("table", "view")

    assert described.code == 0, described.err
    lines = [line.split() for line in described.out.splitlines()]
    assert lines[0] == ["column", "type", "nullable", "default", "primary_key", "references"]
    assert (lines[1][0], lines[1][-2]) == ("id", "True")  # the primary key
    assert lines[2][0] == "name"

    assert missing.code == 1
    assert (
        one_error_line(missing) == f"dbnb: error: {db.name}: no table 'itemz'; did you mean items?"
    )


# --- demo ---------------------------------------------------------------------------


def test_demo_command(cli_config: Path) -> None:
    run = dbnb_cli("demo", "sqlite", config=cli_config)
    assert run.code == 0, run.err
    assert "refused, as it should be" in run.out
    assert "shields still there: 3" in run.out


def test_a_superuser_read_warns_on_one_line(cli_config: Path) -> None:
    done = dbnb_cli("query", "postgresql", "SELECT 1 AS x", config=cli_config, warn=True)
    assert done.code == 0, done.err
    assert done.err.splitlines() == [
        "dbnb: warning: connection 'postgresql' reads as the superuser 'postgres': dbnb "
        "refuses the known server-side effects (programs, files, signals, other "
        "connections) on reads, but a function can still reach them; set read_role: (a "
        "role that can only read, e.g. pg_read_all_data) for the least privilege"
    ]
