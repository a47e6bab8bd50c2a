"""Spark through Spark Connect, on a local cluster this run starts (tests/spark_fixtures.py).

Reads, the read-only guard, values, max_rows, chunks and Parquet, interrupts and
timeouts, writes, the notebook and the command line: each on the real server.
"""

from __future__ import annotations

import decimal
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.testing.globalipapp import start_ipython

import dbnb
from dbnb import cli
from dbnb.notebook import complete
from tests.magic_fixtures import db as run_magic
from tests.test_limits import interrupt_after

TOKEN = "tok-Zq8!never-shown"


def config_text(url: str) -> str:
    port = url.rsplit(":", 1)[1]
    return f"""
databases:
  lake:
    url: {url}
  lake_ro:
    type: spark
    host: 127.0.0.1
    port: {port}
    readonly: true
  lake_limited:
    url: {url}
    statement_timeout: 1
    max_rows: 5
"""


@pytest.fixture(scope="module")
def lake_config(spark_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lake") / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(config_text(spark_url))
    return path


@pytest.fixture(scope="module")
def lake_registry(lake_config: Path) -> Iterator[dbnb.Registry]:
    """One registry for the module: one Spark Connect session per name."""
    registry = dbnb.Registry(dbnb.load_config(lake_config))
    yield registry
    registry.close()


@pytest.fixture
def lake(lake_registry: dbnb.Registry) -> Any:
    return lake_registry.connect("lake")


@pytest.fixture
def table(lake: Any) -> Iterator[str]:
    """A fresh table name, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    lake.spark.sql(f"DROP TABLE IF EXISTS {name}")


def snapshot(lake: Any) -> tuple[Any, ...]:
    """What a refused statement must leave as it was: the tables, a table's rows and
    cache state, the session's settings, and the jars."""
    spark = lake.spark
    tables = sorted(t.name for t in spark.catalog.listTables())
    rows = sorted(spark.sql("SELECT id FROM fixed").toArrow().column("id").to_pylist())
    settings = spark.conf.get("spark.sql.shuffle.partitions")
    cached = spark.catalog.isCached("fixed")
    jars = spark.sql("LIST JARS").toArrow().num_rows
    return tables, rows, settings, cached, jars


# --- config --------------------------------------------------------------------------


def test_spark_entries_and_a_token_masked_everywhere(tmp_path: Path) -> None:
    text = """
databases:
  by_url:
    url: sc://spark-master:15002/;token=${LAKE_TOKEN};user_id=ann
  by_parts:
    type: spark
    host: spark-master
    user: ann
    token: ${LAKE_TOKEN}
    readonly: true
    statement_timeout: 30
    max_rows: 1000
"""
    config = dbnb.parse_config(text, environ={"LAKE_TOKEN": TOKEN}, path=tmp_path / "x.yaml")
    for name in ("by_url", "by_parts"):
        entry = config.get(name)
        assert entry.backend == "spark"
        assert entry.url.password == TOKEN
        assert entry.url.username == "ann"
        db = dbnb.Registry(config).connect(name)
        assert type(db).__name__ == "SparkDatabase"
        assert TOKEN not in repr(db)
        assert TOKEN not in repr(entry)
        assert TOKEN not in db.name
    parts = config.get("by_parts")
    assert (parts.readonly, parts.statement_timeout, parts.max_rows) == (True, 30.0, 1000)
    from dbnb.backends.spark.session import remote_url

    assert (
        remote_url(parts)
        == f"sc://spark-master:15002/;user_id=ann;token={TOKEN.replace('!', '%21')}"
    )


def test_an_unreachable_server_is_one_line_without_the_token() -> None:
    db = dbnb.connect(f"sc://127.0.0.1:9/;token={TOKEN}")
    health = db.health(timeout=2)
    assert not health.reachable
    assert health.error is not None
    assert TOKEN not in health.error
    assert "\n" not in health.error


def test_an_unreachable_server_is_one_line_with_the_remedy_within_5_s() -> None:
    db = dbnb.connect("sc://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(dbnb.DbnbError) as refused:
        db.query("SELECT 1")
    assert time.monotonic() - started < 5
    assert str(refused.value) == (
        "cannot connect to 'sc://127.0.0.1:9' (sc://127.0.0.1:9): nothing answers there; "
        "check the host and port, and that the Spark Connect server runs"
    )


def test_a_token_to_a_server_without_tls_is_one_line(spark_url: str) -> None:
    db = dbnb.connect(f"{spark_url}/;token={TOKEN}")
    started = time.monotonic()
    with pytest.raises(dbnb.DbnbError, match=r"TLS handshake failed.*drop the token") as refused:
        db.query("SELECT 1")
    assert time.monotonic() - started < 5
    assert "\n" not in str(refused.value)
    assert TOKEN not in str(refused.value)


def test_a_spark_connection_shows_its_url_as_written(
    spark_url: str,
    lake: Any,
    lake_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert repr(lake).endswith(f"{spark_url}>")
    by_url = dbnb.connect(f"{spark_url}/;user_id=ann;token={TOKEN}")
    assert by_url.name == f"{spark_url}/;user_id=ann;token=***"
    monkeypatch.setenv("DBNB_CONFIG", str(lake_config))
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert spark_url in out
    assert "spark://" not in out


def test_without_the_client_one_line_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql.connect", None)  # as if not installed
    db = dbnb.connect("sc://127.0.0.1:15002")
    with pytest.raises(dbnb.DbnbError, match=r"pip install 'dbnb\[spark\]'$"):
        db.query("SELECT 1")


def test_sqlalchemy_only_parts_name_the_connection(lake: Any) -> None:
    for attempt in (lambda: lake.engine, lambda: lake.session(), lambda: lake.connection()):
        with pytest.raises(dbnb.DbnbError, match=r"connection 'lake' \(spark\) is not reached"):
            attempt()


# --- reads ---------------------------------------------------------------------------

TYPES = {
    "CAST(1 AS TINYINT)": ("int8[pyarrow]", 1),
    "CAST(2 AS SMALLINT)": ("int16[pyarrow]", 2),
    "3": ("int32[pyarrow]", 3),
    "4L": ("int64[pyarrow]", 4),
    "true": ("bool[pyarrow]", True),
    "CAST(1.5 AS FLOAT)": ("float[pyarrow]", 1.5),
    "2.5D": ("double[pyarrow]", 2.5),
    "CAST(12.34 AS DECIMAL(10, 2))": ("decimal128(10, 2)[pyarrow]", decimal.Decimal("12.34")),
    "'text'": ("string[pyarrow]", "text"),
    "X'0102'": ("binary[pyarrow]", b"\x01\x02"),
    "DATE'2024-05-01'": ("date32[day][pyarrow]", date(2024, 5, 1)),
    "TIMESTAMP_NTZ'2024-05-01 10:30:00'": ("timestamp[us][pyarrow]", datetime(2024, 5, 1, 10, 30)),
    "INTERVAL '1 02:00:00' DAY TO SECOND": ("duration[us][pyarrow]", pd.Timedelta(hours=26)),
    "array(1, 2)": ("object", [1, 2]),
    "map('k', 1)": ("object", {"k": 1}),
    "named_struct('x', 1, 'y', 'z')": ("object", {"x": 1, "y": "z"}),
}


def test_dtypes_are_the_documented_ones(lake: Any) -> None:
    select = ", ".join(f"{sql} AS c{i}" for i, sql in enumerate(TYPES))
    frame = lake.query(f"SELECT {select}, TIMESTAMP'2024-05-01 10:30:00+02:00' AS ts")
    expected = list(TYPES.values())
    assert [str(t) for t in frame.dtypes[:-1]] == [dtype for dtype, _ in expected]
    assert frame.iloc[0, :-1].tolist() == [value for _, value in expected]
    assert str(frame.dtypes["ts"]) == "timestamp[us, tz=UTC][pyarrow]"
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-05-01 08:30:00", tz="UTC")


def test_explore_pages_sorts_filters_searches_and_counts_in_spark(lake: Any, table: str) -> None:
    lake.spark.sql(f"CREATE TABLE {table} (id INT, `Cust Name` STRING, n INT) USING parquet")
    lake.spark.sql(
        f"INSERT INTO {table} SELECT id, IF(id % 3 = 0, CONCAT('O''J_', id, '%'), "
        "CONCAT('smith ', id)), id % 7 FROM range(1, 41)"
    )
    rows = lake.query(f"SELECT * FROM {table}")
    explorer = lake.explore(table, page_size=6).sort("id")
    assert explorer.count() == 40
    assert explorer.page(6)["id"].tolist() == [37, 38, 39, 40]
    explorer.sort("n", descending=True).filter("n", "in", [5, 6]).search("J_")
    view = rows[rows["n"].isin([5, 6]) & rows["Cust Name"].str.contains("J_", regex=False)]
    assert explorer.count() == len(view)
    assert sorted(explorer.frame()["id"]) == sorted(view["id"])
    assert explorer.frame()["n"].is_monotonic_decreasing
    sql, params = explorer.sql()
    assert "`Cust Name`" in sql  # quoted as Spark quotes
    assert "J_" not in sql  # bound
    assert lake.query(sql, params)["id"].tolist() == explorer.frame()["id"].tolist()


def test_values_are_bound_never_spliced(lake: Any, table: str) -> None:
    lake.spark.sql(f"CREATE TABLE {table} (id INT, name STRING) USING parquet")
    lake.spark.sql(f"INSERT INTO {table} VALUES (1, 'it''s'), (2, 'x'' OR ''1''=''1')")
    hostile = 'it\'s "quoted" -- ; DROP TABLE fixed; \\ :name'
    assert lake.query("SELECT :v AS v", {"v": hostile})["v"].tolist() == [hostile]
    found = lake.query(f"SELECT id FROM {table} WHERE name = :n", {"n": "it's"})
    assert found["id"].tolist() == [1]
    # An injection attempt is a value: it matches the row holding that text, and only it.
    assert lake.query(f"SELECT id FROM {table} WHERE name = :n", {"n": "x' OR '1'='1"})[
        "id"
    ].tolist() == [2]
    assert lake.query(f"SELECT id FROM {table} WHERE name = :n", {"n": "' OR '1'='1"}).empty
    when = {"d": date(2024, 5, 1), "k": decimal.Decimal("1.25"), "i": 2**40}
    row = lake.query("SELECT :d AS d, :k AS k, :i AS i", when).iloc[0].tolist()
    assert row == [date(2024, 5, 1), decimal.Decimal("1.25"), 2**40]


def test_max_rows_stops_the_job_and_chunks_and_parquet_stream(
    lake_registry: dbnb.Registry, lake: Any, tmp_path: Path
) -> None:
    limited = lake_registry.connect("lake_limited")
    with pytest.raises(dbnb.RowLimitError, match=r"more than 5 rows \(max_rows\)"):
        limited.query("SELECT id FROM range(1000000000000)")  # a LIMIT in Spark: fast
    assert limited.query("SELECT id FROM range(5)")["id"].tolist() == [0, 1, 2, 3, 4]

    chunks = list(lake.query("SELECT id, 'x' AS s FROM range(25)", chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert str(chunks[0].dtypes["id"]) == "int64[pyarrow]"
    assert pd.concat(chunks)["id"].tolist() == list(range(25))
    empty = list(lake.query("SELECT id FROM range(0)", chunksize=10))
    assert len(empty) == 1
    assert list(empty[0].columns) == ["id"]
    assert empty[0].empty

    path = tmp_path / "out.parquet"
    assert lake.query_to_parquet("SELECT id FROM range(250)", path, chunksize=100) == 250
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert pq.read_table(path).column("id").to_pylist() == list(range(250))


def test_results_as_arrow_and_polars_straight_from_spark(lake: Any) -> None:
    sql = "SELECT id, CAST(id AS DECIMAL(5, 1)) AS d, array(id) AS a FROM range(3)"
    table = lake.query(sql, output="arrow")
    assert isinstance(table, pa.Table)
    assert [str(t) for t in table.schema.types] == [
        "int64",
        "decimal128(5, 1)",
        "list<element: int64 not null>",
    ]
    frame = lake.query(sql, output="polars")
    assert frame["id"].to_list() == [0, 1, 2]
    assert frame["a"].to_list() == [[0], [1], [2]]
    chunks = list(lake.query(sql, chunksize=2, output="arrow"))
    assert [chunk.num_rows for chunk in chunks] == [2, 1]


# --- read-only ----------------------------------------------------------------------

REFUSED = [
    "CREATE TABLE made_by_a_read (id INT)",
    "CREATE TABLE made_by_a_read AS SELECT 1 AS id",
    "INSERT INTO fixed VALUES (99)",
    "INSERT OVERWRITE TABLE fixed SELECT 99",
    "DROP TABLE fixed",
    "ALTER TABLE fixed ADD COLUMNS (extra INT)",
    "TRUNCATE TABLE fixed",
    "CACHE TABLE fixed",
    "SET spark.sql.shuffle.partitions = 7",
    "ADD JAR /tmp/nowhere.jar",
    "CREATE TEMPORARY VIEW made_by_a_read AS SELECT 1",
    "SELECT 1; DROP TABLE fixed",
]


@pytest.fixture(scope="module")
def fixed(lake_registry: dbnb.Registry) -> Iterator[None]:
    spark = lake_registry.connect("lake").spark
    spark.sql("CREATE TABLE IF NOT EXISTS fixed (id INT) USING parquet")
    spark.sql("INSERT OVERWRITE TABLE fixed VALUES (1), (2)")
    yield
    spark.sql("DROP TABLE IF EXISTS fixed")


@pytest.mark.usefixtures("fixed")
def test_every_command_is_refused_with_nothing_changed(lake: Any) -> None:
    before = snapshot(lake)
    for sql in REFUSED:
        with pytest.raises(dbnb.ReadOnlyError, match="read-only here") as refused:
            lake.query(sql)
        assert "db.write(...)" in str(refused.value)
        assert snapshot(lake) == before, sql
    # The history says each was refused, and none ran.
    history = dbnb.history()
    mine = history[history["connection"] == "lake"].tail(len(REFUSED))
    assert mine["error"].str.contains("read-only here").all()


@pytest.mark.usefixtures("fixed")
def test_spark_commands_that_look_are_reads(lake: Any) -> None:
    assert "fixed" in lake.query("SHOW TABLES")["tableName"].tolist()
    described = lake.query("DESCRIBE fixed")
    assert described[["col_name", "data_type"]].values.tolist() == [["id", "int"]]
    assert lake.query("desc table extended fixed")["col_name"].str.contains("Location").any()
    created = lake.query("SHOW CREATE TABLE fixed")["createtab_stmt"].iloc[0]
    assert created.startswith("CREATE TABLE spark_catalog.default.fixed")
    assert lake.query("/* a comment */ SHOW COLUMNS IN fixed")["col_name"].tolist() == ["id"]
    plan = lake.query("EXPLAIN SELECT id FROM fixed")["plan"].iloc[0]
    assert "== Physical Plan ==" in plan
    # EXPLAIN of a write plans it and never runs it.
    lake.query("EXPLAIN INSERT INTO fixed VALUES (99)")
    assert sorted(lake.query("SELECT id FROM fixed")["id"].tolist()) == [1, 2]
    # A command's error is Spark's, about the user's statement, not dbnb's wrapper.
    with pytest.raises(dbnb.QueryError, match=r"^lake: \[TABLE_OR_VIEW_NOT_FOUND\].*`nowhere`"):
        lake.query("DESCRIBE nowhere")


def test_lists_after_in_are_one_named_parameter_per_item(lake: Any, table: str) -> None:
    lake.spark.sql(f"CREATE TABLE {table} (id INT, status STRING) USING parquet")
    lake.spark.sql(f"INSERT INTO {table} VALUES (1, 'new'), (2, 'done'), (3, 'late')")
    sql = f"SELECT id FROM {table} WHERE status IN :list ORDER BY id"
    assert lake.query(sql, {"list": ["new", "late"]})["id"].tolist() == [1, 3]
    assert lake.query(sql, {"list": ("done",)})["id"].tolist() == [2]
    assert lake.query(sql, {"list": []})["id"].tolist() == []
    both = f"SELECT id FROM {table} WHERE status NOT IN (:list) AND id > :n ORDER BY id"
    assert lake.query(both, {"list": [], "n": 1})["id"].tolist() == [2, 3]
    assert lake.query(both, {"list": ["done"], "n": 0})["id"].tolist() == [1, 3]


def test_spark_text_is_read_by_spark_lexical_rules() -> None:
    from dbnb.backends.spark import statements
    from dbnb.sql import readable

    rules = statements.READ_RULES
    # A backslash escapes a quote in Spark's literals; a raw literal keeps it.
    assert readable.refusal(r"SELECT 'it\'s; DROP TABLE t'", rules) is None
    assert readable.refusal(r"SELECT r'\'; DROP TABLE t", rules) is not None
    # Comments nest; a backquoted name is no keyword.
    assert readable.refusal("SELECT 1 /* a /* b */ ; DROP TABLE t */", rules) is None
    assert readable.refusal("SELECT `;DROP` FROM t", rules) is None
    assert readable.refusal("REFRESH TABLE t", rules) is not None


def test_a_syntax_error_is_spark_message_not_a_refusal(lake: Any) -> None:
    with pytest.raises(dbnb.QueryError, match=r"^lake: \[PARSE_SYNTAX_ERROR\].*'SELEC'") as error:
        lake.query("SELEC 1")
    assert not isinstance(error.value, dbnb.ReadOnlyError)
    with pytest.raises(dbnb.QueryError, match=r"^lake: \[TABLE_OR_VIEW_NOT_FOUND\]"):
        lake.query("SELECT * FROM no_such_table")


# --- interrupts and timeouts ---------------------------------------------------------

SLOW = "SELECT sum(hash(id) % 7) AS s FROM range(0, 100000000000, 1, 4)"  # minutes of work


def test_ctrl_c_stops_the_spark_job_and_the_next_query_is_fast(lake: Any) -> None:
    started = time.monotonic()
    with interrupt_after(1.0), pytest.raises(KeyboardInterrupt):
        lake.query(SLOW)
    assert time.monotonic() - started - 1.0 < 2.5  # stopped within about 2 s of Ctrl-C
    after = time.monotonic()
    assert lake.query("SELECT 2 AS ok")["ok"].tolist() == [2]
    assert time.monotonic() - after < 5
    # Nothing of it still runs on the cluster.
    assert lake.spark.client.interrupt_all() == []


CROSS = (
    "SELECT count(*) AS n FROM range(100000) a CROSS JOIN range(100000) b WHERE a.id + b.id = -1"
)


@pytest.mark.parametrize("after", [0.1, 0.3, 0.6])
def test_ctrl_c_before_the_job_exists_still_stops_it(lake: Any, after: float) -> None:
    # Interrupted while Spark still plans it, a query used to leave its job running on
    # the cluster (submitted after the cancel), and the next query waited behind it.
    with interrupt_after(after), pytest.raises(KeyboardInterrupt):
        lake.query(CROSS)
    started = time.monotonic()
    assert lake.query("SELECT 5 AS ok")["ok"].tolist() == [5]
    assert time.monotonic() - started < 10


def test_ctrl_c_stops_chunks_too(lake: Any) -> None:
    started = time.monotonic()
    with interrupt_after(1.0), pytest.raises(KeyboardInterrupt):
        list(lake.query(SLOW, chunksize=10))
    assert time.monotonic() - started < 4
    assert lake.query("SELECT 3 AS ok")["ok"].tolist() == [3]


def test_statement_timeout_interrupts_the_job(lake_registry: dbnb.Registry) -> None:
    limited = lake_registry.connect("lake_limited")
    started = time.monotonic()
    with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 1 s"):
        limited.query(SLOW)
    assert time.monotonic() - started < 4
    assert limited.query("SELECT 4 AS ok")["ok"].tolist() == [4]
    assert limited.spark.client.interrupt_all() == []


# --- writes --------------------------------------------------------------------------


def test_write_create_append_replace_round_trip(lake: Any, table: str) -> None:
    first = pd.DataFrame({"id": [1, 2], "name": ["a", "it's"], "score": [1.5, None]})
    assert lake.write(first, table, create=True) == 2
    more = pd.DataFrame({"name": ["c"], "id": [3]})  # other order, a column left out
    assert lake.write(more, table, mode="append") == 1
    back = lake.query(f"SELECT * FROM {table} ORDER BY id")
    assert back["id"].tolist() == [1, 2, 3]
    assert back["name"].tolist() == ["a", "it's", "c"]
    assert back["score"].isna().tolist() == [False, True, True]
    assert lake.write(pd.DataFrame({"id": [9], "name": ["z"]}), table, mode="replace") == 1
    assert lake.query(f"SELECT id, name FROM {table}").values.tolist() == [[9, "z"]]


def test_bad_rows_are_refused_before_anything_is_written(lake: Any, table: str) -> None:
    lake.write(pd.DataFrame({"id": [1], "name": ["a"]}), table, create=True)
    with pytest.raises(dbnb.ValidationError, match=r"column 'nmae': no such column"):
        lake.write(pd.DataFrame({"id": [2], "nmae": ["b"]}), table)
    with pytest.raises(dbnb.ValidationError, match=r"row 2, column 'id', value 'two'"):
        lake.write(pd.DataFrame({"id": ["2", "two"], "name": ["b", "c"]}), table)
    with pytest.raises(dbnb.DbnbError, match="upsert needs a primary key"):
        lake.write(pd.DataFrame({"id": [2], "name": ["b"]}), table, mode="upsert")
    with pytest.raises(dbnb.DbnbError, match=r"has no table .no_such..*create=True"):
        lake.write(pd.DataFrame({"id": [2]}), "no_such")
    assert lake.query(f"SELECT id FROM {table}")["id"].tolist() == [1]


def test_readonly_refuses_writes_and_write_cells(
    lake_registry: dbnb.Registry, lake: Any, table: str
) -> None:
    lake.write(pd.DataFrame({"id": [1]}), table, create=True)
    readonly = lake_registry.connect("lake_ro")
    with pytest.raises(dbnb.ReadOnlyError, match="readonly: true"):
        readonly.write(pd.DataFrame({"id": [2]}), table)
    with pytest.raises(dbnb.ReadOnlyError, match="readonly: true"):
        readonly.run_cell([f"INSERT INTO {table} VALUES (3)"], [{}], write=True)
    assert readonly.query(f"SELECT id FROM {table}")["id"].tolist() == [1]


# --- the notebook and the command line -------------------------------------------------


@pytest.fixture
def shell(lake_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DBNB_CONFIG", str(lake_config))
    start_ipython()
    ip = TerminalInteractiveShell.instance()
    before = set(ip.user_ns)
    ip.run_line_magic("load_ext", "dbnb")
    yield ip
    ip.run_line_magic("unload_ext", "dbnb")
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


def test_magics_on_a_spark_connection(shell: InteractiveShell, lake: Any, table: str) -> None:
    shell.user_ns["who"] = "it's"
    run_magic(shell, "lake --write", f"CREATE TABLE {table} (id INT, name STRING) USING parquet")
    run_magic(shell, "lake --write", f"INSERT INTO {table} VALUES (1, :who), (2, 'b')")
    frame = run_magic(shell, "lake -o found", f"SELECT id FROM {table} WHERE name = :who")
    assert frame["id"].tolist() == [1]
    assert shell.user_ns["found"] is frame
    with pytest.raises(UsageError, match=r"read-only here.*add --write to the %db or %%db line"):
        run_magic(shell, "lake", f"DELETE FROM {table}")
    run_magic(shell, "use lake")
    tables = run_magic(shell, "tables")
    assert table in tables["table"].tolist()
    described = run_magic(shell, f"describe {table}")
    assert described[["column", "type"]].values.tolist() == [["id", "int"], ["name", "string"]]
    health = run_magic(shell, "health lake")
    assert health[["ok", "readonly_enforced"]].values.tolist() == [[True, True]]
    assert health["server_version"].iloc[0].startswith("Spark 4.")
    # Completion knows Spark's tables and columns, from its catalog.
    schema = complete.read_schema(lake)
    assert schema.columns_of(table) == ("id", "name")
    # Each with the dtype it reads as: Spark's type table, by its catalog's names.
    assert schema.typed_columns_of(table) == [("id", "int32[pyarrow]"), ("name", "string[pyarrow]")]
    assert [str(dtype) for dtype in lake.query(f"SELECT * FROM {table}").dtypes] == [
        "int32[pyarrow]",
        "string[pyarrow]",
    ]
    history = run_magic(shell, "history 5")
    assert history["connection"].eq("lake").any()
    assert history["sql"].str.contains("WHERE name = :who").any()
    with pytest.raises(UsageError, match="readonly: true"):
        run_magic(shell, "lake_ro --write", f"INSERT INTO {table} VALUES (3, 'c')")
    assert run_magic(shell, "lake", f"SELECT count(*) AS n FROM {table}")["n"].tolist() == [2]


def test_dbnb_query_on_a_spark_connection(
    lake_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DBNB_CONFIG", str(lake_config))
    code = cli.main(["query", "lake", "SELECT :n AS n, 'it''s' AS s", "--param", "n:=7"])
    assert code == 0
    assert capsys.readouterr().out.split() == ["n", "s", "7", "it's"]
    code = cli.main(["query", "lake", "DROP TABLE fixed"])
    captured = capsys.readouterr()
    assert code != 0
    assert "read-only here" in captured.err
    assert "\n" not in captured.err.strip()


def test_a_background_job_gives_the_result_and_cancel_interrupts_spark(lake: Any) -> None:
    from concurrent.futures import CancelledError

    from tests.test_jobs import thread_alive, within

    done = lake.submit("SELECT id FROM range(5)")
    assert done.result(timeout=120)["id"].tolist() == [0, 1, 2, 3, 4]
    assert done.state == "done"
    # Minutes of work on two executors: the job's read ends only if Spark interrupts it.
    slow = lake.submit("SELECT count(*) AS n FROM range(1000000000000)")
    assert within(lambda: slow.elapsed > 1.0)
    assert slow.running()
    assert slow.cancel()
    assert slow.state == "cancelled"
    with pytest.raises(CancelledError):
        slow.result()
    assert within(lambda: not thread_alive(slow))  # the read returned: interrupted
    assert lake.query("SELECT 1 AS x")["x"].tolist() == [1]  # the session goes on


def test_a_read_scans_its_text_once(lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsed once (dbnb.sql.prepared): the read check and the lists after IN are read
    # from those tokens, not from the text again (Spark's readings other than its own
    # are the read check's alternatives, as on every database).
    from dbnb.sql import sqlscan

    seen: list[str] = []
    scan = sqlscan.tokens

    def counted(sql: str, rules: Any) -> Any:
        seen.append(sql)
        return scan(sql, rules)

    monkeypatch.setattr(sqlscan, "tokens", counted)
    sql = f"SELECT id FROM range(10) WHERE id IN :ids /* {uuid.uuid4().hex} */"
    assert lake.query(sql, {"ids": [2, 3]})["id"].tolist() == [2, 3]
    rules = lake.sql_rules.reads
    assert seen.count(sql) == 1 + len(rules.alternatives if rules is not None else ())
