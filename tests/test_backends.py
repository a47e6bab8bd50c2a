"""A backend is an object: ``dbnb.backends.base.Backend`` and a subclass per database,
registered by entry point (group ``dbnb.backends``) and found by the dialect's name.

The behaviour behind each member is proved by the feature tests, parametrized over
the databases; this proves the registry finds each backend, that every backend
answers what each layer asks of it (mypy checks it statically where a connection
hands its backend down; this checks the classes as loaded), and that a package of
its own with one registration is all another database takes.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import dbnb
from dbnb.backends import registry
from dbnb.backends.base import Backend
from dbnb.backends.mysql import MySQL
from dbnb.backends.postgresql import PostgreSQL
from dbnb.backends.spark import Spark
from dbnb.backends.sqlite import SQLite
from dbnb.connections.aio import AsyncBackend
from dbnb.connections.health import HealthBackend
from dbnb.engine.backend import EngineBackend
from dbnb.read.backend import ReadBackend
from dbnb.see.backend import SeeBackend
from dbnb.write.bulk import WriteBackend

# What each layer asks of a backend, by its own protocol.
PROTOCOLS = [EngineBackend, ReadBackend, WriteBackend, HealthBackend, SeeBackend, AsyncBackend]
REGISTERED = {
    "postgresql": PostgreSQL,
    "sqlite": SQLite,
    "mysql": MySQL,
    "mariadb": MySQL,  # SQLAlchemy's name for a mariadb:// URL's dialect
    "spark": Spark,
}


def members(protocol: type) -> dict[str, Any]:
    """The members a protocol declares, its base protocols' included."""
    found: dict[str, Any] = {}
    for cls in reversed(protocol.__mro__):
        if cls.__module__ in ("builtins", "typing"):  # object, Protocol, Generic
            continue
        found.update({name: None for name in getattr(cls, "__annotations__", {})})
        found.update({k: v for k, v in vars(cls).items() if not k.startswith("_")})
    return found


def test_the_protocols_are_what_this_test_reads() -> None:
    asked = set().union(*(members(protocol) for protocol in PROTOCOLS))
    assert {"install_guards", "columnar", "bulk_writer", "write_rules", "write_probe"} <= asked
    assert {"result_kinds", "read_rules", "async_driver", "explain_statement"} <= asked


@pytest.mark.parametrize("backend", [Backend, PostgreSQL, SQLite, MySQL, Spark])
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda protocol: protocol.__name__)
def test_each_backend_answers_what_each_layer_asks(backend: type, protocol: type) -> None:
    instance = backend()
    for name, wanted in members(protocol).items():
        assert hasattr(instance, name), f"{backend.__name__} does not answer {name}"
        if isinstance(wanted, property) or not callable(wanted):
            continue
        given = list(inspect.signature(getattr(instance, name)).parameters)
        expected = list(inspect.signature(wanted).parameters)[1:]  # without self
        assert given == expected, f"{backend.__name__}.{name}{tuple(given)}"


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_each_dialect_finds_its_backend_and_others_the_base_one(name: str) -> None:
    backend = registry.backend_for(name)
    assert type(backend) is REGISTERED[name]
    assert backend is registry.backend_for(name)  # loaded once
    assert type(registry.backend_for("oracle")) is Backend  # any other SQLAlchemy dialect


def test_mysql_and_mariadb_share_one_backend() -> None:
    assert registry.backend_for("mariadb") is registry.backend_for("mysql")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("postgresql://db.example/x", "db.example:5432"),
        ("mysql://db.example/x", "db.example:3306"),
        ("mariadb://db.example/x", "db.example:3306"),
        ("postgresql://db.example:6543/x", "db.example:6543"),  # the URL's own wins
        ("oracle://db.example/x", "db.example"),  # no home: no port dbnb could name
    ],
)
def test_a_message_names_the_server_by_its_backend_s_default_port(url: str, address: str) -> None:
    from dbnb.engine import connecting

    config = dbnb.config.url_connection("x", url)
    assert connecting.address(config, registry.backend_for(config.backend).default_port) == address


def test_a_connection_resolves_its_backend_once(tmp_path: Path) -> None:
    db = dbnb.Database(dbnb.config.url_connection("local", f"sqlite:///{tmp_path}/a.db"))
    assert db.backend is registry.backend_for("sqlite")
    assert db._reads.backend is db.backend
    assert db.interrupted == "aborted by SQLite"  # what the notebook says of Ctrl-C
    db.close()


# --- another database, by a package of its own and one registration -----------------

EXAMPLE = '''
from dbnb.backends.base import Backend
from dbnb.backends.postgresql.lexical import LEXICAL_RULES  # DuckDB's parser is PostgreSQL's
from dbnb.sql.readable import ReadRules


class DuckDB(Backend):
    """DuckDB through duckdb-engine: its reads refused unless they read, its plans drawn."""

    name = "duckdb"
    read_rules = ReadRules(
        lexical=LEXICAL_RULES,
        kinds=frozenset({"SELECT", "WITH", "EXPLAIN"}),
        statements=frozenset({"SELECT", "WITH", "EXPLAIN", "CREATE", "INSERT", "DELETE"}),
    )

    def server_name(self, dialect):
        return "DuckDB"

    def plan_text(self, rows):
        return "\\n".join(value for _key, value in rows)  # (explain_key, explain_value)
'''

USES_IT = """
import json
import dbnb
from dbnb.backends.registry import backend_for

db = dbnb.connect("duckdb:///:memory:")
try:
    db.query("CREATE TABLE t (x INTEGER)")
except dbnb.ReadOnlyError as error:
    refused = str(error)
else:
    refused = None
print(json.dumps({
    "backend": type(db.backend).__module__ + "." + type(db.backend).__name__,
    "rows": db.query("SELECT 42 AS x")["x"].tolist(),
    "plan": db.explain("SELECT 42"),
    "version": db.health().server_version,
    "refused": refused,
    "postgresql": type(backend_for("postgresql")).__name__,
}))
"""


def distribution(
    root: Path, name: str, entry_points: str = "", files: dict[str, str] | None = None
) -> None:
    """An installed distribution as importlib.metadata finds it on sys.path."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))


def run_with(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with ``root`` first on its path."""
    path = os.pathsep.join([str(root), *sys.path])
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_a_package_and_one_registration_add_a_database(tmp_path: Path) -> None:
    pytest.importorskip("duckdb_engine")
    distribution(
        tmp_path,
        "dbnb-duckdb-example",
        "[dbnb.backends]\nduckdb = dbnb_duckdb_example:DuckDB\n",
        {"dbnb_duckdb_example/__init__.py": EXAMPLE},
    )
    done = run_with(tmp_path, USES_IT)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["backend"] == "dbnb_duckdb_example.DuckDB"
    assert found["rows"] == [42]  # a read through its rules
    assert found["plan"].startswith("╭─ Projection")  # its plan_text, not the base's rows
    assert found["version"].startswith("DuckDB ")  # its server_name in health
    # Its read rules reach the engine's guards: a write in a read is refused, not run.
    assert found["refused"] is not None
    assert "read-only" in found["refused"]
    assert found["postgresql"] == "PostgreSQL"  # dbnb's own still registered beside it
    # Without that registration, DuckDB gets the base Backend: no guard of dbnb's.
    assert type(registry.backend_for("duckdb")) is Backend


def test_a_registration_that_is_no_backend_is_named(tmp_path: Path) -> None:
    distribution(
        tmp_path,
        "dbnb-not-a-backend",
        "[dbnb.backends]\nnotabackend = json:JSONDecoder\n",
    )
    code = "from dbnb.backends.registry import backend_for\nbackend_for('notabackend')"
    done = run_with(tmp_path, code)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "registered as 'notabackend' (json:JSONDecoder) is not a subclass of" in last


def test_without_dbnb_s_registrations_a_connection_refuses(tmp_path: Path) -> None:
    # dbnb's metadata without its entry points (an install from before they existed, or
    # none at all), first on the path: no database may silently lose its guards.
    distribution(tmp_path, "dbnb")
    code = "import dbnb\ndbnb.connect('sqlite://')"
    done = run_with(tmp_path, code)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dbnb.errors.DbnbError: dbnb's own backends are not registered")
    assert "install dbnb" in last
