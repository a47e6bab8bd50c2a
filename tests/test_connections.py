"""Named connections: one lazily created pooled engine per name, explicit idempotent close."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

import dbnb
from tests.fixtures import config_text, readme_config


def test_same_name_same_database_and_engine(registry: dbnb.Registry, backend: str) -> None:
    first = registry.connect(backend)
    assert first._engine is None  # nothing is opened before first use
    assert registry.connect(backend) is first
    assert first.engine is first.engine
    assert registry.connect(f"{backend}_ro") is not first


@pytest.mark.postgresql
def test_dbnb_connect_uses_the_lookup_order(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config_path.parent.parent / "etc")  # found in the current folder's parent
    monkeypatch.chdir(config_path.parent)
    database = dbnb.connect()
    assert database.name == "sqlite"
    assert dbnb.connect("sqlite") is database
    assert dbnb.connect("postgresql").engine.dialect.name == "postgresql"
    dbnb.close_all()
    assert dbnb.connect("sqlite") is not database  # config read afresh after close_all


def test_connect_by_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/by-url.db"
    database = dbnb.connect(url)
    assert dbnb.connect(url) is database
    assert database.query("SELECT 41 + 1 AS answer")["answer"].tolist() == [42]


def test_database_url_is_the_default_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1/{pg_database}")
    database = dbnb.connect()
    assert database.name == "default"
    assert database.query("SELECT current_database() AS name")["name"].tolist() == [pg_database]


@pytest.mark.postgresql
@pytest.mark.mysql
def test_unknown_name_lists_known_names(registry: dbnb.Registry) -> None:
    with pytest.raises(
        dbnb.UnknownConnectionError, match="known connections: mysql, mysql_ro, postgresql, "
    ):
        registry.connect("nope")


def test_a_missing_variable_fails_only_its_connection(readme_config_path: Path) -> None:
    # The README's own config, $WAREHOUSE_PASSWORD unset: `local` needs no server.
    local = dbnb.connect("local")
    assert local.query("SELECT 41 + 1 AS answer")["answer"].tolist() == [42]
    assert dbnb.connect() is local  # the default
    assert (readme_config_path.parent / "data" / "app.db").is_file()  # a real SQLite file
    with local.session(write=True) as session:
        session.execute(text("CREATE TABLE notes (body TEXT)"))
        session.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert local.query("SELECT body FROM notes")["body"].tolist() == ["kept"]

    expected = (
        f"{readme_config_path}:13: connection 'warehouse': key 'password': "
        "environment variable WAREHOUSE_PASSWORD is not set "
        "(set it, or write ${WAREHOUSE_PASSWORD:-default} for a fallback)"
    )
    registry = dbnb.Registry(readme_config_path)
    for connect in (dbnb.connect, registry.connect):
        with pytest.raises(dbnb.ConfigError) as caught:
            connect("warehouse")
        assert str(caught.value) == expected
        error = caught.value
        assert (error.path, error.line, error.connection, error.key) == (
            readme_config_path,
            13,
            "warehouse",
            "password",
        )
    assert registry.names == ["local", "warehouse", "scratch"]
    with pytest.raises(
        dbnb.UnknownConnectionError, match=r"known connections: local, scratch, warehouse$"
    ):
        registry.connect("nope")
    assert registry.connect("local").query("SELECT body FROM notes")["body"].tolist() == ["kept"]
    registry.close()


def test_a_default_naming_a_broken_entry_fails_only_when_used(
    tmp_path: Path, open_registry
) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(readme_config().replace("default: local", "default: warehouse"))
    registry = open_registry(path)
    assert registry.default == "warehouse"
    with pytest.raises(dbnb.ConfigError, match=r"infra\.yaml:13: connection 'warehouse'"):
        registry.connect()
    assert registry.connect("local").query("SELECT 1 AS one")["one"].tolist() == [1]
    assert (tmp_path / "data" / "app.db").is_file()


def test_pool_settings_come_from_the_config(
    tmp_path: Path, pg_database: str, open_registry
) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            pooled=f"""
type: postgresql
host: 127.0.0.1
user: postgres
database: {pg_database}
pool_size: 3
max_overflow: 7
pool_timeout: 4
pool_recycle: 60
""",
        )
    )
    db = open_registry(path).connect("pooled")
    pool = db.engine.pool
    # The pool keeps pool_size idle connections; the connection's one budget (shared
    # with the columnar and async paths) caps them at pool_size + max_overflow.
    assert (pool.size(), pool._recycle, pool._pre_ping) == (3, 60, True)
    budget = db.budget
    assert (budget.pool_size, budget.max_overflow, budget.limit, budget.timeout) == (3, 7, 10, 4.0)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_pool_limit_is_honoured_and_clear(
    tmp_path: Path, pg_database: str, mysql_database: str, kind: str, open_registry
) -> None:
    target = {
        "sqlite": "type: sqlite\ndatabase: tiny.db",
        "postgresql": f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\ndatabase: {pg_database}",
        "mysql": f"type: mysql\nhost: 127.0.0.1\nuser: root\ndatabase: {mysql_database}",
    }[kind]
    path = tmp_path / "infra.yaml"
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            tiny=f"{target}\npool_size: 1\nmax_overflow: 0\npool_timeout: 0.2",
        )
    )
    database = open_registry(path).connect("tiny")
    with database.session():
        with pytest.raises(dbnb.PoolTimeoutError) as caught:
            with database.session():
                pass
        assert "connection 'tiny': all pooled connections are busy (pool_size=1, " in str(
            caught.value
        )
    assert database.engine.pool.checkedout() == 0
    assert database.query("SELECT 1 AS one")["one"].tolist() == [1]


def test_threads_share_one_pool(db: dbnb.Database) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(int(db.query("SELECT count(*) AS n FROM items")["n"].iloc[0]))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [3] * 80
    assert db.engine.pool.checkedout() == 0


def test_close_is_explicit_and_idempotent(db: dbnb.Database) -> None:
    engine = db.engine
    db.close()
    db.close()
    assert db._engine is None
    assert db.query("SELECT count(*) AS n FROM items")["n"].tolist() == [3]  # reopens on use
    assert db.engine is not engine


def test_sqlite_parent_folders_are_created(tmp_path: Path, open_registry) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text("databases:\n  deep: {type: sqlite, database: a/b/c/app.db}\n")
    database = open_registry(path).connect("deep")
    with database.session(write=True) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    assert (tmp_path / "a" / "b" / "c" / "app.db").is_file()


def test_unreachable_server_is_one_clear_line(tmp_path: Path, open_registry) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text(
        "databases:\n  gone:\n    type: postgresql\n    host: 127.0.0.1\n    port: 1\n"
        "    user: postgres\n    password: hunter2-secret\n"
        "    connect_args: {connect_timeout: 2}\n"
    )
    database = open_registry(path).connect("gone")
    with pytest.raises(dbnb.DbnbError) as caught:
        database.query("SELECT 1")
    message = str(caught.value)
    assert message.startswith("cannot connect to 'gone' (postgresql+psycopg://postgres:***@")
    assert "hunter2-secret" not in message
    assert "\n" not in message
