"""Fixtures for dbnb's own tests: real SQLite files and the real PostgreSQL server.

The tests come in tiers, marked here from the fixtures and parameters each test uses:

    postgresql  a PostgreSQL server: ``pg_database``, ``pg_admin`` (a fixture that makes
                its own databases takes it), dbnb's ``dbnb_pg_url``, ``scram_pg`` (a
                private one that checks passwords, started once per run), or ``backend``
                (or a parameter beside ``config_path``) set to a PostgreSQL connection
    mysql       the same for MariaDB/MySQL
    spark       a Spark Connect server (``spark_url``)
    slow        a PostgreSQL server of its own (``server_home``); by hand, a kernel,
                another process, or a wait on a timer

``make test-fast`` runs what is in none of them, SQLite and pure tests, with no server
at all: ``config_path`` holds the server connections only for a test in their tier,
and a server fixture refuses a test outside its tier (``pytest_fixture_setup`` below).
A test that names a server's connection or address by itself carries its mark by hand
(``@pytest.mark.postgresql``, or ``pytestmark`` for a module); without it, the test
fails on its unknown connection instead of reaching the server unseen.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

pytest_plugins = [
    "pytester",  # tests/test_tiers.py
    "tests.fixtures",
    "tests.magic_fixtures",
    "tests.private_pg_fixtures",
    "tests.spark_fixtures",
]

# The fixtures that reach a server, and the tier of each: a test whose fixtures include
# one (directly or through others) is in that tier.
SERVER_FIXTURES = {
    "pg_admin": "postgresql",
    "pg_database": "postgresql",
    "dbnb_pg_url": "postgresql",
    "scram_pg": "postgresql",  # tests/private_pg_fixtures.py
    "mysql_admin": "mysql",
    "mysql_database": "mysql",
    "dbnb_mysql_url": "mysql",
    "spark_url": "spark",
}
# The server connections of ``config_path``'s config: a test parametrized with one of
# these names as its ``backend``, or as any parameter of a test that takes the config
# (``name``, ``kind``, ...), uses that server.
SERVER_CONNECTIONS = {
    "postgresql": "postgresql",
    "postgresql_ro": "postgresql",
    "mysql": "mysql",
    "mysql_ro": "mysql",
}
SLOW_FIXTURES = {"server_home"}  # a PostgreSQL server of the test's own (dbnb pgserver)

_running: list[pytest.Item] = []  # the test being set up, run or torn down


def tiers_of(item: pytest.Item) -> set[str]:
    """The tiers a test's fixtures and parameters put it in."""
    names = set(getattr(item, "fixturenames", ()))
    found = {SERVER_FIXTURES[name] for name in names & SERVER_FIXTURES.keys()}
    if names & SLOW_FIXTURES:
        found.add("slow")
    callspec = getattr(item, "callspec", None)
    params = {} if callspec is None else callspec.params
    found.update(
        SERVER_CONNECTIONS[value]
        for name, value in params.items()
        if isinstance(value, str)
        and value in SERVER_CONNECTIONS
        and (name == "backend" or "config_path" in names)
    )
    return found


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in sorted(tiers_of(item) - {mark.name for mark in item.iter_markers()}):
            item.add_marker(tier)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> None:
    """A server fixture refuses a test outside its tier, however it was asked for
    (``request.getfixturevalue`` too): the fast tier cannot reach a server unseen."""
    tier = SERVER_FIXTURES.get(fixturedef.argname)
    if tier is None or not _running:
        return
    item = _running[-1]
    if item.get_closest_marker(tier) is None:
        pytest.fail(
            f"{item.nodeid} uses {fixturedef.argname} but is not marked {tier}: "
            f"mark it (pytest.mark.{tier}) or take the fixture as an argument",
            pytrace=False,
        )
