"""A private PostgreSQL server that checks passwords, for the tests of libpq's ``.pgpass``.

The shared server trusts 127.0.0.1, so libpq never needs a password there: a test that
a password file is read needs a server that asks. ``scram_pg`` is one per run, from the
machine's own binaries (``dbnb.devtools.pgserver``: initdb as the ``postgres`` user
when the tests run as root), on a free port, in a folder under /tmp removed at the
end. Its ``pg_hba.conf`` asks every connection, by TCP or by socket, for a
scram-sha-256 password; ``ScramServer.user`` has a known password, may create
databases, and owns ``ScramServer.database``, a database no other server has.
Without PostgreSQL's binaries it fails under CI and skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

from dbnb.devtools import pgserver
from dbnb.errors import DbnbError
from tests.fixtures import free_port

HBA = """\
# Written by tests/private_pg_fixtures.py: every connection gives a password.
local   all   all                 scram-sha-256
host    all   all   127.0.0.1/32  scram-sha-256
host    all   all   ::1/128       scram-sha-256
"""


@dataclass(frozen=True)
class ScramServer:
    """Where the private server listens, and the role and database the tests reach."""

    port: int
    user: str
    password: str = field(repr=False)
    database: str
    log: Path  # the server's log
    host: str = pgserver.HOST

    @property
    def url(self) -> str:
        """The database's URL with the user and no password (libpq's to find)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def refused_logins(self) -> int:
        """How many logins the server refused for a wrong password so far. The server
        logs its refusal before the client hears it: a count taken after a failed
        connect includes that connect's."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count("password authentication failed for user")

    def pgpass(self, path: Path, password: str | None = None) -> Path:
        """A libpq password file at ``path`` (mode 0600, as libpq insists) holding the
        user's password, or ``password`` instead."""
        # host:port:database:user:password; ':' and '\\' in a field are escaped.
        secret = (password or self.password).replace("\\", "\\\\").replace(":", "\\:")
        path.write_text(f"{self.host}:{self.port}:*:{self.user}:{secret}\n", encoding="utf-8")
        path.chmod(0o600)
        return path


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"the private PostgreSQL server cannot start: {reason}", pytrace=False)
    pytest.skip(f"the private PostgreSQL server cannot start: {reason}")


def _prepare(admin: pgserver.PgServerConfig, server: ScramServer, data: Path) -> None:
    """The test role and its database; then the server asks every connection for a password."""
    with psycopg.connect(
        host=admin.url.host,
        port=admin.port,
        user=admin.user,
        password=admin.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    ) as connection:
        role = sql.Identifier(server.user)
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                role, sql.Literal(server.password)
            )
        )
        connection.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(server.database), role)
        )
        # initdb let the socket in without a password; from here on nothing is trusted.
        # The file is rewritten in place: it stays the server user's.
        (data / "pg_hba.conf").write_text(HBA, encoding="utf-8")
        connection.execute("SELECT pg_reload_conf()")
    _wait_until_the_socket_asks(admin, data)


def _wait_until_the_socket_asks(admin: pgserver.PgServerConfig, data: Path) -> None:
    """The reload is signalled, not awaited: wait until the socket, trusted by initdb,
    asks for a password too."""
    for _ in range(100):
        try:
            psycopg.connect(
                host=str(data),  # the socket's folder
                port=admin.port,
                user=admin.user,
                dbname="postgres",
                passfile=str(data / "no-pgpass"),  # not the caller's ~/.pgpass
            ).close()
        except psycopg.OperationalError as error:
            if "no password supplied" in str(error):
                return
            raise
        time.sleep(0.05)
    raise DbnbError(f"the private server on port {admin.port} still trusts its socket")


@pytest.fixture(scope="session")
def scram_pg() -> Iterator[ScramServer]:
    """A private PostgreSQL server of this run that checks passwords (scram-sha-256)."""
    bindir = pgserver.find_binaries(None)
    if bindir is None:
        _unavailable(f"no initdb and pg_ctl under {', '.join(pgserver.BIN_ROOTS)} or on $PATH")
    # /tmp rather than $TMPDIR, which may be closed to the server's user.
    home = Path(tempfile.mkdtemp(prefix="dbnb-scram-pg-", dir="/tmp"))
    home.chmod(0o755)
    tag = uuid.uuid4().hex[:8]
    admin = pgserver.PgServerConfig(
        name=f"admin_{tag}",
        port=free_port(),
        user="dbnb_admin",
        password=f"admin-{uuid.uuid4().hex}",
        data=home / "data",
        runner="local",
    )
    server = ScramServer(
        port=admin.port,
        user="dbnb_pgpass",
        password="pgpass-Kv7:known\\pw",  # ':' and '\\' as a .pgpass file must escape them
        database=f"only_here_{tag}",
        log=home / "data" / "server.log",
    )
    local = pgserver.LocalServer(admin, bindir)
    try:
        try:
            local.start()
        except DbnbError as error:
            _unavailable(str(error))
        _prepare(admin, server, local.data)
        yield server
    finally:
        try:
            local.stop()
        finally:
            shutil.rmtree(home, ignore_errors=True)
