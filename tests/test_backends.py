"""Every database's home answers the whole ``Backend`` interface.

The behaviour behind each member is proved by the feature tests, parametrized
over the backends (the ``backend`` fixture); this proves a home that forgot a
member fails here, by name, rather than on the first query that needs it.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from dbnb.engine import backend as interface

MEMBERS = sorted(
    {name for name in vars(interface.Backend) if not name.startswith("_")}
    | set(interface.Backend.__annotations__)
)
HOMES = sorted({*interface._HOMES.values(), "dbnb.backends.generic"})


def test_the_interface_is_what_this_test_reads() -> None:
    assert {"install_guards", "columnar", "bulk_writer", "write_rules", "write_probe"} <= set(
        MEMBERS
    )


@pytest.mark.parametrize("home", HOMES)
def test_each_home_answers_every_member(home: str) -> None:
    module = importlib.import_module(home)
    missing = [name for name in MEMBERS if not hasattr(module, name)]
    assert missing == [], f"{home} does not answer {missing}"
    for name in MEMBERS:
        wanted = getattr(interface.Backend, name, None)
        if callable(wanted):
            given = inspect.signature(getattr(module, name)).parameters
            expected = list(inspect.signature(wanted).parameters)[1:]  # without self
            assert list(given) == expected, f"{home}.{name}{tuple(given)}"


@pytest.mark.parametrize("dialect", sorted(interface._HOMES))
def test_each_dialect_finds_its_home_and_others_the_generic_one(dialect: str) -> None:
    # mariadb (SQLAlchemy's name for a mariadb:// URL's dialect) is MySQL's home.
    assert interface.backend_for(dialect).name == interface._HOMES[dialect].rsplit(".", 1)[1]
    assert interface.backend_for("oracle").name == "generic"
