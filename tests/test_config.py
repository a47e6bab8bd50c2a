"""Config: the YAML format of API.md, ${ENV} secrets, the lookup order, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import dbnb
from dbnb.config import find_config_file

API_EXAMPLE = """\
# etc/infra.yaml
default: local
databases:
  local:
    type: sqlite
    database: data/app.db
  warehouse:
    type: postgresql
    host: ${PGHOST:-localhost}
    port: 5432
    database: myapp_prod
    user: analyst
    password: ${WAREHOUSE_PASSWORD}
    pool_size: 10
    max_overflow: 20
    readonly: true
  scratch:
    url: postgresql://me@localhost/scratch
"""
SECRET = "s3cr3t-Pa55"


def parse(text: str, environ: dict[str, str] | None = None, path: str = "/proj/etc/infra.yaml"):
    return dbnb.parse_config(text, environ=environ or {}, path=path)


def test_api_example_is_accepted_as_it_stands() -> None:
    config = parse(API_EXAMPLE, {"WAREHOUSE_PASSWORD": SECRET})
    assert config.names == ["local", "warehouse", "scratch"]
    assert config.default == "local"

    local = config.get("local")
    assert local.backend == "sqlite"
    assert local.url.database == "/proj/etc/data/app.db"  # relative to the config file

    warehouse = config.get("warehouse")
    assert warehouse.url.drivername == "postgresql+psycopg"
    assert (warehouse.url.host, warehouse.url.port) == ("localhost", 5432)
    assert (warehouse.url.username, warehouse.url.password) == ("analyst", SECRET)
    assert warehouse.url.database == "myapp_prod"
    assert (warehouse.pool_size, warehouse.max_overflow, warehouse.readonly) == (10, 20, True)
    assert warehouse.pool_pre_ping is True  # on by default
    assert warehouse.source == "/proj/etc/infra.yaml:7"

    scratch = config.get("scratch")
    assert scratch.url.drivername == "postgresql+psycopg"
    assert scratch.url.database == "scratch"


def test_all_extra_keys() -> None:
    config = parse(
        """
databases:
  pg:
    type: postgres
    host: db
    readonly: "yes"
    pool_timeout: 2.5
    pool_recycle: "3600"
    pool_pre_ping: false
    connect_args: {connect_timeout: 3}
"""
    )
    pg = config.get()
    assert pg.url.drivername == "postgresql+psycopg"
    assert (pg.readonly, pg.pool_timeout, pg.pool_recycle, pg.pool_pre_ping) == (
        True,
        2.5,
        3600,
        False,
    )
    assert pg.connect_args == {"connect_timeout": 3}


def test_env_references_with_and_without_defaults() -> None:
    text = """
databases:
  pg:
    type: postgresql
    host: ${HOST:-fallback}
    port: ${PORT:-5432}
    user: ${USER_NAME}
    database: app_$${literal}
    password: ${EMPTY:-}
"""
    config = parse(text, {"HOST": "db.internal", "USER_NAME": "ann"})
    url = config.get("pg").url
    assert (url.host, url.port, url.username, url.database) == (
        "db.internal",
        5432,
        "ann",
        "app_${literal}",
    )
    assert url.password is None  # ${EMPTY:-} with nothing set: no password
    assert parse(text, {"USER_NAME": "ann", "HOST": ""}).get("pg").url.host == "fallback"


def test_missing_variable_fails_only_its_entry_naming_file_line_connection_key() -> None:
    config = parse(API_EXAMPLE)  # WAREHOUSE_PASSWORD is not set: the file still loads
    assert config.names == ["local", "warehouse", "scratch"]
    assert config.default == "local"
    assert config.get().name == "local"
    assert config.get("scratch").url.database == "scratch"
    assert list(config.connections) == ["local", "scratch"]

    with pytest.raises(dbnb.ConfigError) as caught:
        config.get("warehouse")  # the entry fails when it is used
    error = caught.value
    assert (error.line, error.connection, error.key) == (13, "warehouse", "password")
    assert str(error).startswith("/proj/etc/infra.yaml:13: connection 'warehouse': key 'password':")
    assert "WAREHOUSE_PASSWORD is not set" in str(error)
    with pytest.raises(dbnb.ConfigError) as again:
        config.get("warehouse")
    assert str(again.value) == str(error)  # the same line each time it is used
    assert config.problem("warehouse") == (
        "line 13: key 'password': environment variable WAREHOUSE_PASSWORD is not set "
        "(set it, or write ${WAREHOUSE_PASSWORD:-default} for a fallback)"
    )
    assert config.problem("local") is None


@pytest.mark.parametrize(
    ("body", "line", "key", "words"),
    [
        ("    type: sqlite\n    databse: x.db\n", 5, "databse", "did you mean 'database'"),
        ("    type: postgresql\n    port: abc\n", 5, "port", "expected a whole number, got 'abc'"),
        ("    type: postgresql\n    pool_size: [1]\n", 5, "pool_size", "got list"),
        ("    type: postgresql\n    readonly: maybe\n", 5, "readonly", "expected true or false"),
        ("    type: postgresql\n    connect_args: 3\n", 5, "connect_args", "expected a mapping"),
        ("    host: db\n", 3, None, "missing key 'type'"),
        ("    url: postgresql://a@b/c\n    host: d\n", 5, "host", "either url or host"),
        ("    url: '::'\n", 4, "url", "not a valid database URL"),
        ("    url: postgresql://a@b:port/c\n", 4, "url", "not a valid database URL"),
        ("", 3, None, "expected a mapping of settings, got NoneType"),
        ("    type: sqlite\n    service: s\n", 5, "service", "only postgresql connections take"),
        ("    type: sqlite\n    password_command: [x]\n", 5, "password_command", "only post"),
    ],
)
def test_bad_entries(body: str, line: int, key: str | None, words: str) -> None:
    # `db` is the default and is broken; `ok`, after it, still works.
    config = parse(f"default: db\ndatabases:\n  db:\n{body}  ok:\n    type: sqlite\n")
    assert config.names == ["db", "ok"]
    assert config.get("ok").backend == "sqlite"
    for use in (lambda: config.get("db"), lambda: config.get()):
        with pytest.raises(dbnb.ConfigError) as caught:
            use()
        error = caught.value
        assert (error.line, error.connection, error.key) == (line, "db", key)
        assert words in str(error)
        assert "\n" not in str(error)
    problem = config.problem("db")
    assert problem is not None
    assert problem.startswith(f"line {line}: ")
    assert words in problem


def test_malformed_yaml_names_file_and_line() -> None:
    with pytest.raises(dbnb.ConfigError) as caught:
        parse("databases:\n  a:\n    type: sqlite\n   bad: [\n")
    assert caught.value.line == 4
    assert str(caught.value).startswith("/proj/etc/infra.yaml:4: invalid YAML")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("- a\n- b\n", "expected a mapping with a 'databases:' section"),
        ("databses:\n  a: {type: sqlite}\n", "did you mean 'databases'"),
        ("databases: [a, b]\n", "expected a mapping of connection names"),
        ("default: nope\ndatabases:\n  a: {type: sqlite}\n", "names no connection; known"),
        ("default: ${NO_SUCH_VARIABLE}\ndatabases:\n  a: {type: sqlite}\n", "is not set"),
        # Naming no connection even when the entries that exist are broken.
        ("default: nope\ndatabases:\n  a: {type: bogus, hots: x}\n", "known connections: a"),
    ],
)
def test_bad_files(text: str, words: str) -> None:
    # Problems of the file itself, not of one entry, still fail the whole file.
    with pytest.raises(dbnb.ConfigError, match=words):
        parse(text)


def test_default_may_name_a_broken_entry_and_fails_only_when_used() -> None:
    config = parse(API_EXAMPLE.replace("default: local", "default: warehouse"))
    assert config.default == "warehouse"
    with pytest.raises(dbnb.ConfigError, match=r"^/proj/etc/infra\.yaml:13: connection 'wareh"):
        config.get()
    assert config.get("local").backend == "sqlite"
    # Without `default:`, the first entry is the default even when it is broken:
    # never silently another database.
    first_broken = parse("databases:\n  a: {type: sqlite, hots: x}\n  b: {type: sqlite}\n")
    assert first_broken.default == "a"
    with pytest.raises(dbnb.ConfigError, match="key 'hots': unknown key; did you mean 'host'"):
        first_broken.get()


def test_other_top_level_sections_are_left_alone() -> None:
    config = parse("pgserver: {port: 5433}\ndatabases:\n  a: {type: sqlite}\n")
    assert config.names == ["a"]
    assert config.default == "a"  # the first entry when there is no `default:`


@pytest.mark.parametrize("environ", [{"WAREHOUSE_PASSWORD": SECRET}, {}], ids=["set", "unset"])
def test_unknown_connection_lists_what_exists(environ: dict[str, str]) -> None:
    config = parse(API_EXAMPLE, environ)  # unset: warehouse is broken, and still listed
    with pytest.raises(dbnb.UnknownConnectionError) as caught:
        config.get("warehous")
    assert "unknown connection 'warehous'; known connections: local, scratch, warehouse" in str(
        caught.value
    )


def test_password_never_shows() -> None:
    config = parse(API_EXAMPLE, {"WAREHOUSE_PASSWORD": SECRET})
    warehouse = config.get("warehouse")
    database = dbnb.Registry(config).connect("warehouse")
    for shown in (repr(config), str(config), repr(warehouse), warehouse.safe_url, repr(database)):
        assert SECRET not in shown
    assert "***" in warehouse.safe_url
    text = API_EXAMPLE.replace("port: 5432", "port: ${WAREHOUSE_PASSWORD}")
    misplaced = parse(text, {"WAREHOUSE_PASSWORD": SECRET})
    with pytest.raises(dbnb.ConfigError) as caught:
        misplaced.get("warehouse")
    assert caught.value.key == "port"  # a secret in the wrong key is named by its reference
    assert "got '${WAREHOUSE_PASSWORD}'" in str(caught.value)
    assert SECRET not in str(caught.value)
    # Nor in the listing of the broken entry, nor in the config's repr.
    assert "got '${WAREHOUSE_PASSWORD}'" in str(misplaced.problem("warehouse"))
    for shown in (str(misplaced.problem("warehouse")), repr(misplaced)):
        assert SECRET not in shown
    bad_port = parse(API_EXAMPLE.replace("port: 5432", "port: bad"), {"WAREHOUSE_PASSWORD": SECRET})
    with pytest.raises(dbnb.ConfigError) as caught:
        bad_port.get("warehouse")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(bad_port)


def test_a_spark_connect_entry_takes_a_password_command() -> None:
    config = parse("databases:\n  lake:\n    url: sc://h:15002\n    password_command: [x]\n")
    assert config.get("lake").password_command is not None


def test_sqlite_memory_and_url_paths(tmp_path: Path) -> None:
    config = parse(
        "databases:\n  mem: {type: sqlite}\n  file: {url: 'sqlite:///rel/x.db'}\n",
        path=str(tmp_path / "infra.yaml"),
    )
    assert config.get("mem").url.database is None
    assert config.get("file").url.database == str(tmp_path / "rel" / "x.db")


# --- the lookup order -------------------------------------------------------------


def write(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"databases:\n  {name}: {{type: sqlite}}\n")
    return path


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    nested = project / "notebooks" / "deep"
    nested.mkdir(parents=True)
    user = tmp_path / "xdg" / "dbnb" / "infra.yaml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    environ: dict[str, str] = {"DATABASE_URL": "sqlite:///from-env.db"}

    # 5. no file at all: $DATABASE_URL is the default connection
    config = dbnb.load_config(environ=environ, cwd=nested)
    assert config.names == ["default"]
    assert config.default == "default"
    assert config.get().url.database == str(nested / "from-env.db")
    assert dbnb.load_config(environ={}, cwd=nested).names == []

    # 4. the user's config folder
    write(user, "from_user")
    assert dbnb.load_config(environ=environ, cwd=nested).names == ["from_user"]

    # 3. etc/infra.yaml in the current folder or the nearest parent that has one
    write(project / "etc" / "infra.yaml", "from_project")
    assert dbnb.load_config(environ=environ, cwd=nested).names == ["from_project"]
    assert find_config_file({}, nested) == project / "etc" / "infra.yaml"

    # 2. $DBNB_CONFIG
    environ["DBNB_CONFIG"] = str(write(tmp_path / "env.yaml", "from_dbnb_config"))
    assert dbnb.load_config(environ=environ, cwd=nested).names == ["from_dbnb_config"]

    # 1. an explicit path
    explicit = write(tmp_path / "explicit.yaml", "from_path")
    assert dbnb.load_config(explicit, environ=environ, cwd=nested).names == ["from_path"]


def test_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(dbnb.ConfigError, match=r"nope\.yaml: cannot read config"):
        dbnb.load_config(tmp_path / "nope.yaml", environ={})
    with pytest.raises(dbnb.ConfigError, match=r"cannot read config \(from \$DBNB_CONFIG\)"):
        dbnb.load_config(environ={"DBNB_CONFIG": str(tmp_path / "gone.yaml")})


def test_no_default_connection_says_how_to_configure() -> None:
    with pytest.raises(dbnb.ConfigError, match=r"no default connection: create etc/infra\.yaml"):
        dbnb.Registry(dbnb.Config(connections={})).connect()
