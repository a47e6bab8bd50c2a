"""The tiers of tests/conftest.py: a test is marked by the servers its fixtures reach, the
fast tier (``make test-fast``) gets a config without them, and a server fixture refuses a
test outside its tier, so that tier reaches no server unseen."""

from __future__ import annotations

import pytest

FAST = "not postgresql and not mysql and not spark and not slow"  # make test-fast's
INI = """
[pytest]
addopts = --strict-markers -p tests.conftest
asyncio_default_fixture_loop_scope = function
markers =
    postgresql
    mysql
    spark
    slow
"""

SAMPLE = """
import pytest


def test_sqlite_alone(config_path):
    assert "postgresql" not in config_path.read_text()
    assert "mysql" not in config_path.read_text()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_each_backend(config_path, backend):
    assert f"  {backend}:" in config_path.read_text()


def test_by_name(registry):
    registry.connect("postgresql")


def test_the_server_asked_for_late(request):
    request.getfixturevalue("pg_database")


def test_spark(spark_url):
    pass
"""


def test_the_fast_tier_gets_no_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.makeini(INI)
    result = pytester.runpytest("-m", FAST)
    # backend=postgresql/mysql and spark_url: deselected by their marks, never set up.
    result.assert_outcomes(passed=2, failed=2, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "*test_by_name*unknown connection 'postgresql'; known connections: sqlite, sqlite_ro",
            "*test_the_server_asked_for_late*uses pg_admin but is not marked postgresql*",
        ]
    )
