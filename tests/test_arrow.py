"""The columnar (ADBC) read path on PostgreSQL: when it serves a query, that it gives
the guarded path's frames exactly, and that its own connections only ever read."""

from __future__ import annotations

import json
from collections.abc import Callable

import adbc_driver_manager
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

import dbnb
from bench import standard
from dbnb.backends.postgresql import adbc as pg_columnar
from dbnb.backends.postgresql import batches as arrow_batches
from dbnb.backends.postgresql import columns as arrow_columns
from dbnb.read import arrow
from tests.fixtures import PG_ADMIN, Item, rows

pytestmark = pytest.mark.postgresql  # the tier (tests/conftest.py): every test here reads there

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]


@pytest.fixture
def backend() -> str:
    """PostgreSQL here; SQLite files have their own tests (test_arrow_sqlite.py)."""
    return "postgresql"


@pytest.fixture
def guarded(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Callable[[], pd.DataFrame]], pd.DataFrame]:
    """Run a read with the columnar path switched off: the reference result."""

    def run(read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        with monkeypatch.context() as patch:
            patch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)
            return read()

    return run


def both_paths(db: dbnb.Database, guarded, sql: str, params=None) -> pd.DataFrame:
    """The frame from the columnar path, checked equal to the guarded path's."""
    served = db._arrow.served
    fast = db.query(sql, params)
    assert db._arrow.served == served + 1, "the columnar path did not serve this query"
    slow = guarded(lambda: db.query(sql, params))
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert list(fast.dtypes) == list(slow.dtypes)
    return fast


def test_text_queries_take_the_columnar_path_and_select_keeps_its_types(
    db: dbnb.Database, guarded
) -> None:
    frame = both_paths(db, guarded, "SELECT id, name FROM items WHERE id >= :low", {"low": 2})
    assert frame.to_dict("list") == {"id": [2, 3], "name": ["two", "three"]}
    served = db._arrow.served
    db.query(select(Item))  # select() carries SQLAlchemy types: the guarded path reads it
    assert db._arrow.served == served


def test_standard_table_is_equal_on_both_paths(
    db: dbnb.Database, pg_database: str, guarded
) -> None:
    standard.create_postgresql(PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_database}", 500)
    frame = both_paths(db, guarded, f"SELECT * FROM {standard.TABLE} ORDER BY id")
    assert len(frame) == 500
    assert str(frame["price"].dtype) == "decimal128(12, 2)[pyarrow]"
    assert frame["payload"].iloc[0] == {"k": 1, "tag": "t1"}
    assert frame["maybe_int"].isna().sum() == 500 // 7


def test_json_over_many_batches_is_equal_on_both_paths(
    db: dbnb.Database, guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small driver batches: several are parsed on the worker thread while the next
    # is read, each in several slices; NULLs, arrays and non-ASCII text among them.
    monkeypatch.setattr(pg_columnar, "_BATCH_BYTES", 64 << 10)
    monkeypatch.setattr(arrow_columns, "_JSON_SLICE", 1000)
    batches = []
    convert = arrow_batches._convert_batch
    monkeypatch.setattr(
        arrow_batches,
        "_convert_batch",
        lambda batch, *rest: batches.append(batch) or convert(batch, *rest),
    )
    sql = (
        "SELECT g, CASE WHEN g % 5 = 0 THEN NULL"
        " WHEN g % 3 = 0 THEN jsonb_build_array(g, 'x', jsonb_build_array(g))"
        " ELSE jsonb_build_object('k', g, 's', repeat('é', g % 7)) END AS v"
        " FROM generate_series(1, 20000) AS g"
    )
    frame = both_paths(db, guarded, sql)
    assert len(batches) > 3
    assert frame["v"].iloc[2] == [3, "x", [3]]
    assert frame["v"].iloc[3] == {"k": 4, "s": "éééé"}
    assert frame["v"].isna().sum() == 20000 // 5


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    documents=st.lists(st.none() | JSON_VALUES, max_size=40),
    ascii_only=st.booleans(),
    slice_size=st.integers(1, 8),
)
def test_json_documents_parse_as_json_loads_parses_them(
    documents: list, ascii_only: bool, slice_size: int
) -> None:
    """Whatever msgspec takes or refuses (infinite floats, integers beyond 64 bits),
    the values are json.loads's, one per document, in order."""
    texts = [
        None if value is None else json.dumps(value, ensure_ascii=ascii_only) for value in documents
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrow_columns, "_JSON_SLICE", slice_size)
        values = arrow_columns._json_values(pa.array(texts, pa.string()))
    assert values == [None if text is None else json.loads(text) for text in texts]


PG_TYPES = {
    "interval": "SELECT v FROM (VALUES (interval '14 mons 3 days 00:00:01.5'),"
    " (interval '-14 mons -3 days'), (interval '1 year'), (NULL)) AS t(v)",
    "numeric without precision": "SELECT v FROM (VALUES (1.5::numeric), (NULL),"
    " (123456789012345678901234567890.123456789::numeric)) AS t(v)",
    "numeric NaN": "SELECT 'NaN'::numeric(12, 2) AS v",
    "numeric NaN, unconstrained": "SELECT v FROM (VALUES ('NaN'::numeric), (1.25)) AS t(v)",
    "numeric over 38 digits": "SELECT 1.5::numeric(50, 2) AS v",
    "json of every shape": "SELECT v FROM (VALUES ('{\"a\": [1, null]}'::jsonb), ('null'),"
    " (NULL), ('\"text, with comma\"'), ('3.25'), ('[]')) AS t(v)",
    "json": 'SELECT \'{"b": 1,  "a": 2}\'::json AS v',
    # Documents msgspec refuses, parsed by json.loads as psycopg does.
    "json msgspec refuses": "SELECT v FROM (VALUES ('\"\\ud800\"'::json), ('1e400'::json),"
    " ('123456789012345678901234567890'::json), ('[1, [2]]'::json)) AS t(v)",
    "uuid": "SELECT v FROM (VALUES (gen_random_uuid()), (NULL)) AS t(v)",
    "oid": "SELECT 4294967295::oid AS v",
    "array": "SELECT ARRAY[1, 2] AS v",
    "inet": "SELECT '10.0.0.1'::inet AS v",
    "record": "SELECT ROW(1, 'x') AS v",
    "empty": "SELECT 1::int2 AS a, '{}'::jsonb AS b, 1.5::numeric AS c WHERE false",
    "duplicate names": "SELECT 1 AS a, 'x' AS a",
    "char and name": "SELECT 'ab'::char(4) AS c, 'n'::name AS n, 'v'::varchar AS v",
}


# Outside the columnar path's table (an anonymous record: ADBC's driver cannot read
# one), known before they run. The other types: tests/test_type_matrix.py.
GUARDED_TYPES = {"record"}


@pytest.mark.parametrize("kind", PG_TYPES)
def test_postgresql_types_are_equal_on_both_paths(db: dbnb.Database, guarded, kind: str) -> None:
    sql = PG_TYPES[kind]
    served = db._arrow.served
    fast = db.query(sql)
    slow = guarded(lambda: db.query(sql))
    if "uuid" in sql:  # random values: compare types and shape
        assert fast["v"].map(type).tolist() == slow["v"].map(type).tolist()
        assert fast.dtypes.tolist() == slow.dtypes.tolist()
    else:
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    took_fast = db._arrow.served == served + 1
    assert took_fast == (kind not in GUARDED_TYPES)


@pytest.mark.parametrize("value", [41, 70_000, 2**40, 2**70, 1.5, True, b"\x00x", "O'Brien"])
def test_parameters_bind_as_psycopg_binds_them(db: dbnb.Database, guarded, value) -> None:
    sql = "SELECT :v AS v, pg_typeof(:v)::text AS type"
    if isinstance(value, str):
        sql = "SELECT :v || '' AS v, pg_typeof(:v || '')::text AS type"
    fast = db.query(sql, {"v": value})
    slow = guarded(lambda: db.query(sql, {"v": value}))
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


# --- read-only, on the columnar path's own connections ---------------------------------

UNFILTERED_WRITES = [
    "INSERT INTO items VALUES (4, 'four')",
    "UPDATE items SET name = 'changed'",
    "DELETE FROM items",
    "DROP TABLE items",
    "CREATE TABLE other (x INTEGER)",
]


def test_columnar_connections_refuse_writes_at_the_server(db: dbnb.Database) -> None:
    # Sent straight to a pooled ADBC connection, past the statement check:
    # the database itself refuses every write.
    for sql in UNFILTERED_WRITES:
        with (
            pytest.raises(adbc_driver_manager.Error),
            db._arrow._checkout(db._arrow.columnar) as connection,
        ):
            cursor = connection.cursor()
            try:
                cursor.execute(sql)
            finally:
                cursor.close()
        assert rows(db) == ORIGINAL, sql
    assert db._arrow.checkedout() == 0


def test_a_query_cannot_switch_read_only_off(db: dbnb.Database) -> None:
    db.close()
    setting = "SELECT current_setting('default_transaction_read_only') AS v"
    # A setting is refused on a read before it is sent (it could take a read_role's
    # reads back to the login's role); the server would refuse transaction_read_only.
    with pytest.raises(dbnb.ReadOnlyError, match=r"set_config\(\) has effects"):
        db.query("SELECT set_config('default_transaction_read_only', 'off', false) AS v")
    assert db.query(setting)["v"].tolist() == ["on"]
    with pytest.raises(dbnb.ReadOnlyError):
        db.query("SELECT set_config('transaction_read_only', 'off', true)")
    with pytest.raises(dbnb.ReadOnlyError):
        db.query("SELECT * FROM items FOR UPDATE")
    assert db.query(setting)["v"].tolist() == ["on"]
    assert rows(db) == ORIGINAL
    assert db._arrow.checkedout() == 0


@pytest.mark.parametrize(
    "sql",
    [
        "COMMIT",
        "SET TRANSACTION READ WRITE",
        "SELECT 1; DELETE FROM items",
        "SELECT 1; COMMIT",
        "DELETE FROM items",
        "PRAGMA query_only = OFF",
        "SELECT 1 /* a /* b */ ; */ ; DELETE FROM items",
    ],
)
def test_only_one_query_statement_reaches_adbc(db: dbnb.Database, sql: str) -> None:
    assert db._arrow.plan(db.prepared(sql, {})) is None


def test_close_disposes_the_columnar_pool(db: dbnb.Database) -> None:
    db.query("SELECT id FROM items")
    assert db._arrow._pool is not None
    db.close()
    assert db._arrow._pool is None
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]  # opens afresh


def test_in_memory_sqlite_and_other_dialects_use_the_guarded_path(tmp_path) -> None:
    # Another connection to ":memory:" would see another database.
    memory = dbnb.Registry().connect("sqlite://")
    assert memory._arrow.columnar is None
    assert memory.query("SELECT 1 AS one")["one"].tolist() == [1]
    memory.close()
    duck = dbnb.Registry().connect(f"duckdb:///{tmp_path / 'x.duckdb'}")
    assert duck._arrow.columnar is None
    duck.close()


def test_connection_secrets_stay_out_of_errors(tmp_path, open_registry) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(
        "databases:\n  pg:\n    type: postgresql\n    host: 127.0.0.1\n    port: 5432\n"
        "    database: no_such_database_dbnb\n    user: postgres\n    password: s3cret-pw\n"
    )
    database = open_registry(path).connect("pg")
    with pytest.raises(dbnb.DbnbError) as caught:
        database.query("SELECT 1")
    assert "s3cret-pw" not in str(caught.value)


def test_a_timeout_cancels_a_columnar_read_on_the_server(
    db: dbnb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = "SELECT pg_sleep(20) IS NULL AS slept"
    with monkeypatch.context() as patch:  # the guarded path must not be the one that ran
        patch.setattr(dbnb.Database, "connection", lambda *a, **k: pytest.fail("guarded"))
        with pytest.raises(dbnb.QueryTimeoutError, match=r"statement_timeout of 0\.3 s"):
            db.query(slow, timeout=0.3)
        served = db._arrow.served
        assert db.query("SELECT id FROM items ORDER BY id", timeout=5)["id"].tolist() == [1, 2, 3]
        assert db._arrow.served == served + 1  # a read under a timeout keeps this path
    running = db.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%'"
        " AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
    )
    assert running["n"].tolist() == [0]  # cancelled on the server, not left running
    assert db._arrow.checkedout() == 0
    history = dbnb.history()
    failed = history[history["sql"] == slow]
    assert "statement_timeout of 0.3 s" in failed["error"].iloc[-1]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'infinity'::timestamptz AS v",
        "SELECT '-infinity'::timestamp AS v",
        "SELECT v FROM (VALUES ('2020-01-01'::date), ('infinity')) AS t(v)",
        "SELECT '-infinity'::date AS v",
    ],
)
def test_infinity_is_the_same_error_on_both_paths(db: dbnb.Database, guarded, sql: str) -> None:
    # pandas holds no infinite timestamp: psycopg refuses it on the guarded path, and
    # the columnar path says the same rather than hand over a date 290,000 years ago.
    with pytest.raises(dbnb.QueryError) as fast:
        db.query(sql)
    with pytest.raises(dbnb.QueryError) as slow:
        guarded(lambda: db.query(sql))
    assert str(fast.value) == str(slow.value)
    assert "infinity'" in str(fast.value)
    with pytest.raises(dbnb.QueryError, match="infinity'"):
        list(db.query(sql, chunksize=1))
    assert db._arrow.checkedout() == 0
