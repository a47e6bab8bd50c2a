"""The %db / %%db magics, driven through a real IPython shell loaded with %load_ext dbnb."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from dbnb.notebook.cells import without_comment
from dbnb.notebook.magics import DbMagics, _user_errors
from tests.fixtures import SECRET, config_text, readme_config, rows
from tests.magic_fixtures import db as run

COUNT_TO_100 = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n"
)


def test_load_ext_registers_the_magics_and_unload_ext_removes_them(
    ip: InteractiveShell,
) -> None:
    magic = ip.find_line_magic("db")
    assert magic is not None
    assert ip.find_cell_magic("db") is not None
    # %db? is the docstring with the options magic_arguments declares.
    for option in ("--write", "-o VAR", "describe TABLE"):
        assert option in magic.__doc__
    magics = ip.magics_manager.registry["DbMagics"]
    run(ip, "SELECT 1")
    assert magics.registry._databases  # a pool is open...
    ip.run_line_magic("unload_ext", "dbnb")
    assert not magics.registry._databases  # ...and closed by %unload_ext
    assert "DbMagics" not in ip.magics_manager.registry
    assert ip.find_line_magic("db") is None
    assert ip.find_cell_magic("db") is None
    ip.run_line_magic("load_ext", "dbnb")  # loads again cleanly, for the fixture to unload
    assert ip.find_line_magic("db") is not None


@pytest.mark.postgresql
@pytest.mark.mysql
def test_the_magic_holds_its_own_registry(ip: InteractiveShell) -> None:
    magics = ip.magics_manager.registry["DbMagics"]
    assert isinstance(magics, DbMagics)
    assert "registry" in vars(magics)
    assert magics.registry.names == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
    ]


@pytest.mark.postgresql
@pytest.mark.mysql
def test_db_lists_connections_and_marks_the_current_one(ip: InteractiveShell) -> None:
    listed = run(ip, "")
    assert list(listed["connection"]) == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
    ]
    assert list(listed["current"]) == ["*", "", "", "", "", ""]
    assert list(listed["readonly"]) == [False, True, False, True, False, True]
    run(ip, "use postgresql")
    assert list(run(ip, "")["current"]) == ["", "", "*", "", "", ""]


@pytest.mark.postgresql
@pytest.mark.mysql
def test_use_an_unknown_connection_names_the_known_ones(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"unknown connection 'nope'.*postgresql, postgresql_ro"):
        run(ip, "use nope")


def test_use_a_url_with_a_password_keeps_working(
    ip: InteractiveShell, pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Trust auth accepts any password; the point is that it is kept, and never shown.
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/{pg_database}"
    run(ip, f"use {url}")
    shown = capsys.readouterr().out
    assert SECRET not in shown
    assert "postgres:***@127.0.0.1" in shown
    assert run(ip, "SELECT 7 AS seven")["seven"].tolist() == [7]
    # ...through the connection named, password and all (trust auth would take '***').
    current = ip.magics_manager.registry["DbMagics"]._database()
    assert current.config.url.password == SECRET


WAREHOUSE_UNSET = (
    "key 'password': environment variable WAREHOUSE_PASSWORD is not set "
    "(set it, or write ${WAREHOUSE_PASSWORD:-default} for a fallback)"
)


def test_a_broken_entry_is_listed_and_fails_only_when_used(
    ip: InteractiveShell, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's own config, $WAREHOUSE_PASSWORD unset; read on the magic's first use.
    monkeypatch.delenv("WAREHOUSE_PASSWORD", raising=False)
    config_path.write_text(readme_config())
    listed = run(ip, "")
    assert list(listed["connection"]) == ["local", "warehouse", "scratch"]
    assert list(listed["current"]) == ["*", "", ""]
    assert list(listed["problem"]) == ["", f"line 13: {WAREHOUSE_UNSET}", ""]
    assert list(listed["type"]) == ["sqlite", "", "postgresql"]
    assert listed["readonly"].isna().tolist() == [False, True, False]

    error = f"{config_path}:13: connection 'warehouse': {WAREHOUSE_UNSET}"
    for line, cell in [("use warehouse", None), ("warehouse", "SELECT 1")]:
        with pytest.raises(UsageError) as caught:
            run(ip, line, cell)
        assert str(caught.value) == error

    assert run(ip, "SELECT 41 + 1 AS answer")["answer"].tolist() == [42]  # local, the default
    assert (config_path.parent / "data" / "app.db").is_file()  # a real SQLite file
    run(ip, "local --write", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    assert run(ip, "local", "SELECT count(*) AS n FROM notes")["n"].tolist() == [0]
    run(ip, "use scratch")
    assert list(run(ip, "")["current"]) == ["", "", "*"]


def test_a_broken_default_and_a_bad_key_fail_only_when_used(
    ip: InteractiveShell, config_path: Path, tmp_path: Path, pg_database: str
) -> None:
    text = config_text(tmp_path, pg_database, broken="type: sqlite\nhots: x")
    config_path.write_text(text.replace("default: sqlite", "default: broken"))
    line = text.splitlines().index("    hots: x") + 1
    listed = run(ip, "")
    assert list(listed["connection"])[-1] == "broken"
    assert list(listed["current"])[-1] == "*"  # the default, listed rather than raised
    assert list(listed["problem"]) == [""] * 4 + [
        f"line {line}: key 'hots': unknown key; did you mean 'host'?"
    ]
    with pytest.raises(UsageError, match=rf"infra\.yaml:{line}: connection 'broken': key 'hots'"):
        run(ip, "SELECT 1")  # the default is used
    assert run(ip, "sqlite", "SELECT 1 AS one")["one"].tolist() == [1]
    run(ip, "use sqlite")
    assert run(ip, "SELECT 2 AS two")["two"].tolist() == [2]


def test_line_query_runs_on_the_current_connection(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(ip, f"use {db.name}")
    frame = run(ip, "SELECT name FROM items ORDER BY id")
    assert list(frame["name"]) == ["one", "two", "three"]
    frame = run(ip, "-o picked SELECT name FROM items WHERE id = 2")
    assert ip.user_ns["picked"] is frame


def test_cell_query_on_a_named_connection_into_a_variable(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    frame = run(ip, f"{db.name} -o recent", "SELECT id, name FROM items ORDER BY id")
    assert ip.user_ns["recent"] is frame
    assert frame.to_dict("list") == {"id": [1, 2, 3], "name": ["one", "two", "three"]}
    assert run(ip, "")["current"].iloc[0] == "*"  # a cell's connection does not become current


def test_last_statement_that_returns_rows_is_the_result(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    cell = """
        SELECT 1 AS first;
        SELECT name FROM items WHERE id = 2;  -- the result
        -- a closing comment is no statement
    """
    assert run(ip, db.name, cell).to_dict("list") == {"name": ["two"]}
    write = (
        "INSERT INTO items VALUES (4, 'four'); SELECT count(*) AS n FROM items; "
        "DELETE FROM items WHERE id = 1"
    )
    assert run(ip, f"{db.name} --write", write).to_dict("list") == {"n": [4]}
    assert rows(db) == [(2, "two"), (3, "three"), (4, "four")]


def test_placeholders_are_bound_from_the_notebook(ip: InteractiveShell, db: dbnb.Database) -> None:
    ip.user_ns["wanted"] = 3
    frame = run(ip, db.name, "SELECT name, ':wanted' AS literal FROM items WHERE id = :wanted")
    assert frame.to_dict("records") == [{"name": "three", "literal": ":wanted"}]
    assert frame.attrs["parameters"] == ["wanted"]


@pytest.mark.parametrize(
    "evil", ["x'); DROP TABLE items; --", "'; DELETE FROM items; SELECT '", ":wanted", "1 OR 1=1"]
)
def test_values_that_look_like_sql_come_back_as_data(
    ip: InteractiveShell, db: dbnb.Database, evil: str
) -> None:
    ip.user_ns["evil"] = evil
    assert run(ip, db.name, "SELECT count(*) AS n FROM items WHERE name = :evil")["n"][0] == 0
    run(ip, f"{db.name} --write", "INSERT INTO items VALUES (9, :evil)")
    frame = run(ip, db.name, "SELECT name FROM items WHERE name = :evil")
    assert list(frame["name"]) == [evil]
    assert len(rows(db)) == 4


def test_ipython_never_pastes_variables_into_the_sql(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    ip.user_ns["v"] = "five"
    run(ip, f"use {db.name}")
    frame = run(ip, "SELECT '{v}' AS braces, '$v' AS dollar, '{1+1}' AS expression, :v AS bound")
    assert frame.to_dict("records") == [
        {"braces": "{v}", "dollar": "$v", "expression": "{1+1}", "bound": "five"}
    ]


@pytest.mark.postgresql
def test_casts_and_dollar_quotes_are_left_alone(ip: InteractiveShell) -> None:
    ip.user_ns["n"] = "41"
    frame = run(ip, "postgresql", "SELECT :n::int + 1 AS n, $$ :n; $$ AS body, '10:30' AS t")
    assert frame.to_dict("records") == [{"n": 42, "body": " :n; ", "t": "10:30"}]


def test_an_unknown_placeholder_is_named(ip: InteractiveShell, db: dbnb.Database) -> None:
    with pytest.raises(UsageError, match=r"no notebook variable named region .*:region"):
        run(ip, db.name, "SELECT * FROM items WHERE name = :region")


def test_a_write_without_write_says_to_add_it(ip: InteractiveShell, db: dbnb.Database) -> None:
    refusal = (
        rf"^connection '{db.name}' is read-only here: [^;]+; "
        r"to write on purpose, add --write to the %db or %%db line$"
    )
    with pytest.raises(UsageError, match=refusal):
        run(ip, db.name, "SELECT 1; DELETE FROM items")
    run(ip, f"use {db.name}")
    with pytest.raises(UsageError, match="add --write"):
        run(ip, "UPDATE items SET name = 'x'")
    assert len(rows(db)) == 3


def test_write_commits_every_statement_together(ip: InteractiveShell, db: dbnb.Database) -> None:
    assert (
        run(
            ip,
            f"{db.name} --write",
            "INSERT INTO items VALUES (4, 'four'); UPDATE items SET name = 'uno' WHERE id = 1",
        )
        is None
    )
    assert rows(db) == [(1, "uno"), (2, "two"), (3, "three"), (4, "four")]
    run(ip, f"use {db.name}")
    run(ip, "--write DELETE FROM items WHERE id > 1")
    assert rows(db) == [(1, "uno")]


@pytest.mark.parametrize("control", ["COMMIT", "begin", "ROLLBACK", "/* c */ END"])
def test_transaction_control_is_refused_before_anything_runs(
    ip: InteractiveShell, db: dbnb.Database, control: str
) -> None:
    cell = f"DELETE FROM items WHERE id = 1; {control}; DELETE FROM items"
    with pytest.raises(UsageError, match=rf"^{db.name}: statement 2 is [A-Z]+: .*nothing was run"):
        run(ip, f"{db.name} --write", cell)
    assert len(rows(db)) == 3
    # A savepoint stays inside the cell's transaction.
    cell = "SAVEPOINT s; DELETE FROM items; ROLLBACK TO s; DELETE FROM items WHERE id = 1"
    run(ip, f"{db.name} --write", cell)
    assert rows(db) == [(2, "two"), (3, "three")]


def test_write_rolls_back_every_statement_on_error(ip: InteractiveShell, db: dbnb.Database) -> None:
    cell = (
        "INSERT INTO items VALUES (4, 'four'); DELETE FROM items WHERE id = 1; "
        "INSERT INTO items VALUES (2, 'again')"
    )
    refused = "(unique|UNIQUE|Duplicate entry)"  # MariaDB: "Duplicate entry '2' for key"
    with pytest.raises(UsageError, match=rf"^{db.name}: statement 3 of 3: .*{refused}"):
        run(ip, f"{db.name} --write", cell)
    assert rows(db) == [(1, "one"), (2, "two"), (3, "three")]


@pytest.mark.parametrize("write", ["", "--write"])
def test_a_readonly_connection_never_writes(
    ip: InteractiveShell, db: dbnb.Database, write: str
) -> None:
    with pytest.raises(
        UsageError, match=rf"'{db.name}_ro' is marked readonly: true in .*infra.yaml"
    ):
        run(ip, f"{db.name}_ro {write}", "INSERT INTO items VALUES (4, 'four')")
    assert len(rows(db)) == 3


def test_sql_errors_carry_the_server_message(ip: InteractiveShell, db: dbnb.Database) -> None:
    message = (
        r"syntax error at or near \"WHERE\""
        if db.name == "postgresql"
        else "error in your SQL syntax"
        if db.name == "mysql"
        else "syntax error"
    )
    with pytest.raises(UsageError, match=rf"^{db.name}: .*{message}"):
        run(ip, db.name, "SELECT 1 FROM WHERE")
    # A first word that starts no statement is told before anything is sent.
    with pytest.raises(UsageError, match=rf'^{db.name}: syntax error at "SELEC".*SELECT\?$'):
        run(ip, db.name, "SELEC 1")


def test_bad_options_are_usage_errors(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        run(ip, "--bogus SELECT 1")
    with pytest.raises(UsageError, match="-o 1x: not a valid Python variable name"):
        run(ip, "sqlite -o 1x", "SELECT 1")
    with pytest.raises(UsageError, match="one connection name"):
        run(ip, "sqlite postgresql", "SELECT 1")
    with pytest.raises(UsageError, match=r"usage: %db describe TABLE"):
        run(ip, "describe")
    with pytest.raises(UsageError, match="no SQL to run"):
        run(ip, "sqlite", "-- nothing\n")


def test_a_trailing_comment_ends_a_line_that_is_not_sql(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    # As a notebook runs them: IPython hands the magic the whole line, comment included.
    cell = f"""
%db use {db.name}                 # choose the current connection
%db tables   #the tables
listed = %db   # list connections
"""
    assert ip.run_cell(cell).success
    listed = ip.user_ns["listed"]
    assert listed.loc[listed["current"] == "*", "connection"].tolist() == [db.name]
    frame = run(ip, f"{db.name} -o recent   # a cell on a named connection", "SELECT 1 AS n")
    assert ip.user_ns["recent"] is frame
    run(ip, f"{db.name} --write  # one transaction", "DELETE FROM items WHERE id = 1")
    assert rows(db) == [(2, "two"), (3, "three")]
    assert list(run(ip, "describe items  # its columns")["column"]) == ["id", "name"]
    with pytest.raises(UsageError, match="options need SQL"):
        run(ip, "-o out  # nothing to run")
    # Only a `#` that starts a word, outside quotes, starts a comment.
    with pytest.raises(UsageError, match="unknown connection 'a#b'"):
        run(ip, "use a#b")
    quoted = """x --csv "no #1.csv" 'a #b'"""
    assert without_comment(f"{quoted}  # a comment") == quoted


def test_a_line_query_is_sql_to_its_end(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(ip, f"use {db.name}")
    frame = run(ip, "SELECT '# kept' AS t, 1 AS n  -- SQL's own comment")
    assert frame.to_dict("records") == [{"t": "# kept", "n": 1}]
    if db.name == "postgresql":  # `#` is PostgreSQL's XOR operator: never cut off
        assert run(ip, "SELECT 5 # 3 AS x")["x"].tolist() == [6]


def test_user_errors_print_one_line_without_traceback(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%db use nope")
    assert isinstance(result.error_in_exec, UsageError)
    shown = capsys.readouterr()
    lines = [line for line in (shown.out + shown.err).splitlines() if line.strip()]
    assert len(lines) == 1
    assert re.match(r"UsageError: .*infra\.yaml: unknown connection 'nope'; known", lines[0])


def test_only_dbnb_errors_become_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"^refused$"), _user_errors():
        raise dbnb.ReadOnlyError("refused")
    with pytest.raises(KeyError), _user_errors():  # a bug keeps its type and traceback
        raise KeyError("bug")


def test_summary_line_and_provenance(
    ip: InteractiveShell, db: dbnb.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns["secret_id"] = 2
    capsys.readouterr()
    frame = run(ip, db.name, "SELECT name FROM items WHERE id <> :secret_id ORDER BY id")
    # A result's summary line is the first line of its display (not printed).
    assert capsys.readouterr().out == ""
    shown = ip.display_formatter.format(frame)[0]["text/plain"]
    assert re.match(rf"{db.name}: 2 rows in \d+\.\d ms\n", shown)
    assert frame.attrs["sql"] == "SELECT name FROM items WHERE id <> :secret_id ORDER BY id"
    assert frame.attrs["connection"] == db.name
    assert frame.attrs["rows"] == 2
    assert 0 < frame.attrs["elapsed"] < 60
    assert "2" not in repr({k: v for k, v in frame.attrs.items() if k not in ("rows", "elapsed")})
    run(ip, f"{db.name} --write", "DELETE FROM items WHERE id = :secret_id")
    assert re.fullmatch(
        rf"{db.name}: 1 row changed, committed in \d+\.\d ms\n", capsys.readouterr().out
    )


def test_display_is_capped_while_the_variable_holds_every_row(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    frame = run(ip, f"{db.name} -o big", COUNT_TO_100)
    assert len(frame) == len(ip.user_ns["big"]) == 100
    shown = ip.display_formatter.format(frame)[0]
    assert "[100 rows x 1 columns]" in shown["text/plain"]
    assert len(shown["text/plain"].splitlines()) < 30
    # The terminal test shell has HTML output off; a notebook uses this printer.
    html = ip.display_formatter.formatters["text/html"].lookup_by_type(pd.DataFrame)(frame)
    assert "100 rows \N{MULTIPLICATION SIGN} 1 columns" in html
    assert html.count("<tr>") < 30
    ip.run_line_magic("config", "DbMagics.display_limit = 6")
    assert len(ip.display_formatter.format(frame)[0]["text/plain"].splitlines()) < 12
    derived = frame.head(50)  # a frame made from the result is shown as pandas shows it
    assert len(ip.display_formatter.format(derived)[0]["text/plain"].splitlines()) > 30


def test_underscore_holds_every_row(ip: InteractiveShell, db: dbnb.Database) -> None:
    result = ip.run_cell(f"%db use {db.name}\n%db {COUNT_TO_100}", store_history=True)
    assert result.success
    assert len(ip.user_ns["_"]) == 100


def test_tables_and_describe(ip: InteractiveShell, db: dbnb.Database) -> None:
    run(
        ip,
        f"{db.name} --write",
        "DROP TABLE IF EXISTS tags; "
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, "
        "item_id INTEGER NOT NULL REFERENCES items (id), label TEXT)",
    )
    try:
        run(ip, f"use {db.name}")
        tables = run(ip, "tables")
        assert {"items", "tags"} <= set(tables["table"])
        kinds = dict(zip(tables["table"], tables["kind"], strict=True))
        assert (kinds["items"], kinds["tags"]) == ("table", "table")
        assert tables.equals(dbnb.tables(db))
        described = run(ip, "describe tags")
        assert list(described["column"]) == ["id", "item_id", "label"]
        assert list(described["primary_key"]) == [True, False, False]
        assert list(described["nullable"])[1:] == [False, True]
        assert list(described["references"].fillna("")) == ["", "items.id", ""]
        assert described.equals(dbnb.describe(db, "tags"))
        with pytest.raises(UsageError, match=r"no table 'nope'; tables: .*items"):
            run(ip, "describe nope")
    finally:  # the PostgreSQL database outlives the test; items must stay droppable
        run(ip, f"{db.name} --write", "DROP TABLE tags")


def test_a_cell_honours_max_rows(
    ip: InteractiveShell, config_path: Path, pg_database: str, tmp_path: Path
) -> None:
    # The magic reads its config on first use, so the file may still change here.
    capped = "type: sqlite\ndatabase: data/app.db\nmax_rows: 50"
    config_path.write_text(config_text(tmp_path, pg_database, capped=capped))
    assert len(run(ip, "capped", COUNT_TO_100.replace("100", "50"))) == 50
    with pytest.raises(UsageError, match=r"'capped': statement 1 has more than 50 rows"):
        run(ip, "capped", COUNT_TO_100)


@pytest.mark.mysql
@pytest.mark.postgresql
def test_health_checks_the_connections(ip: InteractiveShell) -> None:
    report = run(ip, "health postgresql postgresql_ro")
    assert list(report["connection"]) == ["postgresql", "postgresql_ro"]
    assert report["reachable"].all()
    assert report["readonly_enforced"].all()
    assert report["server_version"].str.startswith("PostgreSQL").all()
    assert (report["latency_ms"] > 0).all()
    everything = run(ip, "health")
    assert list(everything["connection"]) == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
    ]
    with pytest.raises(UsageError, match="unknown connection 'nope'"):
        run(ip, "health nope")


def test_history_shows_what_the_cells_ran(ip: InteractiveShell, db: dbnb.Database) -> None:
    dbnb.clear_history()
    ip.user_ns["wanted"] = "secret-value"
    run(
        ip,
        db.name,
        "SELECT name FROM items ORDER BY id; SELECT name FROM items WHERE name = :wanted",
    )
    run(ip, f"{db.name} --write", "DELETE FROM items WHERE id = 1")
    recent = run(ip, "history 3")
    assert list(recent["connection"]) == [db.name] * 3
    assert recent["sql"].iloc[0].startswith("SELECT name FROM items ORDER BY id")
    assert list(recent["rows"]) == [3, 0, 1]
    assert (recent["elapsed_ms"] >= 0).all()
    assert "secret-value" not in recent.to_string()
    assert recent.equals(dbnb.history(limit=3))
    with pytest.raises(UsageError, match=r"usage: %db history \[N\]"):
        run(ip, "history some")


@pytest.mark.parametrize("backend", ["sqlite"])  # the names are the notebook's: any database
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("__builtins__", "a dunder name, Python's own"),
        ("__name__", "a dunder name, Python's own"),
        ("get_ipython", "a name IPython keeps for itself"),
        ("exit", "a name IPython keeps for itself"),
        ("In", "a name IPython keeps for itself"),
        ("Out", "a name IPython keeps for itself"),
        ("_", "a name IPython keeps for itself"),
        ("___", "a dunder name, Python's own"),  # `__`-bounded; IPython's too
        ("_iii", "a name IPython keeps for itself"),
        ("_oh", "a name IPython keeps for itself"),
        ("_12", "a name IPython keeps for itself"),
        ("_i12", "a name IPython keeps for itself"),
        ("list", "it would hide Python's built-in list"),
        ("print", "it would hide Python's built-in print"),
        ("class", "a Python keyword"),
        ("None", "a Python keyword"),
        ("1x", "not a valid Python variable name"),
        ("a.b", "not a valid Python variable name"),
    ],
)
def test_o_refuses_names_that_would_break_the_notebook_before_anything_runs(
    ip: InteractiveShell, db: dbnb.Database, name: str, why: str
) -> None:
    before = {key: ip.user_ns[key] for key in ("__builtins__", "get_ipython", "In", "Out")}
    run(ip, f"use {db.name}")
    ran = len(dbnb.history())
    insert = "INSERT INTO items VALUES (4, 'four')"
    for line, cell in (
        (f"{db.name} --write -o {name}", insert),  # %%db
        (f"--write -o {name} {insert}", None),  # %db, on the current connection
        (f"frames -o {name}", "SELECT 1 AS n"),  # %%db frames
    ):
        with pytest.raises(UsageError) as caught:
            run(ip, line, cell)
        message = str(caught.value)
        assert message.startswith(f"-o {name}: {why}"), message
        assert message.endswith("; pick another name"), message
    assert len(dbnb.history()) == ran  # nothing ran
    assert rows(db) == [(1, "one"), (2, "two"), (3, "three")]
    assert all(ip.user_ns[key] is value for key, value in before.items())
    assert ip.run_cell("get_ipython() is not None and list(range(2)) == [0, 1]").success


@pytest.mark.parametrize("backend", ["sqlite"])
def test_o_takes_an_ordinary_name_that_looks_like_a_reserved_one(
    ip: InteractiveShell, db: dbnb.Database
) -> None:
    for name in ("_items", "items_", "In_", "i12", "_x1", "match", "type_"):
        frame = run(ip, f"{db.name} -o {name}", "SELECT id FROM items ORDER BY id")
        assert ip.user_ns[name] is frame


@pytest.mark.postgresql
def test_the_banner_names_the_column_that_sent_a_big_read_to_the_guarded_path(
    ip: InteractiveShell,
) -> None:
    run(ip, "use postgresql")
    run(
        ip,
        "--write",
        "DROP TABLE IF EXISTS banner_points;\n"
        "CREATE TABLE banner_points AS SELECT g AS id, point(g, g) AS p "
        "FROM generate_series(1, 6000) g;",
    )
    frame = run(ip, "postgresql", "SELECT id, p FROM banner_points")
    banner = ip.display_formatter.format(frame)[0]["text/plain"].splitlines()[0]
    assert banner.endswith(
        "read on the slower guarded path: column 'p': point has no columnar rule"
    ), banner
    assert dbnb.history(1)["path"].iloc[0] == "guarded"
    # The same rows without that column: columnar, and nothing said.
    frame = run(ip, "postgresql", "SELECT id FROM banner_points")
    banner = ip.display_formatter.format(frame)[0]["text/plain"].splitlines()[0]
    assert "guarded" not in banner
    assert dbnb.history(1)["path"].iloc[0] == "columnar"
    # A small result on the guarded path: nothing said either.
    frame = run(ip, "postgresql", "SELECT id, p FROM banner_points WHERE id <= 10")
    assert "guarded" not in ip.display_formatter.format(frame)[0]["text/plain"].splitlines()[0]
