"""Dependencies by need (issue 28): SQLite and PostgreSQL need none of MariaDB/MySQL's
drivers, which are the extra ``dbnb[mysql]``; a mysql entry without them fails in one
line that names the extra. Run in a fresh interpreter where those modules cannot be
imported, as after ``pip install dbnb`` alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import config_text

ROOT = Path(__file__).resolve().parent.parent
MYSQL_MODULES = ("pymysql", "aiomysql", "connectorx")

# `None` in sys.modules makes `import NAME` raise ImportError, as if not installed.
SCRIPT = f"""
import asyncio
import sys

for name in {MYSQL_MODULES!r}:
    sys.modules[name] = None

import dbnb

for name in ("sqlite", "postgresql"):
    db = dbnb.connect(name)
    print(name, db.query("SELECT 6 * 7 AS answer")["answer"].tolist())
    print(name, "columnar", db.query("SELECT 6 * 7 AS answer", output="arrow").num_rows)
try:
    dbnb.connect("maria").query("SELECT 1")
except dbnb.ConfigError as error:
    print("sync:", error)


async def read() -> None:
    async with dbnb.connect("maria").async_session():
        pass


try:
    asyncio.run(read())
except dbnb.ConfigError as error:
    print("async:", error)
"""

MARIA = """
type: mariadb
host: 127.0.0.1
user: root
"""


def run(tmp_path: Path, config: str, script: str) -> list[str]:
    """``script``'s output lines, run from ``tmp_path`` with ``config`` in a fresh interpreter."""
    path = tmp_path / "etc" / "infra.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(config)
    env = {**os.environ, "DBNB_CONFIG": str(path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        # The superuser's PrivilegeWarning is not what these tests look at.
        [sys.executable, "-W", "ignore::UserWarning", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.postgresql
def test_sqlite_and_postgresql_need_no_mysql_driver(tmp_path: Path, pg_database: str) -> None:
    lines = run(tmp_path, config_text(tmp_path, pg_database, maria=MARIA), SCRIPT)
    assert lines == [
        "sqlite [42]",
        "sqlite columnar 1",
        "postgresql [42]",
        "postgresql columnar 1",
        "sync: connection 'maria': key 'type': mysql needs pymysql: pip install 'dbnb[mysql]'",
        "async: connection 'maria': key 'type': mysql needs aiomysql: pip install 'dbnb[mysql]'",
    ]


def test_a_sqlite_read_loads_no_mysql_driver(tmp_path: Path) -> None:
    # Nothing blocked here: whatever is installed, a SQLite read imports none of them.
    script = (
        "import sys, dbnb\n"
        "dbnb.connect('sqlite').query('SELECT 1')\n"
        f"print(sorted(set({MYSQL_MODULES!r}) & set(sys.modules)))\n"
    )
    assert run(tmp_path, config_text(tmp_path, None), script) == ["[]"]
