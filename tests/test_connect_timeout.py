"""Nothing waits forever for a server that does not answer (issue 24).

A TCP server that accepts every connection and never sends a byte stands in for a
hung PostgreSQL or MariaDB: each way of reading gives up within connect_timeout (or
the call's own timeout), with one line naming the connection, the address and the
remedy, and Ctrl-C stops a connect in progress. Nothing is left holding a slot.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import dbnb
from dbnb.backends.postgresql import libpq
from dbnb.backends.registry import backend_for
from dbnb.engine import engines
from dbnb.read import arrow
from tests.fixtures import config_text
from tests.test_cli import dbnb_cli, one_error_line
from tests.test_complete_kernel import running_kernel
from tests.test_limits import interrupt_after

KINDS = {"postgresql": "postgresql", "mysql": "mysql"}
BOUND = 8.0  # seconds: connect_timeout 1 (libpq counts it as 2), with a generous margin


@contextmanager
def silent_server() -> Iterator[int]:
    """A server on 127.0.0.1 that accepts connections and never says a word: its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed: the test is over
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
        for connection in held:
            connection.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_server() as port:
        yield port


def silent_entry(kind: str, port: int, connect_timeout: float | None = 1, **extra: str) -> str:
    lines = [f"type: {kind}", "host: 127.0.0.1", f"port: {port}", "database: x", "user: x"]
    if connect_timeout is not None:
        lines.append(f"connect_timeout: {connect_timeout:g}")
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return "\n".join(lines)


@pytest.fixture
def silent(
    tmp_path: Path, pg_database: str, mysql_database: str, silent_port: int
) -> Iterator[dbnb.Registry]:
    """The usual connections, and for each server kind a silent one (connect_timeout 1)
    and a patient one (connect_timeout 30)."""
    entries = {}
    for kind in KINDS:
        entries[f"{kind}_silent"] = silent_entry(kind, silent_port)
        entries[f"{kind}_patient"] = silent_entry(kind, silent_port, 30)
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir()
    path.write_text(config_text(tmp_path, pg_database, mysql_database, **entries))
    registry = dbnb.Registry(dbnb.load_config(path))
    yield registry
    registry.close()


def no_answer(name: str, port: int, seconds: str, how: str) -> str:
    return re.escape(
        f"connection {name!r}: no answer from 127.0.0.1:{port} within {seconds} s {how}"
    )


def nothing_held(db: dbnb.Database) -> None:
    """No phantom slot or connection after the failed connect."""
    assert db.budget.open == 0
    assert db.budget._pending == 0
    assert db._arrow.checkedout() == 0
    if db._engine is not None:
        assert db.engine.pool.checkedout() == 0


def good_query_works(registry: dbnb.Registry, kind: str) -> None:
    assert registry.connect(kind).query("SELECT 1 AS one")["one"].tolist() == [1]


# --- each way in gives up within connect_timeout ----------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.usefixtures("read_path")
def test_query_gives_up_within_connect_timeout(
    silent: dbnb.Registry, silent_port: int, kind: str, read_path: str
) -> None:
    db = silent.connect(f"{kind}_silent")
    started = time.monotonic()
    with pytest.raises(dbnb.ConnectError) as raised:
        db.query("SELECT 1")
    elapsed = time.monotonic() - started
    assert elapsed < BOUND
    message = str(raised.value)
    assert "\n" not in message
    assert re.fullmatch(
        no_answer(f"{kind}_silent", silent_port, "1", "(connect_timeout); ")
        + r"is the server up\? raise connect_timeout in the config \(.*infra\.yaml:\d+\)",
        message,
    )
    assert raised.value.address == f"127.0.0.1:{silent_port}"
    assert raised.value.seconds == 1
    if read_path == "arrow":
        # The columnar path's own connect gave up: the guarded path did not wait again.
        assert db._engine is None
    nothing_held(db)
    good_query_works(silent, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_session_gives_up_within_connect_timeout(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    db = silent.connect(f"{kind}_silent")
    started = time.monotonic()
    with pytest.raises(dbnb.ConnectError, match=no_answer(f"{kind}_silent", silent_port, "1", "")):
        with db.session() as session:
            session.execute(text("SELECT 1"))
    assert time.monotonic() - started < BOUND
    nothing_held(db)


@pytest.mark.parametrize("kind", KINDS)
def test_aquery_gives_up_within_connect_timeout(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    db = silent.connect(f"{kind}_silent")
    started = time.monotonic()
    with pytest.raises(dbnb.ConnectError, match=no_answer(f"{kind}_silent", silent_port, "1", "")):
        asyncio.run(db.aquery("SELECT 1"))
    assert time.monotonic() - started < BOUND
    assert db.budget.open == 0
    assert db.budget._pending == 0
    asyncio.run(db.aclose())


def cli_startup(registry: dbnb.Registry) -> float:
    """How long the dbnb command takes to answer a query of SQLite now: what it costs
    to start (pandas and SQLAlchemy imported), which a busy machine makes longer."""
    started = time.monotonic()
    assert dbnb_cli("query", "sqlite", "SELECT 1", config=registry.config.path).code == 0
    return time.monotonic() - started


@pytest.mark.parametrize("kind", KINDS)
def test_cli_query_gives_up_within_connect_timeout(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    startup = cli_startup(silent)
    started = time.monotonic()
    run = dbnb_cli("query", f"{kind}_silent", "SELECT 1", config=silent.config.path)
    elapsed = time.monotonic() - started
    assert run.code != 0
    line = one_error_line(run)
    assert re.search(no_answer(f"{kind}_silent", silent_port, "1", "(connect_timeout)"), line)
    assert elapsed < 2 * startup + BOUND


@pytest.mark.parametrize("kind", KINDS)
def test_health_names_the_silent_server(silent: dbnb.Registry, silent_port: int, kind: str) -> None:
    started = time.monotonic()
    health = silent.connect(f"{kind}_silent").health()
    assert time.monotonic() - started < BOUND
    assert not health.reachable
    assert health.error is not None
    assert re.match(no_answer(f"{kind}_silent", silent_port, "1", ""), health.error)


# --- a call's own timeout bounds connecting ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.usefixtures("read_path")
def test_a_calls_timeout_bounds_connecting(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    db = silent.connect(f"{kind}_patient")  # connect_timeout: 30
    started = time.monotonic()
    with pytest.raises(dbnb.ConnectError) as raised:
        db.query("SELECT 1", timeout=1)
    assert time.monotonic() - started < BOUND
    assert re.match(
        no_answer(f"{kind}_patient", silent_port, "1", "(this call's timeout"), str(raised.value)
    )
    nothing_held(db)


@pytest.mark.parametrize("kind", KINDS)
def test_an_aquery_timeout_bounds_connecting(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    db = silent.connect(f"{kind}_patient")
    started = time.monotonic()
    with pytest.raises(dbnb.ConnectError, match=r"within 1 s \(this call's timeout"):
        asyncio.run(db.aquery("SELECT 1", timeout=1))
    assert time.monotonic() - started < BOUND
    asyncio.run(db.aclose())


def test_the_cli_timeout_bounds_connecting(silent: dbnb.Registry, silent_port: int) -> None:
    startup = cli_startup(silent)
    started = time.monotonic()
    run = dbnb_cli(
        "query", "postgresql_patient", "SELECT 1", "--timeout", "1", config=silent.config.path
    )
    assert time.monotonic() - started < 2 * startup + BOUND
    assert re.search(r"within 1 s \(this call's timeout", one_error_line(run))


# --- Ctrl-C stops a connect in progress ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.usefixtures("read_path")
def test_ctrl_c_stops_a_connect(silent: dbnb.Registry, kind: str, read_path: str) -> None:
    db = silent.connect(f"{kind}_patient")  # would wait 30 s
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupt_after(0.5):
        db.query("SELECT 1")
    assert time.monotonic() - started < BOUND
    nothing_held(db)
    good_query_works(silent, kind)


# --- the default, and connect_args' own ----------------------------------------------------


def entry(text_: str) -> dbnb.ConnectionConfig:
    return dbnb.parse_config(f"databases:\n  x:\n{text_}").get("x")


@pytest.mark.parametrize("kind", KINDS)
def test_the_default_connect_timeout_reaches_the_driver(kind: str) -> None:
    config = entry(f"    type: {kind}\n    host: 127.0.0.1\n")
    assert config.connect_timeout == 10
    backend = backend_for(config.backend)
    assert engines.engine_arguments(config, backend).connect_args["connect_timeout"] == 10
    arguments = engines.engine_arguments(config, backend, drivername=backend.async_driver)
    assert arguments.connect_args["connect_timeout"] == 10
    if kind == "postgresql":
        assert "connect_timeout=10" in libpq.postgresql_uri(config, backend)


@pytest.mark.parametrize("kind", KINDS)
def test_the_key_and_connect_args_reach_the_driver(kind: str) -> None:
    config = entry(f"    type: {kind}\n    connect_timeout: 4\n")
    backend = backend_for(config.backend)
    assert engines.engine_arguments(config, backend).connect_args["connect_timeout"] == 4
    explicit = entry(
        f"    type: {kind}\n    connect_timeout: 4\n    connect_args: {{connect_timeout: 3}}\n"
    )
    assert engines.engine_arguments(explicit, backend).connect_args["connect_timeout"] == 3
    if kind == "postgresql":
        assert "connect_timeout=3" in libpq.postgresql_uri(explicit, backend)


def test_connect_args_wins_and_is_named(tmp_path: Path, pg_database: str, silent_port: int) -> None:
    body = silent_entry("postgresql", silent_port, None, connect_args="{connect_timeout: 1}")
    path = tmp_path / "infra.yaml"
    path.write_text(config_text(tmp_path, pg_database, pg_silent=body))
    registry = dbnb.Registry(dbnb.load_config(path))
    try:
        with pytest.raises(
            dbnb.ConnectError,
            match=r"within 1 s \(connect_args: connect_timeout\); is the server up\? "
            r"raise connect_args: connect_timeout in the config",
        ):
            registry.connect("pg_silent").query("SELECT 1")
    finally:
        registry.close()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_connect_timeout_must_be_seconds_above_zero(value: str) -> None:
    with pytest.raises(dbnb.ConfigError, match=r"key 'connect_timeout': expected a number"):
        entry(f"    type: postgresql\n    connect_timeout: {value}\n")


def test_mysql_statements_outlast_the_connect_timeout(
    tmp_path: Path, pg_database: str, mysql_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The greeting is read within connect_timeout; statements then run as long as they
    take (PyMySQL's read_timeout is back to none once connected)."""
    monkeypatch.setattr(arrow.ArrowReader, "plan", lambda self, prepared: None)  # guarded
    body = f"type: mysql\nhost: 127.0.0.1\ndatabase: {mysql_database}\nuser: root\n"
    body += "connect_timeout: 1"
    path = tmp_path / "infra.yaml"
    path.write_text(config_text(tmp_path, pg_database, quick=body))
    registry = dbnb.Registry(dbnb.load_config(path))
    try:
        db = registry.connect("quick")
        assert db.query("SELECT SLEEP(1.5) AS slept")["slept"].tolist() == [0]
        with db.connection() as connection:
            assert connection.connection.driver_connection._read_timeout is None
    finally:
        registry.close()


# --- in a real kernel ------------------------------------------------------------------


def kernel_error(client: Any, code: str, timeout: float = 60) -> tuple[float, str, str]:
    """Run ``code`` in the kernel: seconds it took, its reply status, and what it wrote
    to stderr or as an error ("" when nothing)."""
    started = time.monotonic()
    errors: list[str] = []

    def output(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "error":
            errors.append(content["evalue"])
        elif message["msg_type"] == "stream" and content["name"] == "stderr":
            errors.append(content["text"].strip())

    reply = client.execute_interactive(code, timeout=timeout, output_hook=output)
    return time.monotonic() - started, reply["content"]["status"], "\n".join(errors)


@pytest.mark.parametrize("kind", KINDS)
def test_a_kernel_gives_up_on_a_silent_server_and_ctrl_c_stops_a_connect(
    silent: dbnb.Registry, silent_port: int, kind: str
) -> None:
    config_path = silent.config.path
    assert config_path is not None
    with running_kernel(config_path, ("%load_ext dbnb",)) as (manager, client):
        # connect_timeout 1: a line query gives up, one line naming the connection.
        elapsed, status, error = kernel_error(client, f"%%db {kind}_silent\nSELECT 1")
        assert status == "error"
        assert elapsed < BOUND
        assert re.search(no_answer(f"{kind}_silent", silent_port, "1", ""), error), error
        assert "\n" not in error
        # connect_timeout 30: an interrupt stops the connect at once, and the kernel
        # goes on (the next cell runs).
        message_id = client.execute(f"%%db {kind}_patient\nSELECT 1")
        time.sleep(1.0)
        started = time.monotonic()
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=BOUND)
        while reply["parent_header"].get("msg_id") != message_id:
            reply = client.get_shell_msg(timeout=BOUND)
        assert time.monotonic() - started < BOUND
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] in ("KeyboardInterrupt", "Interrupted"), reply
        # A cell that reaches the kernel while it still unwinds the interrupt is
        # aborted, as a Run All stops at an error (ipykernel's stop_on_error); the next
        # cell the user runs after the error shows, runs.
        for _ in range(5):
            _, status, error = kernel_error(client, "print('still here')")
            if status != "aborted":
                break
            time.sleep(0.5)
        assert (status, error) == ("ok", "")
