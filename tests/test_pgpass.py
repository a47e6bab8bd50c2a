"""Secrets by reference (issue 27): libpq's password file, ``.pgpass`` (``$PGPASSFILE``).

An entry without a password leaves libpq to find one in the file. The shared server
trusts 127.0.0.1 and would let such an entry in anyway: these tests run against
``scram_pg`` (tests/private_pg_fixtures.py), a private server that asks every
connection for its password, so a connection that gets in was given the file's.
Each path is checked: the columnar read (ADBC), the guarded read (SQLAlchemy and
psycopg), async sessions, the ``dbnb`` command, and dbnb's pytest plugin; and a wrong
password, or no file, fails in one line naming the connection, after one failed
login per read. A ``password_command`` is checked on the same server.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

import dbnb
from dbnb.errors import DbnbError
from tests.private_pg_fixtures import ScramServer

pytestmark = pytest.mark.postgresql

WRONG = "wrong-Jp4-password"
WHO = "SELECT current_user AS u, current_database() AS d"


def write_config(folder: Path, server: ScramServer, name: str = "vault") -> Path:
    """An etc/infra.yaml entry for the private server's role, with no password at all."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "infra.yaml"
    path.write_text(
        "databases:\n"
        + textwrap.indent(
            f"{name}:\n  type: postgresql\n  host: {server.host}\n  port: {server.port}\n"
            f"  user: {server.user}\n  database: {server.database}\n",
            "  ",
        )
    )
    return path


@pytest.fixture
def pgpass(scram_pg: ScramServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A .pgpass with the private role's password, found through $PGPASSFILE."""
    path = scram_pg.pgpass(tmp_path / "pgpass")
    monkeypatch.setenv("PGPASSFILE", str(path))
    return path


@pytest.fixture
def config(scram_pg: ScramServer, tmp_path: Path) -> Path:
    return write_config(tmp_path / "etc", scram_pg)


def last_path() -> str:
    """The read path ``dbnb.history()`` says ran the last statement."""
    return str(dbnb.history()["path"].iloc[-1])


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbnb", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),  # $PGPASSFILE as the test set it
        timeout=60,
        check=False,
    )


# --- the password comes from the file ----------------------------------------------------


def test_an_entry_without_password_reads_through_pgpass_on_every_path(
    scram_pg: ScramServer, pgpass: Path, config: Path
) -> None:
    loaded = dbnb.load_config(config)
    assert loaded.get("vault").url.password is None  # nothing in the YAML
    assert loaded.nudges == ()
    registry = dbnb.Registry(loaded)
    expected = {"u": [scram_pg.user], "d": [scram_pg.database]}
    try:
        db = registry.connect("vault")
        assert db.query(WHO).to_dict("list") == expected
        assert last_path() == "columnar"
        assert db._arrow.served == 1
        assert db.query(WHO, max_rows=5).to_dict("list") == expected
        assert last_path() == "guarded"
        assert asyncio.run(db.aquery(WHO)).to_dict("list") == expected
        with db.session(write=True) as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS kept (x int)"))
        assert db.query("SELECT count(*) AS n FROM kept")["n"].tolist() == [0]
        health = db.health()
        assert health.ok, health.error
    finally:
        registry.close()


def test_the_dbnb_command_reads_through_pgpass(
    scram_pg: ScramServer, pgpass: Path, config: Path
) -> None:
    queried = cli(config, "query", "vault", WHO, "--format", "csv")
    assert queried.returncode == 0, queried.stderr
    assert queried.stdout.split() == ["u,d", f"{scram_pg.user},{scram_pg.database}"]
    healthy = cli(config, "health", "vault", "--format", "csv")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert scram_pg.password not in queried.stdout + queried.stderr + healthy.stdout


def test_dbnb_testing_makes_its_throwaway_database_through_pgpass(
    scram_pg: ScramServer, pgpass: Path
) -> None:
    """The plugin's helpers with an admin URL that names no password (dbnb_pg_admin_url)."""
    from dbnb.config import url_connection
    from dbnb.devtools import testing

    admin = scram_pg.url
    with testing.throwaway_pg_database(admin) as name:
        db = dbnb.Database(url_connection("t", testing.database_url(admin, name)))
        try:
            assert db.query(WHO).to_dict("list") == {"u": [scram_pg.user], "d": [name]}
            assert db.query(WHO, max_rows=5)["d"].tolist() == [name]
        finally:
            db.close()


@pytest.mark.slow
def test_the_pytest_plugin_runs_a_project_on_a_server_it_reaches_through_pgpass(
    scram_pg: ScramServer, pgpass: Path, tmp_path: Path
) -> None:
    from tests.test_testing_plugin import run_pytest, write_project

    project = write_project(tmp_path / "project")
    admin = f"dbnb_pg_admin_url={scram_pg.url}"
    result = run_pytest(project, "-o", "dbnb_backend=postgresql", "-o", admin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    assert (project / "database.txt").read_text().startswith("dbnb_test_")


# --- a wrong password, or no file ----------------------------------------------------------


def failures(config: Path) -> dict[str, str]:
    """The message of each path's failure to connect to 'vault' (health's names it in
    its own field, and ``dbnb health`` in its row)."""
    registry = dbnb.Registry(config)
    attempts: dict[str, Callable[[], object]] = {
        "columnar": lambda: registry.connect("vault").query(WHO),
        "guarded": lambda: registry.connect("vault").query(WHO, max_rows=5),
        "async": lambda: asyncio.run(registry.connect("vault").aquery(WHO)),
    }
    found: dict[str, str] = {}
    try:
        for path, attempt in attempts.items():
            with pytest.raises(DbnbError) as raised:
                attempt()
            found[path] = str(raised.value)
        health = registry.connect("vault").health()
        assert (health.connection, health.ok) == ("vault", False)
        found["health"] = f"{health.connection}: {health.error}"
    finally:
        registry.close()
    queried = cli(config, "query", "vault", WHO)
    assert (queried.returncode, queried.stdout) == (1, "")
    found["dbnb query"] = queried.stderr.removesuffix("\n")
    checked = cli(config, "health", "vault", "--format", "csv")
    assert checked.returncode == 1
    (row,) = csv.DictReader(io.StringIO(checked.stdout))
    assert (row["connection"], row["ok"]) == ("vault", "False")
    found["dbnb health"] = f"{row['connection']}: {row['error']}"
    return found


def test_a_wrong_password_in_pgpass_fails_in_one_line_naming_the_connection(
    scram_pg: ScramServer, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pgpass = scram_pg.pgpass(tmp_path / "pgpass", WRONG)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    for path, message in failures(config).items():
        assert f'password authentication failed for user "{scram_pg.user}"' in message, path
        assert f'password retrieved from file "{pgpass}"' in message, path  # libpq says which
        assert "vault" in message, path
        assert "\n" not in message, path
        for secret in (WRONG, scram_pg.password):
            assert secret not in message, path


def test_without_the_pgpass_file_the_server_refuses(
    scram_pg: ScramServer, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same entry with no file to read is refused, so the passing runs
    above got in with the file's password (not the caller's ~/.pgpass: none is read)."""
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    for path, message in failures(config).items():
        assert "no password supplied" in message, path
        assert "vault" in message, path


def test_a_refused_login_is_tried_once_per_read(
    scram_pg: ScramServer, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columnar read does not hand a login the server refused on to the guarded path,
    to be refused again: one failed login per read, as a server that locks an account
    after a few of them counts."""
    monkeypatch.setenv("PGPASSFILE", str(scram_pg.pgpass(tmp_path / "pgpass", WRONG)))
    registry = dbnb.Registry(config)
    try:
        for options in ({}, {"max_rows": 5}):  # columnar first, then guarded alone
            before = scram_pg.refused_logins()
            with pytest.raises(DbnbError, match=r"^cannot connect to 'vault' .*password auth"):
                registry.connect("vault").query(WHO, **options)
            assert scram_pg.refused_logins() - before == 1, options
    finally:
        registry.close()


VAULT = """\
import sys
runs, secret = sys.argv[1], sys.argv[2]
with open(runs, "a") as f:
    f.write("run\\n")
if secret == "sealed":
    sys.exit("vault: sealed")
with open(secret) as f:
    print(f.read())
"""


def test_a_password_command_runs_once_per_new_connection_and_once_when_it_fails(
    scram_pg: ScramServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same server, the password from a program instead: each path's new connection
    runs it once, and a run that fails is not run again by the guarded path."""
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "vault.py").write_text(VAULT)
    (folder / "secret").write_text(scram_pg.password)
    command = f"password_command: [{sys.executable}, vault.py, runs, secret]"
    sealed = f"password_command: [{sys.executable}, vault.py, sealed_runs, sealed]"
    entry = (
        f"  type: postgresql\n  host: {scram_pg.host}\n  port: {scram_pg.port}\n"
        f"  user: {scram_pg.user}\n  database: {scram_pg.database}\n"
    )
    path = folder / "infra.yaml"
    path.write_text(
        "databases:\n"
        + textwrap.indent(f"vault:\n{entry}  {command}\nsealed:\n{entry}  {sealed}\n", "  ")
    )

    def runs(name: str) -> int:
        return len((folder / name).read_text().splitlines()) if (folder / name).exists() else 0

    registry = dbnb.Registry(path)
    try:
        db = registry.connect("vault")
        assert db.query(WHO)["d"].tolist() == [scram_pg.database]
        assert (db._arrow.served, runs("runs")) == (1, 1)  # one ADBC connection
        assert db.query(WHO, max_rows=5)["u"].tolist() == [scram_pg.user]
        assert runs("runs") == 2  # and one for the pool
        with pytest.raises(DbnbError, match="exited with status 1: vault: sealed"):
            registry.connect("sealed").query(WHO)
        assert runs("sealed_runs") == 1
    finally:
        registry.close()
