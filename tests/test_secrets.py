"""No secret ever shows: every public surface, driven with a known password, then scanned.

The PostgreSQL connections of the test config take their password from
$DBNB_TEST_SECRET (the server trusts local connections, so any password
works). Everything the surfaces produce is collected, output, log records,
warnings, errors with their tracebacks, reprs, frames, and searched for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from dbnb.config.masking import secret_forms
from tests.fixtures import MYSQL_ADMIN, SECRET, config_text
from tests.magic_fixtures import db as run


def shown(value: Any) -> str:
    """What a person could see of a value: its repr and str, or a frame's full text."""
    if isinstance(value, pd.DataFrame):
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000):
            return value.to_string() + repr(value.attrs)
    if isinstance(value, BaseException):
        return "".join(traceback.format_exception(value)) + repr(value)
    return repr(value) + str(value)


@pytest.fixture
def secret_config(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBNB_TEST_SECRET", SECRET)
    path = tmp_path / "secret" / "etc" / "infra.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            down=f"type: postgresql\nhost: 127.0.0.1\nport: 1\nuser: me\npassword: {SECRET}\n"
            "connect_args: {connect_timeout: 2}",
            leaky=f"url: postgresql://postgres:{SECRET}@127.0.0.1/{pg_database}\n"
            "log_parameters: true\nslow_query_ms: 0",
        )
    )
    monkeypatch.setenv("DBNB_CONFIG", str(path))
    return path


def drive_library(config: Path) -> list[Any]:
    """Every library surface, good paths and bad; what each returned or raised."""
    produced: list[Any] = []

    def attempt(action: Callable[[], Any]) -> None:
        try:
            produced.append(action())
        except Exception as error:  # every error is scanned, with its traceback
            produced.append(error)

    registry = dbnb.Registry(dbnb.load_config(config))
    produced += [registry, registry.config, dbnb.load_config(config).connections]
    for name in ("postgresql", "postgresql_ro", "leaky", "down"):
        db = registry.connect(name)
        produced += [db, db.config, db.config.safe_url]
        attempt(lambda db=db: db.engine)
        attempt(lambda db=db: db.query("SELECT current_user AS who, :p AS p", {"p": "x"}))
        attempt(lambda db=db: db.query("SELEC 1"))
        attempt(lambda db=db: db.query("CREATE TABLE leak (x int)"))
        attempt(lambda db=db: db.query("SELECT pg_sleep(1)", timeout=0.05))
        attempt(lambda db=db: db.write(pd.DataFrame({"x": [1]}), "no_such_table"))
        attempt(lambda db=db: db.health())
        attempt(lambda db=db: db.health().as_frame())
        attempt(lambda db=db: dbnb.tables(db))
    attempt(lambda: dbnb.history())
    attempt(lambda: registry.connect(f"postgresql://postgres:{SECRET}@127.0.0.1:1/x").query("x"))
    attempt(
        lambda: dbnb.parse_config(
            "databases:\n  a:\n    type: postgresql\n    port: ${P}\n", environ={"P": SECRET}
        )
    )
    registry.close()
    return produced


def test_library_surfaces_never_show_the_password(
    secret_config: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: sqlalchemy's and dbnb's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        produced = drive_library(secret_config)
    output = capsys.readouterr()
    texts = [shown(value) for value in produced]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(warning.message) for warning in caught]
    texts += [output.out, output.err]
    assert len(produced) > 40  # the surfaces really ran
    assert any("***" in text for text in texts)  # and masked where they name the URL
    leaks = [text[:200] for text in texts if SECRET in text]
    assert leaks == []


def test_magics_never_show_the_password(
    ip: InteractiveShell,
    secret_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ip.run_line_magic("unload_ext", "dbnb")  # load again, on the config with the password
    monkeypatch.setenv("DBNB_CONFIG", str(secret_config))
    ip.run_line_magic("load_ext", "dbnb")
    produced: list[Any] = []
    for line in (
        "",
        "use leaky",
        "SELECT current_user AS who",
        "tables",
        "health",
        "history",
        "use down",
        "SELECT 1",
        "health down",
        "use postgresql_ro",
        "CREATE TABLE leak (x int)",
    ):
        try:
            produced.append(run(ip, line))
        except Exception as error:
            produced.append(error)
    output = capsys.readouterr()
    assert isinstance(produced[2], pd.DataFrame)  # the password-bearing connection answered
    assert produced[2]["who"].tolist() == ["postgres"]
    texts = [shown(value) for value in produced] + [output.out, output.err]
    assert [text[:200] for text in texts if SECRET in text] == []


def test_command_line_never_shows_the_password(secret_config: Path) -> None:
    env = {**os.environ, "DBNB_CONFIG": str(secret_config), "DBNB_TEST_SECRET": SECRET}
    commands = [
        ["list"],
        ["health"],
        ["query", "leaky", "SELECT current_user AS who", "--format", "json"],
        ["query", "down", "SELECT 1"],
        ["tables", "leaky"],
    ]
    for command in commands:
        done = run_cli(command, env)
        assert SECRET not in done.stdout + done.stderr, command


def run_cli(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbnb", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


# --- every error path, with a password the server checks and a bound value ----------

# A password with characters a URL encodes (and a "%" SQLAlchemy doubles), and a value
# the server quotes back: neither may show, in any form.
CHECKED_SECRET = "pw Zq8%never@shown!"
BOUND = "bound-Qv9-never-shown"
FORMS = secret_forms(CHECKED_SECRET)


@pytest.fixture
def mariadb_user(mysql_database: str) -> Iterator[str]:
    """A MariaDB user whose password is CHECKED_SECRET, dropped after the test."""
    import pymysql
    from sqlalchemy.engine import make_url

    admin_url = make_url(MYSQL_ADMIN)
    admin = pymysql.connect(
        host=admin_url.host or "127.0.0.1",
        port=admin_url.port or 3306,
        user=admin_url.username or "root",
        password=admin_url.password or "",
        autocommit=True,
    )
    user = f"dbnb_secret_{uuid.uuid4().hex[:10]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                f"CREATE USER IF NOT EXISTS '{user}'@'%%' IDENTIFIED BY %s", (CHECKED_SECRET,)
            )
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{mysql_database}`.* TO '{user}'@'%'")
        yield user
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


@pytest.fixture
def checked_config(
    tmp_path: Path,
    pg_database: str,
    mysql_database: str,
    mariadb_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    password = f'"{CHECKED_SECRET}"'
    pg = f"type: postgresql\nhost: 127.0.0.1\nuser: postgres\npassword: {password}\n"
    my = f"type: mysql\nhost: 127.0.0.1\nuser: {mariadb_user}\npassword: {password}\n"
    path = tmp_path / "checked" / "infra.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            pg=f"{pg}database: {pg_database}",
            pg_ro=f"{pg}database: {pg_database}\nreadonly: true",
            pg_refused=f"{pg}port: 1\ndatabase: {pg_database}\n"
            "connect_args: {connect_timeout: 2}",
            pg_no_db=f"{pg}database: nodb_{uuid.uuid4().hex[:8]}",
            my=f"{my}database: {mysql_database}\nslow_query_ms: 0",
            my_ro=f"{my}database: {mysql_database}\nreadonly: true",
            my_refused=f"{my}port: 1\ndatabase: {mysql_database}",
            my_wrong=f"type: mysql\nhost: 127.0.0.1\nuser: {mariadb_user}\n"
            f"password: wrong-{uuid.uuid4().hex[:6]}\ndatabase: {mysql_database}",
        )
    )
    monkeypatch.setenv("DBNB_CONFIG", str(path))
    return path


def chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception it keeps, shown or not (``from None`` keeps
    ``__context__``; a traceback's locals may still hold it)."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__]
    return found


def frame_leaks(error: BaseException, needles: tuple[str, ...]) -> list[str]:
    """Where a local of a dbnb frame, in any traceback ``error`` keeps, shows a needle."""
    package = str(Path(dbnb.__file__).parent)
    leaks = []
    for item in chain(error):
        tb = item.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(package):
                for name, value in tb.tb_frame.f_locals.items():
                    if any(needle in repr(value) for needle in needles):
                        leaks.append(f"{code.co_filename}:{code.co_name}: {name}")
            tb = tb.tb_next
    return leaks


def shown_without_locals(error: BaseException) -> str:
    """What any reader of ``error`` sees: messages, reprs and attributes of every
    exception it keeps (SQLAlchemy's ``.params`` too), and the formatted traceback."""
    texts = ["".join(traceback.format_exception(error))]
    for item in chain(error):
        texts += [str(item), repr(item), repr(vars(item))]
    return "\n".join(texts)


def shown_with_locals(error: BaseException) -> str:
    """The traceback as ``pytest -l`` or rich's ``show_locals`` print it."""
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


def provoke(registry: dbnb.Registry) -> list[tuple[str, BaseException]]:
    """Every error path that can be provoked here, by name."""
    cast = "SELECT CAST(:v AS integer) AS n"
    paths: dict[str, Callable[[], Any]] = {
        "pg refused": lambda: registry.connect("pg_refused").query("SELECT 1"),
        "pg no such database": lambda: registry.connect("pg_no_db").query("SELECT 1"),
        "pg value, columnar": lambda: registry.connect("pg").query(cast, {"v": BOUND}),
        "pg value, guarded": lambda: registry.connect("pg").query(cast, {"v": BOUND}, max_rows=5),
        "pg value, chunks": lambda: list(
            registry.connect("pg").query(cast, {"v": BOUND}, chunksize=10)
        ),
        "pg value, async": lambda: asyncio.run(registry.connect("pg").aquery(cast, {"v": BOUND})),
        "pg timeout": lambda: registry.connect("pg").query("SELECT pg_sleep(2)", timeout=0.1),
        "pg read-only": lambda: registry.connect("pg_ro").query(
            "CREATE TABLE leak AS SELECT CAST(:v AS text) AS x", {"v": BOUND}
        ),
        "mariadb refused": lambda: registry.connect("my_refused").query("SELECT 1"),
        "mariadb wrong password": lambda: registry.connect("my_wrong").query("SELECT 1"),
        # Past the describe, failing in connectorx, whose URL holds the password.
        "mariadb columnar fails": lambda: registry.connect("my").query(
            "SELECT (SELECT 1 UNION SELECT 2) AS x, :v AS v", {"v": BOUND}
        ),
        "mariadb value": lambda: registry.connect("my").query(
            "SELECT 18446744073709551615 + :n AS e, :v AS v", {"n": 7777, "v": BOUND}
        ),
        "mariadb value, guarded": lambda: registry.connect("my").query(
            "SELECT 18446744073709551615 + :n AS e, :v AS v", {"n": 7777, "v": BOUND}, max_rows=5
        ),
        "mariadb timeout": lambda: registry.connect("my").query("SELECT SLEEP(2)", timeout=0.2),
        "mariadb read-only": lambda: registry.connect("my_ro").query(
            "CREATE TABLE leak AS SELECT :v AS x", {"v": BOUND}
        ),
    }
    raised = []
    for name, action in paths.items():
        try:
            action()
        except Exception as error:
            raised.append((name, error))
        else:
            raise AssertionError(f"{name}: no error")
    return raised


def test_no_error_path_shows_the_password_or_a_bound_value(
    checked_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQLAlchemy's own log
    dbnb.clear_history()
    registry = dbnb.Registry(dbnb.load_config(checked_config))
    try:
        # The password is really checked, and the columnar path really reads with it.
        my = registry.connect("my")
        assert my.query("SELECT :v AS v", {"v": "ok"})["v"].tolist() == ["ok"]
        assert my._arrow.served == 1
        raised = provoke(registry)
        history = dbnb.history().to_string()
    finally:
        registry.close()
    messages = dict((name, str(error)) for name, error in raised)
    # The server's words, with the value named by its placeholder.
    assert messages["pg value, columnar"].endswith("invalid input syntax for type integer: :v")
    assert messages["pg value, guarded"] == messages["pg value, columnar"]
    assert "'18446744073709551615 + :n'" in messages["mariadb value"]
    assert messages["mariadb value, guarded"] == messages["mariadb value"]
    assert "Subquery returns more than 1 row" in messages["mariadb columnar fails"]
    assert "Access denied" in messages["mariadb wrong password"]
    assert "invalid input syntax for type integer: :v" in history
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SQL parameters hidden" in logged  # SQLAlchemy logged the statements

    for name, error in raised:
        assert frame_leaks(error, FORMS) == [], name
        for needle in (*FORMS, BOUND):
            assert needle not in shown_without_locals(error), (name, needle)
        for needle in FORMS:
            assert needle not in shown_with_locals(error), (name, needle)
    for needle in (*FORMS, BOUND, "7777"):
        assert needle not in history, needle
        assert needle not in logged, needle


def test_no_dbnb_frame_holds_the_password_when_connecting_fails(checked_config: Path) -> None:
    """The engine's own error, raised through dbnb's connect listener (``pytest -l``)."""
    registry = dbnb.Registry(dbnb.load_config(checked_config))
    try:
        for name in ("pg_refused", "my_refused", "my_wrong"):
            with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
                registry.connect(name).engine.connect()
            assert frame_leaks(raised.value, FORMS) == [], name
    finally:
        registry.close()


def test_the_command_line_error_line_shows_neither(checked_config: Path) -> None:
    env = {**os.environ, "DBNB_CONFIG": str(checked_config)}
    for command in (
        ["query", "pg", "SELECT CAST(:v AS integer)", "--param", f"v={BOUND}"],
        ["query", "my_wrong", "SELECT 1"],
        ["query", "pg_refused", "SELECT 1"],
    ):
        done = run_cli(command, env)
        assert done.returncode != 0, command
        for needle in (*FORMS, BOUND):
            assert needle not in done.stdout + done.stderr, (command, needle)
        if command[1] == "pg":
            assert "invalid input syntax for type integer: :v" in done.stderr


@pytest.mark.postgresql
@pytest.mark.parametrize("password", ["dev", "x"])
def test_a_password_is_masked_only_where_it_stands_as_a_value(password: str) -> None:
    database = f"devdbx_{uuid.uuid4().hex[:6]}"
    url = f"postgresql://postgres:{password}@127.0.0.1/{database}"
    registry = dbnb.Registry(dbnb.parse_config(f"databases:\n  p:\n    url: {url}\n"))
    try:
        with pytest.raises(dbnb.DbnbError) as raised:
            registry.connect("p").query("SELECT 1")
        health = registry.connect("p").health()
    finally:
        registry.close()
    shown = f'database "{database}" does not exist'  # neither "***dbx" nor "e***ist"
    assert str(raised.value).endswith(shown)
    assert "postgres:***@" in str(raised.value)  # the URL's password, masked
    assert health.error is not None
    assert health.error.endswith(shown)
