import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import dbnb


def test_all_lists_every_public_name_sorted() -> None:
    # dir(), not vars(): most names are imported on first use (dbnb.__getattr__).
    public = {
        name
        for name in dir(dbnb)
        if not name.startswith("_")
        and getattr(getattr(dbnb, name), "__module__", "").startswith("dbnb")
    }
    assert dbnb.__all__ == sorted(dbnb.__all__)
    assert set(dbnb.__all__) == public


def test_errors_derive_from_dbnb_error() -> None:
    for name in (
        "ConfigError",
        "UnknownConnectionError",
        "ReadOnlyError",
        "QueryError",
        "PoolTimeoutError",
        "ConnectError",
        "WriteError",
        "ValidationError",
    ):
        assert issubclass(getattr(dbnb, name), dbnb.DbnbError)
    assert issubclass(dbnb.UnknownConnectionError, dbnb.ConfigError)
    assert issubclass(dbnb.ValidationError, dbnb.WriteError)


def test_connect_is_typed_as_the_exported_facade() -> None:
    # What users' type checkers see (the package ships py.typed): dbnb.connect() is a
    # dbnb.Facade, whatever database the name reaches.
    assert typing.get_type_hints(dbnb.connect)["return"] is dbnb.Facade
    assert typing.get_type_hints(dbnb.Registry.connect)["return"] is dbnb.Facade
    assert issubclass(dbnb.Database, dbnb.Facade)
    assert (Path(dbnb.__file__).parent / "py.typed").is_file()


USER_CODE = """
import dbnb
from sqlalchemy import literal, select

db = dbnb.connect("warehouse")
reveal_type(db)
reveal_type(db.query("SELECT 1 AS x"))
reveal_type(db.query("SELECT 1 AS x", chunksize=10))
db.query(42)  # not a statement: the checker says so
db.submit("SELECT 1", timout=3)  # not one of query's options: the checker says so
db.explore(select(literal(1)), page_size=10)  # a select() is a source, as a name is
"""


@pytest.mark.slow  # mypy over dbnb and its dependencies' stubs
def test_a_users_type_checker_reads_dbnb_as_installed(tmp_path: Path) -> None:
    # dbnb where an installed package is (not the checked project's source), as mypy
    # finds it for a user: it reads the annotations only because of py.typed (PEP 561).
    site = tmp_path / "site"
    package = Path(dbnb.__file__).parent
    shutil.copytree(package, site / "dbnb", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (tmp_path / "app.py").write_text(USER_CODE)
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "app.py"]
    checked = subprocess.run(
        command,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, checked.stdout + checked.stderr
    assert 'No overload variant of "query" of "Facade" matches argument type "int"' in errors[0]
    assert 'Unexpected keyword argument "timout" for "submit" of "Facade"' in errors[1]
    assert 'Revealed type is "dbnb.connections.facade.Facade"' in checked.stdout
    assert 'Revealed type is "pandas.core.frame.DataFrame"' in checked.stdout
    assert (
        'Revealed type is "typing.Iterator[pandas.core.frame.DataFrame]"' in checked.stdout
        or 'Revealed type is "collections.abc.Iterator[pandas.core.frame.DataFrame]"'
        in checked.stdout
    ), checked.stdout
