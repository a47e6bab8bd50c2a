"""Migrations: Alembic on named connections, from a project's models, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import dbnb
from dbnb import cli
from dbnb.devtools import migrate
from dbnb.devtools.testing import database_url, throwaway_mysql_database, throwaway_pg_database
from tests.fixtures import rows

MODELS_V1 = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
"""

# The same project, one model later.
MODELS_V2 = (
    MODELS_V1
    + """

class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int | None]
"""
)


@pytest.fixture(scope="module")
def fresh_pg(pg_admin: str) -> Iterator[str]:
    """A PostgreSQL database of this module's own: Alembic's version table is per database."""
    with throwaway_pg_database(pg_admin, prefix="dbnb_migrate") as name:
        yield database_url(pg_admin, name)


@pytest.fixture(scope="module")
def fresh_mysql(mysql_admin: str) -> Iterator[str]:
    """A MariaDB database of this module's own, as ``fresh_pg``."""
    with throwaway_mysql_database(mysql_admin, prefix="dbnb_migrate") as name:
        yield database_url(mysql_admin, name)


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_pg: str,
    fresh_mysql: str,
    open_registry: Callable[[Path], dbnb.Registry],
) -> Iterator[tuple[dbnb.Registry, str, str]]:
    """A project folder: config with a migrations: block, models v1 and v2 as modules."""
    suffix = uuid.uuid4().hex[:8]
    v1, v2 = f"models_{suffix}_v1", f"models_{suffix}_v2"
    (tmp_path / f"{v1}.py").write_text(MODELS_V1)
    (tmp_path / f"{v2}.py").write_text(MODELS_V2)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "etc" / "infra.yaml"
    config.parent.mkdir()
    config.write_text(
        "databases:\n"
        "  sqlite:\n    type: sqlite\n    database: data/app.db\n"
        f"  postgresql:\n    url: {fresh_pg}\n"
        f"  postgresql_ro:\n    url: {fresh_pg}\n    readonly: true\n"
        f"  mysql:\n    url: {fresh_mysql}\n"
        f"migrations:\n  models: {v1}:Base\n  directory: ../migrations\n"
    )
    registry = open_registry(config)
    yield registry, v1, f"{v2}:Base"
    # Leave the module's PostgreSQL and MariaDB databases as they were found.
    for name in ("postgresql", "mysql"):
        with registry.connect(name).session(write=True) as session:
            for table in ("books", "authors", "alembic_version"):
                session.execute(text(f"DROP TABLE IF EXISTS {table}"))


def tables(database: dbnb.Database) -> set[str]:
    with database.connection() as connection:
        return set(inspect(connection).get_table_names())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_round_trip_add_a_model_autogenerate_upgrade_check_downgrade(
    project: tuple[dbnb.Registry, str, str], backend: str, tmp_path: Path
) -> None:
    registry, _, models_v2 = project
    database = registry.connect(backend)

    # The first migration, from the models named in the config's migrations: block.
    first = migrate.revision(backend, "authors", registry=registry)
    assert first.parent == tmp_path / "migrations" / "versions"
    assert "op.create_table('authors'" in first.read_text()
    migrate.upgrade(backend, registry=registry)
    assert {"authors", "alembic_version"} <= tables(database)
    migrate.check(backend, registry=registry)  # models and database agree

    # A new model: check notices, a new migration adds it.
    with pytest.raises(dbnb.MigrationError, match=rf"{backend!r}: the database and the models"):
        migrate.check(backend, models=models_v2, registry=registry)
    second = migrate.revision(backend, "books", models=models_v2, registry=registry)
    text_ = second.read_text()
    assert "op.create_table('books'" in text_
    assert "authors" not in text_
    migrate.upgrade(backend, registry=registry)
    migrate.check(backend, models=models_v2, registry=registry)
    with database.session(write=True) as session:
        session.execute(text("INSERT INTO books (id, title, pages) VALUES (1, 'Dune', 412)"))
    assert rows(database, "books") == [(1, "Dune", 412)]

    history = migrate.history(backend, registry=registry)
    assert len(history) == 2
    assert history[0].endswith("books (current)")
    assert "authors" in history[1]
    assert "(current)" not in history[1]

    # One step back: the new table goes, the first stays, check sees the gap again.
    migrate.downgrade(backend, registry=registry)
    assert "books" not in tables(database)
    assert "authors" in tables(database)
    assert migrate.current(backend, registry=registry) == [first.name.split("_")[0]]
    with pytest.raises(dbnb.MigrationError, match=r"not up to date\. Run `dbnb migrate"):
        migrate.check(backend, models=models_v2, registry=registry)
    migrate.downgrade(backend, "base", registry=registry)
    assert "authors" not in tables(database)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_column_alters_the_table_by_copying_it_where_its_backend_must(
    project: tuple[dbnb.Registry, str, str], backend: str, tmp_path: Path
) -> None:
    registry, _, _ = project
    wider = f"models_{uuid.uuid4().hex[:8]}_wider"
    (tmp_path / f"{wider}.py").write_text(MODELS_V1 + "    email: Mapped[str | None]\n")
    migrate.revision(backend, "authors", registry=registry)
    migrate.upgrade(backend, registry=registry)
    added = migrate.revision(backend, "email", models=f"{wider}:Base", registry=registry)
    # SQLite's ALTER TABLE changes little: its migrations copy the table (batch mode).
    batched = "with op.batch_alter_table('authors'" in added.read_text()
    assert batched == (backend == "sqlite")
    migrate.upgrade(backend, registry=registry)
    migrate.check(backend, models=f"{wider}:Base", registry=registry)
    migrate.downgrade(backend, "base", registry=registry)


def test_upgrade_refuses_a_readonly_connection(project: tuple[dbnb.Registry, str, str]) -> None:
    registry, _, _ = project
    migrate.revision("postgresql_ro", "authors", registry=registry)  # reads only: allowed
    with pytest.raises(dbnb.ReadOnlyError, match="readonly: true"):
        migrate.upgrade("postgresql_ro", registry=registry)
    assert "authors" not in tables(registry.connect("postgresql"))


def test_env_py_reads_dbnb_config_when_run_by_alembic_itself(
    project: tuple[dbnb.Registry, str, str], tmp_path: Path
) -> None:
    # Alembic's own command line: no URL anywhere but etc/infra.yaml.
    registry, _, _ = project
    migrate.revision("sqlite", "authors", registry=registry)
    ini = tmp_path / "migrations" / "alembic.ini"
    assert "sqlite" not in ini.read_text()
    env = {**os.environ, "DBNB_CONFIG": str(tmp_path / "etc" / "infra.yaml")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ini),
            "-x",
            "connection=sqlite",
            "upgrade",
            "head",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "authors" in tables(registry.connect("sqlite"))
    migrate.check("sqlite", registry=registry)


def test_commands_without_migrations_say_how_to_start(
    project: tuple[dbnb.Registry, str, str],
) -> None:
    registry, _, _ = project
    with pytest.raises(dbnb.MigrationError, match=r"no migrations in .*dbnb migrate sqlite rev"):
        migrate.upgrade("sqlite", registry=registry)


def test_unknown_key_in_the_migrations_block_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "infra.yaml"
    path.write_text("databases: {}\nmigrations:\n  models: app.models\n  folder: migrations\n")
    with pytest.raises(dbnb.ConfigError) as caught:
        migrate.read_settings(dbnb.load_config(path))
    assert str(caught.value).startswith(f"{path}:4: key 'migrations.folder': unknown key")


def test_models_setting_errors_are_one_clear_line(project: tuple[dbnb.Registry, str, str]) -> None:
    _, v1, _ = project
    with pytest.raises(dbnb.MigrationError, match="cannot import the models module 'no_such_mod"):
        migrate.load_metadata("no_such_module_here")
    with pytest.raises(dbnb.MigrationError, match=f"{v1!r} has no attribute 'Nope'"):
        migrate.load_metadata(f"{v1}:Nope")
    # A module of model classes without a `metadata` name: their shared metadata.
    assert set(migrate.load_metadata(v1).tables) == {"authors"}


# --- the command line: dbnb migrate NAME ... ---------------------------------------------

SQLMODEL_V1 = """
from sqlmodel import Field, SQLModel


class Task(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
"""
SQLMODEL_V2 = (
    SQLMODEL_V1
    + """

class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    label: str
"""
)


@pytest.mark.slow
def test_migrate_commands_round_trip_on_sqlite_with_sqlmodel_models(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "infra.yaml"
    config.parent.mkdir()
    config.write_text(
        "databases:\n  local:\n    type: sqlite\n    database: data/app.db\n"
        "migrations:\n  models: tasks_models\n"
    )
    (tmp_path / "tasks_models.py").write_text(SQLMODEL_V1)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # `dbnb migrate local ...` from the project's folder, as a developer types it.
        env = {**os.environ, "DBNB_CONFIG": str(config)}
        return subprocess.run(
            [sys.executable, "-m", "dbnb", "migrate", "local", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run("revision", "--autogenerate", "-m", "tasks")
    assert first.returncode == 0, first.stderr
    assert "local: wrote " in first.stdout
    assert run("upgrade", "head").returncode == 0
    clean = run("check")
    assert clean.returncode == 0, clean.stderr
    assert "local: the database is at head and matches the models" in clean.stdout

    (tmp_path / "tasks_models.py").write_text(SQLMODEL_V2)
    differ = run("check")
    assert differ.returncode == 1
    assert differ.stderr.startswith(
        "dbnb: error: connection 'local': the database and the models differ"
    )
    assert len(differ.stderr.strip().splitlines()) == 1
    history = run("history").stdout.strip().splitlines()
    assert len(history) == 1
    assert history[0].endswith("tasks (current)")

    back = run("downgrade", "-1")
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == "local: at base (no migration applied)"


def test_migrate_revision_without_a_message_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "infra.yaml"
    config.write_text("databases:\n  local:\n    type: sqlite\n    database: app.db\n")
    assert cli.main(["--config", str(config), "migrate", "local", "revision"]) == 1
    assert capsys.readouterr().err == (
        "dbnb: error: revision needs a message: -m 'what this migration does'\n"
    )
