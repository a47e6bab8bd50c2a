"""Completion in %db lines and %%db cells, through a real IPython shell's own completer
(what JupyterLab, Notebook, VS Code and terminal IPython all ask the kernel for)."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from dbnb.notebook import complete
from dbnb.notebook.magics import DbMagics
from tests.magic_fixtures import db as run

TABLES = """
DROP VIEW IF EXISTS cmp_totals;
DROP TABLE IF EXISTS cmp_orders;
DROP TABLE IF EXISTS cmp_regions;
CREATE TABLE cmp_orders (id INTEGER PRIMARY KEY, region TEXT, total REAL);
CREATE TABLE cmp_regions (region TEXT, region_name TEXT);
CREATE VIEW cmp_totals AS SELECT region, sum(total) AS region_total FROM cmp_orders GROUP BY region;
"""


def completions(ip: InteractiveShell, text: str, cursor: int | None = None) -> list[str]:
    """What Tab offers at ``cursor`` (default: the end) of a cell holding ``text``."""
    with provisionalcompleter():
        found = ip.Completer.completions(text, len(text) if cursor is None else cursor)
        return [completion.text for completion in found]


def eventually(ip: InteractiveShell, text: str, timeout: float = 10.0) -> list[str]:
    """``completions`` once the schema is read: the first request after a change answers
    within its budget with what is cached, and the read goes on in the background."""
    deadline = time.monotonic() + timeout
    while not (found := completions(ip, text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def at(text: str, mark: str = "|") -> tuple[str, int]:
    """``text`` without ``mark``, and where the mark was: the cursor."""
    return text.replace(mark, ""), text.index(mark)


def magics_of(ip: InteractiveShell) -> DbMagics:
    magics = ip.magics_manager.registry["DbMagics"]
    assert isinstance(magics, DbMagics)
    return magics


@pytest.fixture
def on(ip: InteractiveShell, backend: str) -> Iterator[str]:
    """The shell using ``backend``, with two tables (made by a --write cell)."""
    run(ip, f"use {backend}")
    run(ip, "--write", TABLES)
    eventually(ip, "%db SELECT * FROM cmp_")  # the schema read since the DDL is in
    yield backend
    run(
        ip,
        "--write",
        "DROP VIEW IF EXISTS cmp_totals; DROP TABLE IF EXISTS cmp_orders; "
        "DROP TABLE IF EXISTS cmp_regions",
    )


def test_subcommands_after_db(ip: InteractiveShell) -> None:
    offered = completions(ip, "%db ")
    for word in ("use", "tables", "describe", "health", "history", "write", "frames"):
        assert word in offered
    assert completions(ip, "%db des") == ["describe"]
    assert completions(ip, "%db -o x --wr") == ["--write"]


@pytest.mark.postgresql
@pytest.mark.mysql
def test_connection_names_after_use_and_on_the_cell_line(ip: InteractiveShell) -> None:
    assert completions(ip, "%db use ") == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
    ]
    assert completions(ip, "%db use post") == ["postgresql", "postgresql_ro"]
    assert completions(ip, "%%db ") == [
        "sqlite",
        "sqlite_ro",
        "postgresql",
        "postgresql_ro",
        "mysql",
        "mysql_ro",
        "frames",
    ]
    assert completions(ip, "%%db -o out sqlite") == ["sqlite", "sqlite_ro"]
    assert completions(ip, "%%db --as p") == ["pandas", "polars"]
    # A line later in the cell is SQL, not the connection.
    assert "postgresql" not in completions(ip, "%%db\nSELECT 1 FROM ")


def test_tables_after_from_join_into_update_table(ip: InteractiveShell, on: str) -> None:
    for line in (
        "%db SELECT * FROM cmp_",
        "%db SELECT * FROM cmp_orders o JOIN cmp_",
        "%db INSERT INTO cmp_",
        "%db UPDATE cmp_",
        "%db TABLE cmp_",
        "%db SELECT * FROM cmp_orders, cmp_",
    ):
        assert completions(ip, line) == ["cmp_orders", "cmp_regions", "cmp_totals"], line
    assert completions(ip, "%db SELECT * FROM cmp_r") == ["cmp_regions"]
    cell, cursor = at("%db SELECT t.| FROM cmp_totals t")  # a view's columns too
    assert completions(ip, cell, cursor) == ["region", "region_total"]
    assert completions(ip, "%db select * from CMP_O") == ["cmp_orders"]  # any case


def test_tables_after_describe_and_in_cells(ip: InteractiveShell, on: str) -> None:
    assert completions(ip, "%db describe cmp_o") == ["cmp_orders"]
    # profile TABLE and plot KIND SOURCE COLUMN, as API.md names them.
    assert completions(ip, "%db profile cmp_r") == ["cmp_regions"]
    assert completions(ip, "%db plot ") == ["hist", "bar", "box"]
    assert completions(ip, "%db plot hist cmp_o") == ["cmp_orders"]
    assert completions(ip, "%db plot hist cmp_orders to") == ["total"]
    cell, cursor = at(f"%%db {on}\nSELECT *\nFROM cmp_o|\nWHERE id = 1")
    assert completions(ip, cell, cursor) == ["cmp_orders"]


def test_columns_after_table_or_alias_dot(ip: InteractiveShell, on: str) -> None:
    cell, cursor = at("%db SELECT o.| FROM cmp_orders AS o")
    assert completions(ip, cell, cursor) == ["id", "region", "total"]
    cell, cursor = at("%db SELECT cmp_regions.reg| FROM cmp_regions")
    assert completions(ip, cell, cursor) == ["region", "region_name"]
    cell = "%%db\nSELECT *\nFROM cmp_orders o JOIN cmp_regions r USING (region)\nWHERE r."
    assert completions(ip, cell) == ["region", "region_name"]


def test_columns_in_select_list_and_where_from_the_from_clause(
    ip: InteractiveShell, on: str
) -> None:
    cell, cursor = at("%%db\nSELECT |\nFROM cmp_orders")
    assert completions(ip, cell, cursor) == ["id", "region", "total"]
    assert completions(ip, "%db SELECT * FROM cmp_orders WHERE to") == ["total"]
    joined = "%db SELECT * FROM cmp_orders JOIN cmp_regions USING (region) WHERE region"
    assert completions(ip, joined) == ["region", "region_name"]
    # The statement around the cursor, not its neighbours in the cell.
    cell, cursor = at("%%db\nSELECT 1 FROM cmp_regions;\nSELECT | FROM cmp_orders;")
    assert completions(ip, cell, cursor) == ["id", "region", "total"]


def test_variables_after_a_colon(ip: InteractiveShell, on: str) -> None:
    ip.user_ns["region_wanted"] = "EU"
    ip.user_ns["regions_list"] = ["EU", "US"]
    ip.user_ns["_hidden"] = 1
    assert completions(ip, "%db SELECT * FROM cmp_orders WHERE region = :region_") == [
        "region_wanted"
    ]
    cell = "%%db\nSELECT * FROM cmp_orders WHERE region IN :reg"
    assert completions(ip, cell) == ["region_wanted", "regions_list"]
    # `::` is a cast, not a placeholder: no variable is offered as one (what IPython's
    # own Python completer offers when dbnb has nothing is not dbnb's).
    with provisionalcompleter():
        found = ip.Completer.completions("%db SELECT 1::reg", 17)
        assert [c.text for c in found if c.type == "variable"] == []


def test_nothing_inside_a_literal_or_comment(ip: InteractiveShell, on: str) -> None:
    for text in ("%db SELECT 'FROM cmp_", "%%db\nSELECT 1 -- FROM cmp_"):
        assert "cmp_orders" not in completions(ip, text)


@pytest.mark.postgresql
def test_schema_qualified_tables_on_postgresql(ip: InteractiveShell) -> None:
    run(ip, "use postgresql")
    run(
        ip,
        "--write",
        "DROP SCHEMA IF EXISTS cmp_sales CASCADE; CREATE SCHEMA cmp_sales; "
        "CREATE TABLE cmp_sales.ledger (entry int, amount numeric(10, 2))",
    )
    try:
        assert "cmp_sales." in eventually(ip, "%db SELECT * FROM cmp_s")
        assert completions(ip, "%db SELECT * FROM cmp_sales.") == ["ledger"]
        cell, cursor = at("%db SELECT l.| FROM cmp_sales.ledger l")
        assert completions(ip, cell, cursor) == ["entry", "amount"]
        assert completions(ip, "%db describe cmp_sales.le") == ["cmp_sales.ledger"]
        # The schemas of the database's own catalog are not the user's: not offered.
        assert completions(ip, "%db SELECT * FROM pg_") == []
        assert completions(ip, "%db SELECT * FROM information_") == []
    finally:
        run(ip, "--write", "DROP SCHEMA cmp_sales CASCADE")


def test_a_ddl_cell_and_tables_refresh_read_the_schema_again(ip: InteractiveShell, on: str) -> None:
    assert completions(ip, "%db SELECT * FROM cmp_") == ["cmp_orders", "cmp_regions", "cmp_totals"]
    run(ip, "--write", "CREATE TABLE cmp_added (x INTEGER)")  # DDL: the cache is dropped
    try:
        assert eventually(ip, "%db SELECT * FROM cmp_a") == ["cmp_added"]
        # A change made elsewhere is seen after %db tables --refresh.
        with magics_of(ip).registry.connect(on).session(write=True) as session:
            session.execute(pytest.importorskip("sqlalchemy").text("CREATE TABLE cmp_b (y int)"))
        assert completions(ip, "%db SELECT * FROM cmp_b") == []
        listed = run(ip, "tables --refresh")
        assert "cmp_b" in set(listed["table"])
        assert completions(ip, "%db SELECT * FROM cmp_b") == ["cmp_b"]
    finally:
        run(ip, "--write", "DROP TABLE IF EXISTS cmp_added; DROP TABLE IF EXISTS cmp_b")


def test_frames_complete_from_the_notebook(ip: InteractiveShell) -> None:
    ip.user_ns["orders_df"] = pd.DataFrame({"order_id": [1], "amount": [2.5]})
    cell = "%%db frames\nSELECT * FROM orders"
    assert completions(ip, cell) == ["orders_df"]
    cell, cursor = at("%%db frames\nSELECT o.| FROM orders_df o")
    assert completions(ip, cell, cursor) == ["order_id", "amount"]
    assert completions(ip, "%db frames SELECT * FROM orders_") == ["orders_df"]


def test_unload_removes_the_matcher(ip: InteractiveShell) -> None:
    before = len(ip.Completer.custom_matchers)
    ip.run_line_magic("unload_ext", "dbnb")
    assert len(ip.Completer.custom_matchers) == before - 1
    ip.run_line_magic("load_ext", "dbnb")
    assert len(ip.Completer.custom_matchers) == before


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung database."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.mark.slow
def test_a_server_that_never_answers_does_not_hold_up_typing(
    ip: InteractiveShell, tmp_path: pytest.TempPathFactory
) -> None:
    server = SilentServer()
    try:
        ip.run_line_magic("unload_ext", "dbnb")
        ip.run_line_magic("load_ext", "dbnb")
        magics = magics_of(ip)
        config = (
            "databases:\n  hung:\n    type: postgresql\n    host: 127.0.0.1\n"
            f"    port: {server.port}\n    database: x\n    user: x\n"
            "    connect_args: {connect_timeout: 30}\n"
        )
        path = tmp_path / "hung.yaml"  # type: ignore[operator]
        path.write_text(config)
        magics.registry = type(magics.registry)(str(path))
        magics.current = "hung"
        completions(ip, "import os; os.pa")  # IPython's own Python completer, warmed up
        for text in ("%db SELECT * FROM ", "%db SELECT * FROM x WHERE ", "%db describe "):
            started = time.perf_counter()
            found = complete.complete(text, len(text), magics._sources())
            elapsed = time.perf_counter() - started
            assert elapsed < 0.3, (text, elapsed)  # dbnb's part: the budget is about 200 ms
            assert found is not None
            assert found.items == []
            # The whole of IPython's answer (its Python completer runs when dbnb has nothing).
            started = time.perf_counter()
            completions(ip, text)
            assert time.perf_counter() - started < 1.0
        # What needs no server still answers at once.
        started = time.perf_counter()
        assert completions(ip, "%db use ") == ["hung"]
        assert time.perf_counter() - started < 0.2
        assert server.accepted  # the schema read did reach the server, in the background
    finally:
        server.close()


def test_the_cache_answers_with_what_it_has_within_its_wait() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow_read(db: object) -> Iterator[complete.Schema]:
        calls.append("read")
        release.wait(5)
        yield complete.Schema(default=None, tables={(None, "t"): ("a",)})

    cache = complete.SchemaCache(slow_read, wait=0.05)
    started = time.perf_counter()
    assert cache.get("k", object) is None  # type: ignore[arg-type]
    assert time.perf_counter() - started < 0.5
    assert cache.get("k", object) is None  # type: ignore[arg-type]
    assert calls == ["read"]  # one read under way, not one per keystroke
    release.set()
    deadline = time.monotonic() + 5
    while (found := cache.get("k", object)) is None and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.01)
    assert found is not None
    assert found.columns_of("T") == ("a",)
    assert calls == ["read"]


def test_a_tab_gets_the_default_schema_while_the_others_are_read() -> None:
    # A server with many schemas (MariaDB's databases): the default one's tables come
    # first, and a Tab has them while the read of the others goes on.
    rest = threading.Event()
    default = complete.Schema(default="app", tables={("app", "orders"): ("id",)})
    every = complete.Schema(
        default="app", tables={("app", "orders"): ("id",), ("other", "t"): ("a",)}
    )

    def read_in_steps(db: object) -> Iterator[complete.Schema]:
        yield default
        rest.wait(5)
        yield every

    cache = complete.SchemaCache(read_in_steps)
    found = cache.get("k", object)  # type: ignore[arg-type]
    assert found is not None
    assert found.table_names() == ["orders"]
    rest.set()
    deadline = time.monotonic() + 5
    while (found := cache.get("k", object)) is not every and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.01)
    assert found is every
    assert found.table_names() == ["orders", "other.t"]


@pytest.mark.mysql
def test_mariadb_s_own_column_types_are_read_without_a_warning(
    registry: dbnb.Registry,
) -> None:
    # INET4/INET6 are MariaDB's own: SQLAlchemy's mysql dialect did not know them, and
    # the schema read warned (an error in its background thread) on any such table.
    db = registry.connect("mysql")
    with db.session(write=True) as session:
        session.execute(sa.text("DROP TABLE IF EXISTS k_hosts"))
        session.execute(sa.text("CREATE TABLE k_hosts (id int, ip4 INET4, ip6 INET6)"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            schema = complete.read_schema(db)
        assert schema.columns_of("k_hosts") == ("id", "ip4", "ip6")
    finally:
        with db.session(write=True) as session:
            session.execute(sa.text("DROP TABLE k_hosts"))
