"""Hostile config files are refused at once, with bounded memory, naming file and line.

A 438-byte alias bomb under ``connect_args`` once took 245 s and 9.1 GB, and deep
nesting raised a bare RecursionError (dbnb issue #22); a connection name given twice
was silently the last one (#24).
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

import dbnb
from dbnb.config.values import MAX_BYTES

BOMB = """\
databases:
  a:
    type: sqlite
    connect_args:
      l0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
      l1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      l2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      l3: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      l4: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      l5: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      l6: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      l7: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      l8: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "infra.yaml"
    path.write_text(text)
    return path


def refused_quickly(path: Path) -> tuple[dbnb.ConfigError, float, int]:
    """Load ``path``; the ConfigError it raises, the seconds it took, its peak bytes."""
    dbnb.parse_config("databases: {}\n", environ={})  # imports done before the clock starts
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(dbnb.ConfigError) as caught:
            dbnb.load_config(path, environ={})
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(caught.value)
    return caught.value, elapsed, peak


def test_alias_bomb_is_refused_at_once_in_little_memory(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    error, elapsed, peak = refused_quickly(path)
    assert str(error).startswith(f"{path}:9: aliases repeat more than 10000 nodes")
    assert error.line == 9
    assert elapsed < 1.0  # generous: it takes milliseconds; unbounded, minutes
    assert peak < 20 * 2**20  # unbounded, gigabytes


def test_alias_bomb_in_another_section_is_refused_too(tmp_path: Path) -> None:
    """Sections dbnb does not read are still composed, so they are bounded alike."""
    text = BOMB.replace("    connect_args:\n", "other_tool:\n  x:\n")
    error, elapsed, _ = refused_quickly(write(tmp_path, text))
    assert "aliases repeat" in str(error)
    assert elapsed < 1.0


def test_a_few_aliases_still_share_settings(tmp_path: Path) -> None:
    """Anchors and merge keys are how a file shares settings: they keep working."""
    config = dbnb.load_config(
        write(
            tmp_path,
            "shared: &pg {type: postgresql, host: db.internal, port: 5432, readonly: true}\n"
            "databases:\n"
            "  sales: {<<: *pg, database: sales}\n"
            "  stock: {<<: *pg, database: stock, readonly: false}\n",
        ),
        environ={},
    )
    sales, stock = config.get("sales"), config.get("stock")
    assert (sales.url.host, sales.url.database, sales.readonly) == ("db.internal", "sales", True)
    assert (stock.url.port, stock.url.database, stock.readonly) == (5432, "stock", False)


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_flow_nesting_is_refused_not_a_recursion_error(tmp_path: Path, opener: str) -> None:
    path = write(tmp_path, "databases:\n  a:\n    connect_args: " + opener * 10_000 + "\n")
    error, elapsed, peak = refused_quickly(path)
    assert str(error).startswith(f"{path}:3: nested more than 64 levels deep")
    assert elapsed < 1.0
    assert peak < 20 * 2**20


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "".join(f"{' ' * depth}k{depth}:\n" for depth in range(1000)) + " " * 1000 + "v\n"
    error, elapsed, _ = refused_quickly(write(tmp_path, text))
    assert "nested more than 64 levels deep" in str(error)
    assert error.line == 64  # the first key of the 64th mapping would be a 65th level
    assert elapsed < 1.0


def test_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    error, _, _ = refused_quickly(
        write(tmp_path, "databases:\n  a:\n    type: sqlite\n    connect_args: &x {me: *x}\n")
    )
    assert str(error).endswith(":4: alias *x is inside its own anchor")


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "infra.yaml"
    with path.open("w") as file:
        file.write("databases: {}\n")
        file.write(("#" * 99 + "\n") * (3 * MAX_BYTES // 100))
    error, elapsed, peak = refused_quickly(path)
    assert str(error) == f"{path}: larger than 1024 KiB; a config file of connections is a few KB"
    assert elapsed < 1.0
    assert peak < 3 * MAX_BYTES  # read up to the limit, never the whole 3 MiB


def test_oversized_text_is_refused_by_the_pure_parser_too() -> None:
    with pytest.raises(dbnb.ConfigError, match=r"^/p/infra.yaml: larger than 1024 KiB"):
        dbnb.parse_config("#" * (MAX_BYTES + 1), environ={}, path="/p/infra.yaml")


def test_connection_name_given_twice_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "databases:\n"
        "  lake:\n    type: sqlite\n    database: old.db\n"
        "  other: {type: sqlite}\n"
        "  lake:\n    type: sqlite\n    database: new.db\n",
    )
    with pytest.raises(dbnb.ConfigError) as caught:
        dbnb.load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}:6: 'lake' is given twice under 'databases', on lines 2 and 6; keep one"
    )
    assert caught.value.line == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "databases:\n  a:\n    type: sqlite\n    database: a.db\n    database: b.db\n",
            ":5: 'database' is given twice under 'a', on lines 4 and 5; keep one",
        ),
        (
            "databases: {}\ndefault: a\ndatabases: {}\n",
            ":3: 'databases' is given twice at the top level, on lines 1 and 3; keep one",
        ),
        (
            "databases:\n  a:\n    type: sqlite\n    connect_args: {timeout: 1, timeout: 2}\n",
            ":4: 'timeout' is given twice under 'connect_args', on lines 4 and 4; keep one",
        ),
        (
            "pgserver:\n  port: 5433\n  port: 5434\n",
            ":3: 'port' is given twice under 'pgserver', on lines 2 and 3; keep one",
        ),
    ],
)
def test_a_key_given_twice_is_refused_at_any_level(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(dbnb.ConfigError) as caught:
        dbnb.load_config(path, environ={})
    assert str(caught.value) == f"{path}{message}"


def test_sqlite_and_duckdb_paths_are_relative_to_the_config_file() -> None:
    config = dbnb.parse_config(
        "databases:\n"
        "  lite: {type: sqlite, database: data/a.db}\n"
        "  duck: {type: duckdb, database: data/a.duckdb}\n"
        "  duck_url: {url: 'duckdb:///../b.duckdb'}\n"
        "  duck_memory: {url: 'duckdb:///:memory:'}\n"
        "  mother: {url: 'duckdb:///md:warehouse'}\n",
        environ={},
        path="/proj/etc/infra.yaml",
    )
    assert config.get("lite").url.database == "/proj/etc/data/a.db"
    assert config.get("duck").url.database == "/proj/etc/data/a.duckdb"
    assert config.get("duck_url").url.database == "/proj/b.duckdb"
    assert config.get("duck_memory").url.database == ":memory:"
    assert config.get("mother").url.database == "md:warehouse"


def test_a_file_database_is_listed_by_its_path_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbnb.notebook.display import short_url

    monkeypatch.chdir(tmp_path)
    config = dbnb.parse_config(
        "databases:\n"
        "  lite: {type: sqlite, database: data/a.db}\n"
        "  duck: {url: 'duckdb:///b.duckdb'}\n"
        "  memory: {url: 'sqlite://'}\n"
        "  mother: {url: 'duckdb:///md:warehouse'}\n"
        "  server: {url: 'postgresql://u:secret@db.example/data'}\n",
        environ={},
        path=tmp_path / "infra.yaml",
    )
    files = {name: config.get(name).database_file for name in config.names}
    assert files == {
        "lite": str(tmp_path.resolve() / "data" / "a.db"),
        "duck": str(tmp_path.resolve() / "b.duckdb"),
        "memory": None,
        "mother": None,  # MotherDuck's, not a path on this machine
        "server": None,
    }
    assert short_url(config.get("lite")) == "sqlite+pysqlite:///data/a.db"
    assert short_url(config.get("duck")) == "duckdb:///b.duckdb"
    assert short_url(config.get("server")) == "postgresql+psycopg://u:***@db.example/data"
