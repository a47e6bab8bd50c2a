"""Secrets by reference (issue 27): the keyring, files, a password command, option files,
against a MariaDB user whose password the server really checks; libpq's service file.

The keyring is keyrings.alt's plain file in a temp folder (never the user's keyring).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import dbnb
from dbnb.config import secrets
from dbnb.errors import ConfigError, DbnbError
from tests.fixtures import MYSQL_ADMIN, PG_ADMIN

# A password with characters a URL encodes: it must reach the server intact.
PASSWORD = "kr Qm7%secret@user!"
KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """keyrings.alt's file backend in a temp folder, for this process and the CLI's."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    home = tmp_path / "keyring-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", KEYRING_BACKEND)
    before = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    yield home
    keyring.set_keyring(before)


def admin() -> object:
    import pymysql

    url = make_url(MYSQL_ADMIN)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )


@pytest.fixture
def user(mysql_database: str) -> Iterator[str]:
    """A MariaDB user whose password is PASSWORD, dropped after the test."""
    name = f"dbnb_ref_{uuid.uuid4().hex[:10]}"
    connection = admin()
    try:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{mysql_database}`.* TO '{name}'@'%'")
        yield name
    finally:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")
        connection.close()  # type: ignore[attr-defined]


def write_config(folder: Path, entries: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "infra.yaml"
    path.write_text("databases:\n" + textwrap.indent(textwrap.dedent(entries), "  "))
    path.chmod(0o600)
    return path


def entry(name: str, user: str, database: str, rest: str) -> str:
    return (
        f"{name}:\n  type: mysql\n  host: 127.0.0.1\n  user: {user}\n  database: {database}\n"
        + textwrap.indent(rest, "  ")
        + "\n"
    )


def who(db: dbnb.Database, *, guarded: bool = False) -> str:
    """The user the server let in (``guarded``: through the SQLAlchemy pool, else columnar)."""
    frame = db.query("SELECT CURRENT_USER() AS u", max_rows=5 if guarded else None)
    return str(frame["u"][0]).split("@")[0]


# --- the keyring, a file, option files ---------------------------------------------------


@pytest.mark.mysql
def test_keyring_file_and_option_files_reach_a_checked_password(
    tmp_path: Path, user: str, mysql_database: str, keyring_file: Path
) -> None:
    import keyring

    keyring.set_password("dbnb", "by_default", PASSWORD)
    keyring.set_password("shop", user, PASSWORD)
    (tmp_path / "conf" / "secrets").mkdir(parents=True)
    (tmp_path / "conf" / "secrets" / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "conf" / "my.cnf").write_text(
        f'[client]\nuser={user}\npassword="{PASSWORD}"\nhost=127.0.0.1\n'
    )
    path = write_config(
        tmp_path / "conf",
        entry("by_default", user, mysql_database, "password: ${keyring}")
        + entry("by_name", user, mysql_database, f"password: ${{keyring:shop/{user}}}")
        + entry("by_file", user, mysql_database, "password: ${file:secrets/pw}")
        + f"by_options:\n  type: mysql\n  database: {mysql_database}\n"
        "  option_files: my.cnf\n",
    )
    config = dbnb.load_config(path)
    assert config.nudges == ()  # no password in plain text, nothing to warn of
    registry = dbnb.Registry(config)
    try:
        for name in ("by_default", "by_name", "by_file", "by_options"):
            db = registry.connect(name)
            assert who(db) == user, name  # the guarded path
            assert db.query("SELECT 1 AS one", max_rows=5)["one"].tolist() == [1]
            assert asyncio.run(db.aquery("SELECT 2 AS two"))["two"].tolist() == [2]
            assert PASSWORD not in repr(db.config) + db.config.safe_url
        assert registry.connect("by_file")._arrow.served >= 1  # connectorx read with it too
    finally:
        registry.close()


def test_a_missing_keyring_entry_names_the_command_that_sets_it(
    tmp_path: Path, keyring_file: Path
) -> None:
    path = write_config(tmp_path / "c", "warehouse:\n  type: postgresql\n  password: ${keyring}\n")
    config = dbnb.load_config(path)
    with pytest.raises(ConfigError) as raised:
        config.get("warehouse")
    message = str(raised.value)
    assert "\n" not in message
    assert "connection 'warehouse'" in message
    assert "dbnb secret set warehouse" in message
    assert "line 4" in config.problem("warehouse")  # type: ignore[operator]


def test_a_file_reference_is_relative_to_the_config_and_loses_its_newline(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "token").write_text("file-Tq4-token\n")
    path = write_config(tmp_path / "c", "s:\n  type: spark\n  host: h\n  token: ${file:token}\n")
    config = dbnb.load_config(path).get("s")
    assert config.url.password == "file-Tq4-token"
    assert "file-Tq4-token" not in config.safe_url + repr(config)
    missing = write_config(tmp_path / "d", "s:\n  type: spark\n  host: h\n  token: ${file:nope}\n")
    with pytest.raises(ConfigError, match=r"cannot read .*nope \(\$\{file:nope\}\)"):
        dbnb.load_config(missing).get("s")


# --- a password command ------------------------------------------------------------------

ROTATE = """\
import sys, uuid, pymysql
count_file, user, fail = sys.argv[1], sys.argv[2], sys.argv[3] == "fail"
with open(count_file, "a") as f:
    f.write("run\\n")
if fail:
    print("rotate: the vault is sealed", file=sys.stderr)
    sys.exit(3)
token = "tok-" + uuid.uuid4().hex
admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
with admin.cursor() as cursor:  # only the newest token lets the user in
    cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, token))
print(token)
"""


@pytest.mark.mysql
def test_a_password_command_runs_once_per_new_server_connection(
    tmp_path: Path, user: str, mysql_database: str
) -> None:
    script = tmp_path / "rotate.py"
    script.write_text(ROTATE)
    runs = tmp_path / "runs"
    command = f"password_command: [{sys.executable}, {script}, {runs}, {user}, ok]"
    path = write_config(tmp_path / "c", entry("rotating", user, mysql_database, command))
    registry = dbnb.Registry(path)

    def ran() -> int:
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    try:
        db = registry.connect("rotating")
        assert ran() == 0  # nothing runs before a connection is needed
        ids = {int(db.query("SELECT CONNECTION_ID() AS id", max_rows=5)["id"][0]) for _ in range(5)}
        assert (len(ids), ran()) == (1, 1)  # five queries, one server connection, one run
        db.engine.pool.dispose()  # the next query needs a new server connection...
        assert who(db, guarded=True) == user  # ...with a new token (the old one no longer works)
        assert ran() == 2
        before = ran()
        assert asyncio.run(db.aquery("SELECT 3 AS three"))["three"].tolist() == [3]
        assert ran() == before + 1  # the async pool's first connection
        before = ran()
        frame = db.query("SELECT 4 AS four")  # columnar: two connections of its own, each
        assert frame["four"].tolist() == [4]  # with a fresh token (the describer's, connectorx's)
        assert (db._arrow.served, ran()) == (1, before + 2)
    finally:
        registry.close()


@pytest.mark.mysql
def test_a_failing_password_command_is_one_line_with_status_and_stderr(
    tmp_path: Path, user: str, mysql_database: str
) -> None:
    script = tmp_path / "rotate.py"
    script.write_text(ROTATE)
    command = f"password_command: [{sys.executable}, {script}, {tmp_path / 'r'}, {user}, fail]"
    path = write_config(tmp_path / "c", entry("sealed", user, mysql_database, command))
    registry = dbnb.Registry(path)
    try:
        with pytest.raises(DbnbError) as raised:
            registry.connect("sealed").query("SELECT 1")
    finally:
        registry.close()
    message = str(raised.value)
    assert "\n" not in message
    assert "'sealed'" in message
    assert "exited with status 3: rotate: the vault is sealed" in message


def test_a_command_that_is_missing_or_hangs_says_so(tmp_path: Path) -> None:
    base = tmp_path
    missing = secrets.PasswordCommand(("no-such-program-dbnb",), "lake", base)
    with pytest.raises(ConfigError, match="'no-such-program-dbnb' not found"):
        missing.run()
    empty = secrets.PasswordCommand(("true",), "lake", base)
    with pytest.raises(ConfigError, match="printed no password"):
        empty.run()
    assert secrets.as_command("op read 'op://vault/a b/pw'") == ("op", "read", "op://vault/a b/pw")
    with pytest.raises(ConfigError, match="either password or password_command"):
        dbnb.parse_config(
            "databases:\n  a:\n    type: mysql\n    password: x\n    password_command: echo\n"
        ).get("a")


# --- dbnb secret set / delete --------------------------------------------------------------


@pytest.mark.mysql
def test_dbnb_secret_set_through_stdin_then_the_keyring_connects(
    tmp_path: Path, user: str, mysql_database: str, keyring_file: Path
) -> None:
    path = write_config(tmp_path / "c", entry("shop", user, mysql_database, "password: ${keyring}"))
    env = {**os.environ, "DBNB_CONFIG": str(path)}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dbnb", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    listed = cli("list")
    assert "dbnb secret set shop" in listed.stdout  # the broken entry says how to fix it
    stored = cli("secret", "set", "shop", stdin=PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    assert PASSWORD not in stored.stdout + stored.stderr
    queried = cli("query", "shop", "SELECT CURRENT_USER() AS u", "--format", "csv")
    assert queried.returncode == 0, queried.stderr
    assert user in queried.stdout
    assert cli("secret", "delete", "shop").returncode == 0
    assert cli("secret", "delete", "shop").returncode == 1  # nothing left to delete
    again = cli("query", "shop", "SELECT 1")
    assert again.returncode == 1
    assert "no password in the keyring for (dbnb, shop)" in again.stderr


# --- libpq's own files ----------------------------------------------------------------------


@pytest.fixture
def service_file(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A pg_service.conf whose service names the run's database: only the file knows it."""
    url = make_url(PG_ADMIN)
    path = tmp_path / "pg_service.conf"
    path.write_text(
        f"[dbnb_svc]\nhost={url.host}\nport={url.port or 5432}\nuser={url.username}\n"
        f"dbname={pg_database}\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(path))
    return pg_database


@pytest.mark.postgresql
def test_a_service_reaches_the_database_only_the_service_file_names(
    tmp_path: Path, service_file: str
) -> None:
    path = write_config(
        tmp_path / "c",
        "svc:\n  type: postgresql\n  service: dbnb_svc\n"
        "svc_url:\n  url: postgresql://?service=dbnb_svc\n",
    )
    registry = dbnb.Registry(path)
    try:
        for name in ("svc", "svc_url"):
            db = registry.connect(name)
            here = "SELECT current_database() AS d"
            assert db.query(here)["d"].tolist() == [service_file], name  # columnar (ADBC)
            assert db._arrow.served >= 1
            assert db.query(here, max_rows=5)["d"].tolist() == [service_file]  # guarded
            assert asyncio.run(db.aquery(here))["d"].tolist() == [service_file]  # async
    finally:
        registry.close()
    cli = subprocess.run(
        [sys.executable, "-m", "dbnb", "--config", str(path), "query", "svc", here],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert service_file in cli.stdout, cli.stderr


@pytest.mark.postgresql
def test_dbnb_testing_takes_a_service_url(service_file: str) -> None:
    """The pytest plugin's throwaway databases on a server only the service file names
    (without it, libpq would try the local socket as the user running the tests)."""
    from dbnb.config import url_connection
    from dbnb.devtools import testing

    admin = "postgresql://?service=dbnb_svc"
    with testing.throwaway_pg_database(admin) as name:
        db = dbnb.Database(url_connection("t", testing.database_url(admin, name)))
        try:
            assert db.query("SELECT current_database() AS d")["d"].tolist() == [name]
        finally:
            db.close()


def test_an_entry_without_password_leaves_libpq_its_pgpass(tmp_path: Path) -> None:
    """No password, not even an empty one, goes to libpq: it reads ~/.pgpass (PGPASSFILE)."""
    from dbnb.backends.postgresql import libpq
    from dbnb.backends.registry import backend_for
    from dbnb.engine.engines import engine_arguments

    config = dbnb.parse_config(
        "databases:\n  a:\n    type: postgresql\n    host: h\n    user: u\n    database: d\n"
    ).get("a")
    backend = backend_for("postgresql")
    assert "password" not in engine_arguments(config, backend).connect_args
    assert config.url.password is None
    uri = libpq.postgresql_uri(config, backend)
    assert uri.startswith("postgresql://u@h/d?")
    assert "password" not in uri


# --- the nudge --------------------------------------------------------------------------------


def test_list_warns_of_a_plain_text_password_with_file_and_line(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c",
        "safe:\n  type: postgresql\n  password: ${keyring}\n"
        "plain:\n  type: postgresql\n  host: h\n  password: hunter2-plain\n"
        "in_url:\n  url: postgresql://u:hunter3-plain@h/d\n",
    )
    path.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "dbnb", "--config", str(path), "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert any(f"{path}:8: connection 'plain'" in line for line in warnings)
    assert any(f"{path}:10: connection 'in_url'" in line for line in warnings)
    assert any("others can read it (mode 644)" in line for line in warnings)
    assert not any("'safe'" in line for line in warnings)
    assert "hunter2-plain" not in done.stdout + done.stderr
    path.chmod(0o600)
    assert not any("others can read" in note for note in dbnb.load_config(path).nudges)


# --- the secret scan: every source, every error path ------------------------------------------

SOURCES = ("keyring", "file", "command", "option_files")


def source_entry(source: str, folder: Path, user: str) -> str:
    """The YAML lines that give ``user`` the password PASSWORD from ``source``."""
    if source == "keyring":
        return "password: ${keyring:scan/" + user + "}"
    if source == "file":
        (folder / "pw").write_text(PASSWORD + "\n")
        return "password: ${file:pw}"
    if source == "command":
        (folder / "vault.py").write_text(f"print({PASSWORD!r})")
        return f"password_command: {sys.executable} vault.py  # runs in the config's folder"
    (folder / f"{user}.cnf").write_text(f"[client]\npassword = {PASSWORD}\n")
    return f"option_files: {user}.cnf"


@pytest.mark.mysql
@pytest.mark.postgresql
@pytest.mark.parametrize("source", SOURCES)
def test_no_error_path_shows_a_secret_from_any_source(
    source: str,
    tmp_path: Path,
    user: str,
    mysql_database: str,
    pg_database: str,
    keyring_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    import keyring

    from dbnb.config.masking import secret_forms
    from tests.test_secrets import frame_leaks, shown_with_locals, shown_without_locals

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    folder = tmp_path / "c"
    folder.mkdir()
    for name in (user, "postgres"):
        keyring.set_password("scan", name, PASSWORD)
    mine = source_entry(source, folder, user)
    pg = source_entry(source, folder, "postgres")
    if source == "option_files":  # MariaDB's files: PostgreSQL takes the password from a file
        pg = source_entry("file", folder, "postgres")
    pg_at = f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\n{pg}\n"
    path = write_config(
        folder,
        entry("my", user, mysql_database, mine + "\nslow_query_ms: 0")
        + entry("my_ro", user, mysql_database, mine + "\nreadonly: true")
        + entry("my_refused", user, mysql_database, mine + "\nport: 1")
        + "pg:\n"
        + textwrap.indent(f"{pg_at}database: {pg_database}\nlog_parameters: true", "  ")
        + "\npg_refused:\n"
        + textwrap.indent(f"{pg_at}port: 1\nconnect_args: {{connect_timeout: 2}}", "  ")
        + "\npg_no_db:\n"
        + textwrap.indent(f"{pg_at}database: nodb_{uuid.uuid4().hex[:8]}", "  ")
        + "\n",
    )
    dbnb.clear_history()
    registry = dbnb.Registry(path)
    produced: list[object] = [registry.config, dict(registry.config.connections)]
    attempts = {
        "my ok": lambda: registry.connect("my").query("SELECT CURRENT_USER() AS u"),
        "my ok, guarded": lambda: registry.connect("my").query("SELECT 1 AS x", max_rows=5),
        "my bad sql": lambda: registry.connect("my").query("SELEC 1"),
        "my columnar fails": lambda: registry.connect("my").query(
            "SELECT (SELECT 1 UNION SELECT 2) AS x"
        ),
        "my read-only": lambda: registry.connect("my_ro").query("CREATE TABLE leak (x int)"),
        "my timeout": lambda: registry.connect("my").query("SELECT SLEEP(2)", timeout=0.2),
        "my refused": lambda: registry.connect("my_refused").query("SELECT 1"),
        "my health": lambda: registry.connect("my_refused").health(),
        "my async": lambda: asyncio.run(registry.connect("my_refused").aquery("SELECT 1")),
        "pg ok": lambda: registry.connect("pg").query("SELECT current_user AS u"),
        "pg bad sql": lambda: registry.connect("pg").query("SELEC 1"),
        "pg refused": lambda: registry.connect("pg_refused").query("SELECT 1"),
        "pg no db": lambda: registry.connect("pg_no_db").query("SELECT 1"),
        "pg async": lambda: asyncio.run(registry.connect("pg_no_db").aquery("SELECT 1")),
        "pg health": lambda: registry.connect("pg_no_db").health(),
    }
    errors = []
    try:
        for name, attempt in attempts.items():
            try:
                produced.append(attempt())
            except Exception as error:
                errors.append((name, error))
        produced += [registry.connect(name) for name in registry.names]
        produced.append(dbnb.history())
    finally:
        registry.close()
    assert {name for name, _ in errors} >= {
        "my bad sql",
        "my refused",
        "my read-only",
        "pg refused",
        "pg no db",
    }
    assert user in produced[2].to_string()  # type: ignore[attr-defined]  # the password worked
    listed = subprocess.run(
        [sys.executable, "-m", "dbnb", "--config", str(path), "list"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
        check=False,
    )
    output = capsys.readouterr()
    texts = [repr(item) + str(item) for item in produced]
    texts += [record.getMessage() for record in caplog.records]
    texts += [output.out, output.err, listed.stdout, listed.stderr]
    for name, error in errors:
        texts += [shown_without_locals(error), shown_with_locals(error)]
        assert frame_leaks(error, secret_forms(PASSWORD)) == [], name
    for needle in secret_forms(PASSWORD):
        assert [text[:200] for text in texts if needle in text] == [], needle


def test_a_failing_command_that_prints_its_secret_shows_it_masked(tmp_path: Path) -> None:
    secret = "cmd-Ww3-secret-token"
    script = (
        f"import sys; print({secret!r}); sys.stderr.write('denied for ' + {secret!r}); sys.exit(2)"
    )
    command = secrets.PasswordCommand((sys.executable, "-c", script), "lake", tmp_path)
    with pytest.raises(ConfigError) as raised:
        command.run()
    assert "exited with status 2: denied for ***" in str(raised.value)
    assert secret not in str(raised.value)


# --- %db secret and %db's nudge ------------------------------------------------------------------


@pytest.fixture
def config_path(tmp_path: Path, user: str, mysql_database: str, keyring_file: Path) -> Path:
    """The config of the `ip` shell: an entry whose password is in the keyring (once
    `%db secret` put it there), and one with a password in plain text."""
    return write_config(
        tmp_path / "nb",
        entry("shop", user, mysql_database, "password: ${keyring}")
        + "plain:\n  type: mysql\n  host: 127.0.0.1\n  user: x\n  password: plain-Hx2-text\n",
    )


@pytest.mark.mysql
def test_db_secret_stores_the_password_and_the_entry_then_connects(
    ip: object,
    config_path: Path,
    user: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import getpass

    from IPython.core.error import UsageError

    from tests.magic_fixtures import db as run

    with pytest.raises(UsageError, match="dbnb secret set shop"):
        run(ip, "use shop")  # type: ignore[arg-type]
    asked = []

    def typed(prompt: str) -> str:  # the password field: what the user types
        asked.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", typed)
    run(ip, "secret shop")  # type: ignore[arg-type]
    assert asked == ["password of 'shop' (not shown): "]
    run(ip, "use shop")  # type: ignore[arg-type]
    frame = run(ip, "SELECT CURRENT_USER() AS u")  # type: ignore[arg-type]
    assert str(frame["u"][0]).startswith(user + "@")
    run(ip, "")  # type: ignore[arg-type]
    run(ip, "")  # type: ignore[arg-type]
    output = capsys.readouterr()
    nudges = [line for line in output.err.splitlines() if "plain text" in line]
    assert len(nudges) == 1  # once, however often %db lists
    assert f"{config_path}:12: connection 'plain'" in nudges[0]
    assert PASSWORD not in output.out + output.err
    assert "plain-Hx2-text" not in output.out + output.err
