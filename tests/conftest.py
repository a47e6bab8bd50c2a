"""Fixtures for dbnb's own tests: real SQLite files and the real PostgreSQL server."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures", "tests.magic_fixtures", "tests.spark_fixtures"]

# Backends with no columnar read path: one read path, the guarded one.
GUARDED_ONLY: set[str] = set()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a backend with no columnar path, a test's "arrow" variant would run the guarded
    path a second time: it is deselected (and counted as such), not run twice."""
    kept, twice = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        same = params.get("read_path") == "arrow" and params.get("backend") in GUARDED_ONLY
        (twice if same else kept).append(item)
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = kept
