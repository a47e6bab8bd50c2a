"""What loads when: `import dbnb` and `dbnb --help` load none of the heavy libraries,
and every public name and submodule still arrives when first used.

Each check runs in a fresh interpreter: this one has long imported everything.
Behaviour, not timing: the figures belong in the issue, not in a pass/fail test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dbnb

# What `import dbnb` and the CLI's parser must not load: each loads on first use.
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "psycopg",
    "pgpq",
    "msgspec",
    "tqdm",
    "alembic",
    "adbc_driver_manager",
    "adbc_driver_sqlite",
    "adbc_driver_postgresql",
    "IPython",
    "matplotlib",
)

# Runs `body` in a fresh interpreter, then prints which of HEAVY it loaded, as JSON.
_REPORT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(
    name for name in {heavy!r} if name in sys.modules)), file=sys.stderr))
{body}
"""


def loaded_by(body: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT.format(heavy=HEAVY, body=body)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return loaded


def test_import_dbnb_loads_no_heavy_library() -> None:
    assert loaded_by("import dbnb; dbnb.DbnbError; dbnb.__version__") == []


@pytest.mark.parametrize("args", [["--help"], ["query", "--help"], ["migrate", "--help"]])
def test_cli_help_loads_no_heavy_library(args: list[str]) -> None:
    body = (
        "import runpy, sys\n"
        f"sys.argv = ['dbnb', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('dbnb', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    )
    assert loaded_by(body) == []


@pytest.mark.slow
def test_public_names_and_submodules_arrive_on_first_use() -> None:
    body = (
        "import dbnb\n"
        "missing = [name for name in dbnb.__all__ if getattr(dbnb, name, None) is None]\n"
        "assert not missing, missing\n"
        "assert dbnb.connect is dbnb.connections.registry.connect\n"
        # The paths the README documents from before the front ends had folders.
        "assert callable(dbnb.health.check) and callable(dbnb.inspect.tables)\n"
        "assert callable(dbnb.pgserver.start) and callable(dbnb.migrate.upgrade)\n"
        "from dbnb.health import check_all\n"
        "import dbnb.testing, dbnb.connections.health\n"
        "assert dbnb.testing is dbnb.devtools.testing\n"
        "assert check_all is dbnb.connections.health.check_all\n"
        "assert dbnb.health.__spec__.name == 'dbnb.connections.health'\n"
        "assert set(dbnb.__all__) <= set(dir(dbnb))\n"
        "try:\n"
        "    dbnb.no_such_name\n"
        "except AttributeError as error:\n"
        "    assert 'no_such_name' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('dbnb.no_such_name')\n"
    )
    assert "sqlalchemy" in loaded_by(body)


def test_no_such_attribute_is_an_attribute_error() -> None:
    assert not hasattr(dbnb, "no_such_name")
    assert not hasattr(dbnb, "__wrapped__")  # what inspect.unwrap and doctest ask


@pytest.mark.parametrize("type_only", [False, True], ids=["at-run-time", "with-type-only"])
def test_no_module_of_dbnb_imports_itself_back(type_only: bool) -> None:
    # The layers contract (pyproject.toml, run by `make test`) fixes the direction
    # between layers; within a layer, no two modules may need each other either. Nor
    # through the names of types alone: a layer below names what it asks of the layers
    # above by a protocol of its own (dbnb.engine.backend, dbnb.see.backend, ...).
    import itertools

    import grimp

    # Built afresh: a .grimp_cache has answered here with imports since removed.
    graph = grimp.build_graph("dbnb", exclude_type_checking_imports=not type_only, cache_dir=None)
    assert graph.find_shortest_chain(
        "dbnb.connections.database", "dbnb.sql.sqlscan"
    )  # a real graph
    if type_only:  # ...with its type-only imports: the engine's names the config's
        assert graph.direct_import_exists(
            importer="dbnb.engine.backend", imported="dbnb.config", as_packages=False
        )
    cycles = [
        (a, b)
        for a, b in itertools.combinations(sorted(graph.modules), 2)
        if graph.find_shortest_chain(a, b) and graph.find_shortest_chain(b, a)
    ]
    assert cycles == []
