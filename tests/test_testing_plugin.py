"""dbnb's pytest plugin, used the way a project uses it: pytest run on a sample project."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

import dbnb
from dbnb.devtools import testing
from tests.fixtures import MYSQL_ADMIN, PG_ADMIN

MODELS = """
from sqlmodel import Field, SQLModel


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    body: str
"""

# The code under test commits, as application code does.
APP = """
from models import Note


def save_note(session, body):
    session.add(Note(body=body))
    session.commit()
"""

TESTS = """
import dbnb
from sqlalchemy import text
from sqlmodel import select

from app import save_note
from models import Note


def test_1_a_committed_note(db_session, dbnb_database, pytestconfig):
    (pytestconfig.rootpath / "database.txt").write_text(dbnb_database.config.url.database)
    save_note(db_session, "first")
    assert [note.body for note in db_session.exec(select(Note))] == ["first"]


def test_2_the_next_test_starts_empty(db_session):
    assert db_session.exec(select(Note)).all() == []
    save_note(db_session, "second")
    assert len(db_session.exec(select(Note)).all()) == 1


def test_3_nothing_outlived_its_test(dbnb_database):
    # Through dbnb's own read-only path, on another pooled connection.
    assert dbnb_database.query("SELECT count(*) AS n FROM note")["n"].tolist() == [0]


def test_4_the_database_is_shared_by_the_run(dbnb_database):
    # What a test writes outside db_session stays for the run: the emptiness
    # above is the rollback, not a fresh database per test.
    with dbnb_database.session(write=True) as session:
        session.execute(text("INSERT INTO note (body) VALUES ('kept')"))


def test_5_sees_what_test_4_kept(dbnb_database):
    assert dbnb_database.query("SELECT body FROM note")["body"].tolist() == ["kept"]


def test_6_config_for_the_code_under_test(dbnb_config, dbnb_registry):
    assert dbnb_config.names == ["test"]
    database = dbnb.connect()  # found through $DBNB_CONFIG, as application code would
    assert database.name == "test"
    assert database.config.url == dbnb_registry.connect("test").config.url
    assert database.query("SELECT body FROM note")["body"].tolist() == ["kept"]
"""


def write_project(folder: Path) -> Path:
    folder.mkdir()
    (folder / "models.py").write_text(MODELS)
    (folder / "app.py").write_text(APP)
    (folder / "test_notes.py").write_text(TESTS)
    (folder / "pytest.ini").write_text(
        "[pytest]\npythonpath = .\ndbnb_models = models\nfilterwarnings = error\n"
    )
    return folder


def run_pytest(folder: Path, *args: str, autoload: bool = True) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBNB_")}
    if autoload:
        # dbnb's dev tools include pytest-asyncio, which warns about its own
        # settings under filterwarnings = error; the sample project needs none of it.
        args = ("-p", "no:asyncio", *args)
    else:
        # Only the plugins named with -p: proves `-p dbnb.testing` is all it takes.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    plugins = {point.name: point.value for point in entry_points(group="pytest11")}
    assert plugins.get("dbnb") == "dbnb.testing"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "autoload"),
    [("sqlite", False), ("postgresql", True), ("mysql", True)],
    ids=["sqlite-with-p-option", "postgresql-through-entry-point", "mysql-through-entry-point"],
)
def test_sample_project_rolls_back_each_test(tmp_path: Path, backend: str, autoload: bool) -> None:
    project = write_project(tmp_path / "project")
    args = ["-o", f"dbnb_backend={backend}", "-o", f"dbnb_pg_admin_url={PG_ADMIN}"]
    args += ["-o", f"dbnb_mysql_admin_url={MYSQL_ADMIN}"]
    if not autoload:
        args += ["-p", "dbnb.testing"]
    result = run_pytest(project, *args, autoload=autoload)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    database = (project / "database.txt").read_text()
    if backend == "postgresql":
        # The throwaway database is gone once the run ends.
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            assert found.fetchone() is None
    elif backend == "mysql":
        admin = dbnb.connect(MYSQL_ADMIN)
        found = admin.query(
            "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = :name",
            {"name": database},
        )
        assert found["n"].tolist() == [0]
    else:
        assert Path(database).name == "test.db"


@pytest.mark.slow
def test_sample_project_without_db_session_leaks_between_tests(tmp_path: Path) -> None:
    # The control: the same tests with a plain committing session fail, so the
    # sample run above passes because of db_session's rollback.
    project = write_project(tmp_path / "project")
    tests = (project / "test_notes.py").read_text()
    start = tests.index("def test_1_")
    end = tests.index("def test_2_")
    control = (
        "def test_1_a_committed_note(dbnb_database):\n"
        "    with dbnb_database.session(write=True) as session:\n"
        "        save_note(session, 'first')\n\n\n"
    )
    tests = tests[:start] + control + tests[end:]
    (project / "test_notes.py").write_text(tests)
    result = run_pytest(
        project, "-p", "dbnb.testing", "-o", "dbnb_backend=sqlite", "-x", autoload=False
    )
    assert result.returncode == 1
    assert "test_2_the_next_test_starts_empty" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


@pytest.mark.slow
def test_unknown_backend_is_one_clear_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    result = run_pytest(project, "-p", "dbnb.testing", "-o", "dbnb_backend=oracle", autoload=False)
    assert result.returncode == 1
    assert "dbnb_backend is 'oracle'; use one of sqlite, postgresql, mysql" in result.stdout


def test_unreachable_server_says_how_to_start_one() -> None:
    with (
        pytest.raises(
            dbnb.DbnbError, match=r"not reachable at postgresql://postgres@127\.0\.0\.1:1/"
        ),
        testing.throwaway_pg_database("postgresql://postgres@127.0.0.1:1/test"),
    ):
        pass


def test_rollback_session_in_dbnb_s_own_tests(db: dbnb.Database) -> None:
    # The helper behind db_session, on both backends: a commit inside is undone.
    with testing.rollback_session(db) as session:
        session.execute(text("DELETE FROM items"))
        session.commit()
        assert session.execute(text("SELECT count(*) FROM items")).scalar() == 0
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM items")).scalar() == 3
