"""The local development PostgreSQL server: its config block; a real one from installed binaries."""

from __future__ import annotations

import os
import pwd
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

import dbnb
from dbnb.devtools import pgserver
from tests.fixtures import SECRET, free_port
from tests.test_cli import dbnb_cli

PASSWORD = "s3cret-dev-pw"


def write_config(home: Path, port: int) -> Path:
    path = home / "etc" / "infra.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""
pgserver:
  name: devdb
  port: {port}
  user: dev
  pass: ${{DBNB_TEST_SERVER_PASS:-{PASSWORD}}}
  data: ../data
  runner: local
databases:
  dev:                  # the pgserver block's host, port, user, password and name
    type: postgresql
    host: 127.0.0.1
    port: {port}
    database: devdb
    user: dev
    password: ${{DBNB_TEST_SERVER_PASS:-{PASSWORD}}}
"""
    )
    return path


def test_local_server_starts_keeps_data_across_a_restart_and_stops(
    server_home: Path, open_registry: Callable[[Path], dbnb.Registry]
) -> None:
    config_path = write_config(server_home, free_port())
    server = pgserver.load_pgserver(config_path)
    assert server.data == server_home / "data"
    try:
        started = pgserver.start(server)
        assert started.running
        assert started.runner == "local"
        assert PASSWORD not in str(started)
        if os.geteuid() == 0:  # CI: the server runs as postgres, which owns its files
            assert (server_home / "data").stat().st_uid == pwd.getpwnam("postgres").pw_uid
        assert pgserver.start(server).running  # a second start finds it running

        database = open_registry(config_path).connect("dev")
        with database.session(write=True) as session:
            session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
            session.execute(text("INSERT INTO notes VALUES (1, 'kept'), (2, 'also kept')"))
        database.close()

        stopped = pgserver.stop(server)
        assert not stopped.running
        assert not pgserver.status(server).running
        with pytest.raises(dbnb.DbnbError, match="cannot connect to 'dev'"):
            database.query("SELECT 1")

        assert pgserver.start(server).running
        frame = database.query("SELECT body FROM notes ORDER BY id")
        assert frame["body"].tolist() == ["kept", "also kept"]
        database.close()
    finally:
        pgserver.stop(server)
    assert not pgserver.status(server).running


def test_start_refuses_a_port_that_is_taken(server_home: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = pgserver.load_pgserver(write_config(server_home, taken.getsockname()[1]))
        with pytest.raises(dbnb.ServerError, match=r"port \d+ on 127\.0\.0\.1 is taken"):
            pgserver.start(server)
    assert not (server_home / "data").exists()  # nothing initialised


def test_block_is_read_with_defaults_and_env(tmp_path: Path) -> None:
    text = "databases: {}\npgserver:\n  version: 15\n  port: ${PORT:-6543}\n  pass: ${PW}\n"
    server = pgserver.parse_pgserver(text, environ={"PW": PASSWORD}, path=tmp_path / "i.yaml")
    assert server is not None
    assert (server.version, server.port, server.name, server.user) == (
        "15",
        6543,
        "dbnb",
        "postgres",
    )
    assert server.password == PASSWORD
    assert server.image_name == "postgres:15"
    assert PASSWORD not in repr(server)
    assert PASSWORD not in server.safe_url
    assert server.source == f"{tmp_path / 'i.yaml'}:2"
    assert pgserver.parse_pgserver("databases: {}\n") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  prot: 5433\n", r":3: key 'pgserver.prot': unknown key; did you mean 'port'\?"),
        ("  port: lots\n", r":3: key 'pgserver.port': expected a whole number, got 'lots'"),
        ("  pass: ${NOPE}\n", r":3: key 'pgserver.pass': environment variable NOPE is not set"),
        ("  runner: podman\n", r":3: key 'pgserver.runner': expected one of auto, docker, local"),
        ("  version: latest\n", r":3: key 'pgserver.version': expected a major version"),
    ],
)
def test_bad_block_names_file_line_and_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text("databases: {}\npgserver:\n" + body)
    with pytest.raises(dbnb.ConfigError, match=rf"^{path}{message}"):
        pgserver.load_pgserver(path, environ={})


def test_missing_block_says_what_to_add(tmp_path: Path) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text("databases: {}\n")
    with pytest.raises(dbnb.ConfigError, match="no pgserver: block; add one"):
        pgserver.load_pgserver(path)


def test_docker_engine_absence_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/dbnb-test/docker.sock")
    available, reason = pgserver.docker_engine()
    assert not available
    assert reason.startswith(("no Docker engine reachable (", "no docker command"))


def test_runner_docker_without_an_engine_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/dbnb-test/docker.sock")
    with pytest.raises(dbnb.ServerError, match=r"^runner: docker, but no (Docker engine|docker)"):
        pgserver.runner(pgserver.PgServerConfig(runner="docker"))


def test_auto_falls_back_to_installed_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/dbnb-test/docker.sock")
    chosen = pgserver.runner(pgserver.PgServerConfig())
    assert isinstance(chosen, pgserver.LocalServer)
    assert (chosen.bindir / "initdb").is_file()


def test_neither_docker_nor_binaries_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no initdb
    with pytest.raises(dbnb.ServerError) as caught:
        pgserver.runner(pgserver.PgServerConfig(), bin_roots=())
    message = str(caught.value)
    assert message.startswith("cannot run a local PostgreSQL: no docker command on $PATH, and no ")
    assert "install PostgreSQL" in message
    assert "\n" not in message


def test_a_version_that_is_not_installed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/dbnb-test/docker.sock")
    with pytest.raises(dbnb.ServerError, match="no PostgreSQL 99 binaries"):
        pgserver.runner(pgserver.PgServerConfig(version="99", runner="local"))


# --- the command line: dbnb server start|stop|status ---------------------------------------


def test_server_commands_start_status_stop(server_home: Path) -> None:
    config = server_home / "infra.yaml"
    config.write_text(
        f"pgserver:\n  name: clidb\n  port: {free_port()}\n  pass: {SECRET}\n"
        "  data: data\n  runner: local\n"
    )
    try:
        stopped = dbnb_cli("server", "status", config=config)
        assert stopped.code == 3
        assert stopped.out.startswith("stopped (local: not initialised")
        started = dbnb_cli("server", "start", config=config)
        assert started.code == 0, started.err
        assert started.out.startswith("running (local: PostgreSQL from ")
        assert dbnb_cli("server", "status", config=config).code == 0
        assert dbnb_cli("server", "stop", config=config).out.startswith("stopped (local")
    finally:
        pgserver.stop(pgserver.load_pgserver(config))
    assert not pgserver.status(pgserver.load_pgserver(config)).running
